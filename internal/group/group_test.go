package group

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func TestPartitionFor(t *testing.T) {
	for _, tc := range []struct {
		id   string
		n    int32
		want int32
	}{
		{"", 50, 0},
		{"a", 50, 47},          // "a".hashCode() == 97
		{"hello", 50, 22},      // 99162322
		{"hello world", 50, 2}, // 1794106052
		// "polygenelubricants".hashCode() is Integer.MIN_VALUE: masked, 0.
		{"polygenelubricants", 50, 0},
	} {
		if got := PartitionFor(tc.id, tc.n); got != tc.want {
			t.Errorf("PartitionFor(%q, %d) = %d, want %d", tc.id, tc.n, got, tc.want)
		}
	}
	if h := javaStringHash("日本"); h != 26085*31+26412 {
		t.Errorf("hash of non-ASCII %d", h)
	}
}

// TestJoinSyncHeartbeat walks a group through two generations.
func TestJoinSyncHeartbeat(t *testing.T) {
	e := newEnv(t, testConfig(), nil)
	p1 := e.joinNew("g")
	e.clock.Advance(0) // the initial delay (0 here) ends
	j1 := p1.wait(t)
	if j1.ErrorCode != 0 || j1.Generation != 1 || j1.LeaderID != j1.MemberID || len(j1.Members) != 1 || *j1.Protocol != "range" {
		t.Fatalf("first join: %+v", j1)
	}
	if got := e.state("g"); got != StateCompletingRebalance {
		t.Fatalf("state %s", got)
	}
	if code := e.commit("g", j1.MemberID, 1, "t", 0, 5); code != kerr.RebalanceInProgress.Code {
		t.Errorf("commit while completing: %d", code)
	}
	bad := kmsg.NewPtrSyncGroupRequest()
	bad.Version = 5
	bad.Group, bad.MemberID, bad.Generation, bad.Protocol = "g", j1.MemberID, 1, kmsg.StringPtr("roundrobin")
	if code := e.c.SyncGroup(context.Background(), bad).ErrorCode; code != kerr.InconsistentGroupProtocol.Code {
		t.Errorf("sync naming another protocol: %d", code)
	}
	bad.Protocol, bad.ProtocolType = nil, kmsg.StringPtr("connect")
	if code := e.c.SyncGroup(context.Background(), bad).ErrorCode; code != kerr.InconsistentGroupProtocol.Code {
		t.Errorf("sync naming another protocol type: %d", code)
	}
	s1 := e.sync("g", j1.MemberID, 1, map[string]string{j1.MemberID: "all"})
	if s1.ErrorCode != 0 || string(s1.MemberAssignment) != "all" || *s1.Protocol != "range" {
		t.Fatalf("sync: %+v", s1)
	}
	if e.state("g") != StateStable || e.heartbeat("g", j1.MemberID, 1) != 0 {
		t.Fatal("not stable after sync")
	}

	// A second member (v3: no MEMBER_ID_REQUIRED) starts a rebalance.
	p2 := e.joinAsync(joinReq("g", "", 3))
	waitUntil(t, "second member waiting", func() bool { return e.awaiting("g") == 1 })
	if code := e.heartbeat("g", j1.MemberID, 1); code != kerr.RebalanceInProgress.Code {
		t.Fatalf("heartbeat during rebalance: %d", code)
	}
	if code := e.commit("g", j1.MemberID, 1, "t", 0, 7); code != 0 {
		t.Errorf("commit of the old generation while preparing: %d", code)
	}
	r1 := e.joinAsync(joinReq("g", j1.MemberID, 9))
	j1b, j2 := r1.wait(t), p2.wait(t)
	if j1b.Generation != 2 || j2.Generation != 2 || j1b.LeaderID != j1.MemberID || len(j1b.Members) != 2 || len(j2.Members) != 0 {
		t.Fatalf("second generation: leader %+v follower %+v", j1b, j2)
	}
	// The follower's sync waits for the leader's.
	done := make(chan *kmsg.SyncGroupResponse, 1)
	go func() { done <- e.sync("g", j2.MemberID, 2, nil) }()
	waitUntil(t, "follower waiting in sync", func() bool {
		g, _ := e.c.lookup("g", false)
		g.mu.Lock()
		defer g.mu.Unlock()
		return g.members[j2.MemberID].awaitingSync()
	})
	e.sync("g", j1.MemberID, 2, map[string]string{j1.MemberID: "a", j2.MemberID: "b"})
	if s := <-done; s.ErrorCode != 0 || string(s.MemberAssignment) != "b" {
		t.Fatalf("follower sync: %+v", s)
	}
	for _, tc := range []struct {
		member string
		gen    int32
		want   int16
	}{
		{j2.MemberID, 2, 0},
		{j2.MemberID, 1, kerr.IllegalGeneration.Code},
		{"nobody", 2, kerr.UnknownMemberID.Code},
	} {
		if got := e.heartbeat("g", tc.member, tc.gen); got != tc.want {
			t.Errorf("heartbeat %s gen %d: %d, want %d", tc.member, tc.gen, got, tc.want)
		}
		if got := e.commit("g", tc.member, tc.gen, "t", 1, 3); got != tc.want {
			t.Errorf("commit %s gen %d: %d, want %d", tc.member, tc.gen, got, tc.want)
		}
	}
	if got := e.fetch("g"); got[topicPartition{"t", 0}] != 7 || got[topicPartition{"t", 1}] != 3 {
		t.Errorf("fetched %v", got)
	}
}

