package replica

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/samsa-io/samsa/internal/commitlog"
	"github.com/samsa-io/samsa/internal/metadata"
)

// fetcher copies the partitions this node follows from one leader broker: one Fetch
// request for all of them at a time, as Kafka's ReplicaFetcherThread.
type fetcher struct {
	m      *Manager
	leader int32
	// wake is signalled (non-blocking) when the partition set or the image changes.
	wake chan struct{}

	started bool // guarded by Manager.fmu: the goroutine runs

	mu    sync.Mutex // guards parts
	parts map[commitlog.TopicPartition]*Partition
}

// fetchState is one partition of a fetch in flight, as it was when the request was
// built; the response is applied only if the partition is still in that state.
type fetchState struct {
	p           *Partition
	leaderEpoch int32
	fetchOffset int64
	lastEpoch   int32
}

// assignFetcher moves p to the fetcher of leader when it is a follower, and out of every
// fetcher otherwise. Needs p.mu.
func (m *Manager) assignFetcher(p *Partition, r role, leader int32) {
	m.fmu.Lock()
	defer m.fmu.Unlock()
	for id, f := range m.fetchers {
		if r == roleFollower && id == leader {
			continue
		}
		f.mu.Lock()
		if f.parts[p.TP] == p {
			delete(f.parts, p.TP)
		}
		f.mu.Unlock()
	}
	if r != roleFollower {
		return
	}
	f := m.fetchers[leader]
	if f == nil {
		f = &fetcher{m: m, leader: leader, wake: make(chan struct{}, 1), parts: make(map[commitlog.TopicPartition]*Partition)}
		m.fetchers[leader] = f
		m.startFetcherLocked(f)
	}
	f.mu.Lock()
	f.parts[p.TP] = p
	f.mu.Unlock()
	f.signal()
}

// startFetcherLocked starts f's goroutine if Run has started and it has not. Needs fmu.
func (m *Manager) startFetcherLocked(f *fetcher) {
	if f.started || m.runCtx == nil || m.stopped || m.opts.Fetch == nil {
		return
	}
	f.started = true
	ctx := m.runCtx
	m.wg.Add(1)
	go func() {
		defer m.wg.Done()
		f.run(ctx)
	}()
}

// wakeFetchers tells every fetcher that the image changed: delayed partitions may be
// fetchable again and leaders may have moved.
func (m *Manager) wakeFetchers() {
	m.fmu.Lock()
	defer m.fmu.Unlock()
	for _, f := range m.fetchers {
		f.signal()
	}
}

func (f *fetcher) signal() {
	select {
	case f.wake <- struct{}{}:
	default:
	}
}

// sleep waits for d (forever when d < 0), a signal, or the end of ctx.
func (f *fetcher) sleep(ctx context.Context, d time.Duration) {
	var timeout <-chan time.Time
	if d >= 0 {
		t := time.NewTimer(d)
		defer t.Stop()
		timeout = t.C
	}
	select {
	case <-ctx.Done():
	case <-f.wake:
	case <-timeout:
	}
}

func (f *fetcher) run(ctx context.Context) {
	backoff := f.m.opts.ReplicaFetchBackoff
	for ctx.Err() == nil {
		batch, wait := f.ready()
		if len(batch) == 0 {
			f.sleep(ctx, wait)
			continue
		}
		b, ok := f.m.img.Load().Broker(f.leader)
		if !ok {
			f.sleep(ctx, backoff)
			continue
		}
		resp, err := f.m.opts.Fetch(ctx, b, f.request(batch))
		if err == nil && resp.ErrorCode != 0 {
			err = kerr.ErrorForCode(resp.ErrorCode)
		}
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			f.m.logger.Debug("replica: fetch from leader failed", "leader", f.leader, "err", err)
			f.sleep(ctx, backoff)
			continue
		}
		f.apply(batch, resp)
	}
}

// ready returns the partitions to fetch now and, when there are none, how long until a
// delayed one is due (-1: none is).
func (f *fetcher) ready() ([]fetchState, time.Duration) {
	f.mu.Lock()
	parts := make([]*Partition, 0, len(f.parts))
	for _, p := range f.parts {
		parts = append(parts, p)
	}
	f.mu.Unlock()
	now := f.m.now()
	var out []fetchState
	wait := time.Duration(-1)
	for _, p := range parts {
		p.mu.Lock()
		switch {
		case p.role != roleFollower || p.leader != f.leader:
		case now.Before(p.fetchDelayUntil):
			if d := p.fetchDelayUntil.Sub(now); wait < 0 || d < wait {
				wait = d
			}
		default:
			out = append(out, fetchState{p: p, leaderEpoch: p.leaderEpoch, fetchOffset: p.Log.LogEndOffset(), lastEpoch: p.Log.LatestEpoch()})
		}
		p.mu.Unlock()
	}
	return out, wait
}

