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

// restart stops the broker and starts it again on its data (in a cluster, node 1
// restarts and rejoins), with extra overrides.
func (tb *testBroker) restart(extra map[string]string) *testBroker {
	tb.t.Helper()
	return &testBroker{Broker: tb.Restart(extra), t: tb.t}
}

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

// leader returns the broker leading a partition, for raw requests that must reach it
// (on a cluster, SAMSA_TEST_CLUSTER, a random node would answer NOT_LEADER_OR_FOLLOWER).
func leader(t *testing.T, cl *kgo.Client, topic string, partition int32) *kgo.Broker {
	t.Helper()
	md, err := kadm.NewClient(cl).Metadata(testCtx(t), topic)
	if err != nil {
		t.Fatal(err)
	}
	p, ok := md.Topics[topic].Partitions[partition]
	if !ok || p.Leader < 0 {
		// An unknown topic or partition: any node answers that.
		return cl.SeedBrokers()[0]
	}
	return cl.Broker(int(p.Leader))
}
