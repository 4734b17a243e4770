package broker

import (
	"context"
	"fmt"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/samsa-io/samsa/internal/group"
	"github.com/samsa-io/samsa/internal/metadata"
)

// Coordinator key types of FindCoordinator.
const (
	coordinatorGroup       = 0
	coordinatorTransaction = 1
)

// handleFindCoordinator answers with this node for groups: on one node it coordinates
// every partition of __consumer_offsets, which is created on first need. Transactions
// have no coordinator yet. v4+ batches keys.
func (b *Broker) handleFindCoordinator(ctx context.Context, _ *conn, kreq kmsg.Request) (kmsg.Response, error) {
	req := kreq.(*kmsg.FindCoordinatorRequest)
	resp := req.ResponseKind().(*kmsg.FindCoordinatorResponse)
	if req.Version < 4 {
		br, err := b.findCoordinator(ctx, req.CoordinatorType, req.CoordinatorKey)
		resp.ErrorCode = errorCode(err)
		resp.NodeID, resp.Host, resp.Port = -1, "", -1
		if err != nil {
			resp.ErrorMessage = errorMessage(err)
		} else {
			resp.NodeID, resp.Host, resp.Port = br.ID, br.Host, br.Port
		}
		return resp, nil
	}
	for _, key := range req.CoordinatorKeys {
		rc := kmsg.NewFindCoordinatorResponseCoordinator()
		rc.Key = key
		br, err := b.findCoordinator(ctx, req.CoordinatorType, key)
		rc.ErrorCode = errorCode(err)
		rc.NodeID, rc.Host, rc.Port = -1, "", -1
		if err != nil {
			rc.ErrorMessage = errorMessage(err)
		} else {
			rc.NodeID, rc.Host, rc.Port = br.ID, br.Host, br.Port
		}
		resp.Coordinators = append(resp.Coordinators, rc)
	}
	return resp, nil
}

// findCoordinator returns the coordinator of a group: the leader of the group's
// partition of __consumer_offsets (this node, on a single node).
func (b *Broker) findCoordinator(ctx context.Context, keyType int8, key string) (metadata.Broker, error) {
	switch keyType {
	case coordinatorGroup:
	case coordinatorTransaction:
		return metadata.Broker{}, fmt.Errorf("broker: transactions are not supported yet: %w", kerr.CoordinatorNotAvailable)
	default:
		return metadata.Broker{}, fmt.Errorf("broker: unknown coordinator key type %d: %w", keyType, kerr.InvalidRequest)
	}
	t, err := b.ensureOffsetsTopic(ctx)
	if err != nil {
		return metadata.Broker{}, err
	}
	if b.cluster == nil {
		return metadata.Broker{ID: b.cfg.NodeID, Host: b.advertisedHost, Port: b.advertisedPort}, nil
	}
	p := t.Partition(group.PartitionFor(key, int32(len(t.Partitions))))
	br, ok := b.quorum.Image().Broker(p.Leader)
	if !p.HasLeader() || !ok || br.Fenced {
		return metadata.Broker{}, fmt.Errorf("broker: partition %d of %s has no leader: %w", p.ID, group.OffsetsTopic, kerr.CoordinatorNotAvailable)
	}
	return br, nil
}
