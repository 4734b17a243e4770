package producerstate

import (
	"fmt"
	"math"
	"slices"

	"github.com/twmb/franz-go/pkg/kerr"
)

// MaxBatches is how many of a producer's most recent batches are retained for duplicate
// detection. Kafka clients keep at most five requests in flight per connection when
// idempotence is on, so a retry is always of one of the last five batches.
const MaxBatches = 5

// NoEpoch is the epoch of an entry that has none yet (Kafka's NO_PRODUCER_EPOCH).
const NoEpoch int16 = -1

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

// clone returns a deep copy, so callers of Entries and Get cannot alias the manager's
// batch slices.
func (e *Entry) clone() Entry {
	c := *e
	c.Batches = slices.Clone(e.Batches)
	return c
}

// lastSeq is the last sequence recorded for the current epoch, or -1 (Kafka's
// NO_SEQUENCE) with no retained batch, so that the next expected sequence is 0.
func (e *Entry) lastSeq() int32 {
	if len(e.Batches) == 0 {
		return -1
	}
	return e.Batches[len(e.Batches)-1].LastSeq
}

// setEpoch moves the entry to epoch; sequences restart with a new epoch, so the batches
// of the old one are no longer duplicates of anything and are dropped.
func (e *Entry) setEpoch(epoch int16) {
	if e.Epoch != epoch {
		e.Epoch = epoch
		e.Batches = e.Batches[:0]
	}
}

// Manager holds the producer entries of one partition. It is not safe for concurrent
// use: its owner (the partition's log) serialises access.
type Manager struct {
	producers map[int64]*Entry
}

// New returns an empty manager.
func New() *Manager { return &Manager{producers: make(map[int64]*Entry)} }

// Len returns the number of producers tracked.
func (m *Manager) Len() int { return len(m.producers) }

// Get returns a copy of the entry of producer pid.
func (m *Manager) Get(pid int64) (Entry, bool) {
	e, ok := m.producers[pid]
	if !ok {
		return Entry{}, false
	}
	return e.clone(), true
}

// Check validates an incoming client batch. When the batch is a retry of one of the
// producer's last five batches it returns that batch's metadata (the caller answers with
// the original offsets). Errors are kerr.InvalidProducerEpoch for a stale epoch and
// kerr.OutOfOrderSequenceNumber for a gap. The rules are listed in the package comment.
// Check does not change the state.
func (m *Manager) Check(pid int64, epoch int16, firstSeq, lastSeq int32) (*BatchMeta, error) {
	e, ok := m.producers[pid]
	if !ok {
		// KIP-360: the state may have expired or been deleted with the log's head, so
		// an unknown producer may resume at any sequence.
		return nil, nil
	}
	if epoch < e.Epoch {
		return nil, fmt.Errorf("producerstate: producer %d: epoch %d is older than current epoch %d: %w",
			pid, epoch, e.Epoch, kerr.InvalidProducerEpoch)
	}
	if epoch > e.Epoch {
		if firstSeq != 0 && e.Epoch != NoEpoch {
			return nil, fmt.Errorf("producerstate: producer %d: new epoch %d (current %d) must start at sequence 0, got %d: %w",
				pid, epoch, e.Epoch, firstSeq, kerr.OutOfOrderSequenceNumber)
		}
		return nil, nil
	}
	for i := range e.Batches {
		if b := e.Batches[i]; b.FirstSeq == firstSeq && b.LastSeq == lastSeq {
			return &b, nil
		}
	}
	if last := e.lastSeq(); !inSequence(last, firstSeq) {
		return nil, fmt.Errorf("producerstate: producer %d epoch %d: sequence %d does not follow last sequence %d: %w",
			pid, epoch, firstSeq, last, kerr.OutOfOrderSequenceNumber)
	}
	return nil, nil
}

// inSequence reports whether next directly follows last; sequences wrap from
// math.MaxInt32 to 0 as in Kafka.
func inSequence(last, next int32) bool {
	return int64(next) == int64(last)+1 || (next == 0 && last == math.MaxInt32)
}

// Update records an appended batch. A batch of a different epoch than the stored one
// replaces the retained batches (sequences restart with an epoch). A batch that starts
// at or below the last recorded offset is ignored: it is already part of the state, which
// makes replaying the log from an offset below the loaded snapshot's harmless.
func (m *Manager) Update(pid int64, epoch int16, b BatchMeta) {
	m.update(pid, epoch, b)
}

// UpdateTransactional records an appended transactional batch: as Update, and if the
// producer has no open transaction, one is opened at b.FirstOffset.
func (m *Manager) UpdateTransactional(pid int64, epoch int16, b BatchMeta) {
	if e := m.update(pid, epoch, b); e != nil && e.CurrentTxnFirstOffset < 0 {
		e.CurrentTxnFirstOffset = b.FirstOffset
	}
}

