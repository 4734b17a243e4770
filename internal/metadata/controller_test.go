package metadata

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
)

// newTestController returns a controller over an in-memory quorum holding brokers, with
// the placement start fixed at broker index 0.
func newTestController(t *testing.T, cfg ControllerConfig, brokers ...int32) (*Controller, *localQuorum) {
	t.Helper()
	q := newMemQuorum(t, brokers...)
	c := NewController(q, cfg)
	c.intn = func(int) int { return 0 }
	return c, q
}

// rejectBadConfig accepts any overrides except the key "bad".
func rejectBadConfig(m map[string]string) error {
	if _, ok := m["bad"]; ok {
		return errors.New("config bad is not allowed")
	}
	if _, ok := m["policy"]; ok {
		return fmt.Errorf("policy says no: %w", kerr.PolicyViolation)
	}
	return nil
}

func TestValidateTopicName(t *testing.T) {
	tests := []struct {
		name string
		ok   bool
	}{
		{"orders", true},
		{"a.b_c-D9", true},
		{"...", true},
		{strings.Repeat("x", 249), true},
		{strings.Repeat("x", 250), false},
		{"", false},
		{".", false},
		{"..", false},
		{"a b", false},
		{"a/b", false},
		{"a:b", false},
		{"a\x00", false},
		{"ünïcode", false},
		{"a*", false},
	}
	for _, tt := range tests {
		err := ValidateTopicName(tt.name)
		if tt.ok && err != nil {
			t.Errorf("ValidateTopicName(%.30q) = %v, want ok", tt.name, err)
		}
		if !tt.ok {
			var ke *kerr.Error
			if !errors.As(err, &ke) || ke != kerr.InvalidTopicException {
				t.Errorf("ValidateTopicName(%.30q) = %v, want INVALID_TOPIC_EXCEPTION", tt.name, err)
			}
		}
	}
}

func TestCreateTopic(t *testing.T) {
	c, q := newTestController(t, ControllerConfig{NumPartitions: 3, DefaultReplicationFactor: 2, ValidateTopicConfig: rejectBadConfig}, 1, 2, 3)
	ctx := context.Background()
	topic, err := c.CreateTopic(ctx, CreateTopicSpec{Name: "t", NumPartitions: -1, ReplicationFactor: -1, Configs: map[string]string{"retention.ms": "5"}}, false)
	if err != nil {
		t.Fatal(err)
	}
	if topic != q.Image().Topic("t") || topic.ID.IsZero() || q.Image().TopicByID(topic.ID) != topic {
		t.Fatal("returned topic is not the one in the image")
	}
	if len(topic.Partitions) != 3 || topic.ReplicationFactor() != 2 {
		t.Fatalf("got %d partitions rf %d, want the defaults 3 and 2", len(topic.Partitions), topic.ReplicationFactor())
	}
	for i, p := range topic.Partitions {
		if p.ID != int32(i) || p.Leader != p.Replicas[0] || p.LeaderEpoch != 0 || p.PartitionEpoch != 0 || !reflect.DeepEqual(p.ISR, p.Replicas) {
			t.Errorf("partition %d = %+v, want leader = first replica, isr = replicas, epochs 0", i, p)
		}
	}
	if !reflect.DeepEqual(topic.Configs, map[string]string{"retention.ms": "5"}) {
		t.Fatalf("configs %v", topic.Configs)
	}

	// Explicit assignment.
	topic, err = c.CreateTopic(ctx, CreateTopicSpec{Name: "manual", NumPartitions: -1, ReplicationFactor: -1,
		Assignments: map[int32][]int32{0: {3, 1}, 1: {2}}}, false)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(topic.Partitions[0].Replicas, []int32{3, 1}) || topic.Partitions[0].Leader != 3 || !reflect.DeepEqual(topic.Partitions[1].Replicas, []int32{2}) {
		t.Fatalf("manual placement not honoured: %+v", topic.Partitions)
	}

	// validateOnly: the topic comes back, nothing is proposed.
	before := q.Image()
	topic, err = c.CreateTopic(ctx, CreateTopicSpec{Name: "dry", NumPartitions: 2, ReplicationFactor: 1}, true)
	if err != nil || topic == nil || topic.Name != "dry" || len(topic.Partitions) != 2 {
		t.Fatalf("validateOnly: %v, %+v", err, topic)
	}
	if q.Image() != before {
		t.Fatal("validateOnly proposed records")
	}
}

