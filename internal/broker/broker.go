package broker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"

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

	listeners []net.Listener

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
	b := &Broker{cfg: cfg, logger: logger, conns: make(map[net.Conn]struct{})}
	b.apis = b.apiTable()
	b.pids.b = b

	// Close whatever was opened if a later step fails.
	defer func() {
		if err != nil {
			b.closeAll()
		}
	}()

	for _, l := range cfg.Listeners {
		ln, err := net.Listen("tcp", net.JoinHostPort(l.Host, strconv.Itoa(int(l.Port))))
		if err != nil {
			return nil, fmt.Errorf("broker: listeners: %s: %w", l.Name, err)
		}
		b.listeners = append(b.listeners, ln)
	}
	b.advertisedHost, b.advertisedPort = b.advertisedAddr()

	if err := os.MkdirAll(dataDir, 0o755); err != nil {
		return nil, fmt.Errorf("broker: log.dirs: %w", err)
	}
	b.quorum, err = metadata.OpenLocalQuorum(filepath.Join(dataDir, metadataDirName), cfg.ClusterID, cfg.NodeID)
	if err != nil {
		return nil, err
	}
	if err := b.registerSelf(); err != nil {
		return nil, err
	}
	b.ctl = metadata.NewController(b.quorum, metadata.ControllerConfig{
		NodeID:                   cfg.NodeID,
		NumPartitions:            cfg.NumPartitions,
		DefaultReplicationFactor: cfg.DefaultReplicationFactor,
		ValidateTopicConfig:      config.ValidateTopicConfig,
		IsListConfig:             config.IsListConfig,
		DefaultTopicConfig:       topicDefault(cfg),
	})

	b.logs, err = commitlog.OpenManager(dataDir, commitlog.ManagerOptions{
		Options:                commitlog.Options{Logger: logger},
		RetentionCheckInterval: cfg.LogRetentionCheckInterval,
		CheckpointInterval:     time.Minute,
		FlushCheckInterval:     cfg.LogFlushSchedulerInterval,
		CleanerBackoff:         cfg.LogCleanerBackoff,
		CleanerMapBytes:        cfg.LogCleanerDedupeBuffer,
		DisableCleaner:         !cfg.LogCleanerEnable,
	})
	if err != nil {
		return nil, err
	}
	b.replicas = replica.NewManager(b.logs, cfg.NodeID, cfg.LogConfig, logger)
	b.quorum.Subscribe(func(_, next *metadata.Image) {
		if err := b.replicas.Reconcile(next); err != nil {
			logger.Error("applying metadata to partitions", "err", err)
		}
	})
	if err := b.replicas.Reconcile(b.quorum.Image()); err != nil {
		return nil, err
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

// advertisedAddr picks the address given to clients: advertised.listeners when set,
// else the first listener, with an empty or wildcard host replaced by this machine's
// name (as Kafka does) or localhost when that name does not resolve, and port 0
// replaced by the port actually bound.
func (b *Broker) advertisedAddr() (string, int32) {
	host, port := b.cfg.Listeners[0].Host, b.cfg.Listeners[0].Port
	if len(b.cfg.AdvertisedListeners) > 0 {
		host, port = b.cfg.AdvertisedListeners[0].Host, b.cfg.AdvertisedListeners[0].Port
	}
	if port == 0 {
		port = int32(b.listeners[0].Addr().(*net.TCPAddr).Port)
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

// Addr is the address of the first listener.
func (b *Broker) Addr() string { return b.listeners[0].Addr().String() }

// Run serves until ctx ends, then shuts down: stop accepting, close connections, wait
// for their goroutines, then flush and close the logs and the metadata.
func (b *Broker) Run(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	b.wg.Add(1)
	go func() {
		defer b.wg.Done()
		b.logs.Run(ctx)
	}()
	// The coordinator's goroutines are its own: Close below waits for them.
	b.coord.Start()
	if t := b.quorum.Image().Topics[group.OffsetsTopic]; t != nil {
		b.coord.Load(int32(len(t.Partitions)))
	}
	for _, ln := range b.listeners {
		b.wg.Add(1)
		go func() {
			defer b.wg.Done()
			b.accept(ctx, ln)
		}()
	}
	b.logger.Info("samsa broker started", "node.id", b.cfg.NodeID, "listener", b.Addr(),
		"advertised", net.JoinHostPort(b.advertisedHost, strconv.Itoa(int(b.advertisedPort))), "log.dirs", b.cfg.LogDirs[0])
	<-ctx.Done()
	for _, ln := range b.listeners {
		ln.Close()
	}
	b.mu.Lock()
	for c := range b.conns {
		c.Close()
	}
	b.mu.Unlock()
	b.wg.Wait()
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
	if b.logs != nil {
		errs = append(errs, b.logs.Close())
	}
	if b.quorum != nil {
		errs = append(errs, b.quorum.Close())
	}
	return errors.Join(errs...)
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
		b.mu.Lock()
		if ctx.Err() != nil {
			b.mu.Unlock()
			nc.Close()
			return
		}
		b.conns[nc] = struct{}{}
		b.mu.Unlock()
		b.wg.Add(1)
		go func() {
			defer b.wg.Done()
			defer func() {
				b.mu.Lock()
				delete(b.conns, nc)
				b.mu.Unlock()
				nc.Close()
			}()
			c := newConn(b, nc)
			c.serve(ctx)
		}()
	}
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
