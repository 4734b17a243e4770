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
	// nparts is the partition count of __consumer_offsets once Load or LoadPartition
	// was called; 0 before: every group request is then answered NOT_COORDINATOR.
	nparts int32
	// owned is, by partition, its ownership state (the package doc's "Partition
	// ownership"): nil when this node does not coordinate it.
	owned  []*ownedPartition
	groups map[string]*group // groups of owned, loaded partitions
	// memberSeq numbers joining members, so "first joined" is well defined.
	memberSeq uint64

	// loadSlots bounds how many partitions replay at once (Kafka's coordinator loads
	// on a small, fixed pool of threads): a node taking over many partitions does not
	// scan all their logs at the same time.
	loadSlots chan struct{}

	// loadDone, if set (by tests, before the first load), is called when a loader
	// ends: installed tells whether its groups went into the map.
	loadDone func(p int32, installed bool)
}

// maxConcurrentLoads is the size of loadSlots.
const maxConcurrentLoads = 4

// ownedPartition is one partition of __consumer_offsets this node coordinates. Its
// fields are guarded by Coordinator.mu. A new value is made by each LoadPartition that
// starts a load, so a loader compares pointers to know whether its load is still the
// current one.
type ownedPartition struct {
	epoch  int32 // leader epoch of the newest LoadPartition
	loaded bool  // its groups are in Coordinator.groups
	// ctx ends when the partition is unloaded (or the coordinator closes): the
	// loader's Scan and the appends of its groups stop.
	ctx    context.Context
	cancel context.CancelFunc
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

		loadSlots: make(chan struct{}, maxConcurrentLoads),
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
// node hosts them all): LoadPartition(n, p, 0) for every p. Until a partition is loaded
// its groups get COORDINATOR_LOAD_IN_PROGRESS. Calls after the first do nothing.
func (c *Coordinator) Load(n int32) {
	for p := int32(0); p < n; p++ {
		c.LoadPartition(n, p, 0)
	}
}

// LoadPartition makes this node the coordinator of partition p of the n partitions of
// __consumer_offsets, at the given leader epoch, and loads its groups in the background
// (COORDINATOR_LOAD_IN_PROGRESS for them meanwhile). A call for a partition already
// loaded or loading at the same or a newer epoch does nothing; one at a newer epoch only
// records the epoch (this node led the partition all along: its groups stay as they
// are, as Kafka keeps a loaded coordinator). n must be the same in every call (the
// partition count never changes; PartitionFor depends on it); a call with another n,
// or p outside [0, n), is logged and ignored. Calls for one partition must come in the
// order its leadership changed, as one goroutine applying metadata makes them.
func (c *Coordinator) LoadPartition(n, p, epoch int32) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed || n <= 0 {
		return
	}
	if c.nparts == 0 {
		c.nparts = n
		c.owned = make([]*ownedPartition, n)
	}
	if n != c.nparts || p < 0 || p >= n {
		c.logger.Error("group: ignoring a load of a partition of __consumer_offsets", "partition", p, "partitions", n, "want_partitions", c.nparts)
		return
	}
	if op := c.owned[p]; op != nil {
		op.epoch = max(op.epoch, epoch)
		return
	}
	ctx, cancel := context.WithCancel(c.ctx)
	op := &ownedPartition{epoch: epoch, ctx: ctx, cancel: cancel}
	c.owned[p] = op
	c.logger.Debug("group: loading partition of __consumer_offsets", "partition", p, "epoch", epoch)
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		c.loadPartition(p, op)
	}()
}