func TestJoinErrors(t *testing.T) {
	cfg := testConfig()
	cfg.MaxSize = 1
	e := newEnv(t, cfg, nil)
	p := e.joinNew("full")
	e.clock.Advance(0)
	p.wait(t)

	mk := func(f func(*kmsg.JoinGroupRequest)) *kmsg.JoinGroupRequest {
		r := joinReq("g", "", 9)
		f(r)
		return r
	}
	for _, tc := range []struct {
		name string
		req  *kmsg.JoinGroupRequest
		want *kerr.Error
	}{
		{"empty group id", mk(func(r *kmsg.JoinGroupRequest) { r.Group = "" }), kerr.InvalidGroupID},
		{"session below min", mk(func(r *kmsg.JoinGroupRequest) { r.SessionTimeoutMillis = 5999 }), kerr.InvalidSessionTimeout},
		{"session above max", mk(func(r *kmsg.JoinGroupRequest) { r.SessionTimeoutMillis = 1800001 }), kerr.InvalidSessionTimeout},
		{"negative session", mk(func(r *kmsg.JoinGroupRequest) { r.SessionTimeoutMillis = -1 }), kerr.InvalidSessionTimeout},
		{"unknown member", mk(func(r *kmsg.JoinGroupRequest) { r.MemberID = "ghost" }), kerr.UnknownMemberID},
		{"no protocols", mk(func(r *kmsg.JoinGroupRequest) { r.Protocols = nil }), kerr.InconsistentGroupProtocol},
		{"no protocol type", mk(func(r *kmsg.JoinGroupRequest) { r.ProtocolType = "" }), kerr.InconsistentGroupProtocol},
		{"other protocol type", mk(func(r *kmsg.JoinGroupRequest) { r.Group = "full"; r.Version = 3; r.ProtocolType = "connect" }), kerr.GroupMaxSizeReached},
		{"group full", mk(func(r *kmsg.JoinGroupRequest) { r.Group = "full" }), kerr.GroupMaxSizeReached},
	} {
		got := e.c.JoinGroup(context.Background(), tc.req, "c", "h")
		if got.ErrorCode != tc.want.Code {
			t.Errorf("%s: %v, want %v", tc.name, kerr.ErrorForCode(got.ErrorCode), tc.want)
		}
	}
	// Protocol checks against a non-empty group (without the size limit).
	e2 := newEnv(t, testConfig(), nil)
	p = e2.joinNew("g", "range", "roundrobin")
	e2.clock.Advance(0)
	p.wait(t)
	r := joinReq("g", "", 3, "sticky")
	if got := e2.c.JoinGroup(context.Background(), r, "c", "h"); got.ErrorCode != kerr.InconsistentGroupProtocol.Code {
		t.Errorf("unsupported protocol: %d", got.ErrorCode)
	}
	r = joinReq("g", "", 3, "range")
	r.ProtocolType = "connect"
	if got := e2.c.JoinGroup(context.Background(), r, "c", "h"); got.ErrorCode != kerr.InconsistentGroupProtocol.Code {
		t.Errorf("other protocol type: %d", got.ErrorCode)
	}
}

