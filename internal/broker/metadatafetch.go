package broker

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/samsa-io/samsa/internal/metadata"
	"github.com/samsa-io/samsa/internal/raftquorum"
	"github.com/samsa-io/samsa/internal/record"
)

// A node with only the broker role (process.roles=broker) is not a member of the Raft
// quorum: like a Kafka broker, which is an observer of the KRaft log, it fetches the
// committed metadata from a controller. On the controller listener:
//
//   - Fetch v12 of partition 0 of the topic __cluster_metadata, from the offset of the
//     broker's image (Image.Offset, the count of records applied). The answer holds one
//     record batch per log entry, whose base offset is the entry's first record offset
//     and whose records' values are the JSON of the metadata.Records; CurrentLeader
//     names the active controller. The fetch waits up to MaxWaitMillis for new records.
//     When the controller no longer holds the records from that offset (it keeps the
//     latest; see raftquorum.RecordsSince) it answers with SnapshotID instead: the end
//     offset of its current image.
//   - FetchSnapshot v0 of that snapshot id returns the image in the metadata file format
//     (metadata.EncodeImage), in chunks from Position.
//
// These answer any peer, as the Raft transport does: the broker knows no credential
// before it has the metadata (the cluster secret is in it). The controller listener must
// therefore be reachable by the cluster's nodes only (see sasl.go).

// metadataFetchWait is how long a metadata fetch waits for new records; it also bounds
// how fast a broker notices that its controller went away.
const metadataFetchWait = 500 * time.Millisecond

// metadataFetchMaxBytes bounds the record batches of one metadata fetch answer.
const metadataFetchMaxBytes = 8 << 20

// metadataSnapshotChunk is the size of the chunks a broker asks a snapshot in.
const metadataSnapshotChunk = 4 << 20

// changeSignal wakes waiters on every metadata change: wait returns a channel closed at
// the next change.
type changeSignal struct {
	mu sync.Mutex // guards ch
	ch chan struct{}
}

func newChangeSignal() *changeSignal { return &changeSignal{ch: make(chan struct{})} }

func (s *changeSignal) wait() <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.ch
}

func (s *changeSignal) fire() {
	s.mu.Lock()
	close(s.ch)
	s.ch = make(chan struct{})
	s.mu.Unlock()
}

// metadataFetcher is what a controller remembers of a broker that fetches the metadata
// from it, for DescribeQuorum's observers.
type metadataFetcher struct {
	index    uint64 // Raft index of the broker's last applied entry; 0 when unknown
	at       time.Time
	caughtUp bool // it had every record this node had
}

// handleMetadataFetch serves a broker-only node's fetch of the metadata log.
func (cl *cluster) handleMetadataFetch(ctx context.Context, _ *conn, kreq kmsg.Request) (kmsg.Response, error) {
	req := kreq.(*kmsg.FetchRequest)
	resp := req.ResponseKind().(*kmsg.FetchResponse)
	if len(req.Topics) != 1 || req.Topics[0].Topic != metadataDirName || len(req.Topics[0].Partitions) != 1 || req.Topics[0].Partitions[0].Partition != 0 {
		resp.ErrorCode = kerr.InvalidRequest.Code
		return resp, nil
	}
	offset := req.Topics[0].Partitions[0].FetchOffset
	wait := min(time.Duration(max(req.MaxWaitMillis, 0))*time.Millisecond, metadataFetchWait)
	deadline := time.Now().Add(wait)
	var (
		entries []raftquorum.Entry
		img     *metadata.Image
		ok      bool
	)
	for {
		changed := cl.changed.wait()
		entries, img, ok = cl.raft.RecordsSince(offset, 10000)
		if !ok || len(entries) > 0 || time.Until(deadline) <= 0 {
			break
		}
		t := time.NewTimer(time.Until(deadline))
		select {
		case <-changed:
		case <-t.C:
		case <-ctx.Done():
		}
		t.Stop()
		if ctx.Err() != nil {
			break
		}
	}
	cl.noteFetcher(req.ReplicaID, offset, offset >= img.Offset)

	st := kmsg.NewFetchResponseTopic()
	st.Topic = metadataDirName
	sp := kmsg.NewFetchResponseTopicPartition()
	sp.HighWatermark, sp.LastStableOffset, sp.LogStartOffset = img.Offset, img.Offset, 0
	status := cl.raft.Status()
	sp.CurrentLeader.LeaderID, sp.CurrentLeader.LeaderEpoch = status.LeaderID, clampInt32(status.Term)
	if !ok {
		cl.cacheSnapshot(img)
		sp.SnapshotID.EndOffset, sp.SnapshotID.Epoch = img.Offset, clampInt32(status.Term)
	} else {
		for _, e := range entries {
			batch, err := encodeEntry(e.Offset, e.Records)
			if err != nil {
				return nil, err
			}
			if len(sp.RecordBatches) > 0 && len(sp.RecordBatches)+len(batch) > int(max(req.MaxBytes, 1)) {
				break
			}
			sp.RecordBatches = append(sp.RecordBatches, batch...)
		}
	}
	st.Partitions = append(st.Partitions, sp)
	resp.Topics = append(resp.Topics, st)
	return resp, nil
}

