package clustertest

import (
	"bytes"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

const (
	nsPrefix     = "samsa-"
	bridgePrefix = "smsbr"
	vethPrefix   = "smsv"

	// MaxNodes bounds a Network's size: node i's veth name ends in i, and the longest
	// name must still fit in 15 bytes.
	MaxNodes = 99

	cutPref   = "10"  // preference of Cut's blackhole rules
	localPref = "100" // where the local-table rule moves so that cutPref comes first
)

// seq numbers the Networks of this process.
var seq atomic.Uint32

// Network is a bridge with n network namespaces on it, one per node (ids 1..n). It is
// what Cluster runs its processes in; tests of the network alone can use it directly.
// Its methods that take no testing.TB fail the test given to NewNetwork, so they must
// be called from that test's goroutine.
type Network struct {
	t      testing.TB
	key    string
	bridge string
	subnet netip.Prefix
	n      int

	mu     sync.Mutex
	cuts   map[[2]int32]bool // guarded by mu: pairs (lower id first) with blackhole rules
	closed bool              // guarded by mu
}

// NewNetwork builds a network for n nodes and tears it down when the test ends. It
// first removes what crashed earlier runs left behind.
func NewNetwork(t testing.TB, n int) *Network {
	t.Helper()
	if n < 1 || n > MaxNodes {
		t.Fatalf("clustertest: %d nodes: must be 1..%d", n, MaxNodes)
	}
	if err := checkCapabilities(); err != nil {
		t.Fatalf("%v", err)
	}
	if err := removeStale(); err != nil {
		t.Fatalf("%v", err)
	}
	pid := os.Getpid()
	s := seq.Add(1) % (36 * 36) // two base-36 digits keep every name within 15 bytes
	nw := &Network{
		t:    t,
		key:  strconv.FormatInt(int64(pid), 36) + "-" + strconv.FormatInt(int64(s), 36),
		n:    n,
		cuts: make(map[[2]int32]bool),
	}
	nw.bridge = bridgePrefix + nw.key
	// Registered before anything exists so that a failure halfway still cleans up:
	// Close ignores what was never created.
	t.Cleanup(func() {
		if err := nw.Close(); err != nil {
			t.Errorf("%v", err)
		}
	})
	if err := nw.createBridge(pid, int(s)); err != nil {
		t.Fatalf("%v", err)
	}
	for i := int32(1); i <= int32(n); i++ {
		if err := nw.createNode(i); err != nil {
			t.Fatalf("%v", err)
		}
	}
	return nw
}

// checkCapabilities reports why namespaces cannot be built here, if they cannot.
func checkCapabilities() error {
	if os.Geteuid() != 0 {
		return errors.New("clustertest: must run as root: a cluster needs network namespaces, veth pairs and a bridge (run the tests with sudo or in a root CI job)")
	}
	if _, err := exec.LookPath("ip"); err != nil {
		return fmt.Errorf("clustertest: iproute2's ip command is needed for network namespaces: %v", err)
	}
	if _, err := ip("netns", "list"); err != nil {
		return fmt.Errorf("clustertest: ip netns does not work here: %w", err)
	}
	return nil
}

// Key returns the key in every name this network created.
func (nw *Network) Key() string { return nw.key }

// Bridge returns the bridge's name.
func (nw *Network) Bridge() string { return nw.bridge }

// Subnet returns the network's /24.
func (nw *Network) Subnet() netip.Prefix { return nw.subnet }

// Size returns the number of nodes.
func (nw *Network) Size() int { return nw.n }

// NS returns node id's namespace name.
func (nw *Network) NS(id int32) string {
	nw.check(id)
	return fmt.Sprintf("%s%s-n%d", nsPrefix, nw.key, id)
}

func (nw *Network) veth(id int32) string { return fmt.Sprintf("%s%s-%d", vethPrefix, nw.key, id) }

// IP returns node id's address.
func (nw *Network) IP(id int32) string {
	nw.check(id)
	return nw.hostIP(10 + int(id)).String()
}

// HostIP returns the bridge's address in the root namespace: the address the test
// process's connections to the nodes come from.
func (nw *Network) HostIP() string { return nw.hostIP(1).String() }

func (nw *Network) hostIP(last int) netip.Addr {
	a := nw.subnet.Addr().As4()
	a[3] = byte(last)
	return netip.AddrFrom4(a)
}

func (nw *Network) check(id int32) {
	if id < 1 || int(id) > nw.n {
		nw.t.Fatalf("clustertest: no node %d (nodes are 1..%d)", id, nw.n)
	}
}

// Command returns a command that runs name with args inside node id's namespace. `ip
// netns exec` execs the program, so the started process's pid is the program's own and
// signals sent to it reach the program.
func (nw *Network) Command(id int32, name string, args ...string) *exec.Cmd {
	return exec.Command("ip", append([]string{"netns", "exec", nw.NS(id), name}, args...)...)
}

// createBridge picks a free /24, creates the bridge with .1 on it, and brings it up. A
// subnet that another process took between the check and the address assignment is
// detected afterwards and the next candidate is tried.
func (nw *Network) createBridge(pid, s int) error {
	// Bridged frames skip the host's iptables (br_netfilter), so a firewall on the
	// machine, such as a FORWARD policy of DROP, cannot break the nodes' traffic.
	if _, err := ip("link", "add", nw.bridge, "type", "bridge", "nf_call_iptables", "0", "nf_call_ip6tables", "0", "nf_call_arptables", "0"); err != nil {
		return err
	}
	tried := make(map[netip.Prefix]bool)
	for attempt := 0; attempt < 8; attempt++ {
		used, err := usedPrefixes()
		if err != nil {
			return err
		}
		for p := range tried {
			used = append(used, p)
		}
		p, ok := pickSubnet(used, pid*7919+s*131)
		if !ok {
			return errors.New("clustertest: no free /24 in 10.200.0.0/16-10.249.255.0/24")
		}
		tried[p] = true
		nw.subnet = p
		host := netip.PrefixFrom(nw.hostIP(1), 24).String()
		if _, err := ip("addr", "add", host, "dev", nw.bridge); err != nil {
			return err
		}
		if clash, err := nw.subnetClash(); err != nil {
			return err
		} else if clash {
			if _, err := ip("addr", "del", host, "dev", nw.bridge); err != nil {
				return err
			}
			continue
		}
		_, err = ip("link", "set", nw.bridge, "up")
		return err
	}
	return errors.New("clustertest: every /24 tried was taken concurrently")
}

// subnetClash reports whether an interface other than the bridge has an address in the
// bridge's subnet.
func (nw *Network) subnetClash() (bool, error) {
	out, err := ip("-o", "-4", "addr", "show")
	if err != nil {
		return false, err
	}
	for _, line := range strings.Split(out, "\n") {
		f := strings.Fields(line)
		if len(f) < 4 || f[1] == nw.bridge {
			continue
		}
		if p, err := netip.ParsePrefix(f[3]); err == nil && p.Overlaps(nw.subnet) {
			return true, nil
		}
	}
	return false, nil
}

// usedPrefixes lists the root namespace's IPv4 addresses and routes, which a new
// subnet must not overlap.
func usedPrefixes() ([]netip.Prefix, error) {
	var used []netip.Prefix
	addrs, err := ip("-o", "-4", "addr", "show")
	if err != nil {
		return nil, err
	}
	for _, line := range strings.Split(addrs, "\n") {
		if f := strings.Fields(line); len(f) >= 4 {
			if p, err := netip.ParsePrefix(f[3]); err == nil {
				used = append(used, p.Masked())
			}
		}
	}
	routes, err := ip("-4", "route", "show")
	if err != nil {
		return nil, err
	}
	for _, line := range strings.Split(routes, "\n") {
		f := strings.Fields(line)
		if len(f) == 0 || f[0] == "default" {
			continue
		}
		dst := f[0]
		if len(f) > 1 && (dst == "blackhole" || dst == "unreachable" || dst == "prohibit" || dst == "throw") {
			dst = f[1]
		}
		if p, err := netip.ParsePrefix(dst); err == nil {
			used = append(used, p.Masked())
		} else if a, err := netip.ParseAddr(dst); err == nil && a.Is4() {
			used = append(used, netip.PrefixFrom(a, 32))
		}
	}
	return used, nil
}

// subnetCount is the number of candidate /24s: 10.200.0.0 to 10.249.255.0.
const subnetCount = 50 * 256

// pickSubnet returns the first /24 at or after start (modulo the candidates) that
// overlaps nothing in used.
func pickSubnet(used []netip.Prefix, start int) (netip.Prefix, bool) {
	if start < 0 {
		start = -start
	}
	for i := 0; i < subnetCount; i++ {
		c := (start + i) % subnetCount
		p := netip.PrefixFrom(netip.AddrFrom4([4]byte{10, byte(200 + c/256), byte(c % 256), 0}), 24)
		free := true
		for _, u := range used {
			if u.Overlaps(p) {
				free = false
				break
			}
		}
		if free {
			return p, true
		}
	}
	return netip.Prefix{}, false
}

// createNode builds node id's namespace and plugs it into the bridge.
func (nw *Network) createNode(id int32) error {
	ns, veth := nw.NS(id), nw.veth(id)
	addr := netip.PrefixFrom(nw.hostIP(10+int(id)), 24).String()
	steps := [][]string{
		{"netns", "add", ns},
		// The peer is created directly inside the namespace, so no temporary name
		// in the root namespace can collide with another run's.
		{"link", "add", veth, "type", "veth", "peer", "name", "eth0", "netns", ns},
		{"link", "set", veth, "master", nw.bridge},
		{"link", "set", veth, "up"},
		{"-n", ns, "addr", "add", addr, "dev", "eth0"},
		{"-n", ns, "link", "set", "eth0", "up"},
		{"-n", ns, "link", "set", "lo", "up"},
		// Cut's rules must be consulted before the local table, or packets addressed
		// to this node would be delivered before any rule could drop them.
		{"-n", ns, "rule", "add", "pref", localPref, "lookup", "local"},
		{"-n", ns, "rule", "del", "pref", "0", "lookup", "local"},
	}
	for _, s := range steps {
		if _, err := ip(s...); err != nil {
			return err
		}
	}
	return nil
}

// Cut drops all traffic between nodes a and b, both ways. Cutting a cut pair is a no-op.
func (nw *Network) Cut(a, b int32) {
	nw.t.Helper()
	if err := nw.cut(a, b); err != nil {
		nw.t.Fatalf("%v", err)
	}
}

// Heal restores traffic between nodes a and b. Healing an uncut pair is a no-op.
func (nw *Network) Heal(a, b int32) {
	nw.t.Helper()
	if err := nw.heal(a, b); err != nil {
		nw.t.Fatalf("%v", err)
	}
}

// Isolate cuts node id from every other node; the test process still reaches it.
func (nw *Network) Isolate(id int32) {
	nw.t.Helper()
	nw.check(id)
	for o := int32(1); o <= int32(nw.n); o++ {
		if o != id {
			nw.Cut(id, o)
		}
	}
}

// HealAll removes every cut.
func (nw *Network) HealAll() {
	nw.t.Helper()
	for _, p := range nw.Cuts() {
		nw.Heal(p[0], p[1])
	}
}

// Cuts returns the pairs that are cut now, lower id first, in no particular order.
func (nw *Network) Cuts() [][2]int32 {
	nw.mu.Lock()
	defer nw.mu.Unlock()
	out := make([][2]int32, 0, len(nw.cuts))
	for p := range nw.cuts {
		out = append(out, p)
	}
	return out
}

func (nw *Network) pair(a, b int32) ([2]int32, error) {
	if a < 1 || int(a) > nw.n || b < 1 || int(b) > nw.n || a == b {
		return [2]int32{}, fmt.Errorf("clustertest: cannot cut %d from %d: nodes are 1..%d and must differ", a, b, nw.n)
	}
	if a > b {
		a, b = b, a
	}
	return [2]int32{a, b}, nil
}

func (nw *Network) cut(a, b int32) error {
	p, err := nw.pair(a, b)
	if err != nil {
		return err
	}
	nw.mu.Lock()
	defer nw.mu.Unlock()
	if nw.cuts[p] {
		return nil
	}
	// Marked first so that heal removes a half-installed cut.
	nw.cuts[p] = true
	if err := nw.ruleLocked("add", p[0], p[1]); err != nil {
		return err
	}
	return nw.ruleLocked("add", p[1], p[0])
}

func (nw *Network) heal(a, b int32) error {
	p, err := nw.pair(a, b)
	if err != nil {
		return err
	}
	nw.mu.Lock()
	defer nw.mu.Unlock()
	if !nw.cuts[p] {
		return nil
	}
	err = errors.Join(nw.ruleLocked("del", p[0], p[1]), nw.ruleLocked("del", p[1], p[0]))
	if err == nil {
		delete(nw.cuts, p)
	}
	return err
}

// ruleLocked adds or deletes, in node in's namespace, the rule dropping packets from
// node from. Deleting a rule that is not there is not an error.
func (nw *Network) ruleLocked(op string, in, from int32) error {
	out, err := ip("-n", nw.NS(in), "rule", op, "pref", cutPref, "from", nw.IP(from)+"/32", "blackhole")
	if err != nil && op == "del" && strings.Contains(out, "No such file") {
		return nil
	}
	return err
}

// Close kills any process left in the namespaces and deletes the veths, namespaces and
// bridge. It is called when the test ends; calling it earlier (to check the teardown)
// is allowed, and later calls do nothing.
func (nw *Network) Close() error {
	nw.mu.Lock()
	if nw.closed {
		nw.mu.Unlock()
		return nil
	}
	nw.closed = true
	nw.mu.Unlock()
	var errs []error
	for i := int32(1); i <= int32(nw.n); i++ {
		ns := fmt.Sprintf("%s%s-n%d", nsPrefix, nw.key, i)
		errs = append(errs, killInNS(ns))
		// Deleting one end of the pair deletes both, at once; deleting the namespace
		// alone would leave the host end until the kernel's namespace cleanup runs.
		errs = append(errs, ipDelete("link", "del", nw.veth(i)))
		errs = append(errs, ipDelete("netns", "del", ns))
	}
	errs = append(errs, ipDelete("link", "del", nw.bridge))
	return errors.Join(errs...)
}

// ipDelete runs a deleting ip command, treating "already gone" as success.
func ipDelete(args ...string) error {
	out, err := ip(args...)
	if err != nil && (strings.Contains(out, "Cannot find device") || strings.Contains(out, "No such file") || strings.Contains(out, "Cannot remove namespace file")) {
		return nil
	}
	return err
}

// killInNS SIGKILLs every process in namespace ns and waits (bounded) until none is
// left, so that deleting the namespace really frees it.
func killInNS(ns string) error {
	deadline := time.Now().Add(10 * time.Second)
	for {
		out, err := ip("netns", "pids", ns)
		if err != nil {
			// The namespace does not exist (never created or already deleted).
			return nil
		}
		pids := strings.Fields(out)
		if len(pids) == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("clustertest: processes %v in namespace %s survived SIGKILL", pids, ns)
		}
		for _, s := range pids {
			if pid, err := strconv.Atoi(s); err == nil {
				syscall.Kill(pid, syscall.SIGKILL)
			}
		}
		time.Sleep(20 * time.Millisecond) // not our children: there is nothing to wait on
	}
}

