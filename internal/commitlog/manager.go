package commitlog

import (
	"context"
	"time"
)

// TopicPartition names a partition.
type TopicPartition struct {
	Topic     string
	Partition int32
}

// ManagerOptions configure a Manager.
type ManagerOptions struct {
	Options
	// RetentionCheckInterval is log.retention.check.interval.ms (Kafka: 5 minutes).
	RetentionCheckInterval time.Duration
	// CheckpointInterval is how often the dir-level checkpoints are written (Kafka: 60 s).
	CheckpointInterval time.Duration
	// FlushCheckInterval is log.flush.scheduler.interval.ms: how often flush.ms is checked.
	FlushCheckInterval time.Duration
}

// Manager owns one data directory (log.dirs) and every partition log in it.
type Manager struct{}

// OpenManager opens dir, reading its checkpoints and noting whether the last shutdown was clean.
func OpenManager(dir string, opts ManagerOptions) (*Manager, error) { return nil, nil }

// Dir is the data directory.
func (m *Manager) Dir() string { return "" }

// Partitions lists the partition directories found on disk at open.
func (m *Manager) Partitions() []TopicPartition { return nil }

// GetOrCreate opens the partition's log, creating its directory if needed. topicID is
// written to the partition.metadata file.
func (m *Manager) GetOrCreate(tp TopicPartition, topicID [16]byte, cfg Config) (*Log, error) {
	return nil, nil
}

// Get returns an open log or nil.
func (m *Manager) Get(tp TopicPartition) *Log { return nil }

// Delete closes the partition's log and removes its directory.
func (m *Manager) Delete(tp TopicPartition) error { return nil }

// Run does the background work (retention, flush.ms, checkpoints) until ctx ends.
func (m *Manager) Run(ctx context.Context) {}

// Close closes every log, writes the checkpoints and the clean-shutdown marker.
func (m *Manager) Close() error { return nil }
