package raftquorum

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/raft"
	raftboltdb "github.com/hashicorp/raft-boltdb/v2"
	"github.com/twmb/franz-go/pkg/kerr"
	"go.etcd.io/bbolt"

	"github.com/samsa-io/samsa/internal/metadata"
)

// Config configures one voter of the quorum.
type Config struct {
	NodeID    int32
	Voters    map[int32]string // node id -> host:port of its controller listener (controller.quorum.voters)
	Dir       string           // directory for raft.db (raft-boltdb) and snapshots/
	ClusterID string           // "" = let the first leader pick a random one; else must match
	Conns     <-chan net.Conn  // raft connections accepted by the broker, Magic already consumed
	Addr      net.Addr         // this node's controller listener address
	Logger    *slog.Logger
	// Timing; zero values get defaults suited to a LAN (heartbeat 500ms, election 1s,
	// leader lease 500ms, commit timeout 50ms). Tests use shorter ones.
	HeartbeatTimeout, ElectionTimeout, LeaderLeaseTimeout time.Duration
	SnapshotThreshold                                     uint64 // entries between snapshots; 0 = 8192
	// TrailingLogs is how many entries a snapshot leaves in the log, so a follower a
	// little behind catches up from the log instead of a snapshot; 0 = 10240.
	TrailingLogs uint64
}

// The defaults of Config's zero fields.
const (
	defaultHeartbeatTimeout   = 500 * time.Millisecond
	defaultElectionTimeout    = time.Second
	defaultLeaderLeaseTimeout = 500 * time.Millisecond
	defaultCommitTimeout      = 50 * time.Millisecond
	defaultSnapshotThreshold  = 8192
	defaultTrailingLogs       = 10240
)

// clusterIDKey is the stable-store key holding the cluster id; see the package doc.
const clusterIDKey = "samsa.cluster_id"

// boltOpenTimeout bounds the wait for raft.db's file lock, held by another process
// using the same directory; without it bbolt waits for ever.
const boltOpenTimeout = 5 * time.Second

