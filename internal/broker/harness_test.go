package broker_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"os"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"go.uber.org/goleak"

	"github.com/samsa-io/samsa/internal/broker"
	"github.com/samsa-io/samsa/internal/config"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m,
		// kgo clients closed by tests may leave their connection reapers for a moment.
		goleak.IgnoreTopFunction("github.com/twmb/franz-go/pkg/kgo.(*Client).reapConnectionsLoop"),
		goleak.IgnoreTopFunction("github.com/rcrowley/go-metrics.(*meterArbiter).tick"),
	)
}

// testBroker is an in-process broker on a loopback port.
type testBroker struct {
	t    *testing.T
	Dir  string
	Addr string
	b    *broker.Broker
	stop context.CancelFunc
	done chan error
}

// startBroker starts a broker on 127.0.0.1 with its data in dir (a new temp dir when
// empty) and the given config overrides. It is stopped when the test ends.
func startBroker(t *testing.T, dir string, overrides map[string]string) *testBroker {
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
		t.Fatalf("config: %v", err)
	}
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	if os.Getenv("SAMSA_TEST_LOG") != "" {
		logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	b, err := broker.New(cfg, logger)
	if err != nil {
		t.Fatalf("broker.New: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	tb := &testBroker{t: t, Dir: dir, Addr: b.Addr(), b: b, stop: cancel, done: make(chan error, 1)}
	go func() { tb.done <- b.Run(ctx) }()
	t.Cleanup(tb.Stop)
	return tb
}

// Stop shuts the broker down cleanly and waits for it. It may be called twice.
func (tb *testBroker) Stop() {
	tb.t.Helper()
	if tb.stop == nil {
		return
	}
	tb.stop()
	tb.stop = nil
	select {
	case err := <-tb.done:
		if err != nil {
			tb.t.Errorf("broker stopped with: %v", err)
		}
	case <-time.After(30 * time.Second):
		tb.t.Fatal("broker did not stop within 30s")
	}
}

// client returns a franz-go client for the broker, closed when the test ends.
func (tb *testBroker) client(opts ...kgo.Opt) *kgo.Client {
	tb.t.Helper()
	opts = append([]kgo.Opt{kgo.SeedBrokers(tb.Addr), kgo.MetadataMinAge(100 * time.Millisecond)}, opts...)
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		tb.t.Fatal(err)
	}
	tb.t.Cleanup(cl.Close)
	return cl
}

func (tb *testBroker) admin() *kadm.Client {
	return kadm.NewClient(tb.client())
}

// testCtx is a context bounded so a hung test fails instead of blocking CI.
func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// createTopic creates a topic and fails the test on error.
func createTopic(t *testing.T, adm *kadm.Client, name string, partitions int32, configs map[string]*string) {
	t.Helper()
	resp, err := adm.CreateTopic(testCtx(t), partitions, 1, configs, name)
	if err == nil {
		err = resp.Err
	}
	if err != nil {
		t.Fatalf("create topic %s: %v", name, err)
	}
}

// consumeAll reads records from the start of every partition of topic until n records
// have arrived.
func consumeAll(t *testing.T, tb *testBroker, topic string, n int) []*kgo.Record {
	t.Helper()
	cl := tb.client(kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	ctx := testCtx(t)
	var out []*kgo.Record
	for len(out) < n {
		fs := cl.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			t.Fatalf("consumed %d of %d records before %v", len(out), n, err)
		}
		fs.EachError(func(topic string, p int32, err error) {
			if !errors.Is(err, context.DeadlineExceeded) {
				t.Errorf("fetch %s-%d: %v", topic, p, err)
			}
		})
		out = append(out, fs.Records()...)
	}
	return out
}