// encodeEntry is one log entry as a record batch.
func encodeEntry(offset int64, recs []metadata.Record) ([]byte, error) {
	rs := make([]record.Record, len(recs))
	for i, r := range recs {
		v, err := json.Marshal(r)
		if err != nil {
			return nil, fmt.Errorf("broker: encode metadata record: %v: %w", err, kerr.UnknownServerError)
		}
		rs[i].Value = v
	}
	return record.NewBatch(offset, rs...).Encode()
}

// noteFetcher remembers where a broker fetching the metadata is.
func (cl *cluster) noteFetcher(id int32, offset int64, caughtUp bool) {
	if id < 0 {
		return
	}
	idx, _ := cl.raft.IndexAt(offset)
	cl.fetchersMu.Lock()
	cl.fetchers[id] = metadataFetcher{index: idx, at: time.Now(), caughtUp: caughtUp}
	cl.fetchersMu.Unlock()
}

// observers lists the brokers that fetched the metadata from this node within a session
// timeout.
func (cl *cluster) observers() map[int32]metadataFetcher {
	cl.fetchersMu.Lock()
	defer cl.fetchersMu.Unlock()
	out := make(map[int32]metadataFetcher)
	for id, f := range cl.fetchers {
		if time.Since(f.at) > cl.b.cfg.BrokerSessionTimeout {
			delete(cl.fetchers, id)
			continue
		}
		out[id] = f
	}
	return out
}

// cacheSnapshot keeps img encoded for FetchSnapshot, unless the cached one is already it.
func (cl *cluster) cacheSnapshot(img *metadata.Image) {
	cl.snapMu.Lock()
	defer cl.snapMu.Unlock()
	if cl.snap != nil && cl.snapOffset == img.Offset {
		return
	}
	data, err := metadata.EncodeImage(img)
	if err != nil {
		cl.b.logger.Error("encoding the metadata image for a broker", "err", err)
		return
	}
	cl.snap, cl.snapOffset = data, img.Offset
}

// handleFetchSnapshot serves a chunk of the image named in a metadata fetch answer.
func (cl *cluster) handleFetchSnapshot(_ context.Context, _ *conn, kreq kmsg.Request) (kmsg.Response, error) {
	req := kreq.(*kmsg.FetchSnapshotRequest)
	resp := req.ResponseKind().(*kmsg.FetchSnapshotResponse)
	if len(req.Topics) != 1 || req.Topics[0].Topic != metadataDirName || len(req.Topics[0].Partitions) != 1 || req.Topics[0].Partitions[0].Partition != 0 {
		resp.ErrorCode = kerr.InvalidRequest.Code
		return resp, nil
	}
	rp := req.Topics[0].Partitions[0]
	st := kmsg.NewFetchSnapshotResponseTopic()
	st.Topic = metadataDirName
	sp := kmsg.NewFetchSnapshotResponseTopicPartition()
	sp.SnapshotID.EndOffset, sp.SnapshotID.Epoch = rp.SnapshotID.EndOffset, rp.SnapshotID.Epoch
	status := cl.raft.Status()
	sp.CurrentLeader.LeaderID, sp.CurrentLeader.LeaderEpoch = status.LeaderID, clampInt32(status.Term)
	cl.snapMu.Lock()
	data, offset := cl.snap, cl.snapOffset
	cl.snapMu.Unlock()
	switch {
	case data == nil || offset != rp.SnapshotID.EndOffset:
		sp.ErrorCode = kerr.SnapshotNotFound.Code
	case rp.Position < 0 || rp.Position > int64(len(data)):
		sp.ErrorCode = kerr.PositionOutOfRange.Code
	default:
		n := min(int64(len(data))-rp.Position, int64(max(req.MaxBytes, 1)))
		sp.Size, sp.Position = int64(len(data)), rp.Position
		sp.Bytes = data[rp.Position : rp.Position+n]
	}
	st.Partitions = append(st.Partitions, sp)
	resp.Topics = append(resp.Topics, st)
	return resp, nil
}

// metadataFollower is the metadata.Quorum of a broker-only node: the image it fetched
// from the controllers. It cannot propose; the broker sends what it would propose to the
// active controller, as every broker does.
type metadataFollower struct {
	b      *Broker
	voters map[int32]string // node id -> controller listener
	ids    []int32          // voter ids, sorted: the order tried when no leader is known

	img    atomic.Pointer[metadata.Image]
	leader atomic.Int32 // the active controller last named; -1 when unknown

	mu   sync.Mutex // guards subs; held while img is stored (see Quorum.Subscribe)
	subs []func(prev, next *metadata.Image)

	clients map[string]*peerClient // owned by run
	// snapshotChunk is the chunk size asked for in FetchSnapshot (a field for tests).
	snapshotChunk int32
}

