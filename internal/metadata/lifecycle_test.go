package metadata

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
)

// fakeClock is a settable clock for broker sessions.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// lifecycleCluster is a controller with no brokers yet, a fake clock and a 10 s session
// timeout.
func lifecycleCluster(t *testing.T, unclean bool) (*Controller, *localQuorum, *fakeClock) {
	t.Helper()
	clock := &fakeClock{now: time.Unix(1000, 0)}
	c, q := newTestController(t, ControllerConfig{
		BrokerSessionTimeout:  10 * time.Second,
		Now:                   clock.Now,
		UncleanLeaderElection: func(map[string]string) bool { return unclean },
	})
	c.Activate()
	return c, q, clock
}

// joinBroker registers broker id and heartbeats it until it is unfenced.
func joinBroker(t *testing.T, c *Controller, q *localQuorum, id int32, rack string) int64 {
	t.Helper()
	ctx := context.Background()
	epoch, err := c.RegisterBroker(ctx, BrokerRegistration{ID: id, Host: "h", Port: 9092, Rack: rack, ClusterID: "test-cluster", Incarnation: RandomUUID()})
	if err != nil {
		t.Fatalf("register %d: %v", id, err)
	}
	if b := q.Image().Brokers[id]; !b.Fenced || b.Epoch != epoch {
		t.Fatalf("broker %d after registration = %+v, want fenced at epoch %d", id, b, epoch)
	}
	res, err := c.Heartbeat(ctx, BrokerHeartbeat{ID: id, Epoch: epoch, MetadataOffset: q.Image().Offset})
	if err != nil || !res.CaughtUp || res.Fenced {
		t.Fatalf("heartbeat %d = %+v, %v; want caught up and unfenced", id, res, err)
	}
	return epoch
}

func heartbeatAll(t *testing.T, c *Controller, q *localQuorum, epochs map[int32]int64, except int32) {
	t.Helper()
	for id, e := range epochs {
		if id == except {
			continue
		}
		if _, err := c.Heartbeat(context.Background(), BrokerHeartbeat{ID: id, Epoch: e, MetadataOffset: q.Image().Offset}); err != nil {
			t.Fatalf("heartbeat %d: %v", id, err)
		}
	}
}

func TestRegisterAndUnfence(t *testing.T) {
	c, q, _ := lifecycleCluster(t, false)
	ctx := context.Background()
	if _, err := c.RegisterBroker(ctx, BrokerRegistration{ID: 1, ClusterID: "other"}); err == nil {
		t.Fatal("registration with another cluster id succeeded")
	} else {
		wantKerr(t, err, kerr.InconsistentClusterID)
	}
	epoch, err := c.RegisterBroker(ctx, BrokerRegistration{ID: 1, Host: "h", Port: 1})
	if err != nil {
		t.Fatal(err)
	}
	// Behind its own registration: stays fenced.
	res, err := c.Heartbeat(ctx, BrokerHeartbeat{ID: 1, Epoch: epoch, MetadataOffset: epoch - 1})
	if err != nil || res.CaughtUp || !res.Fenced {
		t.Fatalf("heartbeat behind = %+v, %v; want fenced, not caught up", res, err)
	}
	if ids := q.Image().UsableBrokerIDs(); len(ids) != 0 {
		t.Fatalf("usable brokers = %v, want none", ids)
	}
	// A fenced broker gets no replicas.
	if _, err := c.CreateTopic(ctx, CreateTopicSpec{Name: "t", NumPartitions: 1, ReplicationFactor: 1}, false); err == nil {
		t.Fatal("topic created with every broker fenced")
	} else {
		wantKerr(t, err, kerr.InvalidReplicationFactor)
	}
	_, err = c.Heartbeat(ctx, BrokerHeartbeat{ID: 1, Epoch: epoch - 1, MetadataOffset: epoch})
	wantKerr(t, err, kerr.StaleBrokerEpoch)
	_, err = c.Heartbeat(ctx, BrokerHeartbeat{ID: 7, Epoch: 0})
	wantKerr(t, err, kerr.BrokerIDNotRegistered)

	res, err = c.Heartbeat(ctx, BrokerHeartbeat{ID: 1, Epoch: epoch, MetadataOffset: epoch})
	if err != nil || res.CaughtUp || !res.Fenced {
		t.Fatalf("heartbeat without its own registration = %+v, %v; want fenced", res, err)
	}
	res, err = c.Heartbeat(ctx, BrokerHeartbeat{ID: 1, Epoch: epoch, MetadataOffset: epoch + 1})
	if err != nil || !res.CaughtUp || res.Fenced {
		t.Fatalf("heartbeat caught up = %+v, %v; want unfenced", res, err)
	}
	if ids := q.Image().UsableBrokerIDs(); !slices.Equal(ids, []int32{1}) {
		t.Fatalf("usable brokers = %v, want [1]", ids)
	}
}

