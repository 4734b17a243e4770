package commitlog

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/samsa-io/samsa/internal/record"
)

// rec is a record as the tests see it; a nil value is a tombstone.
type rec struct {
	off   int64
	key   string
	value []byte
}

func (r rec) String() string {
	if r.value == nil {
		return fmt.Sprintf("%d:%s=<nil>", r.off, r.key)
	}
	return fmt.Sprintf("%d:%s=%s", r.off, r.key, r.value)
}

func (r rec) equal(o rec) bool {
	return r.off == o.off && r.key == o.key && bytes.Equal(r.value, o.value) && (r.value == nil) == (o.value == nil)
}

// kvBatch builds a batch of codec holding the given key/value pairs ("" value with
// tombstone true → nil) at timestamp ts.
type kv struct {
	key       string
	value     string
	tombstone bool
}

func encodeKVs(t testing.TB, codec int8, ts int64, pid int64, seq int32, kvs ...kv) []byte {
	t.Helper()
	var rs []record.Record
	for _, x := range kvs {
		r := record.Record{Timestamp: ts, Key: []byte(x.key), Value: []byte(x.value)}
		if x.tombstone {
			r.Value = nil
		}
		rs = append(rs, r)
	}
	b := record.NewBatch(0, rs...)
	b.Attributes = int16(codec)
	if pid >= 0 {
		b.ProducerID, b.ProducerEpoch, b.BaseSequence = pid, 0, seq
	}
	enc, err := b.Encode()
	if err != nil {
		t.Fatal(err)
	}
	return enc
}

// readRecords reads the whole log and decodes every record.
func readRecords(t testing.TB, l *Log) []rec {
	t.Helper()
	var out []rec
	eachBatch(t, l, func(h BatchHeader, b []byte) {
		batch, err := record.Decode(b)
		if err != nil {
			t.Fatalf("Decode batch %d: %v", h.BaseOffset, err)
		}
		for _, r := range batch.Records {
			out = append(out, rec{r.Offset, string(r.Key), r.Value})
		}
	})
	return out
}

// compactModel is what a reader must see after cleaning everything below end: of the
// records below end, the latest per key (tombstones dropped if dropTombstones), then
// every record from end on untouched.
func compactModel(all []rec, end int64, dropTombstones bool) []rec {
	latest := map[string]int64{}
	for _, r := range all {
		if r.off < end {
			latest[r.key] = r.off
		}
	}
	var out []rec
	for _, r := range all {
		if r.off >= end {
			out = append(out, r)
			continue
		}
		if latest[r.key] != r.off || (r.value == nil && dropTombstones) {
			continue
		}
		out = append(out, r)
	}
	return out
}

func sameRecords(t testing.TB, what string, got, want []rec) {
	t.Helper()
	if !slices.EqualFunc(got, want, rec.equal) {
		t.Fatalf("%s:\n got %v\nwant %v", what, got, want)
	}
}

// compactLog is a compacted log with small segments on a fake clock.
type compactLog struct {
	t     testing.TB
	l     *Log
	clock *fakeClock
	all   []rec
	dir   string
	cfg   Config
}

func compactConfig() Config {
	cfg := testConfig()
	cfg.Compact, cfg.Delete = true, false
	cfg.SegmentBytes = 400
	cfg.IndexIntervalBytes = 64
	cfg.DeleteRetention = time.Hour
	cfg.MinCleanableDirtyRatio = 0.5
	return cfg
}

func newCompactLog(t testing.TB, cfg Config) *compactLog {
	dir := t.TempDir()
	clock := newFakeClock()
	l := openTestLog(t, dir, cfg, Options{Clock: clock})
	t.Cleanup(func() { l.Close() })
	return &compactLog{t: t, l: l, clock: clock, dir: dir, cfg: cfg}
}

func (c *compactLog) append(codec int8, kvs ...kv) {
	c.appendPID(codec, -1, 0, kvs...)
}