// TestMaxSizeTrimsOvershoot: member ids handed out while the group had room can bring
// more members than group.max.size; the latest are refused when the join completes.
func TestMaxSizeTrimsOvershoot(t *testing.T) {
	cfg := testConfig()
	cfg.MaxSize = 1
	e := newEnv(t, cfg, nil)
	first := e.c.JoinGroup(context.Background(), joinReq("g", "", 9), "c", "h")
	second := e.c.JoinGroup(context.Background(), joinReq("g", "", 9), "c", "h")
	if first.ErrorCode != kerr.MemberIDRequired.Code || second.ErrorCode != kerr.MemberIDRequired.Code {
		t.Fatalf("codes %d %d", first.ErrorCode, second.ErrorCode)
	}
	p1 := e.joinAsync(joinReq("g", first.MemberID, 9))
	waitUntil(t, "first waiting", func() bool { return e.awaiting("g") == 1 })
	p2 := e.joinAsync(joinReq("g", second.MemberID, 9))
	waitUntil(t, "second waiting", func() bool { return e.awaiting("g") == 2 })
	e.clock.Advance(0)
	if r := p1.wait(t); r.ErrorCode != 0 {
		t.Errorf("first: %d", r.ErrorCode)
	}
	if r := p2.wait(t); r.ErrorCode != kerr.GroupMaxSizeReached.Code {
		t.Errorf("second: %d, want GROUP_MAX_SIZE_REACHED", r.ErrorCode)
	}
}

func TestCoordinatorNotReady(t *testing.T) {
	store := newMemStore()
	store.block = make(chan struct{})
	c := New(testConfig(), Options{Store: store, Clock: newFakeClock()})
	defer c.Close()
	hb := kmsg.NewPtrHeartbeatRequest()
	hb.Group, hb.MemberID = "g", "m"
	if got := c.Heartbeat(hb).ErrorCode; got != kerr.NotCoordinator.Code {
		t.Errorf("before Load: %d", got)
	}
	c.Load(2)
	if got := c.Heartbeat(hb).ErrorCode; got != kerr.CoordinatorLoadInProgress.Code {
		t.Errorf("while loading: %d", got)
	}
	lg := c.ListGroups(kmsg.NewPtrListGroupsRequest())
	if lg.ErrorCode != kerr.CoordinatorLoadInProgress.Code {
		t.Errorf("list while loading: %d", lg.ErrorCode)
	}
	close(store.block)
	waitUntil(t, "loaded", c.Loaded)
	if got := c.Heartbeat(hb).ErrorCode; got != kerr.UnknownMemberID.Code {
		t.Errorf("after load: %d", got)
	}
}