func TestDuplicateRegistration(t *testing.T) {
	c, _, clock := lifecycleCluster(t, false)
	ctx := context.Background()
	first, second := RandomUUID(), RandomUUID()
	epoch, err := c.RegisterBroker(ctx, BrokerRegistration{ID: 1, Incarnation: first})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Heartbeat(ctx, BrokerHeartbeat{ID: 1, Epoch: epoch, MetadataOffset: epoch + 1}); err != nil {
		t.Fatal(err)
	}
	_, err = c.RegisterBroker(ctx, BrokerRegistration{ID: 1, Incarnation: second})
	wantKerr(t, err, kerr.DuplicateBrokerRegistration)
	// The same process registering again (a retry) is fine, and so is a new process
	// once the old one's session has expired.
	if _, err := c.RegisterBroker(ctx, BrokerRegistration{ID: 1, Incarnation: first}); err != nil {
		t.Fatalf("re-registration by the same incarnation: %v", err)
	}
	clock.advance(11 * time.Second)
	if _, err := c.RegisterBroker(ctx, BrokerRegistration{ID: 1, Incarnation: second}); err != nil {
		t.Fatalf("registration after the old session expired: %v", err)
	}
}

func TestCreateTopicReplicationFactorAgainstLiveBrokers(t *testing.T) {
	c, q, _ := lifecycleCluster(t, false)
	ctx := context.Background()
	for id := int32(1); id <= 3; id++ {
		joinBroker(t, c, q, id, "")
	}
	if _, err := c.CreateTopic(ctx, CreateTopicSpec{Name: "four", NumPartitions: 1, ReplicationFactor: 4}, false); err == nil {
		t.Fatal("RF 4 on 3 brokers succeeded")
	} else {
		wantKerr(t, err, kerr.InvalidReplicationFactor)
	}
	top, err := c.CreateTopic(ctx, CreateTopicSpec{Name: "three", NumPartitions: 6, ReplicationFactor: 3}, false)
	if err != nil {
		t.Fatal(err)
	}
	leaders := map[int32]int{}
	for _, p := range top.Partitions {
		if len(p.Replicas) != 3 || !sameMembers(p.Replicas, []int32{1, 2, 3}) || !sameMembers(p.ISR, p.Replicas) || p.Leader != p.Replicas[0] {
			t.Fatalf("partition %+v: want replicas on 1,2,3, all in sync, first leads", p)
		}
		leaders[p.Leader]++
	}
	if len(leaders) != 3 {
		t.Fatalf("leaders %v: want leadership spread over the 3 brokers", leaders)
	}
}

func TestRackAwarePlacement(t *testing.T) {
	c, q, _ := lifecycleCluster(t, false)
	racks := map[int32]string{1: "a", 2: "a", 3: "b", 4: "b", 5: "c", 6: "c"}
	for id := int32(1); id <= 6; id++ {
		joinBroker(t, c, q, id, racks[id])
	}
	top, err := c.CreateTopic(context.Background(), CreateTopicSpec{Name: "racked", NumPartitions: 12, ReplicationFactor: 3}, false)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range top.Partitions {
		seen := map[string]bool{}
		for _, r := range p.Replicas {
			seen[racks[r]] = true
		}
		if len(seen) != 3 || len(p.Replicas) != 3 {
			t.Fatalf("partition %d replicas %v span racks %v, want all three", p.ID, p.Replicas, seen)
		}
	}
}

