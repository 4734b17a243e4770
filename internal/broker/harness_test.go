package broker_test

import (
	"context"
	"errors"
	"testing"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"go.uber.org/goleak"

	"github.com/samsa-io/samsa/internal/brokertest"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m,
		// kgo clients closed by tests may leave their connection reapers for a moment.
		goleak.IgnoreTopFunction("github.com/twmb/franz-go/pkg/kgo.(*Client).reapConnectionsLoop"),
		goleak.IgnoreTopFunction("github.com/rcrowley/go-metrics.(*meterArbiter).tick"),
	)
}

// testBroker is an in-process broker (see package brokertest) with the shorthands these
// tests use.
type testBroker struct {
	*brokertest.Broker
	t *testing.T
}

func startBroker(t *testing.T, dir string, overrides map[string]string) *testBroker {
	t.Helper()
	return &testBroker{Broker: brokertest.Start(t, dir, overrides), t: t}
}

func (tb *testBroker) client(opts ...kgo.Opt) *kgo.Client { return tb.Client(opts...) }

func (tb *testBroker) admin() *kadm.Client { return tb.Admin() }

func testCtx(t *testing.T) context.Context { return brokertest.Ctx(t) }

// createTopic creates a topic with the broker's default replication factor, waits
// until every node knows it, and fails the test on error.
func createTopic(t *testing.T, tb *testBroker, name string, partitions int32, configs map[string]*string) {
	t.Helper()
	resp, err := tb.admin().CreateTopic(testCtx(t), partitions, -1, configs, name)
	if err == nil {
		err = resp.Err
	}
	if err != nil {
		t.Fatalf("create topic %s: %v", name, err)
	}
	tb.WaitTopic(name)
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