func TestCreateTopicErrors(t *testing.T) {
	tests := []struct {
		name string
		spec CreateTopicSpec
		want *kerr.Error
	}{
		{"exists", CreateTopicSpec{Name: "taken", NumPartitions: 1, ReplicationFactor: 1}, kerr.TopicAlreadyExists},
		{"collides", CreateTopicSpec{Name: "a_b", NumPartitions: 1, ReplicationFactor: 1}, kerr.InvalidTopicException},
		{"empty name", CreateTopicSpec{Name: "", NumPartitions: 1, ReplicationFactor: 1}, kerr.InvalidTopicException},
		{"bad name", CreateTopicSpec{Name: "a?", NumPartitions: 1, ReplicationFactor: 1}, kerr.InvalidTopicException},
		{"zero partitions", CreateTopicSpec{Name: "x", NumPartitions: 0, ReplicationFactor: 1}, kerr.InvalidPartitions},
		{"negative partitions", CreateTopicSpec{Name: "x", NumPartitions: -5, ReplicationFactor: 1}, kerr.InvalidPartitions},
		{"too many partitions", CreateTopicSpec{Name: "x", NumPartitions: MaxPartitionsPerRequest + 1, ReplicationFactor: 1}, kerr.InvalidPartitions},
		{"zero rf", CreateTopicSpec{Name: "x", NumPartitions: 1, ReplicationFactor: 0}, kerr.InvalidReplicationFactor},
		{"negative rf", CreateTopicSpec{Name: "x", NumPartitions: 1, ReplicationFactor: -2}, kerr.InvalidReplicationFactor},
		{"rf above brokers", CreateTopicSpec{Name: "x", NumPartitions: 1, ReplicationFactor: 4}, kerr.InvalidReplicationFactor},
		{"default rf above brokers", CreateTopicSpec{Name: "x", NumPartitions: 1, ReplicationFactor: -1}, kerr.InvalidReplicationFactor},
		{"assignment and counts", CreateTopicSpec{Name: "x", NumPartitions: 1, ReplicationFactor: -1, Assignments: map[int32][]int32{0: {1}}}, kerr.InvalidRequest},
		{"assignment gap", CreateTopicSpec{Name: "x", NumPartitions: -1, ReplicationFactor: -1, Assignments: map[int32][]int32{0: {1}, 2: {1}}}, kerr.InvalidReplicaAssignment},
		{"assignment empty", CreateTopicSpec{Name: "x", NumPartitions: -1, ReplicationFactor: -1, Assignments: map[int32][]int32{0: {}}}, kerr.InvalidReplicaAssignment},
		{"assignment duplicate", CreateTopicSpec{Name: "x", NumPartitions: -1, ReplicationFactor: -1, Assignments: map[int32][]int32{0: {1, 1}}}, kerr.InvalidReplicaAssignment},
		{"assignment unknown broker", CreateTopicSpec{Name: "x", NumPartitions: -1, ReplicationFactor: -1, Assignments: map[int32][]int32{0: {1, 7}}}, kerr.InvalidReplicaAssignment},
		{"bad config", CreateTopicSpec{Name: "x", NumPartitions: 1, ReplicationFactor: 1, Configs: map[string]string{"bad": "1"}}, kerr.InvalidConfig},
		{"config policy keeps its code", CreateTopicSpec{Name: "x", NumPartitions: 1, ReplicationFactor: 1, Configs: map[string]string{"policy": "1"}}, kerr.PolicyViolation},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, q := newTestController(t, ControllerConfig{NumPartitions: 1, DefaultReplicationFactor: 5, ValidateTopicConfig: rejectBadConfig}, 1, 2, 3)
			for _, name := range []string{"taken", "a.b"} {
				if _, err := c.CreateTopic(context.Background(), CreateTopicSpec{Name: name, NumPartitions: 1, ReplicationFactor: 1}, false); err != nil {
					t.Fatal(err)
				}
			}
			before := q.Image()
			for _, validateOnly := range []bool{true, false} {
				topic, err := c.CreateTopic(context.Background(), tt.spec, validateOnly)
				wantKerr(t, err, tt.want)
				if topic != nil || !strings.HasPrefix(err.Error(), "metadata: ") {
					t.Fatalf("topic %v, error %q", topic, err)
				}
			}
			if q.Image() != before {
				t.Fatal("a failed CreateTopic proposed records")
			}
		})
	}
}

