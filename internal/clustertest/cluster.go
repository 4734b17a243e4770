package clustertest

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// DefaultTimeout bounds a node's start-up and SIGTERM shutdown and the Wait helpers
// when Options.Timeout is zero.
const DefaultTimeout = 30 * time.Second

// Options configures a Cluster.
type Options struct {
	Nodes  int               // number of nodes, ids 1..N; all are broker+controller voters
	Binary string            // path of the samsa binary (the e2e TestMain builds it)
	Props  map[string]string // extra server.properties for every node; may override the generated keys
	// Log makes a failed test print every node's whole log (up to its last 256 KiB)
	// instead of its last 80 lines; the tail is printed on failure either way.
	Log bool
	// Voters is how many nodes (ids 1..Voters) are in controller.quorum.voters; the
	// others join the metadata quorum as observers. Zero means all of them.
	Voters int
	// Controllers, when set, splits the roles: nodes 1..Controllers have only the
	// controller role (process.roles=controller, only the CONTROLLER listener) and are
	// the voters; the others have only the broker role (no controller listener). Zero:
	// every node is both.
	Controllers int
	// Later is how many nodes (the highest ids) Start does not start: the test starts
	// them with Node.Start, to add brokers to a running cluster.
	Later int
	// Timeout bounds each node's start-up (until it listens) and SIGTERM shutdown, and
	// is the deadline of WaitForBrokers, WaitForLeader and ActiveController.
	// Zero means DefaultTimeout.
	Timeout time.Duration
}

// Cluster is N samsa server processes on a private Network. Its methods that take no
// testing.TB fail the test given to Start, so call them from that test's goroutine.
type Cluster struct {
	t     testing.TB
	opts  Options
	net   *Network
	dir   string
	nodes []*Node
}

// Start builds the network, writes node-<i>.properties for every node, starts all the
// processes and waits until each accepts connections on its PLAINTEXT listener (not
// until the cluster has formed: use WaitForBrokers). Everything is torn down when the
// test ends. On failure each node's log tail is printed.
func Start(t testing.TB, opts Options) *Cluster {
	t.Helper()
	if opts.Nodes < 1 || opts.Nodes > MaxNodes {
		t.Fatalf("clustertest: Options.Nodes %d: must be 1..%d", opts.Nodes, MaxNodes)
	}
	if opts.Binary == "" {
		t.Fatalf("clustertest: Options.Binary is empty: build the samsa binary first")
	}
	if st, err := os.Stat(opts.Binary); err != nil || st.IsDir() {
		t.Fatalf("clustertest: Options.Binary %q is not a file: %v", opts.Binary, err)
	}
	bin, err := filepath.Abs(opts.Binary)
	if err != nil {
		t.Fatalf("clustertest: %v", err)
	}
	opts.Binary = bin
	c := &Cluster{t: t, opts: opts, dir: t.TempDir()}
	// Cleanups run last-registered first: processes are killed, then logs are printed,
	// then the network is deleted, then the temp dir.
	c.net = NewNetwork(t, opts.Nodes)
	ips := make([]string, opts.Nodes)
	for i := range ips {
		ips[i] = c.net.IP(int32(i + 1))
	}
	for i := int32(1); i <= int32(opts.Nodes); i++ {
		n := &Node{
			ID:        i,
			IP:        c.net.IP(i),
			Dir:       filepath.Join(c.dir, fmt.Sprintf("node-%d", i)),
			c:         c,
			propsPath: filepath.Join(c.dir, fmt.Sprintf("node-%d.properties", i)),
			logPath:   filepath.Join(c.dir, fmt.Sprintf("node-%d.log", i)),
		}
		props := NodeProps(i, ips, opts.Voters, n.Dir, opts.Props)
		if opts.Controllers > 0 {
			n.role = "broker"
			if int(i) <= opts.Controllers {
				n.role = "controller"
			}
			props = RoleProps(props, n.role, ips[i-1], ips[:opts.Controllers])
		}
		text, err := renderProps(props)
		if err != nil {
			t.Fatalf("%v", err)
		}
		if err := os.WriteFile(n.propsPath, []byte(text), 0o644); err != nil {
			t.Fatalf("clustertest: %v", err)
		}
		c.nodes = append(c.nodes, n)
	}
	t.Cleanup(c.printLogsIfFailed)
	t.Cleanup(c.killAll)
	// All processes start before any is waited for: a node may open its listener only
	// once a quorum of its peers is up.
	started := c.nodes[:len(c.nodes)-opts.Later]
	for _, n := range started {
		if err := n.launch(); err != nil {
			t.Fatalf("%v", err)
		}
	}
	for _, n := range started {
		n.waitListening()
	}
	return c
}

