package commitlog

import (
	"io"
	"log/slog"
	"math/rand"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
)

// countFS wraps the OS and records, per kind of file (the name's part after the
// 20-digit base: "log", "index", "timeindex.tmp", ...), how often files were opened,
// written and fsynced, how many .log bytes were read, and which files are open.
type countFS struct {
	mu       sync.Mutex
	opens    map[string]int
	writes   map[string]int
	syncs    map[string]int
	logReads int64
	open     map[*countFile]bool
}

func newCountFS() *countFS {
	return &countFS{opens: map[string]int{}, writes: map[string]int{}, syncs: map[string]int{}, open: map[*countFile]bool{}}
}

func fileKind(name string) string {
	_, kind, _ := strings.Cut(filepath.Base(name), ".")
	return kind
}

func (c *countFS) OpenFile(name string, flag int, perm os.FileMode) (File, error) {
	f, err := os.OpenFile(name, flag, perm)
	if err != nil {
		return nil, err
	}
	cf := &countFile{File: f, fs: c, kind: fileKind(name)}
	c.mu.Lock()
	c.opens[cf.kind]++
	c.open[cf] = true
	c.mu.Unlock()
	return cf, nil
}

// snapshot returns copies of the counters and the kinds of the open files.
func (c *countFS) snapshot() (opens, writes, syncs map[string]int, logReads int64, open []string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for f := range c.open {
		open = append(open, f.kind)
	}
	slices.Sort(open)
	return copyCounts(c.opens), copyCounts(c.writes), copyCounts(c.syncs), c.logReads, open
}

func (c *countFS) reset() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.opens, c.writes, c.syncs, c.logReads = map[string]int{}, map[string]int{}, map[string]int{}, 0
}

func copyCounts(m map[string]int) map[string]int {
	out := map[string]int{}
	for k, v := range m {
		out[k] = v
	}
	return out
}

type countFile struct {
	*os.File
	fs   *countFS
	kind string
}

func (f *countFile) WriteAt(b []byte, off int64) (int, error) {
	f.fs.mu.Lock()
	f.fs.writes[f.kind]++
	f.fs.mu.Unlock()
	return f.File.WriteAt(b, off)
}

func (f *countFile) ReadAt(b []byte, off int64) (int, error) {
	n, err := f.File.ReadAt(b, off)
	if f.kind == "log" {
		f.fs.mu.Lock()
		f.fs.logReads += int64(n)
		f.fs.mu.Unlock()
	}
	return n, err
}

func (f *countFile) Sync() error {
	f.fs.mu.Lock()
	f.fs.syncs[f.kind]++
	f.fs.mu.Unlock()
	return f.File.Sync()
}

func (f *countFile) Close() error {
	f.fs.mu.Lock()
	delete(f.fs.open, f)
	f.fs.mu.Unlock()
	return f.File.Close()
}

// indexKinds are the kinds of file an index write or read touches.
var indexKinds = []string{"index", "timeindex", "index.tmp", "timeindex.tmp"}

// lookups is what a log answers to offset and timestamp queries: the batch Read
// returns for every offset, OffsetForTimestamp for every timestamp in [tsFrom, tsTo]
// and MaxTimestamp. Two logs with the same data must give the same lookups whatever
// their indexes, as long as the indexes are right.
type lookups struct {
	reads []int64 // base offset of the first batch Read returns, per offset
	times [][3]int64
	max   [2]int64
}

func lookupAll(t *testing.T, l *Log, tsFrom, tsTo int64) lookups {
	t.Helper()
	var lk lookups
	for off := l.LogStartOffset(); off < l.LogEndOffset(); off++ {
		res, err := l.Read(off, 1, l.LogEndOffset(), true)
		if err != nil {
			t.Fatalf("Read(%d): %v", off, err)
		}
		h, err := ReadBatch(res.Records)
		if err != nil || off < h.BaseOffset || off > h.LastOffset() {
			t.Fatalf("Read(%d) returned batch %d..%d (%v)", off, h.BaseOffset, h.LastOffset(), err)
		}
		lk.reads = append(lk.reads, h.BaseOffset)
	}
	for ts := tsFrom; ts <= tsTo; ts++ {
		off, rts, _, found, err := l.OffsetForTimestamp(ts)
		if err != nil {
			t.Fatalf("OffsetForTimestamp(%d): %v", ts, err)
		}
		if !found {
			off, rts = -1, -1
		}
		lk.times = append(lk.times, [3]int64{ts, off, rts})
	}
	off, ts, _, _, err := l.MaxTimestamp()
	if err != nil {
		t.Fatal(err)
	}
	lk.max = [2]int64{off, ts}
	return lk
}

