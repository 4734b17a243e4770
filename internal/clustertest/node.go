package clustertest

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Node is one `samsa server` process of a Cluster. Its methods fail the Cluster's test,
// so call them from that test's goroutine; Kill, Pause, Resume, Running and Paused may
// also be called from other goroutines (a fault-injecting one, say).
type Node struct {
	ID  int32
	IP  string
	Dir string // log.dirs: the node's data, kept across restarts

	role string // "broker" or "controller" with Options.Controllers; "" for both

	c         *Cluster
	propsPath string
	logPath   string

	mu     sync.Mutex
	cur    *run // guarded by mu: the current process, nil when none was started or it was reaped by Kill/Stop
	paused bool // guarded by mu: SIGSTOP sent and no SIGCONT since
}

// run is one process of a node. err is written before done is closed.
type run struct {
	cmd  *exec.Cmd
	log  *os.File
	done chan struct{}
	err  error
}

func (r *run) exited() bool {
	select {
	case <-r.done:
		return true
	default:
		return false
	}
}

// ControllerOnly reports whether the node has only the controller role (see
// Options.Controllers): it hosts no partitions and serves no clients.
func (n *Node) ControllerOnly() bool { return n.role == "controller" }

// Addr returns the node's PLAINTEXT address, ip:9092, or its CONTROLLER address,
// ip:9093, when it has only the controller role.
func (n *Node) Addr() string {
	if n.role == "controller" {
		return net.JoinHostPort(n.IP, "9093")
	}
	return net.JoinHostPort(n.IP, "9092")
}

// LogPath returns the file the node's stdout and stderr go to, across restarts.
func (n *Node) LogPath() string { return n.logPath }

// PropsPath returns the node's server.properties file.
func (n *Node) PropsPath() string { return n.propsPath }

// NS returns the node's network namespace.
func (n *Node) NS() string { return n.c.net.NS(n.ID) }

// Running reports whether the node's process is alive (paused counts as alive).
func (n *Node) Running() bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.cur != nil && !n.cur.exited()
}

// Paused reports whether the node is running and stopped by Pause.
func (n *Node) Paused() bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.cur != nil && !n.cur.exited() && n.paused
}

// live reports whether the node can answer requests: running and not paused.
func (n *Node) live() bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.cur != nil && !n.cur.exited() && !n.paused
}

// PID returns the process id of the running process, or 0.
func (n *Node) PID() int {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.cur == nil || n.cur.exited() {
		return 0
	}
	return n.cur.cmd.Process.Pid
}

// Start (re)starts the node with the same data dir and properties and waits until it
// accepts connections on its PLAINTEXT listener.
func (n *Node) Start() {
	n.c.t.Helper()
	if err := n.launch(); err != nil {
		n.c.t.Fatalf("%v", err)
	}
	n.waitListening()
}

// launch starts the process without waiting for it to listen.
func (n *Node) launch() error {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.cur != nil && !n.cur.exited() {
		return fmt.Errorf("clustertest: node %d: Start while it is running", n.ID)
	}
	logf, err := os.OpenFile(n.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("clustertest: node %d: %w", n.ID, err)
	}
	fmt.Fprintf(logf, "=== clustertest: starting node %d at %s\n", n.ID, time.Now().Format(time.RFC3339Nano))
	cmd := n.c.net.Command(n.ID, n.c.opts.Binary, "server", "-c", n.propsPath)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.Env = serverEnv(os.Environ())
	cmd.SysProcAttr = nodeProcAttr()
	if err := cmd.Start(); err != nil {
		logf.Close()
		return fmt.Errorf("clustertest: node %d: starting %s: %w", n.ID, n.c.opts.Binary, err)
	}
	r := &run{cmd: cmd, log: logf, done: make(chan struct{})}
	go func() {
		r.err = cmd.Wait()
		logf.Close()
		close(r.done)
	}()
	n.cur, n.paused = r, false
	return nil
}

// serverEnv drops SAMSA_* variables from env: they would override the properties file
// and make a node's config depend on the developer's shell.
func serverEnv(env []string) []string {
	out := make([]string, 0, len(env))
	for _, kv := range env {
		if !strings.HasPrefix(kv, "SAMSA_") {
			out = append(out, kv)
		}
	}
	return out
}