func (c *compactLog) appendPID(codec int8, pid int64, seq int32, kvs ...kv) {
	c.t.Helper()
	res := mustAppend(c.t, c.l, encodeKVs(c.t, codec, c.clock.Ms(), pid, seq, kvs...), AppendOptions{})
	for i, x := range kvs {
		r := rec{res.BaseOffset + int64(i), x.key, []byte(x.value)}
		if x.tombstone {
			r.value = nil
		}
		c.all = append(c.all, r)
	}
	c.l.SetHighWatermark(c.l.LogEndOffset())
}

func (c *compactLog) clean() CleanStats {
	c.t.Helper()
	st, err := c.l.Clean(context.Background(), CleanOptions{})
	if err != nil {
		c.t.Fatalf("Clean: %v", err)
	}
	return st
}

// seal appends a sentinel record so that everything before it lies in sealed
// segments (the sentinel's batch is large enough to roll).
func (c *compactLog) seal() {
	c.t.Helper()
	c.append(0, kv{key: "~sentinel", value: strings.Repeat("s", int(c.cfg.SegmentBytes))})
}

func TestCleanScenarios(t *testing.T) {
	type step func(c *compactLog)
	updates := func(keys, rounds int, codec int8) step {
		return func(c *compactLog) {
			for r := 0; r < rounds; r++ {
				for k := 0; k < keys; k++ {
					c.append(codec, kv{key: fmt.Sprintf("k%02d", k), value: fmt.Sprintf("v%d-%d", k, r)})
				}
			}
		}
	}
	tests := []struct {
		name  string
		cfg   func(*Config)
		steps []step
		// want computes the expected records from everything appended and the stats.
		want func(c *compactLog, st CleanStats) []rec
	}{
		{
			name:  "updates",
			steps: []step{updates(10, 6, 0), (*compactLog).seal},
			want:  func(c *compactLog, st CleanStats) []rec { return compactModel(c.all, st.EndOffset, false) },
		},
		{
			name: "keys spread over many segments",
			steps: []step{func(c *compactLog) {
				rng := rand.New(rand.NewSource(1))
				for i := 0; i < 300; i++ {
					c.append(0, kv{key: fmt.Sprintf("k%d", rng.Intn(40)), value: fmt.Sprint(i)})
				}
			}, (*compactLog).seal},
			want: func(c *compactLog, st CleanStats) []rec { return compactModel(c.all, st.EndOffset, false) },
		},
		{
			name: "tombstones within delete.retention.ms",
			steps: []step{updates(5, 3, 0), func(c *compactLog) {
				c.append(0, kv{key: "k01", tombstone: true}, kv{key: "k03", tombstone: true})
			}, (*compactLog).seal, func(c *compactLog) {
				c.clean() // sets the delete horizon
				c.clock.Add(59 * time.Minute)
			}},
			want: func(c *compactLog, st CleanStats) []rec { return compactModel(c.all, st.EndOffset, false) },
		},
		{
			name: "tombstones after delete.retention.ms",
			steps: []step{updates(5, 3, 0), func(c *compactLog) {
				c.append(0, kv{key: "k01", tombstone: true}, kv{key: "k03", tombstone: true})
			}, (*compactLog).seal, func(c *compactLog) {
				c.clean()
				c.clock.Add(time.Hour)
			}},
			want: func(c *compactLog, st CleanStats) []rec { return compactModel(c.all, st.EndOffset, true) },
		},
		{
			name:  "gzip",
			steps: []step{compressedUpdates(record.CodecGzip), (*compactLog).seal},
			want:  func(c *compactLog, st CleanStats) []rec { return compactModel(c.all, st.EndOffset, false) },
		},
		{
			name:  "snappy",
			steps: []step{compressedUpdates(record.CodecSnappy), (*compactLog).seal},
			want:  func(c *compactLog, st CleanStats) []rec { return compactModel(c.all, st.EndOffset, false) },
		},
		{
			name:  "lz4",
			steps: []step{compressedUpdates(record.CodecLZ4), (*compactLog).seal},
			want:  func(c *compactLog, st CleanStats) []rec { return compactModel(c.all, st.EndOffset, false) },
		},
		{
			name:  "zstd",
			steps: []step{compressedUpdates(record.CodecZstd), (*compactLog).seal},
			want:  func(c *compactLog, st CleanStats) []rec { return compactModel(c.all, st.EndOffset, false) },
		},
		{
			name: "min.compaction.lag.ms keeps young segments",
			cfg:  func(cfg *Config) { cfg.MinCompactionLag = time.Hour },
			steps: []step{updates(5, 4, 0), func(c *compactLog) { c.clock.Add(2 * time.Hour) },
				updates(5, 4, 0), (*compactLog).seal},
			want: func(c *compactLog, st CleanStats) []rec {
				// Only the segments of the first (old) updates are cleaned.
				if st.EndOffset > 20 || st.EndOffset == 0 {
					c.t.Errorf("cleaned to %d, want within the old records [1, 20]", st.EndOffset)
				}
				return compactModel(c.all, st.EndOffset, false)
			},
		},
		{
			name:  "active segment untouched",
			cfg:   func(cfg *Config) { cfg.SegmentBytes = 1 << 20 },
			steps: []step{updates(5, 4, 0)},
			want: func(c *compactLog, st CleanStats) []rec {
				if st.Cleaned || st.EndOffset != 0 {
					c.t.Errorf("cleaned the active segment: %+v", st)
				}
				return c.all
			},
		},
		{
			name: "above the high watermark untouched",
			steps: []step{updates(5, 4, 0), (*compactLog).seal, func(c *compactLog) {
				c.l.SetHighWatermark(7)
			}},
			want: func(c *compactLog, st CleanStats) []rec {
				if st.EndOffset > 7 {
					c.t.Errorf("cleaned to %d, past the high watermark 7", st.EndOffset)
				}
				return compactModel(c.all, st.EndOffset, false)
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := compactConfig()
			if tt.cfg != nil {
				tt.cfg(&cfg)
			}
			c := newCompactLog(t, cfg)
			for _, s := range tt.steps {
				s(c)
			}
			st := c.clean()
			want := tt.want(c, st)
			sameRecords(t, "after cleaning", readRecords(t, c.l), want)
			// And again after a restart: the swapped files are what Open finds.
			if err := c.l.Close(); err != nil {
				t.Fatal(err)
			}
			c.l = openTestLog(t, c.dir, cfg, Options{Clock: c.clock, HadCleanShutdown: true})
			sameRecords(t, "after reopening", readRecords(t, c.l), want)
			c.l.Close()
			c.l = openTestLog(t, c.dir, cfg, Options{Clock: c.clock})
			sameRecords(t, "after an unclean reopen", readRecords(t, c.l), want)
		})
	}
}

