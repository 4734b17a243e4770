package replica

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/samsa-io/samsa/internal/commitlog"
	"github.com/samsa-io/samsa/internal/metadata"
)

// Options configure a Manager.
type Options struct {
	NodeID    int32
	Logs      *commitlog.Manager
	LogConfig func(overrides map[string]string) (commitlog.Config, error)
	Logger    *slog.Logger
	// Cluster hooks; nil on a single node (where the image always makes this node leader
	// with ISR = [self], so behaviour is exactly today's).
	//
	// Fetch sends a follower's fetch request to the leader's broker.
	Fetch func(ctx context.Context, leader metadata.Broker, req *kmsg.FetchRequest) (*kmsg.FetchResponse, error)
	// AlterPartition asks the controller for an ISR change. It may block; the change
	// takes effect when an image shows it.
	AlterPartition func(ctx context.Context, req AlterPartitionRequest) error
	// OnLeadershipChange is called after Reconcile applied a change of a partition's
	// role or leader epoch; it must not block.
	OnLeadershipChange func(tp commitlog.TopicPartition, leader bool, leaderEpoch int32)
	// replica.lag.time.max.ms, replica.fetch.wait.max.ms, replica.fetch.backoff.ms:
	// 30s, 500ms, 1s when 0.
	ReplicaLagTimeMax, ReplicaFetchWaitMax, ReplicaFetchBackoff time.Duration
	// replica.fetch.min.bytes, replica.fetch.max.bytes (per partition),
	// replica.fetch.response.max.bytes: 1, 1 MiB, 10 MiB when 0.
	ReplicaFetchMinBytes, ReplicaFetchMaxBytes, ReplicaFetchResponseMaxBytes int32

	// now is the clock; nil means time.Now. Tests set it through export_test.go.
	now func() time.Time
}

// AlterPartitionRequest is a leader's ISR change: the full new ISR, based on the leader
// epoch and partition epoch the leader knows.
type AlterPartitionRequest struct {
	TopicID                     metadata.UUID
	Topic                       string
	Partition                   int32
	LeaderEpoch, PartitionEpoch int32
	ISR                         []int32
}

// Manager owns the hosted partitions.
type Manager struct {
	opts   Options
	logger *slog.Logger

	mu         sync.RWMutex // guards partitions and strayChecked
	partitions map[commitlog.TopicPartition]*Partition
	// strayChecked is set once the directories found on disk at start have been
	// compared with the image.
	strayChecked bool

	// img is the latest image Reconcile saw; fetchers look leaders' endpoints up in it,
	// leaders the state of their followers' brokers (brokerUsable, brokerAlive).
	img atomic.Pointer[metadata.Image]

	fmu sync.Mutex // guards the fields below
	// fetchers has one fetcher per leader broker this node has followed.
	fetchers map[int32]*fetcher
	// runCtx is Run's context once Run started (nil before): goroutines are started
	// only under it, and wg tracks them.
	runCtx  context.Context
	stopped bool // Run is returning
	wg      sync.WaitGroup
}

// NewManager returns a manager of the logs in opts.Logs.
func NewManager(opts Options) *Manager {
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.now == nil {
		opts.now = time.Now
	}
	setDefault(&opts.ReplicaLagTimeMax, 30*time.Second)
	setDefault(&opts.ReplicaFetchWaitMax, 500*time.Millisecond)
	setDefault(&opts.ReplicaFetchBackoff, time.Second)
	setDefault(&opts.ReplicaFetchMinBytes, 1)
	setDefault(&opts.ReplicaFetchMaxBytes, 1<<20)
	setDefault(&opts.ReplicaFetchResponseMaxBytes, 10<<20)
	return &Manager{
		opts:       opts,
		logger:     opts.Logger,
		partitions: make(map[commitlog.TopicPartition]*Partition),
		fetchers:   make(map[int32]*fetcher),
	}
}

func setDefault[T comparable](v *T, def T) {
	var zero T
	if *v == zero {
		*v = def
	}
}

func (m *Manager) now() time.Time { return m.opts.now() }

// ErrNotHosted is returned by Get for a partition this node does not host; it wraps
// kerr.UnknownTopicOrPartition.
var ErrNotHosted = fmt.Errorf("replica: partition not hosted here: %w", kerr.UnknownTopicOrPartition)

