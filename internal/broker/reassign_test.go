package broker_test

import (
	"slices"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// TestReassignAndElectAPIsOneNode checks the shapes and error codes of
// AlterPartitionReassignments, ListPartitionReassignments and ElectLeaders on a single
// node, where the only possible assignment is the current one.
func TestReassignAndElectAPIsOneNode(t *testing.T) {
	tb := startBroker(t, "", nil)
	createTopic(t, tb, "ra", 3, nil)
	cl := tb.client()
	ctx := testCtx(t)

	alter := kmsg.NewPtrAlterPartitionAssignmentsRequest()
	alter.TimeoutMillis = 30000
	addAlter := func(topic string, p int32, replicas []int32) {
		rt := kmsg.NewAlterPartitionAssignmentsRequestTopic()
		rt.Topic = topic
		rp := kmsg.NewAlterPartitionAssignmentsRequestTopicPartition()
		rp.Partition, rp.Replicas = p, replicas
		rt.Partitions = append(rt.Partitions, rp)
		alter.Topics = append(alter.Topics, rt)
	}
	addAlter("ra", 0, []int32{1})    // the current assignment: completes at once
	addAlter("ra", 1, []int32{1, 7}) // broker 7 does not exist
	addAlter("ra", 2, nil)           // cancel, nothing in progress
	addAlter("nope", 0, []int32{1})
	kresp, err := alter.RequestWith(ctx, cl)
	if err != nil {
		t.Fatal(err)
	}
	want := []int16{0, kerr.InvalidReplicaAssignment.Code, kerr.NoReassignmentInProgress.Code, kerr.UnknownTopicOrPartition.Code}
	if kresp.ErrorCode != 0 || len(kresp.Topics) != len(want) {
		t.Fatalf("alter response = %+v", kresp)
	}
	for i, st := range kresp.Topics {
		if len(st.Partitions) != 1 || st.Partitions[0].ErrorCode != want[i] {
			t.Errorf("alter %s: %+v, want code %d", st.Topic, st.Partitions, want[i])
		}
		if want[i] != 0 && st.Partitions[0].ErrorMessage == nil {
			t.Errorf("alter %s: no error message", st.Topic)
		}
	}

	list := kmsg.NewPtrListPartitionReassignmentsRequest()
	lresp, err := list.RequestWith(ctx, cl)
	if err != nil || lresp.ErrorCode != 0 || len(lresp.Topics) != 0 {
		t.Fatalf("list = %+v, %v; want nothing in progress", lresp, err)
	}

	for _, version := range []int16{0, 1, 2} {
		for _, typ := range []int8{0, 1} {
			if version == 0 && typ == 1 {
				continue
			}
			el := kmsg.NewPtrElectLeadersRequest()
			el.Version, el.ElectionType, el.TimeoutMillis = version, typ, 30000
			rt := kmsg.NewElectLeadersRequestTopic()
			rt.Topic, rt.Partitions = "ra", []int32{0, 5}
			el.Topics = append(el.Topics, rt)
			eresp, err := el.RequestWith(ctx, cl)
			if err != nil {
				t.Fatal(err)
			}
			if len(eresp.Topics) != 1 || len(eresp.Topics[0].Partitions) != 2 {
				t.Fatalf("v%d type %d: elect = %+v", version, typ, eresp)
			}
			codes := []int16{eresp.Topics[0].Partitions[0].ErrorCode, eresp.Topics[0].Partitions[1].ErrorCode}
			if !slices.Equal(codes, []int16{kerr.ElectionNotNeeded.Code, kerr.UnknownTopicOrPartition.Code}) {
				t.Errorf("v%d type %d: codes %v", version, typ, codes)
			}

			// Null topics: every partition, but those needing nothing are left out.
			all := kmsg.NewPtrElectLeadersRequest()
			all.Version, all.ElectionType = version, typ
			aresp, err := all.RequestWith(ctx, cl)
			if err != nil || len(aresp.Topics) != 0 {
				t.Fatalf("v%d type %d: elect all = %+v, %v", version, typ, aresp, err)
			}
		}
	}

	bad := kmsg.NewPtrElectLeadersRequest()
	bad.Version, bad.ElectionType = 1, 9
	rt := kmsg.NewElectLeadersRequestTopic()
	rt.Topic, rt.Partitions = "ra", []int32{0}
	bad.Topics = append(bad.Topics, rt)
	bresp, err := bad.RequestWith(ctx, cl)
	if err != nil || bresp.ErrorCode != kerr.InvalidRequest.Code || bresp.Topics[0].Partitions[0].ErrorCode != kerr.InvalidRequest.Code {
		t.Fatalf("unknown election type = %+v, %v", bresp, err)
	}
}
