package broker

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/samsa-io/samsa/internal/commitlog"
	"github.com/samsa-io/samsa/internal/config"
	"github.com/samsa-io/samsa/internal/group"
	"github.com/samsa-io/samsa/internal/metadata"
	"github.com/samsa-io/samsa/internal/replica"
)

// metadataDirName is the directory under the data dir holding the metadata quorum's
// files. It has no "-<n>" suffix so it is never taken for a partition directory.
const metadataDirName = "__cluster_metadata"

// Broker is one Samsa node serving the Kafka protocol.
type Broker struct {
	cfg    *config.Config
	logger *slog.Logger
	apis   map[kmsg.Key]api

	quorum   metadata.Quorum
	ctl      *metadata.Controller
	logs     *commitlog.Manager
	replicas *replica.Manager
	pids     producerIDs
	// coord is the group coordinator; it loads __consumer_offsets once that exists.
	coord *group.Coordinator

	listeners []net.Listener // client listeners; none on a controller-only node
	// ctlListener is the controller listener of a node with the controller role in a
	// cluster; served by cluster.
	ctlListener net.Listener
	// cluster is set in cluster mode (controller.quorum.voters configured); nil on a
	// single node.
	cluster *cluster
	// replicasReady lets metadata changes reach the replica manager (see reconcile);
	// reconcileMu serialises reconciliations. ready is closed at the same moment: in a
	// cluster the client listeners accept connections only then, so no client is served
	// from metadata older than this node's own registration (as Kafka brokers wait for
	// their initial metadata catch-up).
	replicasReady atomic.Bool
	reconcileMu   sync.Mutex
	ready         chan struct{}

	// advertised is the host and port clients are told to connect to.
	advertisedHost string
	advertisedPort int32

	wg sync.WaitGroup // tracks every goroutine the broker starts

	mu    sync.Mutex // guards conns
	conns map[net.Conn]struct{}
}