func compressedUpdates(codec int8) func(c *compactLog) {
	return func(c *compactLog) {
		for r := 0; r < 6; r++ {
			var kvs []kv
			for k := 0; k < 8; k++ {
				kvs = append(kvs, kv{key: fmt.Sprintf("k%d", k), value: fmt.Sprintf("%d-%d", k, r)})
			}
			if r == 5 {
				kvs[3].tombstone = true
			}
			c.append(codec, kvs...)
		}
	}
}

// TestCleanKeepsCodec: a compressed batch that loses records is rewritten with the
// same codec.
func TestCleanKeepsCodec(t *testing.T) {
	for _, codec := range []int8{record.CodecGzip, record.CodecSnappy, record.CodecLZ4, record.CodecZstd} {
		c := newCompactLog(t, compactConfig())
		c.append(codec, kv{key: "a", value: "1"}, kv{key: "b", value: "1"}, kv{key: "c", value: "1"})
		c.append(codec, kv{key: "a", value: "2"})
		c.seal()
		c.clean()
		res, err := c.l.Read(0, 1<<20, c.l.LogEndOffset(), true)
		if err != nil {
			t.Fatal(err)
		}
		h, err := ReadBatch(res.Records)
		if err != nil {
			t.Fatal(err)
		}
		if h.Compression() != codec || h.RecordCount != 2 || h.BaseOffset != 0 || h.LastOffsetDelta != 2 {
			t.Errorf("codec %d: first batch after cleaning %+v", codec, h)
		}
	}
}