// validate checks cfg and fills in the defaults.
func (cfg *Config) validate() error {
	switch {
	case len(cfg.Voters) == 0:
		return errors.New("raftquorum: controller.quorum.voters is empty")
	case cfg.Dir == "":
		return errors.New("raftquorum: no directory for the raft log")
	case cfg.Conns == nil:
		return errors.New("raftquorum: no channel of raft connections")
	case cfg.Addr == nil:
		return errors.New("raftquorum: no controller listener address")
	}
	for id, addr := range cfg.Voters {
		if id < 0 {
			return fmt.Errorf("raftquorum: controller.quorum.voters: node id %d is negative", id)
		}
		if _, _, err := net.SplitHostPort(addr); err != nil {
			return fmt.Errorf("raftquorum: controller.quorum.voters: node %d: %w", id, err)
		}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.HeartbeatTimeout == 0 {
		cfg.HeartbeatTimeout = defaultHeartbeatTimeout
	}
	if cfg.ElectionTimeout == 0 {
		cfg.ElectionTimeout = defaultElectionTimeout
	}
	if cfg.LeaderLeaseTimeout == 0 {
		cfg.LeaderLeaseTimeout = defaultLeaderLeaseTimeout
	}
	if cfg.SnapshotThreshold == 0 {
		cfg.SnapshotThreshold = defaultSnapshotThreshold
	}
	if cfg.TrailingLogs == 0 {
		cfg.TrailingLogs = defaultTrailingLogs
	}
	return nil
}

// Quorum is one voter of the Raft metadata quorum; it implements metadata.Quorum.
//
// Goroutines: hashicorp/raft runs its own, among them the FSM goroutine that applies
// entries and notifies subscribers. The quorum adds the leadership goroutine, which
// reads raft's leadership notifications, and per term one activation goroutine that
// makes the new leader the active controller. Close stops raft first, then these.
type Quorum struct {
	cfg    Config
	logger *slog.Logger
	id     raft.ServerID
	raft   *raft.Raft
	trans  *trackingTransport
	store  *raftboltdb.BoltStore

	img        atomic.Pointer[metadata.Image] // latest applied image; written by the FSM goroutine
	clusterErr atomic.Pointer[error]          // set once when the log holds another cluster's id
	closed     atomic.Bool

	// mu guards subs, tail and tailLen. The FSM also holds it while it stores img, so a
	// caller that subscribes and then reads Image() misses no change, and RecordsSince
	// sees the tail and the image agree.
	mu      sync.Mutex
	subs    []func(prev, next *metadata.Image)
	tail    []Entry // the latest applied entries, oldest first; see RecordsSince
	tailLen int     // records in tail

	// actMu serialises leadership changes: it guards cancelActivation and is held while
	// active changes and while the change is sent on activeCh, so the values on the
	// channel follow the order of the changes.
	actMu            sync.Mutex
	cancelActivation context.CancelFunc // ends the current term's activation; nil when not leader
	active           atomic.Bool        // read without actMu by IsActive
	activeCh         chan bool          // capacity 1, newest value wins; closed by Close
	activeChClosed   bool               // guarded by actMu

	notifyCh chan bool     // raft's leadership notifications (Config.NotifyCh)
	stop     chan struct{} // closed by Close to end the leadership goroutine
	wg       sync.WaitGroup

	closeOnce sync.Once
	closeErr  error
}

var _ metadata.Quorum = (*Quorum)(nil)

// Open starts this node's raft server. On a fresh Dir it bootstraps the cluster with
// Voters (every voter does the same with the same list; hashicorp/raft allows that, and
// BootstrapCluster on an existing state is ErrCantBootstrap, ignored). It returns at once,
// before any leader exists.
func Open(cfg Config) (*Quorum, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(cfg.Dir, 0o755); err != nil {
		return nil, fmt.Errorf("raftquorum: create %s: %w", cfg.Dir, err)
	}
	store, err := raftboltdb.New(raftboltdb.Options{
		Path:        filepath.Join(cfg.Dir, "raft.db"),
		BoltOptions: &bbolt.Options{Timeout: boltOpenTimeout},
	})
	if err != nil {
		return nil, fmt.Errorf("raftquorum: open %s: %w", filepath.Join(cfg.Dir, "raft.db"), err)
	}
	q, err := open(cfg, store)
	if err != nil {
		store.Close()
		return nil, err
	}
	return q, nil
}

// open does the rest of Open once the store is open; the caller closes the store if it
// fails.
func open(cfg Config, store *raftboltdb.BoltStore) (*Quorum, error) {
	stored, err := store.Get([]byte(clusterIDKey))
	switch {
	case errors.Is(err, raftboltdb.ErrKeyNotFound):
	case err != nil:
		return nil, fmt.Errorf("raftquorum: read stored cluster id: %w", err)
	case cfg.ClusterID != "" && cfg.ClusterID != string(stored):
		return nil, fmt.Errorf("raftquorum: cluster.id %q does not match %q stored in %s: %w", cfg.ClusterID, stored, cfg.Dir, kerr.InconsistentClusterID)
	}

	hlog := newHCLogger(cfg.Logger)
	snaps, err := raft.NewFileSnapshotStoreWithLogger(cfg.Dir, 2, hlog)
	if err != nil {
		return nil, fmt.Errorf("raftquorum: snapshot store in %s: %w", cfg.Dir, err)
	}

	q := &Quorum{
		cfg:      cfg,
		logger:   cfg.Logger,
		id:       serverID(cfg.NodeID),
		store:    store,
		activeCh: make(chan bool, 1),
		notifyCh: make(chan bool, 1),
		stop:     make(chan struct{}),
	}
	q.img.Store(metadata.NewImage())
	f := &fsm{q: q, stable: store, storedClusterID: string(stored)}

	rc := raft.DefaultConfig()
	rc.LocalID = q.id
	rc.HeartbeatTimeout = cfg.HeartbeatTimeout
	rc.ElectionTimeout = cfg.ElectionTimeout
	rc.LeaderLeaseTimeout = cfg.LeaderLeaseTimeout
	rc.CommitTimeout = defaultCommitTimeout
	rc.SnapshotThreshold = cfg.SnapshotThreshold
	rc.TrailingLogs = cfg.TrailingLogs
	rc.NotifyCh = q.notifyCh
	rc.Logger = hlog
	if err := raft.ValidateConfig(rc); err != nil {
		return nil, fmt.Errorf("raftquorum: %w", err)
	}

	nt := raft.NewNetworkTransportWithConfig(&raft.NetworkTransportConfig{
		Stream:          newStreamLayer(cfg.Conns, cfg.Addr),
		Logger:          hlog,
		MaxPool:         3,
		MaxRPCsInFlight: 1, // see trackingTransport.AppendEntriesPipeline
		Timeout:         10 * time.Second,
	})
	q.trans = newTrackingTransport(nt)

	r, err := raft.NewRaft(rc, f, store, store, snaps, q.trans)
	if err != nil {
		q.trans.Close()
		return nil, fmt.Errorf("raftquorum: start raft: %w", err)
	}
	q.raft = r

	// A node that is not a voter is an observer: it does not bootstrap, and follows the
	// log once the active controller has added it (AddObserver, asked by the node's
	// broker side).
	if cfg.Voters[cfg.NodeID] == "" {
		q.wg.Add(1)
		go q.leadershipLoop()
		return q, nil
	}
	// Every voter must bootstrap with the very same configuration entry, hence the order.
	// On an existing state the entry is ignored: changing the voters of a formed cluster
	// would need raft membership changes, which the quorum does not make.
	var servers []raft.Server
	for _, id := range slices.Sorted(maps.Keys(cfg.Voters)) {
		servers = append(servers, raft.Server{Suffrage: raft.Voter, ID: serverID(id), Address: raft.ServerAddress(cfg.Voters[id])})
	}
	if err := r.BootstrapCluster(raft.Configuration{Servers: servers}).Error(); err != nil && !errors.Is(err, raft.ErrCantBootstrap) {
		r.Shutdown().Error() //nolint:errcheck // the bootstrap error is the one to report
		return nil, fmt.Errorf("raftquorum: bootstrap: %w", err)
	}

	q.wg.Add(1)
	go q.leadershipLoop()
	return q, nil
}

func serverID(id int32) raft.ServerID { return raft.ServerID(strconv.FormatInt(int64(id), 10)) }

// Image returns the latest applied image.
func (q *Quorum) Image() *metadata.Image { return q.img.Load() }

// Subscribe registers fn for every change applied after Subscribe returns (a restored
// snapshot counts as one change). A caller that subscribes first and then reads Image()
// misses no change. fn runs on raft's FSM goroutine with no lock of the quorum held, one
// change at a time, in order; it must not call Propose, which waits for that goroutine.
func (q *Quorum) Subscribe(fn func(prev, next *metadata.Image)) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.subs = append(q.subs, fn)
}