func TestFenceExpiredElectsNewLeaders(t *testing.T) {
	c, q, clock := lifecycleCluster(t, false)
	ctx := context.Background()
	epochs := map[int32]int64{}
	for id := int32(1); id <= 3; id++ {
		epochs[id] = joinBroker(t, c, q, id, "")
	}
	top, err := c.CreateTopic(ctx, CreateTopicSpec{Name: "t", NumPartitions: 3, ReplicationFactor: 3}, false)
	if err != nil {
		t.Fatal(err)
	}
	single, err := c.CreateTopic(ctx, CreateTopicSpec{Name: "single", Assignments: map[int32][]int32{0: {2}}, NumPartitions: -1, ReplicationFactor: -1}, false)
	if err != nil {
		t.Fatal(err)
	}
	if single.Partitions[0].Leader != 2 {
		t.Fatalf("single-replica partition led by %d, want 2", single.Partitions[0].Leader)
	}

	// Broker 2 stops heartbeating; the others keep going.
	clock.advance(6 * time.Second)
	heartbeatAll(t, c, q, epochs, 2)
	if fenced, err := c.FenceExpired(ctx); err != nil || len(fenced) != 0 {
		t.Fatalf("FenceExpired before the timeout = %v, %v", fenced, err)
	}
	clock.advance(6 * time.Second)
	heartbeatAll(t, c, q, epochs, 2)
	fenced, err := c.FenceExpired(ctx)
	if err != nil || !slices.Equal(fenced, []int32{2}) {
		t.Fatalf("FenceExpired = %v, %v; want [2]", fenced, err)
	}
	img := q.Image()
	if !img.Brokers[2].Fenced {
		t.Fatal("broker 2 not fenced")
	}
	for i, p := range img.Topic("t").Partitions {
		before := top.Partitions[i]
		if p.Leader == 2 || slices.Contains(p.ISR, 2) || len(p.ISR) != 2 {
			t.Fatalf("partition %d = %+v: broker 2 still leads or is in the ISR", i, p)
		}
		if before.Leader == 2 && p.LeaderEpoch != before.LeaderEpoch+1 {
			t.Fatalf("partition %d: leader epoch %d after failover, want %d", i, p.LeaderEpoch, before.LeaderEpoch+1)
		}
		if before.Leader != 2 && p.Leader != before.Leader {
			t.Fatalf("partition %d: leader moved from %d to %d though it was alive", i, before.Leader, p.Leader)
		}
	}
	// The only replica is gone: no leader, and the ISR keeps it so it can come back.
	if p := img.Topic("single").Partitions[0]; p.Leader != -1 || !slices.Equal(p.ISR, []int32{2}) {
		t.Fatalf("single-replica partition = %+v, want leader -1 and ISR [2]", p)
	}

	// Broker 2 comes back (a new process registers) and, once unfenced, leads its
	// single-replica partition again.
	epochs[2] = joinBroker(t, c, q, 2, "")
	if p := q.Image().Topic("single").Partitions[0]; p.Leader != 2 {
		t.Fatalf("single-replica partition after broker 2 returned = %+v, want leader 2", p)
	}
}

func TestUncleanElection(t *testing.T) {
	for _, unclean := range []bool{false, true} {
		c, q, clock := lifecycleCluster(t, unclean)
		ctx := context.Background()
		epochs := map[int32]int64{}
		for id := int32(1); id <= 2; id++ {
			epochs[id] = joinBroker(t, c, q, id, "")
		}
		top, err := c.CreateTopic(ctx, CreateTopicSpec{Name: "t", Assignments: map[int32][]int32{0: {2, 1}}, NumPartitions: -1, ReplicationFactor: -1}, false)
		if err != nil {
			t.Fatal(err)
		}
		// Broker 1 fell out of the ISR, then the leader dies.
		p := top.Partitions[0]
		if _, err := c.AlterPartition(ctx, AlterPartitionRequest{BrokerID: 2, BrokerEpoch: epochs[2], TopicID: top.ID, LeaderEpoch: p.LeaderEpoch, PartitionEpoch: p.PartitionEpoch, ISR: []int32{2}}); err != nil {
			t.Fatal(err)
		}
		clock.advance(11 * time.Second)
		heartbeatAll(t, c, q, epochs, 2)
		if _, err := c.FenceExpired(ctx); err != nil {
			t.Fatal(err)
		}
		got := q.Image().Topic("t").Partitions[0]
		if unclean && (got.Leader != 1 || !slices.Equal(got.ISR, []int32{1})) {
			t.Fatalf("unclean: partition = %+v, want out-of-sync broker 1 elected with ISR [1]", got)
		}
		if !unclean && (got.Leader != -1 || !slices.Equal(got.ISR, []int32{2})) {
			t.Fatalf("clean: partition = %+v, want no leader and ISR [2]", got)
		}
	}
}

