package producerstate

import (
	"errors"
	"math"
	"reflect"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
)

// batchN is the n-th batch of ten records of a producer: sequences 10n..10n+9 at
// offsets 100n..100n+9.
func batchN(n int) BatchMeta {
	return BatchMeta{
		FirstSeq:     int32(10 * n),
		LastSeq:      int32(10*n + 9),
		FirstOffset:  int64(100 * n),
		LastOffset:   int64(100*n + 9),
		MaxTimestamp: int64(1000 + n),
	}
}

func TestCheck(t *testing.T) {
	const (
		pid        = 1  // epoch 5, batches 0..6 appended, 2..6 retained
		wrapPID    = 2  // epoch 0, last batch ends at MaxInt32
		nearPID    = 3  // epoch 0, last batch ends at MaxInt32-1
		selfWrap   = 4  // epoch 0, last batch wraps: MaxInt32-4..4
		noBatchPID = 5  // epoch 3, no batches (created by a transaction marker)
		noEpochPID = 6  // no epoch yet (NoEpoch), no batches
		unknownPID = 99 // no state
	)
	newManager := func() *Manager {
		m := New()
		for n := range 7 {
			m.Update(pid, 5, batchN(n))
		}
		m.Update(wrapPID, 0, BatchMeta{FirstSeq: math.MaxInt32 - 9, LastSeq: math.MaxInt32, FirstOffset: 10, LastOffset: 19})
		m.Update(nearPID, 0, BatchMeta{FirstSeq: math.MaxInt32 - 10, LastSeq: math.MaxInt32 - 1, FirstOffset: 10, LastOffset: 19})
		m.Update(selfWrap, 0, BatchMeta{FirstSeq: math.MaxInt32 - 4, LastSeq: 4, FirstOffset: 10, LastOffset: 19})
		m.EndTxn(noBatchPID, 3, 0, 50, 1000)
		m.entry(noEpochPID)
		return m
	}

	tests := []struct {
		name     string
		pid      int64
		epoch    int16
		firstSeq int32
		lastSeq  int32
		wantDup  *BatchMeta
		wantErr  *kerr.Error
	}{
		{name: "unknown producer at 0", pid: unknownPID, epoch: 0, firstSeq: 0, lastSeq: 9},
		{name: "unknown producer at any sequence", pid: unknownPID, epoch: 7, firstSeq: 12345, lastSeq: 12350},
		{name: "next in sequence", pid: pid, epoch: 5, firstSeq: 70, lastSeq: 79},
		{name: "next in sequence, single record", pid: pid, epoch: 5, firstSeq: 70, lastSeq: 70},
		{name: "duplicate of oldest retained", pid: pid, epoch: 5, firstSeq: 20, lastSeq: 29, wantDup: ptr(batchN(2))},
		{name: "duplicate of second retained", pid: pid, epoch: 5, firstSeq: 30, lastSeq: 39, wantDup: ptr(batchN(3))},
		{name: "duplicate of third retained", pid: pid, epoch: 5, firstSeq: 40, lastSeq: 49, wantDup: ptr(batchN(4))},
		{name: "duplicate of fourth retained", pid: pid, epoch: 5, firstSeq: 50, lastSeq: 59, wantDup: ptr(batchN(5))},
		{name: "duplicate of newest", pid: pid, epoch: 5, firstSeq: 60, lastSeq: 69, wantDup: ptr(batchN(6))},
		{name: "retry older than retained", pid: pid, epoch: 5, firstSeq: 10, lastSeq: 19, wantErr: kerr.OutOfOrderSequenceNumber},
		{name: "first batch retried after eviction", pid: pid, epoch: 5, firstSeq: 0, lastSeq: 9, wantErr: kerr.OutOfOrderSequenceNumber},
		{name: "partial overlap of retained", pid: pid, epoch: 5, firstSeq: 60, lastSeq: 64, wantErr: kerr.OutOfOrderSequenceNumber},
		{name: "gap of one", pid: pid, epoch: 5, firstSeq: 71, lastSeq: 80, wantErr: kerr.OutOfOrderSequenceNumber},
		{name: "large gap", pid: pid, epoch: 5, firstSeq: 1000, lastSeq: 1009, wantErr: kerr.OutOfOrderSequenceNumber},
		{name: "sequence restart in same epoch", pid: pid, epoch: 5, firstSeq: 0, lastSeq: 0, wantErr: kerr.OutOfOrderSequenceNumber},
		{name: "stale epoch", pid: pid, epoch: 4, firstSeq: 70, lastSeq: 79, wantErr: kerr.InvalidProducerEpoch},
		{name: "stale epoch with duplicate sequences", pid: pid, epoch: 4, firstSeq: 60, lastSeq: 69, wantErr: kerr.InvalidProducerEpoch},
		{name: "stale epoch at 0", pid: pid, epoch: 0, firstSeq: 0, lastSeq: 0, wantErr: kerr.InvalidProducerEpoch},
		{name: "epoch bump at 0", pid: pid, epoch: 6, firstSeq: 0, lastSeq: 9},
		{name: "epoch bump by more than one at 0", pid: pid, epoch: 100, firstSeq: 0, lastSeq: 0},
		{name: "epoch bump not at 0", pid: pid, epoch: 6, firstSeq: 70, lastSeq: 79, wantErr: kerr.OutOfOrderSequenceNumber},
		{name: "epoch bump with old duplicate sequences", pid: pid, epoch: 6, firstSeq: 60, lastSeq: 69, wantErr: kerr.OutOfOrderSequenceNumber},
		{name: "wraparound to 0", pid: wrapPID, epoch: 0, firstSeq: 0, lastSeq: 9},
		{name: "wraparound skipping 0", pid: wrapPID, epoch: 0, firstSeq: 1, lastSeq: 9, wantErr: kerr.OutOfOrderSequenceNumber},
		{name: "wraparound duplicate", pid: wrapPID, epoch: 0, firstSeq: math.MaxInt32 - 9, lastSeq: math.MaxInt32,
			wantDup: &BatchMeta{FirstSeq: math.MaxInt32 - 9, LastSeq: math.MaxInt32, FirstOffset: 10, LastOffset: 19}},
		{name: "to MaxInt32", pid: nearPID, epoch: 0, firstSeq: math.MaxInt32, lastSeq: math.MaxInt32},
		{name: "no wrap before MaxInt32", pid: nearPID, epoch: 0, firstSeq: 0, lastSeq: 0, wantErr: kerr.OutOfOrderSequenceNumber},
		{name: "after a batch that wrapped", pid: selfWrap, epoch: 0, firstSeq: 5, lastSeq: 9},
		{name: "after a batch that wrapped, gap", pid: selfWrap, epoch: 0, firstSeq: 6, lastSeq: 9, wantErr: kerr.OutOfOrderSequenceNumber},
		{name: "no batches, same epoch, at 0", pid: noBatchPID, epoch: 3, firstSeq: 0, lastSeq: 4},
		{name: "no batches, same epoch, not at 0", pid: noBatchPID, epoch: 3, firstSeq: 5, lastSeq: 9, wantErr: kerr.OutOfOrderSequenceNumber},
		{name: "no batches, stale epoch", pid: noBatchPID, epoch: 2, firstSeq: 0, lastSeq: 4, wantErr: kerr.InvalidProducerEpoch},
		{name: "no epoch yet accepts any sequence", pid: noEpochPID, epoch: 0, firstSeq: 17, lastSeq: 20},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := newManager()
			before := m.Entries()
			dup, err := m.Check(tt.pid, tt.epoch, tt.firstSeq, tt.lastSeq)
			if tt.wantErr != nil {
				var ke *kerr.Error
				if !errors.As(err, &ke) || ke != tt.wantErr {
					t.Fatalf("Check error = %v, want %v", err, tt.wantErr)
				}
			} else if err != nil {
				t.Fatalf("Check error = %v, want none", err)
			}
			if !reflect.DeepEqual(dup, tt.wantDup) {
				t.Fatalf("Check duplicate = %+v, want %+v", dup, tt.wantDup)
			}
			if after := m.Entries(); !reflect.DeepEqual(before, after) {
				t.Fatalf("Check changed the state:\nbefore %+v\nafter  %+v", before, after)
			}
		})
	}
}