// request builds the Fetch for batch. Topic names and ids are both set, so any version
// the client picks carries what it needs.
func (f *fetcher) request(batch []fetchState) *kmsg.FetchRequest {
	o := &f.m.opts
	req := kmsg.NewPtrFetchRequest()
	req.ReplicaID = o.NodeID
	req.ReplicaState.ID = o.NodeID
	req.MaxWaitMillis = int32(o.ReplicaFetchWaitMax.Milliseconds())
	req.MinBytes = o.ReplicaFetchMinBytes
	req.MaxBytes = o.ReplicaFetchResponseMaxBytes
	req.SessionID, req.SessionEpoch = 0, -1
	idx := make(map[commitlog.TopicPartition]int) // topic name -> index in req.Topics (partition unused)
	for _, st := range batch {
		key := commitlog.TopicPartition{Topic: st.p.TP.Topic}
		i, ok := idx[key]
		if !ok {
			t := kmsg.NewFetchRequestTopic()
			t.Topic, t.TopicID = st.p.TP.Topic, st.p.TopicID
			req.Topics = append(req.Topics, t)
			i = len(req.Topics) - 1
			idx[key] = i
		}
		rp := kmsg.NewFetchRequestTopicPartition()
		rp.Partition = st.p.TP.Partition
		rp.CurrentLeaderEpoch = st.leaderEpoch
		rp.FetchOffset = st.fetchOffset
		rp.LastFetchedEpoch = st.lastEpoch
		rp.LogStartOffset = st.p.Log.LogStartOffset()
		rp.PartitionMaxBytes = o.ReplicaFetchMaxBytes
		req.Topics[i].Partitions = append(req.Topics[i].Partitions, rp)
	}
	return req
}

// apply applies each partition of resp that batch asked for.
func (f *fetcher) apply(batch []fetchState, resp *kmsg.FetchResponse) {
	type key struct {
		id        metadata.UUID
		name      string
		partition int32
	}
	got := make(map[key]*kmsg.FetchResponseTopicPartition)
	for i := range resp.Topics {
		t := &resp.Topics[i]
		for j := range t.Partitions {
			rp := &t.Partitions[j]
			got[key{id: metadata.UUID(t.TopicID), partition: rp.Partition}] = rp
			got[key{name: t.Topic, partition: rp.Partition}] = rp
		}
	}
	for _, st := range batch {
		rp := got[key{id: st.p.TopicID, partition: st.p.TP.Partition}]
		if rp == nil || st.p.TopicID.IsZero() {
			rp = got[key{name: st.p.TP.Topic, partition: st.p.TP.Partition}]
		}
		if rp == nil {
			continue // not answered (the response was cut short); fetched again next round
		}
		if err := f.applyPartition(st, rp); err != nil {
			f.m.logger.Debug("replica: fetch of partition failed; backing off", "topic", st.p.TP.Topic, "partition", st.p.TP.Partition, "leader", f.leader, "err", err)
			st.p.mu.Lock()
			st.p.fetchDelayUntil = f.m.now().Add(f.m.opts.ReplicaFetchBackoff)
			st.p.mu.Unlock()
		}
	}
}

// applyPartition appends, truncates or restarts one partition from its part of a fetch
// response, under roleMu so the partition's role cannot change meanwhile. A response
// to a fetch sent in another leader epoch, or from another log end, is dropped.
func (f *fetcher) applyPartition(st fetchState, rp *kmsg.FetchResponseTopicPartition) error {
	p := st.p
	p.roleMu.Lock()
	defer p.roleMu.Unlock()
	p.mu.Lock()
	current := p.role == roleFollower && p.leader == f.leader && p.leaderEpoch == st.leaderEpoch
	p.mu.Unlock()
	if !current || p.Log.LogEndOffset() != st.fetchOffset {
		return nil
	}
	err := kerr.ErrorForCode(rp.ErrorCode)
	switch {
	case err == nil:
		return f.applyData(st, rp)
	case errors.Is(err, kerr.OffsetOutOfRange):
		return f.outOfRange(st, rp)
	default:
		// NOT_LEADER_OR_FOLLOWER, FENCED_LEADER_EPOCH, UNKNOWN_LEADER_EPOCH, ...: the
		// leader and this node see different images; wait for the next one.
		return fmt.Errorf("replica: leader %d answered: %w", f.leader, err)
	}
}

