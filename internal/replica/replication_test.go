package replica

import (
	"context"
	"errors"
	"math"
	"slices"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/samsa-io/samsa/internal/batchtest"
	"github.com/samsa-io/samsa/internal/commitlog"
)

func TestFollowersCopyEveryBatch(t *testing.T) {
	tc := startCluster(t, clusterOptions{nodes: 3})
	last, epoch := tc.produce(1, 20, 1)
	if err := tc.part(1).WaitForCommit(context.Background(), last, epoch); err != nil {
		t.Fatal(err)
	}
	tc.waitInSync(1, 2, 3)
	for _, id := range []int32{2, 3} {
		p := tc.part(id)
		if p.IsLeader() || p.Leader() != 1 {
			t.Errorf("node %d: leader %v/%d, want follower of 1", id, p.IsLeader(), p.Leader())
		}
		// Followers take the leader's high watermark with their next fetch.
		waitFor(t, "follower high watermark", func() bool { return p.Log.HighWatermark() == last+1 })
		// A follower serves no client.
		if _, _, err := p.AppendAsLeader(batch(), 1); !errors.Is(err, kerr.NotLeaderForPartition) {
			t.Errorf("node %d: append on a follower: %v, want NOT_LEADER_OR_FOLLOWER", id, err)
		}
	}
	if got := tc.part(1).Log.HighWatermark(); got != last+1 {
		t.Errorf("leader high watermark %d, want %d", got, last+1)
	}
}

func TestHighWatermarkWaitsForISR(t *testing.T) {
	tc := startCluster(t, clusterOptions{nodes: 3})
	last, epoch := tc.produce(1, 3, -1)
	if err := tc.part(1).WaitForCommit(context.Background(), last, epoch); err != nil {
		t.Fatal(err)
	}
	tc.waitInSync(1, 2, 3)
	hw := tc.part(1).Log.HighWatermark()

	tc.nodes[3].cut.Store(true)
	last, epoch = tc.produce(1, 2, -1)
	leader := tc.part(1)
	done := make(chan error, 1)
	go func() { done <- leader.WaitForCommit(context.Background(), last, epoch) }()
	// Node 2 has everything, node 3 (in the ISR) has not: the watermark must stay.
	waitFor(t, "node 2 to copy", func() bool { return tc.part(2).Log.LogEndOffset() == last+1 })
	waitFor(t, "node 2's next fetch", func() bool {
		leader.mu.Lock()
		defer leader.mu.Unlock()
		return leader.followers[2].leo == last+1
	})
	if got := leader.Log.HighWatermark(); got != hw {
		t.Fatalf("high watermark %d moved past %d without node 3", got, hw)
	}
	select {
	case err := <-done:
		t.Fatalf("acks=all returned (%v) before the ISR had the records", err)
	default:
	}
	// Consumers read only below the high watermark.
	fs, err := leader.Log.ReadFile(hw, 1<<20, math.MaxInt64, true)
	if err != nil || fs.Size != 0 {
		t.Fatalf("consumer read at the high watermark: %d bytes, %v", fs.Size, err)
	}

	tc.nodes[3].cut.Store(false)
	if err := <-done; err != nil {
		t.Fatalf("acks=all: %v", err)
	}
	if got := leader.Log.HighWatermark(); got != last+1 {
		t.Fatalf("high watermark %d, want %d", got, last+1)
	}
	tc.waitInSync(1, 2, 3)
}