// TestCleanDeleteHorizon checks KIP-534's delete horizon: set on the first clean,
// tombstone kept until it passes, then dropped with the older values.
func TestCleanDeleteHorizon(t *testing.T) {
	c := newCompactLog(t, compactConfig())
	c.append(0, kv{key: "a", value: "1"})
	c.append(0, kv{key: "a", tombstone: true})
	c.seal()
	start := c.clock.Ms()
	c.clean()
	res, _ := c.l.Read(0, 1<<20, c.l.LogEndOffset(), true)
	h, err := ReadBatch(res.Records)
	if err != nil {
		t.Fatal(err)
	}
	if h.BaseOffset != 1 || h.Attributes&record.DeleteHorizonBit == 0 || h.FirstTimestamp != start+time.Hour.Milliseconds() {
		t.Fatalf("tombstone batch after cleaning: %+v", h)
	}
	if _, worth := c.l.CleanableRatio(); worth {
		t.Error("log worth cleaning right after a clean")
	}
	c.clock.Add(time.Hour)
	if _, worth := c.l.CleanableRatio(); !worth {
		t.Error("a passed delete horizon does not make the log worth cleaning")
	}
	c.clean()
	got := readRecords(t, c.l)
	if len(got) != 1 || got[0].key != "~sentinel" {
		t.Fatalf("after the horizon: %v", got)
	}
}

func TestCompactRejectsNullKeys(t *testing.T) {
	nullKey := func(codec int8) []byte {
		b := record.NewBatch(0, record.Record{Key: []byte("k"), Value: []byte("v")}, record.Record{Value: []byte("v")})
		b.Attributes = int16(codec)
		enc, _ := b.Encode()
		return enc
	}
	for _, codec := range []int8{record.CodecNone, record.CodecZstd} {
		c := newCompactLog(t, compactConfig())
		_, err := c.l.Append(nullKey(codec), AppendOptions{})
		if !errors.Is(err, kerr.InvalidRecord) || !strings.Contains(err.Error(), "without key") {
			t.Errorf("codec %d: Append of a keyless record to a compacted log: %v", codec, err)
		}
		if c.l.LogEndOffset() != 0 {
			t.Error("rejected batch was appended")
		}
	}
	l := openTestLog(t, t.TempDir(), testConfig(), Options{})
	defer l.Close()
	mustAppend(t, l, nullKey(0), AppendOptions{})
}

func TestRetentionOnlyWithDeletePolicy(t *testing.T) {
	for _, policy := range []struct {
		compact, delete bool
		wantDeleted     bool
	}{{true, false, false}, {true, true, true}, {false, true, true}} {
		cfg := compactConfig()
		cfg.Compact, cfg.Delete = policy.compact, policy.delete
		cfg.RetentionTime = time.Minute
		c := newCompactLog(t, cfg)
		for i := 0; i < 20; i++ {
			c.append(0, kv{key: fmt.Sprint(i % 3), value: strings.Repeat("x", 50)})
		}
		c.clock.Add(time.Hour)
		c.seal()
		n, err := c.l.ApplyRetention()
		if err != nil {
			t.Fatal(err)
		}
		if (n > 0) != policy.wantDeleted {
			t.Errorf("compact=%v delete=%v: retention deleted %d segments", policy.compact, policy.delete, n)
		}
		if policy.compact {
			// compact,delete cleans what retention left.
			st := c.clean()
			all := slices.DeleteFunc(slices.Clone(c.all), func(r rec) bool { return r.off < c.l.LogStartOffset() })
			sameRecords(t, "after retention and cleaning", readRecords(t, c.l), compactModel(all, st.EndOffset, false))
		}
	}
}

