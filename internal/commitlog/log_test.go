package commitlog

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
)

// segmentFiles lists the base offsets of the .log files in dir.
func segmentFiles(t testing.TB, dir string) []int64 {
	t.Helper()
	bases, err := segmentBases(dir)
	if err != nil {
		t.Fatal(err)
	}
	return bases
}

// checkIndexes verifies every segment's in-memory indexes against an independent scan
// of its batches: entry i of .index names the batch after which more than
// index.interval.bytes had accumulated, .timeindex holds the growing max timestamps,
// and sealed segments end with their max timestamp. A sealed segment's index files
// must equal its entries in memory; the active segment's are written only when it is
// sealed or closed, so its files are not looked at. The active segment is checked
// exactly only when exactActive (after a clean close it carries the close-time entry
// in the middle).
func checkIndexes(t testing.TB, l *Log, exactActive bool) {
	t.Helper()
	l.mu.RLock()
	defer l.mu.RUnlock()
	interval := int64(l.cfg.IndexIntervalBytes)
	for i, s := range l.segments {
		active := i == len(l.segments)-1
		if active == s.sealed {
			t.Fatalf("segment %d: sealed %v, active %v", s.base, s.sealed, active)
		}
		if !active {
			checkIndexFiles(t, l.dir, s)
		}
		if fi, _ := os.Stat(segmentPath(l.dir, s.base, ".log")); fi.Size() != s.st.size {
			t.Fatalf("segment %d: .log has %d bytes, state says %d", s.base, fi.Size(), s.st.size)
		}
		var wantOff []offsetEntry
		var wantTime []timeEntry
		since, maxTs, maxOff := int64(0), int64(-1), s.base
		next := s.base
		_, err := s.walk(0, s.st.size, func(h *BatchHeader, pos int64) bool {
			if h.MaxTimestamp > maxTs {
				maxTs, maxOff = h.MaxTimestamp, h.LastOffset()
			}
			if since > interval {
				wantOff = append(wantOff, offsetEntry{int32(h.LastOffset() - s.base), int32(pos)})
				if maxTs >= 0 && (len(wantTime) == 0 || maxTs > wantTime[len(wantTime)-1].ts) {
					wantTime = append(wantTime, timeEntry{maxTs, int32(maxOff - s.base)})
				}
				since = 0
			}
			since += h.Size()
			next = h.LastOffset() + 1
			return true
		})
		if err != nil {
			t.Fatalf("segment %d: walk: %v", s.base, err)
		}
		if !active && maxTs >= 0 && (len(wantTime) == 0 || maxTs > wantTime[len(wantTime)-1].ts) {
			wantTime = append(wantTime, timeEntry{maxTs, int32(maxOff - s.base)})
		}
		if active && s.st.next != next {
			t.Fatalf("active segment %d: next %d, scan says %d", s.base, s.st.next, next)
		}
		if s.st.maxTs != maxTs {
			t.Fatalf("segment %d: max timestamp %d, scan says %d", s.base, s.st.maxTs, maxTs)
		}
		if active && !exactActive {
			continue
		}
		if !slices.Equal(s.offsets, wantOff) || !slices.Equal(s.times, wantTime) {
			t.Fatalf("segment %d: index\n%v\n%v\nscan says\n%v\n%v", s.base, s.offsets, s.times, wantOff, wantTime)
		}
	}
}

// checkIndexFiles asserts that s's index files on disk hold exactly its entries in
// memory. Needs l.mu.
func checkIndexFiles(t testing.TB, dir string, s *segment) {
	t.Helper()
	idx, err := os.ReadFile(segmentPath(dir, s.base, ".index"))
	if err != nil {
		t.Fatalf("segment %d: %v", s.base, err)
	}
	tidx, err := os.ReadFile(segmentPath(dir, s.base, ".timeindex"))
	if err != nil {
		t.Fatalf("segment %d: %v", s.base, err)
	}
	if !bytes.Equal(idx, encodeOffsetEntries(s.offsets)) || !bytes.Equal(tidx, encodeTimeEntries(s.times)) {
		t.Fatalf("segment %d: index files differ from memory", s.base)
	}
}

