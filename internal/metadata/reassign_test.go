package metadata

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
)

// reassignCluster is a lifecycle cluster with brokers 1..n unfenced and topic "t" of
// one partition on replicas, led by replicas[0].
func reassignCluster(t *testing.T, unclean bool, n int32, replicas ...int32) (*Controller, *localQuorum, *fakeClock, map[int32]int64) {
	t.Helper()
	c, q, clock := lifecycleCluster(t, unclean)
	epochs := make(map[int32]int64)
	for id := int32(1); id <= n; id++ {
		epochs[id] = joinBroker(t, c, q, id, "")
	}
	if _, err := c.CreateTopic(context.Background(), CreateTopicSpec{Name: "t", NumPartitions: -1, ReplicationFactor: -1, Assignments: map[int32][]int32{0: replicas}}, false); err != nil {
		t.Fatal(err)
	}
	return c, q, clock, epochs
}

func part0(q *localQuorum) Partition { return *q.Image().Partition("t", 0) }

// wantPart checks replicas, ISR, leader and the reassignment lists of t-0.
func wantPart(t *testing.T, q *localQuorum, replicas, isr []int32, leader int32, adding, removing []int32) Partition {
	t.Helper()
	p := part0(q)
	if !slices.Equal(p.Replicas, replicas) || !slices.Equal(p.ISR, isr) || p.Leader != leader ||
		!slices.Equal(p.AddingReplicas, adding) || !slices.Equal(p.RemovingReplicas, removing) {
		t.Fatalf("t-0 = replicas %v isr %v leader %d adding %v removing %v; want %v %v %d %v %v",
			p.Replicas, p.ISR, p.Leader, p.AddingReplicas, p.RemovingReplicas, replicas, isr, leader, adding, removing)
	}
	return p
}

// alterISR sends the leader's AlterPartition for t-0.
func alterISR(t *testing.T, c *Controller, q *localQuorum, epochs map[int32]int64, isr ...int32) {
	t.Helper()
	p := part0(q)
	if _, err := c.AlterPartition(context.Background(), AlterPartitionRequest{
		BrokerID: p.Leader, BrokerEpoch: epochs[p.Leader], TopicID: q.Image().Topic("t").ID, Partition: 0,
		LeaderEpoch: p.LeaderEpoch, PartitionEpoch: p.PartitionEpoch, ISR: isr,
	}); err != nil {
		t.Fatalf("alter partition to %v: %v", isr, err)
	}
}

func TestReassignCompletesWhenTargetCatchesUp(t *testing.T) {
	c, q, _, epochs := reassignCluster(t, false, 3, 1, 2)
	ctx := context.Background()
	if err := c.AlterPartitionReassignments(ctx, "t", 0, []int32{2, 3}); err != nil {
		t.Fatal(err)
	}
	before := wantPart(t, q, []int32{2, 3, 1}, []int32{1, 2}, 1, []int32{3}, []int32{1})
	got := c.ListPartitionReassignments(nil)
	if len(got) != 1 || got[0].Topic != "t" || !slices.Equal(got[0].Replicas, []int32{2, 3, 1}) ||
		!slices.Equal(got[0].AddingReplicas, []int32{3}) || !slices.Equal(got[0].RemovingReplicas, []int32{1}) {
		t.Fatalf("list = %+v", got)
	}
	if got := c.ListPartitionReassignments(map[string][]int32{"t": {1}, "other": {0}}); len(got) != 0 {
		t.Fatalf("filtered list = %+v, want none", got)
	}
	// Catching up: broker 3 joins the ISR and the reassignment completes at once; the
	// leader, being removed, hands over to the first target replica.
	alterISR(t, c, q, epochs, 1, 2, 3)
	after := wantPart(t, q, []int32{2, 3}, []int32{2, 3}, 2, nil, nil)
	if after.LeaderEpoch != before.LeaderEpoch+1 {
		t.Fatalf("leader epoch %d -> %d, want a bump", before.LeaderEpoch, after.LeaderEpoch)
	}
	if got := c.ListPartitionReassignments(nil); len(got) != 0 {
		t.Fatalf("list after completion = %+v", got)
	}
}