// TestJoinWaitsEndWithContext: a JoinGroup waiting for a rebalance returns when its
// context ends, and Close releases the rest.
func TestJoinWaitsEndWithContext(t *testing.T) {
	cfg := testConfig()
	cfg.InitialRebalanceDelay = time.Second
	e := newEnv(t, cfg, nil)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan *kmsg.JoinGroupResponse, 1)
	go func() { done <- e.c.JoinGroup(ctx, joinReq("g", "", 3), "c", "h") }()
	waitUntil(t, "waiting", func() bool { return e.awaiting("g") == 1 })
	cancel()
	if r := <-done; r.ErrorCode == 0 {
		t.Fatal("cancelled join succeeded")
	}
	p := e.joinAsync(joinReq("g2", "", 3))
	waitUntil(t, "waiting", func() bool { return e.awaiting("g2") == 1 })
	e.c.Close()
	if r := p.wait(t); r.ErrorCode != kerr.CoordinatorNotAvailable.Code {
		t.Fatalf("join at close: %d", r.ErrorCode)
	}
}

// TestInitialRebalanceDelay: members joining a new group within the delay all get the
// first generation.
func TestInitialRebalanceDelay(t *testing.T) {
	cfg := testConfig()
	cfg.InitialRebalanceDelay = 3 * time.Second
	e := newEnv(t, cfg, nil)
	p1 := e.joinAsync(joinReq("g", "", 3))
	waitUntil(t, "first", func() bool { return e.awaiting("g") == 1 })
	e.clock.Advance(2 * time.Second)
	p2 := e.joinAsync(joinReq("g", "", 3))
	waitUntil(t, "second", func() bool { return e.awaiting("g") == 2 })
	e.clock.Advance(time.Second) // first delay over, a member was added: extend
	if len(p1) != 0 {
		t.Fatal("rebalance completed although a member joined during the delay")
	}
	e.clock.Advance(3 * time.Second)
	j1, j2 := p1.wait(t), p2.wait(t)
	if j1.Generation != 1 || j2.Generation != 1 {
		t.Fatalf("generations %d %d", j1.Generation, j2.Generation)
	}
}

// TestSessionExpiry: a member that stops heartbeating is removed and the group
// rebalances without it; the others keep their offsets.
func TestSessionExpiry(t *testing.T) {
	e := newEnv(t, testConfig(), nil)
	p := e.joinNew("g")
	e.clock.Advance(0)
	j := p.wait(t)
	e.sync("g", j.MemberID, 1, map[string]string{j.MemberID: "x"})
	if code := e.commit("g", j.MemberID, 1, "t", 2, 42); code != 0 {
		t.Fatalf("commit %d", code)
	}
	e.clock.Advance(9 * time.Second)
	if code := e.heartbeat("g", j.MemberID, 1); code != 0 {
		t.Fatalf("heartbeat %d", code)
	}
	e.clock.Advance(9 * time.Second) // 18 s after the join, 9 s after the heartbeat
	if e.state("g") != StateStable {
		t.Fatal("expired despite heartbeat")
	}
	e.clock.Advance(2 * time.Second)
	if got := e.state("g"); got != StateEmpty {
		t.Fatalf("state after expiry %s", got)
	}
	if code := e.heartbeat("g", j.MemberID, 1); code != kerr.UnknownMemberID.Code {
		t.Errorf("heartbeat of expired member %d", code)
	}
	if got := e.fetch("g")[topicPartition{"t", 2}]; got != 42 {
		t.Errorf("offset %d", got)
	}
}