// appendSpecs appends one batch per spec and returns the stored bytes of each.
func appendSpecs(t testing.TB, l *Log, specs []batchSpec, epoch int32) [][]byte {
	t.Helper()
	var out [][]byte
	for _, s := range specs {
		b := makeBatch(s)
		mustAppend(t, l, b, AppendOptions{LeaderEpoch: epoch})
		out = append(out, b) // patched in place: now equal to what is stored
	}
	return out
}

func randomSpecs(rng *rand.Rand, n int, ts0 int64) []batchSpec {
	specs := make([]batchSpec, n)
	for i := range specs {
		specs[i] = batchSpec{n: 1 + rng.Intn(4), firstTs: ts0 + int64(i)*10, tsStep: 1, valueSize: rng.Intn(120)}
	}
	return specs
}

func TestAppendReadAcrossSegments(t *testing.T) {
	dir := t.TempDir()
	cfg := testConfig()
	cfg.SegmentBytes = 2000
	cfg.IndexIntervalBytes = 150
	l := openTestLog(t, dir, cfg, Options{})
	defer l.Close()
	rng := rand.New(rand.NewSource(1))
	stored := appendSpecs(t, l, randomSpecs(rng, 300, 1000), 0)

	if n := len(segmentFiles(t, dir)); n < 10 {
		t.Fatalf("only %d segments", n)
	}
	checkIndexes(t, l, true)
	got := readAll(t, l)
	if len(got) != len(stored) {
		t.Fatalf("read %d batches, appended %d", len(got), len(stored))
	}
	var off int64
	for i, b := range stored {
		h, _ := ReadBatch(b)
		if h.BaseOffset != off || got[i] != h {
			t.Fatalf("batch %d: base %d want %d", i, h.BaseOffset, off)
		}
		off = h.LastOffset() + 1
	}
	// Every offset is found through the index, in the batch holding it.
	for o := int64(0); o < l.LogEndOffset(); o++ {
		res, err := l.Read(o, 1, l.LogEndOffset(), true)
		if err != nil {
			t.Fatal(err)
		}
		h, err := ReadBatch(res.Records)
		if err != nil || int64(len(res.Records)) != h.Size() || h.BaseOffset > o || h.LastOffset() < o {
			t.Fatalf("Read(%d) gave batch %d..%d (%v)", o, h.BaseOffset, h.LastOffset(), err)
		}
	}
}

func TestReadLimits(t *testing.T) {
	l := openTestLog(t, t.TempDir(), testConfig(), Options{})
	defer l.Close()
	stored := appendSpecs(t, l, []batchSpec{{n: 2, valueSize: 100}, {n: 3}, {n: 1}}, 0)
	s0, s1 := len(stored[0]), len(stored[1])
	leo := l.LogEndOffset()
	for _, tc := range []struct {
		name      string
		offset    int64
		maxBytes  int
		maxOffset int64
		minOne    bool
		want      []byte
		err       *kerr.Error
	}{
		{"all", 0, 1 << 20, leo, false, bytes.Join(stored, nil), nil},
		{"from middle of first batch", 1, 1 << 20, leo, false, bytes.Join(stored, nil), nil},
		{"maxBytes cuts whole batches", 0, s0 + s1 + 5, leo, false, bytes.Join(stored[:2], nil), nil},
		{"first batch too large", 0, s0 - 1, leo, false, nil, nil},
		{"first batch too large, minOneBatch", 0, s0 - 1, leo, true, stored[0], nil},
		{"zero maxBytes, minOneBatch", 2, 0, leo, true, stored[1], nil},
		{"maxOffset excludes batch crossing it", 0, 1 << 20, 4, false, stored[0], nil},
		{"maxOffset at batch end", 0, 1 << 20, 5, false, bytes.Join(stored[:2], nil), nil},
		{"at maxOffset", 2, 1 << 20, 2, true, nil, nil},
		{"at log end", leo, 1 << 20, leo, true, nil, nil},
		{"past log end", leo + 1, 1 << 20, leo, true, nil, kerr.OffsetOutOfRange},
		{"negative", -1, 1 << 20, leo, true, nil, kerr.OffsetOutOfRange},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res, err := l.Read(tc.offset, tc.maxBytes, tc.maxOffset, tc.minOne)
			if tc.err != nil {
				if !errors.Is(err, tc.err) {
					t.Fatalf("got %v, want %v", err, tc.err)
				}
				return
			}
			if err != nil || !bytes.Equal(res.Records, tc.want) {
				t.Fatalf("got %d bytes (%v), want %d", len(res.Records), err, len(tc.want))
			}
		})
	}
}

