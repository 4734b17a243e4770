package replica

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/samsa-io/samsa/internal/batchtest"
	"github.com/samsa-io/samsa/internal/commitlog"
	"github.com/samsa-io/samsa/internal/metadata"
)

// testCluster is an in-process cluster: one Manager per node, each with its own data
// directory, all reconciling from one shared local quorum. Fetches go straight to the
// leader's Manager (ReadForFollower), ISR changes are proposed as the controller would.
type testCluster struct {
	t       *testing.T
	o       clusterOptions
	q       metadata.Quorum
	nodes   map[int32]*testNode
	topic   string
	topicID metadata.UUID
	// alters counts the AlterPartition calls, refused those the controller refused.
	alters, refused atomic.Int64
}

type testNode struct {
	id  int32
	dir string // data directory, kept across restarts
	// cut makes this node's fetches fail, as if it were partitioned away.
	cut atomic.Bool

	mu     sync.Mutex // guards the fields below, replaced by a restart
	logs   *commitlog.Manager
	m      *Manager
	cancel context.CancelFunc // stops m.Run
	done   chan struct{}      // closed when m.Run returned
}

// manager is the node's current Manager.
func (n *testNode) manager() *Manager {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.m
}

type clusterOptions struct {
	nodes     int
	lagTime   time.Duration
	minInsync int
}