func TestCleanKeepsProducerState(t *testing.T) {
	c := newCompactLog(t, compactConfig())
	// Producer 7's batches are all overwritten later by producer 8's, except that its
	// last batch must survive (empty) to carry its sequence.
	for i := 0; i < 4; i++ {
		c.appendPID(0, 7, int32(i*2), kv{key: "a", value: fmt.Sprint(i)}, kv{key: "b", value: fmt.Sprint(i)})
	}
	for i := 0; i < 4; i++ {
		c.appendPID(0, 8, int32(i), kv{key: "a", value: fmt.Sprint("x", i)})
		c.appendPID(0, 9, int32(i), kv{key: "b", value: fmt.Sprint("y", i)})
	}
	c.seal()
	before := c.l.Producers()
	st := c.clean()
	if st.RecordsRemoved == 0 {
		t.Fatal("nothing removed")
	}
	if after := c.l.Producers(); !slices.Equal(before, after) {
		t.Fatalf("Producers changed by cleaning:\n%+v\n%+v", before, after)
	}
	// Rebuilt from the log alone (no snapshots), the state is the same.
	if err := c.l.Close(); err != nil {
		t.Fatal(err)
	}
	snaps, _ := filepath.Glob(filepath.Join(c.dir, "*.snapshot"))
	for _, s := range snaps {
		os.Remove(s)
	}
	c.l = openTestLog(t, c.dir, c.cfg, Options{Clock: c.clock})
	if after := c.l.Producers(); !slices.Equal(before, after) {
		t.Fatalf("Producers replayed from the cleaned log:\n%+v\nwant\n%+v", after, before)
	}
	sameRecords(t, "records", readRecords(t, c.l), compactModel(c.all, st.EndOffset, false))
}

// TestCleanMergesSegments: small cleaned segments are merged up to segment.bytes, and
// the cleaned log's segments end where the next ones begin.
func TestCleanMergesSegments(t *testing.T) {
	c := newCompactLog(t, compactConfig())
	for i := 0; i < 60; i++ {
		c.append(0, kv{key: fmt.Sprint(i % 4), value: strings.Repeat("v", 40)})
	}
	c.seal()
	before := len(segmentFiles(t, c.dir))
	// As Kafka, segments are grouped by their size before cleaning: the first round
	// shrinks them, the next merges them.
	c.clean()
	st := c.clean()
	after := len(segmentFiles(t, c.dir))
	if st.SegmentsOut >= st.SegmentsIn || after >= before/2 {
		t.Fatalf("segments %d → %d (stats %+v)", before, after, st)
	}
	c.l.mu.RLock()
	for i, s := range c.l.segments[:len(c.l.segments)-1] {
		if s.st.next != c.l.segments[i+1].base || s.st.size > c.cfg.SegmentBytes {
			t.Errorf("segment %d: next %d, size %d; next base %d", s.base, s.st.next, s.st.size, c.l.segments[i+1].base)
		}
	}
	c.l.mu.RUnlock()
	// A second clean with nothing dirty changes nothing.
	got := readRecords(t, c.l)
	c.clean()
	sameRecords(t, "second clean", readRecords(t, c.l), got)
}

// TestCleanMapBound: with an offset map too small for the dirty section, rounds clean
// a prefix each and together reach the end.
func TestCleanMapBound(t *testing.T) {
	c := newCompactLog(t, compactConfig())
	for i := 0; i < 200; i++ {
		c.append(0, kv{key: fmt.Sprintf("key-%03d", i%50), value: fmt.Sprint(i)})
	}
	c.seal()
	end := c.l.LogEndOffset() - 1
	var rounds int
	for c.l.CleanedTo() < end {
		st, err := c.l.Clean(context.Background(), CleanOptions{MaxMapBytes: 10 * (mapEntryOverhead + 7)})
		if err != nil {
			t.Fatal(err)
		}
		if !st.Partial && st.EndOffset < end {
			t.Fatalf("round stopped at %d without being partial", st.EndOffset)
		}
		if st.EndOffset <= st.FirstDirty {
			t.Fatalf("no progress: %+v", st)
		}
		rounds++
		if rounds > 100 {
			t.Fatal("too many rounds")
		}
	}
	if rounds < 2 {
		t.Errorf("%d rounds: the map bound did not bite", rounds)
	}
	c.clean() // a last full round over everything below the end
	sameRecords(t, "after bounded rounds", readRecords(t, c.l), compactModel(c.all, end, false))
}

