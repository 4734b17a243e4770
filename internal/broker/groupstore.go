package broker

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/samsa-io/samsa/internal/commitlog"
	"github.com/samsa-io/samsa/internal/group"
	"github.com/samsa-io/samsa/internal/metadata"
	"github.com/samsa-io/samsa/internal/record"
)

// groupStore is the group coordinator's group.Store: the partitions of
// __consumer_offsets, hosted by the replica manager like any topic's.
type groupStore struct{ b *Broker }

// scanReadBytes is how much of a partition one read of Scan returns.
const scanReadBytes = 1 << 20

// Append writes recs as one uncompressed batch without producer id, as Kafka does with
// acks=all: it returns once the high watermark covers the batch (the ISR has it; in the
// group-commit flush mode, fsynced), or fails with NOT_LEADER_OR_FOLLOWER when this node
// no longer leads the partition (the coordinator answers NOT_COORDINATOR).
func (s groupStore) Append(ctx context.Context, p int32, recs []group.Record) error {
	part, err := s.b.replicas.Get(commitlog.TopicPartition{Topic: group.OffsetsTopic, Partition: p})
	if err != nil {
		return err
	}
	now := time.Now().UnixMilli()
	rs := make([]record.Record, len(recs))
	for i, r := range recs {
		rs[i] = record.Record{Timestamp: now, Key: r.Key, Value: r.Value}
	}
	batch, err := record.NewBatch(0, rs...).Encode()
	if err != nil {
		return err
	}
	res, epoch, err := part.AppendAsLeader(batch, -1)
	if err != nil {
		return err
	}
	return part.WaitForCommit(ctx, res.LastOffset, epoch)
}

// Scan reads partition p from its log start to its log end.
func (s groupStore) Scan(ctx context.Context, p int32, fn func(group.Record)) error {
	part, err := s.b.replicas.Get(commitlog.TopicPartition{Topic: group.OffsetsTopic, Partition: p})
	if err != nil {
		return err
	}
	// Up to the log end, not the high watermark: a new leader's high watermark trails
	// until its followers fetch again, and its whole log is what the partition will hold
	// (followers truncate to it), so offsets committed under the previous leader are
	// all there.
	end := part.Log.LogEndOffset()
	off := part.Log.LogStartOffset()
	for off < end {
		if err := ctx.Err(); err != nil {
			return err
		}
		res, err := part.Log.Read(off, scanReadBytes, end, true)
		if err != nil {
			return err
		}
		buf := res.Records
		start := off
		for len(buf) >= 12 {
			size := int(int32(binary.BigEndian.Uint32(buf[8:12]))) + 12
			if size <= 12 || size > len(buf) {
				break
			}
			b, err := record.Decode(buf[:size])
			switch {
			case errors.Is(err, record.ErrCompressed):
				// The coordinator writes no compressed batches; one found here was not
				// written by it.
				s.b.logger.Warn("skipping compressed batch in __consumer_offsets", "partition", p, "offset", b.BaseOffset)
			case err != nil:
				return fmt.Errorf("broker: reading %s-%d at %d: %w", group.OffsetsTopic, p, off, err)
			default:
				for _, r := range b.Records {
					if r.Offset >= off {
						fn(group.Record{Key: r.Key, Value: r.Value})
					}
				}
			}
			off = max(off, b.BaseOffset+int64(b.LastOffsetDelta)+1)
			buf = buf[size:]
		}
		if off == start {
			return fmt.Errorf("broker: reading %s-%d: no progress at offset %d: %w", group.OffsetsTopic, p, off, kerr.CorruptMessage)
		}
	}
	return nil
}

// offsetsTopicConfigs are the topic configs Kafka gives __consumer_offsets:
// compacted, with offsets.topic.segment.bytes segments.
func (b *Broker) offsetsTopicConfigs() map[string]string {
	return map[string]string{
		"cleanup.policy": "compact",
		"segment.bytes":  strconv.Itoa(int(b.cfg.OffsetsTopicSegmentBytes)),
	}
}

