package broker_test

import (
	"testing"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// next is the KIP-848 opt-in of kgo: the broker assigns partitions.
var next = kgo.ServerSideBalancer()

// TestConsumerProtocolQueue: three kgo members using KIP-848 share a 6-partition
// topic, every record reaching exactly one of them; a member leaving has its
// partitions moved; committed offsets are resumed from; the group is described as a
// consumer group.
func TestConsumerProtocolQueue(t *testing.T) {
	tb := startBroker(t, "", groupOverrides)
	const topic = "kip848"
	createTopic(t, tb, topic, 6, nil)

	d := newDelivery()
	ms := []*groupMember{
		startMember(t, tb, d, "ng", topic, "a", next),
		startMember(t, tb, d, "ng", topic, "b", next),
		startMember(t, tb, d, "ng", topic, "c", next),
	}
	waitFor(t, "each member to own 2 partitions", func() bool {
		for _, m := range ms {
			if len(m.partitions()) != 2 {
				return false
			}
		}
		return true
	})
	waitAssigned(t, 6, ms...)

	// The group is a consumer group with three members at the assignment epoch.
	req := kmsg.NewPtrConsumerGroupDescribeRequest()
	req.Groups = []string{"ng"}
	resp, err := req.RequestWith(testCtx(t), tb.client())
	if err != nil {
		t.Fatal(err)
	}
	if g := resp.Groups[0]; g.ErrorCode != 0 || len(g.Members) != 3 || g.AssignorName != "uniform" {
		t.Fatalf("describe: %+v", g)
	}
	lreq := kmsg.NewPtrListGroupsRequest()
	lreq.TypesFilter = []string{"consumer"}
	lresp, err := lreq.RequestWith(testCtx(t), tb.client())
	if err != nil || len(lresp.Groups) != 1 || lresp.Groups[0].Group != "ng" {
		t.Fatalf("list consumer groups: %v %+v", err, lresp)
	}

	const n = 300
	produceValues(t, tb, topic, "r", n)
	waitFor(t, "all records consumed", func() bool { return d.count() == n })

	ms[2].close()
	waitAssigned(t, 6, ms[0], ms[1])
	produceValues(t, tb, topic, "s", 60)
	waitFor(t, "records after the rebalance", func() bool { return d.count() == n+60 })
	ms[0].close()
	ms[1].close()

	d.mu.Lock()
	perMember := map[string]int{}
	for v, who := range d.got {
		if len(who) != 1 {
			t.Errorf("record %s delivered to %v, want exactly one member", v, who)
		}
		perMember[who[0]]++
	}
	d.mu.Unlock()
	for _, name := range []string{"a", "b", "c"} {
		if perMember[name] == 0 {
			t.Errorf("member %s got no records: %v", name, perMember)
		}
	}

	// Resume: a new member starts from what the others committed.
	produceValues(t, tb, topic, "u", 30)
	d2 := newDelivery()
	m := startMember(t, tb, d2, "ng", topic, "d", next)
	waitFor(t, "the 30 new records", func() bool { return d2.count() == 30 })
	d2.mu.Lock()
	for v := range d2.got {
		if v[0] != 'u' {
			t.Errorf("resumed member re-read %s", v)
		}
	}
	d2.mu.Unlock()
	m.close()
}