func TestControlledShutdown(t *testing.T) {
	c, q, _ := lifecycleCluster(t, false)
	ctx := context.Background()
	epochs := map[int32]int64{}
	for id := int32(1); id <= 3; id++ {
		epochs[id] = joinBroker(t, c, q, id, "")
	}
	if _, err := c.CreateTopic(ctx, CreateTopicSpec{Name: "t", NumPartitions: 6, ReplicationFactor: 2}, false); err != nil {
		t.Fatal(err)
	}
	if !leadsAny(q.Image(), 1) {
		t.Fatal("broker 1 leads nothing before the shutdown; the test needs it to")
	}
	res, err := c.Heartbeat(ctx, BrokerHeartbeat{ID: 1, Epoch: epochs[1], MetadataOffset: q.Image().Offset, WantShutdown: true})
	if err != nil || !res.ShouldShutdown {
		t.Fatalf("shutdown heartbeat = %+v, %v; want ShouldShutdown", res, err)
	}
	img := q.Image()
	if !img.Brokers[1].InControlledShutdown || leadsAny(img, 1) {
		t.Fatalf("broker 1 = %+v, leads any = %v", img.Brokers[1], leadsAny(img, 1))
	}
	for _, p := range img.Topic("t").Partitions {
		if slices.Contains(p.ISR, 1) || p.Leader < 0 {
			t.Fatalf("partition %+v: broker 1 still in ISR or no leader", p)
		}
	}
	// A broker in controlled shutdown cannot rejoin an ISR.
	for _, p := range img.Topic("t").Partitions {
		if slices.Contains(p.Replicas, 1) {
			_, err := c.AlterPartition(ctx, AlterPartitionRequest{BrokerID: p.Leader, BrokerEpoch: epochs[p.Leader], TopicID: img.Topic("t").ID, Partition: p.ID, LeaderEpoch: p.LeaderEpoch, PartitionEpoch: p.PartitionEpoch, ISR: append(slices.Clone(p.ISR), 1)})
			wantKerr(t, err, kerr.IneligibleReplica)
			break
		}
	}
}

func TestAlterPartition(t *testing.T) {
	c, q, _ := lifecycleCluster(t, false)
	ctx := context.Background()
	epochs := map[int32]int64{}
	for id := int32(1); id <= 3; id++ {
		epochs[id] = joinBroker(t, c, q, id, "")
	}
	top, err := c.CreateTopic(ctx, CreateTopicSpec{Name: "t", Assignments: map[int32][]int32{0: {1, 2, 3}}, NumPartitions: -1, ReplicationFactor: -1}, false)
	if err != nil {
		t.Fatal(err)
	}
	p := top.Partitions[0]
	req := func(broker int32, leaderEpoch, partEpoch int32, isr ...int32) AlterPartitionRequest {
		return AlterPartitionRequest{BrokerID: broker, BrokerEpoch: epochs[broker], TopicID: top.ID, LeaderEpoch: leaderEpoch, PartitionEpoch: partEpoch, ISR: isr}
	}
	bad := []struct {
		name string
		req  AlterPartitionRequest
		want *kerr.Error
	}{
		{"not the leader", req(2, p.LeaderEpoch, p.PartitionEpoch, 1, 2), kerr.NotLeaderForPartition},
		{"old leader epoch", req(1, p.LeaderEpoch-1, p.PartitionEpoch, 1, 2), kerr.FencedLeaderEpoch},
		{"old partition epoch", req(1, p.LeaderEpoch, p.PartitionEpoch+1, 1, 2), kerr.InvalidUpdateVersion},
		{"leader left out", req(1, p.LeaderEpoch, p.PartitionEpoch, 2, 3), kerr.InvalidRequest},
		{"not a replica", req(1, p.LeaderEpoch, p.PartitionEpoch, 1, 4), kerr.InvalidRequest},
		{"listed twice", req(1, p.LeaderEpoch, p.PartitionEpoch, 1, 1), kerr.InvalidRequest},
		{"stale broker epoch", AlterPartitionRequest{BrokerID: 1, BrokerEpoch: epochs[1] - 1, TopicID: top.ID, LeaderEpoch: p.LeaderEpoch, PartitionEpoch: p.PartitionEpoch, ISR: []int32{1}}, kerr.StaleBrokerEpoch},
		{"unknown topic", AlterPartitionRequest{BrokerID: 1, BrokerEpoch: -1, TopicID: RandomUUID(), ISR: []int32{1}}, kerr.UnknownTopicID},
	}
	for _, tt := range bad {
		t.Run(tt.name, func(t *testing.T) {
			_, err := c.AlterPartition(ctx, tt.req)
			wantKerr(t, err, tt.want)
		})
	}
	got, err := c.AlterPartition(ctx, req(1, p.LeaderEpoch, p.PartitionEpoch, 1, 3))
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got.ISR, []int32{1, 3}) || got.PartitionEpoch != p.PartitionEpoch+1 || got.LeaderEpoch != p.LeaderEpoch {
		t.Fatalf("after shrink: %+v", got)
	}
	if img := q.Image().Topic("t").Partitions[0]; !slices.Equal(img.ISR, []int32{1, 3}) {
		t.Fatalf("image ISR = %v", img.ISR)
	}
	// Broker 2 is fenced: it cannot be added back.
	res, err := c.Heartbeat(ctx, BrokerHeartbeat{ID: 2, Epoch: epochs[2], MetadataOffset: q.Image().Offset, WantFence: true})
	if err != nil || !res.Fenced {
		t.Fatalf("fence request = %+v, %v", res, err)
	}
	_, err = c.AlterPartition(ctx, req(1, got.LeaderEpoch, got.PartitionEpoch, 1, 2, 3))
	wantKerr(t, err, kerr.IneligibleReplica)
}

