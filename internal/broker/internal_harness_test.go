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
	cfg, _, err := config.Load("", nil, map[string]string{
		"listeners": "PLAINTEXT://127.0.0.1:0",
		"log.dirs":  t.TempDir(),
	})
	if err != nil {
		t.Fatal(err)
	}
	b, err := New(cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- b.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("broker stopped with: %v", err)
		}
	})
	cl, err := kgo.NewClient(kgo.SeedBrokers(b.Addr()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return b, cl
}