// Get returns a hosted partition.
func (m *Manager) Get(tp commitlog.TopicPartition) (*Partition, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	p := m.partitions[tp]
	if p == nil {
		return nil, ErrNotHosted
	}
	return p, nil
}

// All returns every hosted partition.
func (m *Manager) All() []*Partition {
	m.mu.RLock()
	defer m.mu.RUnlock()
	out := make([]*Partition, 0, len(m.partitions))
	for _, p := range m.partitions {
		out = append(out, p)
	}
	return out
}

// Run runs the ISR checks and the followers' fetchers until ctx ends, then waits for
// every goroutine the manager started.
func (m *Manager) Run(ctx context.Context) {
	m.fmu.Lock()
	m.runCtx = ctx
	for _, f := range m.fetchers {
		m.startFetcherLocked(f)
	}
	m.fmu.Unlock()

	if m.opts.AlterPartition != nil {
		t := time.NewTicker(m.opts.ReplicaLagTimeMax / 2)
	loop:
		for {
			select {
			case <-ctx.Done():
				break loop
			case <-t.C:
				m.checkISRs()
			}
		}
		t.Stop()
	} else {
		<-ctx.Done()
	}
	// No goroutine starts once stopped is set, so Wait cannot race an Add.
	m.fmu.Lock()
	m.stopped = true
	m.fmu.Unlock()
	m.wg.Wait()
}

// checkISRs shrinks the ISR of led partitions whose followers fell behind, and retries
// additions that failed earlier.
func (m *Manager) checkISRs() {
	now := m.now()
	for _, p := range m.All() {
		p.mu.Lock()
		p.maybeShrinkISRLocked(now)
		for id, fs := range p.followers {
			p.maybeExpandISRLocked(id, fs, now)
		}
		p.mu.Unlock()
	}
}

// CheckISRs runs the periodic ISR check once (tests; Run calls it every
// ReplicaLagTimeMax/2).
func (m *Manager) CheckISRs() { m.checkISRs() }

// goAlter starts an AlterPartition call; false when the manager is not running (the
// next check after Run started retries). Needs p.mu.
func (m *Manager) goAlter(p *Partition, req *AlterPartitionRequest) bool {
	m.fmu.Lock()
	defer m.fmu.Unlock()
	ctx := m.runCtx
	if ctx == nil || m.stopped {
		return false
	}
	m.wg.Add(1)
	go func() {
		defer m.wg.Done()
		p.alterDone(req, m.opts.AlterPartition(ctx, *req))
	}()
	return true
}

// change is a partition whose role or leader epoch Reconcile changed.
type change struct {
	tp     commitlog.TopicPartition
	leader bool
	epoch  int32
}

// Reconcile makes the hosted partitions match img: it opens the logs of partitions this
// node is a replica of, makes each leader, follower or neither, updates configs, and
// deletes the logs of partitions that no longer exist (deleted topics). It also removes
// partition directories found on disk that the image does not know, which are the
// remains of a topic deleted while this node was down. It never waits for the network.
func (m *Manager) Reconcile(img *metadata.Image) error {
	prev := m.img.Swap(img)
	var changes []change
	err := m.reconcile(img, !sameAliveBrokers(prev, img), &changes)
	m.wakeFetchers()
	if fn := m.opts.OnLeadershipChange; fn != nil {
		for _, c := range changes {
			fn(c.tp, c.leader, c.epoch)
		}
	}
	return err
}

// brokerUsable reports whether broker id may join an ISR as of the latest image:
// registered, not fenced and not in controlled shutdown (the controller refuses the
// others with INELIGIBLE_REPLICA).
func (m *Manager) brokerUsable(id int32) bool {
	img := m.img.Load()
	if img == nil {
		return false
	}
	b, ok := img.Brokers[id]
	return ok && b.Usable()
}

// brokerAlive reports whether broker id is registered and not fenced as of the latest
// image (Kafka's MetadataCache.hasAliveBroker): only such followers hold the low
// watermark back.
func (m *Manager) brokerAlive(id int32) bool {
	img := m.img.Load()
	if img == nil {
		return false
	}
	b, ok := img.Brokers[id]
	return ok && !b.Fenced
}