func ptr[T any](v T) *T { return &v }

func TestCheckDuplicateIsCopy(t *testing.T) {
	m := New()
	m.Update(1, 0, batchN(0))
	dup, err := m.Check(1, 0, 0, 9)
	if err != nil || dup == nil {
		t.Fatalf("Check = %v, %v; want a duplicate", dup, err)
	}
	dup.FirstOffset = 12345
	if e, _ := m.Get(1); e.Batches[0] != batchN(0) {
		t.Fatalf("changing the returned duplicate changed the state: %+v", e.Batches[0])
	}
}

func TestUpdate(t *testing.T) {
	t.Run("keeps the last five", func(t *testing.T) {
		m := New()
		for n := range 12 {
			m.Update(1, 0, batchN(n))
			e, _ := m.Get(1)
			want := []BatchMeta{}
			for k := max(0, n-4); k <= n; k++ {
				want = append(want, batchN(k))
			}
			if !reflect.DeepEqual(e.Batches, want) {
				t.Fatalf("after batch %d: batches %+v, want %+v", n, e.Batches, want)
			}
			if e.LastTimestamp != batchN(n).MaxTimestamp {
				t.Fatalf("after batch %d: last timestamp %d", n, e.LastTimestamp)
			}
		}
	})
	t.Run("new epoch resets batches", func(t *testing.T) {
		m := New()
		for n := range 3 {
			m.Update(1, 0, batchN(n))
		}
		b := BatchMeta{FirstSeq: 0, LastSeq: 0, FirstOffset: 500, LastOffset: 500, MaxTimestamp: 7}
		m.Update(1, 1, b)
		want := Entry{ProducerID: 1, Epoch: 1, Batches: []BatchMeta{b}, LastTimestamp: 7, CoordinatorEpoch: -1, CurrentTxnFirstOffset: -1}
		if got, _ := m.Get(1); !reflect.DeepEqual(got, want) {
			t.Fatalf("entry %+v, want %+v", got, want)
		}
	})
	t.Run("already recorded batch is ignored", func(t *testing.T) {
		m := New()
		for n := range 3 {
			m.Update(1, 0, batchN(n))
		}
		before := m.Entries()
		m.Update(1, 0, batchN(1))
		m.Update(1, 0, batchN(2))
		m.Update(1, 9, batchN(2)) // an old batch must not reset the epoch either
		if after := m.Entries(); !reflect.DeepEqual(before, after) {
			t.Fatalf("replayed batches changed the state:\nbefore %+v\nafter  %+v", before, after)
		}
	})
	t.Run("Entries ordered and copied", func(t *testing.T) {
		m := New()
		for _, pid := range []int64{30, 10, 20} {
			m.Update(pid, 0, batchN(0))
		}
		got := m.Entries()
		if len(got) != 3 || got[0].ProducerID != 10 || got[1].ProducerID != 20 || got[2].ProducerID != 30 {
			t.Fatalf("Entries = %+v, want producers 10, 20, 30", got)
		}
		got[0].Batches[0].FirstSeq = 99
		if e, _ := m.Get(10); e.Batches[0].FirstSeq != 0 {
			t.Fatal("changing an Entries result changed the state")
		}
		if m.Len() != 3 {
			t.Fatalf("Len = %d, want 3", m.Len())
		}
	})
}