func TestRoll(t *testing.T) {
	batch := func(ts int64) []byte { return makeBatch(batchSpec{firstTs: ts, valueSize: 40}) }
	size := int64(len(batch(0)))
	for _, tc := range []struct {
		name  string
		cfg   func(*Config)
		steps func(l *Log, c *fakeClock)
		want  []int64 // segment bases
	}{
		{"by size", func(c *Config) { c.SegmentBytes = 3 * size }, func(l *Log, c *fakeClock) {
			for i := 0; i < 10; i++ {
				l.Append(batch(c.Ms()), AppendOptions{})
			}
		}, []int64{0, 3, 6, 9}},
		{"by first batch timestamp", func(c *Config) { c.SegmentAge = time.Hour }, func(l *Log, c *fakeClock) {
			t0 := c.Ms()
			for _, ts := range []int64{t0, t0 + 30*60_000, t0 + 60*60_000, t0 + 61*60_000, t0 + 62*60_000} {
				l.Append(batch(ts), AppendOptions{})
			}
		}, []int64{0, 3}},
		{"by wall clock without timestamps", func(c *Config) { c.SegmentAge = time.Hour }, func(l *Log, c *fakeClock) {
			l.Append(batch(-1), AppendOptions{})
			c.Add(59 * time.Minute)
			l.Append(batch(-1), AppendOptions{})
			c.Add(2 * time.Minute)
			l.Append(batch(-1), AppendOptions{})
		}, []int64{0, 2}},
		{"by full index", func(c *Config) { c.SegmentIndexBytes = 8; c.IndexIntervalBytes = 0 }, func(l *Log, c *fakeClock) {
			for i := 0; i < 6; i++ {
				l.Append(batch(c.Ms()), AppendOptions{})
			}
		}, []int64{0, 2, 4}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			cfg := testConfig()
			tc.cfg(&cfg)
			clock := newFakeClock()
			l := openTestLog(t, dir, cfg, Options{Clock: clock})
			defer l.Close()
			tc.steps(l, clock)
			if got := segmentFiles(t, dir); !slices.Equal(got, tc.want) {
				t.Fatalf("segments %v, want %v", got, tc.want)
			}
			checkIndexes(t, l, true)
			if len(readAll(t, l)) == 0 {
				t.Fatal("nothing readable")
			}
		})
	}
}

func TestRetention(t *testing.T) {
	batch := func(ts int64) []byte { return makeBatch(batchSpec{firstTs: ts, valueSize: 40}) }
	size := int64(len(batch(0)))
	day := 24 * time.Hour
	t.Run("time", func(t *testing.T) {
		dir := t.TempDir()
		cfg := testConfig()
		cfg.SegmentBytes = size // one batch per segment
		clock := newFakeClock()
		l := openTestLog(t, dir, cfg, Options{Clock: clock})
		defer l.Close()
		now := clock.Ms()
		for _, age := range []time.Duration{10 * day, 9 * day, 8 * day, day, 10 * day, 0} {
			mustAppend(t, l, batch(now-age.Milliseconds()), AppendOptions{})
		}
		if n, err := l.ApplyRetention(); n != 0 || err != nil {
			t.Fatalf("deleted %d (%v) with high watermark 0", n, err)
		}
		l.SetHighWatermark(l.LogEndOffset())
		// Only a prefix goes: offset 4 is old but follows a young segment.
		if n, err := l.ApplyRetention(); n != 3 || err != nil {
			t.Fatalf("deleted %d (%v), want 3", n, err)
		}
		if got := segmentFiles(t, dir); !slices.Equal(got, []int64{3, 4, 5}) || l.LogStartOffset() != 3 {
			t.Fatalf("segments %v, log start %d", got, l.LogStartOffset())
		}
		if _, err := l.Read(2, 100, 10, true); !errors.Is(err, kerr.OffsetOutOfRange) {
			t.Fatalf("read below log start: %v", err)
		}
	})
	t.Run("size", func(t *testing.T) {
		dir := t.TempDir()
		cfg := testConfig()
		cfg.SegmentBytes = size
		cfg.RetentionBytes = size*3 + size/2
		cfg.RetentionTime = -1
		l := openTestLog(t, dir, cfg, Options{})
		defer l.Close()
		for i := 0; i < 10; i++ {
			mustAppend(t, l, batch(1), AppendOptions{})
		}
		l.SetHighWatermark(l.LogEndOffset())
		if n, err := l.ApplyRetention(); n != 6 || err != nil {
			t.Fatalf("deleted %d (%v), want 6", n, err)
		}
		if l.Size() != 4*size || l.LogStartOffset() != 6 {
			t.Fatalf("size %d, log start %d", l.Size(), l.LogStartOffset())
		}
	})
}