// ip runs iproute2's ip. On failure the error includes the command and its output,
// and the output is returned too so that callers can recognise expected failures.
func ip(args ...string) (string, error) {
	out, err := exec.Command("ip", args...).CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("clustertest: ip %s: %v: %s", strings.Join(args, " "), err, bytes.TrimSpace(out))
	}
	return string(out), nil
}

// ownerPID parses the pid out of a name this package creates: kind is nsPrefix,
// bridgePrefix or vethPrefix. It is strict so that nobody else's namespace or link is
// mistaken for a stale one of ours.
func ownerPID(kind, name string) (int, bool) {
	rest, ok := strings.CutPrefix(name, kind)
	if !ok {
		return 0, false
	}
	parts := strings.Split(rest, "-")
	want := map[string]int{nsPrefix: 3, bridgePrefix: 2, vethPrefix: 3}[kind]
	if len(parts) != want {
		return 0, false
	}
	for _, p := range parts[:2] {
		if p == "" || !isBase36(p) {
			return 0, false
		}
	}
	if want == 3 {
		last := parts[2]
		if kind == nsPrefix {
			last, ok = strings.CutPrefix(last, "n")
			if !ok {
				return 0, false
			}
		}
		if n, err := strconv.Atoi(last); err != nil || n < 1 || n > MaxNodes || strconv.Itoa(n) != last {
			return 0, false
		}
	}
	pid, err := strconv.ParseInt(parts[0], 36, 32)
	if err != nil || pid <= 0 || strconv.FormatInt(pid, 36) != parts[0] {
		return 0, false
	}
	return int(pid), true
}

