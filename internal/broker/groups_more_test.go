package broker_test

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// TestGroupCooperativeSticky: with cooperative-sticky, a third member joining takes
// partitions from the others without them giving up anything else.
func TestGroupCooperativeSticky(t *testing.T) {
	tb := startBroker(t, "", groupOverrides)
	const topic = "coop"
	createTopic(t, tb, topic, 6, nil)
	coop := kgo.Balancers(kgo.CooperativeStickyBalancer())
	a := startMember(t, tb, nil, "cg", topic, "a", coop)
	b := startMember(t, tb, nil, "cg", topic, "b", coop)
	waitAssigned(t, 6, a, b)
	waitFor(t, "3 partitions each", func() bool { return len(a.partitions()) == 3 && len(b.partitions()) == 3 })
	before := map[string][]int32{"a": a.partitions(), "b": b.partitions()}
	revokedBefore := a.revokedCount() + b.revokedCount()

	c := startMember(t, tb, nil, "cg", topic, "c", coop)
	waitFor(t, "2 partitions each", func() bool {
		return len(a.partitions()) == 2 && len(b.partitions()) == 2 && len(c.partitions()) == 2
	})
	waitAssigned(t, 6, a, b, c)
	if got := a.revokedCount() + b.revokedCount() - revokedBefore; got != 2 {
		t.Errorf("a and b gave up %d partitions, want only the 2 that moved", got)
	}
	for name, m := range map[string]*groupMember{"a": a, "b": b} {
		for _, p := range m.partitions() {
			found := false
			for _, q := range before[name] {
				found = found || p == q
			}
			if !found {
				t.Errorf("member %s gained partition %d; it should only have lost one", name, p)
			}
		}
	}
}

// TestGroupStaticMemberRestart: a static member (group.instance.id) that restarts
// within its session timeout gets its partitions back without a rebalance.
func TestGroupStaticMemberRestart(t *testing.T) {
	tb := startBroker(t, "", groupOverrides)
	const topic = "static"
	createTopic(t, tb, topic, 6, nil)
	static := func(id string) kgo.Opt { return kgo.InstanceID(id) }
	a := startMember(t, tb, nil, "sg", topic, "a", static("ia"))
	b := startMember(t, tb, nil, "sg", topic, "b", static("ib"))
	c := startMember(t, tb, nil, "sg", topic, "c", static("ic"))
	waitAssigned(t, 6, a, b, c)
	waitFor(t, "2 partitions each", func() bool {
		return len(a.partitions()) == 2 && len(b.partitions()) == 2 && len(c.partitions()) == 2
	})
	_, genA := a.cl.GroupMetadata()
	cParts := c.partitions()
	revokedBefore := a.revokedCount() + b.revokedCount()

	c.close() // a static member does not leave the group on close
	c2 := startMember(t, tb, nil, "sg", topic, "c2", static("ic"))
	waitFor(t, "the restarted member's partitions", func() bool { return len(c2.partitions()) == 2 })
	if got := c2.partitions(); got[0] != cParts[0] || got[1] != cParts[1] {
		t.Errorf("restarted static member got %v, had %v", got, cParts)
	}
	if _, gen := a.cl.GroupMetadata(); gen != genA {
		t.Errorf("generation moved from %d to %d: a rebalance happened", genA, gen)
	}
	if got := a.revokedCount() + b.revokedCount(); got != revokedBefore {
		t.Errorf("other members lost partitions (%d -> %d)", revokedBefore, got)
	}
	desc, err := tb.admin().DescribeGroups(testCtx(t), "sg")
	if err != nil {
		t.Fatal(err)
	}
	ids := map[string]bool{}
	for _, m := range desc["sg"].Members {
		if m.InstanceID != nil {
			ids[*m.InstanceID] = true
		}
	}
	if len(ids) != 3 || !ids["ia"] || !ids["ib"] || !ids["ic"] {
		t.Errorf("described instance ids %v", ids)
	}
}

