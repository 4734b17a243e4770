package raftquorum

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"go.uber.org/goleak"

	"github.com/samsa-io/samsa/internal/metadata"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// waitTimeout bounds every wait for the cluster to reach a state; elections with the
// test timings take well under a second even under -race on a loaded machine.
const waitTimeout = 15 * time.Second

// node is one voter with its own TCP listener, standing in for a broker's controller
// listener: an accept loop checks Magic and hands the connection to the quorum.
type node struct {
	id    int32
	dir   string
	ln    net.Listener
	conns chan net.Conn
	q     *Quorum // nil while stopped

	acceptDone chan struct{}
}

type cluster struct {
	t      *testing.T
	nodes  map[int32]*node
	voters map[int32]string
	tune   func(*Config)
}

// newCluster starts n voters (ids 1..n) with short timings; tune adjusts each Config.
func newCluster(t *testing.T, n int, tune func(*Config)) *cluster {
	t.Helper()
	c := &cluster{t: t, nodes: make(map[int32]*node), voters: make(map[int32]string), tune: tune}
	for i := 1; i <= n; i++ {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		nd := &node{id: int32(i), dir: t.TempDir(), ln: ln, conns: make(chan net.Conn, 16), acceptDone: make(chan struct{})}
		c.nodes[nd.id] = nd
		c.voters[nd.id] = ln.Addr().String()
		go nd.acceptLoop(t)
	}
	t.Cleanup(func() {
		for _, nd := range c.nodes {
			if nd.q != nil {
				if err := nd.q.Close(); err != nil {
					t.Errorf("close node %d: %v", nd.id, err)
				}
			}
			nd.ln.Close()
			<-nd.acceptDone
			for len(nd.conns) > 0 {
				(<-nd.conns).Close()
			}
		}
	})
	for id := range c.nodes {
		c.start(id)
	}
	return c
}

// acceptLoop plays the broker: it reads Magic from each connection and passes it on.
// A connection that arrives while the quorum is stopped and the buffer is full is
// dropped, as a broker without a quorum would.
func (nd *node) acceptLoop(t *testing.T) {
	defer close(nd.acceptDone)
	for {
		conn, err := nd.ln.Accept()
		if err != nil {
			return
		}
		buf := make([]byte, len(Magic))
		conn.SetReadDeadline(time.Now().Add(5 * time.Second))
		if _, err := io.ReadFull(conn, buf); err != nil || string(buf) != Magic {
			t.Errorf("node %d: connection without magic: %q, %v", nd.id, buf, err)
			conn.Close()
			continue
		}
		conn.SetReadDeadline(time.Time{})
		select {
		case nd.conns <- conn:
		default:
			conn.Close()
		}
	}
}

func (c *cluster) config(id int32) Config {
	nd := c.nodes[id]
	cfg := Config{
		NodeID:    id,
		Voters:    c.voters,
		Dir:       nd.dir,
		ClusterID: "test-cluster",
		Conns:     nd.conns,
		Addr:      nd.ln.Addr(),
		Logger:    slog.New(slog.NewTextHandler(testWriter{c.t}, &slog.HandlerOptions{Level: slog.LevelWarn})),
		// Short, yet long enough that a leader on a loaded machine under -race keeps
		// its lease; a re-election in the middle of a test would change the image.
		HeartbeatTimeout:   250 * time.Millisecond,
		ElectionTimeout:    250 * time.Millisecond,
		LeaderLeaseTimeout: 150 * time.Millisecond,
	}
	if c.tune != nil {
		c.tune(&cfg)
	}
	return cfg
}

// testWriter sends log lines to t.Log, so they show only for failing tests.
type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(string(bytes.TrimRight(p, "\n")))
	return len(p), nil
}

func (c *cluster) start(id int32) *Quorum {
	c.t.Helper()
	q, err := Open(c.config(id))
	if err != nil {
		c.t.Fatalf("open node %d: %v", id, err)
	}
	c.nodes[id].q = q
	return q
}

