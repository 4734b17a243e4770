package replica

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/samsa-io/samsa/internal/commitlog"
	"github.com/samsa-io/samsa/internal/metadata"
)

// role is what this node is for a partition.
type role int8

const (
	roleNone     role = iota // a replica without a leader (Leader -1): serves nothing
	roleLeader               // serves clients and followers
	roleFollower             // copies the leader's log
)

// followerState is what a leader knows of one follower, from its fetches. It is made
// anew when a leader epoch starts, so it only ever holds fetches of the current epoch.
type followerState struct {
	// leo is the follower's log end offset: the fetch offset of its last fetch, or -1
	// before its first fetch in this leader epoch.
	leo int64
	// logStart is the follower's log start offset as its last fetch reported it, or -1
	// before its first fetch in this leader epoch (or when the fetch did not say).
	logStart int64
	// lastFetch and lastFetchLeaderLEO are the time of the last fetch and the leader's
	// log end offset then.
	lastFetch          time.Time
	lastFetchLeaderLEO int64
	// lastCaughtUp is the last time the follower had everything the leader had: when a
	// fetch reached the leader's log end offset as of that fetch or of the previous one.
	lastCaughtUp time.Time
}

// Partition is one hosted partition.
type Partition struct {
	TP      commitlog.TopicPartition
	TopicID metadata.UUID
	Log     *commitlog.Log

	m *Manager

	// roleMu orders role changes against appends; see the package doc.
	roleMu sync.RWMutex

	mu sync.Mutex // guards the fields below
	// role, leader and leaderEpoch are the partition's leadership as of the last image.
	role        role
	leader      int32
	leaderEpoch int32
	// partitionEpoch, replicas and isr are the image's; isr is what acks=all counts.
	partitionEpoch int32
	replicas       []int32
	isr            []int32
	// Leader only: epochStart is the log end offset when this leader epoch began;
	// localLEO is the end of the appends that have returned (in the group-commit mode,
	// fsynced); followers are the other replicas' fetch states.
	epochStart int64
	localLEO   int64
	followers  map[int32]*followerState
	// pendingAlter is the ISR change sent to the controller and not yet seen in an
	// image, or nil. At most one is in flight.
	pendingAlter *AlterPartitionRequest
	// Follower only: fetchDelayUntil holds fetches of the partition back after an
	// error, until then or until the next image.
	fetchDelayUntil time.Time
	// lastAlterWarn is when a failed ISR change was last logged at WARN: at most one a
	// minute, so a controller that keeps refusing does not flood the log.
	lastAlterWarn time.Time
	// waiters are signalled (non-blocking send) on appends, high watermark moves, role
	// changes and moves of the low watermark.
	waiters map[chan<- struct{}]struct{}
}

// LeaderEpoch is the partition's current leader epoch.
func (p *Partition) LeaderEpoch() int32 {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.leaderEpoch
}

// IsLeader reports whether this node leads the partition.
func (p *Partition) IsLeader() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.role == roleLeader
}

// Leader is the id of the partition's leader, or -1.
func (p *Partition) Leader() int32 {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.leader
}

// ISR is the in-sync replica set of the latest image.
func (p *Partition) ISR() []int32 {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.isr)
}

// errNotLeader is returned for requests only a leader serves.
func (p *Partition) errNotLeader() error {
	return fmt.Errorf("replica: %s-%d: this node is not the leader: %w", p.TP.Topic, p.TP.Partition, kerr.NotLeaderForPartition)
}

// Append appends records as leader with acks=1 semantics; see AppendAsLeader.
func (p *Partition) Append(records []byte) (commitlog.AppendResult, error) {
	res, _, err := p.AppendAsLeader(records, 1)
	return res, err
}

