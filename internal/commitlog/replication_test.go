package commitlog

import (
	"errors"
	"math"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
)

func TestReadFileForReplicaReadsPastHighWatermark(t *testing.T) {
	l := openTestLog(t, t.TempDir(), testConfig(), Options{})
	defer l.Close()
	for range 3 {
		mustAppend(t, l, makeBatch(batchSpec{n: 2}), AppendOptions{})
	}
	l.SetHighWatermark(2)
	consumer, err := l.ReadFile(0, 1<<20, math.MaxInt64, true)
	if err != nil {
		t.Fatal(err)
	}
	replica, err := l.ReadFileForReplica(0, 1<<20, true)
	if err != nil {
		t.Fatal(err)
	}
	if got := len(sliceBytes(t, consumer)); got == 0 || int64(got)*3 != replica.Size {
		t.Fatalf("consumer read %d bytes, replica %d: want one batch and all three", got, replica.Size)
	}
	if replica.HighWatermark != 2 {
		t.Fatalf("replica slice high watermark %d, want 2", replica.HighWatermark)
	}
	if _, err := l.ReadFileForReplica(7, 1<<20, true); !errors.Is(err, kerr.OffsetOutOfRange) {
		t.Fatalf("read past the log end: %v, want OFFSET_OUT_OF_RANGE", err)
	}
}

func TestAssignEpoch(t *testing.T) {
	l := openTestLog(t, t.TempDir(), testConfig(), Options{})
	mustAppend(t, l, makeBatch(batchSpec{n: 2}), AppendOptions{LeaderEpoch: 0})
	if err := l.AssignEpoch(3); err != nil {
		t.Fatal(err)
	}
	if err := l.AssignEpoch(2); err != nil { // older: ignored
		t.Fatal(err)
	}
	if e, end := l.EndOffsetForEpoch(0); e != 0 || end != 2 {
		t.Fatalf("end of epoch 0: %d/%d, want 0/2", e, end)
	}
	if got := l.LatestEpoch(); got != 3 {
		t.Fatalf("latest epoch %d, want 3", got)
	}
	l.Close()
}

func TestTruncateFullyAndStartAt(t *testing.T) {
	dir := t.TempDir()
	l := openTestLog(t, dir, testConfig(), Options{})
	for range 3 {
		mustAppend(t, l, makeBatch(batchSpec{n: 2}), AppendOptions{})
	}
	if err := l.TruncateFullyAndStartAt(10); err != nil {
		t.Fatal(err)
	}
	if s, e, hw := l.LogStartOffset(), l.LogEndOffset(), l.HighWatermark(); s != 10 || e != 10 || hw != 10 {
		t.Fatalf("start %d end %d hw %d, want 10 for all", s, e, hw)
	}
	if got := l.LatestEpoch(); got != -1 {
		t.Fatalf("latest epoch %d, want none", got)
	}
	res := mustAppend(t, l, makeBatch(batchSpec{n: 1}), AppendOptions{FromReplication: false, LeaderEpoch: 4})
	if res.BaseOffset != 10 {
		t.Fatalf("next append at %d, want 10", res.BaseOffset)
	}
	l.Close()
	l = openTestLog(t, dir, testConfig(), Options{})
	defer l.Close()
	if e := l.LogEndOffset(); e != 11 {
		t.Fatalf("log end after reopen %d, want 11", e)
	}
	if err := l.TruncateFullyAndStartAt(-1); !errors.Is(err, kerr.OffsetOutOfRange) {
		t.Fatalf("negative offset: %v", err)
	}
}
