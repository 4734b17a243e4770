package broker

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/samsa-io/samsa/internal/batchtest"
	"github.com/samsa-io/samsa/internal/commitlog"
)

// TestProduceManyPartitionsInParallel sends produce requests large enough for their
// partitions to be appended concurrently: every partition gets its batches at the
// offsets it should, in request order, and errors stay with their partition.
func TestProduceManyPartitionsInParallel(t *testing.T) {
	b, cl := runInternal(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if resp, err := kadm.NewClient(cl).CreateTopic(ctx, 8, 1, nil, "wide"); err != nil || resp.Err != nil {
		t.Fatal(err, resp.Err)
	}
	value := strings.Repeat("x", 64<<10)
	request := func(parts ...int32) *kmsg.ProduceRequest {
		req := kmsg.NewPtrProduceRequest()
		req.Version, req.Acks, req.TimeoutMillis = 9, -1, 5000
		rt := kmsg.NewProduceRequestTopic()
		rt.Topic = "wide"
		for _, p := range parts {
			rp := kmsg.NewProduceRequestTopicPartition()
			rp.Partition = p
			rp.Records = batchtest.Values(time.Now().UnixMilli(), value, value).Encode()
			rt.Partitions = append(rt.Partitions, rp)
		}
		req.Topics = append(req.Topics, rt)
		return req
	}
	all := []int32{0, 1, 2, 3, 4, 5, 6, 7}
	if !b.appendInParallel(request(all...)) {
		t.Fatal("a 1 MiB request for 8 partitions is not appended in parallel")
	}
	for round := range 3 {
		kresp, err := b.handleProduce(ctx, &conn{b: b}, request(all...))
		if err != nil {
			t.Fatal(err)
		}
		for i, sp := range kresp.(*kmsg.ProduceResponse).Topics[0].Partitions {
			if sp.Partition != all[i] || sp.ErrorCode != 0 || sp.BaseOffset != int64(2*round) {
				t.Fatalf("round %d slot %d: partition %d error %d base offset %d; want partition %d at %d",
					round, i, sp.Partition, sp.ErrorCode, sp.BaseOffset, all[i], 2*round)
			}
		}
	}

	// A partition named twice is appended in order, not in parallel.
	twice := request(0, 0, 1, 2)
	if b.appendInParallel(twice) {
		t.Fatal("a request naming partition 0 twice would be appended in parallel")
	}
	kresp, err := b.handleProduce(ctx, &conn{b: b}, twice)
	if err != nil {
		t.Fatal(err)
	}
	sps := kresp.(*kmsg.ProduceResponse).Topics[0].Partitions
	if sps[0].BaseOffset != 6 || sps[1].BaseOffset != 8 {
		t.Fatalf("partition 0 twice: base offsets %d, %d; want 6, 8", sps[0].BaseOffset, sps[1].BaseOffset)
	}

	// An unknown partition fails alone.
	bad := request(0, 1, 2, 3, 99)
	kresp, err = b.handleProduce(ctx, &conn{b: b}, bad)
	if err != nil {
		t.Fatal(err)
	}
	for _, sp := range kresp.(*kmsg.ProduceResponse).Topics[0].Partitions {
		want := int16(0)
		if sp.Partition == 99 {
			want = kerr.UnknownTopicOrPartition.Code
		}
		if sp.ErrorCode != want {
			t.Errorf("partition %d: error %d, want %d", sp.Partition, sp.ErrorCode, want)
		}
	}
	// Three rounds of 2 records everywhere, then 4 more in partition 0 and 2 in 1 and 2,
	// then 2 more in 0-3.
	for p, want := range map[int32]int64{0: 12, 1: 10, 2: 10, 3: 8, 4: 6} {
		lg, err := b.replicas.Get(commitlog.TopicPartition{Topic: "wide", Partition: p})
		if err != nil {
			t.Fatal(err)
		}
		if got := lg.Log.LogEndOffset(); got != want {
			t.Errorf("partition %d ends at %d, want %d", p, got, want)
		}
	}
}

func TestFrameBufferClasses(t *testing.T) {
	for _, tt := range []struct{ n, want int }{
		{1, 16 << 10}, {20 << 10, 64 << 10}, {1 << 20, 1 << 20}, {1<<20 + 1, 2 << 20}, {5 << 20, 8 << 20}, {16 << 20, 16 << 20}, {17 << 20, 17 << 20},
	} {
		buf := frameBuffer(tt.n)
		if len(buf) != 0 || cap(buf) != tt.want {
			t.Errorf("frameBuffer(%d): len %d cap %d, want cap %d", tt.n, len(buf), cap(buf), tt.want)
		}
		recycleFrame(buf)
	}
}

// TestPartitionNotHostedYet: a partition the metadata has but whose log this node has
// not created yet answers NOT_LEADER_OR_FOLLOWER (retriable), one the metadata lacks
// UNKNOWN_TOPIC_OR_PARTITION.
func TestPartitionNotHostedYet(t *testing.T) {
	b, cl := runInternal(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	b.replicasReady.Store(false) // metadata changes no longer reach the partitions
	if resp, err := kadm.NewClient(cl).CreateTopic(ctx, 2, 1, nil, "later"); err != nil || resp.Err != nil {
		t.Fatal(err, resp.Err)
	}
	for _, tt := range []struct {
		partition int32
		want      *kerr.Error
	}{{0, kerr.NotLeaderForPartition}, {1, kerr.NotLeaderForPartition}, {2, kerr.UnknownTopicOrPartition}} {
		_, err := b.partition(commitlog.TopicPartition{Topic: "later", Partition: tt.partition})
		var ke *kerr.Error
		if !errors.As(err, &ke) || ke != tt.want {
			t.Errorf("partition %d: %v, want %v", tt.partition, err, tt.want)
		}
	}
	b.replicasReady.Store(true)
	if err := b.reconcile(); err != nil {
		t.Fatal(err)
	}
	if _, err := b.partition(commitlog.TopicPartition{Topic: "later", Partition: 1}); err != nil {
		t.Fatalf("after reconciling: %v", err)
	}
}

// TestWideProduceWithClient: franz-go producing large batches to many partitions at
// once sends requests that take the parallel append path; every partition reads back
// its records in the order they were produced.
func TestWideProduceWithClient(t *testing.T) {
	_, cl := runInternal(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	const parts, perPart = 8, 64
	if resp, err := kadm.NewClient(cl).CreateTopic(ctx, parts, 1, nil, "wide-client"); err != nil || resp.Err != nil {
		t.Fatal(err, resp.Err)
	}
	p, err := kgo.NewClient(kgo.SeedBrokers(cl.OptValue(kgo.SeedBrokers).([]string)...), kgo.DefaultProduceTopic("wide-client"),
		kgo.RecordPartitioner(kgo.ManualPartitioner()), kgo.ProducerLinger(50*time.Millisecond), kgo.ProducerBatchCompression(kgo.NoCompression()))
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	before := parallelProduces.Load()
	pad := strings.Repeat("p", 8<<10)
	var wg sync.WaitGroup
	var failed atomic.Value
	for i := range perPart {
		for part := range int32(parts) {
			wg.Add(1)
			r := &kgo.Record{Partition: part, Value: []byte(fmt.Sprintf("%d-%03d-%s", part, i, pad))}
			p.Produce(ctx, r, func(_ *kgo.Record, err error) {
				if err != nil {
					failed.Store(err)
				}
				wg.Done()
			})
		}
	}
	wg.Wait()
	if err, _ := failed.Load().(error); err != nil {
		t.Fatal(err)
	}
	if parallelProduces.Load() == before {
		t.Fatal("no produce request took the parallel append path")
	}
	c, err := kgo.NewClient(kgo.SeedBrokers(cl.OptValue(kgo.SeedBrokers).([]string)...), kgo.ConsumeTopics("wide-client"),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	next := make(map[int32]int)
	for n := 0; n < parts*perPart; {
		fs := c.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			t.Fatalf("read %d of %d records: %v", n, parts*perPart, err)
		}
		fs.EachRecord(func(r *kgo.Record) {
			want := fmt.Sprintf("%d-%03d-", r.Partition, next[r.Partition])
			if !strings.HasPrefix(string(r.Value), want) || r.Offset != int64(next[r.Partition]) {
				t.Errorf("partition %d offset %d holds %.8q, want %q", r.Partition, r.Offset, r.Value, want)
			}
			next[r.Partition]++
			n++
		})
	}
}