// Propose commits recs as one raft log entry and returns the image after it. Only the
// active controller may propose; elsewhere it fails with kerr.NotController. Records
// that do not apply leave every node's image unchanged, and their error (wrapping a
// *kerr.Error) is returned. When ctx ends first the error wraps kerr.RequestTimedOut;
// the entry may still commit later.
func (q *Quorum) Propose(ctx context.Context, recs []metadata.Record) (*metadata.Image, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("raftquorum: propose: %v: %w", err, kerr.RequestTimedOut)
	}
	if q.closed.Load() {
		return nil, fmt.Errorf("raftquorum: propose: quorum closed: %w", kerr.NotController)
	}
	if p := q.clusterErr.Load(); p != nil {
		return nil, *p
	}
	if !q.IsActive() {
		return nil, fmt.Errorf("raftquorum: propose: node %d is not the active controller: %w", q.cfg.NodeID, kerr.NotController)
	}
	if len(recs) == 0 {
		return q.Image(), nil
	}
	return q.apply(ctx, recs)
}

// apply commits recs through raft and returns the FSM's answer.
func (q *Quorum) apply(ctx context.Context, recs []metadata.Record) (*metadata.Image, error) {
	data, err := json.Marshal(recs)
	if err != nil {
		return nil, fmt.Errorf("raftquorum: encode records: %v: %w", err, kerr.InvalidRequest)
	}
	var timeout time.Duration // 0: no limit on handing the entry to raft
	if dl, ok := ctx.Deadline(); ok {
		if timeout = time.Until(dl); timeout <= 0 {
			return nil, fmt.Errorf("raftquorum: propose: %v: %w", context.DeadlineExceeded, kerr.RequestTimedOut)
		}
	}
	f := q.raft.Apply(data, timeout)
	if err := q.waitFuture(ctx, f); err != nil {
		return nil, raftError("propose", err)
	}
	res, ok := f.Response().(applyResult)
	if !ok {
		return nil, fmt.Errorf("raftquorum: propose: unexpected FSM response %T: %w", f.Response(), kerr.UnknownServerError)
	}
	if res.err != nil {
		return nil, res.err
	}
	q.spread(ctx)
	return res.img, nil
}