func TestPlacement(t *testing.T) {
	// Kafka's AdminUtils test case: brokers 0..4, 10 partitions, rf 3, start index 0.
	want := [][]int32{
		{0, 1, 2}, {1, 2, 3}, {2, 3, 4}, {3, 4, 0}, {4, 0, 1},
		{0, 2, 3}, {1, 3, 4}, {2, 4, 0}, {3, 0, 1}, {4, 1, 2},
	}
	if got := placeReplicas([]int32{0, 1, 2, 3, 4}, 10, 3, 0, 0, 0); !reflect.DeepEqual(got, want) {
		t.Fatalf("placeReplicas = %v\nwant %v", got, want)
	}

	// Through the controller, with brokers registered by records and a random start.
	brokers := []int32{10, 20, 30, 40, 50}
	for start := range brokers {
		c, _ := newTestController(t, ControllerConfig{}, brokers...)
		c.intn = func(n int) int {
			if n != len(brokers) {
				t.Fatalf("intn(%d), want the broker count %d", n, len(brokers))
			}
			return start
		}
		topic, err := c.CreateTopic(context.Background(), CreateTopicSpec{Name: "t", NumPartitions: 10, ReplicationFactor: 3}, false)
		if err != nil {
			t.Fatal(err)
		}
		leaders := make(map[int32]int)
		replicas := make(map[int32]int)
		for i, p := range topic.Partitions {
			if p.Replicas[0] != brokers[(i+start)%len(brokers)] {
				t.Fatalf("start %d: partition %d led by %d, want round robin from broker %d", start, i, p.Replicas[0], brokers[start])
			}
			seen := map[int32]bool{}
			for _, r := range p.Replicas {
				if seen[r] {
					t.Fatalf("partition %d has replica %d twice", i, r)
				}
				seen[r] = true
				replicas[r]++
			}
			leaders[p.Leader]++
		}
		for _, b := range brokers {
			if leaders[b] != 2 || replicas[b] != 6 {
				t.Fatalf("start %d: broker %d leads %d and holds %d replicas, want 2 and 6", start, b, leaders[b], replicas[b])
			}
		}
	}
}

func TestCreatePartitions(t *testing.T) {
	ctx := context.Background()
	c, q := newTestController(t, ControllerConfig{}, 0, 1, 2, 3, 4)
	if _, err := c.CreateTopic(ctx, CreateTopicSpec{Name: "t", NumPartitions: 5, ReplicationFactor: 3}, false); err != nil {
		t.Fatal(err)
	}
	before := q.Image()
	if err := c.CreatePartitions(ctx, "t", 10, nil, true); err != nil || q.Image() != before {
		t.Fatalf("validateOnly: err %v, image changed %v", err, q.Image() != before)
	}
	if err := c.CreatePartitions(ctx, "t", 10, nil, false); err != nil {
		t.Fatal(err)
	}
	// Growing continues Kafka's placement as if the topic had been created with 10.
	want := placeReplicas([]int32{0, 1, 2, 3, 4}, 10, 3, 0, 0, 0)
	var got [][]int32
	for _, p := range q.Image().Topic("t").Partitions {
		got = append(got, p.Replicas)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("after growth %v\nwant %v", got, want)
	}
	if err := c.CreatePartitions(ctx, "t", 12, [][]int32{{4, 3, 2}, {0, 1, 2}}, false); err != nil {
		t.Fatal(err)
	}
	if p := q.Image().Partition("t", 10); p == nil || !reflect.DeepEqual(p.Replicas, []int32{4, 3, 2}) || p.Leader != 4 {
		t.Fatalf("manual partition 10 = %+v", p)
	}

	tests := []struct {
		name        string
		topic       string
		total       int32
		assignments [][]int32
		want        *kerr.Error
	}{
		{"unknown topic", "nope", 20, nil, kerr.UnknownTopicOrPartition},
		{"same count", "t", 12, nil, kerr.InvalidPartitions},
		{"fewer", "t", 3, nil, kerr.InvalidPartitions},
		{"too many", "t", 12 + MaxPartitionsPerRequest + 1, nil, kerr.InvalidPartitions},
		{"assignment count", "t", 14, [][]int32{{0, 1, 2}}, kerr.InvalidReplicaAssignment},
		{"assignment rf", "t", 13, [][]int32{{0, 1}}, kerr.InvalidReplicaAssignment},
		{"assignment duplicate", "t", 13, [][]int32{{0, 1, 1}}, kerr.InvalidReplicaAssignment},
		{"assignment unknown broker", "t", 13, [][]int32{{0, 1, 9}}, kerr.InvalidReplicaAssignment},
	}
	before = q.Image()
	for _, tt := range tests {
		for _, validateOnly := range []bool{true, false} {
			err := c.CreatePartitions(ctx, tt.topic, tt.total, tt.assignments, validateOnly)
			t.Run(tt.name, func(t *testing.T) { wantKerr(t, err, tt.want) })
		}
	}
	if q.Image() != before {
		t.Fatal("a failed CreatePartitions proposed records")
	}
}