func TestReassignCompletesImmediately(t *testing.T) {
	for _, tc := range []struct {
		name          string
		target        []int32
		replicas, isr []int32
		leader        int32
	}{
		{"reorder", []int32{2, 1}, []int32{2, 1}, []int32{1, 2}, 1},
		{"shrink", []int32{2}, []int32{2}, []int32{2}, 2},
		{"same", []int32{1, 2}, []int32{1, 2}, []int32{1, 2}, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, q, _, _ := reassignCluster(t, false, 3, 1, 2)
			if err := c.AlterPartitionReassignments(context.Background(), "t", 0, tc.target); err != nil {
				t.Fatal(err)
			}
			wantPart(t, q, tc.replicas, tc.isr, tc.leader, nil, nil)
		})
	}
}

func TestReassignCancelReverts(t *testing.T) {
	c, q, _, _ := reassignCluster(t, false, 3, 1, 2)
	ctx := context.Background()
	err := c.AlterPartitionReassignments(ctx, "t", 0, nil)
	wantKerr(t, err, kerr.NoReassignmentInProgress)
	if err := c.AlterPartitionReassignments(ctx, "t", 0, []int32{3, 2}); err != nil {
		t.Fatal(err)
	}
	wantPart(t, q, []int32{3, 2, 1}, []int32{1, 2}, 1, []int32{3}, []int32{1})
	if err := c.AlterPartitionReassignments(ctx, "t", 0, nil); err != nil {
		t.Fatal(err)
	}
	wantPart(t, q, []int32{2, 1}, []int32{1, 2}, 1, nil, nil)
	err = c.AlterPartitionReassignments(ctx, "t", 0, nil)
	wantKerr(t, err, kerr.NoReassignmentInProgress)
}

func TestReassignErrors(t *testing.T) {
	c, q, _, _ := reassignCluster(t, false, 3, 1, 2)
	for _, tc := range []struct {
		name      string
		topic     string
		partition int32
		target    []int32
		want      *kerr.Error
	}{
		{"empty", "t", 0, []int32{}, kerr.InvalidReplicaAssignment},
		{"duplicate", "t", 0, []int32{2, 2}, kerr.InvalidReplicaAssignment},
		{"unregistered", "t", 0, []int32{2, 9}, kerr.InvalidReplicaAssignment},
		{"unknown topic", "nope", 0, []int32{1}, kerr.UnknownTopicOrPartition},
		{"unknown partition", "t", 5, []int32{1}, kerr.UnknownTopicOrPartition},
		{"cancel unknown", "nope", 0, nil, kerr.UnknownTopicOrPartition},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := q.Image().Offset
			err := c.AlterPartitionReassignments(context.Background(), tc.topic, tc.partition, tc.target)
			wantKerr(t, err, tc.want)
			if q.Image().Offset != before {
				t.Fatal("a refused reassignment proposed records")
			}
		})
	}
}

// Fencing a replica being removed while it leads moves leadership to the target and
// keeps the reassignment going; it completes once the new replica catches up.
func TestReassignSurvivesFencing(t *testing.T) {
	c, q, clock, epochs := reassignCluster(t, false, 3, 1, 2)
	ctx := context.Background()
	if err := c.AlterPartitionReassignments(ctx, "t", 0, []int32{2, 3}); err != nil {
		t.Fatal(err)
	}
	clock.advance(6 * time.Second)
	heartbeatAll(t, c, q, epochs, 1)
	clock.advance(6 * time.Second)
	if fenced, err := c.FenceExpired(ctx); err != nil || !slices.Equal(fenced, []int32{1}) {
		t.Fatalf("FenceExpired = %v, %v; want [1]", fenced, err)
	}
	wantPart(t, q, []int32{2, 3, 1}, []int32{2}, 2, []int32{3}, []int32{1})
	alterISR(t, c, q, epochs, 2, 3)
	wantPart(t, q, []int32{2, 3}, []int32{2, 3}, 2, nil, nil)
}

