package broker

import (
	"context"
	"fmt"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/samsa-io/samsa/internal/metadata"
)

// handleElectLeaders runs preferred (v0 always) or unclean elections through the
// controller: for the listed partitions, or for all when topics is null (then, as
// Kafka, partitions that already have the leader asked for are left out).
func (b *Broker) handleElectLeaders(ctx context.Context, _ *conn, kreq kmsg.Request) (kmsg.Response, error) {
	req := kreq.(*kmsg.ElectLeadersRequest)
	resp := req.ResponseKind().(*kmsg.ElectLeadersResponse)
	typ := metadata.ElectionType(req.ElectionType)
	if req.Version == 0 {
		typ = metadata.ElectPreferred
	}
	var parts []metadata.PartitionRef
	if req.Topics != nil {
		parts = []metadata.PartitionRef{}
		for _, rt := range req.Topics {
			for _, p := range rt.Partitions {
				parts = append(parts, metadata.PartitionRef{Topic: rt.Topic, Partition: p})
			}
		}
	}
	var results []metadata.ElectionResult
	var err error
	if typ != metadata.ElectPreferred && typ != metadata.ElectUnclean {
		err = fmt.Errorf("broker: unknown election type %d: %w", req.ElectionType, kerr.InvalidRequest)
	} else {
		results, err = b.ctl.ElectLeaders(ctx, typ, parts)
	}
	if err != nil {
		return electLeadersErrorResponse(req, err), nil
	}
	for _, r := range results {
		if n := len(resp.Topics); n == 0 || resp.Topics[n-1].Topic != r.Topic {
			st := kmsg.NewElectLeadersResponseTopic()
			st.Topic = r.Topic
			resp.Topics = append(resp.Topics, st)
		}
		sp := kmsg.NewElectLeadersResponseTopicPartition()
		sp.Partition, sp.ErrorCode, sp.ErrorMessage = r.Partition, errorCode(r.Err), errorMessage(r.Err)
		st := &resp.Topics[len(resp.Topics)-1]
		st.Partitions = append(st.Partitions, sp)
	}
	return resp, nil
}

// electLeadersErrorResponse answers every requested partition with err (and, from v1,
// the top-level error code too).
func electLeadersErrorResponse(req *kmsg.ElectLeadersRequest, err error) *kmsg.ElectLeadersResponse {
	resp := req.ResponseKind().(*kmsg.ElectLeadersResponse)
	code, msg := errorCode(err), errorMessage(err)
	resp.ErrorCode = code
	for _, rt := range req.Topics {
		st := kmsg.NewElectLeadersResponseTopic()
		st.Topic = rt.Topic
		for _, p := range rt.Partitions {
			sp := kmsg.NewElectLeadersResponseTopicPartition()
			sp.Partition, sp.ErrorCode, sp.ErrorMessage = p, code, msg
			st.Partitions = append(st.Partitions, sp)
		}
		resp.Topics = append(resp.Topics, st)
	}
	return resp
}