// ensureOffsetsTopic returns __consumer_offsets, creating it on first need as Kafka
// does, and makes the coordinator load it.
func (b *Broker) ensureOffsetsTopic(ctx context.Context) (*metadata.Topic, error) {
	img := b.quorum.Image()
	t := img.Topics[group.OffsetsTopic]
	if t == nil {
		rf := b.cfg.OffsetsTopicReplicationFactor
		if n := len(img.UsableBrokerIDs()); int(rf) > n && n > 0 {
			b.logger.Warn("offsets.topic.replication.factor is larger than the number of brokers; using the number of brokers",
				"offsets.topic.replication.factor", rf, "brokers", n)
			rf = int16(n)
		}
		configs := b.offsetsTopicConfigs()
		var err error
		t, err = b.createTopic(ctx, metadata.CreateTopicSpec{
			Name:              group.OffsetsTopic,
			NumPartitions:     b.cfg.OffsetsTopicNumPartitions,
			ReplicationFactor: rf,
			Configs:           configs,
		})
		if errors.Is(err, kerr.TopicAlreadyExists) {
			t, err = b.quorum.Image().Topics[group.OffsetsTopic], nil
		}
		if err != nil || t == nil {
			b.logger.Warn("creating __consumer_offsets", "err", err)
			return nil, fmt.Errorf("broker: creating %s: %v: %w", group.OffsetsTopic, err, kerr.CoordinatorNotAvailable)
		}
		b.logger.Info("created __consumer_offsets", "partitions", len(t.Partitions), "replication.factor", rf)
	}
	if b.cluster == nil {
		// One node leads every partition. In a cluster the coordinator follows the
		// leadership of each partition instead (see onLeadershipChange).
		b.coord.Load(int32(len(t.Partitions)))
	}
	return t, nil
}

// newCoordinator builds the group coordinator from the broker's config.
func (b *Broker) newCoordinator() *group.Coordinator {
	gcfg := group.Config{
		InitialRebalanceDelay:         b.cfg.GroupInitialRebalanceDelay,
		MinSessionTimeout:             b.cfg.GroupMinSessionTimeout,
		MaxSessionTimeout:             b.cfg.GroupMaxSessionTimeout,
		OffsetsRetention:              b.cfg.OffsetsRetention,
		OffsetsRetentionCheckInterval: b.cfg.OffsetsRetentionCheckInterval,
		OffsetMetadataMaxBytes:        int(b.cfg.OffsetMetadataMaxBytes),
		ConsumerSessionTimeout:        b.cfg.GroupConsumerSessionTimeout,
		ConsumerHeartbeatInterval:     b.cfg.GroupConsumerHeartbeat,
	}
	for _, a := range b.cfg.GroupConsumerAssignors {
		// Kafka names them by class; the protocol by their short names.
		a = strings.TrimSuffix(strings.ToLower(a[strings.LastIndexByte(a, '.')+1:]), "assignor")
		gcfg.ConsumerAssignors = append(gcfg.ConsumerAssignors, a)
	}
	// Zero means unlimited to the coordinator; Kafka's "unlimited" is Int.MaxValue.
	if b.cfg.GroupMaxSize < math.MaxInt32 {
		gcfg.MaxSize = int(b.cfg.GroupMaxSize)
	}
	if b.cfg.GroupConsumerMaxSize < math.MaxInt32 {
		gcfg.ConsumerMaxSize = int(b.cfg.GroupConsumerMaxSize)
	}
	return group.New(gcfg, group.Options{
		Store: groupStore{b},
		PartitionCount: func(topic string) int32 {
			if t := b.quorum.Image().Topics[topic]; t != nil {
				return int32(len(t.Partitions))
			}
			return 0
		},
		Topics: func() group.TopicImage { return topicImage{b.quorum.Image()} },
		Logger: b.logger,
	})
}