func TestAcksAll(t *testing.T) {
	t.Run("not enough replicas", func(t *testing.T) {
		tc := startCluster(t, clusterOptions{nodes: 3, minInsync: 3})
		tc.produce(1, 1, -1)
		tc.change(1, []int32{1, 2})
		leader := tc.part(1)
		leo := leader.Log.LogEndOffset()
		_, _, err := leader.AppendAsLeader(batch(), -1)
		if !errors.Is(err, kerr.NotEnoughReplicas) {
			t.Fatalf("acks=all with isr 2 < 3: %v, want NOT_ENOUGH_REPLICAS", err)
		}
		if got := leader.Log.LogEndOffset(); got != leo {
			t.Fatalf("log end %d after a refused append, want %d", got, leo)
		}
		if _, _, err := leader.AppendAsLeader(batch(), 1); err != nil {
			t.Fatalf("acks=1 with a small isr: %v", err)
		}
	})
	t.Run("not enough replicas after append", func(t *testing.T) {
		tc := startCluster(t, clusterOptions{nodes: 3, minInsync: 3})
		tc.nodes[3].cut.Store(true)
		leader := tc.part(1)
		res, epoch, err := leader.AppendAsLeader(batch(), -1)
		if err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() { done <- leader.WaitForCommit(context.Background(), res.LastOffset, epoch) }()
		tc.change(1, []int32{1, 2}) // node 3 leaves the ISR: node 2 alone commits
		if err := <-done; !errors.Is(err, kerr.NotEnoughReplicasAfterAppend) {
			t.Fatalf("got %v, want NOT_ENOUGH_REPLICAS_AFTER_APPEND", err)
		}
	})
	t.Run("timeout", func(t *testing.T) {
		tc := startCluster(t, clusterOptions{nodes: 2})
		tc.nodes[2].cut.Store(true)
		res, epoch, err := tc.part(1).AppendAsLeader(batch(), -1)
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
		defer cancel()
		if err := tc.part(1).WaitForCommit(ctx, res.LastOffset, epoch); !errors.Is(err, kerr.RequestTimedOut) {
			t.Fatalf("got %v, want REQUEST_TIMED_OUT", err)
		}
	})
	t.Run("leadership lost", func(t *testing.T) {
		tc := startCluster(t, clusterOptions{nodes: 2})
		tc.nodes[2].cut.Store(true)
		res, epoch, err := tc.part(1).AppendAsLeader(batch(), -1)
		if err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() { done <- tc.part(1).WaitForCommit(context.Background(), res.LastOffset, epoch) }()
		tc.change(2, []int32{2})
		if err := <-done; !errors.Is(err, kerr.NotLeaderForPartition) {
			t.Fatalf("got %v, want NOT_LEADER_OR_FOLLOWER", err)
		}
	})
}

func TestISRShrinksAndExpands(t *testing.T) {
	tc := startCluster(t, clusterOptions{nodes: 3, lagTime: 100 * time.Millisecond})
	tc.produce(1, 2, -1)
	tc.nodes[3].cut.Store(true)
	// Node 3 falls behind: the leader has records it never fetched.
	tc.produce(1, 3, 1)
	waitFor(t, "node 3 to leave the isr", func() bool { return slices.Equal(isrOf(tc), []int32{1, 2}) })

	// Without node 3, acks=all commits with nodes 1 and 2.
	last, epoch := tc.produce(1, 2, -1)
	if err := tc.part(1).WaitForCommit(context.Background(), last, epoch); err != nil {
		t.Fatal(err)
	}
	if got := tc.part(3).Log.LogEndOffset(); got > last {
		t.Fatalf("node 3 has offset %d while cut off", got)
	}

	tc.nodes[3].cut.Store(false)
	waitFor(t, "node 3 to rejoin the isr", func() bool { return slices.Equal(isrOf(tc), []int32{1, 2, 3}) })
	tc.waitInSync(1, 2, 3)
}

func TestLeaderChangeTruncatesDivergentTail(t *testing.T) {
	tc := startCluster(t, clusterOptions{nodes: 3})
	last, epoch := tc.produce(1, 3, -1)
	if err := tc.part(1).WaitForCommit(context.Background(), last, epoch); err != nil {
		t.Fatal(err)
	}
	tc.waitInSync(1, 2, 3)
	committed := tc.part(1).Log.LogEndOffset()

	// Node 1 writes a tail nobody copies (acks=1), then loses leadership to node 2.
	tc.nodes[2].cut.Store(true)
	tc.nodes[3].cut.Store(true)
	tc.produce(1, 4, 1)
	if got := tc.part(1).Log.LogEndOffset(); got != committed+4 {
		t.Fatalf("old leader's log end %d, want %d", got, committed+4)
	}
	tc.change(2, []int32{2, 3})
	tc.nodes[2].cut.Store(false)
	tc.nodes[3].cut.Store(false)
	// The new leader writes other records at the same offsets.
	newLast, newEpoch := tc.produce(2, 2, 1)
	if newEpoch <= epoch {
		t.Fatalf("new leader epoch %d, want above %d", newEpoch, epoch)
	}

	tc.waitInSync(2, 1, 3)
	old := tc.part(1).Log
	if got := old.LogEndOffset(); got != newLast+1 {
		t.Fatalf("old leader's log end %d, want %d", got, newLast+1)
	}
	for off := committed; off <= newLast; off++ {
		if e := old.EpochForOffset(off); e != newEpoch {
			t.Errorf("offset %d on the old leader has epoch %d, want the new leader's %d", off, e, newEpoch)
		}
	}
	// It is a proper follower again: back in the ISR once caught up.
	waitFor(t, "node 1 to rejoin the isr", func() bool { return slices.Equal(isrOf(tc), []int32{1, 2, 3}) })
}

