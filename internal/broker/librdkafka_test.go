// The librdkafka client needs cgo; without a C compiler Go builds without it and this
// file is left out.

//go:build cgo

package broker_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/confluentinc/confluent-kafka-go/v2/kafka"
)

// TestLibrdkafkaProduceConsume proves the broker with librdkafka (through
// confluent-kafka-go and its bundled library): the admin client creates a topic, the
// idempotent producer writes with each codec, and a consumer assigned to every partition
// reads everything back with keys, headers and timestamps.
func TestLibrdkafkaProduceConsume(t *testing.T) {
	tb := startBroker(t, "", nil)
	const topic = "rdkafka"
	ctx := testCtx(t)

	adm, err := kafka.NewAdminClient(&kafka.ConfigMap{"bootstrap.servers": tb.Addr})
	if err != nil {
		t.Fatal(err)
	}
	res, err := adm.CreateTopics(ctx, []kafka.TopicSpecification{{Topic: topic, NumPartitions: 3, ReplicationFactor: 1}})
	adm.Close()
	if err != nil || res[0].Error.Code() != kafka.ErrNoError {
		t.Fatalf("create topic: %v %v", err, res)
	}

	base := time.UnixMilli(1_700_000_000_000)
	want := map[string]*kafka.Message{}
	for _, codec := range []string{"none", "gzip", "snappy", "lz4", "zstd"} {
		p, err := kafka.NewProducer(&kafka.ConfigMap{
			"bootstrap.servers":  tb.Addr,
			"enable.idempotence": true,
			"compression.codec":  codec,
			"linger.ms":          5,
		})
		if err != nil {
			t.Fatal(err)
		}
		tp := topic
		reports := make(chan kafka.Event, 50)
		for i := 0; i < 50; i++ {
			m := &kafka.Message{
				TopicPartition: kafka.TopicPartition{Topic: &tp, Partition: kafka.PartitionAny},
				Key:            []byte(fmt.Sprintf("k%d", i%9)),
				Value:          []byte(fmt.Sprintf("%s-%d", codec, i)),
				Headers:        []kafka.Header{{Key: "codec", Value: []byte(codec)}},
				Timestamp:      base.Add(time.Duration(len(want)) * time.Millisecond),
			}
			want[string(m.Value)] = m
			if err := p.Produce(m, reports); err != nil {
				t.Fatal(err)
			}
		}
		for i := 0; i < 50; i++ {
			select {
			case ev := <-reports:
				if m := ev.(*kafka.Message); m.TopicPartition.Error != nil {
					t.Fatalf("%s: delivery failed: %v", codec, m.TopicPartition.Error)
				}
			case <-ctx.Done():
				t.Fatalf("%s: %d messages not delivered", codec, 50-i)
			}
		}
		p.Close()
	}

	c, err := kafka.NewConsumer(&kafka.ConfigMap{
		"bootstrap.servers":  tb.Addr,
		"group.id":           "unused", // assign() needs no group coordinator
		"enable.auto.commit": false,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	tp := topic
	var parts []kafka.TopicPartition
	for p := int32(0); p < 3; p++ {
		parts = append(parts, kafka.TopicPartition{Topic: &tp, Partition: p, Offset: kafka.OffsetBeginning})
	}
	if err := c.Assign(parts); err != nil {
		t.Fatal(err)
	}
	last := map[int32]kafka.Offset{}
	deadline := time.Now().Add(45 * time.Second)
	for len(want) > 0 && time.Now().Before(deadline) {
		ev := c.Poll(200)
		switch e := ev.(type) {
		case *kafka.Message:
			w := want[string(e.Value)]
			if w == nil {
				t.Fatalf("unexpected message %q", e.Value)
			}
			delete(want, string(e.Value))
			if string(e.Key) != string(w.Key) || !e.Timestamp.Equal(w.Timestamp) || len(e.Headers) != 1 || string(e.Headers[0].Value) != string(w.Headers[0].Value) {
				t.Errorf("message %q: key %q ts %v headers %v", e.Value, e.Key, e.Timestamp, e.Headers)
			}
			if prev, ok := last[e.TopicPartition.Partition]; ok && e.TopicPartition.Offset <= prev {
				t.Errorf("partition %d: offset %v after %v", e.TopicPartition.Partition, e.TopicPartition.Offset, prev)
			}
			last[e.TopicPartition.Partition] = e.TopicPartition.Offset
		case kafka.Error:
			if e.IsFatal() {
				t.Fatal(e)
			}
		}
	}
	if len(want) != 0 {
		t.Fatalf("%d messages never consumed", len(want))
	}
}