func (c *cluster) stop(id int32) {
	c.t.Helper()
	if err := c.nodes[id].q.Close(); err != nil {
		c.t.Fatalf("close node %d: %v", id, err)
	}
	c.nodes[id].q = nil
}

// running returns the quorums that are running.
func (c *cluster) running() []*Quorum {
	var qs []*Quorum
	for _, nd := range c.nodes {
		if nd.q != nil {
			qs = append(qs, nd.q)
		}
	}
	return qs
}

// waitActive waits until exactly one running node is active and returns it.
func (c *cluster) waitActive() *Quorum {
	c.t.Helper()
	var active *Quorum
	waitFor(c.t, "an active controller", func() bool {
		active = nil
		for _, q := range c.running() {
			if q.IsActive() {
				if active != nil {
					return false
				}
				active = q
			}
		}
		return active != nil
	})
	return active
}

// waitConverged waits until every running node holds the same image, at offset min or
// later, and returns it. Comparing the nodes with each other rather than with a fixed
// image keeps a re-election (one more ControllerChange) from failing the wait.
func (c *cluster) waitConverged(min int64) *metadata.Image {
	c.t.Helper()
	var img *metadata.Image
	waitFor(c.t, fmt.Sprintf("all nodes to hold the same image at offset %d or later", min), func() bool {
		qs := c.running()
		first := qs[0].Image()
		if first.Offset < min {
			return false
		}
		want := encode(c.t, first)
		for _, q := range qs[1:] {
			if !bytes.Equal(encode(c.t, q.Image()), want) {
				return false
			}
		}
		img = first
		return true
	})
	return img
}

// waitFor polls cond until it holds; raft offers no event for most of these states.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(waitTimeout)
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		<-tick.C
	}
}

func encode(t *testing.T, img *metadata.Image) []byte {
	t.Helper()
	b, err := metadata.EncodeImage(img)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), waitTimeout)
	t.Cleanup(cancel)
	return c
}

func registerBroker(id int32) metadata.Record {
	return metadata.Record{Type: metadata.RecordRegisterBroker, RegisterBroker: &metadata.RegisterBrokerRecord{ID: id, Host: "h", Port: 9092}}
}

func createTopic(name string, id metadata.UUID, replicas ...int32) []metadata.Record {
	return []metadata.Record{
		{Type: metadata.RecordTopic, Topic: &metadata.TopicRecord{Name: name, ID: id}},
		{Type: metadata.RecordPartition, Partition: &metadata.PartitionRecord{TopicID: id, PartitionID: 0, Replicas: replicas, ISR: replicas, Leader: replicas[0]}},
	}
}

func wantKerr(t *testing.T, err error, want *kerr.Error) {
	t.Helper()
	var ke *kerr.Error
	if !errors.As(err, &ke) || ke != want {
		t.Fatalf("error %v: want one wrapping %v", err, want)
	}
}

func TestActivation(t *testing.T) {
	c := newCluster(t, 3, nil)
	leader := c.waitActive()

	// The active controller announced itself on ActiveCh.
	select {
	case v := <-leader.ActiveCh():
		if !v {
			t.Fatal("ActiveCh of the active controller delivered false")
		}
	case <-time.After(waitTimeout):
		t.Fatal("no value on ActiveCh of the active controller")
	}
	if id, ok := leader.Leader(); !ok || id != leader.cfg.NodeID {
		t.Fatalf("Leader() = %d, %v on the leader %d", id, ok, leader.cfg.NodeID)
	}

	if img := leader.Image(); img.ClusterID != "test-cluster" || img.ControllerID != leader.cfg.NodeID {
		t.Fatalf("leader image: cluster %q controller %d", img.ClusterID, img.ControllerID)
	}
	img := c.waitConverged(leader.Image().Offset)
	if img.ClusterID != "test-cluster" {
		t.Fatalf("cluster id %q", img.ClusterID)
	}
	// Every node knows the active controller, from raft and from the image. (Should
	// leadership have moved meanwhile, the check applies to the new controller.)
	leader = c.waitActive()
	waitFor(t, "all nodes to know the controller", func() bool {
		for _, q := range c.running() {
			id, ok := q.Leader()
			if !ok || id != leader.cfg.NodeID || q.Image().ControllerID != leader.cfg.NodeID {
				return false
			}
			if q != leader && q.IsActive() {
				t.Fatalf("follower %d is active", q.cfg.NodeID)
			}
		}
		return true
	})
}

