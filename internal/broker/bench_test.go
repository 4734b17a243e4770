package broker_test

import (
	"crypto/rand"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/samsa-io/samsa/internal/brokertest"
)

// BenchmarkProduce1KiB measures produce throughput through a real client against an
// in-process broker: 1 KiB incompressible records to one partition, acks=1.
//
//	go test -run '^$' -bench Produce1KiB -benchmem ./internal/broker/
func BenchmarkProduce1KiB(b *testing.B) {
	tb := brokertest.Start(b, "", nil)
	tb.CreateTopic("bench", 1, nil)
	cl := tb.Client(kgo.DefaultProduceTopic("bench"), kgo.ProducerBatchCompression(kgo.NoCompression()),
		kgo.ProducerLinger(2*time.Millisecond), kgo.ProducerBatchMaxBytes(1<<20), kgo.MaxBufferedRecords(50000),
		kgo.RequiredAcks(kgo.LeaderAck()), kgo.DisableIdempotentWrite())
	payload := make([]byte, 1024)
	rand.Read(payload)
	ctx := brokertest.Ctx(b)
	b.SetBytes(int64(len(payload)))
	b.ResetTimer()
	var wg sync.WaitGroup
	wg.Add(b.N)
	for i := 0; i < b.N; i++ {
		cl.Produce(ctx, &kgo.Record{Value: payload}, func(_ *kgo.Record, err error) {
			if err != nil {
				b.Error(err)
			}
			wg.Done()
		})
	}
	wg.Wait()
}

// BenchmarkFetch1KiB measures consuming 1 KiB records from the start of a partition.
func BenchmarkFetch1KiB(b *testing.B) {
	tb := brokertest.Start(b, "", nil)
	tb.CreateTopic("bench", 1, nil)
	prod := tb.Client(kgo.DefaultProduceTopic("bench"), kgo.ProducerBatchCompression(kgo.NoCompression()),
		kgo.ProducerLinger(2*time.Millisecond), kgo.MaxBufferedRecords(50000))
	payload := make([]byte, 1024)
	rand.Read(payload)
	ctx := brokertest.Ctx(b)
	var wg sync.WaitGroup
	wg.Add(b.N)
	for i := 0; i < b.N; i++ {
		prod.Produce(ctx, &kgo.Record{Value: payload}, func(_ *kgo.Record, _ error) { wg.Done() })
	}
	wg.Wait()
	cons := tb.Client(kgo.ConsumeTopics("bench"), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchMaxBytes(64<<20))
	b.SetBytes(int64(len(payload)))
	b.ResetTimer()
	for got := 0; got < b.N; {
		got += cons.PollFetches(ctx).NumRecords()
	}
}
