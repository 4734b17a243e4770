package group

import (
	"context"
	"time"
)

// Config holds the coordinator's settings, Kafka's broker keys.
type Config struct {
	// InitialRebalanceDelay is group.initial.rebalance.delay.ms: how long the first
	// rebalance of an empty group waits for more members (extended while they keep
	// coming, up to the rebalance timeout).
	InitialRebalanceDelay time.Duration
	// MinSessionTimeout and MaxSessionTimeout are group.min.session.timeout.ms and
	// group.max.session.timeout.ms; a JoinGroup outside gets INVALID_SESSION_TIMEOUT.
	MinSessionTimeout time.Duration
	MaxSessionTimeout time.Duration
	// MaxSize is group.max.size; 0 means unlimited (Kafka's default, Int.MaxValue).
	MaxSize int
	// OffsetsRetention is offsets.retention.minutes: committed offsets of a group that
	// has been empty this long (or of topics it no longer subscribes to) are deleted.
	OffsetsRetention time.Duration
	// OffsetsRetentionCheckInterval is offsets.retention.check.interval.ms.
	OffsetsRetentionCheckInterval time.Duration
	// OffsetMetadataMaxBytes is offset.metadata.max.bytes: longer commit metadata gets
	// OFFSET_METADATA_TOO_LARGE.
	OffsetMetadataMaxBytes int

	// KIP-848 consumer groups. Zero values mean Kafka's defaults (New fills them in).

	// ConsumerSessionTimeout is group.consumer.session.timeout.ms (45 s): a member
	// that does not heartbeat for this long is removed.
	ConsumerSessionTimeout time.Duration
	// ConsumerHeartbeatInterval is group.consumer.heartbeat.interval.ms (5 s), sent
	// to members in every heartbeat response.
	ConsumerHeartbeatInterval time.Duration
	// ConsumerMaxSize is group.consumer.max.size; 0 means unlimited.
	ConsumerMaxSize int
	// ConsumerAssignors is group.consumer.assignors: the server-side assignors
	// members may name ("uniform", "range"); the first is the default.
	ConsumerAssignors []string
}

// DefaultConfig returns Kafka's defaults.
func DefaultConfig() Config {
	return Config{
		InitialRebalanceDelay:         3 * time.Second,
		MinSessionTimeout:             6 * time.Second,
		MaxSessionTimeout:             30 * time.Minute,
		OffsetsRetention:              7 * 24 * time.Hour,
		OffsetsRetentionCheckInterval: 10 * time.Minute,
		OffsetMetadataMaxBytes:        4096,
		ConsumerSessionTimeout:        45 * time.Second,
		ConsumerHeartbeatInterval:     5 * time.Second,
		ConsumerAssignors:             []string{"uniform", "range"},
	}
}

// withConsumerDefaults fills in the consumer group settings left zero.
func (cfg Config) withConsumerDefaults() Config {
	d := DefaultConfig()
	if cfg.ConsumerSessionTimeout <= 0 {
		cfg.ConsumerSessionTimeout = d.ConsumerSessionTimeout
	}
	if cfg.ConsumerHeartbeatInterval <= 0 {
		cfg.ConsumerHeartbeatInterval = d.ConsumerHeartbeatInterval
	}
	var known []string
	for _, a := range cfg.ConsumerAssignors {
		if assignors[a] != nil {
			known = append(known, a)
		}
	}
	if len(known) == 0 {
		known = d.ConsumerAssignors
	}
	cfg.ConsumerAssignors = known
	return cfg
}

// Record is one record of __consumer_offsets: a key and a value (nil: a tombstone).
type Record struct {
	Key, Value []byte
}

// Store is the coordinator's access to the partitions of __consumer_offsets.
type Store interface {
	// Append appends recs, in order, to partition p and returns once they are committed
	// (readable below the high watermark, and as durable as any acknowledged produce).
	// When this node does not lead p (any more) it fails with an error wrapping
	// kerr.NotLeaderForPartition; it gives up when ctx ends (p was unloaded, or the
	// coordinator closes).
	Append(ctx context.Context, p int32, recs []Record) error
	// Scan calls fn for every record of partition p from the log start to the high
	// watermark, in offset order.
	Scan(ctx context.Context, p int32, fn func(Record)) error
}

// Clock is the coordinator's time source; tests substitute a fake one.
type Clock interface {
	Now() time.Time
	// AfterFunc calls f in its own goroutine after d, unless the timer is stopped.
	AfterFunc(d time.Duration, f func()) Timer
}

// Timer is a timer started by Clock.AfterFunc.
type Timer interface {
	Stop() bool
}

type wallClock struct{}

func (wallClock) Now() time.Time { return time.Now() }

func (wallClock) AfterFunc(d time.Duration, f func()) Timer { return time.AfterFunc(d, f) }