func TestRandomClusterID(t *testing.T) {
	c := newCluster(t, 3, func(cfg *Config) { cfg.ClusterID = "" })
	img := c.waitActive().Image()
	if len(img.ClusterID) != 22 {
		t.Fatalf("cluster id %q: want a random 22-character id", img.ClusterID)
	}
	if got := c.waitConverged(img.Offset); got.ClusterID != img.ClusterID {
		t.Fatalf("cluster id %q became %q", img.ClusterID, got.ClusterID)
	}
}

func TestPropose(t *testing.T) {
	c := newCluster(t, 3, nil)
	leader := c.waitActive()

	for _, q := range c.running() {
		if q == leader {
			continue
		}
		_, err := q.Propose(ctx(t), []metadata.Record{registerBroker(1)})
		wantKerr(t, err, kerr.NotController)
	}

	before := leader.Image()
	img, err := leader.Propose(ctx(t), []metadata.Record{registerBroker(1), registerBroker(2), registerBroker(3)})
	if err != nil {
		t.Fatal(err)
	}
	if img.Offset != before.Offset+3 || len(img.Brokers) != 3 {
		t.Fatalf("image after propose: offset %d (was %d), %d brokers", img.Offset, before.Offset, len(img.Brokers))
	}
	id := metadata.RandomUUID()
	img, err = leader.Propose(ctx(t), createTopic("orders", id, 1, 2, 3))
	if err != nil {
		t.Fatal(err)
	}
	if p := img.Partition("orders", 0); p == nil || p.Leader != 1 {
		t.Fatalf("partition orders-0 = %+v", p)
	}
	if got := c.waitConverged(img.Offset); got.Partition("orders", 0) == nil || len(got.Brokers) != 3 {
		t.Fatalf("converged image lacks the proposals: topics %v brokers %v", got.TopicNames(), got.BrokerIDs())
	}

	// Records that do not apply: the error comes back and no node's image changes,
	// even when the entry starts with a record that would apply on its own.
	bad := []struct {
		name string
		recs []metadata.Record
		want *kerr.Error
	}{
		{"unknown topic id", []metadata.Record{{Type: metadata.RecordRemoveTopic, RemoveTopic: &metadata.RemoveTopicRecord{TopicID: metadata.RandomUUID()}}}, kerr.UnknownTopicID},
		{"duplicate topic", createTopic("orders", metadata.RandomUUID(), 1), kerr.TopicAlreadyExists},
		{"valid then invalid", append([]metadata.Record{registerBroker(4)}, createTopic("x", metadata.RandomUUID(), 9)...), kerr.InvalidReplicaAssignment},
		{"another cluster id", []metadata.Record{{Type: metadata.RecordClusterID, ClusterID: &metadata.ClusterIDRecord{ClusterID: "other"}}}, kerr.InconsistentClusterID},
	}
	for _, tc := range bad {
		t.Run(tc.name, func(t *testing.T) {
			_, err := leader.Propose(ctx(t), tc.recs)
			wantKerr(t, err, tc.want)
		})
	}
	// A later good entry proves the bad ones were no-ops everywhere.
	img, err = leader.Propose(ctx(t), []metadata.Record{registerBroker(5)})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := img.Brokers[4]; ok || img.Offset != before.Offset+3+2+1 {
		t.Fatalf("after the rejected entries: offset %d, brokers %v", img.Offset, img.BrokerIDs())
	}
	if got := c.waitConverged(img.Offset); len(got.Brokers) != 4 || got.Topic("x") != nil {
		t.Fatalf("converged image: topics %v brokers %v", got.TopicNames(), got.BrokerIDs())
	}

	// An empty proposal changes nothing and needs no round trip.
	if got, err := leader.Propose(ctx(t), nil); err != nil || got != leader.Image() {
		t.Fatalf("empty propose: %v, %v", got, err)
	}
	// A context already over is a timeout.
	done, cancel := context.WithCancel(context.Background())
	cancel()
	_, err = leader.Propose(done, []metadata.Record{registerBroker(6)})
	wantKerr(t, err, kerr.RequestTimedOut)
}