func sameLookups(t *testing.T, what string, got, want lookups) {
	t.Helper()
	if !slices.Equal(got.reads, want.reads) {
		t.Fatalf("%s: reads differ", what)
	}
	if !slices.Equal(got.times, want.times) {
		for i := range min(len(got.times), len(want.times)) {
			if got.times[i] != want.times[i] {
				t.Fatalf("%s: OffsetForTimestamp(%d) = %d, %d; want %d, %d", what, got.times[i][0], got.times[i][1], got.times[i][2], want.times[i][1], want.times[i][2])
			}
		}
		t.Fatalf("%s: %d timestamp lookups, want %d", what, len(got.times), len(want.times))
	}
	if got.max != want.max {
		t.Fatalf("%s: MaxTimestamp %v, want %v", what, got.max, want.max)
	}
}

// segmentIndexes is a copy of the segments' entries and state.
type segmentIndexes struct {
	base           int64
	offsets        []offsetEntry
	times          []timeEntry
	size, next, ts int64
}

func indexesOf(l *Log) []segmentIndexes {
	l.mu.RLock()
	defer l.mu.RUnlock()
	var out []segmentIndexes
	for _, s := range l.segments {
		out = append(out, segmentIndexes{s.base, slices.Clone(s.offsets), slices.Clone(s.times), s.st.size, s.st.next, s.st.maxTs})
	}
	return out
}

func sameIndexes(t *testing.T, what string, got, want []segmentIndexes) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d segments, want %d", what, len(got), len(want))
	}
	for i := range got {
		g, w := got[i], want[i]
		if g.base != w.base || !slices.Equal(g.offsets, w.offsets) || !slices.Equal(g.times, w.times) ||
			g.size != w.size || g.next != w.next || g.ts != w.ts {
			t.Fatalf("%s: segment %d\n%+v\nwant\n%+v", what, w.base, g, w)
		}
	}
}

// lazyConfig makes index entries every few batches and a roll every ~20 batches.
func lazyConfig() Config {
	cfg := testConfig()
	cfg.SegmentBytes = 3000
	cfg.IndexIntervalBytes = 200
	return cfg
}

// TestAppendDoesNotWriteIndexes: appends to the active segment write its .log only;
// its entries stay in memory and no index file is opened, written or created.
func TestAppendDoesNotWriteIndexes(t *testing.T) {
	dir := t.TempDir()
	fs := newCountFS()
	cfg := testConfig()
	cfg.IndexIntervalBytes = 100
	l := openTestLog(t, dir, cfg, Options{FS: fs})
	defer l.Close()
	fs.reset()
	rng := rand.New(rand.NewSource(11))
	appendSpecs(t, l, randomSpecs(rng, 200, 1000), 0)
	if err := l.Flush(); err != nil {
		t.Fatal(err)
	}
	opens, writes, syncs, _, open := fs.snapshot()
	for _, k := range indexKinds {
		if opens[k] != 0 || writes[k] != 0 || syncs[k] != 0 {
			t.Errorf("%s files: %d opens, %d writes, %d fsyncs during appends", k, opens[k], writes[k], syncs[k])
		}
	}
	if writes["log"] != 200 || !slices.Equal(open, []string{"log"}) {
		t.Errorf("%d .log writes for 200 appends, open files %v", writes["log"], open)
	}
	if n := len(segmentFiles(t, dir)); n != 1 {
		t.Fatalf("test needs one segment, has %d", n)
	}
	for _, ext := range []string{".index", ".timeindex"} {
		if _, err := os.Stat(segmentPath(dir, 0, ext)); !os.IsNotExist(err) {
			t.Errorf("%s of the active segment exists: %v", ext, err)
		}
	}
	idx := indexesOf(l)
	if len(idx[0].offsets) < 10 || len(idx[0].times) < 10 {
		t.Fatalf("only %d offset and %d time entries in memory", len(idx[0].offsets), len(idx[0].times))
	}
	checkIndexes(t, l, true)
}