// AppendAsLeader appends a client's records. It fails with NOT_LEADER_OR_FOLLOWER unless
// this node leads the partition, and for requiredAcks -1 (all) with NOT_ENOUGH_REPLICAS,
// appending nothing, when the ISR is smaller than min.insync.replicas. It returns the
// leader epoch the records were appended in, for WaitForCommit.
//
// In the group-commit flush mode the log returns only once the records are fsynced, and
// only then do they count towards the high watermark.
func (p *Partition) AppendAsLeader(records []byte, requiredAcks int16) (commitlog.AppendResult, int32, error) {
	p.roleMu.RLock()
	defer p.roleMu.RUnlock()
	p.mu.Lock()
	isLeader, epoch, isr := p.role == roleLeader, p.leaderEpoch, len(p.isr)
	p.mu.Unlock()
	if !isLeader {
		return commitlog.AppendResult{}, epoch, p.errNotLeader()
	}
	if requiredAcks == -1 {
		if minISR := p.minInsync(); isr < minISR {
			return commitlog.AppendResult{}, epoch, fmt.Errorf("replica: %s-%d: isr has %d replicas, min.insync.replicas is %d: %w",
				p.TP.Topic, p.TP.Partition, isr, minISR, kerr.NotEnoughReplicas)
		}
	}
	res, err := p.Log.Append(records, commitlog.AppendOptions{LeaderEpoch: epoch})
	if err != nil {
		return res, epoch, err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if !res.Duplicate {
		// Appends can return out of order (a later one's shared fsync can finish first,
		// and covers the earlier one's bytes too), so the end only moves forward.
		p.localLEO = max(p.localLEO, res.LastOffset+1)
		p.maybeAdvanceHighWatermarkLocked()
	}
	// Followers wait for data at the log end, not only for the high watermark.
	p.wakeLocked()
	return res, epoch, nil
}

// minInsync is the topic's min.insync.replicas (at least 1).
func (p *Partition) minInsync() int {
	return max(int(p.Log.Config().MinInsyncReplicas), 1)
}

// WaitForCommit waits until the high watermark passes offset (acks=all), as long as
// this node stays leader in leaderEpoch. It returns NOT_LEADER_OR_FOLLOWER if leadership
// moved, NOT_ENOUGH_REPLICAS_AFTER_APPEND if the records are committed with fewer
// in-sync replicas than min.insync.replicas, and REQUEST_TIMED_OUT when ctx ends first.
func (p *Partition) WaitForCommit(ctx context.Context, offset int64, leaderEpoch int32) error {
	// The channel is made and registered only when the first check finds the offset not
	// yet committed (on a single node it always is, so acks=all costs no more than
	// acks=1); the check runs again after registering, so no wake-up is missed.
	var ch chan struct{}
	defer func() {
		if ch != nil {
			p.Unwatch(ch)
		}
	}()
	for {
		p.mu.Lock()
		if p.role != roleLeader || p.leaderEpoch != leaderEpoch {
			p.mu.Unlock()
			return fmt.Errorf("replica: %s-%d: leadership changed while waiting for replication: %w", p.TP.Topic, p.TP.Partition, kerr.NotLeaderForPartition)
		}
		if p.Log.HighWatermark() > offset {
			isr := len(p.maximalISRLocked())
			p.mu.Unlock()
			if minISR := p.minInsync(); isr < minISR {
				return fmt.Errorf("replica: %s-%d: committed with %d in-sync replicas, min.insync.replicas is %d: %w",
					p.TP.Topic, p.TP.Partition, isr, minISR, kerr.NotEnoughReplicasAfterAppend)
			}
			return nil
		}
		p.mu.Unlock()
		if ch == nil {
			ch = make(chan struct{}, 1)
			p.Watch(ch)
			continue
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return fmt.Errorf("replica: %s-%d: offset %d not replicated in time: %w", p.TP.Topic, p.TP.Partition, offset, kerr.RequestTimedOut)
		}
	}
}

// maximalISRLocked is the ISR the high watermark waits for: the image's ISR plus the
// replicas an ISR change in flight adds (Kafka's maximal ISR). Needs mu.
func (p *Partition) maximalISRLocked() []int32 {
	if p.pendingAlter == nil {
		return p.isr
	}
	out := slices.Clone(p.isr)
	for _, id := range p.pendingAlter.ISR {
		if !slices.Contains(out, id) {
			out = append(out, id)
		}
	}
	return out
}

// maybeAdvanceHighWatermarkLocked raises the high watermark to the smallest log end
// offset of the leader and the maximal ISR, if that is higher, and wakes waiters. A
// member that has not fetched in this leader epoch holds it where it is. Needs mu.
func (p *Partition) maybeAdvanceHighWatermarkLocked() {
	if p.role != roleLeader {
		return
	}
	hw := p.localLEO
	for _, id := range p.maximalISRLocked() {
		if id == p.m.opts.NodeID {
			continue
		}
		f := p.followers[id]
		if f == nil || f.leo < 0 {
			return
		}
		hw = min(hw, f.leo)
	}
	if hw <= p.Log.HighWatermark() {
		return
	}
	p.Log.SetHighWatermark(hw)
	p.wakeLocked()
}

// wakeLocked signals every waiter without blocking. Needs mu.
func (p *Partition) wakeLocked() {
	for ch := range p.waiters {
		select {
		case ch <- struct{}{}:
		default:
		}
	}
}

// Watch registers ch to be signalled when new data may be readable: an append, a high
// watermark move, a role change. The caller must Unwatch it. ch should have a buffer
// of one.
func (p *Partition) Watch(ch chan<- struct{}) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.waiters == nil {
		p.waiters = make(map[chan<- struct{}]struct{})
	}
	p.waiters[ch] = struct{}{}
}