// sameAliveBrokers reports whether a and b have the same alive brokers (a may be nil).
func sameAliveBrokers(a, b *metadata.Image) bool {
	if a == nil {
		return false
	}
	n := 0
	for id, br := range b.Brokers {
		if br.Fenced {
			continue
		}
		n++
		if old, ok := a.Brokers[id]; !ok || old.Fenced {
			return false
		}
	}
	for _, br := range a.Brokers {
		if !br.Fenced {
			n--
		}
	}
	return n == 0
}

// openNewLocked opens, in parallel, the logs of the partitions img gives this node that
// it does not host yet (at start, after a crash, recovering each; or a topic with many
// partitions just created); cfgs are the topics' log configs. Errors are left for
// reconcile, whose GetOrCreate of such a partition tries again and reports them.
func (m *Manager) openNewLocked(img *metadata.Image, cfgs map[string]commitlog.Config) {
	var specs []commitlog.OpenSpec
	for _, t := range img.Topics {
		cfg, ok := cfgs[t.Name]
		if !ok {
			continue
		}
		for i := range t.Partitions {
			part := &t.Partitions[i]
			tp := commitlog.TopicPartition{Topic: t.Name, Partition: part.ID}
			if m.partitions[tp] == nil && slices.Contains(part.Replicas, m.opts.NodeID) {
				specs = append(specs, commitlog.OpenSpec{TP: tp, TopicID: t.ID, Config: cfg})
			}
		}
	}
	if len(specs) > 1 {
		m.opts.Logs.OpenMany(specs)
	}
}

func (m *Manager) reconcile(img *metadata.Image, aliveChanged bool, changes *[]change) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	var errs []error
	cfgs := make(map[string]commitlog.Config, len(img.Topics))
	for _, t := range img.Topics {
		cfg, err := m.opts.LogConfig(t.Configs)
		if err != nil {
			errs = append(errs, fmt.Errorf("replica: topic %s config: %w", t.Name, err))
			continue
		}
		cfgs[t.Name] = cfg
	}
	m.openNewLocked(img, cfgs)
	want := make(map[commitlog.TopicPartition]bool)
	for _, t := range img.Topics {
		cfg, ok := cfgs[t.Name]
		if !ok {
			continue
		}
		for i := range t.Partitions {
			part := &t.Partitions[i]
			if !slices.Contains(part.Replicas, m.opts.NodeID) {
				continue
			}
			tp := commitlog.TopicPartition{Topic: t.Name, Partition: part.ID}
			want[tp] = true
			p := m.partitions[tp]
			if p != nil && p.TopicID != t.ID {
				// Same name, new topic: the old one was deleted and recreated.
				m.deleteLocked(tp)
				p = nil
			}
			if p == nil {
				log, err := m.opts.Logs.GetOrCreate(tp, t.ID, cfg)
				if err != nil {
					errs = append(errs, fmt.Errorf("replica: open %s-%d: %w", tp.Topic, tp.Partition, err))
					continue
				}
				p = &Partition{TP: tp, TopicID: t.ID, Log: log, m: m, leader: -1, leaderEpoch: -1, partitionEpoch: -1}
				m.partitions[tp] = p
			} else {
				p.Log.SetConfig(cfg)
			}
			c, changed, err := m.apply(p, part, aliveChanged)
			if err != nil {
				errs = append(errs, err)
			}
			if changed {
				*changes = append(*changes, c)
			}
		}
	}
	for tp := range m.partitions {
		if !want[tp] {
			m.deleteLocked(tp)
		}
	}
	if m.strayChecked {
		return summarize(errs)
	}
	m.strayChecked = true
	for _, tp := range m.opts.Logs.Partitions() {
		if !want[tp] && m.partitions[tp] == nil {
			m.logger.Info("removing partition directory unknown to the metadata", "topic", tp.Topic, "partition", tp.Partition)
			if err := m.opts.Logs.Delete(tp); err != nil {
				errs = append(errs, err)
			}
		}
	}
	return summarize(errs)
}

