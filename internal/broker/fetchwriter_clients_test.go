package broker_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/IBM/sarama"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/samsa-io/samsa/internal/batchtest"
)

// partialBatchValue is the value of record i in the partial-batch tests: about 1 KiB,
// so a 2500-byte partition limit ends most fetch responses inside a batch.
func partialBatchValue(i int) string { return fmt.Sprintf("%04d", i) + strings.Repeat("x", 1000) }

// producePartialBatchTopic writes n one-record batches of partialBatchValue to topic.
func producePartialBatchTopic(t *testing.T, tb *testBroker, topic string, n int) {
	t.Helper()
	createTopic(t, tb, topic, 1, nil)
	cl := tb.client()
	for i := 0; i < n; i++ {
		if r := produceRaw(t, cl, topic, 0, batchtest.Values(time.Now().UnixMilli(), partialBatchValue(i)).Encode()); r.ErrorCode != 0 {
			t.Fatalf("produce: %d", r.ErrorCode)
		}
	}
}

// TestClientsDropTrailingPartialBatch: franz-go and sarama consuming with a partition
// limit smaller than three batches get responses ending in a partial batch (as Kafka
// sends them) and still read every record once, in order.
func TestClientsDropTrailingPartialBatch(t *testing.T) {
	tb := startBroker(t, "", nil)
	const n = 40
	producePartialBatchTopic(t, tb, "partial", n)

	t.Run("franz-go", func(t *testing.T) {
		cl := tb.client(kgo.ConsumeTopics("partial"), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
			kgo.FetchMaxPartitionBytes(2500), kgo.FetchMaxBytes(2500))
		ctx := testCtx(t)
		for i := 0; i < n; {
			fs := cl.PollFetches(ctx)
			if err := fs.Err(); err != nil {
				t.Fatal(err)
			}
			fs.EachRecord(func(r *kgo.Record) {
				if string(r.Value) != partialBatchValue(i) || r.Offset != int64(i) {
					t.Fatalf("record %d: offset %d value %.4q", i, r.Offset, r.Value)
				}
				i++
			})
		}
	})
	t.Run("sarama", func(t *testing.T) {
		cfg := sarama.NewConfig()
		cfg.Version = sarama.V3_6_0_0
		cfg.Consumer.Fetch.Default = 2500
		cfg.Consumer.Fetch.Max = 2500
		cons, err := sarama.NewConsumer([]string{tb.Addr}, cfg)
		if err != nil {
			t.Fatal(err)
		}
		defer cons.Close()
		pc, err := cons.ConsumePartition("partial", 0, sarama.OffsetOldest)
		if err != nil {
			t.Fatal(err)
		}
		defer pc.Close()
		timeout := time.After(30 * time.Second)
		for i := 0; i < n; i++ {
			select {
			case m := <-pc.Messages():
				if string(m.Value) != partialBatchValue(i) || m.Offset != int64(i) {
					t.Fatalf("record %d: offset %d value %.4q", i, m.Offset, m.Value)
				}
			case err := <-pc.Errors():
				t.Fatal(err)
			case <-timeout:
				t.Fatalf("only %d of %d records consumed", i, n)
			}
		}
	})
}
