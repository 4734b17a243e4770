package group

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
)

// Options are the coordinator's dependencies.
type Options struct {
	Store Store
	// PartitionCount returns the number of partitions of a topic, 0 for an unknown
	// topic; commits to partitions that do not exist are refused.
	PartitionCount func(topic string) int32
	Clock          Clock        // nil means the wall clock
	Logger         *slog.Logger // nil means slog.Default()
	// Topics returns the current topics, for KIP-848 consumer groups; nil means no
	// topics (consumer groups can form but are assigned nothing).
	Topics func() TopicImage
}

// Coordinator is the group coordinator of this node. See the package doc for who owns
// what.
type Coordinator struct {
	cfg    Config
	store  Store
	parts  func(topic string) int32
	topics func() TopicImage
	clock  Clock
	logger *slog.Logger

	ctx    context.Context // ends at Close: loaders and the expiry loop stop
	cancel context.CancelFunc
	done   chan struct{} // closed by Close: waiting joins and syncs return
	wg     sync.WaitGroup

	mu     sync.Mutex // guards the fields below; a leaf lock, taken after a group's
	closed bool
	// nparts is the partition count of __consumer_offsets once Load was called; 0
	// before: every group request is then answered NOT_COORDINATOR.
	nparts int32
	loaded []bool // by partition: its groups are in groups
	groups map[string]*group
	// memberSeq numbers joining members, so "first joined" is well defined.
	memberSeq uint64
}

// New returns a coordinator that is not yet coordinating any partition: call Load.
func New(cfg Config, opts Options) *Coordinator {
	if opts.Clock == nil {
		opts.Clock = wallClock{}
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.PartitionCount == nil {
		opts.PartitionCount = func(string) int32 { return 0 }
	}
	if opts.Topics == nil {
		opts.Topics = func() TopicImage { return emptyImage{} }
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &Coordinator{
		cfg:    cfg.withConsumerDefaults(),
		store:  opts.Store,
		parts:  opts.PartitionCount,
		topics: opts.Topics,
		clock:  opts.Clock,
		logger: opts.Logger,
		ctx:    ctx,
		cancel: cancel,
		done:   make(chan struct{}),
		groups: make(map[string]*group),
	}
}

// Start starts the periodic expiry of old offsets (offsets.retention.check.interval.ms).
func (c *Coordinator) Start() {
	if c.cfg.OffsetsRetentionCheckInterval <= 0 {
		return
	}
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		t := time.NewTicker(c.cfg.OffsetsRetentionCheckInterval)
		defer t.Stop()
		for {
			select {
			case <-c.ctx.Done():
				return
			case <-t.C:
				c.expireOffsets()
			}
		}
	}()
}

// Close stops the coordinator: loaders and timers are stopped, waiting JoinGroup and
// SyncGroup calls return COORDINATOR_NOT_AVAILABLE, and every goroutine it started has
// exited when Close returns. Call it before the store's logs are closed.
func (c *Coordinator) Close() {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return
	}
	c.closed = true
	groups := make([]*group, 0, len(c.groups))
	for _, g := range c.groups {
		groups = append(groups, g)
	}
	c.mu.Unlock()
	c.cancel()
	close(c.done)
	for _, g := range groups {
		g.mu.Lock()
		g.stopTimersLocked()
		g.mu.Unlock()
	}
	c.wg.Wait()
}

// after runs f after d in a goroutine tracked by c; nothing runs once c is closed.
// It returns nil when c is closed.
func (c *Coordinator) after(d time.Duration, f func()) Timer {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return nil
	}
	return c.clock.AfterFunc(d, func() {
		if !c.enter() {
			return
		}
		defer c.wg.Done()
		f()
	})
}

// enter registers a timer callback with c.wg, unless c is closed.
func (c *Coordinator) enter() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return false
	}
	c.wg.Add(1)
	return true
}

func stopTimer(t Timer) {
	if t != nil {
		t.Stop()
	}
}