func (c *Cluster) timeout() time.Duration {
	if c.opts.Timeout > 0 {
		return c.opts.Timeout
	}
	return DefaultTimeout
}

// killAll kills every node at the end of the test and reports nodes that had exited on
// their own: a crash the test did not cause is a failure even if nothing else noticed.
func (c *Cluster) killAll() {
	for _, n := range c.nodes {
		if r := n.current(); r != nil && r.exited() && r.err != nil {
			c.t.Errorf("clustertest: node %d exited on its own: %v", n.ID, r.err)
		}
		n.Kill()
	}
}

func (c *Cluster) printLogsIfFailed() {
	if !c.t.Failed() {
		return
	}
	lines := 80
	if c.opts.Log {
		lines = 0
	}
	for _, n := range c.nodes {
		what := "last 80 lines"
		if lines == 0 {
			what = "whole log"
		}
		c.t.Logf("clustertest: node %d (%s), %s of %s:\n%s", n.ID, n.Addr(), what, n.logPath, n.tail(lines))
	}
}

// NodeProps returns node id's server.properties: the keys cluster mode reads, for the
// nodes whose addresses are ips (node i at ips[i-1]), the first nvoters of them voters
// (0: all), with data under dir, then extra, which overrides any of them. Generated keys
// keep their order; extra keys that are not among them follow in sorted order.
func NodeProps(id int32, ips []string, nvoters int, dir string, extra map[string]string) [][2]string {
	ip := ips[id-1]
	if nvoters <= 0 || nvoters > len(ips) {
		nvoters = len(ips)
	}
	voters := make([]string, nvoters)
	for i, v := range ips[:nvoters] {
		voters[i] = fmt.Sprintf("%d@%s:9093", i+1, v)
	}
	props := [][2]string{
		{"process.roles", "broker,controller"},
		{"node.id", strconv.Itoa(int(id))},
		{"listeners", fmt.Sprintf("PLAINTEXT://%s:9092,CONTROLLER://%s:9093", ip, ip)},
		{"advertised.listeners", fmt.Sprintf("PLAINTEXT://%s:9092", ip)},
		{"controller.listener.names", "CONTROLLER"},
		{"inter.broker.listener.name", "PLAINTEXT"},
		{"listener.security.protocol.map", "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT"},
		{"controller.quorum.voters", strings.Join(voters, ",")},
		{"log.dirs", dir},
	}
	var more []string
	for k := range extra {
		found := false
		for i := range props {
			if props[i][0] == k {
				props[i][1] = extra[k]
				found = true
			}
		}
		if !found {
			more = append(more, k)
		}
	}
	sort.Strings(more)
	for _, k := range more {
		props = append(props, [2]string{k, extra[k]})
	}
	return props
}

// RoleProps turns the properties of a node with both roles (NodeProps) into those of a
// node with only role ("broker" or "controller") at ip, with the controllers at
// controllerIPs as voters.
func RoleProps(props [][2]string, role, ip string, controllerIPs []string) [][2]string {
	voters := make([]string, len(controllerIPs))
	for i, v := range controllerIPs {
		voters[i] = fmt.Sprintf("%d@%s:9093", i+1, v)
	}
	var out [][2]string
	for _, kv := range props {
		switch kv[0] {
		case "process.roles":
			kv[1] = role
		case "controller.quorum.voters":
			kv[1] = strings.Join(voters, ",")
		case "listeners":
			if role == "controller" {
				kv[1] = fmt.Sprintf("CONTROLLER://%s:9093", ip)
			} else {
				kv[1] = fmt.Sprintf("PLAINTEXT://%s:9092", ip)
			}
		case "advertised.listeners", "inter.broker.listener.name":
			if role == "controller" {
				continue
			}
		}
		out = append(out, kv)
	}
	return out
}