// A controlled shutdown of the leader being removed also keeps the reassignment.
func TestReassignSurvivesControlledShutdown(t *testing.T) {
	c, q, _, epochs := reassignCluster(t, false, 3, 1, 2)
	ctx := context.Background()
	if err := c.AlterPartitionReassignments(ctx, "t", 0, []int32{2, 3}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Heartbeat(ctx, BrokerHeartbeat{ID: 1, Epoch: epochs[1], MetadataOffset: q.Image().Offset, WantShutdown: true}); err != nil {
		t.Fatal(err)
	}
	wantPart(t, q, []int32{2, 3, 1}, []int32{2}, 2, []int32{3}, []int32{1})
}

func TestPreferredElection(t *testing.T) {
	c, q, clock, epochs := reassignCluster(t, false, 2, 1, 2)
	ctx := context.Background()
	elect := func(parts []PartitionRef) []ElectionResult {
		t.Helper()
		res, err := c.ElectLeaders(ctx, ElectPreferred, parts)
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	t0 := []PartitionRef{{Topic: "t", Partition: 0}}
	res := elect(t0)
	wantKerr(t, res[0].Err, kerr.ElectionNotNeeded)
	if res := elect(nil); len(res) != 0 {
		t.Fatalf("elect all = %+v; want partitions needing no election left out", res)
	}
	res = elect([]PartitionRef{{Topic: "t", Partition: 3}})
	wantKerr(t, res[0].Err, kerr.UnknownTopicOrPartition)

	// Broker 1 is fenced: 2 leads; 1 comes back out of the ISR.
	clock.advance(6 * time.Second)
	heartbeatAll(t, c, q, epochs, 1)
	clock.advance(6 * time.Second)
	if _, err := c.FenceExpired(ctx); err != nil {
		t.Fatal(err)
	}
	epochs[1] = joinBroker(t, c, q, 1, "")
	wantPart(t, q, []int32{1, 2}, []int32{2}, 2, nil, nil)
	res = elect(t0)
	wantKerr(t, res[0].Err, kerr.PreferredLeaderNotAvailable)

	alterISR(t, c, q, epochs, 2, 1)
	res = elect(nil)
	if len(res) != 1 || res[0].Err != nil {
		t.Fatalf("elect all = %+v; want t-0 elected", res)
	}
	wantPart(t, q, []int32{1, 2}, []int32{2, 1}, 1, nil, nil)
}

func TestElectLeadersUnclean(t *testing.T) {
	c, q, clock, epochs := reassignCluster(t, false, 2, 1, 2)
	ctx := context.Background()
	t0 := []PartitionRef{{Topic: "t", Partition: 0}}
	res, err := c.ElectLeaders(ctx, ElectUnclean, t0)
	if err != nil {
		t.Fatal(err)
	}
	wantKerr(t, res[0].Err, kerr.ElectionNotNeeded)

	// The ISR shrinks to the leader, which is then fenced: no leader, ISR [1].
	alterISR(t, c, q, epochs, 1)
	clock.advance(6 * time.Second)
	heartbeatAll(t, c, q, epochs, 1)
	clock.advance(6 * time.Second)
	if _, err := c.FenceExpired(ctx); err != nil {
		t.Fatal(err)
	}
	wantPart(t, q, []int32{1, 2}, []int32{1}, -1, nil, nil)
	res, err = c.ElectLeaders(ctx, ElectUnclean, t0)
	if err != nil || res[0].Err != nil {
		t.Fatalf("unclean election = %+v, %v", res, err)
	}
	wantPart(t, q, []int32{1, 2}, []int32{2}, 2, nil, nil)

	// Now with every replica gone.
	clock.advance(6 * time.Second)
	clock.advance(6 * time.Second)
	if _, err := c.FenceExpired(ctx); err != nil {
		t.Fatal(err)
	}
	wantPart(t, q, []int32{1, 2}, []int32{2}, -1, nil, nil)
	res, err = c.ElectLeaders(ctx, ElectUnclean, t0)
	if err != nil {
		t.Fatal(err)
	}
	wantKerr(t, res[0].Err, kerr.EligibleLeadersNotAvailable)
}

func TestRebalanceLeadersThreshold(t *testing.T) {
	for _, tc := range []struct {
		name      string
		pct       int32
		notLeader int // partitions of 10 preferring broker 1 that broker 2 leads
		wantMoved int
	}{
		{"balanced", 10, 0, 0},
		{"at threshold", 10, 1, 0},
		{"above threshold", 10, 2, 2},
		{"zero tolerance", -1, 1, 1},
		{"high tolerance", 50, 5, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, q := newTestController(t, ControllerConfig{LeaderImbalancePerBrokerPercentage: tc.pct}, 1, 2)
			id := UUID{1}
			recs := []Record{topicRec("r", id)}
			for p := range 10 {
				leader := int32(1)
				if p < tc.notLeader {
					leader = 2
				}
				recs = append(recs, Record{Type: RecordPartition, Partition: &PartitionRecord{
					TopicID: id, PartitionID: int32(p), Replicas: []int32{1, 2}, ISR: []int32{1, 2}, Leader: leader,
				}})
			}
			if _, err := q.Propose(context.Background(), recs); err != nil {
				t.Fatal(err)
			}
			moved, err := c.RebalanceLeaders(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if len(moved) != tc.wantMoved {
				t.Fatalf("moved %v, want %d partitions", moved, tc.wantMoved)
			}
			led := 0
			for _, p := range q.Image().Topic("r").Partitions {
				if p.Leader == 1 {
					led++
				}
			}
			if want := 10 - tc.notLeader + tc.wantMoved; led != want {
				t.Fatalf("broker 1 leads %d partitions, want %d", led, want)
			}
		})
	}
}

// The change record tells "unchanged" (absent) from "clear" ([]) for the reassignment
// lists, through JSON too.
func TestReassignmentRecordEncoding(t *testing.T) {
	ch := PartitionChangeRecord{TopicID: UUID{1}, AddingReplicas: []int32{}}
	b, err := json.Marshal(ch)
	if err != nil {
		t.Fatal(err)
	}
	if s := string(b); !strings.Contains(s, `"addingReplicas":[]`) || strings.Contains(s, "removingReplicas") {
		t.Fatalf("encoded %s", s)
	}
	var back PartitionChangeRecord
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if back.AddingReplicas == nil || len(back.AddingReplicas) != 0 || back.RemovingReplicas != nil {
		t.Fatalf("decoded adding %#v removing %#v", back.AddingReplicas, back.RemovingReplicas)
	}

	img := mustApply(t, NewImage(),
		Record{Type: RecordClusterID, ClusterID: &ClusterIDRecord{ClusterID: "c"}},
		Record{Type: RecordControllerChange, ControllerChange: &ControllerChangeRecord{ControllerID: 1}},
		brokerRec(1), brokerRec(2), brokerRec(3), topicRec("t", UUID{1}),
		Record{Type: RecordPartition, Partition: &PartitionRecord{TopicID: UUID{1}, Replicas: []int32{2, 3, 1}, ISR: []int32{1}, Leader: 1, AddingReplicas: []int32{2, 3}, RemovingReplicas: []int32{1}}},
	)
	data, err := EncodeImage(img)
	if err != nil {
		t.Fatal(err)
	}
	dec, err := DecodeImage(data)
	if err != nil {
		t.Fatal(err)
	}
	p := dec.Partition("t", 0)
	if !slices.Equal(p.AddingReplicas, []int32{2, 3}) || !slices.Equal(p.RemovingReplicas, []int32{1}) {
		t.Fatalf("decoded partition %+v", p)
	}
	// Unchanged through a change record without the lists, cleared by empty ones.
	img = mustApply(t, dec, Record{Type: RecordPartitionChange, PartitionChange: &PartitionChangeRecord{TopicID: UUID{1}, ISR: []int32{1, 2}}})
	if p := img.Partition("t", 0); !p.Reassigning() {
		t.Fatalf("reassignment lost: %+v", p)
	}
	img = mustApply(t, img, Record{Type: RecordPartitionChange, PartitionChange: &PartitionChangeRecord{TopicID: UUID{1}, AddingReplicas: []int32{}, RemovingReplicas: []int32{}}})
	if p := img.Partition("t", 0); p.Reassigning() {
		t.Fatalf("reassignment not cleared: %+v", p)
	}
}

func TestApplyRejectsBadReassignment(t *testing.T) {
	base := mustApply(t, NewImage(), brokerRec(1), brokerRec(2), topicRec("t", UUID{1}))
	for _, tc := range []struct {
		name             string
		adding, removing []int32
	}{
		{"adding not a replica", []int32{3}, nil},
		{"removing not a replica", nil, []int32{3}},
		{"both", []int32{1}, []int32{1}},
		{"duplicate", []int32{1, 1}, nil},
		{"all removed", nil, []int32{1, 2}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := base.Apply([]Record{{Type: RecordPartition, Partition: &PartitionRecord{
				TopicID: UUID{1}, Replicas: []int32{1, 2}, ISR: []int32{1}, Leader: 1,
				AddingReplicas: tc.adding, RemovingReplicas: tc.removing,
			}}})
			wantKerr(t, err, kerr.InvalidRequest)
		})
	}
}