// TestRollWritesSealedIndexes: a roll writes the sealed segment's index files whole,
// once each, fsynced, holding exactly its entries in memory including the final time
// entry; appends to the new segment do not touch them again.
func TestRollWritesSealedIndexes(t *testing.T) {
	dir := t.TempDir()
	fs := newCountFS()
	l := openTestLog(t, dir, lazyConfig(), Options{FS: fs})
	defer l.Close()
	rng := rand.New(rand.NewSource(12))
	appendSpecs(t, l, randomSpecs(rng, 150, 1000), 0)
	segs := indexesOf(l)
	sealed := len(segs) - 1
	if sealed < 4 {
		t.Fatalf("test needs several sealed segments, has %d", sealed)
	}
	opens, writes, syncs, _, _ := fs.snapshot()
	for _, k := range []string{"index.tmp", "timeindex.tmp"} {
		// The empty first segment created by Open is replaced, not sealed.
		if opens[k] != sealed || writes[k] > sealed || syncs[k] != sealed {
			t.Errorf("%s: %d opens, %d writes, %d fsyncs for %d rolls", k, opens[k], writes[k], syncs[k], sealed)
		}
	}
	for _, k := range []string{"index", "timeindex"} {
		if opens[k] != 0 {
			t.Errorf("%d opens of %s files under their final name", opens[k], k)
		}
	}
	if leftovers, _ := filepath.Glob(filepath.Join(dir, "*.tmp")); len(leftovers) > 0 {
		t.Errorf("temporary files left: %v", leftovers)
	}
	l.mu.RLock()
	for _, s := range l.segments[:sealed] {
		checkIndexFiles(t, dir, s)
		// The final entry names the segment's largest timestamp.
		if n := len(s.times); n == 0 || s.times[n-1].ts != s.st.maxTs || s.base+int64(s.times[n-1].rel) != s.st.maxTsOffset {
			t.Errorf("segment %d: time index %v does not end with max timestamp %d at %d", s.base, s.times, s.st.maxTs, s.st.maxTsOffset)
		}
	}
	l.mu.RUnlock()
	checkIndexes(t, l, true)
}

// TestCloseReopenTrustsIndexes: Close writes the active segment's indexes; a clean
// reopen loads every segment's indexes from their files without scanning the logs
// (it reads only the active segment's tail), and gives the same entries and lookups.
func TestCloseReopenTrustsIndexes(t *testing.T) {
	dir := t.TempDir()
	cfg := lazyConfig()
	l := openTestLog(t, dir, cfg, Options{})
	rng := rand.New(rand.NewSource(13))
	appendSpecs(t, l, randomSpecs(rng, 150, 1000), 0)
	if n := len(segmentFiles(t, dir)); n < 4 {
		t.Fatalf("test needs several segments, has %d", n)
	}
	want := lookupAll(t, l, 990, 2500)
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	wantIdx := indexesOf(l) // with the entry Close adds to the active segment
	l.mu.RLock()
	for _, s := range l.segments {
		checkIndexFiles(t, dir, s)
	}
	l.mu.RUnlock()
	var logBytes int64
	for _, s := range wantIdx {
		logBytes += s.size
	}

	fs := newCountFS()
	l = openTestLog(t, dir, cfg, Options{FS: fs, HadCleanShutdown: true})
	defer l.Close()
	_, writes, _, logReads, _ := fs.snapshot()
	// Only the active segment's batches after its last index entry are read: at most
	// index.interval.bytes plus one batch.
	if logReads > int64(cfg.IndexIntervalBytes)+1000 || logReads*4 > logBytes {
		t.Errorf("clean open read %d bytes of %d bytes of log", logReads, logBytes)
	}
	for _, k := range indexKinds {
		if writes[k] != 0 {
			t.Errorf("clean open wrote %s files", k)
		}
	}
	sameIndexes(t, "after a clean reopen", indexesOf(l), wantIdx)
	sameLookups(t, "after a clean reopen", lookupAll(t, l, 990, 2500), want)
	checkIndexes(t, l, false)
}

