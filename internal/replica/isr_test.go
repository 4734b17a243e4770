package replica

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/samsa-io/samsa/internal/metadata"
)

// TestFencedFollowerNotReadded: a follower whose broker the controller fenced (and
// dropped from the ISR) while its last fetch had everything is not proposed back at
// the next checks, so no AlterPartition is sent for the controller to refuse. Once
// unfenced and fetching again it rejoins.
func TestFencedFollowerNotReadded(t *testing.T) {
	tc := startCluster(t, clusterOptions{nodes: 3})
	last, epoch := tc.produce(1, 2, -1)
	leader := tc.part(1)
	if err := leader.WaitForCommit(context.Background(), last, epoch); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "node 3's fetch at the log end", func() bool {
		leader.mu.Lock()
		defer leader.mu.Unlock()
		return leader.followers[3].leo == last+1
	})
	tc.nodes[3].cut.Store(true)
	tc.fence(3, true)
	tc.change(1, []int32{1, 2})

	alters := tc.alters.Load()
	for range 3 {
		tc.nodes[1].manager().CheckISRs()
	}
	leader.mu.Lock()
	pending := leader.pendingAlter
	leader.mu.Unlock()
	if pending != nil || tc.alters.Load() != alters {
		t.Fatalf("isr change %+v proposed (%d calls) for a fenced follower", pending, tc.alters.Load()-alters)
	}
	if got := isrOf(tc); !slices.Equal(got, []int32{1, 2}) {
		t.Fatalf("isr %v, want [1 2]", got)
	}

	tc.fence(3, false)
	tc.nodes[3].cut.Store(false)
	waitFor(t, "node 3 to rejoin the isr", func() bool { return slices.Equal(isrOf(tc), []int32{1, 2, 3}) })
	if n := tc.refused.Load(); n != 0 {
		t.Fatalf("the controller refused %d isr changes", n)
	}
}

func TestISREligibility(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	const lag = 10 * time.Second
	shuttingDown := true
	img, err := metadata.NewImage().Apply([]metadata.Record{
		{Type: metadata.RecordRegisterBroker, RegisterBroker: &metadata.RegisterBrokerRecord{ID: 2}},
		{Type: metadata.RecordRegisterBroker, RegisterBroker: &metadata.RegisterBrokerRecord{ID: 3, Fenced: true}},
		{Type: metadata.RecordRegisterBroker, RegisterBroker: &metadata.RegisterBrokerRecord{ID: 4}},
		{Type: metadata.RecordBrokerChange, BrokerChange: &metadata.BrokerChangeRecord{ID: 4, InControlledShutdown: &shuttingDown}},
	})
	if err != nil {
		t.Fatal(err)
	}
	m := NewManager(Options{NodeID: 1, ReplicaLagTimeMax: lag, now: func() time.Time { return now }})
	m.img.Store(img)
	p := &Partition{m: m}
	fetched := func(leo int64, ago time.Duration) *followerState {
		fs := newFollowerState()
		fs.leo, fs.lastFetch = leo, now.Add(-ago)
		return fs
	}
	for _, tt := range []struct {
		name string
		id   int32
		fs   *followerState
		want bool
	}{
		{"fetched recently", 2, fetched(5, time.Second), true},
		{"fetched at the lag limit", 2, fetched(5, lag), true},
		{"no fetch this leader epoch", 2, newFollowerState(), false},
		{"last fetch too old", 2, fetched(5, lag+time.Millisecond), false},
		{"fenced", 3, fetched(5, time.Second), false},
		{"in controlled shutdown", 4, fetched(5, time.Second), false},
		{"not registered", 5, fetched(5, time.Second), false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got := p.isrEligibleLocked(tt.id, tt.fs, now); got != tt.want {
				t.Fatalf("eligible %v, want %v", got, tt.want)
			}
		})
	}
}

// TestRefusedISRChangeWarnsOncePerMinute: a controller refusing the same change at every
// check is logged at WARN once a minute per partition, at DEBUG in between.
func TestRefusedISRChangeWarnsOncePerMinute(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	var buf bytes.Buffer
	m := NewManager(Options{NodeID: 1, Logger: slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug})),
		now: func() time.Time { return now }})
	a, b := &Partition{m: m}, &Partition{m: m}
	req := &AlterPartitionRequest{Topic: "t", ISR: []int32{1, 2}}
	refused := errors.New("refused")
	for _, step := range []struct {
		p       *Partition
		advance time.Duration
		warn    bool
	}{
		{a, 0, true},
		{a, 15 * time.Second, false},
		{b, 0, true}, // another partition has its own limit
		{a, 30 * time.Second, false},
		{a, 15 * time.Second, true}, // a minute after the first warning
		{a, 59 * time.Second, false},
	} {
		now = now.Add(step.advance)
		buf.Reset()
		step.p.alterDone(req, refused)
		want := "level=DEBUG"
		if step.warn {
			want = "level=WARN"
		}
		if !strings.Contains(buf.String(), want) {
			t.Fatalf("at %v: logged %q, want %s", now, buf.String(), want)
		}
	}
}
