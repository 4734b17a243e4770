package clustertest

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/samsa-io/samsa/internal/config"
)

func TestOwnerPID(t *testing.T) {
	tests := []struct {
		kind, name string
		pid        int
		ok         bool
	}{
		{nsPrefix, "samsa-pa8-1-n1", 32768, true},
		{nsPrefix, "samsa-2hwhs-zz-n99", 4194496, true}, // pid_max is at most 4194304, "2hwcg"
		{nsPrefix, "samsa-pa8-1-n0", 0, false},
		{nsPrefix, "samsa-pa8-1-n01", 0, false},
		{nsPrefix, "samsa-pa8-1-1", 0, false},
		{nsPrefix, "samsa-test", 0, false},
		{nsPrefix, "samsa-dev-net", 0, false},
		{nsPrefix, "samsa-PA8-1-n1", 0, false},
		{nsPrefix, "samsa--1-n1", 0, false},
		{nsPrefix, "samsa-0-1-n1", 0, false},
		{nsPrefix, "samsa-0pa8-1-n1", 0, false}, // not canonical base 36
		{nsPrefix, "other-pa8-1-n1", 0, false},
		{bridgePrefix, "smsbrpa8-1", 32768, true},
		{bridgePrefix, "smsbrpa8", 0, false},
		{bridgePrefix, "smsbrpa8-1-2", 0, false},
		{bridgePrefix, "smsbr-1", 0, false},
		{vethPrefix, "smsvpa8-1-3", 32768, true},
		{vethPrefix, "smsvpa8-1", 0, false},
		{vethPrefix, "smsvpa8-1-x", 0, false},
		{vethPrefix, "smsbrpa8-1", 0, false},
	}
	for _, tt := range tests {
		pid, ok := ownerPID(tt.kind, tt.name)
		if pid != tt.pid || ok != tt.ok {
			t.Errorf("ownerPID(%q, %q) = %d, %v; want %d, %v", tt.kind, tt.name, pid, ok, tt.pid, tt.ok)
		}
	}
}

func TestPickSubnet(t *testing.T) {
	p := netip.MustParsePrefix
	tests := []struct {
		name  string
		used  []netip.Prefix
		start int
		want  string
	}{
		{"start", nil, 0, "10.200.0.0/24"},
		{"offset", nil, 257, "10.201.1.0/24"},
		{"wraps", nil, subnetCount + 3, "10.200.3.0/24"},
		{"negative start", nil, -2, "10.200.2.0/24"},
		{"skips used /24", []netip.Prefix{p("10.200.0.0/24")}, 0, "10.200.1.0/24"},
		{"skips covering route", []netip.Prefix{p("10.200.0.0/23")}, 0, "10.200.2.0/24"},
		{"skips host inside", []netip.Prefix{p("10.200.0.7/32")}, 0, "10.200.1.0/24"},
		{"ignores unrelated", []netip.Prefix{p("192.0.2.0/24"), p("10.0.0.0/16")}, 0, "10.200.0.0/24"},
		{"wraps past end", []netip.Prefix{p("10.249.255.0/24")}, subnetCount - 1, "10.200.0.0/24"},
	}
	for _, tt := range tests {
		got, ok := pickSubnet(tt.used, tt.start)
		if !ok || got.String() != tt.want {
			t.Errorf("%s: pickSubnet = %v, %v; want %s", tt.name, got, ok, tt.want)
		}
	}
	if got, ok := pickSubnet([]netip.Prefix{p("10.0.0.0/8")}, 0); ok {
		t.Errorf("pickSubnet with all of 10/8 used = %v; want none", got)
	}
}

func TestNodeProps(t *testing.T) {
	ips := []string{"10.200.1.11", "10.200.1.12", "10.200.1.13"}
	got := NodeProps(2, ips, 0, "/data/node-2", map[string]string{
		"controller.quorum.timeout.ms": "500",
		"listeners":                    "PLAINTEXT://:9092",
		"a.first":                      "x",
	})
	want := [][2]string{
		{"process.roles", "broker,controller"},
		{"node.id", "2"},
		{"listeners", "PLAINTEXT://:9092"},
		{"advertised.listeners", "PLAINTEXT://10.200.1.12:9092"},
		{"controller.listener.names", "CONTROLLER"},
		{"inter.broker.listener.name", "PLAINTEXT"},
		{"listener.security.protocol.map", "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT"},
		{"controller.quorum.voters", "1@10.200.1.11:9093,2@10.200.1.12:9093,3@10.200.1.13:9093"},
		{"log.dirs", "/data/node-2"},
		{"a.first", "x"},
		{"controller.quorum.timeout.ms", "500"},
	}
	if !slices.Equal(got, want) {
		t.Errorf("NodeProps =\n%v\nwant\n%v", got, want)
	}
	if got := NodeProps(1, ips[:1], 0, "/d", nil)[2][1]; got != "PLAINTEXT://10.200.1.11:9092,CONTROLLER://10.200.1.11:9093" {
		t.Errorf("listeners of node 1 = %q", got)
	}
}