// Unwatch removes a channel registered by Watch.
func (p *Partition) Unwatch(ch chan<- struct{}) {
	p.mu.Lock()
	defer p.mu.Unlock()
	delete(p.waiters, ch)
}

// FollowerFetch is one partition of a follower's fetch request.
type FollowerFetch struct {
	ReplicaID   int32
	FetchOffset int64
	// LogStartOffset is the follower's log start offset (the request's
	// LogStartOffset), or -1 if unknown; DeleteRecords waits for it.
	LogStartOffset     int64
	LastFetchedEpoch   int32 // -1: not sent (no divergence check)
	CurrentLeaderEpoch int32 // -1: not sent
	MaxBytes           int
	MinOneBatch        bool // KIP-74: return the first batch whole even above MaxBytes
}

// FollowerRead is the leader's answer to a FollowerFetch.
type FollowerRead struct {
	// Slice holds the records, up to the log end offset; empty when diverging.
	Slice          commitlog.FileSlice
	HighWatermark  int64
	LogStartOffset int64
	// Diverging is set when the follower's log diverges from this one (KIP-320): it must
	// truncate using DivergingEpoch and DivergingEndOffset, the largest epoch the leader
	// has at or below the follower's last fetched epoch and that epoch's end offset.
	Diverging          bool
	DivergingEpoch     int32
	DivergingEndOffset int64
}

// ReadForFollower serves a follower's fetch: it checks leadership, the epoch and that
// the fetcher is a replica, answers a diverging epoch if the follower's log diverges,
// else returns the records from the fetch offset up to the log end offset and records
// the follower's progress, which may advance the high watermark and bring the follower
// into the ISR. HighWatermark and LogStartOffset are set even with an error.
func (p *Partition) ReadForFollower(f FollowerFetch) (FollowerRead, error) {
	out := FollowerRead{HighWatermark: -1, LogStartOffset: -1}
	p.mu.Lock()
	isLeader, epoch := p.role == roleLeader, p.leaderEpoch
	isReplica := f.ReplicaID != p.m.opts.NodeID && slices.Contains(p.replicas, f.ReplicaID)
	p.mu.Unlock()
	switch {
	case !isLeader:
		return out, p.errNotLeader()
	case f.CurrentLeaderEpoch >= 0 && f.CurrentLeaderEpoch < epoch:
		return out, fmt.Errorf("replica: leader epoch %d is older than %d: %w", f.CurrentLeaderEpoch, epoch, kerr.FencedLeaderEpoch)
	case f.CurrentLeaderEpoch > epoch:
		return out, fmt.Errorf("replica: leader epoch %d is newer than %d: %w", f.CurrentLeaderEpoch, epoch, kerr.UnknownLeaderEpoch)
	case !isReplica:
		return out, fmt.Errorf("replica: %s-%d: fetch from broker %d, which is not a follower of it: %w", p.TP.Topic, p.TP.Partition, f.ReplicaID, kerr.NotLeaderForPartition)
	}
	out.HighWatermark, out.LogStartOffset = p.Log.HighWatermark(), p.Log.LogStartOffset()
	if f.LastFetchedEpoch >= 0 {
		e, end := p.Log.EndOffsetForEpoch(f.LastFetchedEpoch)
		if e < 0 || end < 0 {
			// As Kafka: no epoch at or below the follower's is known here.
			return out, fmt.Errorf("replica: %s-%d: no leader epoch at or below %d: %w", p.TP.Topic, p.TP.Partition, f.LastFetchedEpoch, kerr.OffsetOutOfRange)
		}
		if e < f.LastFetchedEpoch || end < f.FetchOffset {
			out.Diverging, out.DivergingEpoch, out.DivergingEndOffset = true, e, end
			return out, nil
		}
	}
	slice, err := p.Log.ReadFileForReplica(f.FetchOffset, f.MaxBytes, f.MinOneBatch)
	if err != nil {
		return out, err
	}
	out.Slice = slice
	now := p.m.now()
	leaderLEO := p.Log.LogEndOffset()
	p.mu.Lock()
	if p.role == roleLeader && p.leaderEpoch == epoch {
		if fs := p.followers[f.ReplicaID]; fs != nil {
			p.updateFollowerLocked(fs, f.FetchOffset, leaderLEO, now)
			if f.LogStartOffset != fs.logStart {
				fs.logStart = f.LogStartOffset
				p.wakeLocked() // the low watermark may have moved
			}
			p.maybeExpandISRLocked(f.ReplicaID, fs, now)
			p.maybeAdvanceHighWatermarkLocked()
		}
	}
	p.mu.Unlock()
	out.HighWatermark, out.LogStartOffset = p.Log.HighWatermark(), p.Log.LogStartOffset()
	return out, nil
}

