package broker_test

import (
	"context"
	"fmt"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// groupOverrides make new groups form at once instead of after Kafka's 3 s delay.
var groupOverrides = map[string]string{"group.initial.rebalance.delay.ms": "0"}

// delivery records which member got each record value.
type delivery struct {
	mu  sync.Mutex
	got map[string][]string // value -> members that received it
}

func newDelivery() *delivery { return &delivery{got: make(map[string][]string)} }

func (d *delivery) add(member string, r *kgo.Record) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.got[string(r.Value)] = append(d.got[string(r.Value)], member)
}

func (d *delivery) count() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return len(d.got)
}

// groupMember is a kgo group consumer polling in its own goroutine.
type groupMember struct {
	name   string
	cl     *kgo.Client
	cancel context.CancelFunc
	done   chan struct{}

	mu       sync.Mutex
	assigned map[int32]bool
	revoked  int // partitions revoked or lost over the member's life
	records  int
}

func startMember(t *testing.T, tb *testBroker, d *delivery, group, topic, name string, opts ...kgo.Opt) *groupMember {
	t.Helper()
	m := &groupMember{name: name, assigned: make(map[int32]bool), done: make(chan struct{})}
	lose := func(_ context.Context, _ *kgo.Client, lost map[string][]int32) {
		m.mu.Lock()
		defer m.mu.Unlock()
		for _, p := range lost[topic] {
			delete(m.assigned, p)
			m.revoked++
		}
	}
	opts = append([]kgo.Opt{
		kgo.ConsumerGroup(group), kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.OnPartitionsAssigned(func(_ context.Context, _ *kgo.Client, got map[string][]int32) {
			m.mu.Lock()
			defer m.mu.Unlock()
			for _, p := range got[topic] {
				m.assigned[p] = true
			}
		}),
		kgo.OnPartitionsRevoked(func(ctx context.Context, cl *kgo.Client, revoked map[string][]int32) {
			// What kgo's default revoke does: commit what was consumed before giving
			// the partitions up.
			if err := cl.CommitUncommittedOffsets(ctx); err != nil && ctx.Err() == nil {
				t.Errorf("member %s: commit on revoke: %v", name, err)
			}
			lose(ctx, cl, revoked)
		}),
		kgo.OnPartitionsLost(lose),
	}, opts...)
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(tb.Addr), kgo.MetadataMinAge(100 * time.Millisecond)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	m.cl = cl
	ctx, cancel := context.WithCancel(context.Background())
	m.cancel = cancel
	go func() {
		defer close(m.done)
		for ctx.Err() == nil {
			fs := cl.PollFetches(ctx)
			fs.EachRecord(func(r *kgo.Record) {
				m.mu.Lock()
				m.records++
				m.mu.Unlock()
				if d != nil {
					d.add(name, r)
				}
			})
		}
	}()
	t.Cleanup(m.close)
	return m
}

// close stops polling and closes the client (which leaves the group, unless static).
func (m *groupMember) close() {
	if m.cancel == nil {
		return
	}
	m.cancel()
	<-m.done
	m.cl.Close()
	m.cancel = nil
}

func (m *groupMember) partitions() []int32 {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []int32
	for p := range m.assigned {
		out = append(out, p)
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}

func (m *groupMember) revokedCount() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.revoked
}

// waitFor polls cond until it holds, failing the test after 45 s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(45 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// waitAssigned waits until the members own every one of n partitions, each exactly once.
func waitAssigned(t *testing.T, n int, ms ...*groupMember) {
	t.Helper()
	waitFor(t, fmt.Sprintf("%d partitions assigned to %d members", n, len(ms)), func() bool {
		seen := map[int32]bool{}
		for _, m := range ms {
			for _, p := range m.partitions() {
				if seen[p] {
					return false
				}
				seen[p] = true
			}
		}
		return len(seen) == n
	})
}