func TestTransactions(t *testing.T) {
	m := New()
	m.UpdateTransactional(1, 2, batchN(0))
	m.UpdateTransactional(1, 2, batchN(1))
	if e, _ := m.Get(1); e.CurrentTxnFirstOffset != 0 {
		t.Fatalf("txn first offset %d, want 0", e.CurrentTxnFirstOffset)
	}
	if err := m.CheckEndTxn(1, 2, 4); err != nil {
		t.Fatalf("CheckEndTxn: %v", err)
	}
	if first := m.EndTxn(1, 2, 4, 300, 5000); first != 0 {
		t.Fatalf("EndTxn = %d, want 0", first)
	}
	want := Entry{ProducerID: 1, Epoch: 2, Batches: []BatchMeta{batchN(0), batchN(1)}, LastTimestamp: 5000,
		CoordinatorEpoch: 4, CurrentTxnFirstOffset: -1}
	if got, _ := m.Get(1); !reflect.DeepEqual(got, want) {
		t.Fatalf("entry %+v, want %+v", got, want)
	}
	if first := m.EndTxn(1, 2, 4, 310, 5001); first != 310 {
		t.Fatalf("EndTxn without open txn = %d, want the marker offset 310", first)
	}

	for _, tt := range []struct {
		name      string
		epoch     int16
		coordEpch int32
		want      *kerr.Error
	}{
		{"stale producer epoch", 1, 4, kerr.InvalidProducerEpoch},
		{"stale coordinator epoch", 2, 3, kerr.TransactionCoordinatorFenced},
		{"newer epochs", 3, 5, nil},
	} {
		err := m.CheckEndTxn(1, tt.epoch, tt.coordEpch)
		if tt.want == nil && err != nil || tt.want != nil && !errors.Is(err, tt.want) {
			t.Errorf("%s: CheckEndTxn = %v, want %v", tt.name, err, tt.want)
		}
	}
	if err := m.CheckEndTxn(42, 0, 0); err != nil {
		t.Errorf("CheckEndTxn of unknown producer = %v", err)
	}
}