// TestUncleanStopRebuildsIndexes: a copy of a live log's directory is what kill -9
// would leave (the page cache survives a process): the active segment has no index
// files. Open from the copy, from its recovery point or from 0, rebuilds them and
// answers lookups as the live log does; the log then goes on and reopens cleanly.
func TestUncleanStopRebuildsIndexes(t *testing.T) {
	cfg := lazyConfig()
	live := t.TempDir()
	l := openTestLog(t, live, cfg, Options{})
	defer l.Close()
	rng := rand.New(rand.NewSource(14))
	appendSpecs(t, l, randomSpecs(rng, 100, 1000), 0)
	if err := l.Flush(); err != nil {
		t.Fatal(err)
	}
	appendSpecs(t, l, randomSpecs(rng, 30, 3000), 0)
	want := lookupAll(t, l, 990, 3400)
	wantIdx := indexesOf(l)
	active := wantIdx[len(wantIdx)-1]
	if len(active.offsets) == 0 || len(wantIdx) < 4 {
		t.Fatalf("test needs index entries in the active segment and several segments")
	}
	for _, rp := range []int64{0, l.RecoveryPoint(), active.base} {
		dir := filepath.Join(t.TempDir(), "p-0")
		copyDir(t, live, dir)
		if _, err := os.Stat(segmentPath(dir, active.base, ".index")); !os.IsNotExist(err) {
			t.Fatalf("the active segment's index is on disk: %v", err)
		}
		c, err := Open(dir, cfg, rp, 0, Options{})
		if err != nil {
			t.Fatal(err)
		}
		sameIndexes(t, "after an unclean stop", indexesOf(c), wantIdx)
		sameLookups(t, "after an unclean stop", lookupAll(t, c, 990, 3400), want)
		checkIndexes(t, c, true)
		mustAppend(t, c, makeBatch(batchSpec{firstTs: 4000}), AppendOptions{})
		if err := c.Close(); err != nil {
			t.Fatal(err)
		}
		c = openTestLog(t, dir, cfg, Options{HadCleanShutdown: true})
		if c.LogEndOffset() != l.LogEndOffset()+1 {
			t.Fatalf("after reopen LEO %d, want %d", c.LogEndOffset(), l.LogEndOffset()+1)
		}
		checkIndexes(t, c, false)
		c.Close()
	}
}

// TestMissingSealedIndexRebuilt: a sealed segment whose index files are missing (as
// a crash can leave them: they are written only at seal and renamed into place) is
// rebuilt, not trusted as a segment without entries, whether the open is clean or
// the segment lies below the recovery point; so is one whose .timeindex alone is
// gone, and a leftover temporary index file is removed.
func TestMissingSealedIndexRebuilt(t *testing.T) {
	cfg := lazyConfig()
	golden := t.TempDir()
	l := openTestLog(t, golden, cfg, Options{})
	rng := rand.New(rand.NewSource(15))
	appendSpecs(t, l, randomSpecs(rng, 150, 1000), 0)
	want := lookupAll(t, l, 990, 2600)
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	wantIdx := indexesOf(l)
	victim := wantIdx[1].base
	for _, tc := range []struct {
		name  string
		clean bool
		exts  []string
	}{
		{"clean, both", true, []string{".index", ".timeindex"}},
		{"clean, time index", true, []string{".timeindex"}},
		{"unclean, both", false, []string{".index", ".timeindex"}},
		{"unclean, offset index", false, []string{".index"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "p-0")
			copyDir(t, golden, dir)
			for _, ext := range tc.exts {
				if err := os.Remove(segmentPath(dir, victim, ext)); err != nil {
					t.Fatal(err)
				}
			}
			tmp := segmentPath(dir, victim, ".index"+tempSuffix)
			if err := os.WriteFile(tmp, make([]byte, 16), 0o644); err != nil {
				t.Fatal(err)
			}
			// The recovery point lies in the active segment: unclean opens trust
			// every sealed segment too.
			l, err := Open(dir, cfg, wantIdx[len(wantIdx)-1].base, 0, Options{HadCleanShutdown: tc.clean})
			if err != nil {
				t.Fatal(err)
			}
			defer l.Close()
			got := indexesOf(l)
			if !slices.Equal(got[1].offsets, wantIdx[1].offsets) || !slices.Equal(got[1].times, wantIdx[1].times) || got[1].ts != wantIdx[1].ts {
				t.Fatalf("segment %d after its index was lost:\n%+v\nwant\n%+v", victim, got[1], wantIdx[1])
			}
			sameLookups(t, "after a lost index", lookupAll(t, l, 990, 2600), want)
			l.mu.RLock()
			checkIndexFiles(t, dir, l.segments[1])
			l.mu.RUnlock()
			if _, err := os.Stat(tmp); !os.IsNotExist(err) {
				t.Errorf("temporary index file left: %v", err)
			}
		})
	}
}

