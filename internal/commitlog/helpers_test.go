package commitlog

import (
	"errors"
	"hash/crc32"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// batchSpec describes a test batch; zero values give a plain uncompressed batch of one
// record with no producer.
type batchSpec struct {
	n          int   // records, default 1
	firstTs    int64 // first record timestamp
	tsStep     int64 // timestamp delta between records
	valueSize  int
	attrs      int16
	pid        int64 // default -1 via noPID
	epoch      int16
	seq        int32
	idempotent bool
	mod        func(*kmsg.RecordBatch) // applied before length and CRC are computed
}

// makeBatch builds a v2 batch with kmsg and a correct length and CRC-32C.
func makeBatch(s batchSpec) []byte {
	if s.n == 0 {
		s.n = 1
	}
	var recs []byte
	for i := 0; i < s.n; i++ {
		r := kmsg.Record{
			TimestampDelta64: int64(i) * s.tsStep,
			OffsetDelta:      int32(i),
			Key:              []byte{byte(i)},
			Value:            make([]byte, s.valueSize),
		}
		body := r.AppendTo(nil)
		r.Length = int32(len(body) - 1) // body without the 1-byte zero length varint
		recs = r.AppendTo(recs)
	}
	rb := kmsg.RecordBatch{
		PartitionLeaderEpoch: -1,
		Magic:                2,
		Attributes:           s.attrs,
		LastOffsetDelta:      int32(s.n - 1),
		FirstTimestamp:       s.firstTs,
		MaxTimestamp:         s.firstTs + int64(s.n-1)*s.tsStep,
		ProducerID:           -1,
		ProducerEpoch:        -1,
		FirstSequence:        -1,
		NumRecords:           int32(s.n),
		Records:              recs,
	}
	if s.idempotent {
		rb.ProducerID, rb.ProducerEpoch, rb.FirstSequence = s.pid, s.epoch, s.seq
	}
	if s.mod != nil {
		s.mod(&rb)
	}
	return finishBatch(&rb)
}

func finishBatch(rb *kmsg.RecordBatch) []byte {
	b := rb.AppendTo(nil)
	rb.Length = int32(len(b) - 12)
	b = rb.AppendTo(nil)
	rb.CRC = int32(crc32.Checksum(b[21:], crc32.MakeTable(crc32.Castagnoli)))
	return rb.AppendTo(nil)
}

type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func newFakeClock() *fakeClock { return &fakeClock{now: time.UnixMilli(1_700_000_000_000)} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Add(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

func (c *fakeClock) Ms() int64 { return c.Now().UnixMilli() }

// faultFS wraps the OS and can fail writes (a full disk) after writing part of the
// buffer, and counts fsyncs of .log files.
type faultFS struct {
	failWrites atomic.Bool
	logSyncs   atomic.Int64
}

var errNoSpace = errors.New("no space left on device (injected)")

func (fs *faultFS) OpenFile(name string, flag int, perm os.FileMode) (File, error) {
	f, err := os.OpenFile(name, flag, perm)
	if err != nil {
		return nil, err
	}
	return &faultFile{File: f, fs: fs, isLog: len(name) > 4 && name[len(name)-4:] == ".log"}, nil
}

type faultFile struct {
	*os.File
	fs    *faultFS
	isLog bool
}

func (f *faultFile) WriteAt(b []byte, off int64) (int, error) {
	if f.fs.failWrites.Load() {
		// A partial write, as a disk filling up mid-write would leave.
		n, _ := f.File.WriteAt(b[:len(b)/2], off)
		return n, errNoSpace
	}
	return f.File.WriteAt(b, off)
}

func (f *faultFile) Sync() error {
	if f.isLog {
		f.fs.logSyncs.Add(1)
	}
	return f.File.Sync()
}

func TestMain(m *testing.M) {
	slog.SetDefault(slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})))
	os.Exit(m.Run())
}

func testConfig() Config {
	cfg := DefaultConfig()
	cfg.TimestampAfterMax = -1 // test timestamps are arbitrary
	return cfg
}

func openTestLog(t testing.TB, dir string, cfg Config, opts Options) *Log {
	t.Helper()
	l, err := Open(dir, cfg, 0, 0, opts)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	return l
}

func mustAppend(t testing.TB, l *Log, b []byte, opts AppendOptions) AppendResult {
	t.Helper()
	res, err := l.Append(b, opts)
	if err != nil {
		t.Fatalf("Append: %v", err)
	}
	return res
}

// eachBatch calls fn with every stored batch from the log start to the log end.
func eachBatch(t testing.TB, l *Log, fn func(h BatchHeader, batch []byte)) {
	t.Helper()
	off := l.LogStartOffset()
	for off < l.LogEndOffset() {
		res, err := l.Read(off, 1<<20, l.LogEndOffset(), true)
		if err != nil {
			t.Fatalf("Read(%d): %v", off, err)
		}
		if len(res.Records) == 0 {
			t.Fatalf("Read(%d) returned nothing below LEO %d", off, l.LogEndOffset())
		}
		for b := res.Records; len(b) > 0; {
			h, err := ReadBatch(b)
			if err != nil {
				t.Fatalf("Read(%d) returned a bad batch: %v", off, err)
			}
			fn(h, b[:h.Size()])
			b = b[h.Size():]
			off = h.LastOffset() + 1
		}
	}
}

// readAll reads every batch header from the log start to the log end.
func readAll(t testing.TB, l *Log) []BatchHeader {
	t.Helper()
	var out []BatchHeader
	eachBatch(t, l, func(h BatchHeader, _ []byte) { out = append(out, h) })
	return out
}