// TestRebalanceTimeoutDropsSilentMembers: a member that does not rejoin within the
// rebalance timeout is left out of the next generation.
func TestRebalanceTimeoutDropsSilentMembers(t *testing.T) {
	e := newEnv(t, testConfig(), nil)
	pa := e.joinAsync(joinReq("g", "", 3))
	pb := e.joinAsync(joinReq("g", "", 3))
	waitUntil(t, "two waiting", func() bool { return e.awaiting("g") == 2 })
	e.clock.Advance(0)
	a, b := pa.wait(t), pb.wait(t)
	leader := a
	if b.LeaderID == b.MemberID {
		leader = b
	}
	e.sync("g", leader.MemberID, 1, nil)
	// A third member joins; only a rejoins, b stays silent (heartbeating, but not
	// rejoining, until the rebalance times out).
	pc := e.joinAsync(joinReq("g", "", 3))
	waitUntil(t, "c waiting", func() bool { return e.awaiting("g") == 1 })
	pa2 := e.joinAsync(joinReq("g", a.MemberID, 3))
	waitUntil(t, "a waiting", func() bool { return e.awaiting("g") == 2 })
	e.clock.Advance(5 * time.Second)
	e.heartbeat("g", b.MemberID, 1)
	e.clock.Advance(15 * time.Second) // the 20 s rebalance timeout
	a2, c := pa2.wait(t), pc.wait(t)
	if a2.Generation != 2 || c.Generation != 2 {
		t.Fatalf("generations %d %d", a2.Generation, c.Generation)
	}
	if code := e.heartbeat("g", b.MemberID, 1); code != kerr.UnknownMemberID.Code {
		t.Errorf("silent member: %d", code)
	}
	// Nobody syncs: after the rebalance timeout both are removed and the group empties.
	e.clock.Advance(20 * time.Second)
	if got := e.state("g"); got != StateEmpty {
		t.Errorf("state after sync timeout %s", got)
	}
}

func TestStaticMembership(t *testing.T) {
	e := newEnv(t, testConfig(), nil)
	static := func(member, instance string) *kmsg.JoinGroupRequest {
		r := joinReq("g", member, 9)
		r.InstanceID = &instance
		return r
	}
	pa := e.joinAsync(static("", "ia"))
	pb := e.joinAsync(static("", "ib"))
	waitUntil(t, "two waiting", func() bool { return e.awaiting("g") == 2 })
	e.clock.Advance(0)
	a, b := pa.wait(t), pb.wait(t)
	if a.ErrorCode != 0 || b.ErrorCode != 0 {
		t.Fatalf("static joins: %d %d (no MEMBER_ID_REQUIRED for static members)", a.ErrorCode, b.ErrorCode)
	}
	leader, follower := a, b
	if b.LeaderID == b.MemberID {
		leader, follower = b, a
	}
	e.sync("g", leader.MemberID, 1, map[string]string{leader.MemberID: "L", follower.MemberID: "F"})
	e.sync("g", follower.MemberID, 1, nil)

	// The follower restarts: same instance id, new member id, no rebalance.
	instance := "ib"
	if follower == a {
		instance = "ia"
	}
	r := e.c.JoinGroup(context.Background(), static("", instance), "c", "h")
	if r.ErrorCode != 0 || r.Generation != 1 || r.MemberID == follower.MemberID || e.state("g") != StateStable {
		t.Fatalf("static rejoin: %+v in %s", r, e.state("g"))
	}
	if s := e.sync("g", r.MemberID, 1, nil); s.ErrorCode != 0 || string(s.MemberAssignment) != "F" {
		t.Errorf("static rejoin's assignment: %+v", s)
	}
	hb := kmsg.NewPtrHeartbeatRequest()
	hb.Group, hb.MemberID, hb.Generation, hb.InstanceID = "g", follower.MemberID, 1, &instance
	if code := e.c.Heartbeat(hb).ErrorCode; code != kerr.FencedInstanceID.Code {
		t.Errorf("old member id: %d, want FENCED_INSTANCE_ID", code)
	}
	if code := e.heartbeat("g", leader.MemberID, 1); code != 0 {
		t.Errorf("leader heartbeat after the static rejoin: %d", code)
	}
	if code := e.c.JoinGroup(context.Background(), static(follower.MemberID, instance), "c", "h").ErrorCode; code != kerr.FencedInstanceID.Code {
		t.Errorf("join with fenced id: %d", code)
	}

	// Leave by instance id (v3+ batch), plus an unknown instance.
	lv := kmsg.NewPtrLeaveGroupRequest()
	lv.Version = 5
	lv.Group = "g"
	m1 := kmsg.NewLeaveGroupRequestMember()
	m1.InstanceID = &instance
	m2 := kmsg.NewLeaveGroupRequestMember()
	m2.InstanceID = kmsg.StringPtr("nope")
	lv.Members = []kmsg.LeaveGroupRequestMember{m1, m2}
	resp := e.c.LeaveGroup(lv)
	if resp.ErrorCode != 0 || resp.Members[0].ErrorCode != 0 || resp.Members[1].ErrorCode != kerr.UnknownMemberID.Code {
		t.Fatalf("leave: %+v", resp)
	}
	if got := e.state("g"); got != StatePreparingRebalance {
		t.Errorf("state after a leave %s", got)
	}
}

