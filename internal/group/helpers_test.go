package group

import (
	"context"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// fakeClock runs timers only when the test advances it, in the test's goroutine.
type fakeClock struct {
	mu     sync.Mutex
	now    time.Time
	timers []*fakeTimer
}

type fakeTimer struct {
	c       *fakeClock
	at      time.Time
	f       func()
	stopped bool
}

func newFakeClock() *fakeClock { return &fakeClock{now: time.UnixMilli(1_700_000_000_000)} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) AfterFunc(d time.Duration, f func()) Timer {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := &fakeTimer{c: c, at: c.now.Add(d), f: f}
	c.timers = append(c.timers, t)
	return t
}

func (t *fakeTimer) Stop() bool {
	t.c.mu.Lock()
	defer t.c.mu.Unlock()
	was := !t.stopped
	t.stopped = true
	return was
}

// Advance moves time forward by d and runs every timer due, earliest first.
func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	for {
		var next *fakeTimer
		for _, t := range c.timers {
			if !t.stopped && !t.at.After(c.now) && (next == nil || t.at.Before(next.at)) {
				next = t
			}
		}
		if next == nil {
			break
		}
		next.stopped = true
		c.mu.Unlock()
		next.f()
		c.mu.Lock()
	}
	c.mu.Unlock()
}

// live is the number of timers armed and neither stopped nor fired.
func (c *fakeClock) live() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for _, t := range c.timers {
		if !t.stopped {
			n++
		}
	}
	return n
}

// memStore is an in-memory Store.
type memStore struct {
	mu    sync.Mutex
	parts map[int32][]Record
	// block, when set, makes Scan wait for it to close.
	block chan struct{}
	// onScan, when set, is called as Scan starts; the scan then goes on whether or not
	// ctx ended (as a Store that notices the cancellation too late).
	onScan func(p int32)
	// onAppend, when set, is called before an append; an error fails it.
	onAppend func(ctx context.Context, p int32) error
}

func newMemStore() *memStore { return &memStore{parts: make(map[int32][]Record)} }

func (s *memStore) Append(ctx context.Context, p int32, recs []Record) error {
	s.mu.Lock()
	hook := s.onAppend
	s.mu.Unlock()
	if hook != nil {
		if err := hook(ctx, p); err != nil {
			return err
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.parts[p] = append(s.parts[p], recs...)
	return nil
}

func (s *memStore) setAppendHook(f func(ctx context.Context, p int32) error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.onAppend = f
}

// count is the number of records in partition p.
func (s *memStore) count(p int32) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.parts[p])
}

