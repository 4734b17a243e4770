package group

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// groupsIn returns k group ids that live in partition p of 4.
func groupsIn(p int32, k int) []string {
	var out []string
	for i := 0; len(out) < k; i++ {
		if id := fmt.Sprintf("g-%d", i); PartitionFor(id, 4) == p {
			out = append(out, id)
		}
	}
	return out
}

// stable makes group id Stable with one member (generation 1, assignment "mine") and
// returns the member id.
func (e *env) stable(id string) string {
	e.t.Helper()
	p := e.joinNew(id)
	e.clock.Advance(0)
	j := p.wait(e.t)
	if j.ErrorCode != 0 {
		e.t.Fatalf("join %s: error %d", id, j.ErrorCode)
	}
	if s := e.sync(id, j.MemberID, 1, map[string]string{j.MemberID: "mine"}); s.ErrorCode != 0 {
		e.t.Fatalf("sync %s: error %d", id, s.ErrorCode)
	}
	return j.MemberID
}

// syncAsync sends a SyncGroup in its own goroutine and returns once it waits.
func (e *env) syncAsync(id, member string, gen int32, assign map[string]string) chan *kmsg.SyncGroupResponse {
	e.t.Helper()
	ch := make(chan *kmsg.SyncGroupResponse, 1)
	go func() { ch <- e.sync(id, member, gen, assign) }()
	waitUntil(e.t, "the member to wait in SyncGroup", func() bool {
		if len(ch) > 0 {
			return true
		}
		g, _ := e.c.lookup(id, false)
		if g == nil {
			return false
		}
		g.mu.Lock()
		defer g.mu.Unlock()
		m := g.members[member]
		return m != nil && m.awaitingSync()
	})
	return ch
}

func recv[T any](t *testing.T, what string, ch <-chan T) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(10 * time.Second):
		t.Fatalf("timed out waiting for %s", what)
		var zero T
		return zero
	}
}

func codeName(code int16) string {
	if code == 0 {
		return "NONE"
	}
	return kerr.ErrorForCode(code).Error()
}

func wantErr(t *testing.T, what string, got int16, want *kerr.Error) {
	t.Helper()
	var w int16
	if want != nil {
		w = want.Code
	}
	if got != w {
		t.Errorf("%s: %s, want %s", what, codeName(got), codeName(w))
	}
}

func (e *env) fetchCode(id string) int16 {
	req := kmsg.NewPtrOffsetFetchRequest()
	req.Version = 8
	rg := kmsg.NewOffsetFetchRequestGroup()
	rg.Group = id
	req.Groups = append(req.Groups, rg)
	return e.c.OffsetFetch(req).Groups[0].ErrorCode
}

func (e *env) listed() map[string]bool {
	out := map[string]bool{}
	for _, g := range e.c.ListGroups(kmsg.NewPtrListGroupsRequest()).Groups {
		out[g.Group] = true
	}
	return out
}