func TestDeleteTopic(t *testing.T) {
	ctx := context.Background()
	c, q := newTestController(t, ControllerConfig{}, 1)
	a, _ := c.CreateTopic(ctx, CreateTopicSpec{Name: "a", NumPartitions: 1, ReplicationFactor: 1}, false)
	b, _ := c.CreateTopic(ctx, CreateTopicSpec{Name: "b", NumPartitions: 1, ReplicationFactor: 1}, false)

	if got, err := c.DeleteTopic(ctx, "a", UUID{}); err != nil || got.ID != a.ID {
		t.Fatalf("delete by name: %v, %+v", err, got)
	}
	if got, err := c.DeleteTopic(ctx, "", b.ID); err != nil || got.Name != "b" {
		t.Fatalf("delete by id: %v, %+v", err, got)
	}
	if len(q.Image().Topics) != 0 || len(q.Image().TopicsByID) != 0 {
		t.Fatal("topics left after delete")
	}
	_, err := c.DeleteTopic(ctx, "a", UUID{})
	wantKerr(t, err, kerr.UnknownTopicOrPartition)
	_, err = c.DeleteTopic(ctx, "", b.ID)
	wantKerr(t, err, kerr.UnknownTopicID)
	_, err = c.DeleteTopic(ctx, "", UUID{})
	wantKerr(t, err, kerr.UnknownTopicID)
}

func TestIncrementalAlterTopicConfigs(t *testing.T) {
	cfg := ControllerConfig{
		ValidateTopicConfig: rejectBadConfig,
		IsListConfig:        func(k string) bool { return k == "list" || k == "deflist" },
		DefaultTopicConfig: func(k string) (string, bool) {
			if k == "deflist" {
				return "d1,d2", true
			}
			return "", false
		},
	}
	initial := map[string]string{"keep": "1", "gone": "2", "list": "a,b"}
	tests := []struct {
		name string
		ops  []ConfigOp
		want map[string]string
		err  *kerr.Error
	}{
		{"set", []ConfigOp{{Key: "new", Op: OpSet, Value: ptr("x")}, {Key: "keep", Op: OpSet, Value: ptr("9")}},
			map[string]string{"keep": "9", "gone": "2", "list": "a,b", "new": "x"}, nil},
		{"delete", []ConfigOp{{Key: "gone", Op: OpDelete}, {Key: "absent", Op: OpDelete}},
			map[string]string{"keep": "1", "list": "a,b"}, nil},
		{"append", []ConfigOp{{Key: "list", Op: OpAppend, Value: ptr("b,c")}},
			map[string]string{"keep": "1", "gone": "2", "list": "a,b,c"}, nil},
		{"append to default", []ConfigOp{{Key: "deflist", Op: OpAppend, Value: ptr("d3")}},
			map[string]string{"keep": "1", "gone": "2", "list": "a,b", "deflist": "d1,d2,d3"}, nil},
		{"subtract", []ConfigOp{{Key: "list", Op: OpSubtract, Value: ptr("a,z")}},
			map[string]string{"keep": "1", "gone": "2", "list": "b"}, nil},
		{"subtract all", []ConfigOp{{Key: "list", Op: OpSubtract, Value: ptr("a,b")}},
			map[string]string{"keep": "1", "gone": "2", "list": ""}, nil},
		{"append to non-list", []ConfigOp{{Key: "keep", Op: OpAppend, Value: ptr("x")}}, nil, kerr.InvalidConfig},
		{"subtract from non-list", []ConfigOp{{Key: "keep", Op: OpSubtract, Value: ptr("x")}}, nil, kerr.InvalidConfig},
		{"set without value", []ConfigOp{{Key: "keep", Op: OpSet}}, nil, kerr.InvalidRequest},
		{"duplicate key", []ConfigOp{{Key: "keep", Op: OpDelete}, {Key: "keep", Op: OpDelete}}, nil, kerr.InvalidRequest},
		{"unknown op", []ConfigOp{{Key: "keep", Op: 9}}, nil, kerr.InvalidRequest},
		{"empty key", []ConfigOp{{Key: "", Op: OpSet, Value: ptr("x")}}, nil, kerr.InvalidConfig},
		{"invalid result", []ConfigOp{{Key: "bad", Op: OpSet, Value: ptr("x")}}, nil, kerr.InvalidConfig},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			c, q := newTestController(t, cfg, 1)
			if _, err := c.CreateTopic(ctx, CreateTopicSpec{Name: "t", NumPartitions: 1, ReplicationFactor: 1, Configs: initial}, false); err != nil {
				t.Fatal(err)
			}
			before := q.Image()
			err := c.IncrementalAlterTopicConfigs(ctx, "t", tt.ops, true)
			if q.Image() != before {
				t.Fatal("validateOnly proposed records")
			}
			if tt.err != nil {
				wantKerr(t, err, tt.err)
				wantKerr(t, c.IncrementalAlterTopicConfigs(ctx, "t", tt.ops, false), tt.err)
				if q.Image() != before {
					t.Fatal("failed alter proposed records")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if err := c.IncrementalAlterTopicConfigs(ctx, "t", tt.ops, false); err != nil {
				t.Fatal(err)
			}
			if got := q.Image().Topic("t").Configs; !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("configs %v, want %v", got, tt.want)
			}
		})
	}

	c, _ := newTestController(t, cfg, 1)
	wantKerr(t, c.IncrementalAlterTopicConfigs(context.Background(), "nope", []ConfigOp{{Key: "k", Op: OpDelete}}, false), kerr.UnknownTopicOrPartition)
}