// TestCleanCrashAtEveryStep copies the log directory at every step of a cleaning
// round, as a crash there would leave it, and checks that each copy opens to a
// complete log holding all the compacted records and only records that were appended.
func TestCleanCrashAtEveryStep(t *testing.T) {
	c := newCompactLog(t, compactConfig())
	for i := 0; i < 24; i++ {
		c.append(0, kv{key: fmt.Sprint(i % 6), value: strings.Repeat("v", 30)})
	}
	c.seal()
	c.clean() // shrink, so that the round below merges several segments into one
	for i := 0; i < 12; i++ {
		c.append(0, kv{key: fmt.Sprint(i % 4), value: strings.Repeat("w", 30)})
	}
	c.seal()
	c.l.Flush()
	type snap struct{ step, dir string }
	var snaps []snap
	swapHook = func(step string) {
		dst := filepath.Join(t.TempDir(), "crash")
		copyDir(t, c.dir, dst)
		snaps = append(snaps, snap{step, dst})
	}
	defer func() { swapHook = nil }()
	st := c.clean()
	swapHook = nil
	t.Logf("%d crash points, stats %+v", len(snaps), st)
	compacted := compactModel(c.all, st.EndOffset, false)
	steps := map[string]bool{}
	for _, s := range snaps {
		steps[s.step] = true
	}
	for _, want := range []string{"cleaned", "renamed.index", "renamed.log", "swap", "deleted-old", "unswapped.index", "unswapped.log"} {
		if !steps[want] {
			t.Errorf("no crash simulated at step %s", want)
		}
	}
	for i, s := range snaps {
		// Alternate between recovering everything and trusting all but the swapped
		// segments (a recovery point at the end), to keep the test short.
		for _, rp := range []int64{int64(i%2) * c.l.LogEndOffset()} {
			dir := filepath.Join(t.TempDir(), "open")
			copyDir(t, s.dir, dir)
			l, err := Open(dir, c.cfg, rp, 0, Options{Clock: c.clock})
			if err != nil {
				t.Fatalf("crash %d at %s: Open: %v", i, s.step, err)
			}
			got := readRecords(t, l)
			checkBetween(t, fmt.Sprintf("crash %d at %s (recovery point %d)", i, s.step, rp), got, c.all, compacted)
			if l.LogEndOffset() != c.l.LogEndOffset() {
				t.Errorf("crash at %s: LEO %d, want %d", s.step, l.LogEndOffset(), c.l.LogEndOffset())
			}
			leftovers, _ := filepath.Glob(filepath.Join(dir, "*.*.*"))
			if len(leftovers) > 0 {
				t.Errorf("crash at %s: cleaner files left after Open: %v", s.step, leftovers)
			}
			// The recovered log cleans to the same result.
			if i%3 == 0 {
				l.SetHighWatermark(l.LogEndOffset())
				if _, err := l.Clean(context.Background(), CleanOptions{}); err != nil {
					t.Fatal(err)
				}
				sameRecords(t, "recleaned after crash at "+s.step, readRecords(t, l), compacted)
			}
			l.Close()
		}
	}
}

// checkBetween asserts got is a subsequence of all (by offset, key and value) that
// contains every record of compacted.
func checkBetween(t testing.TB, what string, got, all, compacted []rec) {
	t.Helper()
	byOff := map[int64]rec{}
	for _, r := range all {
		byOff[r.off] = r
	}
	have := map[int64]bool{}
	for i, r := range got {
		if o, ok := byOff[r.off]; !ok || !o.equal(r) {
			t.Fatalf("%s: record %v was never appended", what, r)
		}
		if i > 0 && r.off <= got[i-1].off {
			t.Fatalf("%s: offsets not increasing at %v", what, r)
		}
		have[r.off] = true
	}
	for _, r := range compacted {
		if !have[r.off] {
			t.Fatalf("%s: record %v lost", what, r)
		}
	}
}

