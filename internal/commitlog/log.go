package commitlog

import (
	"log/slog"
	"time"
)

// TimestampType is message.timestamp.type.
type TimestampType int8

const (
	// CreateTime keeps the producer's timestamps (Kafka's default).
	CreateTime TimestampType = 0
	// LogAppendTime makes the broker stamp every batch with its append time.
	LogAppendTime TimestampType = 1
)

// Config holds the settings of one partition's log: Kafka's topic-level configs,
// already resolved against the broker defaults.
type Config struct {
	SegmentBytes       int64         // segment.bytes: roll when the active segment would exceed this
	SegmentMs          time.Duration // segment.ms: roll when the active segment is older than this
	SegmentIndexBytes  int           // segment.index.bytes: roll when an index reaches this size
	IndexIntervalBytes int           // index.interval.bytes: bytes between sparse index entries
	RetentionMs        time.Duration // retention.ms: delete segments older than this; < 0 keeps forever
	RetentionBytes     int64         // retention.bytes: delete oldest segments past this size; < 0 unlimited
	MaxMessageBytes    int32         // max.message.bytes: largest record batch accepted
	TimestampType      TimestampType // message.timestamp.type
	// message.timestamp.before.max.ms / after.max.ms: how far a CreateTime timestamp may lie
	// in the past or future of the broker's clock; < 0 or 0 disables the check as in Kafka
	// (Kafka's defaults are Long.MAX_VALUE and 3600000).
	TimestampBeforeMax time.Duration
	TimestampAfterMax  time.Duration
	// FlushMessages is flush.messages: fsync after this many messages. 1 is the
	// group-commit mode: Append returns only after an fsync covering its batch, and
	// concurrent appends share one fsync. Kafka's default (Long.MAX_VALUE) leaves data to
	// the page cache.
	FlushMessages int64
	FlushMs       time.Duration // flush.ms: fsync when the oldest unflushed data is older than this
	// ProducerIDExpiration is producer.id.expiration.ms: idle producer state is dropped after it.
	ProducerIDExpiration time.Duration
}

// DefaultConfig returns Kafka's defaults.
func DefaultConfig() Config {
	return Config{
		SegmentBytes:         1 << 30,
		SegmentMs:            7 * 24 * time.Hour,
		SegmentIndexBytes:    10 << 20,
		IndexIntervalBytes:   4096,
		RetentionMs:          7 * 24 * time.Hour,
		RetentionBytes:       -1,
		MaxMessageBytes:      1048588,
		TimestampType:        CreateTime,
		TimestampBeforeMax:   -1,
		TimestampAfterMax:    time.Hour,
		FlushMessages:        1<<63 - 1,
		FlushMs:              1<<63 - 1,
		ProducerIDExpiration: 24 * time.Hour,
	}
}

// Clock is the time source; tests substitute a fake.
type Clock interface{ Now() time.Time }

// Options are the non-config dependencies of a log.
type Options struct {
	Clock  Clock        // nil means the wall clock
	Logger *slog.Logger // nil means slog.Default()
}

// AppendOptions describe where an append comes from.
type AppendOptions struct {
	// LeaderEpoch is stamped into every appended batch's PartitionLeaderEpoch field.
	LeaderEpoch int32
	// FromReplication is true for a follower appending the leader's batches as they are:
	// offsets are kept, not assigned, and producer sequences are not checked against
	// client rules. Clients' produce requests use false.
	FromReplication bool
}

// AppendResult tells where the appended records landed.
type AppendResult struct {
	BaseOffset     int64 // offset of the first record
	LastOffset     int64 // offset of the last record
	LogAppendTime  int64 // ms since the epoch when TimestampType is LogAppendTime, else -1
	LogStartOffset int64
	// Duplicate is true when the batch was a retry of one already in the log (idempotent
	// producer); the offsets are those of the original.
	Duplicate bool
}

// ReadResult is a slice of the log: whole record batches as stored.
type ReadResult struct {
	Records []byte // zero or more complete batches, starting with the one holding the fetch offset
}

// ProducerInfo describes an active idempotent producer (DescribeProducers).
type ProducerInfo struct {
	ProducerID            int64
	ProducerEpoch         int16
	LastSequence          int32
	LastTimestamp         int64
	CoordinatorEpoch      int32
	CurrentTxnStartOffset int64
}

// Log is one partition's log: a directory of segments.
type Log struct{}

// Open opens (creating if needed) the log in dir, recovering from recoveryPoint: every
// batch past it is validated and a torn or corrupt tail is truncated.
func Open(dir string, cfg Config, recoveryPoint, logStartOffset int64, opts Options) (*Log, error) {
	return nil, nil
}

// Append validates records (one or more v2 batches from a produce request) and appends them.
func (l *Log) Append(records []byte, opts AppendOptions) (AppendResult, error) {
	return AppendResult{}, nil
}

// Read returns batches starting with the one that holds offset, up to maxBytes, never
// including offsets at or past maxOffset. With minOneBatch the first batch is returned
// even if larger than maxBytes (KIP-74).
func (l *Log) Read(offset int64, maxBytes int, maxOffset int64, minOneBatch bool) (ReadResult, error) {
	return ReadResult{}, nil
}

// LogStartOffset is the first offset still in the log.
func (l *Log) LogStartOffset() int64 { return 0 }

// LogEndOffset is the offset the next appended record will get.
func (l *Log) LogEndOffset() int64 { return 0 }

// HighWatermark is the offset below which records are committed and readable.
func (l *Log) HighWatermark() int64 { return 0 }

// SetHighWatermark moves the high watermark (never past the log end offset).
func (l *Log) SetHighWatermark(hw int64) {}

// RecoveryPoint is the offset below which the log is known flushed to disk.
func (l *Log) RecoveryPoint() int64 { return 0 }

// OffsetForTimestamp finds the first record whose timestamp is >= ts.
func (l *Log) OffsetForTimestamp(ts int64) (offset, timestamp int64, leaderEpoch int32, found bool, err error) {
	return 0, 0, 0, false, nil
}

// MaxTimestamp finds the record with the largest timestamp.
func (l *Log) MaxTimestamp() (offset, timestamp int64, leaderEpoch int32, found bool, err error) {
	return 0, 0, 0, false, nil
}

// DeleteRecordsBefore advances the log start offset to offset (DeleteRecords).
func (l *Log) DeleteRecordsBefore(offset int64) (int64, error) { return 0, nil }

// EndOffsetForEpoch answers OffsetForLeaderEpoch.
func (l *Log) EndOffsetForEpoch(epoch int32) (int32, int64) { return 0, 0 }

// LatestEpoch is the newest leader epoch in the log, or -1.
func (l *Log) LatestEpoch() int32 { return -1 }

// TruncateTo removes every record at or past offset.
func (l *Log) TruncateTo(offset int64) error { return nil }

// Producers lists the active idempotent producers.
func (l *Log) Producers() []ProducerInfo { return nil }

// Size is the total bytes of the log's segments.
func (l *Log) Size() int64 { return 0 }

// SetConfig replaces the log's config (topic config changes).
func (l *Log) SetConfig(cfg Config) {}

// ApplyRetention deletes whole segments past retention.
func (l *Log) ApplyRetention() (int, error) { return 0, nil }

// Flush fsyncs everything appended so far.
func (l *Log) Flush() error { return nil }

// Close flushes and writes the producer snapshot; the log cannot be used afterwards.
func (l *Log) Close() error { return nil }
