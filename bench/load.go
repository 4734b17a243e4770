package main

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// throughput is one measured transfer.
type throughput struct {
	records int64
	bytes   int64
	elapsed time.Duration
	cpu     float64 // broker CPU seconds during the transfer
}

func (t throughput) recordsPerSec() float64 { return float64(t.records) / t.elapsed.Seconds() }
func (t throughput) mbPerSec() float64      { return float64(t.bytes) / 1e6 / t.elapsed.Seconds() }
func (t throughput) cpuPerGB() float64      { return t.cpu / (float64(t.bytes) / 1e9) }

func createTopic(ctx context.Context, addr, topic string, partitions int32) error {
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr))
	if err != nil {
		return err
	}
	defer cl.Close()
	resp, err := kadm.NewClient(cl).CreateTopic(ctx, partitions, 1, nil, topic)
	if err == nil {
		err = resp.Err
	}
	return err
}

// produce sends n records of size bytes to topic, spread over its partitions, and
// measures the time until every one is acknowledged.
func produce(ctx context.Context, b *broker, topic string, n int, size int, acksAll bool) (throughput, error) {
	opts := []kgo.Opt{
		kgo.SeedBrokers(b.addr),
		kgo.DefaultProduceTopic(topic),
		kgo.ProducerBatchCompression(kgo.NoCompression()),
		kgo.ProducerLinger(2 * time.Millisecond),
		kgo.ProducerBatchMaxBytes(1 << 20),
		kgo.MaxBufferedRecords(50000),
		kgo.RecordPartitioner(kgo.RoundRobinPartitioner()),
	}
	if acksAll {
		opts = append(opts, kgo.RequiredAcks(kgo.AllISRAcks()))
	} else {
		opts = append(opts, kgo.RequiredAcks(kgo.LeaderAck()), kgo.DisableIdempotentWrite())
	}
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return throughput{}, err
	}
	defer cl.Close()
	payload := make([]byte, size)
	rand.Read(payload)

	var failed atomic.Value
	var wg sync.WaitGroup
	wg.Add(n)
	cpu0 := b.cpuSeconds()
	start := time.Now()
	for i := 0; i < n; i++ {
		cl.Produce(ctx, &kgo.Record{Value: payload}, func(_ *kgo.Record, err error) {
			if err != nil {
				failed.Store(err)
			}
			wg.Done()
		})
	}
	wg.Wait()
	el := time.Since(start)
	if err, _ := failed.Load().(error); err != nil {
		return throughput{}, err
	}
	return throughput{records: int64(n), bytes: int64(n) * int64(size), elapsed: el, cpu: b.cpuSeconds() - cpu0}, nil
}

// consume reads n records of topic from the start and measures it.
func consume(ctx context.Context, b *broker, topic string, n int) (throughput, error) {
	cl, err := kgo.NewClient(
		kgo.SeedBrokers(b.addr),
		kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchMaxBytes(64<<20),
		kgo.FetchMaxPartitionBytes(8<<20),
	)
	if err != nil {
		return throughput{}, err
	}
	defer cl.Close()
	var got, bytes int64
	cpu0 := b.cpuSeconds()
	start := time.Now()
	for got < int64(n) {
		fs := cl.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			return throughput{}, fmt.Errorf("consumed %d of %d: %w", got, n, err)
		}
		fs.EachRecord(func(r *kgo.Record) {
			got++
			bytes += int64(len(r.Value))
		})
	}
	el := time.Since(start)
	return throughput{records: got, bytes: bytes, elapsed: el, cpu: b.cpuSeconds() - cpu0}, nil
}

// latencies produces at a fixed rate for d and measures produce-to-consume latency
// of every record (the send time travels in the value).
type latencies struct{ p50, p99, p999 time.Duration }

func e2eLatency(ctx context.Context, b *broker, topic string, rate int, d time.Duration) (latencies, error) {
	prod, err := kgo.NewClient(kgo.SeedBrokers(b.addr), kgo.DefaultProduceTopic(topic), kgo.ProducerLinger(0), kgo.RequiredAcks(kgo.AllISRAcks()))
	if err != nil {
		return latencies{}, err
	}
	defer prod.Close()
	cons, err := kgo.NewClient(kgo.SeedBrokers(b.addr), kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchMaxWait(500*time.Millisecond))
	if err != nil {
		return latencies{}, err
	}
	defer cons.Close()
	// Warm up: one record through both clients, so connections and metadata are in
	// place before the clock starts.
	if err := prod.ProduceSync(ctx, &kgo.Record{Value: make([]byte, 100)}).FirstErr(); err != nil {
		return latencies{}, err
	}
	for cons.PollRecords(ctx, 1).NumRecords() == 0 {
		if err := ctx.Err(); err != nil {
			return latencies{}, err
		}
	}

	n := int(float64(rate) * d.Seconds())
	var samples []time.Duration
	done := make(chan error, 1)
	go func() {
		for len(samples) < n {
			fs := cons.PollFetches(ctx)
			if err := ctx.Err(); err != nil {
				done <- err
				return
			}
			now := time.Now()
			fs.EachRecord(func(r *kgo.Record) {
				sent := time.Unix(0, int64(binary.BigEndian.Uint64(r.Value)))
				samples = append(samples, now.Sub(sent))
			})
		}
		done <- nil
	}()
	interval := time.Second / time.Duration(rate)
	next := time.Now()
	for i := 0; i < n; i++ {
		time.Sleep(time.Until(next))
		next = next.Add(interval)
		v := make([]byte, 100)
		binary.BigEndian.PutUint64(v, uint64(time.Now().UnixNano()))
		prod.Produce(ctx, &kgo.Record{Value: v}, nil)
	}
	if err := <-done; err != nil {
		return latencies{}, err
	}
	slices.Sort(samples)
	at := func(q float64) time.Duration { return samples[min(len(samples)-1, int(q*float64(len(samples))))] }
	return latencies{at(0.50), at(0.99), at(0.999)}, nil
}
