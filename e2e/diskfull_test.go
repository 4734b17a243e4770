package e2e

import (
	"bytes"
	"os/exec"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/samsa-io/samsa/internal/batchtest"
)

// TestDiskFull runs the broker on a tiny tmpfs and produces until the disk is full:
// the produce that does not fit gets KAFKA_STORAGE_ERROR, the broker stays up, every
// acknowledged record is still readable, and once space is freed (DeleteRecords removes
// old segments) produce works again. Mounting needs root, which CI has.
func TestDiskFull(t *testing.T) {
	dir := t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=3m", "tmpfs", dir).CombinedOutput(); err != nil {
		t.Skipf("cannot mount a tmpfs (needs root): %v %s", err, out)
	}
	t.Cleanup(func() { exec.Command("umount", "-l", dir).Run() })

	p := startProc(t, dir, "log.segment.bytes=262144")
	cl := p.client(t)
	createTopic(t, cl, "full", 1)

	value := bytes.Repeat([]byte("x"), 16<<10)
	produce := func() kmsg.ProduceResponseTopicPartition {
		b := batchtest.Batch{FirstTimestamp: time.Now().UnixMilli()}
		for i := 0; i < 4; i++ {
			b.Records = append(b.Records, batchtest.Record{Value: value})
		}
		req := kmsg.NewPtrProduceRequest()
		req.Acks = -1
		req.TimeoutMillis = 5000
		rt := kmsg.NewProduceRequestTopic()
		rt.Topic = "full"
		rp := kmsg.NewProduceRequestTopicPartition()
		rp.Records = b.Encode()
		rt.Partitions = append(rt.Partitions, rp)
		req.Topics = append(req.Topics, rt)
		resp, err := req.RequestWith(ctxFor(t, 30*time.Second), cl)
		if err != nil {
			t.Fatalf("produce request: %v", err)
		}
		return resp.Topics[0].Partitions[0]
	}

	acked := 0
	for i := 0; ; i++ {
		if i > 200 {
			t.Fatal("3 MiB tmpfs never filled up")
		}
		r := produce()
		if r.ErrorCode == 0 {
			acked += 4
			continue
		}
		if r.ErrorCode != kerr.KafkaStorageError.Code {
			t.Fatalf("produce on a full disk: error %v, want KAFKA_STORAGE_ERROR", kerr.ErrorForCode(r.ErrorCode))
		}
		break
	}
	if acked == 0 {
		t.Fatal("nothing was acknowledged before the disk filled")
	}

	adm := kadm.NewClient(cl)
	if end := endOffset(t, cl, "full", 0); end != int64(acked) {
		t.Fatalf("end offset %d after the full disk, want %d acknowledged records", end, acked)
	}
	seen := 0
	cons := p.client(t, kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{"full": {0: kgo.NewOffset().AtStart()}}), kgo.FetchMaxBytes(1<<20))
	ctx := ctxFor(t, 30*time.Second)
	for seen < acked {
		fs := cons.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("read %d of %d acknowledged records", seen, acked)
		}
		fs.EachError(func(_ string, _ int32, err error) { t.Fatal(err) })
		fs.EachRecord(func(r *kgo.Record) {
			if !bytes.Equal(r.Value, value) {
				t.Fatalf("record %d damaged", r.Offset)
			}
			seen++
		})
	}

	// Free space by deleting old records; whole segments go, and writes work again.
	offs := kadm.Offsets{}
	offs.Add(kadm.Offset{Topic: "full", Partition: 0, At: int64(acked)})
	if res, err := adm.DeleteRecords(ctxFor(t, 30*time.Second), offs); err != nil || res.Error() != nil {
		t.Fatalf("delete records: %v %v", err, res.Error())
	}
	if r := produce(); r.ErrorCode != 0 || r.BaseOffset != int64(acked) {
		t.Fatalf("produce after freeing space: error %v base %d, want none and %d", kerr.ErrorForCode(r.ErrorCode), r.BaseOffset, acked)
	}
}