func isBase36(s string) bool {
	for _, c := range s {
		if (c < '0' || c > '9') && (c < 'a' || c > 'z') {
			return false
		}
	}
	return true
}

// alive reports whether a process with this pid exists.
func alive(pid int) bool {
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}

// removeStale deletes the namespaces, veths and bridges of test processes that no
// longer exist, killing any process still running inside such a namespace.
func removeStale() error {
	var errs []error
	out, err := ip("netns", "list")
	if err != nil {
		return err
	}
	for _, line := range strings.Split(out, "\n") {
		f := strings.Fields(line)
		if len(f) == 0 {
			continue
		}
		if pid, ok := ownerPID(nsPrefix, f[0]); ok && !alive(pid) {
			errs = append(errs, killInNS(f[0]), ipDelete("netns", "del", f[0]))
		}
	}
	for _, kind := range []struct{ typ, prefix string }{{"veth", vethPrefix}, {"bridge", bridgePrefix}} {
		out, err := ip("-o", "link", "show", "type", kind.typ)
		if err != nil {
			return err
		}
		for _, name := range linkNames(out) {
			if pid, ok := ownerPID(kind.prefix, name); ok && !alive(pid) {
				errs = append(errs, ipDelete("link", "del", name))
			}
		}
	}
	return errors.Join(errs...)
}

// linkNames extracts the interface names from `ip -o link show` output, whose lines
// read "7: name@peer: <FLAGS> ...".
func linkNames(out string) []string {
	var names []string
	for _, line := range strings.Split(out, "\n") {
		f := strings.Fields(line)
		if len(f) < 2 {
			continue
		}
		name := strings.TrimSuffix(f[1], ":")
		name, _, _ = strings.Cut(name, "@")
		names = append(names, name)
	}
	return names
}