// update is Update, returning the entry it changed or nil if the batch was already
// recorded.
func (m *Manager) update(pid int64, epoch int16, b BatchMeta) *Entry {
	e := m.entry(pid)
	if n := len(e.Batches); n > 0 && b.FirstOffset <= e.Batches[n-1].LastOffset {
		return nil
	}
	e.setEpoch(epoch)
	if len(e.Batches) == MaxBatches {
		// Shift in place rather than reslicing from 1, so the backing array does not
		// creep forward and get reallocated on every sixth batch.
		copy(e.Batches, e.Batches[1:])
		e.Batches = e.Batches[:MaxBatches-1]
	}
	e.Batches = append(e.Batches, b)
	e.LastTimestamp = b.MaxTimestamp
	return e
}

// entry returns the entry of pid, creating an empty one.
func (m *Manager) entry(pid int64) *Entry {
	e, ok := m.producers[pid]
	if !ok {
		e = &Entry{
			ProducerID:            pid,
			Epoch:                 NoEpoch,
			Batches:               make([]BatchMeta, 0, MaxBatches),
			CoordinatorEpoch:      -1,
			CurrentTxnFirstOffset: -1,
		}
		m.producers[pid] = e
	}
	return e
}

// CheckEndTxn validates a transaction marker (commit or abort) written by the
// transaction coordinator for producer pid: kerr.InvalidProducerEpoch if epoch is older
// than the producer's, kerr.TransactionCoordinatorFenced if coordinatorEpoch is older
// than the last marker's (a deposed coordinator). Check does not change the state.
func (m *Manager) CheckEndTxn(pid int64, epoch int16, coordinatorEpoch int32) error {
	e, ok := m.producers[pid]
	if !ok {
		return nil
	}
	if epoch < e.Epoch {
		return fmt.Errorf("producerstate: producer %d: marker epoch %d is older than current epoch %d: %w",
			pid, epoch, e.Epoch, kerr.InvalidProducerEpoch)
	}
	if coordinatorEpoch < e.CoordinatorEpoch {
		return fmt.Errorf("producerstate: producer %d: marker coordinator epoch %d is older than %d: %w",
			pid, coordinatorEpoch, e.CoordinatorEpoch, kerr.TransactionCoordinatorFenced)
	}
	return nil
}

// EndTxn records a transaction marker appended at markerOffset with timestamp ts and
// closes the producer's open transaction. It returns the offset the transaction started
// at, or markerOffset if none was open (as Kafka's CompletedTxn), for the
// aborted-transaction index.
func (m *Manager) EndTxn(pid int64, epoch int16, coordinatorEpoch int32, markerOffset, ts int64) (firstOffset int64) {
	e := m.entry(pid)
	e.setEpoch(epoch)
	firstOffset = markerOffset
	if e.CurrentTxnFirstOffset >= 0 {
		firstOffset = e.CurrentTxnFirstOffset
	}
	e.CurrentTxnFirstOffset = -1
	e.CoordinatorEpoch = coordinatorEpoch
	e.LastTimestamp = ts
	return firstOffset
}

// Entries lists the producers, ordered by producer id.
func (m *Manager) Entries() []Entry {
	out := make([]Entry, 0, len(m.producers))
	for _, e := range m.producers {
		out = append(out, e.clone())
	}
	slices.SortFunc(out, func(a, b Entry) int {
		switch {
		case a.ProducerID < b.ProducerID:
			return -1
		case a.ProducerID > b.ProducerID:
			return 1
		}
		return 0
	})
	return out
}

// ExpireOlderThan drops producers whose last batch is older than ts (ms). Producers with
// an open transaction are kept: their state is needed to complete it.
func (m *Manager) ExpireOlderThan(ts int64) {
	for pid, e := range m.producers {
		if e.LastTimestamp < ts && e.CurrentTxnFirstOffset < 0 {
			delete(m.producers, pid)
		}
	}
}

// TruncateFrom drops batches at or past offset (log truncation) and producers left with none.
// A batch straddling offset is dropped too, since part of it is gone. A transaction that
// started at or past offset (or in a dropped batch) is no longer open. A producer that keeps an open transaction
// that started below offset is kept even with no batch left, so the transaction can
// still be completed; its next batch in the same epoch must then start at sequence 0.
func (m *Manager) TruncateFrom(offset int64) {
	for pid, e := range m.producers {
		n := len(e.Batches)
		for n > 0 && e.Batches[n-1].LastOffset >= offset {
			n--
		}
		cut := offset // where this producer's data now ends
		if n < len(e.Batches) {
			cut = min(cut, e.Batches[n].FirstOffset)
			e.Batches = e.Batches[:n]
			if n > 0 {
				e.LastTimestamp = e.Batches[n-1].MaxTimestamp
			}
		}
		if e.CurrentTxnFirstOffset >= cut {
			e.CurrentTxnFirstOffset = -1
		}
		if len(e.Batches) == 0 && e.CurrentTxnFirstOffset < 0 {
			delete(m.producers, pid)
		}
	}
}