// TestCleanWriteFailure: a write error while writing the cleaned segment leaves the
// log as it was, readable, with no cleaner files behind.
func TestCleanWriteFailure(t *testing.T) {
	fs := &faultFS{}
	cfg := compactConfig()
	dir := t.TempDir()
	clock := newFakeClock()
	l := openTestLog(t, dir, cfg, Options{Clock: clock, FS: fs})
	defer l.Close()
	c := &compactLog{t: t, l: l, clock: clock, dir: dir, cfg: cfg}
	for i := 0; i < 30; i++ {
		c.append(0, kv{key: fmt.Sprint(i % 3), value: strings.Repeat("v", 30)})
	}
	c.seal()
	fs.failWrites.Store(true)
	if _, err := l.Clean(context.Background(), CleanOptions{}); !errors.Is(err, kerr.KafkaStorageError) && err == nil {
		t.Fatal("Clean with failing writes succeeded")
	}
	fs.failWrites.Store(false)
	sameRecords(t, "after a failed clean", readRecords(t, l), c.all)
	if leftovers, _ := filepath.Glob(filepath.Join(dir, "*.*.*")); len(leftovers) > 0 {
		t.Errorf("cleaner files left: %v", leftovers)
	}
	if l.CleanedTo() != 0 {
		t.Errorf("cleaned-to moved to %d", l.CleanedTo())
	}
}

// TestCleanAbortsOnTruncation: a truncation while a round runs makes it give up
// before swapping.
func TestCleanAbortsOnTruncation(t *testing.T) {
	c := newCompactLog(t, compactConfig())
	for i := 0; i < 30; i++ {
		c.append(0, kv{key: fmt.Sprint(i % 3), value: strings.Repeat("v", 30)})
	}
	c.seal()
	swapHook = func(step string) {
		if step == "cleaned" {
			swapHook = nil
			if err := c.l.TruncateTo(5); err != nil {
				t.Error(err)
			}
		}
	}
	defer func() { swapHook = nil }()
	if _, err := c.l.Clean(context.Background(), CleanOptions{}); !errors.Is(err, errCleanAborted) {
		t.Fatalf("Clean across a truncation: %v", err)
	}
	sameRecords(t, "after truncation", readRecords(t, c.l), c.all[:5])
	if leftovers, _ := filepath.Glob(filepath.Join(c.dir, "*.*.*")); len(leftovers) > 0 {
		t.Errorf("cleaner files left: %v", leftovers)
	}
}

// TestCleanRandomized runs random appends (keys, tombstones, codecs, producers),
// cleans with random map bounds and clock steps, and checks the log against the
// rules after each step; at the end, past every delete horizon, it must equal the
// model exactly, before and after a restart.
func TestCleanRandomized(t *testing.T) {
	for seed := int64(1); seed <= 3; seed++ {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			rng := rand.New(rand.NewSource(seed))
			cfg := compactConfig()
			cfg.SegmentBytes = int64(300 + rng.Intn(600))
			c := newCompactLog(t, cfg)
			codecs := []int8{0, record.CodecGzip, record.CodecSnappy, record.CodecLZ4, record.CodecZstd}
			keys := 5 + rng.Intn(30)
			for op := 0; op < 120; op++ {
				switch x := rng.Intn(10); {
				case x < 8:
					var kvs []kv
					for n := 1 + rng.Intn(4); n > 0; n-- {
						kvs = append(kvs, kv{key: fmt.Sprintf("k%d", rng.Intn(keys)), value: fmt.Sprint(op), tombstone: rng.Intn(8) == 0})
					}
					c.append(codecs[rng.Intn(len(codecs))], kvs...)
				case x == 8:
					c.clock.Add(time.Duration(rng.Intn(40)) * time.Minute)
				default:
					if _, err := c.l.Clean(context.Background(), CleanOptions{MaxMapBytes: int64(rng.Intn(3000))}); err != nil {
						t.Fatal(err)
					}
					checkRules(t, c)
				}
			}
			c.seal()
			c.clean()
			checkRules(t, c)
			c.clock.Add(2 * time.Hour)
			st := c.clean()
			want := compactModel(c.all, st.EndOffset, true)
			sameRecords(t, "final", readRecords(t, c.l), want)
			c.l.Close()
			c.l = openTestLog(t, c.dir, cfg, Options{Clock: c.clock})
			sameRecords(t, "final after reopen", readRecords(t, c.l), want)
		})
	}
}

