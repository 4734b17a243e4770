package broker_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/IBM/sarama"
)

// TestSaramaProduceConsume proves the broker with a second, independent client
// implementation: sarama produces with every codec and acks level, then consumes every
// partition from the oldest offset and checks keys, values, headers and timestamps.
func TestSaramaProduceConsume(t *testing.T) {
	tb := startBroker(t, "", nil)

	cfg := sarama.NewConfig()
	cfg.Version = sarama.V3_6_0_0
	cfg.ClientID = "samsa-sarama-test"
	cfg.Producer.Return.Successes = true
	cfg.Producer.Partitioner = sarama.NewHashPartitioner
	cfg.Metadata.Retry.Backoff = 50 * time.Millisecond

	adminCl, err := sarama.NewClusterAdmin([]string{tb.Addr}, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer adminCl.Close()
	const topic = "sarama"
	if err := adminCl.CreateTopic(topic, &sarama.TopicDetail{NumPartitions: 3, ReplicationFactor: 1}, false); err != nil {
		t.Fatal(err)
	}

	codecs := []sarama.CompressionCodec{sarama.CompressionNone, sarama.CompressionGZIP, sarama.CompressionSnappy, sarama.CompressionLZ4, sarama.CompressionZSTD}
	acks := []sarama.RequiredAcks{sarama.NoResponse, sarama.WaitForLocal, sarama.WaitForAll}
	base := time.UnixMilli(1_700_000_000_000)
	want := map[string]*sarama.ProducerMessage{}
	for _, codec := range codecs {
		for _, ack := range acks {
			pcfg := *cfg
			pcfg.Producer.Compression = codec
			pcfg.Producer.RequiredAcks = ack
			prod, err := sarama.NewSyncProducer([]string{tb.Addr}, &pcfg)
			if err != nil {
				t.Fatal(err)
			}
			var msgs []*sarama.ProducerMessage
			for i := 0; i < 20; i++ {
				m := &sarama.ProducerMessage{
					Topic:     topic,
					Key:       sarama.StringEncoder(fmt.Sprintf("k%d", i%5)),
					Value:     sarama.StringEncoder(fmt.Sprintf("%s/%d/%d", codec, ack, i)),
					Headers:   []sarama.RecordHeader{{Key: []byte("h"), Value: []byte(codec.String())}},
					Timestamp: base.Add(time.Duration(len(want)) * time.Millisecond),
				}
				msgs = append(msgs, m)
				want[fmt.Sprintf("%s/%d/%d", codec, ack, i)] = m
			}
			if err := prod.SendMessages(msgs); err != nil {
				t.Fatalf("%s acks=%d: %v", codec, ack, err)
			}
			prod.Close()
		}
	}

	client, err := sarama.NewClient([]string{tb.Addr}, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	cons, err := sarama.NewConsumerFromClient(client)
	if err != nil {
		t.Fatal(err)
	}
	defer cons.Close()
	got := 0
	for p := int32(0); p < 3; p++ {
		pc, err := cons.ConsumePartition(topic, p, sarama.OffsetOldest)
		if err != nil {
			t.Fatal(err)
		}
		hw, err := client.GetOffset(topic, p, sarama.OffsetNewest)
		if err != nil {
			t.Fatal(err)
		}
		last := int64(-1)
		for last+1 < hw {
			select {
			case m := <-pc.Messages():
				w := want[string(m.Value)]
				if w == nil {
					t.Fatalf("unexpected message %q", m.Value)
				}
				delete(want, string(m.Value))
				wk, _ := w.Key.Encode()
				if string(m.Key) != string(wk) || !m.Timestamp.Equal(w.Timestamp) || len(m.Headers) != 1 || string(m.Headers[0].Value) != string(w.Headers[0].Value) {
					t.Errorf("message %q: key %q ts %v headers %v", m.Value, m.Key, m.Timestamp, m.Headers)
				}
				if m.Offset <= last {
					t.Errorf("partition %d: offset %d after %d", p, m.Offset, last)
				}
				last = m.Offset
				got++
			case err := <-pc.Errors():
				t.Fatal(err)
			case <-time.After(20 * time.Second):
				t.Fatalf("partition %d: stuck at offset %d of %d", p, last, hw)
			}
		}
		pc.Close()
	}
	if len(want) != 0 {
		t.Errorf("%d messages never consumed (got %d)", len(want), got)
	}
}