// UnloadPartition stops coordinating partition p (leadership moved away, at leader
// epoch `epoch`); it is ignored if a LoadPartition at a newer epoch than `epoch`
// happened since (pass math.MaxInt32 to unload whatever the epoch), or if p is not
// coordinated here. The partition's groups are removed from memory, their timers
// stopped, and every request parked on them (JoinGroup/SyncGroup waiting for a
// rebalance) is answered NOT_COORDINATOR at once, so clients look the coordinator up
// again; later requests for them get NOT_COORDINATOR. A load of p still in progress is
// abandoned: its Scan is cancelled and its result discarded. Nothing is written to
// __consumer_offsets: the new leader has every record.
func (c *Coordinator) UnloadPartition(p, epoch int32) {
	c.mu.Lock()
	if c.closed || p < 0 || p >= c.nparts {
		c.mu.Unlock()
		return
	}
	op := c.owned[p]
	if op == nil || op.epoch > epoch {
		c.mu.Unlock()
		return
	}
	c.owned[p] = nil
	op.cancel()
	var gone []*group
	for id, g := range c.groups {
		if g.partition == p {
			gone = append(gone, g)
			delete(c.groups, id)
		}
	}
	c.mu.Unlock()
	// Requests that found a group before it left the map may still hold its mu, and
	// may park a waiter or arm a timer before releasing it; taking each mu afterwards
	// catches all of that. Later lookups see p unowned, and a request that locks a
	// group after this sees it Dead and unloaded and looks it up again.
	for _, g := range gone {
		g.mu.Lock()
		c.unloadGroupLocked(g)
		g.mu.Unlock()
	}
	c.logger.Info("group: unloaded partition of __consumer_offsets", "partition", p, "epoch", epoch, "groups", len(gone), "was_loading", !op.loaded)
}

// unloadGroupLocked retires a group of an unloaded partition: Dead, every waiting
// JoinGroup and SyncGroup answered NOT_COORDINATOR, every timer stopped. g.mu is held.
// Timer callbacks already running find it Dead and do nothing.
func (c *Coordinator) unloadGroupLocked(g *group) {
	g.transitionLocked(StateDead, c.clock.Now())
	g.unloaded = true
	notCoord := fmt.Errorf("group: partition %d of %s moved away: %w", g.partition, OffsetsTopic, kerr.NotCoordinator)
	for _, m := range g.members {
		m.answerJoin(joinResult{err: notCoord, memberID: m.id})
		m.answerSync(syncResult{err: notCoord})
	}
	g.stopTimersLocked()
	clear(g.pending)
}

// Owns reports whether this node coordinates (loaded or loading) partition p.
func (c *Coordinator) Owns(p int32) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return p >= 0 && p < int32(len(c.owned)) && c.owned[p] != nil
}

// Loaded reports whether Load or LoadPartition was called and no partition this node
// coordinates is still loading (for tests and health checks).
func (c *Coordinator) Loaded() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.nparts == 0 {
		return false
	}
	for _, op := range c.owned {
		if op != nil && !op.loaded {
			return false
		}
	}
	return true
}