// checkRules: the log is a subsequence of what was appended; below the cleaned-to
// offset no record has a later record of its key also below it; every key's latest
// record (unless a tombstone, which may be gone with its key) is present.
func checkRules(t *testing.T, c *compactLog) {
	t.Helper()
	got := readRecords(t, c.l)
	checkBetween(t, "randomized", got, c.all, nil)
	cleaned := c.l.CleanedTo()
	latestBelow := map[string]int64{}
	latest := map[string]rec{}
	for _, r := range c.all {
		if r.off < cleaned {
			latestBelow[r.key] = r.off
		}
		latest[r.key] = r
	}
	present := map[int64]bool{}
	for _, r := range got {
		present[r.off] = true
		if r.off < cleaned && latestBelow[r.key] != r.off {
			t.Fatalf("record %v kept below cleaned-to %d though %d is later", r, cleaned, latestBelow[r.key])
		}
	}
	for _, r := range latest {
		if r.value != nil && !present[r.off] {
			t.Fatalf("latest record %v of its key lost", r)
		}
	}
}

// TestManagerCleaner: RunCleaner picks compacted logs by dirty ratio, records the
// cleaned-to offsets in cleaner-offset-checkpoint, and with many partitions of small
// segments ends after one pass instead of looping.
func TestManagerCleaner(t *testing.T) {
	dir := t.TempDir()
	clock := newFakeClock()
	m, err := OpenManager(dir, ManagerOptions{Options: Options{Clock: clock}})
	if err != nil {
		t.Fatal(err)
	}
	cfg := compactConfig()
	plain := testConfig()
	plain.SegmentBytes = 400
	const parts = 50
	for p := 0; p < parts; p++ {
		c := cfg
		if p == 0 {
			c = plain // not compacted: never cleaned
		}
		l, err := m.GetOrCreate(TopicPartition{"t", int32(p)}, [16]byte{}, c)
		if err != nil {
			t.Fatal(err)
		}
		for i := 0; i < 12; i++ {
			mustAppend(t, l, encodeKVs(t, 0, clock.Ms(), -1, 0, kv{key: fmt.Sprint(i % 2), value: strings.Repeat("v", 60)}), AppendOptions{})
		}
		l.SetHighWatermark(l.LogEndOffset())
	}
	if n := m.RunCleaner(context.Background()); n != parts-1 {
		t.Fatalf("first pass cleaned %d logs, want %d", n, parts-1)
	}
	if n := m.RunCleaner(context.Background()); n != 0 {
		t.Fatalf("second pass cleaned %d logs, want 0", n)
	}
	points, err := readOffsetCheckpoint(filepath.Join(dir, CleanerCheckpointFile))
	if err != nil {
		t.Fatal(err)
	}
	if len(points) != parts-1 {
		t.Fatalf("checkpoint has %d entries", len(points))
	}
	tp := TopicPartition{"t", 3}
	want := m.Get(tp).CleanedTo()
	if want == 0 || points[tp] != want {
		t.Fatalf("checkpoint %d, log cleaned to %d", points[tp], want)
	}
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	// The next session starts from the checkpoint.
	m, err = OpenManager(dir, ManagerOptions{Options: Options{Clock: clock}})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	l, err := m.GetOrCreate(tp, [16]byte{}, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if l.CleanedTo() != want {
		t.Errorf("reopened log cleaned to %d, want %d", l.CleanedTo(), want)
	}
	if n := m.RunCleaner(context.Background()); n != 0 {
		t.Errorf("cleaned %d logs after a restart with nothing dirty", n)
	}
}
