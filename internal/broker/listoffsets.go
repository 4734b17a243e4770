package broker

import (
	"context"
	"fmt"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/samsa-io/samsa/internal/commitlog"
	"github.com/samsa-io/samsa/internal/replica"
)

// Special ListOffsets timestamps.
const (
	listLatest              = -1 // the high watermark (or last stable offset)
	listEarliest            = -2 // the log start offset
	listMaxTimestamp        = -3 // the record with the largest timestamp (v7+)
	listEarliestLocal       = -4 // tiered storage's local start; the log start offset here (v8+)
	listLatestTiered        = -5 // tiered storage's latest uploaded offset; none here (v9+)
	listEarliestPendingLoad = -6 // tiered storage's earliest pending upload; none here (v11+)
)

func (b *Broker) handleListOffsets(_ context.Context, _ *conn, kreq kmsg.Request) (kmsg.Response, error) {
	req := kreq.(*kmsg.ListOffsetsRequest)
	resp := req.ResponseKind().(*kmsg.ListOffsetsResponse)
	for _, rt := range req.Topics {
		st := kmsg.NewListOffsetsResponseTopic()
		st.Topic = rt.Topic
		for _, rp := range rt.Partitions {
			sp := kmsg.NewListOffsetsResponseTopicPartition()
			sp.Partition = rp.Partition
			sp.Timestamp, sp.Offset, sp.LeaderEpoch = -1, -1, -1
			p, err := b.partition(commitlog.TopicPartition{Topic: rt.Topic, Partition: rp.Partition})
			if err == nil {
				err = leaderOf(p, rp.CurrentLeaderEpoch)
			}
			if err == nil {
				err = listOffset(p, rp.Timestamp, &sp)
			}
			sp.ErrorCode = errorCode(err)
			st.Partitions = append(st.Partitions, sp)
		}
		resp.Topics = append(resp.Topics, st)
	}
	return resp, nil
}

// listOffset fills sp with the offset for the requested timestamp.
func listOffset(p *replica.Partition, ts int64, sp *kmsg.ListOffsetsResponseTopicPartition) error {
	l := p.Log
	switch ts {
	case listLatest:
		sp.Offset = l.HighWatermark()
		sp.LeaderEpoch = l.LatestEpoch()
	case listEarliest, listEarliestLocal:
		sp.Offset = l.LogStartOffset()
		sp.LeaderEpoch = l.EpochForOffset(sp.Offset)
	case listLatestTiered, listEarliestPendingLoad:
		// No tiered storage: Kafka answers "no offset" for these.
	case listMaxTimestamp:
		off, t, epoch, found, err := l.MaxTimestamp()
		if err != nil {
			return err
		}
		if found {
			sp.Offset, sp.Timestamp, sp.LeaderEpoch = off, t, epoch
		}
	default:
		if ts < 0 {
			return fmt.Errorf("broker: timestamp %d: %w", ts, kerr.InvalidRequest)
		}
		off, t, epoch, found, err := l.OffsetForTimestamp(ts)
		if err != nil {
			return err
		}
		// Records past the high watermark are not yet visible to consumers.
		if found && off < l.HighWatermark() {
			sp.Offset, sp.Timestamp, sp.LeaderEpoch = off, t, epoch
		}
	}
	return nil
}
