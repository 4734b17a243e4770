package commitlog

import (
	"bytes"
	"errors"
	"hash/crc32"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func TestValidateBatches(t *testing.T) {
	now := time.UnixMilli(1_700_000_000_000)
	nowMs := now.UnixMilli()
	base := validateOptions{maxMessageBytes: 1 << 20, timestampType: CreateTime, now: now,
		timestampBeforeMax: time.Hour, timestampAfterMax: time.Hour}
	ok := makeBatch(batchSpec{n: 3, firstTs: nowMs})
	cat := func(bs ...[]byte) []byte { return bytes.Join(bs, nil) }
	flip := func(b []byte, i int) []byte { c := bytes.Clone(b); c[i] ^= 0x40; return c }
	setLen := func(b []byte, n int32) []byte {
		c := bytes.Clone(b)
		c[8], c[9], c[10], c[11] = byte(n>>24), byte(n>>16), byte(n>>8), byte(n)
		return c
	}
	mod := func(f func(*kmsg.RecordBatch)) []byte { return makeBatch(batchSpec{n: 2, firstTs: nowMs, mod: f}) }

	for _, tc := range []struct {
		name    string
		records []byte
		opts    func(*validateOptions)
		want    *kerr.Error // nil: accepted
		batches int
	}{
		{name: "one batch", records: ok, batches: 1},
		{name: "several batches", records: cat(ok, ok, ok), batches: 3},
		{name: "empty from client", records: nil, want: kerr.InvalidRecord},
		{name: "empty from replication", records: nil, opts: func(o *validateOptions) { o.fromReplication = true }},
		{name: "short header", records: ok[:40], want: kerr.CorruptMessage},
		{name: "truncated batch", records: ok[:len(ok)-1], want: kerr.CorruptMessage},
		{name: "trailing bytes", records: cat(ok, ok[:20]), want: kerr.CorruptMessage},
		{name: "length below header", records: setLen(ok, 48), want: kerr.CorruptMessage},
		{name: "length past end", records: setLen(ok, int32(len(ok))), want: kerr.CorruptMessage},
		{name: "magic 1", records: mod(func(rb *kmsg.RecordBatch) { rb.Magic = 1 }), want: kerr.InvalidRecord},
		{name: "bad crc", records: flip(ok, len(ok)-1), want: kerr.CorruptMessage},
		{name: "crc covers attributes", records: flip(ok, offAttributes+1), want: kerr.CorruptMessage},
		{name: "zero records", records: mod(func(rb *kmsg.RecordBatch) { rb.NumRecords = 0 }), want: kerr.InvalidRecord},
		{name: "count mismatch", records: mod(func(rb *kmsg.RecordBatch) { rb.LastOffsetDelta = 5 }), want: kerr.InvalidRecord},
		{name: "count mismatch from replication", records: mod(func(rb *kmsg.RecordBatch) { rb.LastOffsetDelta = 5 }),
			opts: func(o *validateOptions) { o.fromReplication = true }, batches: 1},
		{name: "negative lastOffsetDelta", records: mod(func(rb *kmsg.RecordBatch) { rb.LastOffsetDelta = -1 }),
			opts: func(o *validateOptions) { o.fromReplication = true }, want: kerr.InvalidRecord},
		{name: "too large", records: ok, opts: func(o *validateOptions) { o.maxMessageBytes = int32(len(ok) - 1) }, want: kerr.MessageTooLarge},
		{name: "exactly max", records: ok, opts: func(o *validateOptions) { o.maxMessageBytes = int32(len(ok)) }, batches: 1},
		{name: "too old", records: makeBatch(batchSpec{firstTs: nowMs - 2*time.Hour.Milliseconds()}), want: kerr.InvalidTimestamp},
		{name: "too new", records: makeBatch(batchSpec{firstTs: nowMs + 2*time.Hour.Milliseconds()}), want: kerr.InvalidTimestamp},
		{name: "max timestamp too new", records: makeBatch(batchSpec{n: 2, firstTs: nowMs, tsStep: 2 * time.Hour.Milliseconds()}), want: kerr.InvalidTimestamp},
		{name: "no timestamp passes", records: makeBatch(batchSpec{firstTs: -1}), batches: 1},
		{name: "old ok when check disabled", records: makeBatch(batchSpec{firstTs: 5}),
			opts: func(o *validateOptions) { o.timestampBeforeMax = -1 }, batches: 1},
		{name: "old ok for LogAppendTime", records: makeBatch(batchSpec{firstTs: 5}),
			opts: func(o *validateOptions) { o.timestampType = LogAppendTime }, batches: 1},
		{name: "control from client", records: makeBatch(batchSpec{firstTs: nowMs, attrs: attrControl}), want: kerr.InvalidRecord},
		{name: "control from replication", records: makeBatch(batchSpec{firstTs: nowMs, attrs: attrControl}),
			opts: func(o *validateOptions) { o.fromReplication = true }, batches: 1},
		{name: "idempotent", records: makeBatch(batchSpec{firstTs: nowMs, idempotent: true, pid: 7}), batches: 1},
		{name: "idempotent without sequence", records: makeBatch(batchSpec{firstTs: nowMs, idempotent: true, pid: 7, seq: -1}), want: kerr.InvalidRecord},
		{name: "two idempotent batches", records: cat(ok, makeBatch(batchSpec{firstTs: nowMs, idempotent: true, pid: 7})), want: kerr.InvalidRecord},
		{name: "compressed stored as is", records: makeBatch(batchSpec{firstTs: nowMs, attrs: 4}), batches: 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := base
			if tc.opts != nil {
				tc.opts(&o)
			}
			refs, err := validateBatches(tc.records, o)
			if tc.want == nil {
				if err != nil {
					t.Fatalf("rejected: %v", err)
				}
				if len(refs) != tc.batches {
					t.Fatalf("got %d batches, want %d", len(refs), tc.batches)
				}
				return
			}
			var ke *kerr.Error
			if !errors.As(err, &ke) || ke != tc.want {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
		})
	}
}

func TestReadBatchLengthBounds(t *testing.T) {
	b := makeBatch(batchSpec{n: 1})
	for _, length := range []int32{0, 48, int32(len(b) - 11), -5} {
		c := bytes.Clone(b)
		c[8], c[9], c[10], c[11] = byte(length>>24), byte(length>>16), byte(length>>8), byte(length)
		if _, err := ReadBatch(c); !errors.Is(err, kerr.CorruptMessage) {
			t.Errorf("length %d: got %v, want CorruptMessage", length, err)
		}
	}
	if _, err := ReadBatch(b); err != nil {
		t.Fatalf("valid batch: %v", err)
	}
}

func TestSetLogAppendTime(t *testing.T) {
	b := makeBatch(batchSpec{n: 3, firstTs: 100, tsStep: 10})
	setLogAppendTime(b, 5000)
	h, err := ReadBatch(b)
	if err != nil {
		t.Fatalf("CRC not rewritten: %v", err)
	}
	if h.TimestampType() != LogAppendTime || h.MaxTimestamp != 5000 || h.FirstTimestamp != 100 {
		t.Fatalf("got type %v max %d first %d", h.TimestampType(), h.MaxTimestamp, h.FirstTimestamp)
	}
}

func TestLastSequence(t *testing.T) {
	for _, tc := range []struct {
		base, delta, want int32
	}{
		{0, 0, 0}, {5, 3, 8}, {2147483647, 0, 2147483647}, {2147483647, 1, 0}, {2147483645, 4, 1}, {-1, 3, -1},
	} {
		h := BatchHeader{BaseSequence: tc.base, LastOffsetDelta: tc.delta}
		if got := h.LastSequence(); got != tc.want {
			t.Errorf("LastSequence(%d+%d) = %d, want %d", tc.base, tc.delta, got, tc.want)
		}
	}
}

func TestForEachRecord(t *testing.T) {
	b := makeBatch(batchSpec{n: 4, firstTs: 1000, tsStep: 7})
	h, _ := ReadBatch(b)
	var offs, tss []int64
	if err := forEachRecord(b, &h, func(o, ts int64) bool { offs, tss = append(offs, o), append(tss, ts); return true }); err != nil {
		t.Fatal(err)
	}
	if len(offs) != 4 || offs[3] != 3 || tss[3] != 1021 {
		t.Fatalf("offsets %v timestamps %v", offs, tss)
	}
	if off, ts := firstRecordAtOrAfter(b, &h, 1008); off != 2 || ts != 1014 {
		t.Fatalf("firstRecordAtOrAfter = %d, %d; want 2, 1014", off, ts)
	}
}

func FuzzParseBatches(f *testing.F) {
	f.Add(makeBatch(batchSpec{n: 2, firstTs: 10}))
	f.Add(bytes.Join([][]byte{makeBatch(batchSpec{}), makeBatch(batchSpec{n: 3, attrs: 3})}, nil))
	f.Add(makeBatch(batchSpec{idempotent: true, pid: 1}))
	f.Add([]byte{})
	f.Add(make([]byte, 61))
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, repl := range []bool{false, true} {
			o := validateOptions{maxMessageBytes: 1 << 20, now: time.UnixMilli(0), fromReplication: repl}
			refs, err := validateBatches(data, o)
			if err != nil {
				continue
			}
			pos := 0
			for _, r := range refs {
				if r.pos != pos {
					t.Fatalf("batch at %d, expected %d", r.pos, pos)
				}
				h, err := ReadBatch(data[pos:])
				if err != nil || h != r.h {
					t.Fatalf("accepted batch does not re-parse: %v %+v %+v", err, h, r.h)
				}
				if crc32.Checksum(data[pos+offAttributes:pos+int(h.Size())], castagnoli) != h.CRC {
					t.Fatal("crc mismatch on accepted batch")
				}
				b := data[pos : pos+int(h.Size())]
				if h.Compression() == 0 {
					_ = forEachRecord(b, &h, func(int64, int64) bool { return true })
				}
				firstRecordAtOrAfter(b, &h, 0)
				pos += int(h.Size())
			}
			if pos != len(data) {
				t.Fatalf("accepted %d of %d bytes", pos, len(data))
			}
		}
	})
}