var _ metadata.Quorum = (*metadataFollower)(nil)

func newMetadataFollower(b *Broker, voters map[int32]string) *metadataFollower {
	f := &metadataFollower{b: b, voters: voters, ids: slices.Sorted(maps.Keys(voters)), clients: make(map[string]*peerClient), snapshotChunk: metadataSnapshotChunk}
	f.img.Store(metadata.NewImage())
	f.leader.Store(-1)
	return f
}

func (f *metadataFollower) Image() *metadata.Image { return f.img.Load() }

func (f *metadataFollower) Subscribe(fn func(prev, next *metadata.Image)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.subs = append(f.subs, fn)
}

func (f *metadataFollower) Propose(context.Context, []metadata.Record) (*metadata.Image, error) {
	return nil, fmt.Errorf("broker: node %d has only the broker role and cannot change the metadata: %w", f.b.cfg.NodeID, kerr.NotController)
}

func (f *metadataFollower) Close() error {
	for _, c := range f.clients {
		c.close()
	}
	return nil
}

// Leader returns the active controller as the last fetch answer named it.
func (f *metadataFollower) Leader() (int32, bool) {
	id := f.leader.Load()
	_, known := f.voters[id]
	return id, known
}

// publish makes next the image and tells the subscribers; only run calls it.
func (f *metadataFollower) publish(next *metadata.Image) {
	f.mu.Lock()
	prev := f.img.Load()
	f.img.Store(next)
	subs := f.subs
	f.mu.Unlock()
	for _, fn := range subs {
		fn(prev, next)
	}
}

// run fetches the metadata until ctx ends: from the active controller when known, else
// from each voter in turn.
func (f *metadataFollower) run(ctx context.Context) {
	next := 0
	backoff := 50 * time.Millisecond
	var lastWarn time.Time
	for ctx.Err() == nil {
		id, ok := f.Leader()
		if !ok {
			id = f.ids[next%len(f.ids)]
			next++
		}
		err := f.fetch(ctx, id)
		if err == nil {
			backoff = 50 * time.Millisecond
			continue
		}
		if ctx.Err() != nil {
			return
		}
		f.leader.Store(-1)
		if time.Since(lastWarn) > 30*time.Second {
			lastWarn = time.Now()
			f.b.logger.Warn("fetching the metadata from the controllers", "controller", id, "err", err)
		}
		sleepCtx(ctx, backoff)
		backoff = min(2*backoff, time.Second)
	}
}

func (f *metadataFollower) client(id int32) *peerClient {
	addr := f.voters[id]
	c := f.clients[addr]
	if c == nil {
		c = newPeerClient(addr, "samsa-node-"+strconv.Itoa(int(f.b.cfg.NodeID))+"-metadata", nil)
		f.clients[addr] = c
	}
	return c
}

// fetch asks controller id once for what follows this node's image, and applies it.
func (f *metadataFollower) fetch(ctx context.Context, id int32) error {
	img := f.Image()
	req := kmsg.NewPtrFetchRequest()
	req.Version = 12
	req.ReplicaID = f.b.cfg.NodeID
	req.MaxWaitMillis = int32(metadataFetchWait / time.Millisecond)
	req.MinBytes, req.MaxBytes = 1, metadataFetchMaxBytes
	req.SessionEpoch = -1
	rt := kmsg.NewFetchRequestTopic()
	rt.Topic = metadataDirName
	rp := kmsg.NewFetchRequestTopicPartition()
	rp.Partition, rp.FetchOffset, rp.PartitionMaxBytes = 0, img.Offset, metadataFetchMaxBytes
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)

	c := f.client(id)
	fctx, cancel := context.WithTimeout(ctx, metadataFetchWait+controllerRequestTimeout)
	defer cancel()
	kresp, err := c.request(fctx, req)
	if err != nil {
		return err
	}
	resp := kresp.(*kmsg.FetchResponse)
	if err := codeError(resp.ErrorCode, nil); err != nil {
		return err
	}
	if len(resp.Topics) != 1 || len(resp.Topics[0].Partitions) != 1 {
		return fmt.Errorf("broker: metadata fetch answered with %d topics: %w", len(resp.Topics), kerr.UnknownServerError)
	}
	sp := resp.Topics[0].Partitions[0]
	if err := codeError(sp.ErrorCode, nil); err != nil {
		return err
	}
	if _, ok := f.voters[sp.CurrentLeader.LeaderID]; ok {
		f.leader.Store(sp.CurrentLeader.LeaderID)
	}
	var next *metadata.Image
	if sp.SnapshotID.EndOffset >= 0 {
		next, err = f.fetchSnapshot(fctx, c, sp.SnapshotID.EndOffset, sp.SnapshotID.Epoch)
	} else {
		next, err = applyBatches(img, sp.RecordBatches)
	}
	if err != nil || next == img {
		return err
	}
	if want := f.b.cfg.ClusterID; want != "" && next.ClusterID != "" && next.ClusterID != want {
		return fmt.Errorf("broker: cluster.id %q does not match %q of the controllers: %w", want, next.ClusterID, kerr.InconsistentClusterID)
	}
	f.publish(next)
	return nil
}

