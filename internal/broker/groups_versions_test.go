package broker_test

import (
	"fmt"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/samsa-io/samsa/internal/brokertest"
)

// TestGroupAPIVersions sends every advertised version of every group API over a raw
// connection: each is answered (not closed) and behaves as that version should.
func TestGroupAPIVersions(t *testing.T) {
	brokertest.SingleNodeOnly(t, "raw requests of every version to the one coordinator")
	tb := startBroker(t, "", groupOverrides)
	createTopic(t, tb, "vt", 2, nil)
	c := dialRaw(t, tb.Addr)

	for v := int16(0); v <= 6; v++ {
		req := kmsg.NewPtrFindCoordinatorRequest()
		req.CoordinatorKey = "vg"
		req.CoordinatorKeys = []string{"vg"}
		r := c.request(req, v).(*kmsg.FindCoordinatorResponse)
		node, code := r.NodeID, r.ErrorCode
		if v >= 4 {
			node, code = r.Coordinators[0].NodeID, r.Coordinators[0].ErrorCode
		}
		if code != 0 || node != 1 {
			t.Errorf("FindCoordinator v%d: node %d error %d", v, node, code)
		}
	}
	waitFor(t, "coordinator loaded", func() bool {
		return c.request(kmsg.NewPtrListGroupsRequest(), 0).(*kmsg.ListGroupsResponse).ErrorCode == 0
	})

	join := func(group string, v int16, member string) *kmsg.JoinGroupResponse {
		req := kmsg.NewPtrJoinGroupRequest()
		req.Group, req.MemberID, req.SessionTimeoutMillis, req.RebalanceTimeoutMillis = group, member, 10000, 10000
		req.ProtocolType = "consumer"
		p := kmsg.NewJoinGroupRequestProtocol()
		p.Name, p.Metadata = "range", []byte("md")
		req.Protocols = []kmsg.JoinGroupRequestProtocol{p}
		return c.request(req, v).(*kmsg.JoinGroupResponse)
	}
	// member joins group with JoinGroup v3 and syncs: a stable one-member group.
	member := func(group string) (string, int32) {
		j := join(group, 3, "")
		if j.ErrorCode != 0 {
			t.Fatalf("join %s: %d", group, j.ErrorCode)
		}
		s := kmsg.NewPtrSyncGroupRequest()
		s.Group, s.MemberID, s.Generation = group, j.MemberID, j.Generation
		if r := c.request(s, 0).(*kmsg.SyncGroupResponse); r.ErrorCode != 0 {
			t.Fatalf("sync %s: %d", group, r.ErrorCode)
		}
		return j.MemberID, j.Generation
	}

	for v := int16(0); v <= 9; v++ {
		g := fmt.Sprintf("join-v%d", v)
		j := join(g, v, "")
		if v >= 4 {
			if j.ErrorCode != kerr.MemberIDRequired.Code || j.MemberID == "" {
				t.Errorf("JoinGroup v%d: error %d member %q, want MEMBER_ID_REQUIRED", v, j.ErrorCode, j.MemberID)
				continue
			}
			j = join(g, v, j.MemberID)
		}
		if j.ErrorCode != 0 || j.Generation != 1 || j.LeaderID != j.MemberID || len(j.Members) != 1 || string(j.Members[0].ProtocolMetadata) != "md" {
			t.Errorf("JoinGroup v%d: %+v", v, j)
		}
	}
	for v := int16(0); v <= 5; v++ {
		g := fmt.Sprintf("sync-v%d", v)
		j := join(g, 3, "")
		s := kmsg.NewPtrSyncGroupRequest()
		s.Group, s.MemberID, s.Generation = g, j.MemberID, j.Generation
		s.ProtocolType, s.Protocol = kmsg.StringPtr("consumer"), kmsg.StringPtr("range")
		a := kmsg.NewSyncGroupRequestGroupAssignment()
		a.MemberID, a.MemberAssignment = j.MemberID, []byte("assigned")
		s.GroupAssignment = []kmsg.SyncGroupRequestGroupAssignment{a}
		r := c.request(s, v).(*kmsg.SyncGroupResponse)
		if r.ErrorCode != 0 || string(r.MemberAssignment) != "assigned" || (v >= 5 && (r.Protocol == nil || *r.Protocol != "range")) {
			t.Errorf("SyncGroup v%d: %+v", v, r)
		}
	}
	hbMember, hbGen := member("hb")
	for v := int16(0); v <= 4; v++ {
		h := kmsg.NewPtrHeartbeatRequest()
		h.Group, h.MemberID, h.Generation = "hb", hbMember, hbGen
		if r := c.request(h, v).(*kmsg.HeartbeatResponse); r.ErrorCode != 0 {
			t.Errorf("Heartbeat v%d: %d", v, r.ErrorCode)
		}
	}
	for v := int16(0); v <= 5; v++ {
		g := fmt.Sprintf("leave-v%d", v)
		m, _ := member(g)
		l := kmsg.NewPtrLeaveGroupRequest()
		l.Group, l.MemberID = g, m
		lm := kmsg.NewLeaveGroupRequestMember()
		lm.MemberID = m
		l.Members = []kmsg.LeaveGroupRequestMember{lm}
		r := c.request(l, v).(*kmsg.LeaveGroupResponse)
		if r.ErrorCode != 0 || (v >= 3 && (len(r.Members) != 1 || r.Members[0].ErrorCode != 0)) {
			t.Errorf("LeaveGroup v%d: %+v", v, r)
		}
	}
	for v := int16(0); v <= 9; v++ {
		oc := kmsg.NewPtrOffsetCommitRequest()
		oc.Group = "commits"
		rt := kmsg.NewOffsetCommitRequestTopic()
		rt.Topic = "vt"
		rp := kmsg.NewOffsetCommitRequestTopicPartition()
		rp.Partition, rp.Offset, rp.LeaderEpoch, rp.Metadata = 1, int64(100+v), 3, kmsg.StringPtr(fmt.Sprint("v", v))
		rt.Partitions = []kmsg.OffsetCommitRequestTopicPartition{rp}
		oc.Topics = []kmsg.OffsetCommitRequestTopic{rt}
		if r := c.request(oc, v).(*kmsg.OffsetCommitResponse); r.Topics[0].Partitions[0].ErrorCode != 0 {
			t.Errorf("OffsetCommit v%d: %d", v, r.Topics[0].Partitions[0].ErrorCode)
		}
		for fv := int16(0); fv <= 9; fv++ {
			of := kmsg.NewPtrOffsetFetchRequest()
			of.Group = "commits"
			ot := kmsg.NewOffsetFetchRequestTopic()
			ot.Topic, ot.Partitions = "vt", []int32{1}
			of.Topics = []kmsg.OffsetFetchRequestTopic{ot}
			rg := kmsg.NewOffsetFetchRequestGroup()
			rg.Group = "commits"
			rg.Topics = []kmsg.OffsetFetchRequestGroupTopic{{Topic: "vt", Partitions: []int32{1}}}
			of.Groups = []kmsg.OffsetFetchRequestGroup{rg}
			r := c.request(of, fv).(*kmsg.OffsetFetchResponse)
			var off int64
			var epoch int32
			var md *string
			if fv >= 8 {
				p := r.Groups[0].Topics[0].Partitions[0]
				off, epoch, md = p.Offset, p.LeaderEpoch, p.Metadata
			} else {
				p := r.Topics[0].Partitions[0]
				off, epoch, md = p.Offset, p.LeaderEpoch, p.Metadata
			}
			wantEpoch := int32(-1)
			if v >= 6 {
				wantEpoch = 3
			}
			if off != int64(100+v) || (fv >= 5 && epoch != wantEpoch) || md == nil || *md != fmt.Sprint("v", v) {
				t.Errorf("OffsetFetch v%d after OffsetCommit v%d: offset %d epoch %d metadata %v", fv, v, off, epoch, md)
			}
		}
	}
	for v := int16(0); v <= 5; v++ {
		r := c.request(kmsg.NewPtrListGroupsRequest(), v).(*kmsg.ListGroupsResponse)
		if r.ErrorCode != 0 || len(r.Groups) == 0 {
			t.Errorf("ListGroups v%d: %+v", v, r)
		}
		d := kmsg.NewPtrDescribeGroupsRequest()
		d.Groups = []string{"hb"}
		dr := c.request(d, v).(*kmsg.DescribeGroupsResponse)
		if dr.Groups[0].ErrorCode != 0 || dr.Groups[0].State != "Stable" || len(dr.Groups[0].Members) != 1 {
			t.Errorf("DescribeGroups v%d: %+v", v, dr.Groups[0])
		}
	}
	od := kmsg.NewPtrOffsetDeleteRequest()
	od.Group = "commits"
	odt := kmsg.NewOffsetDeleteRequestTopic()
	odt.Topic = "vt"
	odt.Partitions = []kmsg.OffsetDeleteRequestTopicPartition{{Partition: 1}}
	od.Topics = []kmsg.OffsetDeleteRequestTopic{odt}
	if r := c.request(od, 0).(*kmsg.OffsetDeleteResponse); r.ErrorCode != 0 || r.Topics[0].Partitions[0].ErrorCode != 0 {
		t.Errorf("OffsetDelete v0: %+v", r)
	}
	for v := int16(0); v <= 2; v++ {
		g := fmt.Sprintf("leave-v%d", v) // empty since its member left
		d := kmsg.NewPtrDeleteGroupsRequest()
		d.Groups = []string{g}
		if r := c.request(d, v).(*kmsg.DeleteGroupsResponse); r.Groups[0].ErrorCode != 0 {
			t.Errorf("DeleteGroups v%d: %d", v, r.Groups[0].ErrorCode)
		}
	}
}