// TestUnloadPartition: after an unload the partition's groups answer NOT_COORDINATOR
// and leave nothing behind, the other partition's groups carry on, and a reload brings
// the groups back from the store.
func TestUnloadPartition(t *testing.T) {
	e := newIdleEnv(t, testConfig(), nil, nil)
	e.c.LoadPartition(4, 0, 1)
	e.c.LoadPartition(4, 1, 1)
	waitUntil(t, "loaded", e.c.Loaded)
	for p, want := range []bool{true, true, false, false} {
		if got := e.c.Owns(int32(p)); got != want {
			t.Errorf("Owns(%d) = %v", p, got)
		}
	}
	a, b, other := groupsIn(0, 1)[0], groupsIn(1, 1)[0], groupsIn(2, 1)[0]
	ma, mb := e.stable(a), e.stable(b)
	wantErr(t, "commit a", e.commit(a, ma, 1, "t", 0, 10), nil)
	wantErr(t, "commit b", e.commit(b, mb, 1, "t", 0, 20), nil)
	wantErr(t, "heartbeat to an unowned partition", e.heartbeat(other, "m", 1), kerr.NotCoordinator)
	if n := e.clock.live(); n != 2 {
		t.Fatalf("%d timers before the unload, want the 2 session timers", n)
	}
	written := e.store.count(0)

	e.c.UnloadPartition(0, 2)
	if e.c.Owns(0) || !e.c.Owns(1) {
		t.Fatalf("after unloading 0: Owns(0) %v, Owns(1) %v", e.c.Owns(0), e.c.Owns(1))
	}
	describe := func(id string) int16 {
		req := kmsg.NewPtrDescribeGroupsRequest()
		req.Groups = []string{id}
		return e.c.DescribeGroups(req).Groups[0].ErrorCode
	}
	for _, tc := range []struct {
		name string
		do   func() int16
		want *kerr.Error
	}{
		{"heartbeat a", func() int16 { return e.heartbeat(a, ma, 1) }, kerr.NotCoordinator},
		{"commit a", func() int16 { return e.commit(a, ma, 1, "t", 1, 11) }, kerr.NotCoordinator},
		{"simple commit a", func() int16 { return e.commit(a, "", -1, "t", 1, 11) }, kerr.NotCoordinator},
		{"join a", func() int16 {
			return e.c.JoinGroup(context.Background(), joinReq(a, ma, 9), "client", "/127.0.0.1").ErrorCode
		}, kerr.NotCoordinator},
		{"sync a", func() int16 { return e.sync(a, ma, 1, nil).ErrorCode }, kerr.NotCoordinator},
		{"fetch a", func() int16 { return e.fetchCode(a) }, kerr.NotCoordinator},
		{"describe a", func() int16 { return describe(a) }, kerr.NotCoordinator},
		{"heartbeat b", func() int16 { return e.heartbeat(b, mb, 1) }, nil},
		{"commit b", func() int16 { return e.commit(b, mb, 1, "t", 1, 21) }, nil},
		{"fetch b", func() int16 { return e.fetchCode(b) }, nil},
	} {
		wantErr(t, tc.name, tc.do(), tc.want)
	}
	if l := e.listed(); l[a] || !l[b] {
		t.Errorf("ListGroups %v, want %s only", l, b)
	}
	if n := e.clock.live(); n != 1 {
		t.Errorf("%d timers after the unload, want b's session timer only", n)
	}
	// b's member expires; a's, unloaded, neither expires nor writes.
	e.clock.Advance(11 * time.Second)
	if e.state(b) != StateEmpty {
		t.Errorf("b %s, want Empty", e.state(b))
	}
	if got := e.store.count(0); got != written {
		t.Errorf("%d records written to partition 0 after its unload", got-written)
	}

	e.c.LoadPartition(4, 0, 3)
	waitUntil(t, "reloaded", e.c.Loaded)
	if e.state(a) != StateStable {
		t.Errorf("reloaded a %s, want Stable", e.state(a))
	}
	wantErr(t, "reloaded heartbeat a", e.heartbeat(a, ma, 1), nil)
	if got := e.fetch(a)[topicPartition{"t", 0}]; got != 10 {
		t.Errorf("reloaded offset %d, want 10", got)
	}
	if s := e.sync(a, ma, 1, nil); string(s.MemberAssignment) != "mine" {
		t.Errorf("reloaded assignment %q", s.MemberAssignment)
	}
}

// TestUnloadAnswersParkedRequests: JoinGroup and SyncGroup calls waiting for a
// rebalance return NOT_COORDINATOR at once when their partition is unloaded, and no
// timer of its groups stays armed.
func TestUnloadAnswersParkedRequests(t *testing.T) {
	cfg := testConfig()
	cfg.InitialRebalanceDelay = time.Second
	e := newIdleEnv(t, cfg, nil, nil)
	e.c.LoadPartition(4, 0, 1)
	waitUntil(t, "loaded", e.c.Loaded)
	ids := groupsIn(0, 2)
	joining, syncing := ids[0], ids[1]

	p1, p2 := e.joinNew(syncing), e.joinNew(syncing)
	e.clock.Advance(time.Second) // the second member extends the initial delay once
	e.clock.Advance(time.Second)
	j1, j2 := p1.wait(t), p2.wait(t)
	if j1.ErrorCode != 0 || j2.ErrorCode != 0 {
		t.Fatalf("joins: %d %d", j1.ErrorCode, j2.ErrorCode)
	}
	follower := j1.MemberID
	if j1.LeaderID == follower {
		follower = j2.MemberID
	}
	parkedSync := e.syncAsync(syncing, follower, j1.Generation, nil)
	parkedJoin := e.joinNew(joining)
	if e.clock.live() == 0 {
		t.Fatal("no timers armed before the unload")
	}

	e.c.UnloadPartition(0, 1)
	j := parkedJoin.wait(t)
	wantErr(t, "parked JoinGroup", j.ErrorCode, kerr.NotCoordinator)
	if j.MemberID == "" {
		t.Error("parked JoinGroup lost its member id")
	}
	wantErr(t, "parked SyncGroup", recv(t, "SyncGroup", parkedSync).ErrorCode, kerr.NotCoordinator)
	if n := e.clock.live(); n != 0 {
		t.Errorf("%d timers armed after the unload", n)
	}
}

