package e2e

import (
	"cmp"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/samsa-io/samsa/internal/batchtest"
	"github.com/samsa-io/samsa/internal/clustertest"
)

// clusterProps shortens the cluster's timeouts so failures are detected in seconds.
var clusterProps = map[string]string{
	"broker.heartbeat.interval.ms":     "300",
	"broker.session.timeout.ms":        "2500",
	"replica.lag.time.max.ms":          "4000",
	"replica.fetch.backoff.ms":         "200",
	"offsets.topic.num.partitions":     "3",
	"group.initial.rebalance.delay.ms": "0",
	"controlled.shutdown.timeout.ms":   "10000",
}

func startCluster(t *testing.T, nodes int) *clustertest.Cluster {
	t.Helper()
	c := clustertest.Start(t, clustertest.Options{Nodes: nodes, Binary: samsaBin, Props: clusterProps})
	c.WaitForBrokers(t, nodes)
	return c
}

func createClusterTopic(t *testing.T, adm *kadm.Client, topic string, partitions int32, rf int16, configs map[string]*string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	resp, err := adm.CreateTopic(ctx, partitions, rf, configs, topic)
	if err == nil {
		err = resp.Err
	}
	if err != nil {
		t.Fatalf("create topic %s: %v", topic, err)
	}
}

