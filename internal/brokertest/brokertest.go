// Package brokertest starts in-process Samsa brokers on loopback ports for tests of
// any package that needs a live broker: the broker's own API tests, the command-line
// tools, the group coordinator.
package brokertest

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/samsa-io/samsa/internal/broker"
	"github.com/samsa-io/samsa/internal/config"
)

// Broker is an in-process broker on 127.0.0.1.
type Broker struct {
	t    testing.TB
	Dir  string // log.dirs
	Addr string // host:port of the listener
	b    *broker.Broker
	stop context.CancelFunc
	done chan error
	// others are the other nodes when the broker is node 1 of a cluster (see Start).
	others []*Broker
	// overrides are the config overrides it was started with, for Restart.
	overrides map[string]string
}

// ClusterEnv names the environment variable that runs every test broker as a
// cluster: SAMSA_TEST_CLUSTER=3 makes Start (with an empty dir) start three nodes with
// default.replication.factor=3 and return node 1, whose clients know all three. The
// suites that use Start then run, unchanged, against a replicated cluster.
const ClusterEnv = "SAMSA_TEST_CLUSTER"

// ClusterSize is the cluster size ClusterEnv asks for, or 0 for single nodes.
func ClusterSize() int {
	n, err := strconv.Atoi(os.Getenv(ClusterEnv))
	if err != nil || n < 2 {
		return 0
	}
	return n
}

// Start starts a broker with its data in dir (a new temp dir when empty) and the given
// config overrides. It is stopped when the test ends. Set SAMSA_TEST_LOG=1 to see its log.
// With SAMSA_TEST_CLUSTER set (and dir empty) it starts a cluster; see ClusterEnv.
func Start(t testing.TB, dir string, overrides map[string]string) *Broker {
	t.Helper()
	if n := ClusterSize(); n > 0 && dir == "" && overrides["controller.quorum.voters"] == "" {
		ov := map[string]string{"default.replication.factor": strconv.Itoa(n), "offsets.topic.replication.factor": strconv.Itoa(n)}
		for k, v := range overrides {
			ov[k] = v
		}
		c := StartCluster(t, n, ov)
		first := c.Brokers[0]
		first.others = c.Brokers[1:]
		return first
	}
	tb, err := start(t, dir, overrides)
	if err != nil {
		t.Fatalf("brokertest: %v", err)
	}
	return tb
}