// loadPartition replays partition p for the load op, retrying until it succeeds or op
// ends (unload or Close), and installs its groups if op is still p's current load.
func (c *Coordinator) loadPartition(p int32, op *ownedPartition) {
	select {
	case c.loadSlots <- struct{}{}:
		defer func() { <-c.loadSlots }()
	case <-op.ctx.Done():
		return
	}
	installed := false
	if c.loadDone != nil {
		defer func() { c.loadDone(p, installed) }()
	}
	for attempt := 0; ; attempt++ {
		groups, err := c.replay(op.ctx, p)
		if err == nil {
			installed = c.installLoaded(p, op, groups)
			return
		}
		if op.ctx.Err() != nil {
			return
		}
		c.logger.Warn("group: loading __consumer_offsets partition", "partition", p, "attempt", attempt, "err", err)
		t := time.NewTimer(time.Second)
		select {
		case <-op.ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
	}
}

// installLoaded makes the groups replayed for op servable, arms their timers and
// reports true. If p was unloaded since (op is no longer c.owned[p], even if p was
// loaded again at a newer epoch meanwhile) or c closed, the groups are discarded
// (nothing was armed yet) and it reports false.
func (c *Coordinator) installLoaded(p int32, op *ownedPartition, groups map[string]*group) bool {
	c.mu.Lock()
	if c.closed || c.owned[p] != op {
		c.mu.Unlock()
		return false
	}
	for id, g := range groups {
		c.groups[id] = g
	}
	op.loaded = true
	c.mu.Unlock()
	// The groups are visible from here on; an unload may retire them before their
	// timers are armed, so each is checked under its mu.
	for _, g := range groups {
		g.mu.Lock()
		if g.state != StateDead {
			for _, m := range g.members {
				c.scheduleSessionLocked(g, m)
			}
			if g.cg != nil {
				c.startConsumerTimersLocked(g)
			}
		}
		g.mu.Unlock()
	}
	return true
}

// replay reads partition p into groups: the last record of each key wins, tombstones
// delete.
func (c *Coordinator) replay(ctx context.Context, p int32) (map[string]*group, error) {
	offsets := make(map[string]map[topicPartition]offset)
	metas := make(map[string]*loadedRecord)
	var consumers consumerReplay
	err := c.store.Scan(ctx, p, func(r Record) {
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
	if c.closed {
		return fmt.Errorf("group: coordinator is shutting down: %w", kerr.CoordinatorNotAvailable)
	}
	if c.nparts == 0 {
		return fmt.Errorf("group: %s does not exist yet: %w", OffsetsTopic, kerr.NotCoordinator)
	}
	p := PartitionFor(id, c.nparts)
	switch op := c.owned[p]; {
	case op == nil:
		return fmt.Errorf("group: partition %d of %s is not coordinated here: %w", p, OffsetsTopic, kerr.NotCoordinator)
	case !op.loaded:
		return fmt.Errorf("group: partition %d of %s is loading: %w", p, OffsetsTopic, kerr.CoordinatorLoadInProgress)
	}
	return nil
}

// lockGroup looks a group up (creating it if create) and returns it locked, or nil if
// it does not exist. A group found Dead was removed meanwhile: with create, or when its
// partition was unloaded, the lookup is repeated (making a fresh group, or failing with
// NOT_COORDINATOR); a group deleted by DeleteGroups or expiry is returned Dead.
func (c *Coordinator) lockGroup(id string, create bool) (*group, error) {
	for {
		g, err := c.lookup(id, create)
		if err != nil || g == nil {
			return nil, err
		}
		g.mu.Lock()
		if g.state == StateDead && (create || g.unloaded) {
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
// this node coordinates is still loading.
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
	for _, op := range c.owned {
		if op != nil && !op.loaded {
			return out, kerr.CoordinatorLoadInProgress
		}
	}
	return out, nil
}

// writeLocked appends recs to g's partition. g.mu is held: the records of one group
// are appended in the order its state changed. Nothing is written to a partition this
// node no longer coordinates, and an append still running when the partition is
// unloaded is cancelled; both fail with NOT_LEADER_OR_FOLLOWER, as the Store fails
// when another node leads the partition, which storeError maps to NOT_COORDINATOR.
// Other failures are mapped to the code Kafka answers for a failed group write (see
// storeError).
func (c *Coordinator) writeLocked(g *group, recs []Record) error {
	if len(recs) == 0 {
		return nil
	}
	c.mu.Lock()
	var ctx context.Context
	if op := c.ownedLocked(g.partition); op != nil && c.groups[g.id] == g {
		// g is in the map only while its partition is owned and loaded; a group
		// unloaded meanwhile (even if the partition was loaded again since, making a
		// new group) must not write: its state is no longer the partition's.
		ctx = op.ctx
	}
	c.mu.Unlock()
	if ctx == nil {
		return fmt.Errorf("group: partition %d of %s is not coordinated here: %w", g.partition, OffsetsTopic, kerr.NotLeaderForPartition)
	}
	err := c.store.Append(ctx, g.partition, recs)
	if err != nil && ctx.Err() != nil && c.ctx.Err() == nil {
		// Unloaded meanwhile (not closed: Close keeps the error as it is).
		err = fmt.Errorf("group: partition %d of %s unloaded during the append: %v: %w", g.partition, OffsetsTopic, err, kerr.NotLeaderForPartition)
	}
	if err != nil {
		c.logger.Error("group: writing to __consumer_offsets", "group", g.id, "partition", g.partition, "err", err)
		return err
	}
	return nil
}

// ownedLocked returns partition p's ownership state, nil if not coordinated here.
// c.mu is held.
func (c *Coordinator) ownedLocked(p int32) *ownedPartition {
	if p < 0 || p >= int32(len(c.owned)) {
		return nil
	}
	return c.owned[p]
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