// New opens the node's data directory and binds its listeners. Call Run to serve.
func New(cfg *config.Config, logger *slog.Logger) (_ *Broker, err error) {
	if logger == nil {
		logger = slog.Default()
	}
	if len(cfg.LogDirs) != 1 {
		return nil, fmt.Errorf("broker: log.dirs: exactly one directory is supported, got %d", len(cfg.LogDirs))
	}
	dataDir := cfg.LogDirs[0]
	b := &Broker{cfg: cfg, logger: logger, conns: make(map[net.Conn]struct{}), ready: make(chan struct{})}
	b.apis = b.apiTable()
	b.pids.b = b

	// Close whatever was opened if a later step fails.
	defer func() {
		if err != nil {
			b.closeAll()
		}
	}()

	clusterMode := len(cfg.ControllerQuorumVoters) > 0
	isBroker, isController := cfg.HasRole("broker"), cfg.HasRole("controller")
	if !clusterMode && !(isBroker && isController) {
		return nil, fmt.Errorf("broker: process.roles=%s needs controller.quorum.voters: only a node with both roles runs alone", strings.Join(cfg.ProcessRoles, ","))
	}
	var ctlLn net.Listener
	for _, l := range cfg.Listeners {
		ln, err := net.Listen("tcp", net.JoinHostPort(l.Host, strconv.Itoa(int(l.Port))))
		if err != nil {
			return nil, fmt.Errorf("broker: listeners: %s: %w", l.Name, err)
		}
		if clusterMode && isController && slices.Contains(cfg.ControllerListenerNames, l.Name) {
			// Served by the cluster: Raft and the controller APIs.
			if ctlLn != nil {
				ln.Close()
				return nil, fmt.Errorf("broker: controller.listener.names: Samsa serves one controller listener, %s is a second", l.Name)
			}
			ctlLn = ln
			continue
		}
		b.listeners = append(b.listeners, ln)
	}
	if ctlLn != nil {
		defer func() {
			if err != nil && b.cluster == nil {
				ctlLn.Close()
			}
		}()
	}
	switch {
	case isBroker && len(b.listeners) == 0:
		return nil, fmt.Errorf("broker: listeners: no listener for clients (only the controller listener)")
	case !isBroker && len(b.listeners) > 0:
		return nil, fmt.Errorf("broker: listeners: %s is not a controller listener, and a node with only the controller role serves no clients", b.cfg.Listeners[0].Name)
	case clusterMode && isController && ctlLn == nil:
		return nil, fmt.Errorf("broker: controller.listener.names: no listener of %v is in listeners", cfg.ControllerListenerNames)
	}
	b.ctlListener = ctlLn
	b.advertisedHost, b.advertisedPort = b.advertisedAddr()

	if err := os.MkdirAll(dataDir, 0o755); err != nil {
		return nil, fmt.Errorf("broker: log.dirs: %w", err)
	}
	metaDir := filepath.Join(dataDir, metadataDirName)
	if clusterMode {
		if b.cluster, err = newCluster(b, metaDir, ctlLn); err != nil {
			return nil, err
		}
		b.quorum = b.cluster.quorum()
		for _, k := range forwardedKeys {
			a := b.apis[k]
			a.handle = b.cluster.forward
			b.apis[k] = a
		}
	} else {
		b.quorum, err = metadata.OpenLocalQuorum(metaDir, cfg.ClusterID, cfg.NodeID)
		if err != nil {
			return nil, err
		}
		if err := b.registerSelf(); err != nil {
			return nil, err
		}
	}
	b.ctl = metadata.NewController(b.quorum, metadata.ControllerConfig{
		NodeID:                   cfg.NodeID,
		NumPartitions:            cfg.NumPartitions,
		DefaultReplicationFactor: cfg.DefaultReplicationFactor,
		ValidateTopicConfig:      config.ValidateTopicConfig,
		IsListConfig:             config.IsListConfig,
		DefaultTopicConfig:       topicDefault(cfg),
		BrokerSessionTimeout:     cfg.BrokerSessionTimeout,
		UncleanLeaderElection:    uncleanElection(cfg),
		// 0 in ControllerConfig means Kafka's default; a configured 0 is passed as -1.
		LeaderImbalancePerBrokerPercentage: cmp.Or(cfg.LeaderImbalancePerBrokerPercentage, -1),
	})
	if !isBroker {
		return b, nil // a controller hosts no partitions and no groups
	}

	b.logs, err = commitlog.OpenManager(dataDir, commitlog.ManagerOptions{
		Options:                         commitlog.Options{Logger: logger},
		RetentionCheckInterval:          cfg.LogRetentionCheckInterval,
		CheckpointInterval:              time.Minute,
		FlushCheckInterval:              cfg.LogFlushSchedulerInterval,
		CleanerBackoff:                  cfg.LogCleanerBackoff,
		CleanerMapBytes:                 cfg.LogCleanerDedupeBuffer,
		HighWatermarkCheckpointInterval: cfg.HighWatermarkCheckpointInterval,
		DisableCleaner:                  !cfg.LogCleanerEnable,
	})
	if err != nil {
		return nil, err
	}
	ropts := replica.Options{
		NodeID:                       cfg.NodeID,
		Logs:                         b.logs,
		LogConfig:                    cfg.LogConfig,
		Logger:                       logger,
		ReplicaLagTimeMax:            cfg.ReplicaLagTimeMax,
		ReplicaFetchWaitMax:          cfg.ReplicaFetchWaitMax,
		ReplicaFetchBackoff:          cfg.ReplicaFetchBackoff,
		ReplicaFetchMinBytes:         cfg.ReplicaFetchMinBytes,
		ReplicaFetchMaxBytes:         cfg.ReplicaFetchMaxBytes,
		ReplicaFetchResponseMaxBytes: cfg.ReplicaFetchResponseMaxBytes,
	}
	if b.cluster != nil {
		ropts.Fetch = b.cluster.fetchFromLeader
		ropts.AlterPartition = b.cluster.alterPartition
		ropts.OnLeadershipChange = b.onLeadershipChange
	}
	b.replicas = replica.NewManager(ropts)
	b.quorum.Subscribe(func(_, _ *metadata.Image) { b.reconcile() })
	if b.cluster == nil {
		// One node: every partition is led here from the start. In a cluster the
		// partitions wait until this broker's registration is in its metadata
		// (cluster.runBrokerLifecycle), so that leadership it had before a restart,
		// which the controller takes away at registration, is never acted on.
		if err := b.markReady(); err != nil {
			return nil, err
		}
	}
	b.coord = b.newCoordinator()
	return b, nil
}

// topicDefault returns the broker-level value of a topic config, the base that
// IncrementalAlterConfigs APPEND and SUBTRACT start from when a topic has no override.
func topicDefault(cfg *config.Config) func(string) (string, bool) {
	return func(key string) (string, bool) {
		for _, e := range cfg.DescribeTopicConfigs(nil) {
			if e.Name == key {
				return e.Value, true
			}
		}
		return "", false
	}
}

// markReady lets the partitions follow the metadata, reconciles them, and then lets the
// client listeners serve.
func (b *Broker) markReady() error {
	if b.replicasReady.Swap(true) {
		return nil
	}
	err := b.reconcile()
	close(b.ready)
	return err
}