// spreadTimeout bounds how long a proposal waits for the followers to learn it.
const spreadTimeout = 500 * time.Millisecond

// spread waits, briefly, until every voter that is up has learnt that the proposal
// committed, so a client that changes metadata through one node and then reads it
// through another sees its change (followers otherwise learn the commit index only
// with the leader's next append, up to CommitTimeout later). A barrier's AppendEntries
// carries the new commit index; a voter that acknowledged it applies the proposal
// right after. Voters not heard from recently (down, cut off) are not waited for.
func (q *Quorum) spread(ctx context.Context) {
	if err := q.waitFuture(ctx, q.raft.Barrier(spreadTimeout)); err != nil {
		return
	}
	target := q.raft.LastIndex()
	deadline := time.Now().Add(spreadTimeout)
	for time.Now().Before(deadline) && ctx.Err() == nil {
		caughtUp := true
		for _, v := range q.Status().Voters {
			if v.ID != q.cfg.NodeID && time.Since(v.LastContact) < time.Second && v.LastIndex < target {
				caughtUp = false
			}
		}
		if caughtUp {
			return
		}
		time.Sleep(time.Millisecond)
	}
}

// waitFuture waits for f, the end of ctx or Close. A future resolves when raft
// shuts down, except one already queued for the FSM goroutine when it stopped; q.stop
// keeps Close and callers from waiting for such a future, whose waiting goroutine then
// stays until the process exits.
func (q *Quorum) waitFuture(ctx context.Context, f raft.Future) error {
	errc := make(chan error, 1)
	go func() { errc <- f.Error() }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
		return ctx.Err()
	case <-q.stop:
		return raft.ErrRaftShutdown
	}
}

// raftError maps an error of a raft operation to the Kafka error the caller sees.
func raftError(op string, err error) error {
	switch {
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded), errors.Is(err, raft.ErrEnqueueTimeout):
		return fmt.Errorf("raftquorum: %s: %v: %w", op, err, kerr.RequestTimedOut)
	case errors.Is(err, raft.ErrNotLeader), errors.Is(err, raft.ErrLeadershipLost),
		errors.Is(err, raft.ErrLeadershipTransferInProgress), errors.Is(err, raft.ErrRaftShutdown),
		errors.Is(err, raft.ErrAbortedByRestore), errors.Is(err, raft.ErrNotVoter):
		return fmt.Errorf("raftquorum: %s: %v: %w", op, err, kerr.NotController)
	default:
		// What is left comes from the log store: the disk under raft.db failed.
		return fmt.Errorf("raftquorum: %s: %v: %w", op, err, kerr.KafkaStorageError)
	}
}

// Leader returns the current raft leader as known locally; ok is false when none is.
func (q *Quorum) Leader() (id int32, ok bool) {
	_, sid := q.raft.LeaderWithID()
	n, err := strconv.ParseInt(string(sid), 10, 32)
	if sid == "" || err != nil {
		return -1, false
	}
	return int32(n), true
}