func TestReRegistrationMovesLeadership(t *testing.T) {
	c, q, _ := lifecycleCluster(t, false)
	ctx := context.Background()
	for id := int32(1); id <= 2; id++ {
		joinBroker(t, c, q, id, "")
	}
	top, err := c.CreateTopic(ctx, CreateTopicSpec{Name: "t", Assignments: map[int32][]int32{0: {1, 2}}, NumPartitions: -1, ReplicationFactor: -1}, false)
	if err != nil {
		t.Fatal(err)
	}
	// Broker 1 restarts after a crash before its session expired.
	if _, err := c.RegisterBroker(ctx, BrokerRegistration{ID: 1, Incarnation: RandomUUID()}); err == nil {
		t.Fatal("a new process registered while the old session is alive")
	}
	c.sessMu.Lock()
	c.sessions[1].lastSeen = time.Time{}
	c.sessMu.Unlock()
	if _, err := c.RegisterBroker(ctx, BrokerRegistration{ID: 1, Incarnation: RandomUUID()}); err != nil {
		t.Fatal(err)
	}
	p := q.Image().Topic("t").Partitions[0]
	if p.Leader != 2 || !slices.Equal(p.ISR, []int32{2}) || p.LeaderEpoch != top.Partitions[0].LeaderEpoch+1 {
		t.Fatalf("after broker 1 re-registered: %+v, want leader 2, ISR [2], new epoch", p)
	}
}

func TestClusterSecret(t *testing.T) {
	c, q, _ := lifecycleCluster(t, false)
	ctx := context.Background()
	if err := c.EnsureClusterSecret(ctx); err != nil {
		t.Fatal(err)
	}
	secret := q.Image().ClusterSecret
	if len(secret) != 64 {
		t.Fatalf("secret %q: want 64 hex digits", secret)
	}
	// Set once: a second call keeps it, another value is refused.
	if err := c.EnsureClusterSecret(ctx); err != nil || q.Image().ClusterSecret != secret {
		t.Fatalf("second EnsureClusterSecret changed the secret or failed: %v", err)
	}
	_, err := q.Image().Apply([]Record{{Type: RecordClusterSecret, ClusterSecret: &ClusterSecretRecord{Secret: "other"}}})
	wantKerr(t, err, kerr.InvalidRequest)
	// It survives the file format.
	data, err := EncodeImage(q.Image())
	if err != nil {
		t.Fatal(err)
	}
	back, err := DecodeImage(data)
	if err != nil || back.ClusterSecret != secret {
		t.Fatalf("decoded secret %q, %v; want %q", back.ClusterSecret, err, secret)
	}
}