// TestOneOpenFilePerSegment: a segment holds only its .log open, whatever path
// opened it; Close releases them all.
func TestOneOpenFilePerSegment(t *testing.T) {
	dir := t.TempDir()
	cfg := lazyConfig()
	check := func(what string, fs *countFS, l *Log) {
		t.Helper()
		n := len(indexesOf(l))
		_, _, _, _, open := fs.snapshot()
		if len(open) != n || slices.ContainsFunc(open, func(k string) bool { return k != "log" }) {
			t.Fatalf("%s: %d segments, open files %v", what, n, open)
		}
		if err := l.Close(); err != nil {
			t.Fatal(err)
		}
		if _, _, _, _, open := fs.snapshot(); len(open) != 0 {
			t.Fatalf("%s: files open after Close: %v", what, open)
		}
	}
	fs := newCountFS()
	l := openTestLog(t, dir, cfg, Options{FS: fs})
	rng := rand.New(rand.NewSource(16))
	appendSpecs(t, l, randomSpecs(rng, 150, 1000), 0)
	if n := len(indexesOf(l)); n < 5 {
		t.Fatalf("test needs several segments, has %d", n)
	}
	check("after appends", fs, l)
	for _, clean := range []bool{true, false} {
		fs := newCountFS()
		l := openTestLog(t, dir, cfg, Options{FS: fs, HadCleanShutdown: clean})
		check("after reopen", fs, l)
	}
}

// TestNewLogTrustedWithoutIndexFiles: the Manager opens a new partition as if shut
// down cleanly; its empty segment has no index files, which is no reason to rebuild
// (nor to warn), and neither is an empty active segment reopened after Close.
func TestNewLogTrustedWithoutIndexFiles(t *testing.T) {
	dir := t.TempDir()
	var logged strings.Builder
	var mu sync.Mutex
	logger := slog.New(slog.NewTextHandler(lockedWriter{&mu, &logged}, &slog.HandlerOptions{Level: slog.LevelWarn}))
	cfg := testConfig()
	l := openTestLog(t, dir, cfg, Options{Logger: logger, HadCleanShutdown: true})
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	for _, ext := range []string{".index", ".timeindex"} {
		if fi, err := os.Stat(segmentPath(dir, 0, ext)); err != nil || fi.Size() != 0 {
			t.Fatalf("%s after Close of an empty log: %v", ext, err)
		}
	}
	os.Remove(segmentPath(dir, 0, ".index"))
	l = openTestLog(t, dir, cfg, Options{Logger: logger, HadCleanShutdown: true})
	mustAppend(t, l, makeBatch(batchSpec{}), AppendOptions{})
	l.Close()
	mu.Lock()
	defer mu.Unlock()
	if logged.Len() > 0 {
		t.Fatalf("warnings:\n%s", logged.String())
	}
}

type lockedWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (w lockedWriter) Write(b []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.w.Write(b)
}