func TestReplaceTopicConfigs(t *testing.T) {
	ctx := context.Background()
	c, q := newTestController(t, ControllerConfig{ValidateTopicConfig: rejectBadConfig}, 1)
	if _, err := c.CreateTopic(ctx, CreateTopicSpec{Name: "t", NumPartitions: 1, ReplicationFactor: 1, Configs: map[string]string{"a": "1", "b": "2"}}, false); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"b": "3", "c": "4"}
	if err := c.ReplaceTopicConfigs(ctx, "t", want, true); err != nil || len(q.Image().Topic("t").Configs) != 2 || q.Image().Topic("t").Configs["a"] != "1" {
		t.Fatalf("validateOnly: %v, configs %v", err, q.Image().Topic("t").Configs)
	}
	if err := c.ReplaceTopicConfigs(ctx, "t", want, false); err != nil {
		t.Fatal(err)
	}
	if got := q.Image().Topic("t").Configs; !reflect.DeepEqual(got, want) {
		t.Fatalf("configs %v, want %v", got, want)
	}
	offset := q.Image().Offset
	if err := c.ReplaceTopicConfigs(ctx, "t", want, false); err != nil || q.Image().Offset != offset {
		t.Fatalf("no-op replace: %v, offset %d -> %d", err, offset, q.Image().Offset)
	}
	if err := c.ReplaceTopicConfigs(ctx, "t", nil, false); err != nil || len(q.Image().Topic("t").Configs) != 0 {
		t.Fatalf("clear: %v, configs %v", err, q.Image().Topic("t").Configs)
	}
	wantKerr(t, c.ReplaceTopicConfigs(ctx, "nope", want, false), kerr.UnknownTopicOrPartition)
	wantKerr(t, c.ReplaceTopicConfigs(ctx, "t", map[string]string{"bad": "x"}, false), kerr.InvalidConfig)
	wantKerr(t, c.ReplaceTopicConfigs(ctx, "t", map[string]string{"": "x"}, false), kerr.InvalidConfig)
}

