package broker

import (
	"context"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/samsa-io/samsa/internal/commitlog"
)

// handleDeleteRecords raises each partition's log start offset (-1 means the high
// watermark). Offsets past the high watermark get OFFSET_OUT_OF_RANGE. Only the leader
// deletes; followers follow its log start offset through their fetches. Unlike Kafka,
// the answer does not wait for the followers to have moved theirs.
func (b *Broker) handleDeleteRecords(_ context.Context, _ *conn, kreq kmsg.Request) (kmsg.Response, error) {
	req := kreq.(*kmsg.DeleteRecordsRequest)
	resp := req.ResponseKind().(*kmsg.DeleteRecordsResponse)
	for _, rt := range req.Topics {
		st := kmsg.NewDeleteRecordsResponseTopic()
		st.Topic = rt.Topic
		for _, rp := range rt.Partitions {
			sp := kmsg.NewDeleteRecordsResponseTopicPartition()
			sp.Partition = rp.Partition
			sp.LowWatermark = -1
			p, err := b.replicas.Get(commitlog.TopicPartition{Topic: rt.Topic, Partition: rp.Partition})
			if err == nil {
				err = leaderOf(p, -1)
			}
			if err == nil {
				sp.LowWatermark, err = p.Log.DeleteRecordsBefore(rp.Offset)
			}
			if err != nil {
				sp.LowWatermark = -1
				sp.ErrorCode = errorCode(err)
			}
			st.Partitions = append(st.Partitions, sp)
		}
		resp.Topics = append(resp.Topics, st)
	}
	return resp, nil
}
