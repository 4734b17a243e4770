package broker

import (
	"context"
	"fmt"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// handleAlterPartitionReassignments starts, changes or cancels (null replicas)
// partition reassignments through the controller, one partition at a time; each
// partition gets its own error code, as Kafka answers.
func (b *Broker) handleAlterPartitionReassignments(ctx context.Context, _ *conn, kreq kmsg.Request) (kmsg.Response, error) {
	req := kreq.(*kmsg.AlterPartitionAssignmentsRequest)
	resp := req.ResponseKind().(*kmsg.AlterPartitionAssignmentsResponse)
	seen := make(map[string]map[int32]bool, len(req.Topics))
	for _, rt := range req.Topics {
		st := kmsg.NewAlterPartitionAssignmentsResponseTopic()
		st.Topic = rt.Topic
		if seen[rt.Topic] == nil {
			seen[rt.Topic] = make(map[int32]bool)
		}
		for _, rp := range rt.Partitions {
			sp := kmsg.NewAlterPartitionAssignmentsResponseTopicPartition()
			sp.Partition = rp.Partition
			var err error
			if seen[rt.Topic][rp.Partition] {
				err = fmt.Errorf("broker: partition %s-%d appears more than once in the request: %w", rt.Topic, rp.Partition, kerr.InvalidRequest)
			} else {
				seen[rt.Topic][rp.Partition] = true
				err = b.ctl.AlterPartitionReassignments(ctx, rt.Topic, rp.Partition, rp.Replicas)
			}
			sp.ErrorCode, sp.ErrorMessage = errorCode(err), errorMessage(err)
			st.Partitions = append(st.Partitions, sp)
		}
		resp.Topics = append(resp.Topics, st)
	}
	return resp, nil
}
