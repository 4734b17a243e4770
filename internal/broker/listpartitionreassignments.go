package broker

import (
	"context"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// handleListPartitionReassignments lists the reassignments in progress: all of them
// when topics is null, else those of the listed partitions (unknown ones are skipped,
// as Kafka does).
func (b *Broker) handleListPartitionReassignments(_ context.Context, _ *conn, kreq kmsg.Request) (kmsg.Response, error) {
	req := kreq.(*kmsg.ListPartitionReassignmentsRequest)
	resp := req.ResponseKind().(*kmsg.ListPartitionReassignmentsResponse)
	var filter map[string][]int32
	if req.Topics != nil {
		filter = make(map[string][]int32, len(req.Topics))
		for _, rt := range req.Topics {
			filter[rt.Topic] = append(filter[rt.Topic], rt.Partitions...)
		}
	}
	for _, r := range b.ctl.ListPartitionReassignments(filter) {
		if n := len(resp.Topics); n == 0 || resp.Topics[n-1].Topic != r.Topic {
			st := kmsg.NewListPartitionReassignmentsResponseTopic()
			st.Topic = r.Topic
			resp.Topics = append(resp.Topics, st)
		}
		sp := kmsg.NewListPartitionReassignmentsResponseTopicPartition()
		sp.Partition, sp.Replicas, sp.AddingReplicas, sp.RemovingReplicas = r.Partition, r.Replicas, nonNilIDs(r.AddingReplicas), nonNilIDs(r.RemovingReplicas)
		st := &resp.Topics[len(resp.Topics)-1]
		st.Partitions = append(st.Partitions, sp)
	}
	return resp, nil
}

// nonNilIDs turns nil into an empty list, which Kafka sends for "none".
func nonNilIDs(s []int32) []int32 {
	if s == nil {
		return []int32{}
	}
	return s
}