func TestDeleteRecordsBefore(t *testing.T) {
	dir := t.TempDir()
	cfg := testConfig()
	cfg.SegmentBytes = 300
	l := openTestLog(t, dir, cfg, Options{})
	defer l.Close()
	for i := 0; i < 20; i++ {
		mustAppend(t, l, makeBatch(batchSpec{n: 2, valueSize: 30}), AppendOptions{LeaderEpoch: int32(i / 5)})
	}
	if _, err := l.DeleteRecordsBefore(5); !errors.Is(err, kerr.OffsetOutOfRange) {
		t.Fatalf("past high watermark: %v", err)
	}
	l.SetHighWatermark(30)
	for _, tc := range []struct{ req, want int64 }{{3, 3}, {2, 3}, {13, 13}, {-1, 30}} {
		got, err := l.DeleteRecordsBefore(tc.req)
		if err != nil || got != tc.want || l.LogStartOffset() != tc.want {
			t.Fatalf("DeleteRecordsBefore(%d) = %d, %v; want %d", tc.req, got, err, tc.want)
		}
		bases := segmentFiles(t, dir)
		if len(bases) > 1 && bases[1] <= tc.want {
			t.Fatalf("segment %d kept below log start %d", bases[0], tc.want)
		}
		res, err := l.Read(tc.want, 1<<20, 40, true)
		if err != nil || len(res.Records) == 0 {
			t.Fatalf("read at log start: %v", err)
		}
	}
	if _, err := l.Read(29, 10, 40, true); !errors.Is(err, kerr.OffsetOutOfRange) {
		t.Fatalf("read below log start: %v", err)
	}
	// Epochs before the new start collapse onto it (Kafka's truncateFromStart).
	if e, off := l.EndOffsetForEpoch(3); e != 3 || off != 40 {
		t.Fatalf("EndOffsetForEpoch(3) = %d, %d", e, off)
	}
	if e, off := l.EndOffsetForEpoch(2); e != 2 || off != 30 {
		t.Fatalf("EndOffsetForEpoch(2) = %d, %d; want 2, 30", e, off)
	}
}

func TestLeaderEpochCache(t *testing.T) {
	dir := t.TempDir()
	l := openTestLog(t, dir, testConfig(), Options{})
	for _, ep := range []int32{0, 0, 2, 2, 5} {
		mustAppend(t, l, makeBatch(batchSpec{}), AppendOptions{LeaderEpoch: ep})
	}
	check := func(leo int64, table [][3]int64) {
		t.Helper()
		for _, c := range table {
			if e, off := l.EndOffsetForEpoch(int32(c[0])); int64(e) != c[1] || off != c[2] {
				t.Errorf("EndOffsetForEpoch(%d) = %d, %d; want %d, %d", c[0], e, off, c[1], c[2])
			}
		}
	}
	check(5, [][3]int64{{-1, -1, -1}, {0, 0, 2}, {1, 0, 2}, {2, 2, 4}, {3, 2, 4}, {4, 2, 4}, {5, 5, 5}, {6, -1, -1}})
	for offset, want := range []int32{0, 0, 2, 2, 5, 5} {
		if got := l.EpochForOffset(int64(offset)); got != want {
			t.Errorf("EpochForOffset(%d) = %d, want %d", offset, got, want)
		}
	}
	data, _ := os.ReadFile(filepath.Join(dir, "leader-epoch-checkpoint"))
	if string(data) != "0\n3\n0 0\n2 2\n5 4\n" {
		t.Fatalf("checkpoint %q", data)
	}
	if h := readAll(t, l)[2]; h.PartitionLeaderEpoch != 2 {
		t.Fatalf("stored epoch %d", h.PartitionLeaderEpoch)
	}
	if err := l.TruncateTo(3); err != nil {
		t.Fatal(err)
	}
	if l.LatestEpoch() != 2 {
		t.Fatalf("latest epoch %d after truncation", l.LatestEpoch())
	}
	check(3, [][3]int64{{2, 2, 3}, {5, -1, -1}})
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	l = openTestLog(t, dir, testConfig(), Options{HadCleanShutdown: true})
	defer l.Close()
	check(3, [][3]int64{{0, 0, 2}, {2, 2, 3}})
	// A follower appending a lower epoch than the latest removes the later entries.
	b := makeBatch(batchSpec{})
	setBaseOffset(b, 3)
	setLeaderEpoch(b, 1)
	mustAppend(t, l, b, AppendOptions{FromReplication: true})
	check(4, [][3]int64{{0, 0, 3}, {1, 1, 4}, {2, -1, -1}})
}