// change is one subscriber notification, by offsets.
type change struct{ prev, next int64 }

// recorder records the notifications of one quorum.
type recorder struct {
	mu      sync.Mutex
	changes []change
	start   int64
}

func subscribe(q *Quorum) *recorder {
	r := &recorder{}
	q.Subscribe(func(prev, next *metadata.Image) {
		r.mu.Lock()
		defer r.mu.Unlock()
		r.changes = append(r.changes, change{prev.Offset, next.Offset})
	})
	r.start = q.Image().Offset // after Subscribe: no change is missed
	return r
}

// check verifies that the notifications chain from start to end without gaps or repeats.
func (r *recorder) check(t *testing.T, name string, end int64) {
	t.Helper()
	waitFor(t, name+" notifications up to offset "+fmt.Sprint(end), func() bool {
		r.mu.Lock()
		defer r.mu.Unlock()
		return len(r.changes) > 0 && r.changes[len(r.changes)-1].next >= end
	})
	r.mu.Lock()
	defer r.mu.Unlock()
	at := r.start
	for i, ch := range r.changes {
		if i == 0 && ch.next == r.start {
			// Applied while Subscribe ran: fn was registered in time to hear of it,
			// and the Image() read after Subscribe already showed it.
			continue
		}
		if ch.prev != at || ch.next <= ch.prev {
			t.Fatalf("%s: change %v after offset %d: a change missed, repeated or out of order in %v", name, ch, at, r.changes)
		}
		at = ch.next
	}
	if at != end {
		t.Fatalf("%s: notifications end at %d, want %d: %v", name, at, end, r.changes)
	}
}

func TestSubscribers(t *testing.T) {
	c := newCluster(t, 3, nil)
	recs := map[int32]*recorder{}
	for id, nd := range c.nodes {
		recs[id] = subscribe(nd.q)
	}
	leader := c.waitActive()
	var img *metadata.Image
	for i := range 10 {
		var err error
		img, err = leader.Propose(ctx(t), []metadata.Record{registerBroker(int32(i)), registerBroker(int32(i + 100))})
		if err != nil {
			t.Fatal(err)
		}
		// A rejected entry is no change and must not be notified.
		_, err = leader.Propose(ctx(t), []metadata.Record{{Type: metadata.RecordRemoveTopic, RemoveTopic: &metadata.RemoveTopicRecord{TopicID: metadata.RandomUUID()}}})
		wantKerr(t, err, kerr.UnknownTopicID)
	}
	for id, r := range recs {
		r.check(t, fmt.Sprintf("node %d", id), img.Offset)
		r.mu.Lock()
		n := len(r.changes)
		r.mu.Unlock()
		// Activation (ClusterID + ControllerChange in one entry, maybe several terms)
		// plus the ten proposals; every change moved the offset.
		if n < 11 {
			t.Fatalf("node %d: %d notifications, want at least 11", id, n)
		}
	}
}

