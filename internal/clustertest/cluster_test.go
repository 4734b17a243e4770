package clustertest

import (
	"context"
	"errors"
	"net"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// singleNode overrides the cluster properties down to a plain single-node server, which
// works before cluster mode does: no CONTROLLER listener and an empty voter list.
var singleNode = map[string]string{
	"listeners":                      "PLAINTEXT://:9092",
	"listener.security.protocol.map": "PLAINTEXT:PLAINTEXT",
	"controller.listener.names":      "",
	"controller.quorum.voters":       "",
}

func ctxFor(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// consumeFirst reads the first record of topic's partition 0.
func consumeFirst(t *testing.T, c *Cluster, topic string) string {
	t.Helper()
	cl := c.Client(t, kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: {0: kgo.NewOffset().AtStart()}}))
	ctx := ctxFor(t, 20*time.Second)
	for {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("consuming %s: %v", topic, ctx.Err())
		}
		fs.EachError(func(_ string, _ int32, err error) { t.Fatalf("fetch: %v", err) })
		if recs := fs.Records(); len(recs) > 0 {
			return string(recs[0].Value)
		}
	}
}

func TestSingleNodeProcess(t *testing.T) {
	c := Start(t, Options{Nodes: 1, Binary: samsaBinary(t), Props: singleNode, Timeout: 20 * time.Second})
	n := c.Node(1)
	if !n.Running() || n.Paused() || n.PID() == 0 {
		t.Fatalf("after Start: running %v, paused %v, pid %d", n.Running(), n.Paused(), n.PID())
	}
	if got := c.BootstrapServers(); len(got) != 1 || got[0] != n.IP+":9092" || n.Addr() != got[0] {
		t.Fatalf("BootstrapServers() = %v, node address %s", got, n.Addr())
	}
	props, err := os.ReadFile(n.PropsPath())
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"node.id=1\n", "log.dirs=" + n.Dir + "\n", "controller.quorum.voters=\n", "advertised.listeners=PLAINTEXT://" + n.IP + ":9092\n"} {
		if !strings.Contains(string(props), want) {
			t.Errorf("properties lack %q:\n%s", want, props)
		}
	}

	c.WaitForBrokers(t, 1)
	if id := c.ActiveController(t); id != 1 {
		t.Errorf("ActiveController() = %d, want 1", id)
	}
	const topic = "clustertest"
	if _, err := c.Admin(t).CreateTopic(ctxFor(t, 10*time.Second), 1, 1, nil, topic); err != nil {
		t.Fatal(err)
	}
	if id := c.WaitForLeader(t, topic, 0); id != 1 {
		t.Errorf("WaitForLeader() = %d, want 1", id)
	}
	prod := c.Client(t, kgo.DefaultProduceTopic(topic))
	if err := prod.ProduceSync(ctxFor(t, 10*time.Second), kgo.StringRecord("hello")).FirstErr(); err != nil {
		t.Fatal(err)
	}
	if got := consumeFirst(t, c, topic); got != "hello" {
		t.Fatalf("consumed %q, want hello", got)
	}

	// A paused process holds its socket open but answers nothing.
	cl := c.Client(t)
	n.Pause()
	if !n.Paused() || !n.Running() {
		t.Fatalf("after Pause: paused %v, running %v", n.Paused(), n.Running())
	}
	_, err = kmsg.NewPtrMetadataRequest().RequestWith(ctxFor(t, time.Second), cl)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("metadata from a paused node: %v; want a deadline exceeded", err)
	}
	n.Resume()
	if n.Paused() {
		t.Fatal("still paused after Resume")
	}
	if _, err := kmsg.NewPtrMetadataRequest().RequestWith(ctxFor(t, 10*time.Second), cl); err != nil {
		t.Fatalf("metadata after Resume: %v", err)
	}

	pid := n.PID()
	n.Kill()
	if n.Running() || n.PID() != 0 {
		t.Fatalf("after Kill: running %v, pid %d", n.Running(), n.PID())
	}
	if err := syscall.Kill(pid, 0); !errors.Is(err, syscall.ESRCH) {
		t.Fatalf("process %d after Kill: %v; want ESRCH", pid, err)
	}
	if conn, err := net.DialTimeout("tcp", n.Addr(), 5*time.Second); err == nil {
		conn.Close()
		t.Fatal("a killed node still accepts connections")
	}
	n.Kill() // not running: a no-op

	n.Start()
	if !n.Running() || n.PID() == pid {
		t.Fatalf("after restart: running %v, pid %d (was %d)", n.Running(), n.PID(), pid)
	}
	if got := consumeFirst(t, c, topic); got != "hello" {
		t.Fatalf("after restart consumed %q, want hello", got)
	}

	n.Stop()
	if n.Running() {
		t.Fatal("running after Stop")
	}
	log, err := os.ReadFile(n.LogPath())
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Count(string(log), "=== clustertest: starting node 1"); got != 2 {
		t.Errorf("log records %d starts, want 2 (it must span restarts)", got)
	}
}

// TestStartTeardown checks that a cluster's processes and network are gone once its
// test ends, even when the test stops halfway (here: by FailNow in a subtest).
func TestStartTeardown(t *testing.T) {
	bin := samsaBinary(t)
	var (
		c    *Cluster
		pids []int
	)
	t.Run("inner", func(t *testing.T) {
		c = Start(t, Options{Nodes: 2, Binary: bin, Props: singleNode, Timeout: 20 * time.Second})
		for _, n := range c.Nodes() {
			pids = append(pids, n.PID())
		}
		c.Node(2).Pause() // a paused process must be killed too
		t.SkipNow()       // ends the subtest midway, as a failure would, without failing it
	})
	for _, pid := range pids {
		if err := syscall.Kill(pid, 0); !errors.Is(err, syscall.ESRCH) {
			t.Errorf("process %d survived its test: %v", pid, err)
		}
	}
	expectGone(t, c.Network())
}