// applyBatches applies the log entries of a metadata fetch answer to img.
func applyBatches(img *metadata.Image, b []byte) (*metadata.Image, error) {
	for len(b) > 0 {
		if len(b) < 12 {
			return nil, fmt.Errorf("broker: metadata fetch: truncated batch: %w", kerr.CorruptMessage)
		}
		n := int64(binary.BigEndian.Uint32(b[8:12])) + 12
		if n > int64(len(b)) {
			return nil, fmt.Errorf("broker: metadata fetch: batch of %d bytes in %d: %w", n, len(b), kerr.CorruptMessage)
		}
		batch, err := record.Decode(b[:n])
		if err != nil {
			return nil, fmt.Errorf("broker: metadata fetch: %w", err)
		}
		b = b[n:]
		if batch.BaseOffset != img.Offset {
			return nil, fmt.Errorf("broker: metadata fetch: entry at offset %d after an image at %d: %w", batch.BaseOffset, img.Offset, kerr.CorruptMessage)
		}
		recs := make([]metadata.Record, len(batch.Records))
		for i, r := range batch.Records {
			if err := json.Unmarshal(r.Value, &recs[i]); err != nil {
				return nil, fmt.Errorf("broker: metadata fetch: record at offset %d: %v: %w", r.Offset, err, kerr.CorruptMessage)
			}
		}
		if img, err = img.Apply(recs); err != nil {
			return nil, fmt.Errorf("broker: metadata fetch: entry at offset %d: %w", batch.BaseOffset, err)
		}
	}
	return img, nil
}

// fetchSnapshot reads the controller's image at offset end, chunk by chunk.
func (f *metadataFollower) fetchSnapshot(ctx context.Context, c *peerClient, end int64, epoch int32) (*metadata.Image, error) {
	var data []byte
	for {
		req := kmsg.NewPtrFetchSnapshotRequest()
		req.ReplicaID, req.MaxBytes = f.b.cfg.NodeID, f.snapshotChunk
		rt := kmsg.NewFetchSnapshotRequestTopic()
		rt.Topic = metadataDirName
		rp := kmsg.NewFetchSnapshotRequestTopicPartition()
		rp.CurrentLeaderEpoch = epoch
		rp.SnapshotID.EndOffset, rp.SnapshotID.Epoch, rp.Position = end, epoch, int64(len(data))
		rt.Partitions = append(rt.Partitions, rp)
		req.Topics = append(req.Topics, rt)
		kresp, err := c.request(ctx, req)
		if err != nil {
			return nil, err
		}
		resp := kresp.(*kmsg.FetchSnapshotResponse)
		if err := codeError(resp.ErrorCode, nil); err != nil {
			return nil, err
		}
		if len(resp.Topics) != 1 || len(resp.Topics[0].Partitions) != 1 {
			return nil, fmt.Errorf("broker: metadata snapshot answered with %d topics: %w", len(resp.Topics), kerr.UnknownServerError)
		}
		sp := resp.Topics[0].Partitions[0]
		if err := codeError(sp.ErrorCode, nil); err != nil {
			return nil, fmt.Errorf("broker: metadata snapshot at %d: %w", end, err)
		}
		if sp.Size > metadata.MaxMetadataFileSize || sp.Position != int64(len(data)) || int64(len(data)+len(sp.Bytes)) > sp.Size || len(sp.Bytes) == 0 && sp.Size > int64(len(data)) {
			return nil, fmt.Errorf("broker: metadata snapshot chunk at %d of %d bytes (size %d) does not follow %d bytes: %w", sp.Position, len(sp.Bytes), sp.Size, len(data), kerr.CorruptMessage)
		}
		data = append(data, sp.Bytes...)
		if int64(len(data)) == sp.Size {
			break
		}
	}
	img, err := metadata.DecodeImage(data)
	if err != nil {
		return nil, err
	}
	if img.Offset != end {
		return nil, fmt.Errorf("broker: metadata snapshot at %d holds an image at %d: %w", end, img.Offset, kerr.CorruptMessage)
	}
	return img, nil
}