func TestAllocateProducerIDs(t *testing.T) {
	ctx := context.Background()
	c, q := newTestController(t, ControllerConfig{}, 1)
	if first, err := c.AllocateProducerIDs(ctx, 1000); err != nil || first != 0 {
		t.Fatalf("first block: %d, %v", first, err)
	}
	if first, err := c.AllocateProducerIDs(ctx, 10); err != nil || first != 1000 {
		t.Fatalf("second block: %d, %v", first, err)
	}
	if q.Image().NextProducerID != 1010 {
		t.Fatalf("next producer id %d, want 1010", q.Image().NextProducerID)
	}
	for _, n := range []int64{0, -1} {
		_, err := c.AllocateProducerIDs(ctx, n)
		wantKerr(t, err, kerr.InvalidRequest)
	}
	_, err := c.AllocateProducerIDs(ctx, 1<<63-1)
	wantKerr(t, err, kerr.UnknownServerError)
}

func TestConcurrentCreateTopic(t *testing.T) {
	c, q := newTestController(t, ControllerConfig{}, 1, 2)
	const n = 8
	errs := make(chan error, n)
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() {
			_, err := c.CreateTopic(context.Background(), CreateTopicSpec{Name: "same", NumPartitions: 2, ReplicationFactor: 2}, false)
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	won := 0
	for err := range errs {
		if err == nil {
			won++
			continue
		}
		wantKerr(t, err, kerr.TopicAlreadyExists)
	}
	if won != 1 || len(q.Image().Topics) != 1 {
		t.Fatalf("%d creations succeeded, %d topics exist; want exactly one", won, len(q.Image().Topics))
	}
}

func TestControllerHonoursContextWhileWaiting(t *testing.T) {
	c, q := newTestController(t, ControllerConfig{}, 1)
	c.sem <- struct{}{} // another sequence is running
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := c.CreateTopic(ctx, CreateTopicSpec{Name: "t", NumPartitions: 1, ReplicationFactor: 1}, false)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("error %v, want context.Canceled", err)
	}
	<-c.sem
	if q.Image().Topic("t") != nil {
		t.Fatal("topic created although the context was cancelled")
	}
}

func TestControllerPropagatesProposeFailure(t *testing.T) {
	c, q := newTestController(t, ControllerConfig{}, 1)
	q.persist = func(*Image) error { return errors.New("disk on fire") }
	_, err := c.CreateTopic(context.Background(), CreateTopicSpec{Name: "t", NumPartitions: 1, ReplicationFactor: 1}, false)
	wantKerr(t, err, kerr.KafkaStorageError)
	_, err = c.AllocateProducerIDs(context.Background(), 1)
	wantKerr(t, err, kerr.KafkaStorageError)
	if q.Image().Topic("t") != nil || q.Image().NextProducerID != 0 {
		t.Fatal("failed proposals changed the image")
	}
}

// Apply itself refuses a second topic of the same name, so these two tests target what
// only the controller's serialisation prevents: colliding names and producer-id blocks.
func TestConcurrentCreateCollidingTopics(t *testing.T) {
	c, q := newTestController(t, ControllerConfig{}, 1)
	names := []string{"a.b", "a_b", "a.b", "a_b", "a.b", "a_b"}
	errs := make(chan error, len(names))
	var wg sync.WaitGroup
	for _, name := range names {
		wg.Go(func() {
			_, err := c.CreateTopic(context.Background(), CreateTopicSpec{Name: name, NumPartitions: 1, ReplicationFactor: 1}, false)
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	won := 0
	for err := range errs {
		if err == nil {
			won++
		}
	}
	if won != 1 || len(q.Image().Topics) != 1 {
		t.Fatalf("%d creations succeeded, topics %v; want exactly one", won, q.Image().TopicNames())
	}
}

func TestConcurrentAllocateProducerIDs(t *testing.T) {
	c, q := newTestController(t, ControllerConfig{}, 1)
	const n, size = 8, 10
	firsts := make(chan int64, n)
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() {
			first, err := c.AllocateProducerIDs(context.Background(), size)
			if err != nil {
				t.Error(err)
			}
			firsts <- first
		})
	}
	wg.Wait()
	close(firsts)
	seen := map[int64]bool{}
	for f := range firsts {
		if seen[f] || f%size != 0 || f >= n*size {
			t.Fatalf("block starting at %d overlaps another", f)
		}
		seen[f] = true
	}
	if q.Image().NextProducerID != n*size {
		t.Fatalf("next producer id %d, want %d", q.Image().NextProducerID, n*size)
	}
}
