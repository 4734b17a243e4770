// Package brokertest starts in-process Samsa brokers on loopback ports for tests of
// any package that needs a live broker: the broker's own API tests, the command-line
// tools, the group coordinator.
package brokertest

import (
	"context"
	"io"
	"log/slog"
	"os"
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
}

// Start starts a broker with its data in dir (a new temp dir when empty) and the given
// config overrides. It is stopped when the test ends. Set SAMSA_TEST_LOG=1 to see its log.
func Start(t testing.TB, dir string, overrides map[string]string) *Broker {
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
		t.Fatalf("brokertest: config: %v", err)
	}
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	if os.Getenv("SAMSA_TEST_LOG") != "" {
		logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	b, err := broker.New(cfg, logger)
	if err != nil {
		t.Fatalf("brokertest: broker.New: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	tb := &Broker{t: t, Dir: dir, Addr: b.Addr(), b: b, stop: cancel, done: make(chan error, 1)}
	go func() { tb.done <- b.Run(ctx) }()
	t.Cleanup(tb.Stop)
	return tb
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

// Client returns a franz-go client for the broker, closed when the test ends.
func (tb *Broker) Client(opts ...kgo.Opt) *kgo.Client {
	tb.t.Helper()
	opts = append([]kgo.Opt{kgo.SeedBrokers(tb.Addr), kgo.MetadataMinAge(100 * time.Millisecond)}, opts...)
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

// CreateTopic creates a topic with replication factor 1 and fails the test on error.
func (tb *Broker) CreateTopic(name string, partitions int32, configs map[string]*string) {
	tb.t.Helper()
	resp, err := tb.Admin().CreateTopic(Ctx(tb.t), partitions, 1, configs, name)
	if err == nil {
		err = resp.Err
	}
	if err != nil {
		tb.t.Fatalf("brokertest: create topic %s: %v", name, err)
	}
}
