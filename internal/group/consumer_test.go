package group

import (
	"context"
	"io"
	"log/slog"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// fakeTopics is a mutable TopicImage.
type fakeTopics struct {
	mu     sync.Mutex
	topics map[string]TopicInfo
}

func (f *fakeTopics) set(name string, id uuid, n int32) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.topics[name] = TopicInfo{Name: name, ID: id, Partitions: n}
}

func (f *fakeTopics) TopicByName(name string) (TopicInfo, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	ti, ok := f.topics[name]
	return ti, ok
}

func (f *fakeTopics) TopicByID(id [16]byte) (TopicInfo, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, ti := range f.topics {
		if ti.ID == id {
			return ti, true
		}
	}
	return TopicInfo{}, false
}

func (f *fakeTopics) TopicNames() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []string
	for n := range f.topics {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

var tid = uuid{0xaa} // topic "t"

type cenv struct {
	*env
	topics *fakeTopics
}

func newConsumerEnv(t *testing.T, store *memStore, topics *fakeTopics) *cenv {
	t.Helper()
	if store == nil {
		store = newMemStore()
	}
	if topics == nil {
		topics = &fakeTopics{topics: map[string]TopicInfo{}}
		topics.set("t", tid, 4)
	}
	clock := newFakeClock()
	cfg := testConfig()
	c := New(cfg, Options{
		Store:          store,
		Clock:          clock,
		Logger:         slog.New(slog.NewTextHandler(io.Discard, nil)),
		PartitionCount: func(topic string) int32 { ti, _ := topics.TopicByName(topic); return ti.Partitions },
		Topics:         func() TopicImage { return topics },
	})
	t.Cleanup(c.Close)
	c.Load(4)
	waitUntil(t, "loaded", c.Loaded)
	return &cenv{env: &env{t: t, c: c, clock: clock, store: store, cfg: c.cfg}, topics: topics}
}

type hb struct {
	member   string
	epoch    int32
	instance *string
	topics   []string // nil: unchanged
	regex    *string
	assignor *string
	owned    partitionSet // nil: unchanged
}

func (e *cenv) hb(group string, h hb) *kmsg.ConsumerGroupHeartbeatResponse {
	e.t.Helper()
	req := kmsg.NewPtrConsumerGroupHeartbeatRequest()
	req.Version = 1
	req.Group, req.MemberID, req.MemberEpoch, req.InstanceID = group, h.member, h.epoch, h.instance
	req.ServerAssignor = h.assignor
	req.SubscribedTopicRegex = h.regex
	if h.epoch == 0 {
		req.RebalanceTimeoutMillis = 30000
		req.Topics = []kmsg.ConsumerGroupHeartbeatRequestTopic{}
		if h.topics == nil && h.regex == nil {
			h.topics = []string{"t"}
		}
	}
	req.SubscribedTopicNames = h.topics
	if h.owned != nil {
		req.Topics = []kmsg.ConsumerGroupHeartbeatRequestTopic{}
		for _, t := range h.owned.sortedTopics() {
			rt := kmsg.NewConsumerGroupHeartbeatRequestTopic()
			rt.TopicID, rt.Partitions = t, h.owned.sortedPartitions(t)
			req.Topics = append(req.Topics, rt)
		}
	}
	return e.c.ConsumerGroupHeartbeat(req, "client", "/127.0.0.1")
}

// assigned returns the response's assignment of topic t (nil when none was sent).
func assigned(r *kmsg.ConsumerGroupHeartbeatResponse) []int32 {
	if r.Assignment == nil {
		return nil
	}
	out := []int32{}
	for _, t := range r.Assignment.Topics {
		out = append(out, t.Partitions...)
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}

func owns(ps ...int32) partitionSet {
	s := partitionSet{}
	for _, p := range ps {
		s.add(tid, p, 0)
	}
	return s
}

func (e *cenv) describe(group string) kmsg.ConsumerGroupDescribeResponseGroup {
	req := kmsg.NewPtrConsumerGroupDescribeRequest()
	req.Version = 1
	req.Groups = []string{group}
	return e.c.ConsumerGroupDescribe(req).Groups[0]
}

func wantCode(t *testing.T, what string, got int16, want *kerr.Error) {
	t.Helper()
	var w int16
	if want != nil {
		w = want.Code
	}
	if got != w {
		t.Fatalf("%s: error %d (%v), want %v", what, got, kerr.ErrorForCode(got), want)
	}
}

// TestConsumerReconciliation walks two members through a rebalance: partitions move
// only after their owner revoked them, and epochs advance as KIP-848 says.
func TestConsumerReconciliation(t *testing.T) {
	e := newConsumerEnv(t, nil, nil)
	a := e.hb("g", hb{member: "a"})
	wantCode(t, "join a", a.ErrorCode, nil)
	if a.MemberEpoch != 1 || *a.MemberID != "a" || len(assigned(a)) != 4 || a.HeartbeatIntervalMillis != 5000 {
		t.Fatalf("join a: epoch %d assignment %v interval %d", a.MemberEpoch, assigned(a), a.HeartbeatIntervalMillis)
	}
	if e.state("g") != StateStable {
		t.Fatalf("state %s", e.state("g"))
	}

	// b joins: group epoch 2; b's target partitions are still a's.
	b := e.hb("g", hb{member: "b"})
	if b.MemberEpoch != 2 || len(assigned(b)) != 0 {
		t.Fatalf("join b: epoch %d assignment %v", b.MemberEpoch, assigned(b))
	}
	if e.state("g") != StateReconciling {
		t.Fatalf("state %s", e.state("g"))
	}
	// a learns it must give up two partitions; it stays in epoch 1 until it does.
	a = e.hb("g", hb{member: "a", epoch: 1, owned: owns(0, 1, 2, 3)})
	if a.MemberEpoch != 1 || len(assigned(a)) != 2 {
		t.Fatalf("a revoking: epoch %d assignment %v", a.MemberEpoch, assigned(a))
	}
	kept := assigned(a)
	// A keepalive (owned partitions unchanged) does not count as revoking.
	a = e.hb("g", hb{member: "a", epoch: 1})
	if a.MemberEpoch != 1 || a.Assignment != nil {
		t.Fatalf("a keepalive: epoch %d assignment %v", a.MemberEpoch, assigned(a))
	}
	b = e.hb("g", hb{member: "b", epoch: 2, owned: owns()})
	if len(assigned(b)) != 0 {
		t.Fatalf("b got %v before a released them", assigned(b))
	}
	a = e.hb("g", hb{member: "a", epoch: 1, owned: owns(kept...)})
	if a.MemberEpoch != 2 {
		t.Fatalf("a after revoking: epoch %d", a.MemberEpoch)
	}
	b = e.hb("g", hb{member: "b", epoch: 2, owned: owns()})
	got := assigned(b)
	if len(got) != 2 {
		t.Fatalf("b after release: %v", got)
	}
	all := map[int32]bool{}
	for _, p := range append(kept, got...) {
		all[p] = true
	}
	if len(all) != 4 {
		t.Fatalf("a %v and b %v overlap", kept, got)
	}
	if e.state("g") != StateStable {
		t.Fatalf("state %s", e.state("g"))
	}
	d := e.describe("g")
	if d.ErrorCode != 0 || d.Epoch != 2 || d.AssignmentEpoch != 2 || d.AssignorName != "uniform" || len(d.Members) != 2 || d.Members[0].TargetAssignment.TopicPartitions[0].Topic != "t" {
		t.Fatalf("describe: %+v", d)
	}

	// a leaves: epoch 3, b's target becomes all four, which are free at once.
	l := e.hb("g", hb{member: "a", epoch: -1})
	if l.ErrorCode != 0 || l.MemberEpoch != -1 {
		t.Fatalf("leave: %+v", l)
	}
	b = e.hb("g", hb{member: "b", epoch: 2, owned: owns(got...)})
	if b.MemberEpoch != 3 || len(assigned(b)) != 4 {
		t.Fatalf("b after a left: epoch %d %v", b.MemberEpoch, assigned(b))
	}
}

func TestConsumerHeartbeatErrors(t *testing.T) {
	e := newConsumerEnv(t, nil, nil)
	a := e.hb("g", hb{member: "a"})
	wantCode(t, "join", a.ErrorCode, nil)
	for _, tc := range []struct {
		name string
		mod  func(*kmsg.ConsumerGroupHeartbeatRequest)
		want *kerr.Error
	}{
		{"epoch ahead", func(r *kmsg.ConsumerGroupHeartbeatRequest) { r.MemberEpoch = 5 }, kerr.FencedMemberEpoch},
		{"epoch behind", func(r *kmsg.ConsumerGroupHeartbeatRequest) { r.MemberEpoch = 0; r.RebalanceTimeoutMillis = -1 }, kerr.InvalidRequest},
		{"unknown member", func(r *kmsg.ConsumerGroupHeartbeatRequest) { r.MemberID = "zz" }, kerr.UnknownMemberID},
		{"no member id (v1)", func(r *kmsg.ConsumerGroupHeartbeatRequest) { r.MemberID = "" }, kerr.InvalidRequest},
		{"no group", func(r *kmsg.ConsumerGroupHeartbeatRequest) { r.Group = "" }, kerr.InvalidRequest},
		{"unknown group", func(r *kmsg.ConsumerGroupHeartbeatRequest) { r.Group = "other" }, kerr.GroupIDNotFound},
		{"bad epoch", func(r *kmsg.ConsumerGroupHeartbeatRequest) { r.MemberEpoch = -3 }, kerr.InvalidRequest},
		{"static leave without instance", func(r *kmsg.ConsumerGroupHeartbeatRequest) { r.MemberEpoch = -2 }, kerr.InvalidRequest},
		{"unknown assignor", func(r *kmsg.ConsumerGroupHeartbeatRequest) { r.ServerAssignor = kmsg.StringPtr("sticky") }, kerr.UnsupportedAssignor},
		{"bad regex", func(r *kmsg.ConsumerGroupHeartbeatRequest) { r.SubscribedTopicRegex = kmsg.StringPtr("(") }, kerr.InvalidRegularExpression},
		{"join owning partitions", func(r *kmsg.ConsumerGroupHeartbeatRequest) {
			r.MemberID, r.MemberEpoch, r.RebalanceTimeoutMillis = "new", 0, 1000
			r.SubscribedTopicNames = []string{"t"}
			r.Topics = []kmsg.ConsumerGroupHeartbeatRequestTopic{{TopicID: tid, Partitions: []int32{0}}}
		}, kerr.InvalidRequest},
		{"join without subscription", func(r *kmsg.ConsumerGroupHeartbeatRequest) {
			r.MemberID, r.MemberEpoch, r.RebalanceTimeoutMillis = "new", 0, 1000
			r.Topics = []kmsg.ConsumerGroupHeartbeatRequestTopic{}
		}, kerr.InvalidRequest},
	} {
		req := kmsg.NewPtrConsumerGroupHeartbeatRequest()
		req.Version = 1
		req.Group, req.MemberID, req.MemberEpoch = "g", "a", 1
		tc.mod(req)
		wantCode(t, tc.name, e.c.ConsumerGroupHeartbeat(req, "c", "h").ErrorCode, tc.want)
	}
	// v0: the coordinator names a member joining without an id.
	req := kmsg.NewPtrConsumerGroupHeartbeatRequest()
	req.Group, req.RebalanceTimeoutMillis, req.SubscribedTopicNames = "g", 1000, []string{"t"}
	req.Topics = []kmsg.ConsumerGroupHeartbeatRequestTopic{}
	r := e.c.ConsumerGroupHeartbeat(req, "c", "h")
	if r.ErrorCode != 0 || r.MemberID == nil || len(*r.MemberID) != 22 {
		t.Fatalf("v0 join: %+v", r)
	}
	// A classic JoinGroup cannot enter a consumer group with members.
	j := e.c.JoinGroup(context.Background(), joinReq("g", "", 3), "c", "h")
	wantCode(t, "classic join", j.ErrorCode, kerr.InconsistentGroupProtocol)
	// Nor a heartbeat a classic group with members.
	p := e.joinNew("classic")
	e.clock.Advance(0)
	p.wait(t)
	wantCode(t, "heartbeat to classic", e.hb("classic", hb{member: "x"}).ErrorCode, kerr.GroupIDNotFound)

	// ListGroups' type filter.
	lr := kmsg.NewPtrListGroupsRequest()
	lr.Version = 5
	lr.TypesFilter = []string{"Consumer"}
	lg := e.c.ListGroups(lr)
	if len(lg.Groups) != 1 || lg.Groups[0].Group != "g" || lg.Groups[0].GroupType != "consumer" || lg.Groups[0].ProtocolType != "consumer" {
		t.Fatalf("list consumer groups: %+v", lg.Groups)
	}
	dr := kmsg.NewPtrDescribeGroupsRequest()
	dr.Groups = []string{"g"}
	dg := e.c.DescribeGroups(dr).Groups[0]
	if dg.ProtocolType != "consumer" || dg.Protocol != "uniform" || len(dg.Members) != 2 {
		t.Fatalf("describe groups: %+v", dg)
	}
	var md kmsg.ConsumerMemberAssignment
	if err := md.ReadFrom(dg.Members[0].MemberAssignment); err != nil {
		t.Fatalf("assignment in DescribeGroups: %v", err)
	}
	if cd := e.describe("classic"); cd.ErrorCode != kerr.GroupIDNotFound.Code {
		t.Fatalf("ConsumerGroupDescribe of a classic group: %d", cd.ErrorCode)
	}
}

func TestConsumerGroupMaxSize(t *testing.T) {
	e := newConsumerEnv(t, nil, nil)
	e.c.cfg.ConsumerMaxSize = 1
	wantCode(t, "first", e.hb("g", hb{member: "a"}).ErrorCode, nil)
	wantCode(t, "second", e.hb("g", hb{member: "b"}).ErrorCode, kerr.GroupMaxSizeReached)
	wantCode(t, "first rejoining", e.hb("g", hb{member: "a"}).ErrorCode, nil)
}

// TestConsumerSessionExpiry: a member that stops heartbeating is removed after
// group.consumer.session.timeout.ms and its partitions go to the others.
func TestConsumerSessionExpiry(t *testing.T) {
	e := newConsumerEnv(t, nil, nil)
	e.hb("g", hb{member: "a"})
	e.hb("g", hb{member: "b"})
	a := e.hb("g", hb{member: "a", epoch: 1, owned: owns(0, 1, 2, 3)})
	a = e.hb("g", hb{member: "a", epoch: 1, owned: owns(assigned(a)...)})
	if a.MemberEpoch != 2 {
		t.Fatalf("a: %d", a.MemberEpoch)
	}
	e.clock.Advance(30 * time.Second)
	e.hb("g", hb{member: "a", epoch: 2})
	e.clock.Advance(20 * time.Second) // b: 50 s without heartbeat
	if d := e.describe("g"); len(d.Members) != 1 || d.Epoch != 3 {
		t.Fatalf("after b expired: %+v", d)
	}
	a = e.hb("g", hb{member: "a", epoch: 2, owned: owns(assigned(a)...)})
	if a.MemberEpoch != 3 || len(assigned(a)) != 4 {
		t.Fatalf("a after b expired: %d %v", a.MemberEpoch, assigned(a))
	}
	e.clock.Advance(46 * time.Second)
	if e.state("g") != StateEmpty {
		t.Fatalf("state %s after every member expired", e.state("g"))
	}
}

// TestConsumerRevocationTimeout: a member that keeps partitions it must revoke
// longer than its rebalance timeout is removed, freeing them.
func TestConsumerRevocationTimeout(t *testing.T) {
	e := newConsumerEnv(t, nil, nil)
	e.hb("g", hb{member: "a"})
	e.hb("g", hb{member: "b"})
	e.hb("g", hb{member: "a", epoch: 1, owned: owns(0, 1, 2, 3)}) // told to revoke
	e.clock.Advance(25 * time.Second)
	e.hb("g", hb{member: "a", epoch: 1, owned: owns(0, 1, 2, 3)}) // still holding
	e.hb("g", hb{member: "b", epoch: 2, owned: owns()})
	e.clock.Advance(10 * time.Second) // past the 30 s rebalance timeout
	wantCode(t, "a after the timeout", e.hb("g", hb{member: "a", epoch: 1}).ErrorCode, kerr.UnknownMemberID)
	b := e.hb("g", hb{member: "b", epoch: 2, owned: owns()})
	if len(assigned(b)) != 4 {
		t.Fatalf("b: %v", assigned(b))
	}
}

// TestConsumerStaticMember: a static member leaving with epoch -2 keeps its
// partitions for its successor; its instance id is not free before.
func TestConsumerStaticMember(t *testing.T) {
	e := newConsumerEnv(t, nil, nil)
	inst := kmsg.StringPtr("i1")
	e.hb("g", hb{member: "a", instance: inst})
	e.hb("g", hb{member: "b"})
	a := e.hb("g", hb{member: "a", epoch: 1, instance: inst, owned: owns(0, 1, 2, 3)})
	kept := assigned(a)
	if a = e.hb("g", hb{member: "a", epoch: 1, instance: inst, owned: owns(kept...)}); a.MemberEpoch != 2 {
		t.Fatalf("a: %+v", a)
	}
	wantCode(t, "other member with the instance", e.hb("g", hb{member: "a2", instance: inst}).ErrorCode, kerr.UnreleasedInstanceID)
	wantCode(t, "instance held by another member", e.hb("g", hb{member: "x", epoch: 2, instance: inst}).ErrorCode, kerr.FencedInstanceID)
	wantCode(t, "unknown instance", e.hb("g", hb{member: "b", epoch: 2, instance: kmsg.StringPtr("i9")}).ErrorCode, kerr.UnknownMemberID)
	l := e.hb("g", hb{member: "a", epoch: -2, instance: inst})
	if l.ErrorCode != 0 || l.MemberEpoch != -2 {
		t.Fatalf("static leave: %+v", l)
	}
	epochBefore := e.describe("g").Epoch
	a2 := e.hb("g", hb{member: "a2", instance: inst})
	if a2.ErrorCode != 0 || len(assigned(a2)) != 2 || assigned(a2)[0] != kept[0] {
		t.Fatalf("successor: %+v %v want %v", a2, assigned(a2), kept)
	}
	d := e.describe("g")
	if d.Epoch != epochBefore || len(d.Members) != 2 {
		t.Fatalf("after replacement: epoch %d (was %d), %d members", d.Epoch, epochBefore, len(d.Members))
	}
	wantCode(t, "old id", e.hb("g", hb{member: "a", epoch: 2, instance: inst}).ErrorCode, kerr.FencedInstanceID)
}

// TestConsumerOffsetCommit: commits of a consumer group are checked against the
// member and its epoch.
func TestConsumerOffsetCommit(t *testing.T) {
	e := newConsumerEnv(t, nil, nil)
	a := e.hb("g", hb{member: "a"})
	wantCode(t, "commit", e.commit("g", "a", a.MemberEpoch, "t", 0, 10), nil)
	wantCode(t, "unknown member", e.commit("g", "zz", 1, "t", 0, 10), kerr.UnknownMemberID)
	wantCode(t, "future epoch", e.commit("g", "a", 7, "t", 0, 10), kerr.StaleMemberEpoch)
	wantCode(t, "admin commit to a group with members", e.commit("g", "", -1, "t", 0, 10), kerr.UnknownMemberID)
	// b joins; a is told to give up two partitions and moves to epoch 2 once it did.
	e.hb("g", hb{member: "b"})
	a = e.hb("g", hb{member: "a", epoch: 1, owned: owns(0, 1, 2, 3)})
	kept := assigned(a)
	e.hb("g", hb{member: "a", epoch: 1, owned: owns(kept...)})
	// A commit of epoch 1 for a partition a held since epoch 1 is still valid.
	wantCode(t, "old epoch, kept partition", e.commit("g", "a", 1, "t", kept[0], 11), nil)
	b := e.hb("g", hb{member: "b", epoch: 2, owned: owns()})
	// b's partitions were assigned at epoch 2: an epoch-1 commit of them is stale.
	wantCode(t, "b at epoch 1", e.commit("g", "b", 1, "t", assigned(b)[0], 11), kerr.StaleMemberEpoch)
	if got := e.fetch("g"); got[topicPartition{"t", kept[0]}] != 11 {
		t.Fatalf("offsets: %v", got)
	}
	// OffsetFetch v9 naming the member checks its epoch too.
	req := kmsg.NewPtrOffsetFetchRequest()
	req.Version = 9
	rg := kmsg.NewOffsetFetchRequestGroup()
	rg.Group, rg.MemberID, rg.MemberEpoch = "g", kmsg.StringPtr("a"), 1
	req.Groups = append(req.Groups, rg)
	wantCode(t, "fetch at an old epoch", e.c.OffsetFetch(req).Groups[0].ErrorCode, kerr.StaleMemberEpoch)
	req.Groups[0].MemberEpoch = 2
	wantCode(t, "fetch", e.c.OffsetFetch(req).Groups[0].ErrorCode, nil)
}

// TestConsumerGroupRestart: a coordinator loading __consumer_offsets gets the group
// back, members with their epochs and assignments, who carry on heartbeating.
func TestConsumerGroupRestart(t *testing.T) {
	store := newMemStore()
	e := newConsumerEnv(t, store, nil)
	e.hb("g", hb{member: "a"})
	e.hb("g", hb{member: "b", regex: kmsg.StringPtr("t|u"), topics: []string{}})
	kept := assigned(e.hb("g", hb{member: "a", epoch: 1, owned: owns(0, 1, 2, 3)}))
	e.hb("g", hb{member: "a", epoch: 1, owned: owns(kept...)}) // a: epoch 2, two partitions
	wantCode(t, "commit", e.commit("g", "a", 2, "t", kept[0], 42), nil)
	before := e.describe("g")
	// A group deleted after emptying must stay deleted.
	e.hb("gone", hb{member: "x"})
	e.hb("gone", hb{member: "x", epoch: -1})
	del := kmsg.NewPtrDeleteGroupsRequest()
	del.Groups = []string{"gone"}
	wantCode(t, "delete", e.c.DeleteGroups(del).Groups[0].ErrorCode, nil)
	e.c.Close()

	e2 := newConsumerEnv(t, store, e.topics)
	after := e2.describe("g")
	if after.ErrorCode != 0 || after.Epoch != before.Epoch || after.AssignmentEpoch != before.AssignmentEpoch || len(after.Members) != 2 {
		t.Fatalf("after restart: %+v\nbefore: %+v", after, before)
	}
	for i := range after.Members {
		bm, am := before.Members[i], after.Members[i]
		if am.MemberEpoch != bm.MemberEpoch || len(am.Assignment.TopicPartitions) != len(bm.Assignment.TopicPartitions) ||
			!ptrEq(am.SubscribedTopicRegex, bm.SubscribedTopicRegex) {
			t.Fatalf("member %s: %+v, before %+v", am.MemberID, am, bm)
		}
	}
	// a carries on in its epoch; b completes its reconciliation.
	a2 := e2.hb("g", hb{member: "a", epoch: 2, owned: owns(kept...)})
	wantCode(t, "a after restart", a2.ErrorCode, nil)
	b := e2.hb("g", hb{member: "b", epoch: 2, owned: owns()})
	if b.ErrorCode != 0 || len(assigned(b)) != 2 {
		t.Fatalf("b after restart: %+v %v", b, assigned(b))
	}
	if got := e2.fetch("g"); got[topicPartition{"t", kept[0]}] != 42 {
		t.Fatalf("offsets after restart: %v", got)
	}
	if d := e2.describe("gone"); d.ErrorCode != kerr.GroupIDNotFound.Code {
		t.Fatalf("deleted group after restart: %+v", d)
	}
	// Members that never come back expire.
	e2.clock.Advance(46 * time.Second)
	if e2.state("g") != StateEmpty {
		t.Fatalf("state %s", e2.state("g"))
	}
}

// TestConsumerPartitionsAdded: growing a subscribed topic bumps the group epoch and
// assigns the new partitions.
func TestConsumerPartitionsAdded(t *testing.T) {
	e := newConsumerEnv(t, nil, nil)
	a := e.hb("g", hb{member: "a"})
	e.topics.set("t", tid, 6)
	a = e.hb("g", hb{member: "a", epoch: a.MemberEpoch, owned: owns(0, 1, 2, 3)})
	if a.MemberEpoch != 2 || len(assigned(a)) != 6 {
		t.Fatalf("after adding partitions: epoch %d %v", a.MemberEpoch, assigned(a))
	}
	// An empty consumer group (offsets only) can become a classic group again.
	e.hb("g", hb{member: "a", epoch: -1})
	p := e.joinNew("g")
	e.clock.Advance(0)
	if j := p.wait(t); j.ErrorCode != 0 {
		t.Fatalf("classic join of an empty consumer group: %d", j.ErrorCode)
	}
}

func ptrEq(a, b *string) bool { return eqStrPtr(a, b) }

func TestConsumerRecordRoundTrip(t *testing.T) {
	m := &consumerMember{
		id: "m1", instanceID: kmsg.StringPtr("i"), clientID: "c", clientHost: "/h",
		topics: []string{"a", "b"}, regex: "x.*", serverAssignor: kmsg.StringPtr("range"),
		rebalanceTimeout: 5 * time.Second, epoch: 7, prevEpoch: 6, state: memberUnrevoked,
		assigned: partitionSet{topicA: {0: 5, 3: 7}}, revoking: partitionSet{topicB: {1: 6}},
	}
	id := "m1"
	g, cr, ok := decodeConsumerRecord(cgMemberMetadataKey, Record{Key: cgKey(cgMemberMetadataKey, "grp", &id), Value: cgMemberMetadataValue(m)})
	if !ok || g != "grp" || cr.member != "m1" || !cr.meta.sameMetadata(m) {
		t.Fatalf("member metadata: %v %+v", ok, cr.meta)
	}
	_, cr, ok = decodeConsumerRecord(cgCurrentAssignmentKey, Record{Key: cgKey(cgCurrentAssignmentKey, "grp", &id), Value: cgCurrentAssignmentValue(m)})
	if !ok || !cr.assigned.sameAssignment(m) {
		t.Fatalf("current assignment: %v %+v", ok, cr.assigned)
	}
	_, cr, ok = decodeConsumerRecord(cgMetadataKey, Record{Key: cgKey(cgMetadataKey, "grp", nil), Value: cgMetadataValue(9, -12345)})
	if !ok || *cr.epoch != 9 || cr.hash != -12345 {
		t.Fatalf("group metadata: %v %+v", ok, cr)
	}
	// Truncated values are refused, not trusted.
	v := cgCurrentAssignmentValue(m)
	for i := 0; i < len(v); i++ {
		if _, _, ok := decodeConsumerRecord(cgCurrentAssignmentKey, Record{Key: cgKey(cgCurrentAssignmentKey, "grp", &id), Value: v[:i]}); ok {
			t.Fatalf("truncated value of %d bytes accepted", i)
		}
	}
}
