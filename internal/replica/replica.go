// Package replica holds the partitions this node hosts: each Partition pairs a
// commitlog.Log with its leadership state (leader epoch, high watermark) and the fetch
// requests waiting for new data. The Manager creates and removes partitions to match the
// metadata image, so the metadata quorum drives what exists on disk.
//
// On a single node every partition is led here and the in-sync replica set is this node
// alone, so the high watermark follows the log end offset. Replication (a later issue)
// moves the high watermark with follower fetches instead; the waiters and the
// SetHighWatermark path are already the ones it needs.
package replica

import (
	"errors"
	"fmt"
	"log/slog"
	"sync"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/samsa-io/samsa/internal/commitlog"
	"github.com/samsa-io/samsa/internal/metadata"
)

// Partition is one hosted partition.
type Partition struct {
	TP      commitlog.TopicPartition
	TopicID metadata.UUID
	Log     *commitlog.Log

	mu sync.Mutex // guards the fields below
	// leaderEpoch is the epoch stamped into batches this node appends as leader.
	leaderEpoch int32
	// waiters are signalled (non-blocking send) when the high watermark moves.
	waiters map[chan<- struct{}]struct{}
}

// LeaderEpoch is the partition's current leader epoch.
func (p *Partition) LeaderEpoch() int32 {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.leaderEpoch
}

// Append appends a client's records as leader and, this node being the whole ISR,
// advances the high watermark past them. In the group-commit flush mode the log only
// returns once the records are fsynced, so the high watermark never covers data a crash
// could take back.
func (p *Partition) Append(records []byte) (commitlog.AppendResult, error) {
	res, err := p.Log.Append(records, commitlog.AppendOptions{LeaderEpoch: p.LeaderEpoch()})
	if err != nil {
		return res, err
	}
	if !res.Duplicate {
		p.advanceHighWatermark(res.LastOffset + 1)
	}
	return res, nil
}

// advanceHighWatermark raises the high watermark to hw if that is higher, and wakes
// waiting fetches. Appends can finish out of order (a later one's shared fsync can
// complete first), so the watermark only ever moves forward here.
func (p *Partition) advanceHighWatermark(hw int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if hw <= p.Log.HighWatermark() {
		return
	}
	p.Log.SetHighWatermark(hw)
	p.wakeLocked()
}

// wakeLocked signals every waiting fetch without blocking.
func (p *Partition) wakeLocked() {
	for ch := range p.waiters {
		select {
		case ch <- struct{}{}:
		default:
		}
	}
}

// Watch registers ch to be signalled when new data becomes readable. The caller must
// Unwatch it. ch should have a buffer of one.
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

// Manager owns the hosted partitions.
type Manager struct {
	logs   *commitlog.Manager
	nodeID int32
	// logConfig resolves a topic's overrides into its log config.
	logConfig func(overrides map[string]string) (commitlog.Config, error)
	logger    *slog.Logger

	mu         sync.RWMutex // guards partitions
	partitions map[commitlog.TopicPartition]*Partition
	// strayChecked is set once the directories found on disk at start have been
	// compared with the image.
	strayChecked bool
}

// NewManager returns a manager of the logs in logs.
func NewManager(logs *commitlog.Manager, nodeID int32, logConfig func(map[string]string) (commitlog.Config, error), logger *slog.Logger) *Manager {
	return &Manager{
		logs:       logs,
		nodeID:     nodeID,
		logConfig:  logConfig,
		logger:     logger,
		partitions: make(map[commitlog.TopicPartition]*Partition),
	}
}

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

// Reconcile makes the hosted partitions match img: it opens the logs of partitions this
// node is a replica of, updates leader epochs and configs, and deletes the logs of
// partitions that no longer exist (deleted topics). It also removes partition
// directories found on disk that the image does not know, which are the remains of a
// topic deleted while this node was down.
func (m *Manager) Reconcile(img *metadata.Image) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	var errs []error
	want := make(map[commitlog.TopicPartition]bool)
	for _, t := range img.Topics {
		cfg, err := m.logConfig(t.Configs)
		if err != nil {
			errs = append(errs, fmt.Errorf("replica: topic %s config: %w", t.Name, err))
			continue
		}
		for _, part := range t.Partitions {
			if !containsNode(part.Replicas, m.nodeID) {
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
				log, err := m.logs.GetOrCreate(tp, t.ID, cfg)
				if err != nil {
					errs = append(errs, fmt.Errorf("replica: open %s-%d: %w", tp.Topic, tp.Partition, err))
					continue
				}
				p = &Partition{TP: tp, TopicID: t.ID, Log: log}
				m.partitions[tp] = p
			} else {
				p.Log.SetConfig(cfg)
			}
			p.mu.Lock()
			p.leaderEpoch = part.LeaderEpoch
			p.mu.Unlock()
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
	for _, tp := range m.logs.Partitions() {
		if !want[tp] && m.partitions[tp] == nil {
			m.logger.Info("removing partition directory unknown to the metadata", "topic", tp.Topic, "partition", tp.Partition)
			if err := m.logs.Delete(tp); err != nil {
				errs = append(errs, err)
			}
		}
	}
	return summarize(errs)
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
		// Wake fetches waiting on it so they notice it is gone.
		p.mu.Lock()
		p.wakeLocked()
		p.mu.Unlock()
	}
	if err := m.logs.Delete(tp); err != nil {
		m.logger.Error("deleting partition", "topic", tp.Topic, "partition", tp.Partition, "err", err)
	}
}

func containsNode(nodes []int32, id int32) bool {
	for _, n := range nodes {
		if n == id {
			return true
		}
	}
	return false
}