// updateFollowerLocked records a follower's fetch as Kafka's Replica.updateFetchState.
// Needs mu.
func (p *Partition) updateFollowerLocked(fs *followerState, fetchOffset, leaderLEO int64, now time.Time) {
	switch {
	case fetchOffset >= leaderLEO:
		fs.lastCaughtUp = maxTime(fs.lastCaughtUp, now)
	case fetchOffset >= fs.lastFetchLeaderLEO && !fs.lastFetch.IsZero():
		// It has everything the leader had at its previous fetch.
		fs.lastCaughtUp = maxTime(fs.lastCaughtUp, fs.lastFetch)
	}
	fs.leo = fetchOffset
	fs.lastFetch = now
	fs.lastFetchLeaderLEO = leaderLEO
}

func newFollowerState() *followerState {
	return &followerState{leo: -1, logStart: -1, lastFetchLeaderLEO: -1}
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// maybeExpandISRLocked asks for follower id to join the ISR once it has reached the
// high watermark and the start of this leader's epoch (so it has every record this
// leader may have committed), if it is eligible (isrEligibleLocked). Needs mu.
func (p *Partition) maybeExpandISRLocked(id int32, fs *followerState, now time.Time) {
	if p.role != roleLeader || p.pendingAlter != nil || slices.Contains(p.isr, id) || !slices.Contains(p.replicas, id) {
		return
	}
	if fs.leo < p.Log.HighWatermark() || fs.leo < p.epochStart || !p.isrEligibleLocked(id, fs, now) {
		return
	}
	p.alterISRLocked(append(slices.Clone(p.isr), id))
}

// isrEligibleLocked reports whether follower id may join the ISR, as Kafka's
// Partition.isReplicaIsrEligible: it fetched in this leader epoch (follower states
// start anew with each epoch) within replica.lag.time.max.ms, and its broker is
// registered, not fenced and not shutting down in the latest image. Without these, a
// follower that died or was fenced, whose last fetch had reached the high watermark,
// would be proposed at every check and refused by the controller every time. Needs mu.
func (p *Partition) isrEligibleLocked(id int32, fs *followerState, now time.Time) bool {
	return fs.leo >= 0 && !fs.lastFetch.IsZero() && now.Sub(fs.lastFetch) <= p.m.opts.ReplicaLagTimeMax &&
		p.m.brokerUsable(id)
}

// maybeShrinkISRLocked asks for the followers that have not caught up within
// replica.lag.time.max.ms to leave the ISR (Kafka's getOutOfSyncReplicas: a follower
// whose log end equals the leader's is in sync however long ago it fetched). Needs mu.
func (p *Partition) maybeShrinkISRLocked(now time.Time) {
	if p.role != roleLeader || p.pendingAlter != nil {
		return
	}
	leaderLEO := p.Log.LogEndOffset()
	var keep []int32
	for _, id := range p.isr {
		if id == p.m.opts.NodeID {
			keep = append(keep, id)
			continue
		}
		fs := p.followers[id]
		if fs != nil && (fs.leo == leaderLEO || now.Sub(fs.lastCaughtUp) <= p.m.opts.ReplicaLagTimeMax) {
			keep = append(keep, id)
		}
	}
	if len(keep) < len(p.isr) {
		p.alterISRLocked(keep)
	}
}

// alterISRLocked sends an ISR change to the controller unless one is in flight. The
// change counts for the high watermark at once when it adds replicas (maximal ISR), and
// for everything else once an image shows it. Needs mu.
func (p *Partition) alterISRLocked(isr []int32) {
	if p.m.opts.AlterPartition == nil || p.pendingAlter != nil {
		return
	}
	req := &AlterPartitionRequest{
		TopicID:        p.TopicID,
		Topic:          p.TP.Topic,
		Partition:      p.TP.Partition,
		LeaderEpoch:    p.leaderEpoch,
		PartitionEpoch: p.partitionEpoch,
		ISR:            isr,
	}
	if p.m.goAlter(p, req) {
		p.pendingAlter = req
	}
}

// alterDone is called when an AlterPartition call returns. On success the change waits
// for its image; on failure it is dropped so the next check can try again, and logged
// at WARN at most once a minute per partition (DEBUG otherwise).
func (p *Partition) alterDone(req *AlterPartitionRequest, err error) {
	if err == nil {
		return
	}
	p.mu.Lock()
	if p.pendingAlter == req {
		p.pendingAlter = nil
	}
	now := p.m.now()
	warn := p.lastAlterWarn.IsZero() || now.Sub(p.lastAlterWarn) >= alterWarnInterval
	if warn {
		p.lastAlterWarn = now
	}
	p.mu.Unlock()
	level := slog.LevelDebug
	if warn {
		level = slog.LevelWarn
	}
	p.m.logger.Log(context.Background(), level, "replica: isr change failed; retrying later",
		"topic", req.Topic, "partition", req.Partition, "isr", req.ISR, "err", err)
}

// alterWarnInterval is the least time between two WARN lines of failed ISR changes of
// one partition.
const alterWarnInterval = time.Minute

// DeleteRecords raises the log start offset to offset as leader (DeleteRecords; -1
// means the high watermark) and returns the offset every replica's log start must
// reach and the leader epoch, for WaitForLowWatermark. It fails with
// NOT_LEADER_OR_FOLLOWER unless this node leads the partition, and with
// OFFSET_OUT_OF_RANGE for an offset past the high watermark. Followers move their log
// start when a fetch response tells them the leader's.
func (p *Partition) DeleteRecords(offset int64) (target int64, leaderEpoch int32, err error) {
	// Shared like an append: leadership cannot move while the log start does.
	p.roleMu.RLock()
	defer p.roleMu.RUnlock()
	p.mu.Lock()
	isLeader, epoch := p.role == roleLeader, p.leaderEpoch
	p.mu.Unlock()
	if !isLeader {
		return -1, epoch, p.errNotLeader()
	}
	if offset == -1 {
		// Resolved here rather than in the log so the target is known; the high
		// watermark of a leader only grows, so the log accepts it.
		offset = p.Log.HighWatermark()
	}
	if _, err := p.Log.DeleteRecordsBefore(offset); err != nil {
		return -1, epoch, err
	}
	p.mu.Lock()
	p.wakeLocked()
	p.mu.Unlock()
	return offset, epoch, nil
}

// WaitForLowWatermark waits until the low watermark (LowWatermark) reaches offset, as
// long as this node stays leader in leaderEpoch, and returns it. It returns
// NOT_LEADER_OR_FOLLOWER if leadership moved and REQUEST_TIMED_OUT, with the low
// watermark of the moment, when ctx ends first. On a single node it returns at once.
func (p *Partition) WaitForLowWatermark(ctx context.Context, offset int64, leaderEpoch int32) (int64, error) {
	ch := make(chan struct{}, 1)
	p.Watch(ch)
	defer p.Unwatch(ch)
	for {
		p.mu.Lock()
		if p.role != roleLeader || p.leaderEpoch != leaderEpoch {
			p.mu.Unlock()
			return -1, fmt.Errorf("replica: %s-%d: leadership changed while waiting for followers to delete records: %w", p.TP.Topic, p.TP.Partition, kerr.NotLeaderForPartition)
		}
		lw := p.lowWatermarkLocked()
		p.mu.Unlock()
		if lw >= offset {
			return lw, nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return lw, fmt.Errorf("replica: %s-%d: low watermark %d has not reached %d in time: %w", p.TP.Topic, p.TP.Partition, lw, offset, kerr.RequestTimedOut)
		}
	}
}

// LowWatermark is, on the leader, the smallest log start offset of all replicas it
// tracks; see lowWatermarkLocked. It fails with NOT_LEADER_OR_FOLLOWER elsewhere.
func (p *Partition) LowWatermark() (int64, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.role != roleLeader {
		return -1, p.errNotLeader()
	}
	return p.lowWatermarkLocked(), nil
}

// lowWatermarkLocked is Kafka's Partition.lowWatermarkIfLeader: the smallest log start
// offset of the leader and of every follower whose broker is alive (registered, not
// fenced) in the latest image, in or out of the ISR. A follower that has not fetched
// in this leader epoch counts as -1, so a DeleteRecords waits for it. Needs mu.
func (p *Partition) lowWatermarkLocked() int64 {
	lw := p.Log.LogStartOffset()
	for id, fs := range p.followers {
		if fs.logStart < lw && p.m.brokerAlive(id) {
			lw = fs.logStart
		}
	}
	return lw
}