func TestFailoverAndRestart(t *testing.T) {
	c := newCluster(t, 3, nil)
	old := c.waitActive()
	oldID := old.cfg.NodeID
	img, err := old.Propose(ctx(t), append([]metadata.Record{registerBroker(1), registerBroker(2)}, createTopic("t", metadata.RandomUUID(), 1, 2)...))
	if err != nil {
		t.Fatal(err)
	}
	c.waitConverged(img.Offset)

	c.stop(oldID)
	if _, err := old.Propose(ctx(t), []metadata.Record{registerBroker(3)}); err == nil {
		t.Fatal("propose on a closed quorum succeeded")
	} else {
		wantKerr(t, err, kerr.NotController)
	}
	// Close replaced the unread true with false, then closed the channel.
	if v, ok := <-old.ActiveCh(); !ok || v {
		t.Fatalf("ActiveCh after Close of the active controller: %v, %v; want false", v, ok)
	}
	if _, ok := <-old.ActiveCh(); ok {
		t.Fatal("ActiveCh not closed by Close")
	}

	leader := c.waitActive()
	if leader.cfg.NodeID == oldID {
		t.Fatal("closed node still active")
	}
	waitFor(t, "the new controller in the image", func() bool { return leader.Image().ControllerID == leader.cfg.NodeID })
	if leader.Image().Topic("t") == nil {
		t.Fatal("topic lost in failover")
	}
	img, err = leader.Propose(ctx(t), []metadata.Record{registerBroker(3)})
	if err != nil {
		t.Fatal(err)
	}

	// The old leader comes back from its directory and catches up as a follower.
	restarted := c.start(oldID)
	c.waitConverged(img.Offset)
	if restarted.IsActive() {
		t.Fatal("restarted node is active next to the leader")
	}
	if _, ok := restarted.Image().Brokers[3]; !ok {
		t.Fatal("restarted node missed the entry committed while it was down")
	}
}

func TestTransferLeadership(t *testing.T) {
	c := newCluster(t, 3, nil)
	old := c.waitActive()
	<-old.ActiveCh() // true
	if err := old.TransferLeadership(); err != nil {
		t.Fatal(err)
	}
	select {
	case v := <-old.ActiveCh():
		if v {
			t.Fatal("ActiveCh delivered true after the transfer")
		}
	case <-time.After(waitTimeout):
		t.Fatal("no false on ActiveCh after the transfer")
	}
	_, err := old.Propose(ctx(t), []metadata.Record{registerBroker(1)})
	wantKerr(t, err, kerr.NotController)
	leader := c.waitActive()
	if leader == old {
		// Leadership may have come back after a further election; still a valid state,
		// but then the transfer did happen (the false above) and there is nothing more to check.
		return
	}
	for _, q := range c.running() {
		if q != leader {
			wantKerr(t, q.TransferLeadership(), kerr.NotController)
		}
	}
}

func TestSnapshotRestore(t *testing.T) {
	c := newCluster(t, 3, func(cfg *Config) {
		cfg.SnapshotThreshold = 4
		cfg.TrailingLogs = 2
	})
	leader := c.waitActive()
	var behind int32
	for id := range c.nodes {
		if id != leader.cfg.NodeID {
			behind = id
			break
		}
	}
	c.stop(behind)

	for i := range 12 {
		if _, err := leader.Propose(ctx(t), []metadata.Record{registerBroker(int32(i))}); err != nil {
			t.Fatal(err)
		}
	}
	id := metadata.RandomUUID()
	img, err := leader.Propose(ctx(t), createTopic("snap", id, 0, 1, 2))
	if err != nil {
		t.Fatal(err)
	}
	c.waitConverged(img.Offset)
	for _, q := range c.running() {
		if err := q.Snapshot(); err != nil {
			t.Fatal(err)
		}
	}
	// The entries the stopped node lacks are gone from the leader's log: it can only
	// catch up from a snapshot.
	if first, err := leader.store.FirstIndex(); err != nil || first <= 3 {
		t.Fatalf("leader log starts at %d (%v); want it truncated", first, err)
	}

	restarted := c.start(behind)
	r := subscribe(restarted)
	c.waitConverged(img.Offset)
	r.check(t, "restarted node", img.Offset)

	// Every node restarts from its own snapshot plus the log tail.
	for id := range c.nodes {
		c.stop(id)
	}
	for id := range c.nodes {
		c.start(id)
	}
	leader = c.waitActive()
	waitFor(t, "the restarted cluster to commit its controller change", func() bool {
		return leader.Image().ControllerID == leader.cfg.NodeID && leader.Image().Offset > img.Offset
	})
	got := leader.Image()
	if got.Topic("snap") == nil || len(got.Brokers) != 12 || got.ClusterID != "test-cluster" {
		t.Fatalf("image after full restart: topics %v brokers %v cluster %q", got.TopicNames(), got.BrokerIDs(), got.ClusterID)
	}
	c.waitConverged(got.Offset)
}