func (s *memStore) Scan(ctx context.Context, p int32, fn func(Record)) error {
	if s.onScan != nil {
		s.onScan(p)
	} else if s.block != nil {
		select {
		case <-s.block:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	s.mu.Lock()
	recs := append([]Record(nil), s.parts[p]...)
	s.mu.Unlock()
	for _, r := range recs {
		fn(r)
	}
	return nil
}

func (s *memStore) all() []Record {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Record
	for _, rs := range s.parts {
		out = append(out, rs...)
	}
	return out
}

type env struct {
	t     *testing.T
	c     *Coordinator
	clock *fakeClock
	store *memStore
	cfg   Config
}

func testConfig() Config {
	cfg := DefaultConfig()
	cfg.InitialRebalanceDelay = 0
	cfg.OffsetsRetentionCheckInterval = 0 // tests call expireOffsets
	return cfg
}

// newEnv starts a loaded coordinator with 4 offsets partitions and topic "t" (4
// partitions).
func newEnv(t *testing.T, cfg Config, store *memStore) *env {
	t.Helper()
	e := newIdleEnv(t, cfg, store, nil)
	e.c.Load(4)
	waitUntil(t, "loaded", e.c.Loaded)
	return e
}

// newIdleEnv starts a coordinator like newEnv's that coordinates no partition yet;
// loadDone, if not nil, is called as each load ends.
func newIdleEnv(t *testing.T, cfg Config, store *memStore, loadDone func(p int32, installed bool)) *env {
	t.Helper()
	if store == nil {
		store = newMemStore()
	}
	clock := newFakeClock()
	c := New(cfg, Options{
		Store:  store,
		Clock:  clock,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		PartitionCount: func(topic string) int32 {
			if topic == "t" {
				return 4
			}
			return 0
		},
	})
	c.loadDone = loadDone
	c.Start()
	t.Cleanup(c.Close)
	return &env{t: t, c: c, clock: clock, store: store, cfg: cfg}
}

// waitUntil waits for a condition another goroutine makes true.
func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

func joinReq(group, member string, version int16, protocols ...string) *kmsg.JoinGroupRequest {
	req := kmsg.NewPtrJoinGroupRequest()
	req.Version = version
	req.Group, req.MemberID = group, member
	req.SessionTimeoutMillis, req.RebalanceTimeoutMillis = 10000, 20000
	req.ProtocolType = "consumer"
	if len(protocols) == 0 {
		protocols = []string{"range"}
	}
	for _, p := range protocols {
		jp := kmsg.NewJoinGroupRequestProtocol()
		jp.Name, jp.Metadata = p, []byte(p+"-meta")
		req.Protocols = append(req.Protocols, jp)
	}
	return req
}

// pendingJoin is a JoinGroup running in its own goroutine.
type pendingJoin chan *kmsg.JoinGroupResponse

func (e *env) joinAsync(req *kmsg.JoinGroupRequest) pendingJoin {
	ch := make(pendingJoin, 1)
	go func() { ch <- e.c.JoinGroup(context.Background(), req, "client", "/127.0.0.1") }()
	return ch
}

func (p pendingJoin) wait(t *testing.T) *kmsg.JoinGroupResponse {
	t.Helper()
	select {
	case r := <-p:
		return r
	case <-time.After(10 * time.Second):
		t.Fatal("JoinGroup did not return")
		return nil
	}
}

// awaiting reports how many members of group wait in JoinGroup.
func (e *env) awaiting(id string) int {
	g, _ := e.c.lookup(id, false)
	if g == nil {
		return 0
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	n := 0
	for _, m := range g.members {
		if m.awaitingJoin() {
			n++
		}
	}
	return n
}

func (e *env) state(id string) State {
	g, _ := e.c.lookup(id, false)
	if g == nil {
		return StateDead
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.state
}

// joinNew joins a new member the v4+ way (MEMBER_ID_REQUIRED, then with the id) and
// returns the pending second join once the member waits.
func (e *env) joinNew(group string, protocols ...string) pendingJoin {
	e.t.Helper()
	first := e.c.JoinGroup(context.Background(), joinReq(group, "", 9, protocols...), "client", "/127.0.0.1")
	if first.ErrorCode != 79 { // MEMBER_ID_REQUIRED
		e.t.Fatalf("first join: error %d", first.ErrorCode)
	}
	before := e.awaiting(group)
	p := e.joinAsync(joinReq(group, first.MemberID, 9, protocols...))
	waitUntil(e.t, "the member to wait in JoinGroup", func() bool { return e.awaiting(group) > before || len(p) > 0 })
	return p
}

func (e *env) sync(group, member string, gen int32, assign map[string]string) *kmsg.SyncGroupResponse {
	req := kmsg.NewPtrSyncGroupRequest()
	req.Version = 5
	req.Group, req.MemberID, req.Generation = group, member, gen
	for m, a := range assign {
		ga := kmsg.NewSyncGroupRequestGroupAssignment()
		ga.MemberID, ga.MemberAssignment = m, []byte(a)
		req.GroupAssignment = append(req.GroupAssignment, ga)
	}
	return e.c.SyncGroup(context.Background(), req)
}

func (e *env) heartbeat(group, member string, gen int32) int16 {
	req := kmsg.NewPtrHeartbeatRequest()
	req.Group, req.MemberID, req.Generation = group, member, gen
	return e.c.Heartbeat(req).ErrorCode
}

func (e *env) commit(group, member string, gen int32, topic string, partition int32, off int64) int16 {
	req := kmsg.NewPtrOffsetCommitRequest()
	req.Version = 9
	req.Group, req.MemberID, req.Generation = group, member, gen
	rt := kmsg.NewOffsetCommitRequestTopic()
	rt.Topic = topic
	rp := kmsg.NewOffsetCommitRequestTopicPartition()
	rp.Partition, rp.Offset = partition, off
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	return e.c.OffsetCommit(req).Topics[0].Partitions[0].ErrorCode
}

func (e *env) fetch(group string) map[topicPartition]int64 {
	req := kmsg.NewPtrOffsetFetchRequest()
	req.Version = 8
	rg := kmsg.NewOffsetFetchRequestGroup()
	rg.Group = group
	req.Groups = append(req.Groups, rg)
	resp := e.c.OffsetFetch(req)
	out := map[topicPartition]int64{}
	for _, t := range resp.Groups[0].Topics {
		for _, p := range t.Partitions {
			out[topicPartition{t.Topic, p.Partition}] = p.Offset
		}
	}
	return out
}
