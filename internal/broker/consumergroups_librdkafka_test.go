//go:build cgo

package broker_test

import (
	"sync"
	"testing"

	"github.com/confluentinc/confluent-kafka-go/v2/kafka"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// TestLibrdkafkaConsumerProtocol: two librdkafka consumers with group.protocol=consumer
// (KIP-848) share a topic: every record reaches one of them, and the group is a
// consumer group with both members.
func TestLibrdkafkaConsumerProtocol(t *testing.T) {
	tb := startBroker(t, "", groupOverrides)
	const topic = "rdk-848"
	createTopic(t, tb.admin(), topic, 4, nil)
	const n = 200

	var mu sync.Mutex
	got := map[string]int{}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for i := 0; i < 2; i++ {
		c, err := kafka.NewConsumer(&kafka.ConfigMap{
			"bootstrap.servers":       tb.Addr,
			"group.id":                "rdk-848",
			"group.protocol":          "consumer",
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
				if m, ok := c.Poll(50).(*kafka.Message); ok {
					mu.Lock()
					got[string(m.Value)]++
					mu.Unlock()
				}
			}
		}()
	}
	defer func() { close(stop); wg.Wait() }()
	waitFor(t, "both members reconciled", func() bool {
		req := kmsg.NewPtrConsumerGroupDescribeRequest()
		req.Groups = []string{"rdk-848"}
		resp, err := req.RequestWith(testCtx(t), tb.client())
		if err != nil || resp.Groups[0].ErrorCode != 0 || resp.Groups[0].State != "Stable" || len(resp.Groups[0].Members) != 2 {
			return false
		}
		for _, m := range resp.Groups[0].Members {
			if len(m.Assignment.TopicPartitions) == 0 {
				return false
			}
		}
		return true
	})
	produceValues(t, tb, topic, "v", n)
	waitFor(t, "every record", func() bool { mu.Lock(); defer mu.Unlock(); return len(got) == n })
	mu.Lock()
	defer mu.Unlock()
	for v, c := range got {
		if c != 1 {
			t.Errorf("record %s consumed %d times", v, c)
		}
	}
}