func TestStatus(t *testing.T) {
	c := newCluster(t, 3, nil)
	leader := c.waitActive()
	img, err := leader.Propose(ctx(t), []metadata.Record{registerBroker(1)})
	if err != nil {
		t.Fatal(err)
	}
	c.waitConverged(img.Offset)
	waitFor(t, "followers' match index to reach the leader's last index", func() bool {
		st := leader.Status()
		last := leader.raft.LastIndex()
		if st.LeaderID != leader.cfg.NodeID || st.Term == 0 || st.CommitIndex != last || len(st.Voters) != 3 {
			return false
		}
		for i, v := range st.Voters {
			if v.ID != int32(i+1) || v.LastIndex != last || v.LastContact.IsZero() {
				return false
			}
		}
		return true
	})
	for _, q := range c.running() {
		if q == leader {
			continue
		}
		st := q.Status()
		if st.LeaderID != leader.cfg.NodeID || len(st.Voters) != 3 {
			t.Fatalf("follower %d status %+v", q.cfg.NodeID, st)
		}
		for _, v := range st.Voters {
			switch v.ID {
			case q.cfg.NodeID:
				if v.LastIndex == 0 {
					t.Fatalf("follower %d does not report its own last index: %+v", q.cfg.NodeID, st)
				}
			case leader.cfg.NodeID:
				if v.LastContact.IsZero() {
					t.Fatalf("follower %d has no contact time for the leader: %+v", q.cfg.NodeID, st)
				}
			}
		}
	}
}

func TestClusterIDMismatch(t *testing.T) {
	c := newCluster(t, 3, nil)
	img := c.waitActive().Image()
	c.waitConverged(img.Offset)
	c.stop(1)

	cfg := c.config(1)
	cfg.ClusterID = "another-cluster"
	if q, err := Open(cfg); err == nil {
		q.Close()
		t.Fatal("open with another cluster id succeeded")
	} else {
		wantKerr(t, err, kerr.InconsistentClusterID)
	}
	// The matching id, and no id at all, are accepted.
	c.start(1)
	c.stop(1)
	cfg.ClusterID = ""
	q, err := Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	c.nodes[1].q = q
	leader := c.waitActive()
	waitFor(t, "the controller change", func() bool { return leader.Image().ControllerID == leader.cfg.NodeID })
	if got := leader.Image(); got.ClusterID != img.ClusterID {
		t.Fatalf("cluster id changed from %q to %q", img.ClusterID, got.ClusterID)
	}
	c.waitConverged(leader.Image().Offset)
}

// A node started with a fresh directory but the wrong cluster id learns the real one
// from the log and refuses to act as controller.
func TestClusterIDMismatchFreshNode(t *testing.T) {
	c := newCluster(t, 3, nil)
	img := c.waitActive().Image()
	c.waitConverged(img.Offset)
	var id int32
	for nid, nd := range c.nodes {
		if !nd.q.IsActive() {
			id = nid
			break
		}
	}
	c.stop(id)
	c.nodes[id].dir = t.TempDir()
	cfg := c.config(id)
	cfg.ClusterID = "another-cluster"
	q, err := Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	c.nodes[id].q = q
	waitFor(t, "the fresh node to learn the cluster id", func() bool { return q.clusterErr.Load() != nil })
	_, err = q.Propose(ctx(t), []metadata.Record{registerBroker(1)})
	wantKerr(t, err, kerr.InconsistentClusterID)
}

