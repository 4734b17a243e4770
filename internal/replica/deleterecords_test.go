package replica

import (
	"context"
	"errors"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
)

type lowWatermarkResult struct {
	lw  int64
	err error
}

func (tc *testCluster) goWaitLowWatermark(ctx context.Context, id int32, target int64, epoch int32) <-chan lowWatermarkResult {
	p := tc.part(id)
	done := make(chan lowWatermarkResult, 1)
	go func() {
		lw, err := p.WaitForLowWatermark(ctx, target, epoch)
		done <- lowWatermarkResult{lw, err}
	}()
	return done
}

// followerLogStart is what the leader knows of follower id's log start.
func followerLogStart(p *Partition, id int32) int64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.followers[id].logStart
}

// TestDeleteRecordsWaitsForFollowers: DeleteRecords answers once every alive replica's
// log start reached the offset, out of the ISR too; a fenced one does not count.
func TestDeleteRecordsWaitsForFollowers(t *testing.T) {
	tc := startCluster(t, clusterOptions{nodes: 3})
	leader := tc.part(1)
	last, epoch := tc.produce(1, 10, -1)
	if err := leader.WaitForCommit(context.Background(), last, epoch); err != nil {
		t.Fatal(err)
	}
	tc.waitInSync(1, 2, 3)

	tc.nodes[3].cut.Store(true)
	target, epoch, err := leader.DeleteRecords(6)
	if err != nil || target != 6 {
		t.Fatalf("DeleteRecords(6): target %d, %v", target, err)
	}
	done := tc.goWaitLowWatermark(context.Background(), 1, target, epoch)
	waitFor(t, "node 2 to report its new log start", func() bool { return followerLogStart(leader, 2) == 6 })
	if lw, err := leader.LowWatermark(); err != nil || lw != 0 {
		t.Fatalf("low watermark %d (%v) with node 3 still at 0, want 0", lw, err)
	}
	select {
	case r := <-done:
		t.Fatalf("DeleteRecords answered (%d, %v) before node 3 deleted", r.lw, r.err)
	default:
	}
	tc.nodes[3].cut.Store(false)
	if r := <-done; r.err != nil || r.lw != 6 {
		t.Fatalf("low watermark %d, %v; want 6", r.lw, r.err)
	}
	if got := tc.part(3).Log.LogStartOffset(); got != 6 {
		t.Fatalf("node 3's log start %d, want 6", got)
	}

	// Node 3 out of the ISR still counts while its broker is alive.
	tc.nodes[3].cut.Store(true)
	tc.change(1, []int32{1, 2})
	epoch = leader.LeaderEpoch()
	if target, _, err = leader.DeleteRecords(-1); err != nil || target != last+1 {
		t.Fatalf("DeleteRecords(-1): target %d, %v; want the high watermark %d", target, err, last+1)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if lw, err := leader.WaitForLowWatermark(ctx, target, epoch); !errors.Is(err, kerr.RequestTimedOut) || lw != 6 {
		t.Fatalf("expired wait: %d, %v; want 6 and REQUEST_TIMED_OUT", lw, err)
	}
	// Once fenced it no longer holds the low watermark back.
	done = tc.goWaitLowWatermark(context.Background(), 1, target, epoch)
	waitFor(t, "node 2 to report its new log start", func() bool { return followerLogStart(leader, 2) == target })
	tc.fence(3, true)
	if r := <-done; r.err != nil || r.lw != target {
		t.Fatalf("low watermark %d, %v; want %d", r.lw, r.err, target)
	}
}

func TestDeleteRecordsErrors(t *testing.T) {
	t.Run("single node answers at once", func(t *testing.T) {
		tc := startCluster(t, clusterOptions{nodes: 1})
		p := tc.part(1)
		tc.produce(1, 5, 1)
		target, epoch, err := p.DeleteRecords(-1)
		if err != nil || target != 5 {
			t.Fatalf("DeleteRecords(-1): %d, %v; want 5", target, err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		cancel() // the condition is checked before the deadline
		if lw, err := p.WaitForLowWatermark(ctx, target, epoch); err != nil || lw != 5 {
			t.Fatalf("low watermark %d, %v; want 5", lw, err)
		}
	})
	t.Run("past the high watermark", func(t *testing.T) {
		tc := startCluster(t, clusterOptions{nodes: 2})
		tc.nodes[2].cut.Store(true)
		tc.produce(1, 3, 1)
		if _, _, err := tc.part(1).DeleteRecords(2); !errors.Is(err, kerr.OffsetOutOfRange) {
			t.Fatalf("delete above the high watermark: %v, want OFFSET_OUT_OF_RANGE", err)
		}
	})
	t.Run("follower", func(t *testing.T) {
		tc := startCluster(t, clusterOptions{nodes: 2})
		if _, _, err := tc.part(2).DeleteRecords(0); !errors.Is(err, kerr.NotLeaderForPartition) {
			t.Fatalf("delete on a follower: %v, want NOT_LEADER_OR_FOLLOWER", err)
		}
		if _, err := tc.part(2).LowWatermark(); !errors.Is(err, kerr.NotLeaderForPartition) {
			t.Fatalf("low watermark on a follower: %v, want NOT_LEADER_OR_FOLLOWER", err)
		}
	})
	t.Run("leadership lost while waiting", func(t *testing.T) {
		tc := startCluster(t, clusterOptions{nodes: 2})
		last, epoch := tc.produce(1, 3, -1)
		if err := tc.part(1).WaitForCommit(context.Background(), last, epoch); err != nil {
			t.Fatal(err)
		}
		tc.nodes[2].cut.Store(true)
		target, epoch, err := tc.part(1).DeleteRecords(2)
		if err != nil {
			t.Fatal(err)
		}
		done := tc.goWaitLowWatermark(context.Background(), 1, target, epoch)
		tc.change(2, []int32{2})
		if r := <-done; !errors.Is(r.err, kerr.NotLeaderForPartition) {
			t.Fatalf("got %d, %v; want NOT_LEADER_OR_FOLLOWER", r.lw, r.err)
		}
	})
}