// reconcile makes the hosted partitions match the latest metadata image, once they
// may (replicasReady). Reconciling the latest image under reconcileMu, rather than the
// image a notification carried, keeps concurrent calls from applying an older image
// after a newer one.
func (b *Broker) reconcile() error {
	if !b.replicasReady.Load() {
		return nil
	}
	b.reconcileMu.Lock()
	defer b.reconcileMu.Unlock()
	err := b.replicas.Reconcile(b.quorum.Image())
	if err != nil {
		b.logger.Error("applying metadata to partitions", "err", err)
	}
	return err
}

// partition returns the hosted partition tp. One the metadata has but this node does
// not host (yet: a new topic's logs are still being created, or this node is no replica
// of it) is NOT_LEADER_OR_FOLLOWER, as Kafka answers: retriable, the client looks the
// leader up again. One the metadata lacks is UNKNOWN_TOPIC_OR_PARTITION.
func (b *Broker) partition(tp commitlog.TopicPartition) (*replica.Partition, error) {
	p, err := b.replicas.Get(tp)
	if err == nil {
		return p, nil
	}
	if t := b.quorum.Image().Topic(tp.Topic); t != nil && tp.Partition >= 0 && int(tp.Partition) < len(t.Partitions) {
		return nil, fmt.Errorf("broker: %s-%d is not hosted here: %w", tp.Topic, tp.Partition, kerr.NotLeaderForPartition)
	}
	return nil, err
}

// onLeadershipChange makes the group coordinator follow the leadership of the
// partitions of __consumer_offsets: the coordinator of a group is the leader of its
// partition.
func (b *Broker) onLeadershipChange(tp commitlog.TopicPartition, leader bool, epoch int32) {
	if tp.Topic != group.OffsetsTopic {
		return
	}
	if leader {
		t := b.quorum.Image().Topic(group.OffsetsTopic)
		if t == nil {
			return
		}
		b.coord.LoadPartition(int32(len(t.Partitions)), tp.Partition, epoch)
		return
	}
	b.coord.UnloadPartition(tp.Partition, epoch)
}

// uncleanElection resolves unclean.leader.election.enable for a topic: its override,
// else the broker default.
func uncleanElection(cfg *config.Config) func(map[string]string) bool {
	return func(overrides map[string]string) bool {
		if v, ok := overrides["unclean.leader.election.enable"]; ok {
			return strings.EqualFold(v, "true")
		}
		return cfg.UncleanLeaderElectionEnable
	}
}

// advertisedAddr picks the address given to clients: advertised.listeners when set,
// else the first listener, with an empty or wildcard host replaced by this machine's
// name (as Kafka does) or localhost when that name does not resolve, and port 0
// replaced by the port actually bound.
//
// A node with only the controller role has no client listener: its address is its
// controller listener's.
func (b *Broker) advertisedAddr() (string, int32) {
	host, port := b.cfg.Listeners[0].Host, b.cfg.Listeners[0].Port
	if len(b.cfg.AdvertisedListeners) > 0 {
		host, port = b.cfg.AdvertisedListeners[0].Host, b.cfg.AdvertisedListeners[0].Port
	}
	if port == 0 {
		port = int32(b.firstListener().Addr().(*net.TCPAddr).Port)
	}
	if host == "" || host == "0.0.0.0" || host == "::" {
		host = "localhost"
		if name, err := os.Hostname(); err == nil {
			if _, err := net.LookupHost(name); err == nil {
				host = name
			}
		}
	}
	return host, port
}

// Addr is the address of the first client listener (the controller listener on a node
// with only the controller role).
func (b *Broker) Addr() string { return b.firstListener().Addr().String() }

func (b *Broker) firstListener() net.Listener {
	if len(b.listeners) == 0 {
		return b.ctlListener
	}
	return b.listeners[0]
}

// Run serves until ctx ends, then shuts down: stop accepting, close connections, wait
// for their goroutines, then flush and close the logs and the metadata.
func (b *Broker) Run(ctx context.Context) error {
	// serve outlives ctx by the controlled shutdown: while this node moves its
	// leadership away it keeps answering its peers (it may be the active controller
	// handling the very request, or a leader its followers still fetch from).
	serve, stopServing := context.WithCancel(context.Background())
	defer stopServing()
	if b.replicas == nil {
		return b.runController(ctx, serve, stopServing)
	}
	b.wg.Add(1)
	go func() {
		defer b.wg.Done()
		b.logs.Run(serve)
	}()
	b.wg.Add(1)
	go func() {
		defer b.wg.Done()
		b.replicas.Run(serve)
	}()
	// The coordinator's goroutines are its own: Close below waits for them.
	b.coord.Start()
	if t := b.quorum.Image().Topics[group.OffsetsTopic]; t != nil && b.cluster == nil {
		b.coord.Load(int32(len(t.Partitions)))
	}
	for _, ln := range b.listeners {
		b.wg.Add(1)
		go func() {
			defer b.wg.Done()
			select {
			case <-b.ready:
			case <-serve.Done():
				return
			}
			b.accept(serve, ln)
		}()
	}
	if cl := b.cluster; cl != nil {
		b.runCluster(serve)
		// Heartbeats stop when shutdown begins; the controlled shutdown sends its own.
		b.wg.Add(1)
		go func() {
			defer b.wg.Done()
			cl.runBrokerLifecycle(ctx)
		}()
	}
	b.logger.Info("samsa broker started", "node.id", b.cfg.NodeID, "listener", b.Addr(),
		"advertised", net.JoinHostPort(b.advertisedHost, strconv.Itoa(int(b.advertisedPort))), "log.dirs", b.cfg.LogDirs[0])
	<-ctx.Done()
	if b.cluster != nil {
		b.cluster.controlledShutdown()
	}
	stopServing()
	b.closeConns()
	// After the connections (a JoinGroup may be waiting on the coordinator) and before
	// the logs it writes to.
	b.coord.Close()
	err := b.closeAll()
	b.logger.Info("samsa broker stopped")
	return err
}

