package broker_test

import (
	"bytes"
	"encoding/binary"
	"hash/crc32"
	"math/rand"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/samsa-io/samsa/internal/batchtest"
	"github.com/samsa-io/samsa/internal/broker"
	"github.com/samsa-io/samsa/internal/commitlog"
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// checkBatches parses records as a fetch returns them from offset: whole batches with
// a valid CRC-32C, the first holding offset and each following the previous, then at
// most a partial batch. It returns the whole batches.
func checkBatches(records []byte, offset int64) ([][]byte, string) {
	var out [][]byte
	next := int64(-1)
	for len(records) > 0 {
		h, err := commitlog.ParseBatchHeader(records)
		if err != nil || int(h.Size()) > len(records) {
			break // a trailing partial batch
		}
		b := records[:h.Size()]
		if crc32.Checksum(b[21:], castagnoli) != binary.BigEndian.Uint32(b[17:21]) {
			return nil, "bad CRC"
		}
		if next < 0 && (h.BaseOffset > offset || h.LastOffset() < offset) {
			return nil, "first batch does not hold the fetch offset"
		}
		if next >= 0 && h.BaseOffset != next {
			return nil, "batches are not contiguous"
		}
		next = h.LastOffset() + 1
		out = append(out, b)
		records = records[h.Size():]
	}
	return out, ""
}

// TestConcurrentFetchesSamePartition: many connections fetching one partition at once,
// from different offsets and with different limits, each get exactly the stored bytes
// (sendfile with an explicit position: the segment's shared file offset is never used).
func TestConcurrentFetchesSamePartition(t *testing.T) {
	tb := startBroker(t, "", nil)
	seg := "65536"
	createTopic(t, tb, "conc", 1, map[string]*string{"segment.bytes": &seg})
	cl := tb.client()
	rng := rand.New(rand.NewSource(1))
	var produced [][]byte
	for i := 0; i < 150; i++ {
		v := make([]byte, 100+rng.Intn(3000))
		rng.Read(v)
		enc := batchtest.Values(time.Now().UnixMilli(), string(v), "second").Encode()
		if r := produceRaw(t, cl, "conc", 0, enc); r.ErrorCode != 0 {
			t.Fatalf("produce: %d", r.ErrorCode)
		}
		produced = append(produced, enc)
	}
	// The reference: the whole log read sequentially, checked against what was produced
	// (the broker sets only the base offset and the leader epoch, outside the CRC).
	var ref [][]byte
	for off := int64(0); len(ref) < len(produced); {
		resp, err := fetchReq(t, cl, "conc", off, 0, 0, 1<<20, 1<<20).RequestWith(testCtx(t), leader(t, cl, "conc", 0))
		if err != nil {
			t.Fatal(err)
		}
		bs, bad := checkBatches(resp.Topics[0].Partitions[0].RecordBatches, off)
		if bad != "" || len(bs) == 0 {
			t.Fatalf("sequential fetch at %d: %q, %d batches", off, bad, len(bs))
		}
		for _, b := range bs {
			want := produced[len(ref)]
			if !bytes.Equal(b[8:12], want[8:12]) || !bytes.Equal(b[16:], want[16:]) {
				t.Fatalf("batch %d differs from the one produced", len(ref))
			}
			ref = append(ref, b)
			off += 2
		}
	}

	tmpl := fetchReq(t, cl, "conc", 0, 0, 0, 1<<20, 1<<20)
	ctx := testCtx(t)
	before := broker.SendfileCalls()
	const conns, fetches = 8, 25
	var wg sync.WaitGroup
	errs := make(chan string, conns*fetches)
	for c := 0; c < conns; c++ {
		fcl := leader(t, tb.client(), "conc", 0)
		seed := int64(c)
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewSource(seed))
			for i := 0; i < fetches; i++ {
				k := rng.Intn(len(ref))
				req := *tmpl
				req.Topics = []kmsg.FetchRequestTopic{tmpl.Topics[0]}
				req.Topics[0].Partitions = []kmsg.FetchRequestTopicPartition{tmpl.Topics[0].Partitions[0]}
				req.Topics[0].Partitions[0].FetchOffset = int64(2*k + rng.Intn(2))
				req.Topics[0].Partitions[0].PartitionMaxBytes = int32(1 + rng.Intn(40000))
				resp, err := req.RequestWith(ctx, fcl)
				if err != nil {
					errs <- err.Error()
					continue
				}
				got := resp.Topics[0].Partitions[0].RecordBatches
				want := bytes.Join(ref[k:], nil)
				if len(got) < len(ref[k]) || !bytes.HasPrefix(want, got) {
					errs <- "a fetch returned bytes other than the stored ones"
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
	if n := broker.SendfileCalls() - before; n < conns*fetches {
		t.Errorf("%d record sets sent with sendfile, want at least %d", n, conns*fetches)
	}
}

// TestFetchDuringRetention: fetches of the oldest data while retention deletes the
// segments under them. Every response holds correct batches or an offset-out-of-range
// error; a send whose segment was closed first closes the connection (the client
// retries). Nothing panics, and sendfile serves the records.
func TestFetchDuringRetention(t *testing.T) {
	tb := startBroker(t, "", map[string]string{"log.retention.check.interval.ms": "5"})
	seg, ret := "16384", "32768"
	createTopic(t, tb, "ret", 1, map[string]*string{"segment.bytes": &seg, "retention.bytes": &ret})
	cl := tb.client()
	tmpl := fetchReq(t, cl, "ret", 0, 0, 0, 1<<20, 1<<20)
	ctx := testCtx(t)
	before := broker.SendfileCalls()

	stop := make(chan struct{})
	var wg sync.WaitGroup
	type stats struct{ ok, outOfRange, connErrs int }
	results := make(chan stats, 4)
	errs := make(chan string, 4)
	for c := 0; c < 4; c++ {
		fcl := leader(t, tb.client(), "ret", 0)
		wg.Add(1)
		go func() {
			defer wg.Done()
			var st stats
			defer func() { results <- st }()
			off := int64(0)
			for {
				select {
				case <-stop:
					return
				default:
				}
				req := *tmpl
				req.Topics = []kmsg.FetchRequestTopic{tmpl.Topics[0]}
				req.Topics[0].Partitions = []kmsg.FetchRequestTopicPartition{tmpl.Topics[0].Partitions[0]}
				req.Topics[0].Partitions[0].FetchOffset = off
				resp, err := req.RequestWith(ctx, fcl)
				if err != nil {
					st.connErrs++
					continue
				}
				p := resp.Topics[0].Partitions[0]
				switch p.ErrorCode {
				case 0:
					if _, bad := checkBatches(p.RecordBatches, off); bad != "" {
						errs <- bad
						return
					}
					st.ok++
				case kerr.OffsetOutOfRange.Code:
					st.outOfRange++
				default:
					errs <- kerr.ErrorForCode(p.ErrorCode).Error()
					return
				}
				off = max(off, p.LogStartOffset) // keep reading the oldest segment
			}
		}()
	}
	rng := rand.New(rand.NewSource(2))
	for i := 0; i < 300; i++ {
		v := make([]byte, 1000)
		rng.Read(v)
		if r := produceRaw(t, cl, "ret", 0, batchtest.Values(time.Now().UnixMilli(), string(v)).Encode()); r.ErrorCode != 0 {
			t.Fatalf("produce: %d", r.ErrorCode)
		}
	}
	close(stop)
	wg.Wait()
	close(errs)
	close(results)
	for e := range errs {
		t.Error(e)
	}
	var total stats
	for st := range results {
		total.ok += st.ok
		total.outOfRange += st.outOfRange
		total.connErrs += st.connErrs
	}
	t.Logf("%d fetches with data, %d out of range, %d connection errors", total.ok, total.outOfRange, total.connErrs)
	if total.ok == 0 {
		t.Error("no fetch returned data")
	}
	if fr := fetch(t, cl, "ret", 0, 0); fr.LogStartOffset == 0 {
		t.Error("retention deleted nothing")
	}
	if broker.SendfileCalls() == before {
		t.Error("no record set was sent with sendfile")
	}
}