func TestOffsetsAndAdmin(t *testing.T) {
	cfg := testConfig()
	e := newEnv(t, cfg, nil)
	if code := e.commit("simple", "", -1, "t", 0, 10); code != 0 {
		t.Fatalf("simple commit: %d", code)
	}
	if code := e.commit("nosuch", "m", 4, "t", 0, 10); code != kerr.IllegalGeneration.Code {
		t.Errorf("commit to unknown group with a generation: %d", code)
	}
	if code := e.commit("simple", "", -1, "t", 9, 10); code != kerr.UnknownTopicOrPartition.Code {
		t.Errorf("unknown partition: %d", code)
	}
	if code := e.commit("simple", "", -1, "u", 0, 10); code != kerr.UnknownTopicOrPartition.Code {
		t.Errorf("unknown topic: %d", code)
	}
	req := kmsg.NewPtrOffsetCommitRequest()
	req.Group = "simple"
	rt := kmsg.NewOffsetCommitRequestTopic()
	rt.Topic = "t"
	rp := kmsg.NewOffsetCommitRequestTopicPartition()
	rp.Metadata = kmsg.StringPtr(strings.Repeat("m", cfg.OffsetMetadataMaxBytes+1))
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	if code := e.c.OffsetCommit(req).Topics[0].Partitions[0].ErrorCode; code != kerr.OffsetMetadataTooLarge.Code {
		t.Errorf("big metadata: %d", code)
	}

	// v1 OffsetFetch of a partition without a commit, v5 with all partitions.
	of := kmsg.NewPtrOffsetFetchRequest()
	of.Version = 1
	of.Group = "simple"
	ot := kmsg.NewOffsetFetchRequestTopic()
	ot.Topic, ot.Partitions = "t", []int32{0, 1}
	of.Topics = append(of.Topics, ot)
	fr := e.c.OffsetFetch(of)
	if ps := fr.Topics[0].Partitions; ps[0].Offset != 10 || ps[1].Offset != -1 {
		t.Errorf("fetch v1: %+v", ps)
	}
	of.Version, of.Topics = 5, nil
	if fr := e.c.OffsetFetch(of); len(fr.Topics) != 1 || len(fr.Topics[0].Partitions) != 1 || fr.Topics[0].Partitions[0].LeaderEpoch != -1 {
		t.Errorf("fetch all: %+v", fr.Topics)
	}

	dg := kmsg.NewPtrDescribeGroupsRequest()
	dg.Groups = []string{"simple", "unknown"}
	d := e.c.DescribeGroups(dg)
	if d.Groups[0].State != "Empty" || d.Groups[1].State != "Dead" || d.Groups[1].ErrorCode != 0 {
		t.Errorf("describe: %+v", d.Groups)
	}
	lg := kmsg.NewPtrListGroupsRequest()
	lg.StatesFilter = []string{"stable"}
	if l := e.c.ListGroups(lg); len(l.Groups) != 0 {
		t.Errorf("stable filter: %+v", l.Groups)
	}
	lg.StatesFilter, lg.TypesFilter = []string{"EMPTY"}, []string{"Classic"}
	if l := e.c.ListGroups(lg); len(l.Groups) != 1 || l.Groups[0].GroupType != "classic" {
		t.Errorf("empty/classic filter: %+v", l.Groups)
	}
	lg.TypesFilter = []string{"consumer"}
	if l := e.c.ListGroups(lg); len(l.Groups) != 0 {
		t.Errorf("consumer filter: %+v", l.Groups)
	}

	od := kmsg.NewPtrOffsetDeleteRequest()
	od.Group = "simple"
	odt := kmsg.NewOffsetDeleteRequestTopic()
	odt.Topic = "t"
	odt.Partitions = []kmsg.OffsetDeleteRequestTopicPartition{{Partition: 0}}
	od.Topics = append(od.Topics, odt)
	if r := e.c.OffsetDelete(od); r.ErrorCode != 0 || r.Topics[0].Partitions[0].ErrorCode != 0 {
		t.Errorf("offset delete: %+v", r)
	}
	if got := e.fetch("simple"); len(got) != 0 {
		t.Errorf("after offset delete: %v", got)
	}

	del := kmsg.NewPtrDeleteGroupsRequest()
	del.Groups = []string{"simple", "simple", "none"}
	r := e.c.DeleteGroups(del)
	if r.Groups[0].ErrorCode != 0 || r.Groups[1].ErrorCode != kerr.GroupIDNotFound.Code || r.Groups[2].ErrorCode != kerr.GroupIDNotFound.Code {
		t.Errorf("delete: %+v", r.Groups)
	}
}