func TestTruncateTo(t *testing.T) {
	dir := t.TempDir()
	cfg := testConfig()
	cfg.SegmentBytes = 400
	cfg.IndexIntervalBytes = 50
	l := openTestLog(t, dir, cfg, Options{})
	rng := rand.New(rand.NewSource(2))
	stored := appendSpecs(t, l, randomSpecs(rng, 60, 0), 0)
	ends := []int64{}
	for _, b := range stored {
		h, _ := ReadBatch(b)
		ends = append(ends, h.LastOffset()+1)
	}
	l.SetHighWatermark(l.LogEndOffset())
	for _, target := range []int64{ends[50], ends[30], ends[30] - 1, ends[10]} {
		if err := l.TruncateTo(target); err != nil {
			t.Fatal(err)
		}
		// A target inside a batch removes the whole batch.
		i, _ := slices.BinarySearch(ends, target+1)
		want := int64(0)
		if i > 0 {
			want = ends[i-1]
		}
		if l.LogEndOffset() != want || l.HighWatermark() != want {
			t.Fatalf("TruncateTo(%d): LEO %d HW %d, want %d", target, l.LogEndOffset(), l.HighWatermark(), want)
		}
		checkIndexes(t, l, true)
		if got := readAll(t, l); len(got) != i {
			t.Fatalf("TruncateTo(%d): %d batches, want %d", target, len(got), i)
		}
	}
	res := mustAppend(t, l, makeBatch(batchSpec{}), AppendOptions{})
	if res.BaseOffset != ends[10] {
		t.Fatalf("append after truncation at %d", res.BaseOffset)
	}
	// Below the log start: the log restarts at the target.
	l.SetHighWatermark(l.LogEndOffset())
	if _, err := l.DeleteRecordsBefore(ends[5]); err != nil {
		t.Fatal(err)
	}
	if err := l.TruncateTo(ends[2]); err != nil {
		t.Fatal(err)
	}
	if l.LogStartOffset() != ends[2] || l.LogEndOffset() != ends[2] || !slices.Equal(segmentFiles(t, dir), []int64{ends[2]}) {
		t.Fatalf("full truncation: start %d end %d segments %v", l.LogStartOffset(), l.LogEndOffset(), segmentFiles(t, dir))
	}
	mustAppend(t, l, makeBatch(batchSpec{}), AppendOptions{})
	l.Close()
	l = openTestLog(t, dir, cfg, Options{})
	defer l.Close()
	if l.LogEndOffset() != ends[2]+1 {
		t.Fatalf("after reopen LEO %d", l.LogEndOffset())
	}
}