// renderProps writes props in Java .properties syntax, escaping what that syntax
// would otherwise misread.
func renderProps(props [][2]string) (string, error) {
	var b strings.Builder
	b.WriteString("# Written by internal/clustertest.\n")
	for _, kv := range props {
		if kv[0] == "" {
			return "", fmt.Errorf("clustertest: empty property key")
		}
		b.WriteString(escapeProp(kv[0], true))
		b.WriteByte('=')
		b.WriteString(escapeProp(kv[1], false))
		b.WriteByte('\n')
	}
	return b.String(), nil
}

func escapeProp(s string, key bool) string {
	var b strings.Builder
	for i, r := range s {
		switch {
		case r == '\\':
			b.WriteString(`\\`)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\r':
			b.WriteString(`\r`)
		case r == '\t':
			b.WriteString(`\t`)
		case r == '\f':
			b.WriteString(`\f`)
		case key && (r == '=' || r == ':' || r == ' ' || (i == 0 && (r == '#' || r == '!'))):
			b.WriteByte('\\')
			b.WriteRune(r)
		case !key && i == 0 && r == ' ':
			// Leading whitespace of a value is otherwise skipped.
			b.WriteString(`\ `)
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// Network returns the cluster's network, for dialling from inside a node's namespace.
func (c *Cluster) Network() *Network { return c.net }

// Dir returns the directory holding every node's data, properties and log.
func (c *Cluster) Dir() string { return c.dir }

// Node returns node id.
func (c *Cluster) Node(id int32) *Node {
	c.t.Helper()
	if id < 1 || int(id) > len(c.nodes) {
		c.t.Fatalf("clustertest: no node %d (nodes are 1..%d)", id, len(c.nodes))
	}
	return c.nodes[id-1]
}

// Nodes returns every node, by id.
func (c *Cluster) Nodes() []*Node { return append([]*Node(nil), c.nodes...) }

// BootstrapServers returns every broker's PLAINTEXT address, reachable from the test
// process whatever the cuts between nodes.
func (c *Cluster) BootstrapServers() []string {
	var out []string
	for _, n := range c.nodes {
		if n.role != "controller" {
			out = append(out, n.Addr())
		}
	}
	return out
}

// Client returns a client seeded with every node, closed when t ends. opts are applied
// after the seeds, so kgo.SeedBrokers among them replaces the seed list.
func (c *Cluster) Client(t testing.TB, opts ...kgo.Opt) *kgo.Client {
	t.Helper()
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(c.BootstrapServers()...)}, opts...)...)
	if err != nil {
		t.Fatalf("clustertest: %v", err)
	}
	t.Cleanup(cl.Close)
	return cl
}

// Admin returns an admin client over a Client.
func (c *Cluster) Admin(t testing.TB) *kadm.Client {
	t.Helper()
	return kadm.NewClient(c.Client(t))
}

// Cut drops all traffic between nodes a and b, both directions: new connections time
// out and existing ones stall, as across a real partition.
func (c *Cluster) Cut(a, b int32) { c.t.Helper(); c.net.Cut(a, b) }

// Heal undoes Cut(a, b).
func (c *Cluster) Heal(a, b int32) { c.t.Helper(); c.net.Heal(a, b) }

// Isolate cuts node id from every other node; the test process can still reach it.
func (c *Cluster) Isolate(id int32) { c.t.Helper(); c.net.Isolate(id) }

// HealAll removes every cut.
func (c *Cluster) HealAll() { c.t.Helper(); c.net.HealAll() }