// TestRenderPropsRoundTrip checks that what renderProps writes reads back, through the
// server's own parser, as the same keys and values.
func TestRenderPropsRoundTrip(t *testing.T) {
	props := [][2]string{
		{"log.dirs", `C:\data\node 1`},
		{"empty", ""},
		{"leading.space", "  x"},
		{"odd key=:", "v=w:z # not a comment"},
		{"#hash", "1"},
		{"multi", "a\nb\tc"},
		{"unicode", "héllo"},
	}
	text, err := renderProps(props)
	if err != nil {
		t.Fatal(err)
	}
	parsed, err := config.ParseProperties(text)
	if err != nil {
		t.Fatalf("%v\n%s", err, text)
	}
	if len(parsed) != len(props) {
		t.Errorf("parsed %d keys, want %d: %v", len(parsed), len(props), parsed)
	}
	for _, kv := range props {
		if got, ok := parsed[kv[0]]; !ok || got != kv[1] {
			t.Errorf("key %q read back as %q (present %v), want %q\n%s", kv[0], got, ok, kv[1], text)
		}
	}
	if _, err := renderProps([][2]string{{"", "x"}}); err == nil {
		t.Error("renderProps accepted an empty key")
	}
}

func TestTailFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "log")
	var b strings.Builder
	for i := 1; i <= 100; i++ {
		fmt.Fprintf(&b, "line %d\n", i)
	}
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		lines       int
		first, last string
		count       int
	}{
		{3, "line 98", "line 100", 3},
		{80, "line 21", "line 100", 80},
		{500, "line 1", "line 100", 100},
		{0, "line 1", "line 100", 100},
	}
	for _, tt := range tests {
		got := strings.Split(tailFile(path, tt.lines), "\n")
		if len(got) != tt.count || got[0] != tt.first || got[len(got)-1] != tt.last {
			t.Errorf("tailFile(%d): %d lines %q..%q; want %d lines %q..%q", tt.lines, len(got), got[0], got[len(got)-1], tt.count, tt.first, tt.last)
		}
	}
	if got := tailFile(filepath.Join(t.TempDir(), "missing"), 3); !strings.Contains(got, "no log") {
		t.Errorf("tailFile of a missing file = %q", got)
	}
}

func TestServerEnv(t *testing.T) {
	got := serverEnv([]string{"PATH=/bin", "SAMSA_LOG_DIRS=/x", "HOME=/root", "SAMSA_NODE_ID=3"})
	if want := []string{"PATH=/bin", "HOME=/root"}; !slices.Equal(got, want) {
		t.Errorf("serverEnv = %v, want %v", got, want)
	}
}

// fatalTB records Fatalf instead of failing the real test.
type fatalTB struct {
	testing.TB
	msg string
}

func (f *fatalTB) Helper() {}

func (f *fatalTB) Fatalf(format string, args ...any) {
	f.msg = fmt.Sprintf(format, args...)
	runtime.Goexit()
}

func TestWaitFor(t *testing.T) {
	calls := 0
	waitFor(t, 10*time.Second, "the third call", func() (bool, string) {
		calls++
		return calls == 3, ""
	})
	if calls != 3 {
		t.Errorf("cond called %d times, want 3", calls)
	}

	ftb := &fatalTB{TB: t}
	done := make(chan struct{})
	go func() {
		defer close(done)
		n := 0
		waitFor(ftb, 200*time.Millisecond, "godot", func() (bool, string) {
			n++
			return false, "poll " + strconv.Itoa(n)
		})
	}()
	<-done
	if !strings.Contains(ftb.msg, "godot") || !strings.Contains(ftb.msg, "last seen: poll ") {
		t.Errorf("timeout message %q does not name what was awaited and what was last seen", ftb.msg)
	}
}