// apply gives p the role the image's part says. A new leader epoch makes this node
// start it (leader) or follow it (follower); otherwise only the replica set, ISR and
// partition epoch change. aliveChanged is set when a broker was fenced, unfenced,
// registered or removed since the previous image, which may move a leader's low
// watermark.
//
// A partition just opened has the high watermark the commitlog restored from its
// checkpoint (at most its log end): a new leader keeps it until its in-sync followers'
// fetches move it, a follower until its leader's answers do, so neither exposes a tail
// that was not committed before the restart.
func (m *Manager) apply(p *Partition, part *metadata.Partition, aliveChanged bool) (change, bool, error) {
	newRole := roleNone
	switch {
	case part.Leader == m.opts.NodeID:
		newRole = roleLeader
	case part.Leader >= 0:
		newRole = roleFollower
	}
	// Waits for leader appends in flight and for a follower's append or truncation.
	p.roleMu.Lock()
	defer p.roleMu.Unlock()
	p.mu.Lock()
	defer p.mu.Unlock()
	roleChanged := newRole != p.role || part.Leader != p.leader || part.LeaderEpoch != p.leaderEpoch
	p.replicas = slices.Clone(part.Replicas)
	p.isr = slices.Clone(part.ISR)
	if part.PartitionEpoch != p.partitionEpoch {
		p.partitionEpoch = part.PartitionEpoch
		p.pendingAlter = nil // the change (or another) is in the image now
	}
	var err error
	if roleChanged {
		p.role, p.leader, p.leaderEpoch = newRole, part.Leader, part.LeaderEpoch
		p.pendingAlter = nil
		p.fetchDelayUntil = time.Time{}
		if newRole == roleLeader {
			err = p.becomeLeaderLocked()
		} else {
			p.followers = nil
		}
	}
	if p.role == roleLeader {
		// Followers added to or removed from the replica set.
		now := m.now()
		wake := aliveChanged
		for _, id := range p.replicas {
			if id != m.opts.NodeID && p.followers[id] == nil {
				p.followers[id] = newFollowerState()
				p.followers[id].lastCaughtUp = now
				wake = true
			}
		}
		for id := range p.followers {
			if !slices.Contains(p.replicas, id) {
				delete(p.followers, id)
				wake = true
			}
		}
		// A smaller ISR may let the high watermark move.
		p.maybeAdvanceHighWatermarkLocked()
		if wake && !roleChanged {
			// The low watermark may have moved (DeleteRecords waits on it).
			p.wakeLocked()
		}
	}
	if roleChanged {
		p.wakeLocked()
		m.assignFetcher(p, newRole, part.Leader)
	}
	return change{tp: p.TP, leader: newRole == roleLeader, epoch: part.LeaderEpoch}, roleChanged, err
}

// becomeLeaderLocked starts a leader epoch (Kafka's Partition.makeLeader): the epoch
// starts at the log end offset, follower states are forgotten (ISR members count as
// caught up now, so they are not dropped before they could fetch), and the high
// watermark stays where it is. Needs roleMu and mu.
func (p *Partition) becomeLeaderLocked() error {
	var err error
	if e := p.Log.AssignEpoch(p.leaderEpoch); e != nil {
		err = fmt.Errorf("replica: %s-%d: start leader epoch %d: %w", p.TP.Topic, p.TP.Partition, p.leaderEpoch, e)
	}
	leo := p.Log.LogEndOffset()
	p.epochStart, p.localLEO = leo, leo
	now := p.m.now()
	p.followers = make(map[int32]*followerState)
	for _, id := range p.replicas {
		if id == p.m.opts.NodeID {
			continue
		}
		fs := newFollowerState()
		if slices.Contains(p.isr, id) {
			fs.lastCaughtUp = now
		}
		p.followers[id] = fs
	}
	return err
}

// summarize joins errors, keeping the first few: a reconcile that fails for every
// partition of a large topic (a full disk, no file descriptors left) should log a
// readable line, not thousands.
func summarize(errs []error) error {
	const keep = 3
	if len(errs) <= keep {
		return errors.Join(errs...)
	}
	return fmt.Errorf("%w\n(and %d more partitions failed the same way or otherwise)", errors.Join(errs[:keep]...), len(errs)-keep)
}

func (m *Manager) deleteLocked(tp commitlog.TopicPartition) {
	p := m.partitions[tp]
	delete(m.partitions, tp)
	if p != nil {
		p.roleMu.Lock()
		p.mu.Lock()
		p.role, p.leader = roleNone, -1
		// Wake fetches and produces waiting on it so they notice it is gone.
		p.wakeLocked()
		m.assignFetcher(p, roleNone, -1)
		p.mu.Unlock()
		p.roleMu.Unlock()
	}
	if err := m.opts.Logs.Delete(tp); err != nil {
		m.logger.Error("deleting partition", "topic", tp.Topic, "partition", tp.Partition, "err", err)
	}
}