func produceValues(t *testing.T, tb *testBroker, topic, prefix string, n int) {
	t.Helper()
	cl := tb.client(kgo.DefaultProduceTopic(topic))
	var rs []*kgo.Record
	for i := 0; i < n; i++ {
		rs = append(rs, &kgo.Record{Key: []byte(fmt.Sprint(i)), Value: []byte(fmt.Sprintf("%s-%d", prefix, i))})
	}
	if err := cl.ProduceSync(testCtx(t), rs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
}

// TestGroupQueueAndPubSub: three members of one group share a 6-partition topic, every
// record going to exactly one of them; a second group gets every record too; a member
// that leaves has its partitions moved to the others.
func TestGroupQueueAndPubSub(t *testing.T) {
	tb := startBroker(t, "", groupOverrides)
	const topic = "orders"
	createTopic(t, tb, topic, 6, nil)

	d := newDelivery()
	ms := []*groupMember{
		startMember(t, tb, d, "g1", topic, "a"),
		startMember(t, tb, d, "g1", topic, "b"),
		startMember(t, tb, d, "g1", topic, "c"),
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

	const n = 300
	produceValues(t, tb, topic, "r", n)
	waitFor(t, "all records consumed by g1", func() bool { return d.count() == n })

	// Pub/sub: another group reads everything.
	d2 := newDelivery()
	other := startMember(t, tb, d2, "g2", topic, "x")
	waitFor(t, "all records consumed by g2", func() bool { return d2.count() == n })
	other.close()

	// Member c leaves: a and b take over its partitions and get new records.
	ms[2].close()
	waitAssigned(t, 6, ms[0], ms[1])
	produceValues(t, tb, topic, "s", 60)
	waitFor(t, "records after the rebalance", func() bool { return d.count() == n+60 })

	d.mu.Lock()
	defer d.mu.Unlock()
	perMember := map[string]int{}
	for v, who := range d.got {
		if len(who) != 1 {
			t.Errorf("record %s delivered to %v, want exactly one member", v, who)
		}
		perMember[who[0]]++
	}
	for _, name := range []string{"a", "b", "c"} {
		if perMember[name] == 0 {
			t.Errorf("member %s got no records: %v", name, perMember)
		}
	}
}

// TestGroupCommitAndResume: a member commits, closes, and a new member of the group
// resumes from the committed offsets; kadm sees them and the lag.
func TestGroupCommitAndResume(t *testing.T) {
	tb := startBroker(t, "", groupOverrides)
	const topic = "resume"
	createTopic(t, tb, topic, 2, nil)
	produceValues(t, tb, topic, "a", 100)

	m := startMember(t, tb, nil, "rg", topic, "first", kgo.DisableAutoCommit())
	waitFor(t, "100 records", func() bool { m.mu.Lock(); defer m.mu.Unlock(); return m.records == 100 })
	m.cancel()
	<-m.done
	if err := m.cl.CommitUncommittedOffsets(testCtx(t)); err != nil {
		t.Fatalf("commit: %v", err)
	}
	m.close()

	adm := tb.admin()
	offs, err := adm.FetchOffsets(testCtx(t), "rg")
	if err != nil {
		t.Fatal(err)
	}
	total := int64(0)
	offs.Each(func(o kadm.OffsetResponse) { total += o.At })
	if total != 100 {
		t.Fatalf("committed offsets sum to %d, want 100: %v", total, offs)
	}

	produceValues(t, tb, topic, "b", 40)
	lags, err := adm.Lag(testCtx(t), "rg")
	if err != nil {
		t.Fatal(err)
	}
	if l := lags["rg"]; l.Error() != nil || l.Lag.Total() != 40 {
		t.Fatalf("lag: %v (err %v), want 40", l.Lag.Total(), l.Error())
	}

	d := newDelivery()
	m2 := startMember(t, tb, d, "rg", topic, "second")
	waitFor(t, "the 40 new records", func() bool { return d.count() == 40 })
	d.mu.Lock()
	for v := range d.got {
		if v[0] != 'b' {
			t.Errorf("resumed member re-read %s", v)
		}
	}
	d.mu.Unlock()
	m2.close()
}

// TestGroupOffsetsSurviveRestart: committed offsets and the group are read back from
// __consumer_offsets after a clean restart.
func TestGroupOffsetsSurviveRestart(t *testing.T) {
	dir := t.TempDir()
	tb := startBroker(t, dir, groupOverrides)
	createTopic(t, tb, "kept", 3, nil)
	adm := tb.admin()
	want := kadm.Offsets{}
	for p := int32(0); p < 3; p++ {
		want.Add(kadm.Offset{Topic: "kept", Partition: p, At: int64(10 + p), LeaderEpoch: -1, Metadata: fmt.Sprint("m", p)})
	}
	for _, g := range []string{"one", "two", "three"} {
		resp, err := adm.CommitOffsets(testCtx(t), g, want)
		if err == nil {
			err = resp.Error()
		}
		if err != nil {
			t.Fatalf("commit %s: %v", g, err)
		}
	}
	// A tombstone must survive too.
	if _, err := adm.DeleteGroups(testCtx(t), "three"); err != nil {
		t.Fatal(err)
	}
	tb.Stop()

	tb = startBroker(t, dir, groupOverrides)
	adm = tb.admin()
	for _, g := range []string{"one", "two"} {
		var got kadm.OffsetResponses
		waitFor(t, "offsets after restart", func() bool {
			var err error
			got, err = adm.FetchOffsets(testCtx(t), g)
			return err == nil
		})
		for p := int32(0); p < 3; p++ {
			o, ok := got.Lookup("kept", p)
			if !ok || o.At != int64(10+p) || o.Metadata != fmt.Sprint("m", p) {
				t.Errorf("group %s partition %d after restart: %+v", g, p, o)
			}
		}
	}
	listed, err := adm.ListGroups(testCtx(t))
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := listed["three"]; ok || len(listed) != 2 {
		t.Errorf("groups after restart: %v, want one and two", listed.Groups())
	}
}