func TestWriteErrorKeepsLogUsable(t *testing.T) {
	dir := t.TempDir()
	fs := &faultFS{}
	cfg := testConfig()
	cfg.IndexIntervalBytes = 10
	l := openTestLog(t, dir, cfg, Options{FS: fs})
	stored := appendSpecs(t, l, []batchSpec{{n: 2}, {n: 3}, {n: 1}}, 0)
	sizeBefore := l.Size()

	fs.failWrites.Store(true)
	_, err := l.Append(makeBatch(batchSpec{n: 4, valueSize: 500}), AppendOptions{})
	var ke *kerr.Error
	if !errors.As(err, &ke) || ke != kerr.KafkaStorageError || !errors.Is(err, errNoSpace) {
		t.Fatalf("got %v, want KafkaStorageError wrapping the write error", err)
	}
	fi, _ := os.Stat(segmentPath(dir, 0, ".log"))
	if fi.Size() != sizeBefore || l.LogEndOffset() != 6 {
		t.Fatalf("file %d bytes (want %d), LEO %d", fi.Size(), sizeBefore, l.LogEndOffset())
	}
	if got := readAll(t, l); len(got) != 3 {
		t.Fatalf("read %d batches", len(got))
	}
	checkIndexes(t, l, true)

	fs.failWrites.Store(false)
	if res := mustAppend(t, l, makeBatch(batchSpec{n: 4, valueSize: 500}), AppendOptions{}); res.BaseOffset != 6 {
		t.Fatalf("append after the disk recovered at %d", res.BaseOffset)
	}
	checkIndexes(t, l, true)
	l.Close()
	l = openTestLog(t, dir, cfg, Options{})
	defer l.Close()
	got := readAll(t, l)
	if len(got) != 4 || got[0] != mustHeader(t, stored[0]) {
		t.Fatalf("after reopen %d batches", len(got))
	}
}

