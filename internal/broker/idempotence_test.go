package broker_test

import (
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/samsa-io/samsa/internal/batchtest"
)

// produceRaw sends one batch to a partition with acks=all and returns the partition's
// response.
func produceRaw(t *testing.T, cl *kgo.Client, topic string, partition int32, batch []byte) kmsg.ProduceResponseTopicPartition {
	t.Helper()
	req := kmsg.NewPtrProduceRequest()
	req.Acks = -1
	req.TimeoutMillis = 10000
	rt := kmsg.NewProduceRequestTopic()
	rt.Topic = topic
	rp := kmsg.NewProduceRequestTopicPartition()
	rp.Partition = partition
	rp.Records = batch
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	resp, err := req.RequestWith(testCtx(t), leader(t, cl, topic, partition))
	if err != nil {
		t.Fatal(err)
	}
	return resp.Topics[0].Partitions[0]
}

func initProducerID(t *testing.T, cl *kgo.Client) (int64, int16) {
	t.Helper()
	req := kmsg.NewPtrInitProducerIDRequest()
	resp, err := req.RequestWith(testCtx(t), cl)
	if err != nil || resp.ErrorCode != 0 {
		t.Fatalf("init producer id: %v %d", err, resp.ErrorCode)
	}
	return resp.ProducerID, resp.ProducerEpoch
}

func idemBatch(pid int64, epoch int16, seq int32, values ...string) []byte {
	b := batchtest.Values(1_700_000_000_000, values...)
	b.Idempotent, b.ProducerID, b.ProducerEpoch, b.FirstSequence = true, pid, epoch, seq
	return b.Encode()
}

// TestIdempotentProducerDedupe drives the producer-state rules with raw batches: retries
// of any of the last five batches return their original offsets, gaps and stale epochs
// are refused, unknown producer ids are refused, and the state survives a restart.
func TestIdempotentProducerDedupe(t *testing.T) {
	tb := startBroker(t, "", nil)
	createTopic(t, tb, "idem", 1, nil)
	cl := tb.client()
	pid, epoch := initProducerID(t, cl)
	pid2, _ := initProducerID(t, cl)
	if pid2 == pid {
		t.Fatalf("two InitProducerId calls returned the same id %d", pid)
	}

	type step struct {
		name     string
		batch    []byte
		wantErr  *kerr.Error
		wantBase int64
	}
	steps := []step{
		{"first", idemBatch(pid, epoch, 0, "a", "b", "c"), nil, 0},
		{"retry of first", idemBatch(pid, epoch, 0, "a", "b", "c"), nil, 0},
		{"second", idemBatch(pid, epoch, 3, "d", "e"), nil, 3},
		{"third", idemBatch(pid, epoch, 5, "f"), nil, 5},
		{"retry of first again", idemBatch(pid, epoch, 0, "a", "b", "c"), nil, 0},
		{"retry of second", idemBatch(pid, epoch, 3, "d", "e"), nil, 3},
		{"gap", idemBatch(pid, epoch, 9, "x"), kerr.OutOfOrderSequenceNumber, -1},
		{"other producer", idemBatch(pid2, 0, 0, "p"), nil, 6},
		{"unknown producer id", idemBatch(1<<40, 0, 0, "u"), kerr.UnknownProducerID, -1},
		{"epoch bump", idemBatch(pid, epoch+1, 0, "g"), nil, 7},
		{"stale epoch", idemBatch(pid, epoch, 6, "h"), kerr.InvalidProducerEpoch, -1},
	}
	for _, s := range steps {
		r := produceRaw(t, cl, "idem", 0, s.batch)
		if err := kerr.ErrorForCode(r.ErrorCode); err != nil || s.wantErr != nil {
			if err != s.wantErr {
				t.Fatalf("%s: error %v, want %v", s.name, err, s.wantErr)
			}
			continue
		}
		if r.BaseOffset != s.wantBase {
			t.Fatalf("%s: base offset %d, want %d", s.name, r.BaseOffset, s.wantBase)
		}
	}
	if n := len(consumeAll(t, tb, "idem", 8)); n != 8 {
		t.Fatalf("log holds %d records, want 8", n)
	}

	// Producer state survives a restart: the retry is still recognised.
	tb = tb.restart(nil)
	cl = tb.client()
	if r := produceRaw(t, cl, "idem", 0, idemBatch(pid, epoch+1, 0, "g")); r.ErrorCode != 0 || r.BaseOffset != 7 {
		t.Fatalf("retry after restart: error %d base %d, want 0 and 7", r.ErrorCode, r.BaseOffset)
	}
	if r := produceRaw(t, cl, "idem", 0, idemBatch(pid, epoch+1, 1, "i")); r.ErrorCode != 0 || r.BaseOffset != 8 {
		t.Fatalf("next batch after restart: error %d base %d, want 0 and 8", r.ErrorCode, r.BaseOffset)
	}
	// Ids are never reissued after a restart.
	if p, _ := initProducerID(t, cl); p == pid || p == pid2 {
		t.Fatalf("producer id %d reissued after restart", p)
	}

	// DescribeProducers lists both producers.
	req := kmsg.NewPtrDescribeProducersRequest()
	rt := kmsg.NewDescribeProducersRequestTopic()
	rt.Topic, rt.Partitions = "idem", []int32{0}
	req.Topics = append(req.Topics, rt)
	resp, err := req.RequestWith(testCtx(t), cl)
	if err != nil {
		t.Fatal(err)
	}
	if got := len(resp.Topics[0].Partitions[0].ActiveProducers); got != 2 {
		t.Errorf("DescribeProducers lists %d producers, want 2", got)
	}
}

// TestIdempotentClient checks that franz-go's idempotent producer (its default) works
// end to end, many concurrent batches in flight.
func TestIdempotentClient(t *testing.T) {
	tb := startBroker(t, "", nil)
	createTopic(t, tb, "idem-client", 3, nil)
	cl := tb.client(kgo.DefaultProduceTopic("idem-client"), kgo.ProducerLinger(0))
	const n = 2000
	errs := make(chan error, n)
	for i := 0; i < n; i++ {
		cl.Produce(testCtx(t), &kgo.Record{Key: []byte{byte(i)}, Value: []byte{byte(i >> 8), byte(i)}}, func(_ *kgo.Record, err error) { errs <- err })
	}
	for i := 0; i < n; i++ {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	if got := len(consumeAll(t, tb, "idem-client", n)); got != n {
		t.Fatalf("consumed %d, want %d", got, n)
	}
}