// echoServers runs a TCP echo server on port 7000 of every node, inside the node's
// namespace, and returns their addresses by node id.
func echoServers(t *testing.T, nw *Network) map[int32]string {
	t.Helper()
	addrs := make(map[int32]string)
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		conns []net.Conn // guarded by mu
	)
	var ls []net.Listener
	t.Cleanup(func() {
		for _, l := range ls {
			l.Close()
		}
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	for id := int32(1); id <= int32(nw.Size()); id++ {
		addr := net.JoinHostPort(nw.IP(id), "7000")
		l, err := nw.Listen(id, "tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		ls = append(ls, l)
		addrs[id] = addr
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				c, err := l.Accept()
				if err != nil {
					return
				}
				mu.Lock()
				conns = append(conns, c)
				mu.Unlock()
				wg.Add(1)
				go func() {
					defer wg.Done()
					io.Copy(c, c)
				}()
			}
		}()
	}
	return addrs
}

// roundTrip sends msg and reads it back.
func roundTrip(c net.Conn, msg string, timeout time.Duration) error {
	c.SetDeadline(time.Now().Add(timeout))
	if _, err := io.WriteString(c, msg); err != nil {
		return err
	}
	buf := make([]byte, len(msg))
	if _, err := io.ReadFull(c, buf); err != nil {
		return err
	}
	if string(buf) != msg {
		return fmt.Errorf("echo %q, sent %q", buf, msg)
	}
	return nil
}

// dialFrom connects from node from (0: the test process) to addr.
func dialFrom(nw *Network, from int32, addr string, timeout time.Duration) (net.Conn, error) {
	if from == 0 {
		return net.DialTimeout("tcp", addr, timeout)
	}
	return nw.Dial(from, "tcp", addr, timeout)
}

func expectReach(t *testing.T, nw *Network, addrs map[int32]string, from, to int32) {
	t.Helper()
	c, err := dialFrom(nw, from, addrs[to], 5*time.Second)
	if err != nil {
		t.Fatalf("%d -> %d: %v", from, to, err)
	}
	defer c.Close()
	if err := roundTrip(c, "ping", 5*time.Second); err != nil {
		t.Fatalf("%d -> %d: %v", from, to, err)
	}
}

// expectCut checks that a connection from node from to node to times out: the SYN
// vanishes, rather than being refused or failing locally.
func expectCut(t *testing.T, nw *Network, addrs map[int32]string, from, to int32) {
	t.Helper()
	c, err := dialFrom(nw, from, addrs[to], 300*time.Millisecond)
	if err == nil {
		c.Close()
		t.Fatalf("%d -> %d connected across a cut", from, to)
	}
	var ne net.Error
	if !errors.As(err, &ne) || !ne.Timeout() {
		t.Fatalf("%d -> %d across a cut: %v; want a timeout", from, to, err)
	}
}