// Load makes this node the coordinator of all n partitions of __consumer_offsets (one
// node hosts them all) and loads their groups and offsets in the background; until a
// partition is loaded its groups get COORDINATOR_LOAD_IN_PROGRESS. Calls after the
// first do nothing.
func (c *Coordinator) Load(n int32) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed || c.nparts != 0 || n <= 0 {
		return
	}
	c.nparts = n
	c.loaded = make([]bool, n)
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		for p := int32(0); p < n; p++ {
			c.loadPartition(p)
		}
	}()
}

// Loaded reports whether every partition has been loaded (for tests and health checks).
func (c *Coordinator) Loaded() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.nparts == 0 {
		return false
	}
	for _, l := range c.loaded {
		if !l {
			return false
		}
	}
	return true
}

// loadPartition replays partition p, retrying until it succeeds or c closes.
func (c *Coordinator) loadPartition(p int32) {
	for attempt := 0; ; attempt++ {
		groups, err := c.replay(p)
		if err == nil {
			c.mu.Lock()
			if !c.closed {
				for id, g := range groups {
					c.groups[id] = g
				}
				c.loaded[p] = true
			}
			c.mu.Unlock()
			for _, g := range groups {
				g.mu.Lock()
				for _, m := range g.members {
					c.scheduleSessionLocked(g, m)
				}
				if g.cg != nil {
					c.startConsumerTimersLocked(g)
				}
				g.mu.Unlock()
			}
			return
		}
		c.logger.Warn("group: loading __consumer_offsets partition", "partition", p, "attempt", attempt, "err", err)
		select {
		case <-c.ctx.Done():
			return
		case <-time.After(time.Second):
		}
	}
}

// replay reads partition p into groups: the last record of each key wins, tombstones
// delete.
func (c *Coordinator) replay(p int32) (map[string]*group, error) {
	offsets := make(map[string]map[topicPartition]offset)
	metas := make(map[string]*loadedRecord)
	var consumers consumerReplay
	err := c.store.Scan(c.ctx, p, func(r Record) {
		lr, ok := decodeRecord(r)
		if !ok {
			return
		}
		if lr.consumer != nil {
			consumers.apply(lr.group, *lr.consumer)
			return
		}
		if lr.isOffset {
			if lr.tomb {
				delete(offsets[lr.group], lr.tp)
				return
			}
			if offsets[lr.group] == nil {
				offsets[lr.group] = make(map[topicPartition]offset)
			}
			offsets[lr.group][lr.tp] = lr.off
			return
		}
		if lr.tomb {
			delete(metas, lr.group)
			return
		}
		metas[lr.group] = &lr
	})
	if err != nil {
		return nil, err
	}
	now := c.clock.Now()
	groups := make(map[string]*group)
	get := func(id string) *group {
		if g := groups[id]; g != nil {
			return g
		}
		g := newGroup(id, p, now)
		groups[id] = g
		return g
	}
	for id, lr := range metas {
		g := get(id)
		c.restoreClassic(g, lr.meta, now)
	}
	for id, r := range consumers.groups {
		// A group exists while its ConsumerGroupMetadata record does (deleting a
		// group writes its tombstone last).
		if r.epoch == nil {
			continue
		}
		c.restoreConsumer(get(id), r, now)
	}
	for id, offs := range offsets {
		if len(offs) == 0 {
			continue
		}
		g := get(id)
		g.offsets = offs
	}
	return groups, nil
}

// lookup finds a group, creating an empty one if create is set. It fails with the
// coordinator-level errors: NOT_COORDINATOR before __consumer_offsets exists,
// COORDINATOR_LOAD_IN_PROGRESS while the group's partition loads,
// COORDINATOR_NOT_AVAILABLE after Close. A nil group without error means unknown.
func (c *Coordinator) lookup(id string, create bool) (*group, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := c.checkLocked(id); err != nil {
		return nil, err
	}
	g := c.groups[id]
	if g == nil && create {
		g = newGroup(id, PartitionFor(id, c.nparts), c.clock.Now())
		c.groups[id] = g
	}
	return g, nil
}