// TestGroupAdmin: kadm's ListGroups, DescribeGroups, DeleteOffsets and DeleteGroups.
func TestGroupAdmin(t *testing.T) {
	tb := startBroker(t, "", groupOverrides)
	createTopic(t, tb, "t1", 2, nil)
	createTopic(t, tb, "t2", 2, nil)
	adm := tb.admin()
	ctx := testCtx(t)

	m := startMember(t, tb, nil, "active", "t1", "a")
	waitAssigned(t, 2, m)
	offs := kadm.Offsets{}
	offs.Add(kadm.Offset{Topic: "t1", Partition: 0, At: 5, LeaderEpoch: -1})
	offs.Add(kadm.Offset{Topic: "t2", Partition: 1, At: 7, LeaderEpoch: -1})
	if _, err := adm.CommitOffsets(ctx, "idle", offs); err != nil {
		t.Fatal(err)
	}

	listed, err := adm.ListGroups(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(listed) != 2 || listed["active"].State != "Stable" || listed["idle"].State != "Empty" || listed["active"].ProtocolType != "consumer" {
		t.Fatalf("listed %+v", listed)
	}
	stable, err := adm.ListGroups(ctx, "Stable")
	if err != nil || len(stable) != 1 {
		t.Fatalf("list stable: %v %v", stable.Groups(), err)
	}

	desc, err := adm.DescribeGroups(ctx, "active", "nosuch")
	if err != nil {
		t.Fatal(err)
	}
	ag := desc["active"]
	if ag.State != "Stable" || ag.Protocol != "cooperative-sticky" || len(ag.Members) != 1 {
		t.Fatalf("described %+v", ag)
	}
	if ca, ok := ag.Members[0].Assigned.AsConsumer(); !ok || len(ca.Topics) != 1 || len(ca.Topics[0].Partitions) != 2 {
		t.Errorf("assignment %+v", ag.Members[0].Assigned)
	}
	if desc["nosuch"].State != "Dead" || desc["nosuch"].Err != nil {
		t.Errorf("unknown group described as %+v", desc["nosuch"])
	}

	// The active group consumes t1: its offset there cannot be deleted.
	if resp, err := adm.CommitOffsets(ctx, "active", offs); err != nil || !errors.Is(resp.Error(), kerr.UnknownMemberID) {
		t.Errorf("a commit with generation -1 into an active group: %v %v", err, resp.Error())
	}
	del := kadm.TopicsSet{}
	del.Add("t1", 0)
	resp, err := adm.DeleteOffsets(ctx, "active", del)
	if err != nil {
		t.Fatal(err)
	}
	if err := resp.Error(); !errors.Is(err, kerr.GroupSubscribedToTopic) {
		t.Errorf("deleting a consumed topic's offset: %v", err)
	}
	del = kadm.TopicsSet{}
	del.Add("t2", 1)
	if resp, err := adm.DeleteOffsets(ctx, "idle", del); err != nil || resp.Error() != nil {
		t.Fatalf("delete offsets: %v %v", err, resp.Error())
	}
	got, err := adm.FetchOffsets(ctx, "idle")
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := got.Lookup("t2", 1); ok {
		t.Error("deleted offset still fetched")
	}
	if o, ok := got.Lookup("t1", 0); !ok || o.At != 5 {
		t.Errorf("kept offset %+v", o)
	}

	dg, err := adm.DeleteGroups(ctx, "active", "idle", "nosuch")
	if err != nil {
		t.Fatal(err)
	}
	if !errors.Is(dg["active"].Err, kerr.NonEmptyGroup) || dg["idle"].Err != nil || !errors.Is(dg["nosuch"].Err, kerr.GroupIDNotFound) {
		t.Errorf("delete groups: active %v, idle %v, nosuch %v", dg["active"].Err, dg["idle"].Err, dg["nosuch"].Err)
	}
	m.close()
	waitFor(t, "the empty group", func() bool {
		l, err := adm.ListGroups(ctx)
		return err == nil && l["active"].State == "Empty"
	})
	if dg, err := adm.DeleteGroups(ctx, "active"); err != nil || dg["active"].Err != nil {
		t.Fatalf("delete emptied group: %v %v", err, dg["active"].Err)
	}
	if l, _ := adm.ListGroups(ctx); len(l) != 0 {
		t.Errorf("groups left: %v", l.Groups())
	}

	// The offsets topic is a real, internal, compacted topic.
	md, err := adm.Metadata(ctx, "__consumer_offsets")
	if err != nil {
		t.Fatal(err)
	}
	if td := md.Topics["__consumer_offsets"]; !td.IsInternal || len(td.Partitions) != 50 {
		t.Errorf("__consumer_offsets: internal %v, %d partitions", td.IsInternal, len(td.Partitions))
	}
	cfgs, err := adm.DescribeTopicConfigs(ctx, "__consumer_offsets")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range cfgs[0].Configs {
		if c.Key == "cleanup.policy" && (c.Value == nil || *c.Value != "compact") {
			t.Errorf("cleanup.policy %v", c.Value)
		}
	}
}

// TestGroupBadInput: requests that are wrong in each way get Kafka's error code.
func TestGroupBadInput(t *testing.T) {
	tb := startBroker(t, "", groupOverrides)
	createTopic(t, tb, "bt", 1, nil)
	cl := tb.client()
	ctx := testCtx(t)
	do := func(req kmsg.Request) kmsg.Response {
		t.Helper()
		resp, err := cl.Request(ctx, req)
		if err != nil {
			t.Fatalf("%T: %v", req, err)
		}
		return resp
	}
	// The coordinator exists once FindCoordinator has been asked.
	fc := kmsg.NewPtrFindCoordinatorRequest()
	fc.CoordinatorKeys = []string{"bad"}
	if r := do(fc).(*kmsg.FindCoordinatorResponse); r.Coordinators[0].ErrorCode != 0 {
		t.Fatalf("find coordinator: %d", r.Coordinators[0].ErrorCode)
	}
	fc.CoordinatorType = 1
	if r := do(fc).(*kmsg.FindCoordinatorResponse); r.Coordinators[0].ErrorCode != kerr.CoordinatorNotAvailable.Code {
		t.Errorf("transaction coordinator: %d", r.Coordinators[0].ErrorCode)
	}
	fc.CoordinatorType = 7
	if r := do(fc).(*kmsg.FindCoordinatorResponse); r.Coordinators[0].ErrorCode != kerr.InvalidRequest.Code {
		t.Errorf("unknown key type: %d", r.Coordinators[0].ErrorCode)
	}
	waitFor(t, "the coordinator to load", func() bool {
		r := do(kmsg.NewPtrListGroupsRequest()).(*kmsg.ListGroupsResponse)
		return r.ErrorCode == 0
	})

	commit := func(group, member string, gen int32, metadata string, topic string) int16 {
		req := kmsg.NewPtrOffsetCommitRequest()
		req.Group, req.MemberID, req.Generation = group, member, gen
		rt := kmsg.NewOffsetCommitRequestTopic()
		rt.Topic = topic
		rp := kmsg.NewOffsetCommitRequestTopicPartition()
		rp.Offset, rp.Metadata = 1, &metadata
		rt.Partitions = append(rt.Partitions, rp)
		req.Topics = append(req.Topics, rt)
		return do(req).(*kmsg.OffsetCommitResponse).Topics[0].Partitions[0].ErrorCode
	}
	join := func(group, member string, session int32) *kmsg.JoinGroupResponse {
		req := kmsg.NewPtrJoinGroupRequest()
		req.Group, req.MemberID, req.SessionTimeoutMillis, req.RebalanceTimeoutMillis = group, member, session, 10000
		req.ProtocolType = "consumer"
		p := kmsg.NewJoinGroupRequestProtocol()
		p.Name, p.Metadata = "range", []byte{0, 1}
		req.Protocols = append(req.Protocols, p)
		return do(req).(*kmsg.JoinGroupResponse)
	}

	cases := []struct {
		name string
		got  func() int16
		want *kerr.Error
	}{
		{"commit generation 3 to unknown group", func() int16 { return commit("nog", "m", 3, "", "bt") }, kerr.IllegalGeneration},
		{"commit oversized metadata", func() int16 { return commit("simple", "", -1, strings.Repeat("x", 4097), "bt") }, kerr.OffsetMetadataTooLarge},
		{"commit unknown topic", func() int16 { return commit("simple", "", -1, "", "nosuchtopic") }, kerr.UnknownTopicOrPartition},
		{"join with a tiny session timeout", func() int16 { return join("jg", "", 1).ErrorCode }, kerr.InvalidSessionTimeout},
		{"join with a huge session timeout", func() int16 { return join("jg", "", 1<<30).ErrorCode }, kerr.InvalidSessionTimeout},
		{"join with an unknown member id", func() int16 { return join("jg", "ghost", 10000).ErrorCode }, kerr.UnknownMemberID},
		{"join without member id (v4+)", func() int16 { return join("jg", "", 10000).ErrorCode }, kerr.MemberIDRequired},
		{"join with an empty group id", func() int16 { return join("", "", 10000).ErrorCode }, kerr.InvalidGroupID},
		{"heartbeat of unknown group", func() int16 {
			req := kmsg.NewPtrHeartbeatRequest()
			req.Group, req.MemberID = "nog", "m"
			return do(req).(*kmsg.HeartbeatResponse).ErrorCode
		}, kerr.UnknownMemberID},
		{"sync of unknown member", func() int16 {
			req := kmsg.NewPtrSyncGroupRequest()
			req.Group, req.MemberID = "simple", "m"
			return do(req).(*kmsg.SyncGroupResponse).ErrorCode
		}, kerr.UnknownMemberID},
		{"delete unknown group", func() int16 {
			req := kmsg.NewPtrDeleteGroupsRequest()
			req.Groups = []string{"nog"}
			return do(req).(*kmsg.DeleteGroupsResponse).Groups[0].ErrorCode
		}, kerr.GroupIDNotFound},
		{"offset delete of unknown group", func() int16 {
			req := kmsg.NewPtrOffsetDeleteRequest()
			req.Group = "nog"
			return do(req).(*kmsg.OffsetDeleteResponse).ErrorCode
		}, kerr.GroupIDNotFound},
	}
	for _, tc := range cases {
		if got := tc.got(); got != tc.want.Code {
			t.Errorf("%s: error %d (%v), want %s", tc.name, got, kerr.ErrorForCode(got), tc.want.Message)
		}
	}

	// A real member: commits from the wrong member or generation are refused.
	jr := join("live", "", 10000)
	jr = join("live", jr.MemberID, 10000)
	if jr.ErrorCode != 0 || jr.Generation != 1 || jr.LeaderID != jr.MemberID {
		t.Fatalf("join: %+v", jr)
	}
	if got := commit("live", jr.MemberID, 1, "", "bt"); got != kerr.RebalanceInProgress.Code {
		t.Errorf("commit before sync: %d", got)
	}
	sr := kmsg.NewPtrSyncGroupRequest()
	sr.Group, sr.MemberID, sr.Generation = "live", jr.MemberID, 1
	if r := do(sr).(*kmsg.SyncGroupResponse); r.ErrorCode != 0 {
		t.Fatalf("sync: %d", r.ErrorCode)
	}
	for _, tc := range []struct {
		member string
		gen    int32
		want   *kerr.Error
	}{
		{jr.MemberID, 1, nil},
		{jr.MemberID, 2, kerr.IllegalGeneration},
		{"other", 1, kerr.UnknownMemberID},
		{"", -1, kerr.UnknownMemberID},
	} {
		want := int16(0)
		if tc.want != nil {
			want = tc.want.Code
		}
		if got := commit("live", tc.member, tc.gen, "", "bt"); got != want {
			t.Errorf("commit as %q gen %d: %d, want %d", tc.member, tc.gen, got, want)
		}
	}
	d := kmsg.NewPtrDescribeGroupsRequest()
	d.Groups = []string{"live", "never"}
	dr := do(d).(*kmsg.DescribeGroupsResponse)
	// The client splits the request by coordinator, so the groups may come back in any
	// order.
	slices.SortFunc(dr.Groups, func(a, b kmsg.DescribeGroupsResponseGroup) int { return strings.Compare(a.Group, b.Group) })
	if len(dr.Groups) != 2 || dr.Groups[0].State != "Stable" || len(dr.Groups[0].Members) != 1 || dr.Groups[1].State != "Dead" || dr.Groups[1].ErrorCode != 0 {
		t.Errorf("describe: %+v", dr.Groups)
	}
	lv := kmsg.NewPtrLeaveGroupRequest()
	lv.Group = "live"
	lm := kmsg.NewLeaveGroupRequestMember()
	lm.MemberID = jr.MemberID
	lm2 := kmsg.NewLeaveGroupRequestMember()
	lm2.MemberID = "ghost"
	lv.Members = []kmsg.LeaveGroupRequestMember{lm, lm2}
	lr := do(lv).(*kmsg.LeaveGroupResponse)
	if lr.ErrorCode != 0 || lr.Members[0].ErrorCode != 0 || lr.Members[1].ErrorCode != kerr.UnknownMemberID.Code {
		t.Errorf("leave: %+v", lr)
	}
}