// TestOffsetExpiry: offsets of a group empty for offsets.retention.minutes expire and
// the group goes; tombstones are written.
func TestOffsetExpiry(t *testing.T) {
	e := newEnv(t, testConfig(), nil)
	e.commit("old", "", -1, "t", 0, 1)
	e.clock.Advance(24 * time.Hour)
	e.commit("young", "", -1, "t", 0, 2)
	e.clock.Advance(6*24*time.Hour + time.Minute) // "old" is 7 days and a minute old
	e.c.expireOffsets()
	if got, ok := e.fetch("old")[topicPartition{"t", 0}]; ok {
		t.Errorf("old offsets kept: %v", got)
	}
	if got := e.fetch("young"); got[topicPartition{"t", 0}] != 2 {
		t.Errorf("young offsets expired: %v", got)
	}
	if e.state("old") != StateDead {
		t.Error("the emptied group was not removed")
	}
	tombs := 0
	for _, r := range e.store.all() {
		if r.Value == nil {
			tombs++
		}
	}
	if tombs != 2 { // the offset and the group
		t.Errorf("%d tombstones, want 2", tombs)
	}
}

// TestReload: a new coordinator over the same store has the groups, members and offsets
// (and not what was deleted).
func TestReload(t *testing.T) {
	store := newMemStore()
	e := newEnv(t, testConfig(), store)
	p := e.joinNew("g")
	e.clock.Advance(0)
	j := p.wait(t)
	e.sync("g", j.MemberID, 1, map[string]string{j.MemberID: "mine"})
	e.commit("g", j.MemberID, 1, "t", 3, 33)
	e.commit("gone", "", -1, "t", 1, 1)
	del := kmsg.NewPtrDeleteGroupsRequest()
	del.Groups = []string{"gone"}
	e.c.DeleteGroups(del)
	e.c.Close()

	e2 := newEnv(t, testConfig(), store)
	if got := e2.fetch("g")[topicPartition{"t", 3}]; got != 33 {
		t.Errorf("reloaded offset %d", got)
	}
	if e2.state("gone") != StateDead || e2.state("g") != StateStable {
		t.Errorf("states %s %s", e2.state("gone"), e2.state("g"))
	}
	if code := e2.heartbeat("g", j.MemberID, 1); code != 0 {
		t.Errorf("reloaded member heartbeat %d", code)
	}
	if s := e2.sync("g", j.MemberID, 1, nil); string(s.MemberAssignment) != "mine" {
		t.Errorf("reloaded assignment %q", s.MemberAssignment)
	}
	e2.clock.Advance(11 * time.Second)
	if e2.state("g") != StateEmpty {
		t.Errorf("reloaded member did not expire: %s", e2.state("g"))
	}
}