func TestProducerDedupeSurvivesFailover(t *testing.T) {
	tc := startCluster(t, clusterOptions{nodes: 2})
	idem := batchtest.Batch{FirstTimestamp: time.Now().UnixMilli(), Idempotent: true, ProducerID: 7, ProducerEpoch: 0,
		Records: []batchtest.Record{{Value: []byte("a")}, {Value: []byte("b")}}}
	tc.produce(1, 2, -1)
	res, epoch, err := tc.part(1).AppendAsLeader(idem.Encode(), -1)
	if err != nil {
		t.Fatal(err)
	}
	if err := tc.part(1).WaitForCommit(context.Background(), res.LastOffset, epoch); err != nil {
		t.Fatal(err)
	}
	tc.waitInSync(1, 2)

	tc.change(2, []int32{2})
	// The producer never saw the answer and retries the same batch at the new leader.
	retry, _, err := tc.part(2).AppendAsLeader(idem.Encode(), -1)
	if err != nil {
		t.Fatal(err)
	}
	if !retry.Duplicate || retry.BaseOffset != res.BaseOffset || retry.LastOffset != res.LastOffset {
		t.Fatalf("retry at the new leader: %+v, want a duplicate of %d..%d", retry, res.BaseOffset, res.LastOffset)
	}
}

func TestLogStartOffsetPropagates(t *testing.T) {
	tc := startCluster(t, clusterOptions{nodes: 3})
	tc.nodes[3].cut.Store(true)
	tc.change(1, []int32{1, 2})
	last, epoch := tc.produce(1, 10, -1)
	if err := tc.part(1).WaitForCommit(context.Background(), last, epoch); err != nil {
		t.Fatal(err)
	}
	if _, err := tc.part(1).Log.DeleteRecordsBefore(6); err != nil {
		t.Fatal(err)
	}
	// An in-sync follower moves its log start with its next fetch.
	tc.produce(1, 1, 1)
	waitFor(t, "node 2's log start", func() bool { return tc.part(2).Log.LogStartOffset() == 6 })

	// Node 3 is behind the leader's log start: it restarts its log there.
	tc.nodes[3].cut.Store(false)
	tc.waitInSync(1, 2, 3)
	if got := tc.part(3).Log.LogStartOffset(); got != 6 {
		t.Fatalf("node 3 log start %d, want 6", got)
	}
}