// WaitFor polls cond about every 50ms until it reports true, and fails t if timeout
// passes first, quoting what and the last thing cond said it saw.
func (c *Cluster) WaitFor(t testing.TB, timeout time.Duration, what string, cond func() (bool, string)) {
	t.Helper()
	waitFor(t, timeout, what, cond)
}

func waitFor(t testing.TB, timeout time.Duration, what string, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		ok, seen := cond()
		if ok {
			return
		}
		if !time.Now().Before(deadline) {
			t.Fatalf("clustertest: waited %v for %s; last seen: %s", timeout, what, seen)
			return
		}
		<-tick.C
	}
}

// requestTimeout bounds one request to one node made by the Wait helpers, so that a
// node that stopped answering delays a poll instead of eating the whole deadline.
const requestTimeout = 2 * time.Second

// request sends req to node n alone, over a short-lived connection so that no state
// from an earlier poll (a connection to a paused process, say) carries over.
func (c *Cluster) request(n *Node, req kmsg.Request) (kmsg.Response, error) {
	cl, err := kgo.NewClient(kgo.SeedBrokers(n.Addr()), kgo.DialTimeout(requestTimeout))
	if err != nil {
		return nil, err
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), requestTimeout)
	defer cancel()
	seeds := cl.SeedBrokers()
	if len(seeds) != 1 {
		return nil, fmt.Errorf("clustertest: %d seed brokers for one address", len(seeds))
	}
	return seeds[0].Request(ctx, req)
}

func (c *Cluster) metadata(n *Node, topics ...string) (*kmsg.MetadataResponse, error) {
	req := kmsg.NewPtrMetadataRequest()
	// Asking about a topic must not create it (the request's default is to).
	req.AllowAutoTopicCreation = false
	if len(topics) == 0 {
		req.Topics = []kmsg.MetadataRequestTopic{}
	}
	for _, topic := range topics {
		rt := kmsg.NewMetadataRequestTopic()
		rt.Topic = kmsg.StringPtr(topic)
		req.Topics = append(req.Topics, rt)
	}
	resp, err := c.request(n, req)
	if err != nil {
		return nil, err
	}
	return resp.(*kmsg.MetadataResponse), nil
}

// WaitForBrokers waits until a live (running, not paused) node's Metadata lists
// exactly n brokers.
func (c *Cluster) WaitForBrokers(t testing.TB, n int) {
	t.Helper()
	waitFor(t, c.timeout(), fmt.Sprintf("metadata listing %d brokers", n), func() (bool, string) {
		var seen []string
		for _, node := range c.nodes {
			if !node.live() || node.role == "controller" {
				continue
			}
			resp, err := c.metadata(node)
			if err != nil {
				seen = append(seen, fmt.Sprintf("node %d: %v", node.ID, err))
				continue
			}
			ids := make([]int32, len(resp.Brokers))
			for i, b := range resp.Brokers {
				ids[i] = b.NodeID
			}
			if len(ids) == n {
				return true, ""
			}
			seen = append(seen, fmt.Sprintf("node %d lists brokers %v", node.ID, ids))
		}
		return false, summary(seen)
	})
}

// WaitForLeader waits until a live node reports a leader for the partition that is a
// live node of this cluster, and returns it.
func (c *Cluster) WaitForLeader(t testing.TB, topic string, partition int32) int32 {
	t.Helper()
	leader := int32(-1)
	waitFor(t, c.timeout(), fmt.Sprintf("a live leader of %s/%d", topic, partition), func() (bool, string) {
		var seen []string
		for _, node := range c.nodes {
			if !node.live() || node.role == "controller" {
				continue
			}
			resp, err := c.metadata(node, topic)
			if err != nil {
				seen = append(seen, fmt.Sprintf("node %d: %v", node.ID, err))
				continue
			}
			l, why := partitionLeader(resp, topic, partition)
			if l >= 0 {
				if c.liveID(l) {
					leader = l
					return true, ""
				}
				why = fmt.Sprintf("leader %d is not a live node", l)
			}
			seen = append(seen, fmt.Sprintf("node %d: %s", node.ID, why))
		}
		return false, summary(seen)
	})
	return leader
}