func TestTruncateFrom(t *testing.T) {
	// Producer 1: batches 0..6 (2..6 retained, offsets 200..609).
	// Producer 2: one batch at 1000..1009.
	// Producer 3: open transaction from offset 150, then batches at 400..409 to 900..909
	// (500..909 retained).
	// Producer 4: open transaction from 2000, batch at 2000..2009.
	setup := func() *Manager {
		m := New()
		for n := range 7 {
			m.Update(1, 0, batchN(n))
		}
		m.Update(2, 0, BatchMeta{FirstSeq: 0, LastSeq: 9, FirstOffset: 1000, LastOffset: 1009, MaxTimestamp: 50})
		m.UpdateTransactional(3, 0, BatchMeta{FirstSeq: 0, LastSeq: 0, FirstOffset: 150, LastOffset: 150, MaxTimestamp: 1})
		for n := range 6 {
			m.UpdateTransactional(3, 0, BatchMeta{FirstSeq: int32(n + 1), LastSeq: int32(n + 1),
				FirstOffset: int64(400 + 100*n), LastOffset: int64(409 + 100*n), MaxTimestamp: int64(10 + n)})
		}
		m.UpdateTransactional(4, 0, BatchMeta{FirstSeq: 0, LastSeq: 9, FirstOffset: 2000, LastOffset: 2009, MaxTimestamp: 60})
		return m
	}
	tests := []struct {
		offset int64
		want   map[int64][2]int64 // pid -> {retained batches, txn first offset}
		lastTs map[int64]int64
	}{
		{offset: 5000, want: map[int64][2]int64{1: {5, -1}, 2: {1, -1}, 3: {5, 150}, 4: {1, 2000}}},
		{offset: 2005, want: map[int64][2]int64{1: {5, -1}, 2: {1, -1}, 3: {5, 150}}}, // straddling batch dropped
		{offset: 2000, want: map[int64][2]int64{1: {5, -1}, 2: {1, -1}, 3: {5, 150}}},
		{offset: 1000, want: map[int64][2]int64{1: {5, -1}, 3: {5, 150}}},
		{offset: 605, want: map[int64][2]int64{1: {4, -1}, 3: {1, 150}},
			lastTs: map[int64]int64{1: batchN(5).MaxTimestamp, 3: 11}},
		{offset: 300, want: map[int64][2]int64{1: {1, -1}, 3: {0, 150}}},
		{offset: 200, want: map[int64][2]int64{3: {0, 150}}},
		{offset: 150, want: map[int64][2]int64{}},
		{offset: 0, want: map[int64][2]int64{}},
	}
	for _, tt := range tests {
		m := setup()
		m.TruncateFrom(tt.offset)
		got := map[int64][2]int64{}
		for _, e := range m.Entries() {
			got[e.ProducerID] = [2]int64{int64(len(e.Batches)), e.CurrentTxnFirstOffset}
			for _, b := range e.Batches {
				if b.LastOffset >= tt.offset {
					t.Errorf("TruncateFrom(%d): producer %d kept batch %+v", tt.offset, e.ProducerID, b)
				}
			}
			if want, ok := tt.lastTs[e.ProducerID]; ok && e.LastTimestamp != want {
				t.Errorf("TruncateFrom(%d): producer %d last timestamp %d, want %d", tt.offset, e.ProducerID, e.LastTimestamp, want)
			}
		}
		if !reflect.DeepEqual(got, tt.want) {
			t.Errorf("TruncateFrom(%d): {batches, txn} = %v, want %v", tt.offset, got, tt.want)
		}
	}
}

func TestExpireOlderThan(t *testing.T) {
	setup := func() *Manager {
		m := New()
		m.Update(1, 0, BatchMeta{FirstOffset: 0, LastOffset: 0, MaxTimestamp: 100})
		m.Update(2, 0, BatchMeta{FirstOffset: 1, LastOffset: 1, MaxTimestamp: 200})
		m.UpdateTransactional(3, 0, BatchMeta{FirstOffset: 2, LastOffset: 2, MaxTimestamp: 50}) // open txn
		m.Update(4, 0, BatchMeta{FirstOffset: 3, LastOffset: 3, MaxTimestamp: 300})
		m.EndTxn(5, 0, 0, 4, 150)
		return m
	}
	tests := []struct {
		ts   int64
		want []int64
	}{
		{ts: 0, want: []int64{1, 2, 3, 4, 5}},
		{ts: 100, want: []int64{1, 2, 3, 4, 5}}, // not older than: equal stays
		{ts: 101, want: []int64{2, 3, 4, 5}},
		{ts: 200, want: []int64{2, 3, 4}},
		{ts: 1000, want: []int64{3}},
	}
	for _, tt := range tests {
		m := setup()
		m.ExpireOlderThan(tt.ts)
		var got []int64
		for _, e := range m.Entries() {
			got = append(got, e.ProducerID)
		}
		if !reflect.DeepEqual(got, tt.want) {
			t.Errorf("ExpireOlderThan(%d) left %v, want %v", tt.ts, got, tt.want)
		}
	}
}