func TestOpenValidation(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	good := func() Config {
		return Config{
			NodeID: 1, Voters: map[int32]string{1: ln.Addr().String()}, Dir: t.TempDir(), Conns: make(chan net.Conn), Addr: ln.Addr(),
			Logger: slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn})),
		}
	}
	for _, tc := range []struct {
		name string
		edit func(*Config)
	}{
		{"no voters", func(c *Config) { c.Voters = nil }},
		{"bad voter address", func(c *Config) { c.Voters = map[int32]string{1: "nohostport"} }},
		{"negative voter id", func(c *Config) { c.Voters[-1] = "h:1" }},
		{"no dir", func(c *Config) { c.Dir = "" }},
		{"no conns", func(c *Config) { c.Conns = nil }},
		{"no addr", func(c *Config) { c.Addr = nil }},
		{"lease above heartbeat", func(c *Config) { c.HeartbeatTimeout = 10 * time.Millisecond; c.LeaderLeaseTimeout = time.Second }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := good()
			tc.edit(&cfg)
			if q, err := Open(cfg); err == nil {
				q.Close()
				t.Fatal("Open succeeded")
			}
		})
	}
	// The good config opens: a single voter elects itself and becomes active.
	q, err := Open(good())
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	if !<-q.ActiveCh() {
		t.Fatal("single voter: ActiveCh delivered false")
	}
	if img := q.Image(); img.ControllerID != 1 || img.ClusterID == "" {
		t.Fatalf("single voter image: controller %d cluster %q", img.ControllerID, img.ClusterID)
	}
}

func TestSnapshotCodecBounds(t *testing.T) {
	f, q := newTestFSM()
	if err := f.Restore(io.NopCloser(bytes.NewReader([]byte("{not json")))); err == nil {
		t.Fatal("restore of garbage succeeded")
	}
	if q.Image().Offset != 0 || q.Image().ClusterID != "" {
		t.Fatal("failed restore changed the image")
	}
}

// TestObserver: a node outside the voters follows the log once the active controller
// adds it, and never votes or leads.
func TestObserver(t *testing.T) {
	c := newCluster(t, 3, nil)
	active := c.waitActive()
	if _, err := active.Propose(ctx(t), []metadata.Record{registerBroker(7)}); err != nil {
		t.Fatal(err)
	}

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	obs := &node{id: 4, dir: t.TempDir(), ln: ln, conns: make(chan net.Conn, 16), acceptDone: make(chan struct{})}
	c.nodes[4] = obs // c.voters stays 1..3
	go obs.acceptLoop(t)
	q4 := c.start(4)
	if !q4.IsObserver() || active.IsObserver() {
		t.Fatalf("IsObserver: node 4 %v, node %d %v", q4.IsObserver(), active.cfg.NodeID, active.IsObserver())
	}
	wantKerr(t, active.AddObserver(ctx(t), 2, "127.0.0.1:1"), kerr.InvalidRequest)
	if err := active.AddObserver(ctx(t), 4, ln.Addr().String()); err != nil {
		t.Fatal(err)
	}
	if err := active.AddObserver(ctx(t), 4, ln.Addr().String()); err != nil {
		t.Fatalf("adding the observer again: %v", err)
	}
	waitFor(t, "the observer to catch up", func() bool { return q4.Image().Offset == active.Image().Offset })
	if _, ok := q4.Image().Brokers[7]; !ok {
		t.Fatal("the observer's image lacks broker 7")
	}

	// Leadership moves among the voters only; the observer keeps following.
	c.stop(active.cfg.NodeID)
	next := c.waitActive()
	if next == q4 || q4.IsActive() {
		t.Fatal("the observer became the active controller")
	}
	if _, err := next.Propose(ctx(t), []metadata.Record{registerBroker(8)}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the observer to follow the new leader", func() bool { _, ok := q4.Image().Brokers[8]; return ok })
}