// partitionLeader finds the partition's leader in resp, or -1 and why not.
func partitionLeader(resp *kmsg.MetadataResponse, topic string, partition int32) (int32, string) {
	for _, rt := range resp.Topics {
		if rt.Topic == nil || *rt.Topic != topic {
			continue
		}
		if rt.ErrorCode != 0 {
			return -1, fmt.Sprintf("topic error code %d", rt.ErrorCode)
		}
		for _, p := range rt.Partitions {
			if p.Partition != partition {
				continue
			}
			if p.Leader < 0 || p.ErrorCode != 0 {
				return -1, fmt.Sprintf("leader %d, error code %d", p.Leader, p.ErrorCode)
			}
			return p.Leader, ""
		}
		return -1, "partition not listed"
	}
	return -1, "topic not listed"
}

func (c *Cluster) liveID(id int32) bool {
	return id >= 1 && int(id) <= len(c.nodes) && c.nodes[id-1].live()
}

// ActiveController waits until a live node names an active controller that is a live
// node of this cluster, and returns it. It asks DescribeQuorum about the metadata log
// and, where a node does not serve that, reads Metadata's controller id.
func (c *Cluster) ActiveController(t testing.TB) int32 {
	t.Helper()
	ctrl := int32(-1)
	waitFor(t, c.timeout(), "an active controller", func() (bool, string) {
		var seen []string
		for _, node := range c.nodes {
			if !node.live() {
				continue
			}
			id, why := c.controllerSeenBy(node)
			if id >= 0 {
				if c.liveID(id) {
					ctrl = id
					return true, ""
				}
				why += fmt.Sprintf(": controller %d is not a live node", id)
			}
			seen = append(seen, fmt.Sprintf("node %d: %s", node.ID, why))
		}
		return false, summary(seen)
	})
	return ctrl
}

// controllerSeenBy returns the active controller node n names, or -1 and why not.
func (c *Cluster) controllerSeenBy(n *Node) (int32, string) {
	req := kmsg.NewPtrDescribeQuorumRequest()
	rt := kmsg.NewDescribeQuorumRequestTopic()
	rt.Topic = "__cluster_metadata"
	rp := kmsg.NewDescribeQuorumRequestTopicPartition()
	rp.Partition = 0
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	var dqWhy string
	if resp, err := c.request(n, req); err == nil {
		id, why := quorumLeader(resp.(*kmsg.DescribeQuorumResponse))
		if id >= 0 {
			return id, "DescribeQuorum"
		}
		dqWhy = why
	} else {
		dqWhy = err.Error()
	}
	md, err := c.metadata(n)
	if err != nil {
		return -1, fmt.Sprintf("DescribeQuorum: %s; Metadata: %v", dqWhy, err)
	}
	if md.ControllerID < 0 {
		return -1, fmt.Sprintf("DescribeQuorum: %s; Metadata: controller id %d", dqWhy, md.ControllerID)
	}
	return md.ControllerID, "Metadata"
}

// quorumLeader extracts the metadata log's leader from a DescribeQuorum response.
func quorumLeader(resp *kmsg.DescribeQuorumResponse) (int32, string) {
	if resp.ErrorCode != 0 {
		return -1, fmt.Sprintf("error code %d", resp.ErrorCode)
	}
	if len(resp.Topics) == 0 || len(resp.Topics[0].Partitions) == 0 {
		return -1, "no partition in response"
	}
	switch p := resp.Topics[0].Partitions[0]; {
	case p.ErrorCode != 0:
		return -1, fmt.Sprintf("partition error code %d", p.ErrorCode)
	case p.LeaderID < 0:
		return -1, "no leader"
	default:
		return p.LeaderID, ""
	}
}

func summary(seen []string) string {
	if len(seen) == 0 {
		return "no live node"
	}
	return strings.Join(seen, "; ")
}