func mustHeader(t testing.TB, b []byte) BatchHeader {
	h, err := ReadBatch(b)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// gateFS blocks the first fsync of a .log file until released.
type gateFS struct {
	faultFS
	armed   atomic.Bool
	entered chan struct{}
	release chan struct{}
	once    sync.Once
}

func (g *gateFS) OpenFile(name string, flag int, perm os.FileMode) (File, error) {
	f, err := g.faultFS.OpenFile(name, flag, perm)
	if err != nil {
		return nil, err
	}
	return &gateFile{File: f, g: g, isLog: filepath.Ext(name) == ".log"}, nil
}

type gateFile struct {
	File
	g     *gateFS
	isLog bool
}

func (f *gateFile) Sync() error {
	if f.isLog && f.g.armed.Load() {
		f.g.once.Do(func() {
			close(f.g.entered)
			<-f.g.release
		})
	}
	return f.File.Sync()
}

func TestGroupCommit(t *testing.T) {
	g := &gateFS{entered: make(chan struct{}), release: make(chan struct{})}
	cfg := testConfig()
	cfg.FlushMessages = 1
	l := openTestLog(t, t.TempDir(), cfg, Options{FS: g})
	defer l.Close()
	g.armed.Store(true)
	g.logSyncs.Store(0)

	check := func(res AppendResult, err error) error {
		if err != nil {
			return err
		}
		if rp := l.RecoveryPoint(); rp <= res.LastOffset {
			return fmt.Errorf("append of %d returned with recovery point %d", res.LastOffset, rp)
		}
		return nil
	}
	errs := make(chan error, 20)
	go func() { errs <- check(l.Append(makeBatch(batchSpec{}), AppendOptions{})) }()
	<-g.entered // the first append is inside its fsync
	const k = 8
	for i := 0; i < k; i++ {
		go func() { errs <- check(l.Append(makeBatch(batchSpec{}), AppendOptions{})) }()
	}
	// Wait until all k have written (they then queue for the fsync).
	for l.LogEndOffset() != 1+k {
		runtime.Gosched()
	}
	close(g.release)
	for i := 0; i < k+1; i++ {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	// One fsync for the first append, one shared by the k that queued behind it.
	if n := g.logSyncs.Load(); n != 2 {
		t.Fatalf("%d fsyncs for %d appends, want 2", n, k+1)
	}
}

func TestGroupCommitConcurrent(t *testing.T) {
	fs := &faultFS{}
	cfg := testConfig()
	cfg.FlushMessages = 1
	cfg.SegmentBytes = 2000
	l := openTestLog(t, t.TempDir(), cfg, Options{FS: fs})
	defer l.Close()
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 25; i++ {
				res, err := l.Append(makeBatch(batchSpec{n: 2, valueSize: 20}), AppendOptions{})
				if err == nil && l.RecoveryPoint() <= res.LastOffset {
					err = fmt.Errorf("returned before its fsync")
				}
				if err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	// A reader runs alongside.
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; i < 50; i++ {
			if _, err := l.Read(0, 1000, l.LogEndOffset(), true); err != nil {
				errs <- err
				return
			}
		}
	}()
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if l.LogEndOffset() != 200 || fs.logSyncs.Load() > 100 {
		t.Fatalf("LEO %d, %d fsyncs", l.LogEndOffset(), fs.logSyncs.Load())
	}
	checkIndexes(t, l, true)
}

func TestRestartAfterCleanClose(t *testing.T) {
	dir := t.TempDir()
	cfg := testConfig()
	cfg.SegmentBytes = 3000
	cfg.IndexIntervalBytes = 100
	l := openTestLog(t, dir, cfg, Options{})
	rng := rand.New(rand.NewSource(3))
	appendSpecs(t, l, randomSpecs(rng, 80, 5000), 3)
	before := readAll(t, l)
	leo := l.LogEndOffset()
	_, maxTs, _, _, _ := l.MaxTimestamp()
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}

	reopen := func(clean bool) *Log {
		l, err := Open(dir, cfg, 0, 0, Options{HadCleanShutdown: clean})
		if err != nil {
			t.Fatal(err)
		}
		return l
	}
	l = reopen(true)
	if l.LogEndOffset() != leo || !slices.Equal(readAll(t, l), before) || l.RecoveryPoint() != leo || l.HighWatermark() != leo {
		t.Fatalf("clean reopen: LEO %d want %d", l.LogEndOffset(), leo)
	}
	if _, ts, _, _, _ := l.MaxTimestamp(); ts != maxTs || l.LatestEpoch() != 3 {
		t.Fatalf("max timestamp %d want %d, epoch %d", ts, maxTs, l.LatestEpoch())
	}
	checkIndexes(t, l, false)
	active := l.segments[len(l.segments)-1]
	if len(active.offsets) == 0 {
		t.Fatal("test needs index entries in the active segment")
	}
	activeBase := active.base
	l.Close()

	// Damage the first batch of the active segment, which lies before its last index
	// entry: a clean open does not scan there, so it keeps the log as is ...
	path := segmentPath(dir, activeBase, ".log")
	data, _ := os.ReadFile(path)
	data[BatchHeaderSize+2] ^= 0xff
	os.WriteFile(path, data, 0o644)
	l = reopen(true)
	if l.LogEndOffset() != leo {
		t.Fatalf("clean open scanned: LEO %d want %d", l.LogEndOffset(), leo)
	}
	l.Close()
	// ... while recovery from a recovery point below it truncates at the damage.
	l, err := Open(dir, cfg, activeBase, 0, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if l.LogEndOffset() != activeBase {
		t.Fatalf("unclean open: LEO %d, want %d", l.LogEndOffset(), activeBase)
	}
	checkIndexes(t, l, true)
}

func TestOffsetForTimestamp(t *testing.T) {
	l := openTestLog(t, t.TempDir(), testConfig(), Options{})
	defer l.Close()
	appendSpecs(t, l, []batchSpec{
		{n: 3, firstTs: 100, tsStep: 10},           // 0..2: 100 110 120
		{n: 1, firstTs: 50},                        // 3: 50
		{n: 2, firstTs: 200, tsStep: 10},           // 4..5: 200 210
		{n: 3, firstTs: 300, tsStep: 10, attrs: 1}, // 6..8 "gzip": batch granularity
	}, 7)
	for _, tc := range []struct {
		ts, off, rts int64
		found        bool
	}{
		{0, 0, 100, true}, {100, 0, 100, true}, {105, 1, 110, true}, {120, 2, 120, true},
		{121, 4, 200, true}, {205, 5, 210, true}, {250, 6, 320, true}, {320, 6, 320, true}, {321, 0, 0, false},
	} {
		off, ts, ep, found, err := l.OffsetForTimestamp(tc.ts)
		if err != nil || found != tc.found || (found && (off != tc.off || ts != tc.rts || ep != 7)) {
			t.Errorf("OffsetForTimestamp(%d) = %d, %d, %d, %v, %v; want %d, %d", tc.ts, off, ts, ep, found, err, tc.off, tc.rts)
		}
	}
	if off, ts, _, found, _ := l.MaxTimestamp(); !found || off != 6 || ts != 320 {
		t.Fatalf("MaxTimestamp = %d, %d", off, ts)
	}
}

func TestOffsetForTimestampMatchesScan(t *testing.T) {
	cfg := testConfig()
	cfg.SegmentBytes = 1500
	cfg.IndexIntervalBytes = 120
	l := openTestLog(t, t.TempDir(), cfg, Options{})
	defer l.Close()
	rng := rand.New(rand.NewSource(4))
	type rec struct{ off, ts int64 }
	var recs []rec
	var off int64
	var specs []batchSpec
	for i := 0; i < 150; i++ {
		s := batchSpec{n: 1 + rng.Intn(3), firstTs: int64(rng.Intn(2000)), tsStep: int64(rng.Intn(5)), valueSize: rng.Intn(60)}
		specs = append(specs, s)
		for j := 0; j < s.n; j++ {
			recs = append(recs, rec{off, s.firstTs + int64(j)*s.tsStep})
			off++
		}
	}
	appendSpecs(t, l, specs, 0)
	for q := int64(-5); q < 2100; q += 7 {
		want := -1
		for i, r := range recs {
			if r.ts >= q {
				want = i
				break
			}
		}
		got, ts, _, found, err := l.OffsetForTimestamp(q)
		if err != nil || found != (want >= 0) || (found && (got != recs[want].off || ts != recs[want].ts)) {
			t.Fatalf("OffsetForTimestamp(%d) = %d, %d, %v, %v; want record %d", q, got, ts, found, err, want)
		}
	}
	maxI := 0
	for i, r := range recs {
		if r.ts > recs[maxI].ts {
			maxI = i
		}
	}
	if got, ts, _, _, _ := l.MaxTimestamp(); got != recs[maxI].off || ts != recs[maxI].ts {
		t.Fatalf("MaxTimestamp = %d, %d; want %v", got, ts, recs[maxI])
	}
}

func TestLogAppendTime(t *testing.T) {
	cfg := testConfig()
	cfg.TimestampType = LogAppendTime
	clock := newFakeClock()
	l := openTestLog(t, t.TempDir(), cfg, Options{Clock: clock})
	defer l.Close()
	res := mustAppend(t, l, makeBatch(batchSpec{n: 2, firstTs: 5}), AppendOptions{})
	if res.LogAppendTime != clock.Ms() {
		t.Fatalf("LogAppendTime %d", res.LogAppendTime)
	}
	h := readAll(t, l)[0]
	if h.TimestampType() != LogAppendTime || h.MaxTimestamp != clock.Ms() {
		t.Fatalf("stored %+v", h)
	}
	if off, ts, _, _, _ := l.OffsetForTimestamp(clock.Ms()); off != 0 || ts != clock.Ms() {
		t.Fatalf("OffsetForTimestamp = %d, %d", off, ts)
	}
}

func TestAppendRejectsAndReplication(t *testing.T) {
	l := openTestLog(t, t.TempDir(), testConfig(), Options{})
	defer l.Close()
	if _, err := l.Append(makeBatch(batchSpec{attrs: attrControl}), AppendOptions{}); !errors.Is(err, kerr.InvalidRecord) {
		t.Fatalf("control batch: %v", err)
	}
	if l.LogEndOffset() != 0 {
		t.Fatal("rejected append moved the log end")
	}
	// An idempotent batch goes through producer state and is stored with its ids.
	mustAppend(t, l, makeBatch(batchSpec{n: 2, idempotent: true, pid: 9, epoch: 1, seq: 0}), AppendOptions{})
	if h := readAll(t, l)[0]; h.ProducerID != 9 || h.BaseSequence != 0 {
		t.Fatalf("stored %+v", h)
	}
	// Replication keeps offsets, may leave a gap, and refuses to go backwards.
	b := makeBatch(batchSpec{n: 2})
	setBaseOffset(b, 10)
	if res := mustAppend(t, l, b, AppendOptions{FromReplication: true}); res.BaseOffset != 10 || l.LogEndOffset() != 12 {
		t.Fatalf("replicated append at %d, LEO %d", res.BaseOffset, l.LogEndOffset())
	}
	setBaseOffset(b, 11)
	if _, err := l.Append(b, AppendOptions{FromReplication: true}); err == nil {
		t.Fatal("accepted a replicated batch below the log end")
	}
	if res, err := l.Read(5, 1000, 20, true); err != nil || len(res.Records) == 0 || mustHeader(t, res.Records).BaseOffset != 10 {
		t.Fatalf("read in the gap: %v", err)
	}
}
