package broker

import (
	"context"
	"fmt"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
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
		err := b.findCoordinator(ctx, req.CoordinatorType, req.CoordinatorKey)
		resp.ErrorCode = errorCode(err)
		resp.NodeID, resp.Host, resp.Port = -1, "", -1
		if err != nil {
			resp.ErrorMessage = errorMessage(err)
		} else {
			resp.NodeID, resp.Host, resp.Port = b.cfg.NodeID, b.advertisedHost, b.advertisedPort
		}
		return resp, nil
	}
	for _, key := range req.CoordinatorKeys {
		rc := kmsg.NewFindCoordinatorResponseCoordinator()
		rc.Key = key
		err := b.findCoordinator(ctx, req.CoordinatorType, key)
		rc.ErrorCode = errorCode(err)
		rc.NodeID, rc.Host, rc.Port = -1, "", -1
		if err != nil {
			rc.ErrorMessage = errorMessage(err)
		} else {
			rc.NodeID, rc.Host, rc.Port = b.cfg.NodeID, b.advertisedHost, b.advertisedPort
		}
		resp.Coordinators = append(resp.Coordinators, rc)
	}
	return resp, nil
}

func (b *Broker) findCoordinator(ctx context.Context, keyType int8, key string) error {
	switch keyType {
	case coordinatorGroup:
		_, err := b.ensureOffsetsTopic(ctx)
		return err
	case coordinatorTransaction:
		return fmt.Errorf("broker: transactions are not supported yet: %w", kerr.CoordinatorNotAvailable)
	default:
		return fmt.Errorf("broker: unknown coordinator key type %d: %w", keyType, kerr.InvalidRequest)
	}
}
