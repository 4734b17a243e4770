//go:build cgo

package broker_test

import (
	"sync"
	"testing"

	"github.com/confluentinc/confluent-kafka-go/v2/kafka"
	"github.com/twmb/franz-go/pkg/kadm"
)

// rdkafkaGroup is a set of librdkafka consumers subscribed to one topic in one group,
// counting how often each record value reaches any of them.
type rdkafkaGroup struct {
	mu   sync.Mutex
	got  map[string]int // guarded by mu
	stop chan struct{}
	wg   sync.WaitGroup
}

// startRdkafkaGroup starts members consumers of topic in group; extra adds to their
// config (group.protocol, ...). They stop when the test ends.
func startRdkafkaGroup(t *testing.T, tb *testBroker, topic, group string, members int, extra kafka.ConfigMap) *rdkafkaGroup {
	t.Helper()
	g := &rdkafkaGroup{got: map[string]int{}, stop: make(chan struct{})}
	for i := 0; i < members; i++ {
		cfg := kafka.ConfigMap{
			"bootstrap.servers":       tb.Addr,
			"group.id":                group,
			"auto.offset.reset":       "earliest",
			"auto.commit.interval.ms": 100,
		}
		for k, v := range extra {
			cfg[k] = v
		}
		c, err := kafka.NewConsumer(&cfg)
		if err != nil {
			t.Fatal(err)
		}
		if err := c.Subscribe(topic, nil); err != nil {
			t.Fatal(err)
		}
		g.wg.Add(1)
		go func() {
			defer g.wg.Done()
			defer c.Close()
			for {
				select {
				case <-g.stop:
					return
				default:
				}
				if m, ok := c.Poll(50).(*kafka.Message); ok {
					g.mu.Lock()
					g.got[string(m.Value)]++
					g.mu.Unlock()
				}
			}
		}()
	}
	t.Cleanup(func() { close(g.stop); g.wg.Wait() })
	return g
}

// distinct is how many different values arrived.
func (g *rdkafkaGroup) distinct() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return len(g.got)
}

// checkExactlyOnce fails the test for every value that arrived more than once.
func (g *rdkafkaGroup) checkExactlyOnce(t *testing.T) {
	t.Helper()
	g.mu.Lock()
	defer g.mu.Unlock()
	for v, c := range g.got {
		if c != 1 {
			t.Errorf("record %s consumed %d times", v, c)
		}
	}
}

// TestLibrdkafkaConsumerGroup: two librdkafka consumers with one group.id share a topic
// and commit.
func TestLibrdkafkaConsumerGroup(t *testing.T) {
	tb := startBroker(t, "", groupOverrides)
	const topic = "rdk-group"
	createTopic(t, tb, topic, 4, nil)
	const n = 200
	g := startRdkafkaGroup(t, tb, topic, "rdk-g", 2, nil)
	waitFor(t, "both members in the group", func() bool {
		d, err := tb.admin().DescribeGroups(testCtx(t), "rdk-g")
		return err == nil && d["rdk-g"].State == "Stable" && len(d["rdk-g"].Members) == 2
	})
	produceValues(t, tb, topic, "r", n)
	waitFor(t, "all records", func() bool { return g.distinct() == n })
	waitFor(t, "librdkafka's commits", func() bool {
		offs, err := tb.admin().FetchOffsets(testCtx(t), "rdk-g")
		if err != nil {
			return false
		}
		total := int64(0)
		offs.Each(func(o kadm.OffsetResponse) { total += o.At })
		return total == n
	})
	d, err := tb.admin().DescribeGroups(testCtx(t), "rdk-g")
	if err != nil || len(d["rdk-g"].Members) != 2 {
		t.Errorf("described %+v %v", d["rdk-g"], err)
	}
	g.checkExactlyOnce(t)
}