func (c *Coordinator) checkLocked(id string) error {
	switch {
	case c.closed:
		return fmt.Errorf("group: coordinator is shutting down: %w", kerr.CoordinatorNotAvailable)
	case c.nparts == 0:
		return fmt.Errorf("group: %s does not exist yet: %w", OffsetsTopic, kerr.NotCoordinator)
	case !c.loaded[PartitionFor(id, c.nparts)]:
		return fmt.Errorf("group: partition %d of %s is loading: %w", PartitionFor(id, c.nparts), OffsetsTopic, kerr.CoordinatorLoadInProgress)
	}
	return nil
}

// lockGroup looks a group up (creating it if create) and returns it locked, or nil if
// it does not exist. A group found Dead was removed meanwhile; with create the lookup is
// repeated and makes a fresh one.
func (c *Coordinator) lockGroup(id string, create bool) (*group, error) {
	for {
		g, err := c.lookup(id, create)
		if err != nil || g == nil {
			return nil, err
		}
		g.mu.Lock()
		if g.state == StateDead && create {
			g.mu.Unlock()
			continue
		}
		return g, nil
	}
}

// removeGroupLocked marks g Dead and forgets it. g.mu is held.
func (c *Coordinator) removeGroupLocked(g *group) {
	g.transitionLocked(StateDead, c.clock.Now())
	g.stopTimersLocked()
	c.mu.Lock()
	if c.groups[g.id] == g {
		delete(c.groups, g.id)
	}
	c.mu.Unlock()
}

// allGroups returns the groups of loaded partitions, and an error if some partition
// is still loading.
func (c *Coordinator) allGroups() ([]*group, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return nil, kerr.CoordinatorNotAvailable
	}
	out := make([]*group, 0, len(c.groups))
	for _, g := range c.groups {
		out = append(out, g)
	}
	for _, l := range c.loaded {
		if !l {
			return out, kerr.CoordinatorLoadInProgress
		}
	}
	return out, nil
}

// writeLocked appends recs to g's partition. g.mu is held: the records of one group
// are appended in the order its state changed. A failure is mapped to the code Kafka
// answers for a failed group write (see storeError).
func (c *Coordinator) writeLocked(g *group, recs []Record) error {
	if len(recs) == 0 {
		return nil
	}
	if err := c.store.Append(c.ctx, g.partition, recs); err != nil {
		c.logger.Error("group: writing to __consumer_offsets", "group", g.id, "partition", g.partition, "err", err)
		return err
	}
	return nil
}

// storeError maps a failed append to __consumer_offsets to the code Kafka's coordinator
// answers: retriable coordinator errors for an unavailable or lost partition, and
// INVALID_COMMIT_OFFSET_SIZE for offsets (UNKNOWN_SERVER_ERROR for group metadata)
// whose batch is too large.
func storeError(err error, offsets bool) error {
	var code *kerr.Error
	switch ke := asKerr(err); ke {
	case kerr.UnknownTopicOrPartition, kerr.NotEnoughReplicas, kerr.NotEnoughReplicasAfterAppend, kerr.RequestTimedOut:
		code = kerr.CoordinatorNotAvailable
	case kerr.NotLeaderForPartition, kerr.KafkaStorageError:
		code = kerr.NotCoordinator
	case kerr.MessageTooLarge, kerr.RecordListTooLarge, kerr.InvalidFetchSize:
		code = kerr.UnknownServerError
		if offsets {
			code = kerr.InvalidCommitOffsetSize
		}
	default:
		code = kerr.CoordinatorNotAvailable
	}
	return fmt.Errorf("group: writing to %s: %v: %w", OffsetsTopic, err, code)
}

func (c *Coordinator) nowMs() int64 { return c.clock.Now().UnixMilli() }

func (c *Coordinator) nextMemberSeq() uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.memberSeq++
	return c.memberSeq
}

// errCode is the Kafka code of err (UNKNOWN_SERVER_ERROR for a non-Kafka error).
func errCode(err error) int16 {
	if err == nil {
		return 0
	}
	if ke := asKerr(err); ke != nil {
		return ke.Code
	}
	return kerr.UnknownServerError.Code
}
