package broker

import (
	"context"
	"errors"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/samsa-io/samsa/internal/commitlog"
	"github.com/samsa-io/samsa/internal/replica"
)

// handleDeleteRecords raises each partition's log start offset on its leader (-1 means
// the high watermark); offsets past the high watermark get OFFSET_OUT_OF_RANGE.
// Followers move theirs when their next fetch tells them the leader's, and report it in
// the fetch after. As Kafka, each partition is answered once its low watermark (the
// smallest log start of the leader and its alive followers) reaches the offset, with
// that low watermark, or with REQUEST_TIMED_OUT after timeout_ms. On a single node the
// answer is immediate.
func (b *Broker) handleDeleteRecords(ctx context.Context, _ *conn, kreq kmsg.Request) (kmsg.Response, error) {
	req := kreq.(*kmsg.DeleteRecordsRequest)
	resp := req.ResponseKind().(*kmsg.DeleteRecordsResponse)
	type wait struct {
		p              *replica.Partition
		target         int64
		epoch          int32
		topic, partIdx int
	}
	var waits []wait
	for _, rt := range req.Topics {
		st := kmsg.NewDeleteRecordsResponseTopic()
		st.Topic = rt.Topic
		for _, rp := range rt.Partitions {
			sp := kmsg.NewDeleteRecordsResponseTopicPartition()
			sp.Partition = rp.Partition
			sp.LowWatermark = -1
			p, err := b.partition(commitlog.TopicPartition{Topic: rt.Topic, Partition: rp.Partition})
			if err == nil {
				var target int64
				var epoch int32
				if target, epoch, err = p.DeleteRecords(rp.Offset); err == nil {
					waits = append(waits, wait{p: p, target: target, epoch: epoch, topic: len(resp.Topics), partIdx: len(st.Partitions)})
				}
			}
			if err != nil {
				sp.ErrorCode = errorCode(err)
			}
			st.Partitions = append(st.Partitions, sp)
		}
		resp.Topics = append(resp.Topics, st)
	}
	if len(waits) > 0 {
		// Every partition was deleted first; the followers catch up in parallel, so
		// waiting for them one after the other under one deadline waits as long as the
		// slowest.
		wctx, cancel := context.WithTimeout(ctx, time.Duration(max(req.TimeoutMillis, 0))*time.Millisecond)
		defer cancel()
		for _, w := range waits {
			sp := &resp.Topics[w.topic].Partitions[w.partIdx]
			lw, err := w.p.WaitForLowWatermark(wctx, w.target, w.epoch)
			sp.LowWatermark = lw
			if err != nil {
				sp.ErrorCode = errorCode(err)
				if !errors.Is(err, kerr.RequestTimedOut) {
					// Kafka reports the low watermark only with a timeout.
					sp.LowWatermark = -1
				}
			}
		}
	}
	return resp, nil
}
