package record_test

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"testing"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/samsa-io/samsa/internal/brokertest"
	"github.com/samsa-io/samsa/internal/record"
)

// TestDecodeFranzGoBatches produces through a real franz-go producer with each codec
// (and with franz-go's streaming compression, which frames snappy as xerial), fetches
// the stored batches raw and decodes them.
func TestDecodeFranzGoBatches(t *testing.T) {
	b := brokertest.Start(t, "", nil)
	ctx := brokertest.Ctx(t)
	cases := []struct {
		name   string
		codec  kgo.CompressionCodec
		want   int8
		stream bool
	}{
		{"gzip", kgo.GzipCompression(), record.CodecGzip, false},
		{"snappy-raw", kgo.SnappyCompression(), record.CodecSnappy, false},
		{"snappy-xerial", kgo.SnappyCompression(), record.CodecSnappy, true},
		{"lz4", kgo.Lz4Compression(), record.CodecLZ4, false},
		{"zstd", kgo.ZstdCompression(), record.CodecZstd, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			topic := "codec-" + c.name
			b.CreateTopic(topic, 1, nil)
			opts := []kgo.Opt{kgo.DefaultProduceTopic(topic), kgo.ProducerBatchCompression(c.codec), kgo.ProducerLinger(0)}
			n := 50
			if c.stream {
				// kgo streams (merges a backlog of batches into one xerial-framed
				// batch) only once it has seen a produce response and batches queue
				// up behind one in flight.
				opts = append(opts, kgo.StreamingCompression(), kgo.MaxProduceRequestsInflightPerBroker(1),
					kgo.ProducerBatchMaxBytes(4096))
				n = 2000
			}
			cl := b.Client(opts...)
			var recs []*kgo.Record
			for i := 0; i < n; i++ {
				recs = append(recs, &kgo.Record{
					Key:     []byte(fmt.Sprintf("key-%d", i)),
					Value:   bytes.Repeat([]byte{byte('a' + i%26)}, 100+i%50),
					Headers: []kgo.RecordHeader{{Key: "i", Value: []byte{byte(i)}}},
				})
			}
			if err := cl.ProduceSync(ctx, recs[0]).FirstErr(); err != nil {
				t.Fatal(err)
			}
			if err := cl.ProduceSync(ctx, recs[1:]...).FirstErr(); err != nil {
				t.Fatal(err)
			}
			raw := fetchRaw(t, cl, b, topic)
			var got []record.Record
			xerialSeen := false
			for len(raw) > 0 {
				if len(raw) < 12 {
					t.Fatalf("%d trailing bytes", len(raw))
				}
				size := int(binary.BigEndian.Uint32(raw[8:])) + 12
				batch, err := record.Decode(raw[:size])
				if err != nil {
					t.Fatalf("Decode: %v", err)
				}
				if codec := int8(batch.Attributes & record.CompressionMask); codec != c.want {
					t.Fatalf("batch codec %d, want %d", codec, c.want)
				}
				if c.want == record.CodecSnappy {
					xerial := bytes.HasPrefix(raw[61:size], []byte("\x82SNAPPY\x00"))
					if xerial && !c.stream {
						t.Fatal("xerial framing without streaming compression")
					}
					xerialSeen = xerialSeen || xerial
				}
				got = append(got, batch.Records...)
				raw = raw[size:]
			}
			if c.stream && !xerialSeen {
				t.Error("streaming compression produced no xerial-framed batch")
			}
			if len(got) != n {
				t.Fatalf("decoded %d records, want %d", len(got), n)
			}
			for i, r := range got {
				if r.Offset != int64(i) || !bytes.Equal(r.Key, recs[i].Key) || !bytes.Equal(r.Value, recs[i].Value) ||
					len(r.Headers) != 1 || r.Headers[0].Value[0] != byte(i) {
					t.Fatalf("record %d: offset %d key %q", i, r.Offset, r.Key)
				}
			}
		})
	}
}

// fetchRaw fetches partition 0 of topic from offset 0 and returns the record batches
// as the broker sent them.
func fetchRaw(t *testing.T, cl *kgo.Client, b *brokertest.Broker, topic string) []byte {
	t.Helper()
	ctx := brokertest.Ctx(t)
	details, err := b.Admin().ListTopics(ctx, topic)
	if err != nil {
		t.Fatal(err)
	}
	req := kmsg.NewPtrFetchRequest()
	req.MaxWaitMillis = 100
	req.MaxBytes = 10 << 20
	ft := kmsg.NewFetchRequestTopic()
	ft.Topic = topic
	ft.TopicID = details[topic].ID
	fp := kmsg.NewFetchRequestTopicPartition()
	fp.PartitionMaxBytes = 10 << 20
	ft.Partitions = append(ft.Partitions, fp)
	req.Topics = append(req.Topics, ft)
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		t.Fatal(err)
	}
	if len(resp.Topics) != 1 || len(resp.Topics[0].Partitions) != 1 {
		t.Fatalf("fetch response %+v", resp)
	}
	p := resp.Topics[0].Partitions[0]
	if p.ErrorCode != 0 {
		t.Fatalf("fetch error %d", p.ErrorCode)
	}
	return p.RecordBatches
}