// TestUnloadWhileRequestHoldsGroup: an unload that waits for a request holding the
// group's lock (its append is under way) cancels the append, the request answers
// NOT_COORDINATOR, and what the failed request armed is stopped.
func TestUnloadWhileRequestHoldsGroup(t *testing.T) {
	e := newIdleEnv(t, testConfig(), nil, nil)
	e.c.LoadPartition(4, 0, 1)
	waitUntil(t, "loaded", e.c.Loaded)
	id := groupsIn(0, 1)[0]
	pj := e.joinNew(id)
	e.clock.Advance(0)
	j := pj.wait(t)

	appending := make(chan struct{})
	e.store.setAppendHook(func(ctx context.Context, _ int32) error {
		close(appending)
		<-ctx.Done()
		return ctx.Err()
	})
	synced := make(chan *kmsg.SyncGroupResponse, 1)
	go func() { synced <- e.sync(id, j.MemberID, 1, map[string]string{j.MemberID: "mine"}) }()
	recv(t, "the leader's append", appending)
	unloaded := make(chan struct{})
	go func() {
		e.c.UnloadPartition(0, 1)
		close(unloaded)
	}()
	wantErr(t, "leader's SyncGroup", recv(t, "SyncGroup", synced).ErrorCode, kerr.NotCoordinator)
	recv(t, "the unload", unloaded)
	if n := e.clock.live(); n != 0 {
		t.Errorf("%d timers armed after the unload", n)
	}
	if got := e.store.count(0); got != 0 {
		t.Errorf("%d records stored, want none", got)
	}
}

// seedStore returns a store holding group id (partition 0 of 4) with one Stable member
// (returned) and an offset for t-0.
func seedStore(t *testing.T, id string) (*memStore, string) {
	t.Helper()
	store := newMemStore()
	e := newEnv(t, testConfig(), store)
	m := e.stable(id)
	wantErr(t, "seed commit", e.commit(id, m, 1, "t", 0, 7), nil)
	e.c.Close()
	return store, m
}

// TestLoadRacingUnload: a load whose replay ends after its partition was unloaded
// installs nothing, also when a newer load of the partition finished meanwhile.
func TestLoadRacingUnload(t *testing.T) {
	id := groupsIn(0, 1)[0]

	t.Run("unloaded", func(t *testing.T) {
		store, m := seedStore(t, id)
		started, gate := make(chan struct{}, 1), make(chan struct{})
		store.onScan = func(int32) {
			started <- struct{}{}
			<-gate
		}
		done := make(chan bool, 1)
		e := newIdleEnv(t, testConfig(), store, func(_ int32, installed bool) { done <- installed })
		e.c.LoadPartition(4, 0, 1)
		recv(t, "the scan", started)
		wantErr(t, "heartbeat while loading", e.heartbeat(id, m, 1), kerr.CoordinatorLoadInProgress)
		e.c.UnloadPartition(0, 1)
		wantErr(t, "heartbeat after the unload", e.heartbeat(id, m, 1), kerr.NotCoordinator)
		close(gate)
		if recv(t, "the load to end", done) {
			t.Error("the unloaded partition's groups were installed")
		}
		wantErr(t, "heartbeat after the load ended", e.heartbeat(id, m, 1), kerr.NotCoordinator)
		e.c.mu.Lock()
		n := len(e.c.groups)
		e.c.mu.Unlock()
		if n != 0 || e.clock.live() != 0 {
			t.Errorf("%d groups and %d timers after the abandoned load", n, e.clock.live())
		}
	})

	t.Run("reloaded", func(t *testing.T) {
		store, m := seedStore(t, id)
		var scans atomic.Int32
		started, gate := make(chan struct{}, 1), make(chan struct{})
		store.onScan = func(int32) {
			if scans.Add(1) == 1 { // only the first load is slow
				started <- struct{}{}
				<-gate
			}
		}
		done := make(chan bool, 2)
		e := newIdleEnv(t, testConfig(), store, func(_ int32, installed bool) { done <- installed })
		e.c.LoadPartition(4, 0, 1)
		recv(t, "the scan", started)
		e.c.UnloadPartition(0, 1)
		e.c.LoadPartition(4, 0, 2)
		if !recv(t, "the newer load", done) {
			t.Fatal("the newer load installed nothing")
		}
		wantErr(t, "heartbeat after the reload", e.heartbeat(id, m, 1), nil)
		before, _ := e.c.lookup(id, false)
		close(gate)
		if recv(t, "the stale load", done) {
			t.Error("the stale load installed its groups")
		}
		after, _ := e.c.lookup(id, false)
		if after != before {
			t.Error("the stale load replaced the group")
		}
		if n := e.clock.live(); n != 1 {
			t.Errorf("%d timers, want the member's session timer only", n)
		}
		if got := e.fetch(id)[topicPartition{"t", 0}]; got != 7 {
			t.Errorf("offset %d, want 7", got)
		}
	})
}

