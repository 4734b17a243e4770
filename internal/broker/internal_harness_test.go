package broker

import (
	"context"
	"io"
	"log/slog"
	"testing"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/samsa-io/samsa/internal/config"
)

// runInternal runs a single-node broker for the tests of this package that need its
// internals (package brokertest imports this one, so it cannot be used here) and
// returns a client for it.
func runInternal(t *testing.T) (*Broker, *kgo.Client) {
	t.Helper()
	n := runNode(t, map[string]string{
		"listeners": "PLAINTEXT://127.0.0.1:0",
		"log.dirs":  t.TempDir(),
	})
	cl, err := kgo.NewClient(kgo.SeedBrokers(n.b.Addr()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return n.b, cl
}

// node is one in-process Samsa node run by runNode.
type node struct {
	b      *Broker
	cancel context.CancelFunc
	done   chan error
}

// runNode starts a node configured by props and stops it when the test ends (or at
// stop).
func runNode(t *testing.T, props map[string]string) *node {
	t.Helper()
	cfg, _, err := config.Load("", nil, props)
	if err != nil {
		t.Fatal(err)
	}
	b, err := New(cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	n := &node{b: b, cancel: cancel, done: make(chan error, 1)}
	go func() { n.done <- b.Run(ctx) }()
	t.Cleanup(func() { n.stop(t) })
	return n
}

// stop stops the node and waits for it; a second call does nothing.
func (n *node) stop(t *testing.T) {
	t.Helper()
	if n.cancel == nil {
		return
	}
	n.cancel()
	if err := <-n.done; err != nil {
		t.Errorf("node %d stopped with: %v", n.b.cfg.NodeID, err)
	}
	n.cancel = nil
}