// IsActive reports whether this node is the active controller: the raft leader, caught
// up with everything committed before its term, with its ControllerChange committed.
func (q *Quorum) IsActive() bool { return q.active.Load() && !q.closed.Load() }

// ActiveCh delivers true when this node becomes the active controller and false when
// it stops being the raft leader (also when it lost leadership before becoming
// active). The channel holds one value and a new value replaces an unread one, so a
// slow reader sees the newest state, may miss a short flap, and may see the same value
// twice: treat each value as "the state is now v" and use IsActive for the truth. The
// channel is closed by Close, so a receive then yields false.
func (q *Quorum) ActiveCh() <-chan bool { return q.activeCh }

// TransferLeadership hands raft leadership to another voter and waits until it took
// over, for a controlled shutdown of the active controller. It fails with
// kerr.NotController when this node is not the leader.
func (q *Quorum) TransferLeadership() error {
	if err := q.waitFuture(context.Background(), q.raft.LeadershipTransfer()); err != nil {
		return raftError("transfer leadership", err)
	}
	return nil
}

// Snapshot makes raft take a snapshot now and truncate its log to TrailingLogs
// entries. Having nothing new to snapshot is not an error.
func (q *Quorum) Snapshot() error {
	err := q.waitFuture(context.Background(), q.raft.Snapshot())
	if err != nil && !errors.Is(err, raft.ErrNothingNewToSnapshot) {
		return fmt.Errorf("raftquorum: snapshot: %w", err)
	}
	return nil
}

// Close shuts raft down and waits for it and the quorum's goroutines, closes ActiveCh
// (after a final false if this node was the leader) and then raft.db. Later proposals
// fail with kerr.NotController.
func (q *Quorum) Close() error {
	q.closeOnce.Do(func() {
		q.closed.Store(true)
		if err := q.raft.Shutdown().Error(); err != nil {
			q.closeErr = fmt.Errorf("raftquorum: shut down raft: %w", err)
		}
		close(q.stop)
		q.wg.Wait()
		q.actMu.Lock()
		q.active.Store(false)
		q.activeChClosed = true
		close(q.activeCh)
		q.actMu.Unlock()
		if err := q.store.Close(); err != nil && q.closeErr == nil {
			q.closeErr = fmt.Errorf("raftquorum: close raft.db: %w", err)
		}
	})
	return q.closeErr
}

// leadershipLoop follows raft's leadership notifications. It must never block for long:
// raft waits for each notification to be taken.
func (q *Quorum) leadershipLoop() {
	defer q.wg.Done()
	for {
		select {
		case leader := <-q.notifyCh:
			if leader {
				q.startActivation()
			} else {
				q.deactivate()
			}
		case <-q.stop:
			q.deactivate()
			return
		}
	}
}

// startActivation starts making this new leader the active controller.
func (q *Quorum) startActivation() {
	q.actMu.Lock()
	defer q.actMu.Unlock()
	if q.cancelActivation != nil {
		q.cancelActivation() // a leftover of the previous term; its false was missed
	}
	ctx, cancel := context.WithCancel(context.Background())
	q.cancelActivation = cancel
	q.wg.Add(1) // the leadership goroutine is counted, so Wait cannot have started
	go q.activate(ctx)
}

// deactivate records that this node is no longer the leader.
func (q *Quorum) deactivate() {
	q.actMu.Lock()
	defer q.actMu.Unlock()
	if q.cancelActivation == nil {
		return // was not the leader
	}
	q.cancelActivation()
	q.cancelActivation = nil
	if q.active.Swap(false) {
		q.logger.Info("raftquorum: no longer the active controller", "node", q.cfg.NodeID)
	}
	q.sendActiveLocked(false)
}

// sendActiveLocked puts v on activeCh, replacing an unread value. actMu makes this the
// only sender.
func (q *Quorum) sendActiveLocked(v bool) {
	if q.activeChClosed {
		return
	}
	for {
		select {
		case q.activeCh <- v:
			return
		default:
		}
		select {
		case <-q.activeCh:
		default:
		}
	}
}