func TestReplicaFetchChecks(t *testing.T) {
	tc := startCluster(t, clusterOptions{nodes: 2})
	tc.nodes[2].cut.Store(true)
	tc.produce(1, 2, 1) // offsets 0-1 in epoch 0
	// Leadership goes to node 2 and back: node 1 leads epoch 2 from offset 2.
	tc.change(2, []int32{1, 2})
	tc.change(1, []int32{1, 2})
	leader := tc.part(1)
	epoch := leader.LeaderEpoch()
	if epoch != 2 {
		t.Fatalf("leader epoch %d, want 2", epoch)
	}
	tc.produce(1, 1, 1) // offset 2 in epoch 2
	tests := []struct {
		name string
		f    FollowerFetch
		want error
	}{
		{"not a replica", FollowerFetch{ReplicaID: 9, LastFetchedEpoch: -1, CurrentLeaderEpoch: epoch, MaxBytes: 1 << 20}, kerr.NotLeaderForPartition},
		{"itself", FollowerFetch{ReplicaID: 1, LastFetchedEpoch: -1, CurrentLeaderEpoch: epoch, MaxBytes: 1 << 20}, kerr.NotLeaderForPartition},
		{"fenced", FollowerFetch{ReplicaID: 2, LastFetchedEpoch: -1, CurrentLeaderEpoch: epoch - 1, MaxBytes: 1 << 20}, kerr.FencedLeaderEpoch},
		{"unknown epoch", FollowerFetch{ReplicaID: 2, LastFetchedEpoch: -1, CurrentLeaderEpoch: epoch + 1, MaxBytes: 1 << 20}, kerr.UnknownLeaderEpoch},
		{"past the end", FollowerFetch{ReplicaID: 2, FetchOffset: 99, LastFetchedEpoch: -1, CurrentLeaderEpoch: epoch, MaxBytes: 1 << 20}, kerr.OffsetOutOfRange},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := leader.ReadForFollower(tt.f)
			if !errors.Is(err, tt.want) {
				t.Fatalf("got %v, want %v", err, tt.want)
			}
		})
	}
	t.Run("reads past the high watermark", func(t *testing.T) {
		fr, err := leader.ReadForFollower(FollowerFetch{ReplicaID: 2, LastFetchedEpoch: -1, CurrentLeaderEpoch: epoch, MaxBytes: 1 << 20})
		if err != nil {
			t.Fatal(err)
		}
		if fr.HighWatermark != 0 || fr.Slice.Size == 0 {
			t.Fatalf("high watermark %d, %d bytes: want 0 and the unreplicated records", fr.HighWatermark, fr.Slice.Size)
		}
	})
	for _, tt := range []struct {
		name      string
		lastEpoch int32
		offset    int64
		diverging bool
	}{
		{"epoch 0 ends at 2", 0, 3, true},
		{"epoch 1 unknown here", 1, 2, true},
		{"epoch 0 up to its end", 0, 2, false},
		{"current epoch", 2, 3, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			fr, err := leader.ReadForFollower(FollowerFetch{ReplicaID: 2, FetchOffset: tt.offset, LastFetchedEpoch: tt.lastEpoch, CurrentLeaderEpoch: epoch, MaxBytes: 1 << 20})
			if err != nil {
				t.Fatal(err)
			}
			if fr.Diverging != tt.diverging {
				t.Fatalf("diverging %v, want %v", fr.Diverging, tt.diverging)
			}
			if tt.diverging && (fr.DivergingEpoch != 0 || fr.DivergingEndOffset != 2 || fr.Slice.Size != 0) {
				t.Fatalf("got %+v, want diverging at epoch 0 end 2 without records", fr)
			}
		})
	}
}

func TestSingleNodeLeaderCommitsOnAppend(t *testing.T) {
	tc := startCluster(t, clusterOptions{nodes: 1})
	p := tc.part(1)
	res, err := p.Append(batch())
	if err != nil {
		t.Fatal(err)
	}
	if got := p.Log.HighWatermark(); got != res.LastOffset+1 {
		t.Fatalf("high watermark %d, want %d", got, res.LastOffset+1)
	}
}

func TestWholeBatchesFrom(t *testing.T) {
	b0, b1 := batchAt(t, 0, 2), batchAt(t, 2, 3) // offsets 0-1 and 2-4
	both := append(append([]byte(nil), b0...), b1...)
	tests := []struct {
		name    string
		in      []byte
		offset  int64
		want    []byte
		wantErr bool
	}{
		{"all", both, 0, both, false},
		{"skip below", both, 2, b1, false},
		{"partial last", both[:len(both)-1], 0, b0, false},
		{"only partial", b0[:10], 0, nil, false},
		{"straddle", both, 1, nil, true},
		{"nothing new", both, 5, nil, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := wholeBatchesFrom(tt.in, tt.offset)
			if (err != nil) != tt.wantErr || string(got) != string(tt.want) {
				t.Fatalf("got %d bytes, %v; want %d bytes, error %v", len(got), err, len(tt.want), tt.wantErr)
			}
		})
	}
}

// batchAt encodes a batch of n records at base offset base.
func batchAt(t *testing.T, base int64, n int) []byte {
	t.Helper()
	recs := make([]batchtest.Record, n)
	for i := range recs {
		recs[i].Value = []byte{byte(i)}
	}
	b := batchtest.Batch{FirstTimestamp: time.Now().UnixMilli(), Records: recs}.Encode()
	for i := range 8 {
		b[i] = byte(uint64(base) >> (56 - 8*i))
	}
	if h, err := commitlog.ParseBatchHeader(b); err != nil || h.BaseOffset != base {
		t.Fatalf("batch header %+v, %v", h, err)
	}
	return b
}