// closeAll releases the listeners, logs and metadata; used at shutdown and when New fails.
func (b *Broker) closeAll() error {
	var errs []error
	for _, ln := range b.listeners {
		ln.Close()
	}
	if b.ctlListener != nil {
		b.ctlListener.Close()
	}
	if b.cluster != nil {
		errs = append(errs, b.cluster.close())
	}
	if b.logs != nil {
		errs = append(errs, b.logs.Close())
	}
	if b.quorum != nil {
		errs = append(errs, b.quorum.Close())
	}
	return errors.Join(errs...)
}

// runCluster starts the goroutines of a cluster node's roles: on a controller the
// controller listener and the controller's duties, on a broker-only node the metadata
// fetcher.
func (b *Broker) runCluster(serve context.Context) {
	cl := b.cluster
	runs := []func(context.Context){cl.acceptController, cl.runControllerDuties}
	if cl.raft == nil {
		runs = []func(context.Context){cl.follower.run}
	}
	for _, run := range runs {
		b.wg.Add(1)
		go func() {
			defer b.wg.Done()
			run(serve)
		}()
	}
}

// runController is Run on a node with only the controller role: it serves the
// controller listener until ctx ends, then hands the controller role over and stops.
func (b *Broker) runController(ctx context.Context, serve context.Context, stopServing context.CancelFunc) error {
	b.runCluster(serve)
	b.logger.Info("samsa controller started", "node.id", b.cfg.NodeID, "listener", b.ctlListener.Addr().String())
	<-ctx.Done()
	b.cluster.handOverController()
	stopServing()
	b.closeConns()
	err := b.closeAll()
	b.logger.Info("samsa controller stopped")
	return err
}

// closeConns closes the listeners and every connection, and waits for the broker's
// goroutines.
func (b *Broker) closeConns() {
	for _, ln := range b.listeners {
		ln.Close()
	}
	if b.ctlListener != nil {
		b.ctlListener.Close()
	}
	b.mu.Lock()
	for c := range b.conns {
		c.Close()
	}
	b.mu.Unlock()
	b.wg.Wait()
}

func (b *Broker) accept(ctx context.Context, ln net.Listener) {
	for {
		nc, err := ln.Accept()
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, net.ErrClosed) {
				return
			}
			b.logger.Warn("accept", "err", err)
			// Back off briefly on errors like EMFILE instead of spinning.
			select {
			case <-ctx.Done():
				return
			case <-time.After(50 * time.Millisecond):
			}
			continue
		}
		if !b.trackConn(ctx, nc) {
			return
		}
		b.wg.Add(1)
		go func() {
			defer b.wg.Done()
			defer b.untrackConn(nc)
			c := newConn(b, nc, b.apis)
			c.serve(ctx)
		}()
	}
}

// trackConn records a connection so shutdown can close it; false (with nc closed) when
// the broker is already stopping.
func (b *Broker) trackConn(ctx context.Context, nc net.Conn) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if ctx.Err() != nil {
		nc.Close()
		return false
	}
	b.conns[nc] = struct{}{}
	return true
}

// untrackConn forgets and closes a connection recorded by trackConn.
func (b *Broker) untrackConn(nc net.Conn) {
	b.mu.Lock()
	delete(b.conns, nc)
	b.mu.Unlock()
	nc.Close()
}

// registerSelf publishes this node's advertised address (and rack) in the metadata.
func (b *Broker) registerSelf() error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	return metadata.RegisterBroker(ctx, b.quorum, metadata.Broker{
		ID:   b.cfg.NodeID,
		Host: b.advertisedHost,
		Port: b.advertisedPort,
		Rack: b.cfg.BrokerRack,
	})
}