// activate makes this freshly elected leader the active controller: it waits until
// every entry of earlier terms is applied here (Barrier), then commits a ControllerChange
// naming itself, preceded by the ClusterID record when the cluster has none yet. ctx
// ends when leadership is lost.
func (q *Quorum) activate(ctx context.Context) {
	defer q.wg.Done()
	// Barrier resolves once applied or when leadership is lost; no timeout needed.
	if err := q.waitFuture(ctx, q.raft.Barrier(0)); err != nil {
		q.logger.Debug("raftquorum: barrier after election failed", "err", err)
		return
	}
	if ctx.Err() != nil {
		return
	}
	if p := q.clusterErr.Load(); p != nil {
		q.logger.Error("raftquorum: not taking the controller role", "err", *p)
		q.stepDown()
		return
	}
	var recs []metadata.Record
	if q.Image().ClusterID == "" {
		id := q.cfg.ClusterID
		if id == "" {
			id = metadata.RandomUUID().String()
		}
		recs = append(recs, metadata.Record{Type: metadata.RecordClusterID, ClusterID: &metadata.ClusterIDRecord{ClusterID: id}})
	}
	recs = append(recs, metadata.Record{Type: metadata.RecordControllerChange, ControllerChange: &metadata.ControllerChangeRecord{ControllerID: q.cfg.NodeID}})
	if _, err := q.apply(ctx, recs); err != nil {
		var ke *kerr.Error
		if ctx.Err() == nil && !(errors.As(err, &ke) && ke == kerr.NotController) {
			q.logger.Error("raftquorum: cannot become the active controller", "err", err)
			q.stepDown()
		}
		return
	}
	q.actMu.Lock()
	defer q.actMu.Unlock()
	if ctx.Err() != nil {
		return // leadership was lost while the records committed
	}
	q.active.Store(true)
	q.logger.Info("raftquorum: active controller", "node", q.cfg.NodeID, "term", q.raft.CurrentTerm())
	q.sendActiveLocked(true)
}

// stepDown hands leadership away from a leader that cannot act as controller, so another
// voter can; it is best effort.
func (q *Quorum) stepDown() {
	if err := q.waitFuture(context.Background(), q.raft.LeadershipTransfer()); err != nil {
		q.logger.Warn("raftquorum: leadership transfer failed", "err", err)
	}
}

// IsObserver reports whether this node is not a voter: it follows the metadata log
// without voting.
func (q *Quorum) IsObserver() bool { return q.cfg.Voters[q.cfg.NodeID] == "" }

// AddObserver makes node id at addr (its controller listener) a non-voting member on
// the active controller: raft then replicates the log to it. Adding a member again
// with the same address changes nothing.
func (q *Quorum) AddObserver(ctx context.Context, id int32, addr string) error {
	if !q.IsActive() {
		return fmt.Errorf("raftquorum: add observer %d: node %d is not the active controller: %w", id, q.cfg.NodeID, kerr.NotController)
	}
	if _, ok := q.cfg.Voters[id]; ok {
		return fmt.Errorf("raftquorum: node %d is a voter, not an observer: %w", id, kerr.InvalidRequest)
	}
	if _, _, err := net.SplitHostPort(addr); err != nil {
		return fmt.Errorf("raftquorum: add observer %d: address %q: %v: %w", id, addr, err, kerr.InvalidRequest)
	}
	if f := q.raft.GetConfiguration(); f.Error() == nil {
		for _, s := range f.Configuration().Servers {
			if s.ID == serverID(id) && s.Address == raft.ServerAddress(addr) {
				return nil
			}
		}
	}
	if err := q.waitFuture(ctx, q.raft.AddNonvoter(serverID(id), raft.ServerAddress(addr), 0, 10*time.Second)); err != nil {
		return raftError("add observer", err)
	}
	q.logger.Info("raftquorum: added an observer", "node", id, "addr", addr)
	return nil
}
