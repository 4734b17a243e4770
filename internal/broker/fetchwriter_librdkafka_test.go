// The librdkafka client needs cgo; without a C compiler Go builds without it and this
// file is left out.

//go:build cgo

package broker_test

import (
	"testing"
	"time"

	"github.com/confluentinc/confluent-kafka-go/v2/kafka"
)

// TestLibrdkafkaDropsTrailingPartialBatch: librdkafka with a small partition limit gets
// responses ending in a partial batch and reads every record once, in order.
func TestLibrdkafkaDropsTrailingPartialBatch(t *testing.T) {
	tb := startBroker(t, "", nil)
	const n = 40
	producePartialBatchTopic(t, tb, "partial", n)
	c, err := kafka.NewConsumer(&kafka.ConfigMap{
		"bootstrap.servers":         tb.Addr,
		"group.id":                  "unused", // assign() needs no group coordinator
		"enable.auto.commit":        false,
		"max.partition.fetch.bytes": 2500,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	topic := "partial"
	if err := c.Assign([]kafka.TopicPartition{{Topic: &topic, Partition: 0, Offset: kafka.OffsetBeginning}}); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for i := 0; i < n; {
		if time.Now().After(deadline) {
			t.Fatalf("only %d of %d records consumed", i, n)
		}
		switch e := c.Poll(200).(type) {
		case *kafka.Message:
			if string(e.Value) != partialBatchValue(i) || int64(e.TopicPartition.Offset) != int64(i) {
				t.Fatalf("record %d: offset %v value %.4q", i, e.TopicPartition.Offset, e.Value)
			}
			i++
		case kafka.Error:
			if e.IsFatal() {
				t.Fatal(e)
			}
		}
	}
}
