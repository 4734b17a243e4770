package broker_test

import (
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/samsa-io/samsa/internal/batchtest"
	"github.com/samsa-io/samsa/internal/commitlog"
)

// fetchReq builds a fetch of one partition with the given limits.
func fetchReq(t *testing.T, cl *kgo.Client, topic string, offset int64, maxWait, minBytes, maxBytes, partMax int32) *kmsg.FetchRequest {
	t.Helper()
	td, err := kadm.NewClient(cl).ListTopics(testCtx(t), topic)
	if err != nil {
		t.Fatal(err)
	}
	req := kmsg.NewPtrFetchRequest()
	req.MaxWaitMillis, req.MinBytes, req.MaxBytes = maxWait, minBytes, maxBytes
	req.SessionEpoch = -1
	rt := kmsg.NewFetchRequestTopic()
	rt.Topic, rt.TopicID = topic, td[topic].ID
	rp := kmsg.NewFetchRequestTopicPartition()
	rp.FetchOffset, rp.PartitionMaxBytes, rp.CurrentLeaderEpoch = offset, partMax, -1
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	return req
}

// TestFetchLongPollWokenByProduce: a fetch waiting with a max wait far longer than the
// test's own deadline returns as soon as a record is produced.
func TestFetchLongPollWokenByProduce(t *testing.T) {
	tb := startBroker(t, "", nil)
	createTopic(t, tb, "poll", 1, nil)
	cl := tb.client()
	req := fetchReq(t, cl, "poll", 0, 600_000, 1, 1<<20, 1<<20)

	type result struct {
		resp *kmsg.FetchResponse
		err  error
	}
	done := make(chan result, 1)
	go func() {
		resp, err := req.RequestWith(testCtx(t), leader(t, cl, "poll", 0))
		done <- result{resp, err}
	}()
	select {
	case r := <-done:
		t.Fatalf("fetch returned before any data: %+v %v", r.resp, r.err)
	case <-time.After(200 * time.Millisecond):
	}
	prod := tb.client(kgo.DefaultProduceTopic("poll"))
	if err := prod.ProduceSync(testCtx(t), &kgo.Record{Value: []byte("wake")}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	select {
	case r := <-done:
		if r.err != nil {
			t.Fatal(r.err)
		}
		p := r.resp.Topics[0].Partitions[0]
		if p.ErrorCode != 0 || p.HighWatermark != 1 || len(p.RecordBatches) == 0 {
			t.Fatalf("woken fetch: error %d hw %d %d bytes", p.ErrorCode, p.HighWatermark, len(p.RecordBatches))
		}
	case <-time.After(30 * time.Second):
		t.Fatal("a produce did not wake the waiting fetch (its max wait is 10 minutes)")
	}
}

// TestFetchLimits checks max_bytes and partition_max_bytes with Kafka's semantics: the
// records are the bytes from the batch holding the fetch offset up to the limit, so
// whole batches and at most one trailing partial batch (which clients drop), except
// that a first batch larger than the limit is returned whole (KIP-74) so a consumer can
// always progress.
func TestFetchLimits(t *testing.T) {
	tb := startBroker(t, "", nil)
	createTopic(t, tb, "lim", 1, nil)
	cl := tb.client()
	var sizes []int
	for i := 0; i < 10; i++ {
		b := batchtest.Values(time.Now().UnixMilli(), string(make([]byte, 1000)))
		enc := b.Encode()
		sizes = append(sizes, len(enc))
		if r := produceRaw(t, cl, "lim", 0, enc); r.ErrorCode != 0 {
			t.Fatalf("produce: %d", r.ErrorCode)
		}
	}
	// split counts the whole batches and the bytes of a trailing partial one.
	split := func(records []byte) (whole, partial int) {
		for len(records) > 0 {
			h, err := commitlog.ParseBatchHeader(records)
			if err != nil || int(h.Size()) > len(records) {
				return whole, len(records)
			}
			records = records[h.Size():]
			whole++
		}
		return whole, 0
	}
	for _, c := range []struct {
		name             string
		maxBytes, partMx int32
		whole, partial   int
	}{
		{"room for three and a bit", 1 << 20, int32(3*sizes[0] + 10), 3, 10},
		{"room for exactly two", 1 << 20, int32(2 * sizes[0]), 2, 0},
		{"response limit cuts the partition", int32(2*sizes[0] + 100), 1 << 20, 2, 100},
		{"tiny partition limit still gives one", 1 << 20, 10, 1, 0},
		{"tiny response limit still gives one", 10, 1 << 20, 1, 0},
		{"everything", 1 << 20, 1 << 20, 10, 0},
	} {
		resp, err := fetchReq(t, cl, "lim", 0, 0, 0, c.maxBytes, c.partMx).RequestWith(testCtx(t), leader(t, cl, "lim", 0))
		if err != nil {
			t.Fatal(err)
		}
		p := resp.Topics[0].Partitions[0]
		whole, partial := split(p.RecordBatches)
		if p.ErrorCode != 0 || whole != c.whole || partial != c.partial {
			t.Errorf("%s: %d whole batches and %d bytes (error %d), want %d and %d", c.name, whole, partial, p.ErrorCode, c.whole, c.partial)
		}
	}
	// A fetch from the middle of the log starts at the batch holding the offset.
	resp, err := fetchReq(t, cl, "lim", 7, 0, 0, 1<<20, 1<<20).RequestWith(testCtx(t), leader(t, cl, "lim", 0))
	if err != nil {
		t.Fatal(err)
	}
	h, err := commitlog.ParseBatchHeader(resp.Topics[0].Partitions[0].RecordBatches)
	if err != nil || h.BaseOffset != 7 {
		t.Errorf("fetch at 7 starts at batch %d (%v)", h.BaseOffset, err)
	}
}