// TestPartitionEpochs: loads and unloads at older epochs than the partition's are
// ignored; a newer load keeps the loaded groups.
func TestPartitionEpochs(t *testing.T) {
	e := newIdleEnv(t, testConfig(), nil, nil)
	e.c.LoadPartition(4, 0, 5)
	waitUntil(t, "loaded", e.c.Loaded)
	id := groupsIn(0, 1)[0]
	m := e.stable(id)
	g, _ := e.c.lookup(id, false)
	for i, step := range []struct {
		name string
		do   func()
		owns bool
	}{
		{"unload at an older epoch", func() { e.c.UnloadPartition(0, 4) }, true},
		{"load at an older epoch", func() { e.c.LoadPartition(4, 0, 3) }, true},
		{"load at the same epoch", func() { e.c.LoadPartition(4, 0, 5) }, true},
		{"load at a newer epoch", func() { e.c.LoadPartition(4, 0, 7) }, true},
		{"unload at an epoch older than the newer load", func() { e.c.UnloadPartition(0, 6) }, true},
		{"unload of another partition", func() { e.c.UnloadPartition(1, 9) }, true},
		{"unload at the newer epoch", func() { e.c.UnloadPartition(0, 7) }, false},
		{"unload of an unowned partition", func() { e.c.UnloadPartition(0, 8) }, false},
	} {
		step.do()
		if got := e.c.Owns(0); got != step.owns {
			t.Fatalf("step %d (%s): Owns(0) %v", i, step.name, got)
		}
		if !step.owns {
			wantErr(t, step.name, e.heartbeat(id, m, 1), kerr.NotCoordinator)
			continue
		}
		wantErr(t, step.name, e.heartbeat(id, m, 1), nil)
		if now, _ := e.c.lookup(id, false); now != g {
			t.Fatalf("step %d (%s): the group was replaced", i, step.name)
		}
	}

	// The partition count is fixed by the first load.
	e.c.LoadPartition(8, 1, 1)
	e.c.LoadPartition(4, 4, 1)
	if e.c.Owns(1) || e.c.Owns(4) {
		t.Error("a load with another partition count or out of range was applied")
	}
}

// TestAppendErrors: a failed write to __consumer_offsets answers the code Kafka does;
// NOT_LEADER_OR_FOLLOWER (another node leads the partition) becomes NOT_COORDINATOR.
func TestAppendErrors(t *testing.T) {
	for _, tc := range []struct {
		err        error
		commit     *kerr.Error // OffsetCommit
		syncLeader *kerr.Error // the leader's SyncGroup (group metadata)
	}{
		{kerr.NotLeaderForPartition, kerr.NotCoordinator, kerr.NotCoordinator},
		{kerr.KafkaStorageError, kerr.NotCoordinator, kerr.NotCoordinator},
		{kerr.NotEnoughReplicas, kerr.CoordinatorNotAvailable, kerr.CoordinatorNotAvailable},
		{kerr.RequestTimedOut, kerr.CoordinatorNotAvailable, kerr.CoordinatorNotAvailable},
		{kerr.MessageTooLarge, kerr.InvalidCommitOffsetSize, kerr.UnknownServerError},
		{errors.New("disk on fire"), kerr.CoordinatorNotAvailable, kerr.CoordinatorNotAvailable},
	} {
		t.Run(tc.err.Error(), func(t *testing.T) {
			e := newEnv(t, testConfig(), nil)
			id := groupsIn(0, 1)[0]
			wrapped := fmt.Errorf("replica: __consumer_offsets-0: %w", tc.err)
			e.store.setAppendHook(func(context.Context, int32) error { return wrapped })
			wantErr(t, "OffsetCommit", e.commit(id, "", -1, "t", 0, 1), tc.commit)
			if got, ok := e.fetch(id)[topicPartition{"t", 0}]; ok {
				t.Errorf("offset %d applied despite the failed write", got)
			}
			pj := e.joinNew(id) // joining writes nothing
			e.clock.Advance(0)
			j := pj.wait(t)
			wantErr(t, "SyncGroup", e.sync(id, j.MemberID, 1, nil).ErrorCode, tc.syncLeader)
		})
	}
}
