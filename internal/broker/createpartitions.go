package broker

import (
	"context"
	"fmt"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func (b *Broker) handleCreatePartitions(ctx context.Context, _ *conn, kreq kmsg.Request) (kmsg.Response, error) {
	req := kreq.(*kmsg.CreatePartitionsRequest)
	resp := req.ResponseKind().(*kmsg.CreatePartitionsResponse)
	seen := make(map[string]int, len(req.Topics))
	for _, rt := range req.Topics {
		seen[rt.Topic]++
	}
	for _, rt := range req.Topics {
		st := kmsg.NewCreatePartitionsResponseTopic()
		st.Topic = rt.Topic
		var err error
		switch {
		case seen[rt.Topic] > 1:
			err = fmt.Errorf("broker: topic %q appears more than once in the request: %w", rt.Topic, kerr.InvalidRequest)
		case isInternalTopic(rt.Topic):
			// Groups are mapped to __consumer_offsets partitions by their count: adding
			// partitions would move groups away from their committed offsets.
			err = fmt.Errorf("broker: cannot add partitions to internal topic %s: %w", rt.Topic, kerr.InvalidRequest)
		default:
			var assignments [][]int32
			for _, a := range rt.Assignment {
				assignments = append(assignments, a.Replicas)
			}
			err = b.ctl.CreatePartitions(ctx, rt.Topic, rt.Count, assignments, req.ValidateOnly)
		}
		st.ErrorCode = errorCode(err)
		st.ErrorMessage = errorMessage(err)
		resp.Topics = append(resp.Topics, st)
	}
	return resp, nil
}
