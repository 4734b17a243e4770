package commitlog_test

import (
	"bytes"
	"context"
	"fmt"
	"testing"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/samsa-io/samsa/internal/brokertest"
	"github.com/samsa-io/samsa/internal/commitlog"
)

// TestCompactedTopicEndToEnd produces updates and tombstones to a compacted topic
// through franz-go, cleans the broker's data directory with the Manager's cleaner
// while the broker is down (the broker exposes no trigger; its Manager cleans every
// log.cleaner.backoff.ms), restarts it and consumes from the beginning: the consumer
// sees exactly the latest record of each key, in offset order.
func TestCompactedTopicEndToEnd(t *testing.T) {
	dir := t.TempDir()
	const topic = "compacted"
	b := brokertest.Start(t, dir, nil)
	ctx := brokertest.Ctx(t)
	policy, segBytes := "compact", "200"
	b.CreateTopic(topic, 1, map[string]*string{"cleanup.policy": &policy, "segment.bytes": &segBytes})
	for _, codec := range []kgo.CompressionCodec{kgo.NoCompression(), kgo.ZstdCompression(), kgo.SnappyCompression()} {
		cl := b.Client(kgo.DefaultProduceTopic(topic), kgo.ProducerBatchCompression(codec))
		for round := 0; round < 4; round++ {
			// One call per round: kgo sends the round as one batch, so cleaning
			// rewrites compressed batches that lose some of their records.
			var rs []*kgo.Record
			for k := 0; k < 8; k++ {
				rs = append(rs, &kgo.Record{Key: []byte(fmt.Sprintf("k%d", k)), Value: []byte(fmt.Sprintf("v%d-%d", k, round))})
			}
			if err := cl.ProduceSync(ctx, rs...).FirstErr(); err != nil {
				t.Fatal(err)
			}
		}
		cl.Close()
	}
	// A tombstone for k3, then a record in a segment of its own, so everything
	// before it is sealed and cleanable.
	cl := b.Client(kgo.DefaultProduceTopic(topic), kgo.ProducerBatchCompression(kgo.NoCompression()))
	if err := cl.ProduceSync(ctx, &kgo.Record{Key: []byte("k3")}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	if err := cl.ProduceSync(ctx, &kgo.Record{Key: []byte("end"), Value: bytes.Repeat([]byte("e"), 300)}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	b.Stop()

	m, err := commitlog.OpenManager(dir, commitlog.ManagerOptions{})
	if err != nil {
		t.Fatal(err)
	}
	cfg := commitlog.DefaultConfig()
	cfg.Compact, cfg.Delete, cfg.SegmentBytes = true, false, 200
	l, err := m.GetOrCreate(commitlog.TopicPartition{Topic: topic, Partition: 0}, [16]byte{}, cfg)
	if err != nil {
		t.Fatal(err)
	}
	leo := l.LogEndOffset()
	if n := m.RunCleaner(context.Background()); n != 1 {
		t.Fatalf("RunCleaner cleaned %d logs, want 1", n)
	}
	if l.CleanedTo() != leo-1 {
		t.Fatalf("cleaned to %d, want %d", l.CleanedTo(), leo-1)
	}
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}

	b = brokertest.Start(t, dir, nil)
	consumer := b.Client(kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	type got struct {
		off  int64
		k, v string
		tomb bool
	}
	var recs []got
	for len(recs) == 0 || recs[len(recs)-1].k != "end" {
		fs := consumer.PollFetches(ctx)
		if err := fs.Err(); err != nil {
			t.Fatal(err)
		}
		fs.EachRecord(func(r *kgo.Record) {
			recs = append(recs, got{r.Offset, string(r.Key), string(r.Value), r.Value == nil})
		})
	}
	// Expected: k0..k7 from the last (snappy) pass, except k3, whose tombstone is
	// kept (delete.retention.ms has not passed), then the tombstone, then "end".
	var want []got
	base := int64(2 * 32)
	for k := 0; k < 8; k++ {
		if k == 3 {
			continue
		}
		want = append(want, got{base + 3*8 + int64(k), fmt.Sprintf("k%d", k), fmt.Sprintf("v%d-3", k), false})
	}
	want = append(want, got{96, "k3", "", true}, got{97, "end", string(bytes.Repeat([]byte("e"), 300)), false})
	if fmt.Sprint(recs) != fmt.Sprint(want) {
		t.Fatalf("consumed\n%v\nwant\n%v", recs, want)
	}
}
