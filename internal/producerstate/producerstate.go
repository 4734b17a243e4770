// Package producerstate tracks idempotent producers per partition.
package producerstate

// BatchMeta records one appended batch of a producer.
type BatchMeta struct {
	FirstSeq     int32
	LastSeq      int32
	FirstOffset  int64
	LastOffset   int64
	MaxTimestamp int64
}

// Entry is the state of one producer at one partition.
type Entry struct {
	ProducerID            int64
	Epoch                 int16
	Batches               []BatchMeta // the last (up to) five batches, oldest first
	LastTimestamp         int64
	CoordinatorEpoch      int32
	CurrentTxnFirstOffset int64 // -1 when no transaction is open
}

// Manager holds the producer entries of one partition. It is not safe for concurrent
// use: its owner (the partition's log) serialises access.
type Manager struct{}

// New returns an empty manager.
func New() *Manager { return &Manager{} }

// Check validates an incoming client batch. When the batch is a retry of one of the
// producer's last five batches it returns that batch's metadata (the caller answers with
// the original offsets). Errors are kerr.InvalidProducerEpoch for a stale epoch and
// kerr.OutOfOrderSequenceNumber for a gap.
func (m *Manager) Check(pid int64, epoch int16, firstSeq, lastSeq int32) (*BatchMeta, error) {
	return nil, nil
}

// Update records an appended batch.
func (m *Manager) Update(pid int64, epoch int16, b BatchMeta) {}

// Entries lists the producers, ordered by producer id.
func (m *Manager) Entries() []Entry { return nil }

// ExpireOlderThan drops producers whose last batch is older than ts (ms).
func (m *Manager) ExpireOlderThan(ts int64) {}

// TruncateFrom drops batches at or past offset (log truncation) and producers left with none.
func (m *Manager) TruncateFrom(offset int64) {}

// WriteSnapshot writes the state as <20-digit offset>.snapshot in dir, durably, and
// removes older snapshots but the newest two.
func (m *Manager) WriteSnapshot(dir string, offset int64) error { return nil }

// LoadSnapshot replaces the state with the newest snapshot in dir at or below maxOffset,
// deleting newer ones, and returns its offset (-1 if none; state is then empty).
func (m *Manager) LoadSnapshot(dir string, maxOffset int64) (int64, error) { return -1, nil }
