//go:build cgo

package broker_test

import (
	"sync"
	"testing"

	"github.com/confluentinc/confluent-kafka-go/v2/kafka"
	"github.com/twmb/franz-go/pkg/kadm"
)

// TestLibrdkafkaConsumerGroup: two librdkafka consumers with one group.id share a topic
// and commit.
func TestLibrdkafkaConsumerGroup(t *testing.T) {
	tb := startBroker(t, "", groupOverrides)
	const topic = "rdk-group"
	createTopic(t, tb.admin(), topic, 4, nil)
	const n = 200

	var mu sync.Mutex
	got := map[string]int{}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for i := 0; i < 2; i++ {
		c, err := kafka.NewConsumer(&kafka.ConfigMap{
			"bootstrap.servers":       tb.Addr,
			"group.id":                "rdk-g",
			"auto.offset.reset":       "earliest",
			"auto.commit.interval.ms": 100,
		})
		if err != nil {
			t.Fatal(err)
		}
		if err := c.Subscribe(topic, nil); err != nil {
			t.Fatal(err)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer c.Close()
			for {
				select {
				case <-stop:
					return
				default:
				}
				ev := c.Poll(50)
				if m, ok := ev.(*kafka.Message); ok {
					mu.Lock()
					got[string(m.Value)]++
					mu.Unlock()
				}
			}
		}()
	}
	defer func() { close(stop); wg.Wait() }()
	waitFor(t, "both members in the group", func() bool {
		d, err := tb.admin().DescribeGroups(testCtx(t), "rdk-g")
		return err == nil && d["rdk-g"].State == "Stable" && len(d["rdk-g"].Members) == 2
	})
	produceValues(t, tb, topic, "r", n)
	waitFor(t, "all records", func() bool { mu.Lock(); defer mu.Unlock(); return len(got) == n })
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
	mu.Lock()
	defer mu.Unlock()
	for v, c := range got {
		if c != 1 {
			t.Errorf("%s consumed %d times", v, c)
		}
	}
}