func TestNetworkPartition(t *testing.T) {
	nw := NewNetwork(t, 3)
	if !strings.HasPrefix(nw.Subnet().String(), "10.2") || nw.HostIP() != nw.Subnet().Addr().Next().String() {
		t.Fatalf("subnet %v, host %v", nw.Subnet(), nw.HostIP())
	}
	addrs := echoServers(t, nw)
	for from := int32(0); from <= 3; from++ {
		for to := int32(1); to <= 3; to++ {
			expectReach(t, nw, addrs, from, to)
		}
	}

	est, err := nw.Dial(1, "tcp", addrs[2], 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer est.Close()
	if err := roundTrip(est, "before", 5*time.Second); err != nil {
		t.Fatal(err)
	}

	nw.Cut(1, 2)
	nw.Cut(2, 1) // already cut: a no-op
	if cuts := nw.Cuts(); len(cuts) != 1 || cuts[0] != [2]int32{1, 2} {
		t.Fatalf("Cuts() = %v", cuts)
	}
	expectCut(t, nw, addrs, 1, 2)
	expectCut(t, nw, addrs, 2, 1)
	// The established connection stalls: the write is buffered, no reply and no reset
	// comes back.
	est.SetDeadline(time.Now().Add(500 * time.Millisecond))
	if _, err := io.WriteString(est, "during"); err != nil {
		t.Fatalf("write on a cut connection: %v", err)
	}
	buf := make([]byte, len("during"))
	if n, err := io.ReadFull(est, buf); !isTimeout(err) {
		t.Fatalf("read on a cut connection: %d bytes, %v; want a timeout", n, err)
	}
	expectReach(t, nw, addrs, 1, 3)
	expectReach(t, nw, addrs, 3, 2)
	expectReach(t, nw, addrs, 0, 2)
	expectReach(t, nw, addrs, 0, 1)

	nw.Heal(1, 2)
	nw.Heal(1, 2) // already healed: a no-op
	expectReach(t, nw, addrs, 1, 2)
	expectReach(t, nw, addrs, 2, 1)
	// The stalled connection resumes once TCP retransmits.
	est.SetDeadline(time.Now().Add(20 * time.Second))
	if _, err := io.ReadFull(est, buf); err != nil || string(buf) != "during" {
		t.Fatalf("stalled connection after Heal: %q, %v", buf, err)
	}

	nw.Isolate(2)
	expectCut(t, nw, addrs, 1, 2)
	expectCut(t, nw, addrs, 3, 2)
	expectCut(t, nw, addrs, 2, 3)
	expectReach(t, nw, addrs, 1, 3)
	expectReach(t, nw, addrs, 0, 2)
	nw.HealAll()
	if cuts := nw.Cuts(); len(cuts) != 0 {
		t.Fatalf("Cuts() after HealAll = %v", cuts)
	}
	for from := int32(1); from <= 3; from++ {
		for to := int32(1); to <= 3; to++ {
			expectReach(t, nw, addrs, from, to)
		}
	}

	est.Close()
	if err := nw.Close(); err != nil {
		t.Fatal(err)
	}
	expectGone(t, nw)
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// expectGone checks that no namespace or link of nw is left.
func expectGone(t *testing.T, nw *Network) {
	t.Helper()
	out, err := ip("netns", "list")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(out, "\n") {
		if f := strings.Fields(line); len(f) > 0 && strings.Contains(f[0], nw.Key()) {
			t.Errorf("namespace %s left behind", f[0])
		}
	}
	out, err = ip("-o", "link", "show")
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range linkNames(out) {
		if name == nw.Bridge() || strings.HasPrefix(name, vethPrefix+nw.Key()+"-") {
			t.Errorf("link %s left behind", name)
		}
	}
}

// TestStaleRemoved leaves behind what a crashed run would, under the pid of a process
// that has exited, and checks that building a network removes it and kills the process
// left inside the namespace, while a live run's namespace is kept.
func TestStaleRemoved(t *testing.T) {
	gone := exec.Command("true")
	if err := gone.Run(); err != nil {
		t.Fatal(err)
	}
	key := strconv.FormatInt(int64(gone.ProcessState.Pid()), 36) + "-0"
	ns := nsPrefix + key + "-n1"
	br := bridgePrefix + key
	veth := vethPrefix + key + "-1"
	vethPeer := vethPrefix + key + "-2"
	t.Cleanup(func() {
		ipDelete("link", "del", veth)
		ipDelete("link", "del", br)
		killInNS(ns)
		ipDelete("netns", "del", ns)
	})
	for _, s := range [][]string{
		{"netns", "add", ns},
		{"link", "add", br, "type", "bridge"},
		{"link", "add", veth, "type", "veth", "peer", "name", vethPeer},
	} {
		if _, err := ip(s...); err != nil {
			t.Fatal(err)
		}
	}
	sleeper := exec.Command("ip", "netns", "exec", ns, "sleep", "600")
	if err := sleeper.Start(); err != nil {
		t.Fatal(err)
	}
	var sleepErr error
	sleepDone := make(chan struct{})
	go func() { sleepErr = sleeper.Wait(); close(sleepDone) }()
	t.Cleanup(func() {
		sleeper.Process.Kill()
		<-sleepDone
	})

	live := NewNetwork(t, 1) // a live run's network: must survive the next one's sweep
	nw := NewNetwork(t, 1)
	_ = nw
	<-sleepDone
	err := sleepErr
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
		t.Errorf("process in the stale namespace ended with %v; want SIGKILL", err)
	}
	out, _ := ip("netns", "list")
	if strings.Contains(out, ns) {
		t.Errorf("stale namespace %s survived", ns)
	}
	if !strings.Contains(out, live.NS(1)) {
		t.Errorf("a live run's namespace %s was removed", live.NS(1))
	}
	out, _ = ip("-o", "link", "show")
	names := linkNames(out)
	for _, name := range []string{br, veth, vethPeer} {
		if slices.Contains(names, name) {
			t.Errorf("stale link %s survived", name)
		}
	}
	if !slices.Contains(names, live.Bridge()) {
		t.Errorf("a live run's bridge %s was removed", live.Bridge())
	}
}
