// Package e2e runs the real samsa binary as a separate process, for what only a process
// can show: a clean SIGTERM shutdown, a kill -9 in the middle of writes, and recovery
// from a damaged log.
package e2e

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// samsaBin is the binary built once for the whole package.
var samsaBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "samsa-e2e-bin")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	samsaBin = filepath.Join(dir, "samsa")
	build := exec.Command("go", "build", "-race", "-o", samsaBin, "../cmd/samsa")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "building samsa:", err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// proc is one running `samsa server`.
type proc struct {
	t    *testing.T
	dir  string
	addr string
	args []string
	cmd  *exec.Cmd
	log  *os.File
	done chan error
}

// startProc runs `samsa server` with its data in dir on a free loopback port.
func startProc(t *testing.T, dir string, overrides ...string) *proc {
	t.Helper()
	addr := freeAddr(t)
	args := []string{"server", "--override", "listeners=PLAINTEXT://" + addr, "--override", "log.dirs=" + dir}
	for _, o := range overrides {
		args = append(args, "--override", o)
	}
	p := &proc{t: t, dir: dir, addr: addr, args: args}
	p.start()
	t.Cleanup(func() { p.kill() })
	return p
}

// freeAddr finds a free loopback port for a server to listen on.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

func (p *proc) start() {
	p.t.Helper()
	logf, err := os.OpenFile(filepath.Join(p.t.TempDir(), "samsa.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		p.t.Fatal(err)
	}
	p.log = logf
	p.cmd = exec.Command(samsaBin, p.args...)
	p.cmd.Stdout, p.cmd.Stderr = logf, logf
	if err := p.cmd.Start(); err != nil {
		p.t.Fatal(err)
	}
	p.done = make(chan error, 1)
	go func() { p.done <- p.cmd.Wait() }()
	deadline := time.Now().Add(30 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", p.addr, time.Second)
		if err == nil {
			c.Close()
			return
		}
		select {
		case err := <-p.done:
			p.t.Fatalf("samsa exited during start-up: %v\n%s", err, p.logText())
		default:
		}
		if time.Now().After(deadline) {
			p.t.Fatalf("samsa did not listen within 30s\n%s", p.logText())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (p *proc) logText() string {
	b, _ := os.ReadFile(p.log.Name())
	return string(b)
}

// stop sends SIGTERM and expects a clean exit.
func (p *proc) stop() {
	p.t.Helper()
	if p.cmd == nil {
		return
	}
	p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-p.done:
		if err != nil {
			p.t.Fatalf("samsa exited with %v after SIGTERM\n%s", err, p.logText())
		}
	case <-time.After(30 * time.Second):
		p.t.Fatalf("samsa did not stop within 30s of SIGTERM")
	}
	p.cmd = nil
}

// kill sends SIGKILL: no shutdown code runs.
func (p *proc) kill() {
	if p.cmd == nil {
		return
	}
	p.cmd.Process.Kill()
	<-p.done
	p.cmd = nil
}

func (p *proc) restart() {
	p.t.Helper()
	p.start()
}

func (p *proc) client(t *testing.T, opts ...kgo.Opt) *kgo.Client {
	t.Helper()
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(p.addr)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return cl
}

func ctxFor(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// readAll consumes topic from the start until the end offsets known at call time.
func readAll(t *testing.T, p *proc, topic string, partitions int32) map[string]int {
	t.Helper()
	cl := p.client(t)
	ends := map[int32]int64{}
	for part := int32(0); part < partitions; part++ {
		ends[part] = endOffset(t, cl, topic, part)
	}
	offsets := map[string]map[int32]kgo.Offset{topic: {}}
	for part := range ends {
		offsets[topic][part] = kgo.NewOffset().AtStart()
	}
	cons := p.client(t, kgo.ConsumePartitions(offsets))
	seen := map[string]int{}
	next := map[int32]int64{}
	ctx := ctxFor(t, 60*time.Second)
	done := func() bool {
		for part, end := range ends {
			if next[part] < end {
				return false
			}
		}
		return true
	}
	for !done() {
		fs := cons.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("reading back: %v (have %v of %v)", ctx.Err(), next, ends)
		}
		fs.EachError(func(_ string, part int32, err error) { t.Fatalf("fetch partition %d: %v", part, err) })
		fs.EachRecord(func(r *kgo.Record) {
			seen[string(r.Value)]++
			next[r.Partition] = r.Offset + 1
		})
	}
	return seen
}

func value(i int) string { return "v" + strconv.Itoa(i) }