// TestClusterBasics: three nodes form a cluster by themselves; a topic with
// replication factor 3 is placed on all of them, produced to and consumed from; a
// replication factor above the live brokers is refused.
func TestClusterBasics(t *testing.T) {
	c := startCluster(t, 3)
	adm := c.Admin(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	resp, err := adm.CreateTopic(ctx, 1, 4, nil, "too-many")
	if err == nil {
		err = resp.Err
	}
	if !errors.Is(err, kerr.InvalidReplicationFactor) {
		t.Fatalf("create with replication factor 4 on 3 brokers: %v, want INVALID_REPLICATION_FACTOR", err)
	}

	createClusterTopic(t, adm, "orders", 3, 3, nil)
	td := waitTopic(t, c, "orders", 3)
	leaders := map[int32]bool{}
	for _, p := range td["orders"].Partitions {
		if len(p.Replicas) != 3 || len(p.ISR) != 3 {
			t.Fatalf("partition %d: replicas %v isr %v, want 3 of each", p.Partition, p.Replicas, p.ISR)
		}
		leaders[p.Leader] = true
	}
	if len(leaders) != 3 {
		t.Fatalf("leaders %v: want one partition led by each broker", leaders)
	}

	cl := c.Client(t, kgo.DefaultProduceTopic("orders"), kgo.ConsumeTopics("orders"), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	const n = 300
	for i := range n {
		if err := cl.ProduceSync(ctx, &kgo.Record{Key: []byte(strconv.Itoa(i)), Value: []byte("v" + strconv.Itoa(i))}).FirstErr(); err != nil {
			t.Fatalf("produce %d: %v", i, err)
		}
	}
	seen := map[string]bool{}
	for len(seen) < n {
		fs := cl.PollFetches(ctx)
		if err := fs.Err0(); err != nil {
			t.Fatalf("consume after %d records: %v", len(seen), err)
		}
		fs.EachRecord(func(r *kgo.Record) { seen[string(r.Value)] = true })
	}
}

// waitTopic waits until the metadata of every running node shows topic with all its
// partitions led (a node learns of a new topic a moment after the controller made
// it), and returns the description.
func waitTopic(t *testing.T, c *clustertest.Cluster, topic string, partitions int) kadm.TopicDetails {
	t.Helper()
	var td kadm.TopicDetails
	c.WaitFor(t, 30*time.Second, "topic "+topic+" on every node", func() (bool, string) {
		for _, n := range c.Nodes() {
			if !n.Running() || n.Paused() || n.ControllerOnly() {
				continue
			}
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			var err error
			td, err = kadm.NewClient(c.Client(t, kgo.SeedBrokers(n.Addr()))).ListTopics(ctx, topic)
			cancel()
			if err != nil {
				return false, err.Error()
			}
			d := td[topic]
			if d.Err != nil || len(d.Partitions) != partitions {
				return false, fmt.Sprintf("node %d: %v, %d partitions", n.ID, d.Err, len(d.Partitions))
			}
			for _, p := range d.Partitions {
				if p.Leader < 0 {
					return false, fmt.Sprintf("node %d: partition %d has no leader", n.ID, p.Partition)
				}
			}
		}
		return true, ""
	})
	return td
}

// ackedRecord is where the cluster said a record was written.
type ackedRecord struct {
	partition int32
	offset    int64
}

// checker records what producers were acknowledged and what consumers saw, and checks
// them against the final logs: every acknowledged record present exactly once at its
// offset, and nothing a consumer saw missing or changed later.
type checker struct {
	mu    sync.Mutex
	acked map[string]ackedRecord // value -> position
	seen  map[ackedRecord]string // position -> value, as consumers saw it
}

func newChecker() *checker {
	return &checker{acked: map[string]ackedRecord{}, seen: map[ackedRecord]string{}}
}

func (ck *checker) ack(r *kgo.Record) {
	ck.mu.Lock()
	defer ck.mu.Unlock()
	ck.acked[string(r.Value)] = ackedRecord{r.Partition, r.Offset}
}

func (ck *checker) saw(t *testing.T, r *kgo.Record) {
	ck.mu.Lock()
	defer ck.mu.Unlock()
	pos := ackedRecord{r.Partition, r.Offset}
	if v, ok := ck.seen[pos]; ok && v != string(r.Value) {
		t.Errorf("consumers saw two values at %d/%d: %q and %q", r.Partition, r.Offset, v, r.Value)
	}
	ck.seen[pos] = string(r.Value)
}

// verify compares with final, every record of the topic read after the faults.
func (ck *checker) verify(t *testing.T, final map[ackedRecord]string) {
	t.Helper()
	ck.mu.Lock()
	defer ck.mu.Unlock()
	where := map[string][]ackedRecord{}
	for pos, v := range final {
		where[v] = append(where[v], pos)
	}
	for v, ps := range where {
		if len(ps) > 1 {
			t.Errorf("record %q is in the log %d times: %v", v, len(ps), ps)
		}
	}
	for v, pos := range ck.acked {
		if got, ok := final[pos]; !ok || got != v {
			t.Errorf("acknowledged record %q at %d/%d: the log has %q there (present: %v)", v, pos.partition, pos.offset, got, ok)
		}
	}
	for pos, v := range ck.seen {
		if got, ok := final[pos]; !ok || got != v {
			t.Errorf("a consumer saw %q at %d/%d, which later vanished (log has %q, present: %v)", v, pos.partition, pos.offset, got, ok)
		}
	}
	t.Logf("checked %d acknowledged records, %d consumed positions, %d records in the final log", len(ck.acked), len(ck.seen), len(final))
}

// readTopic consumes the whole topic from the start until every partition's high
// watermark, with a fresh client.
func readTopic(t *testing.T, c *clustertest.Cluster, topic string, partitions int32) map[ackedRecord]string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	adm := c.Admin(t)
	ends, err := adm.ListEndOffsets(ctx, topic)
	if err != nil {
		t.Fatal(err)
	}
	cl := c.Client(t, kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	out := map[ackedRecord]string{}
	done := func() bool {
		for p := range partitions {
			end, _ := ends.Lookup(topic, p)
			n := 0
			for pos := range out {
				if pos.partition == p {
					n++
				}
			}
			if int64(n) < end.Offset {
				return false
			}
		}
		return true
	}
	for !done() {
		fs := cl.PollFetches(ctx)
		if err := fs.Err0(); err != nil {
			t.Fatalf("reading %s back: %v", topic, err)
		}
		fs.EachRecord(func(r *kgo.Record) { out[ackedRecord{r.Partition, r.Offset}] = string(r.Value) })
	}
	return out
}

// produceLoop produces numbered records with an idempotent acks=all producer until ctx
// ends, recording acknowledgements. Failed records are retried by the client and, if
// they still fail, simply not acknowledged.
func produceLoop(ctx context.Context, t *testing.T, c *clustertest.Cluster, topic string, ck *checker, done chan<- int) {
	cl := c.Client(t, kgo.DefaultProduceTopic(topic), kgo.RequiredAcks(kgo.AllISRAcks()),
		kgo.RecordDeliveryTimeout(20*time.Second), kgo.ProducerLinger(2*time.Millisecond))
	var wg sync.WaitGroup
	n := 0
	for ctx.Err() == nil {
		wg.Add(1)
		v := fmt.Sprintf("rec-%06d", n)
		cl.Produce(context.Background(), &kgo.Record{Key: []byte(v), Value: []byte(v)}, func(r *kgo.Record, err error) {
			defer wg.Done()
			if err == nil {
				ck.ack(r)
			}
		})
		n++
		if n%50 == 0 {
			time.Sleep(5 * time.Millisecond)
		}
	}
	wg.Wait()
	done <- n
}

// consumeLoop reads the topic continuously, recording what it saw, until ctx ends.
func consumeLoop(ctx context.Context, t *testing.T, c *clustertest.Cluster, topic string, ck *checker, done chan<- struct{}) {
	defer close(done)
	cl := c.Client(t, kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	for ctx.Err() == nil {
		fs := cl.PollFetches(ctx)
		fs.EachRecord(func(r *kgo.Record) { ck.saw(t, r) })
	}
}

// ledger is an idempotent acks=all producer and a consumer running against a topic
// while a test injects faults.
type ledger struct {
	t        *testing.T
	c        *clustertest.Cluster
	ck       *checker
	stop     context.CancelFunc
	produced chan int
	consumed chan struct{}
}

func startLedger(t *testing.T, c *clustertest.Cluster, topic string) *ledger {
	ctx, stop := context.WithCancel(context.Background())
	l := &ledger{t: t, c: c, ck: newChecker(), stop: stop, produced: make(chan int, 1), consumed: make(chan struct{})}
	go produceLoop(ctx, t, c, topic, l.ck, l.produced)
	go consumeLoop(ctx, t, c, topic, l.ck, l.consumed)
	return l
}

func (l *ledger) acked() int {
	l.ck.mu.Lock()
	defer l.ck.mu.Unlock()
	return len(l.ck.acked)
}

// waitProgress waits until 200 more writes were acknowledged.
func (l *ledger) waitProgress(what string) {
	l.t.Helper()
	start := l.acked()
	l.c.WaitFor(l.t, 60*time.Second, "acknowledged writes after "+what, func() (bool, string) {
		n := l.acked()
		return n >= start+200, fmt.Sprintf("%d acknowledged since", n-start)
	})
}

// finish stops the producer and the consumer.
func (l *ledger) finish() {
	l.stop()
	n := <-l.produced
	<-l.consumed
	l.t.Logf("produced %d records, %d acknowledged", n, l.acked())
}

// TestClusterNoAcknowledgedLoss produces with acks=all and an idempotent producer
// while the partition leader is killed, the active controller is killed and a follower
// is paused; then every acknowledged record must be in the log exactly once at the
// offset it was acknowledged at, every consumed record must still be there, and every
// replica's log must be identical.
func TestClusterNoAcknowledgedLoss(t *testing.T) {
	c := startCluster(t, 3)
	adm := c.Admin(t)
	const topic = "ledger"
	createClusterTopic(t, adm, topic, 1, 3, map[string]*string{"min.insync.replicas": kmsg.StringPtr("2")})

	run := startLedger(t, c, topic)
	ck, waitProgress := run.ck, run.waitProgress
	waitProgress("start")

	// Kill -9 the partition leader; measure until writes are acknowledged again.
	leader := c.WaitForLeader(t, topic, 0)
	t.Logf("killing partition leader %d", leader)
	probe := c.Client(t, kgo.DefaultProduceTopic(topic), kgo.RequiredAcks(kgo.AllISRAcks()))
	killed := time.Now()
	c.Node(leader).Kill()
	// A record produced after the kill is acknowledged once a new leader took over.
	for i := 0; ; i++ {
		pctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		err := probe.ProduceSync(pctx, kgo.StringRecord(fmt.Sprintf("probe-%d", i))).FirstErr()
		cancel()
		if err == nil {
			break
		}
		if time.Since(killed) > 60*time.Second {
			t.Fatalf("no write acknowledged within 60 s of killing the leader: %v", err)
		}
	}
	t.Logf("leader failover after kill -9: a new write acknowledged %v after the kill", time.Since(killed).Round(10*time.Millisecond))
	c.Node(leader).Start()
	waitProgress("restarting the old leader")

	// Kill -9 the active controller.
	ctrl := c.ActiveController(t)
	t.Logf("killing active controller %d", ctrl)
	c.Node(ctrl).Kill()
	waitProgress("killing the controller")
	c.Node(ctrl).Start()
	c.WaitForBrokers(t, 3)
	waitProgress("restarting the controller")

	// Pause a follower beyond replica.lag.time.max.ms, then resume it.
	leader = c.WaitForLeader(t, topic, 0)
	follower := int32(1)
	for follower == leader {
		follower++
	}
	t.Logf("pausing follower %d", follower)
	c.Node(follower).Pause()
	time.Sleep(6 * time.Second)
	waitProgress("pausing a follower")
	c.Node(follower).Resume()
	waitProgress("resuming the follower")

	run.finish()
	waitFullISR(t, c, topic, 1, 3)
	final := readTopic(t, c, topic, 1)
	ck.verify(t, final)
	compareReplicaLogs(t, c, topic, 1)
}

// waitFullISR waits until every partition of topic has all rf replicas in sync.
func waitFullISR(t *testing.T, c *clustertest.Cluster, topic string, partitions int32, rf int) {
	t.Helper()
	adm := c.Admin(t)
	c.WaitFor(t, 60*time.Second, "a full ISR", func() (bool, string) {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		td, err := adm.ListTopics(ctx, topic)
		if err != nil {
			return false, err.Error()
		}
		for _, p := range td[topic].Partitions {
			if len(p.ISR) != rf {
				return false, fmt.Sprintf("partition %d isr %v", p.Partition, p.ISR)
			}
		}
		return len(td[topic].Partitions) == int(partitions), ""
	})
}

// compareReplicaLogs stops every node cleanly and compares the record batches of each
// partition's log byte for byte across the nodes.
func compareReplicaLogs(t *testing.T, c *clustertest.Cluster, topic string, partitions int32) {
	t.Helper()
	// Let the followers fetch the last high watermark before stopping.
	time.Sleep(time.Second)
	// Brokers first, while the controllers can still move their leadership.
	nodes := c.Nodes()
	slices.SortStableFunc(nodes, func(a, b *clustertest.Node) int {
		return cmp.Compare(boolInt(a.ControllerOnly()), boolInt(b.ControllerOnly()))
	})
	for _, n := range nodes {
		n.Stop()
	}
	for p := range partitions {
		var ref [][]byte
		refNode := int32(-1)
		for _, n := range c.Nodes() {
			if n.ControllerOnly() {
				continue
			}
			batches := readBatches(t, filepath.Join(n.Dir, fmt.Sprintf("%s-%d", topic, p)))
			if refNode < 0 {
				ref, refNode = batches, n.ID
				continue
			}
			if len(batches) != len(ref) {
				t.Errorf("partition %d: node %d has %d batches, node %d has %d", p, n.ID, len(batches), refNode, len(ref))
				continue
			}
			for i := range ref {
				if string(ref[i]) != string(batches[i]) {
					t.Errorf("partition %d: batch %d differs between nodes %d and %d", p, i, refNode, n.ID)
					break
				}
			}
		}
		t.Logf("partition %d: %d identical batches on every replica", p, len(ref))
	}
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// readBatches returns the record batches of a partition directory's segments in order.
func readBatches(t *testing.T, dir string) [][]byte {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var logs []string
	for _, e := range entries {
		if strings.HasSuffix(e.Name(), ".log") {
			logs = append(logs, e.Name())
		}
	}
	sort.Strings(logs)
	var out [][]byte
	for _, name := range logs {
		data, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		for len(data) >= 12 {
			size := 12 + int(binary.BigEndian.Uint32(data[8:12]))
			if size > len(data) {
				t.Fatalf("%s/%s: torn batch after a clean shutdown", dir, name)
			}
			out = append(out, data[:size])
			data = data[size:]
		}
	}
	return out
}

// TestClusterPartitionedLeader: a leader cut off from the other nodes cannot
// acknowledge acks=all writes; once the network heals it follows the new leader and
// its unacknowledged tail is gone.
func TestClusterPartitionedLeader(t *testing.T) {
	c := startCluster(t, 3)
	adm := c.Admin(t)
	const topic = "island"
	createClusterTopic(t, adm, topic, 1, 3, map[string]*string{"min.insync.replicas": kmsg.StringPtr("2")})
	leader := c.WaitForLeader(t, topic, 0)

	// Some committed records first.
	cl := c.Client(t, kgo.DefaultProduceTopic(topic))
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	for i := range 20 {
		if err := cl.ProduceSync(ctx, kgo.StringRecord("before-"+strconv.Itoa(i))).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}

	c.Isolate(leader)
	// Write straight to the isolated leader: it appends, but cannot reach the ISR, so
	// the write must not be acknowledged.
	direct := c.Client(t, kgo.SeedBrokers(c.Node(leader).Addr()))
	req := kmsg.NewPtrProduceRequest()
	req.Acks, req.TimeoutMillis = -1, 3000
	rt := kmsg.NewProduceRequestTopic()
	rt.Topic = topic
	rp := kmsg.NewProduceRequestTopicPartition()
	rp.Records = batchtest.Values(time.Now().UnixMilli(), "island-write").Encode()
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	resp, err := direct.Broker(int(leader)).Request(ctx, req)
	if err != nil {
		t.Logf("produce to the isolated leader failed at the transport: %v", err)
	} else {
		code := resp.(*kmsg.ProduceResponse).Topics[0].Partitions[0].ErrorCode
		if code == 0 {
			t.Fatal("the isolated leader acknowledged an acks=all write")
		}
		t.Logf("isolated leader answered acks=all with %v", kerr.ErrorForCode(code))
	}

	// The rest of the cluster elects a new leader and goes on.
	c.WaitFor(t, 60*time.Second, "a new leader on the majority side", func() (bool, string) {
		for _, n := range c.Nodes() {
			if n.ID == leader {
				continue
			}
			md, err := kadm.NewClient(c.Client(t, kgo.SeedBrokers(n.Addr()))).Metadata(ctx, topic)
			if err != nil {
				return false, err.Error()
			}
			l := md.Topics[topic].Partitions[0].Leader
			return l >= 0 && l != leader, fmt.Sprintf("leader %d", l)
		}
		return false, ""
	})
	c.HealAll()
	waitFullISR(t, c, topic, 1, 3)
	final := readTopic(t, c, topic, 1)
	for pos, v := range final {
		if v == "island-write" {
			t.Errorf("the write the isolated leader never acknowledged is in the log at %v", pos)
		}
	}
	compareReplicaLogs(t, c, topic, 1)
}

// TestClusterControllerFailover: killing the active controller elects another, which
// has all the metadata and serves new requests.
func TestClusterControllerFailover(t *testing.T) {
	c := startCluster(t, 3)
	adm := c.Admin(t)
	createClusterTopic(t, adm, "before", 2, 3, nil)
	ctrl := c.ActiveController(t)
	c.Node(ctrl).Kill()
	next := c.ActiveController(t)
	if next == ctrl {
		t.Fatalf("controller still %d after it was killed", ctrl)
	}
	createClusterTopic(t, adm, "after", 2, 2, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	td, err := adm.ListTopics(ctx)
	if err != nil {
		t.Fatal(err)
	}
	names := td.Names()
	if !slices.Contains(names, "before") || !slices.Contains(names, "after") {
		t.Fatalf("topics after controller failover: %v", names)
	}
	c.Node(ctrl).Start()
	c.WaitForBrokers(t, 3)
}

// TestClusterGroupsSurviveBrokerLoss: a consumer group keeps its committed offsets and
// goes on consuming when its coordinator's broker is killed.
func TestClusterGroupsSurviveBrokerLoss(t *testing.T) {
	c := startCluster(t, 3)
	adm := c.Admin(t)
	const topic, groupID = "work", "workers"
	createClusterTopic(t, adm, topic, 3, 3, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	prod := c.Client(t, kgo.DefaultProduceTopic(topic))
	produce := func(from, to int) {
		for i := from; i < to; i++ {
			if err := prod.ProduceSync(ctx, kgo.StringRecord("job-"+strconv.Itoa(i))).FirstErr(); err != nil {
				t.Fatalf("produce %d: %v", i, err)
			}
		}
	}
	produce(0, 100)
	cons := c.Client(t, kgo.ConsumerGroup(groupID), kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.DisableAutoCommit())
	seen := map[string]bool{}
	consume := func(want int) {
		for len(seen) < want {
			fs := cons.PollFetches(ctx)
			if ctx.Err() != nil {
				t.Fatalf("consumed %d of %d", len(seen), want)
			}
			fs.EachRecord(func(r *kgo.Record) { seen[string(r.Value)] = true })
			if err := cons.CommitUncommittedOffsets(ctx); err != nil {
				t.Logf("commit: %v", err)
			}
		}
	}
	consume(100)

	// Kill the coordinator: the leader of the group's __consumer_offsets partition.
	var coord int32 = -1
	adm.FindGroupCoordinators(ctx, groupID).Each(func(r kadm.FindCoordinatorResponse) {
		if r.Err == nil {
			coord = r.NodeID
		}
	})
	if coord < 0 {
		t.Fatal("no coordinator found")
	}
	t.Logf("killing group coordinator %d", coord)
	c.Node(coord).Kill()
	produce(100, 200)
	consume(200)
	// The client may still be dialling the dead coordinator; it finds the new one after
	// a failed attempt or two.
	for {
		err := cons.CommitUncommittedOffsets(ctx)
		if err == nil {
			break
		}
		if ctx.Err() != nil {
			t.Fatalf("commit with the new coordinator: %v", err)
		}
		time.Sleep(200 * time.Millisecond)
	}
	// A fresh admin client that knows only the live nodes: the test's own may still
	// hold the dead coordinator.
	var live []string
	for _, n := range c.Nodes() {
		if n.ID != coord {
			live = append(live, n.Addr())
		}
	}
	offs, err := kadm.NewClient(c.Client(t, kgo.SeedBrokers(live...))).FetchOffsets(ctx, groupID)
	if err != nil {
		t.Fatal(err)
	}
	var total int64
	offs.Each(func(o kadm.OffsetResponse) { total += o.At })
	if total != 200 {
		t.Fatalf("committed offsets add up to %d, want 200", total)
	}
	c.Node(coord).Start()
}