func startCluster(t *testing.T, o clusterOptions) *testCluster {
	t.Helper()
	if o.lagTime == 0 {
		o.lagTime = time.Hour // no ISR shrink unless the test asks for it
	}
	q, err := metadata.OpenLocalQuorum(t.TempDir(), "", 1)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	tc := &testCluster{t: t, o: o, q: q, nodes: make(map[int32]*testNode), topic: "t", topicID: metadata.RandomUUID()}
	for id := int32(1); id <= int32(o.nodes); id++ {
		if err := metadata.RegisterBroker(ctx, q, metadata.Broker{ID: id, Host: "node" + strconv.Itoa(int(id)), Port: 9092}); err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(func() {
		for _, n := range tc.nodes {
			tc.stopNode(n)
		}
		q.Close()
	})
	for id := int32(1); id <= int32(o.nodes); id++ {
		n := &testNode{id: id, dir: t.TempDir()}
		tc.nodes[id] = n
		q.Subscribe(func(_, next *metadata.Image) {
			// Under n.mu, so a restart neither closes the logs under a Reconcile nor
			// misses an image between its first Reconcile and publishing the Manager.
			n.mu.Lock()
			defer n.mu.Unlock()
			if n.m != nil {
				if err := n.m.Reconcile(next); err != nil {
					t.Errorf("node %d reconcile: %v", id, err)
				}
			}
		})
		tc.startNode(n)
	}

	replicas := make([]int32, 0, o.nodes)
	for id := int32(1); id <= int32(o.nodes); id++ {
		replicas = append(replicas, id)
	}
	recs := []metadata.Record{
		{Type: metadata.RecordTopic, Topic: &metadata.TopicRecord{Name: tc.topic, ID: tc.topicID}},
		{Type: metadata.RecordPartition, Partition: &metadata.PartitionRecord{TopicID: tc.topicID, Replicas: replicas, ISR: replicas, Leader: 1}},
	}
	if o.minInsync > 0 {
		v := strconv.Itoa(o.minInsync)
		recs = append(recs, metadata.Record{Type: metadata.RecordConfig, Config: &metadata.ConfigRecord{
			ResourceType: metadata.ConfigResourceTopic, ResourceName: tc.topic, Key: "min.insync.replicas", Value: &v}})
	}
	if _, err := q.Propose(ctx, recs); err != nil {
		t.Fatal(err)
	}
	return tc
}

// startNode opens the node's data directory and starts a Manager on it, reconciled
// with the current image.
func (tc *testCluster) startNode(n *testNode) {
	tc.t.Helper()
	logs, err := commitlog.OpenManager(n.dir, commitlog.ManagerOptions{DisableCleaner: true})
	if err != nil {
		tc.t.Fatal(err)
	}
	m := NewManager(Options{
		NodeID:              n.id,
		Logs:                logs,
		LogConfig:           testLogConfig,
		Fetch:               tc.fetch,
		AlterPartition:      tc.alterPartition,
		ReplicaLagTimeMax:   tc.o.lagTime,
		ReplicaFetchWaitMax: 20 * time.Millisecond,
		ReplicaFetchBackoff: 10 * time.Millisecond,
	})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	n.mu.Lock()
	defer n.mu.Unlock()
	n.logs, n.m, n.cancel, n.done = logs, m, cancel, done
	if err := m.Reconcile(tc.q.Image()); err != nil {
		tc.t.Error(err)
	}
	go func() {
		defer close(done)
		m.Run(ctx)
	}()
}

// stopNode stops the node's Manager and closes its logs cleanly (writing their
// checkpoints); the node keeps its data directory.
func (tc *testCluster) stopNode(n *testNode) {
	n.mu.Lock()
	logs, cancel, done := n.logs, n.cancel, n.done
	n.logs, n.m, n.cancel, n.done = nil, nil, nil, nil
	n.mu.Unlock()
	if cancel == nil {
		return
	}
	cancel()
	<-done
	if err := logs.Close(); err != nil {
		tc.t.Errorf("node %d: close logs: %v", n.id, err)
	}
}

// restart stops every node, then starts them again on their data directories, as a
// whole cluster restarting after a clean shutdown.
func (tc *testCluster) restart() {
	tc.t.Helper()
	for _, n := range tc.nodes {
		tc.stopNode(n)
	}
	for _, n := range tc.nodes {
		tc.startNode(n)
	}
}

// testLogConfig is the default log config with the topic's min.insync.replicas.
func testLogConfig(overrides map[string]string) (commitlog.Config, error) {
	cfg := commitlog.DefaultConfig()
	if v, ok := overrides["min.insync.replicas"]; ok {
		n, err := strconv.Atoi(v)
		if err != nil {
			return cfg, err
		}
		cfg.MinInsyncReplicas = int32(n)
	}
	return cfg, nil
}

func (tc *testCluster) tp() commitlog.TopicPartition {
	return commitlog.TopicPartition{Topic: tc.topic, Partition: 0}
}

// part is node id's partition.
func (tc *testCluster) part(id int32) *Partition {
	tc.t.Helper()
	p, err := tc.nodes[id].manager().Get(tc.tp())
	if err != nil {
		tc.t.Fatalf("node %d: %v", id, err)
	}
	return p
}

func (tc *testCluster) image() *metadata.Partition {
	return tc.q.Image().Partition(tc.topic, 0)
}

// change proposes a partition change as the controller would.
func (tc *testCluster) change(leader int32, isr []int32) {
	tc.t.Helper()
	if _, err := tc.q.Propose(context.Background(), []metadata.Record{{Type: metadata.RecordPartitionChange,
		PartitionChange: &metadata.PartitionChangeRecord{TopicID: tc.topicID, Leader: &leader, ISR: isr}}}); err != nil {
		tc.t.Fatal(err)
	}
}

// fence fences or unfences a broker, as the controller does when its heartbeats stop
// or resume.
func (tc *testCluster) fence(id int32, fenced bool) {
	tc.t.Helper()
	if _, err := tc.q.Propose(context.Background(), []metadata.Record{{Type: metadata.RecordBrokerChange,
		BrokerChange: &metadata.BrokerChangeRecord{ID: id, Fenced: &fenced}}}); err != nil {
		tc.t.Fatal(err)
	}
}

// alterPartition is the controller's side of AlterPartition: the change applies only to
// the epochs it is based on, and only usable brokers may join the ISR.
func (tc *testCluster) alterPartition(ctx context.Context, req AlterPartitionRequest) error {
	tc.alters.Add(1)
	img := tc.q.Image()
	part := img.Partition(req.Topic, req.Partition)
	if part == nil || req.TopicID != tc.topicID {
		tc.refused.Add(1)
		return kerr.UnknownTopicOrPartition
	}
	if part.LeaderEpoch != req.LeaderEpoch || part.PartitionEpoch != req.PartitionEpoch {
		tc.refused.Add(1)
		return fmt.Errorf("stale epochs %d/%d, now %d/%d: %w", req.LeaderEpoch, req.PartitionEpoch, part.LeaderEpoch, part.PartitionEpoch, kerr.InvalidUpdateVersion)
	}
	for _, id := range req.ISR {
		if !slices.Contains(part.ISR, id) && !img.Brokers[id].Usable() {
			tc.refused.Add(1)
			return fmt.Errorf("broker %d cannot join the isr: %w", id, kerr.IneligibleReplica)
		}
	}
	_, err := tc.q.Propose(ctx, []metadata.Record{{Type: metadata.RecordPartitionChange,
		PartitionChange: &metadata.PartitionChangeRecord{TopicID: req.TopicID, PartitionID: req.Partition, ISR: req.ISR}}})
	return err
}

var errCut = errors.New("test: node cut off")

// fetch serves a follower's fetch from the leader's Manager, as the broker's fetch
// handler does: ReadForFollower per partition, long polling until data, an error or
// max wait.
func (tc *testCluster) fetch(ctx context.Context, leader metadata.Broker, req *kmsg.FetchRequest) (*kmsg.FetchResponse, error) {
	ln, fn := tc.nodes[leader.ID], tc.nodes[req.ReplicaID]
	if ln == nil || fn == nil || fn.cut.Load() || ln.cut.Load() {
		return nil, errCut
	}
	lm := ln.manager()
	if lm == nil {
		return nil, errCut // stopped
	}
	wake := make(chan struct{}, 1)
	var watched []*Partition
	defer func() {
		for _, p := range watched {
			p.Unwatch(wake)
		}
	}()
	timer := time.NewTimer(time.Duration(req.MaxWaitMillis) * time.Millisecond)
	defer timer.Stop()
	for {
		resp, n, now, parts := serveFetch(lm, req)
		if fn.cut.Load() || ln.cut.Load() {
			// Cut while the fetch was in flight: the answer is lost on the way.
			return nil, errCut
		}
		if n > 0 || now {
			return resp, nil
		}
		if watched == nil {
			for _, p := range parts {
				p.Watch(wake)
			}
			watched = parts
			continue
		}
		select {
		case <-wake:
		case <-timer.C:
			return resp, nil
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

func serveFetch(m *Manager, req *kmsg.FetchRequest) (*kmsg.FetchResponse, int, bool, []*Partition) {
	resp := kmsg.NewPtrFetchResponse()
	total, now := 0, false
	var parts []*Partition
	for _, rt := range req.Topics {
		st := kmsg.NewFetchResponseTopic()
		st.Topic, st.TopicID = rt.Topic, rt.TopicID
		for _, rp := range rt.Partitions {
			sp := kmsg.NewFetchResponseTopicPartition()
			sp.Partition = rp.Partition
			p, err := m.Get(commitlog.TopicPartition{Topic: rt.Topic, Partition: rp.Partition})
			var fr FollowerRead
			if err == nil {
				parts = append(parts, p)
				fr, err = p.ReadForFollower(FollowerFetch{ReplicaID: req.ReplicaID, FetchOffset: rp.FetchOffset, LogStartOffset: rp.LogStartOffset,
					LastFetchedEpoch: rp.LastFetchedEpoch, CurrentLeaderEpoch: rp.CurrentLeaderEpoch,
					MaxBytes: int(rp.PartitionMaxBytes), MinOneBatch: total == 0})
			}
			sp.HighWatermark, sp.LogStartOffset = fr.HighWatermark, fr.LogStartOffset
			if err != nil {
				var ke *kerr.Error
				if !errors.As(err, &ke) {
					ke = kerr.UnknownServerError
				}
				sp.ErrorCode = ke.Code
				now = true
			} else if fr.Diverging {
				sp.DivergingEpoch.Epoch, sp.DivergingEpoch.EndOffset = fr.DivergingEpoch, fr.DivergingEndOffset
				now = true
			} else if fr.Slice.Size > 0 {
				buf := make([]byte, fr.Slice.Size)
				if _, err := fr.Slice.File.ReadAt(buf, fr.Slice.Pos); err != nil {
					sp.ErrorCode = kerr.KafkaStorageError.Code
				} else {
					sp.RecordBatches = buf
					total += len(buf)
				}
			}
			st.Partitions = append(st.Partitions, sp)
		}
		resp.Topics = append(resp.Topics, st)
	}
	return resp, total, now, parts
}

// waitFor polls cond until it holds or 10 s pass: the cluster's goroutines get there on
// their own schedule.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

var batchSeq atomic.Int64

// batch returns a fresh one-record batch.
func batch() []byte {
	v := fmt.Sprintf("value-%d", batchSeq.Add(1))
	return batchtest.Batch{FirstTimestamp: time.Now().UnixMilli(), Records: []batchtest.Record{{Value: []byte(v)}}}.Encode()
}

// produce appends n batches at node id as leader with acks.
func (tc *testCluster) produce(id int32, n int, acks int16) (last int64, epoch int32) {
	tc.t.Helper()
	p := tc.part(id)
	for range n {
		res, e, err := p.AppendAsLeader(batch(), acks)
		if err != nil {
			tc.t.Fatalf("append at node %d: %v", id, err)
		}
		last, epoch = res.LastOffset, e
	}
	return last, epoch
}

// logBytes reads a node's whole log, from its log start to its end.
func logBytes(t *testing.T, l *commitlog.Log) []byte {
	t.Helper()
	var out []byte
	off := l.LogStartOffset()
	for off < l.LogEndOffset() {
		r, err := l.Read(off, 1<<20, math.MaxInt64, true)
		if err != nil {
			t.Fatal(err)
		}
		if len(r.Records) == 0 {
			t.Fatalf("read at %d returned nothing below the log end %d", off, l.LogEndOffset())
		}
		out = append(out, r.Records...)
		h, err := commitlog.ParseBatchHeader(r.Records[lastBatchStart(t, r.Records):])
		if err != nil {
			t.Fatal(err)
		}
		off = h.LastOffset() + 1
	}
	return out
}

func lastBatchStart(t *testing.T, b []byte) int {
	t.Helper()
	pos, last := 0, 0
	for pos < len(b) {
		h, err := commitlog.ParseBatchHeader(b[pos:])
		if err != nil {
			t.Fatal(err)
		}
		last = pos
		pos += int(h.Size())
	}
	return last
}

// waitInSync waits until every node's log equals the leader's, byte for byte.
func (tc *testCluster) waitInSync(leader int32, nodes ...int32) {
	tc.t.Helper()
	want := tc.part(leader).Log
	for _, id := range nodes {
		l := tc.part(id).Log
		waitFor(tc.t, fmt.Sprintf("node %d to reach the leader's log end", id), func() bool {
			return l.LogEndOffset() == want.LogEndOffset()
		})
		if got, exp := logBytes(tc.t, l), logBytes(tc.t, want); !bytes.Equal(got, exp) {
			tc.t.Fatalf("node %d's log (%d bytes) differs from leader %d's (%d bytes)", id, len(got), leader, len(exp))
		}
	}
}

func isrOf(tc *testCluster) []int32 {
	isr := slices.Clone(tc.image().ISR)
	slices.Sort(isr)
	return isr
}