// applyData handles a successful partition response: a diverging epoch truncates,
// records are appended, then the high watermark and log start follow the leader's.
func (f *fetcher) applyData(st fetchState, rp *kmsg.FetchResponseTopicPartition) error {
	l := st.p.Log
	if d := rp.DivergingEpoch; d.Epoch >= 0 && d.EndOffset >= 0 {
		to := truncationOffset(l, d.Epoch, d.EndOffset)
		f.m.logger.Info("replica: truncating divergent log", "topic", st.p.TP.Topic, "partition", st.p.TP.Partition,
			"leaderEpoch", d.Epoch, "leaderEndOffset", d.EndOffset, "truncateTo", to)
		return l.TruncateTo(to)
	}
	recs, err := wholeBatchesFrom(rp.RecordBatches, st.fetchOffset)
	if err != nil {
		return err
	}
	if len(recs) > 0 {
		if _, err := l.Append(recs, commitlog.AppendOptions{FromReplication: true}); err != nil {
			return err
		}
	}
	if hw := min(rp.HighWatermark, l.LogEndOffset()); hw > l.HighWatermark() {
		l.SetHighWatermark(hw)
	}
	if lso := min(rp.LogStartOffset, l.HighWatermark()); lso > l.LogStartOffset() {
		if _, err := l.DeleteRecordsBefore(lso); err != nil {
			return err
		}
	}
	if len(recs) > 0 {
		st.p.mu.Lock()
		st.p.wakeLocked()
		st.p.mu.Unlock()
	}
	return nil
}

// outOfRange handles OFFSET_OUT_OF_RANGE: a fetch offset below the leader's log start
// restarts the log there (the records in between are gone); one past the leader's end
// truncates to the leader's high watermark, which every in-sync replica holds.
func (f *fetcher) outOfRange(st fetchState, rp *kmsg.FetchResponseTopicPartition) error {
	l := st.p.Log
	switch {
	case rp.LogStartOffset >= 0 && st.fetchOffset < rp.LogStartOffset:
		f.m.logger.Info("replica: leader's log starts past this one's end; restarting the log there",
			"topic", st.p.TP.Topic, "partition", st.p.TP.Partition, "offset", rp.LogStartOffset)
		return l.TruncateFullyAndStartAt(rp.LogStartOffset)
	case rp.HighWatermark >= 0 && rp.HighWatermark < st.fetchOffset:
		if err := l.TruncateTo(max(rp.HighWatermark, l.LogStartOffset())); err != nil {
			return err
		}
	}
	return fmt.Errorf("replica: fetch offset %d out of range at leader %d: %w", st.fetchOffset, f.leader, kerr.OffsetOutOfRange)
}

// truncationOffset is where a follower truncates when the leader reports that its log
// diverges (Kafka's AbstractFetcherThread.getOffsetTruncationState): the leader has
// epoch up to endOffset. If this log knows that epoch, its records agree with the
// leader's up to the smaller of the two ends; if it only knows an older one, up to that
// one's end (the next fetch narrows it further); if it knows none, up to the leader's.
func truncationOffset(l *commitlog.Log, epoch int32, endOffset int64) int64 {
	ourEpoch, ourEnd := l.EndOffsetForEpoch(epoch)
	to := endOffset
	switch {
	case ourEpoch < 0 || ourEnd < 0:
	case ourEpoch != epoch:
		to = ourEnd
	default:
		to = min(endOffset, ourEnd)
	}
	return min(to, l.LogEndOffset())
}

// wholeBatchesFrom returns the part of b (batches as a fetch returns them) that this
// log appends next: whole batches from offset on. Batches below offset are skipped; a
// last batch cut by the leader's byte limit is dropped (fetched again next time).
func wholeBatchesFrom(b []byte, offset int64) ([]byte, error) {
	start, end := -1, 0
	for pos := 0; len(b)-pos >= commitlog.BatchHeaderSize; {
		h, err := commitlog.ParseBatchHeader(b[pos:])
		if err != nil {
			return nil, err
		}
		size := h.Size()
		if size < commitlog.BatchHeaderSize {
			return nil, fmt.Errorf("replica: batch at position %d has length %d: %w", pos, h.BatchLength, kerr.CorruptMessage)
		}
		if size > int64(len(b)-pos) {
			break
		}
		switch {
		case h.LastOffset() < offset:
			if start >= 0 {
				return nil, fmt.Errorf("replica: batch at offset %d follows later ones: %w", h.BaseOffset, kerr.CorruptMessage)
			}
		case h.BaseOffset < offset:
			return nil, fmt.Errorf("replica: batch %d..%d straddles the log end %d: %w", h.BaseOffset, h.LastOffset(), offset, kerr.CorruptMessage)
		default:
			if start < 0 {
				start = pos
			}
			end = pos + int(size)
		}
		pos += int(size)
	}
	if start < 0 {
		return nil, nil
	}
	return b[start:end], nil
}