func (n *Node) current() *run {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.cur
}

// waitListening waits until the node accepts TCP connections on its PLAINTEXT address.
func (n *Node) waitListening() {
	t := n.c.t
	t.Helper()
	r := n.current()
	deadline := time.Now().Add(n.c.timeout())
	for {
		c, err := net.DialTimeout("tcp", n.Addr(), time.Second)
		if err == nil {
			c.Close()
			return
		}
		if r.exited() {
			t.Fatalf("clustertest: node %d exited during start-up: %v\n%s", n.ID, r.err, n.tail(80))
		}
		if time.Now().After(deadline) {
			t.Fatalf("clustertest: node %d did not listen on %s within %v (last: %v)\n%s", n.ID, n.Addr(), n.c.timeout(), err, n.tail(80))
		}
		select {
		case <-r.done:
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// Kill sends SIGKILL and waits for the process to exit: no shutdown code runs. Killing
// a node that is not running does nothing.
func (n *Node) Kill() {
	r := n.current()
	if r == nil {
		return
	}
	r.cmd.Process.Signal(syscall.SIGKILL)
	<-r.done
	n.reap(r)
}

// reap forgets r once it has exited, unless a newer run replaced it.
func (n *Node) reap(r *run) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.cur == r {
		n.cur, n.paused = nil, false
	}
}

// Stop sends SIGTERM and waits for a clean exit. If the process does not exit within
// the cluster's timeout it is killed and the test fails; a non-zero exit status fails
// the test too (but lets it go on). Stopping a node that is not running does nothing.
func (n *Node) Stop() {
	t := n.c.t
	t.Helper()
	n.mu.Lock()
	r, paused := n.cur, n.paused
	n.mu.Unlock()
	if r == nil {
		return
	}
	if r.exited() {
		n.reap(r)
		return
	}
	r.cmd.Process.Signal(syscall.SIGTERM)
	if paused {
		// A stopped process does not act on SIGTERM until it is continued.
		r.cmd.Process.Signal(syscall.SIGCONT)
	}
	select {
	case <-r.done:
	case <-time.After(n.c.timeout()):
		r.cmd.Process.Signal(syscall.SIGKILL)
		<-r.done
		n.reap(r)
		t.Fatalf("clustertest: node %d did not exit within %v of SIGTERM; killed\n%s", n.ID, n.c.timeout(), n.tail(80))
	}
	n.reap(r)
	if r.err != nil {
		t.Errorf("clustertest: node %d exited with %v after SIGTERM\n%s", n.ID, r.err, n.tail(80))
	}
}

// Pause sends SIGSTOP: the process keeps its sockets but answers nothing, as a node
// in a long GC pause or on an overloaded host.
func (n *Node) Pause() {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.cur == nil || n.cur.exited() {
		return
	}
	n.cur.cmd.Process.Signal(syscall.SIGSTOP)
	n.paused = true
}

// Resume sends SIGCONT to a paused node.
func (n *Node) Resume() {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.cur == nil || n.cur.exited() {
		return
	}
	n.cur.cmd.Process.Signal(syscall.SIGCONT)
	n.paused = false
}

// tail returns the last lines of the node's log.
func (n *Node) tail(lines int) string {
	return tailFile(n.logPath, lines)
}

// tailFile returns at most the last lines lines of the file at path, reading at most
// its last 256 KiB.
func tailFile(path string, lines int) string {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Sprintf("(no log: %v)", err)
	}
	defer f.Close()
	const max = 256 << 10
	if st, err := f.Stat(); err == nil && st.Size() > max {
		if _, err := f.Seek(st.Size()-max, io.SeekStart); err != nil {
			return fmt.Sprintf("(log: %v)", err)
		}
	}
	b, err := io.ReadAll(f)
	if err != nil && !errors.Is(err, io.EOF) {
		return fmt.Sprintf("(log: %v)", err)
	}
	b = bytes.TrimRight(b, "\n")
	if lines <= 0 {
		return string(b)
	}
	for i, cnt := len(b)-1, 0; i >= 0; i-- {
		if b[i] == '\n' {
			cnt++
			if cnt == lines {
				return string(b[i+1:])
			}
		}
	}
	return string(b)
}