// start is Start for one node, returning the error instead of failing the test.
func start(t testing.TB, dir string, overrides map[string]string) (*Broker, error) {
	t.Helper()
	if dir == "" {
		dir = t.TempDir()
	}
	ov := map[string]string{
		"listeners": "PLAINTEXT://127.0.0.1:0",
		"log.dirs":  dir,
	}
	for k, v := range overrides {
		ov[k] = v
	}
	cfg, _, err := config.Load("", nil, ov)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	if os.Getenv("SAMSA_TEST_LOG") != "" {
		logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	b, err := broker.New(cfg, logger)
	if err != nil {
		return nil, fmt.Errorf("broker.New: %w", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	tb := &Broker{t: t, Dir: dir, Addr: b.Addr(), b: b, stop: cancel, done: make(chan error, 1), overrides: overrides}
	go func() { tb.done <- b.Run(ctx) }()
	t.Cleanup(tb.Stop)
	return tb, nil
}

// Restart stops the broker and starts it again on its data with its overrides plus
// extra. In a cluster (SAMSA_TEST_CLUSTER) node 1 restarts and rejoins the others, and
// Restart returns once every node lists all of them again.
func (tb *Broker) Restart(extra map[string]string) *Broker {
	tb.t.Helper()
	tb.Stop()
	ov := make(map[string]string, len(tb.overrides)+len(extra))
	for k, v := range tb.overrides {
		ov[k] = v
	}
	for k, v := range extra {
		ov[k] = v
	}
	nb := Start(tb.t, tb.Dir, ov)
	nb.others = tb.others
	if len(nb.others) > 0 {
		c := &Cluster{t: tb.t, Brokers: append([]*Broker{nb}, nb.others...)}
		c.WaitForBrokers(len(c.Brokers))
	}
	return nb
}

// Stop shuts the broker down cleanly and waits for it. Calling it again does nothing.
func (tb *Broker) Stop() {
	tb.t.Helper()
	if tb.stop == nil {
		return
	}
	tb.stop()
	tb.stop = nil
	select {
	case err := <-tb.done:
		if err != nil {
			tb.t.Errorf("brokertest: broker stopped with: %v", err)
		}
	case <-time.After(30 * time.Second):
		tb.t.Fatal("brokertest: broker did not stop within 30s")
	}
}

// Client returns a franz-go client for the broker (and the other nodes of its
// cluster, if any), closed when the test ends.
func (tb *Broker) Client(opts ...kgo.Opt) *kgo.Client {
	tb.t.Helper()
	seeds := []string{tb.Addr}
	for _, o := range tb.others {
		seeds = append(seeds, o.Addr)
	}
	opts = append([]kgo.Opt{kgo.SeedBrokers(seeds...), kgo.MetadataMinAge(100 * time.Millisecond)}, opts...)
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		tb.t.Fatal(err)
	}
	tb.t.Cleanup(cl.Close)
	return cl
}

// Admin returns a kadm client for the broker.
func (tb *Broker) Admin() *kadm.Client { return kadm.NewClient(tb.Client()) }

// Ctx is a context bounded so a hung test fails instead of blocking CI.
func Ctx(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// CreateTopic creates a topic with the broker's default replication factor and fails
// the test on error.
func (tb *Broker) CreateTopic(name string, partitions int32, configs map[string]*string) {
	tb.t.Helper()
	resp, err := tb.Admin().CreateTopic(Ctx(tb.t), partitions, -1, configs, name)
	if err == nil {
		err = resp.Err
	}
	if err != nil {
		tb.t.Fatalf("brokertest: create topic %s: %v", name, err)
	}
	tb.WaitTopic(name)
}

// WaitTopic waits until every node of the broker's cluster lists topic with a leader
// for each partition: a node learns of a new topic a moment after the controller made
// it. On a single node it returns at once.
func (tb *Broker) WaitTopic(name string) {
	tb.t.Helper()
	if len(tb.others) == 0 {
		return
	}
	deadline := time.Now().Add(30 * time.Second)
	for _, b := range append([]*Broker{tb}, tb.others...) {
		if b.stop == nil {
			continue
		}
		cl, err := kgo.NewClient(kgo.SeedBrokers(b.Addr))
		if err != nil {
			tb.t.Fatal(err)
		}
		adm := kadm.NewClient(cl)
		for {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			md, err := adm.Metadata(ctx, name)
			cancel()
			if err == nil && md.Topics[name].Err == nil && len(md.Topics[name].Partitions) > 0 && allLed(md.Topics[name]) {
				break
			}
			if time.Now().After(deadline) {
				cl.Close()
				tb.t.Fatalf("brokertest: node at %s does not list topic %s with leaders: %v", b.Addr, name, err)
			}
			time.Sleep(20 * time.Millisecond)
		}
		cl.Close()
	}
}

func allLed(t kadm.TopicDetail) bool {
	for _, p := range t.Partitions {
		if p.Leader < 0 {
			return false
		}
	}
	return true
}

// InCluster reports whether the broker is node 1 of a cluster (SAMSA_TEST_CLUSTER).
func (tb *Broker) InCluster() bool { return len(tb.others) > 0 }

// Nodes returns every node of the broker's cluster, node i+1 at index i (tb itself
// first), or just tb when it runs alone. A stopped node stays in the list.
func (tb *Broker) Nodes() []*Broker { return append([]*Broker{tb}, tb.others...) }

// QuorumEndpoint is the listener on which the node's metadata quorum peers reach it, as
// DescribeQuorum names it ("NAME://host:port"): the controller listener of a cluster
// node, or the one listener of a node that runs alone.
func (tb *Broker) QuorumEndpoint() string {
	name, _, _ := strings.Cut(tb.overrides["controller.listener.names"], ",")
	for l := range strings.SplitSeq(tb.overrides["listeners"], ",") {
		if name != "" && strings.HasPrefix(l, name+"://") {
			return l
		}
	}
	return "PLAINTEXT://" + tb.Addr
}

// SingleNodeOnly skips a test when SAMSA_TEST_CLUSTER runs the suite on a cluster: for
// tests of what only a single node shows (its files on disk, raw requests to the one
// broker that leads everything). They run in the ordinary single-node pass.
func SingleNodeOnly(t testing.TB, why string) {
	t.Helper()
	if ClusterSize() > 0 {
		t.Skipf("single-node test (%s); runs without %s", why, ClusterEnv)
	}
}

// Cluster is an in-process cluster of brokers on 127.0.0.1, each a broker and a
// controller (a voter of the Raft metadata quorum), with timeouts short enough that a
// stopped node is fenced within seconds.
type Cluster struct {
	t       testing.TB
	Brokers []*Broker // node i+1 at index i
}

// clusterDefaults are the overrides every node of a Cluster gets before the caller's.
var clusterDefaults = map[string]string{
	"broker.heartbeat.interval.ms":   "200",
	"broker.session.timeout.ms":      "2000",
	"replica.lag.time.max.ms":        "3000",
	"replica.fetch.backoff.ms":       "100",
	"controlled.shutdown.timeout.ms": "5000",
}

// StartCluster starts n nodes (ids 1..n) and waits until every node's metadata lists
// all n brokers. Nodes are stopped when the test ends.
func StartCluster(t testing.TB, n int, overrides map[string]string) *Cluster {
	t.Helper()
	// The ports are picked free and then given to the nodes, so another process may
	// take one in between; then the whole cluster starts again on new ports (every
	// node's voter list names them all).
	for attempt := 1; ; attempt++ {
		c, err := startCluster(t, n, overrides)
		if err == nil {
			c.WaitForBrokers(n)
			return c
		}
		if attempt == 5 || !strings.Contains(err.Error(), "address already in use") {
			t.Fatalf("brokertest: %v", err)
		}
		t.Logf("brokertest: starting the cluster again on other ports: %v", err)
	}
}

// startCluster starts the n nodes of StartCluster; on an error it stops those started.
func startCluster(t testing.TB, n int, overrides map[string]string) (*Cluster, error) {
	t.Helper()
	clients := make([]string, n)
	controllers := make([]string, n)
	var voters []string
	for i := range n {
		clients[i], controllers[i] = freePort(t), freePort(t)
		voters = append(voters, fmt.Sprintf("%d@%s", i+1, controllers[i]))
	}
	c := &Cluster{t: t}
	for i := range n {
		ov := map[string]string{
			"node.id":                        strconv.Itoa(i + 1),
			"listeners":                      "PLAINTEXT://" + clients[i] + ",CONTROLLER://" + controllers[i],
			"advertised.listeners":           "PLAINTEXT://" + clients[i],
			"controller.listener.names":      "CONTROLLER",
			"listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
			"controller.quorum.voters":       strings.Join(voters, ","),
		}
		for k, v := range clusterDefaults {
			ov[k] = v
		}
		for k, v := range overrides {
			ov[k] = v
		}
		b, err := start(t, "", ov)
		if err != nil {
			for _, started := range c.Brokers {
				started.Stop()
			}
			return nil, fmt.Errorf("node %d: %w", i+1, err)
		}
		c.Brokers = append(c.Brokers, b)
	}
	return c, nil
}

// freePort returns a loopback address with a port that was free a moment ago.
func freePort(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// Addrs are the client addresses of the running nodes.
func (c *Cluster) Addrs() []string {
	var out []string
	for _, b := range c.Brokers {
		if b.stop != nil {
			out = append(out, b.Addr)
		}
	}
	return out
}

// Client returns a franz-go client seeded with every running node.
func (c *Cluster) Client(opts ...kgo.Opt) *kgo.Client {
	c.t.Helper()
	opts = append([]kgo.Opt{kgo.SeedBrokers(c.Addrs()...), kgo.MetadataMinAge(100 * time.Millisecond)}, opts...)
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		c.t.Fatal(err)
	}
	c.t.Cleanup(cl.Close)
	return cl
}

// Admin returns a kadm client seeded with every running node.
func (c *Cluster) Admin() *kadm.Client { return kadm.NewClient(c.Client()) }

// WaitForBrokers waits until every running node's Metadata lists n brokers.
func (c *Cluster) WaitForBrokers(n int) {
	c.t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for _, b := range c.Brokers {
		if b.stop == nil {
			continue
		}
		adm := b.Admin()
		for {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			md, err := adm.Metadata(ctx)
			cancel()
			if err == nil && len(md.Brokers) == n {
				break
			}
			if time.Now().After(deadline) {
				c.t.Fatalf("brokertest: node at %s does not list %d brokers: %v, %v", b.Addr, n, md.Brokers, err)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
}
