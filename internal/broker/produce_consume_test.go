package broker_test

import (
	"bytes"
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// TestProduceConsumeCodecsAndAcks produces keyed and unkeyed records with every codec
// and every acks level through franz-go, then reads them back and checks order per
// partition, keys, values, headers and timestamps.
func TestProduceConsumeCodecsAndAcks(t *testing.T) {
	tb := startBroker(t, "", nil)
	const topic = "codecs"
	createTopic(t, tb, topic, 3, nil)

	codecs := map[string]kgo.CompressionCodec{
		"none":   kgo.NoCompression(),
		"gzip":   kgo.GzipCompression(),
		"snappy": kgo.SnappyCompression(),
		"lz4":    kgo.Lz4Compression(),
		"zstd":   kgo.ZstdCompression(),
	}
	acks := map[string]kgo.Acks{"0": kgo.NoAck(), "1": kgo.LeaderAck(), "all": kgo.AllISRAcks()}

	base := time.UnixMilli(1_700_000_000_000)
	var sent []*kgo.Record
	for cname, codec := range codecs {
		for aname, ack := range acks {
			opts := []kgo.Opt{kgo.ProducerBatchCompression(codec), kgo.RequiredAcks(ack), kgo.DefaultProduceTopic(topic)}
			if aname != "all" {
				opts = append(opts, kgo.DisableIdempotentWrite())
			}
			cl := tb.client(opts...)
			for i := 0; i < 30; i++ {
				r := &kgo.Record{
					Value:     []byte(fmt.Sprintf("%s/%s/%d", cname, aname, i)),
					Timestamp: base.Add(time.Duration(len(sent)) * time.Millisecond),
					Headers:   []kgo.RecordHeader{{Key: "codec", Value: []byte(cname)}, {Key: "i", Value: []byte(strconv.Itoa(i))}},
				}
				if i%2 == 0 { // keyed; the odd ones are left to the sticky partitioner
					r.Key = []byte(fmt.Sprintf("key-%d", i%7))
				}
				sent = append(sent, r)
				if err := cl.ProduceSync(testCtx(t), r).FirstErr(); err != nil {
					t.Fatalf("produce %s acks=%s: %v", cname, aname, err)
				}
			}
			if err := cl.Flush(testCtx(t)); err != nil {
				t.Fatal(err)
			}
		}
	}

	got := consumeAll(t, tb, topic, len(sent))
	if len(got) != len(sent) {
		t.Fatalf("consumed %d records, sent %d", len(got), len(sent))
	}
	byValue := make(map[string]*kgo.Record, len(sent))
	for _, r := range sent {
		byValue[string(r.Value)] = r
	}
	lastOffset := map[int32]int64{}
	// Order is only promised per producer: records of different clients (and acks=0
	// ones, which are not waited for) may interleave.
	type stream struct {
		partition int32
		producer  string
	}
	lastSeq := map[stream]int{}
	for _, r := range got {
		want := byValue[string(r.Value)]
		if want == nil {
			t.Fatalf("unexpected record %q", r.Value)
		}
		delete(byValue, string(r.Value))
		if string(r.Key) != string(want.Key) {
			t.Errorf("record %q: key %q, want %q", r.Value, r.Key, want.Key)
		}
		if !r.Timestamp.Equal(want.Timestamp) {
			t.Errorf("record %q: timestamp %v, want %v", r.Value, r.Timestamp, want.Timestamp)
		}
		if len(r.Headers) != 2 || r.Headers[0].Key != "codec" || string(r.Headers[1].Value) != string(want.Headers[1].Value) {
			t.Errorf("record %q: headers %v", r.Value, r.Headers)
		}
		if prev, ok := lastOffset[r.Partition]; ok && r.Offset <= prev {
			t.Errorf("partition %d: offset %d after %d", r.Partition, r.Offset, prev)
		}
		lastOffset[r.Partition] = r.Offset
		// Within a partition each producer's records keep their send order.
		seq := indexOf(sent, want)
		st := stream{r.Partition, string(want.Value[:bytes.LastIndexByte(want.Value, '/')])}
		if prev, ok := lastSeq[st]; ok && seq < prev {
			t.Errorf("partition %d: record %q arrived after a later one", r.Partition, r.Value)
		}
		lastSeq[st] = seq
	}
	if len(byValue) != 0 {
		t.Errorf("%d records never consumed", len(byValue))
	}
	if len(lastOffset) != 3 {
		t.Errorf("records landed in %d partitions, want 3", len(lastOffset))
	}
}

func indexOf(rs []*kgo.Record, r *kgo.Record) int {
	for i := range rs {
		if rs[i] == r {
			return i
		}
	}
	return -1
}
