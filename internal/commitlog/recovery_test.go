package commitlog

import (
	"bytes"
	"math/rand"
	"os"
	"path/filepath"
	"testing"
)

func copyDir(t testing.TB, src, dst string) {
	t.Helper()
	ents, err := os.ReadDir(src)
	if err != nil {
		t.Fatal(err)
	}
	os.MkdirAll(dst, 0o755)
	for _, e := range ents {
		b, err := os.ReadFile(filepath.Join(src, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dst, e.Name()), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// TestCrashRecoveryRandom damages a log past its recovery point — cuts the active
// segment at random byte positions and flips random bytes — and checks that an unclean
// open keeps exactly the longest valid prefix, with indexes that agree with a scan.
func TestCrashRecoveryRandom(t *testing.T) {
	cfg := testConfig()
	cfg.SegmentBytes = 1500
	cfg.IndexIntervalBytes = 100
	golden := t.TempDir()
	l := openTestLog(t, golden, cfg, Options{})
	rng := rand.New(rand.NewSource(5))
	stored := appendSpecs(t, l, randomSpecs(rng, 120, 1000), 1)
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	// Where each batch lives: segment base and position.
	type loc struct {
		seg, pos, size, base, next int64
	}
	var locs []loc
	bases := segmentFiles(t, golden)
	for _, base := range bases {
		data, _ := os.ReadFile(segmentPath(golden, base, ".log"))
		for pos := int64(0); pos < int64(len(data)); {
			h, err := ReadBatch(data[pos:])
			if err != nil {
				t.Fatal(err)
			}
			locs = append(locs, loc{base, pos, h.Size(), h.BaseOffset, h.LastOffset() + 1})
			pos += h.Size()
		}
	}
	if len(locs) != len(stored) || len(bases) < 5 {
		t.Fatalf("%d batches in %d segments", len(locs), len(bases))
	}

	for iter := 0; iter < 60; iter++ {
		dir := filepath.Join(t.TempDir(), "p-0")
		copyDir(t, golden, dir)
		// The recovery point is the start of some batch in the second half.
		rpBatch := len(locs)/2 + rng.Intn(len(locs)/2)
		rp := locs[rpBatch].base
		rpSeg := rp
		for _, b := range bases {
			if b <= rp {
				rpSeg = b
			}
		}
		firstBad := len(locs) // index of the first damaged batch
		active := bases[len(bases)-1]
		if rng.Intn(2) == 0 {
			path := segmentPath(dir, active, ".log")
			fi, _ := os.Stat(path)
			cut := rng.Int63n(fi.Size() + 1)
			os.Truncate(path, cut)
			for i, lc := range locs {
				if lc.seg == active && lc.pos+lc.size > cut {
					firstBad = min(firstBad, i)
					break
				}
			}
		}
		for n := rng.Intn(3); n > 0; n-- {
			// Flip a CRC-protected or structural byte of a batch in a scanned segment:
			// baseOffset and partitionLeaderEpoch lie outside the CRC by design.
			cands := []int{}
			for i, lc := range locs {
				if lc.seg >= rpSeg {
					cands = append(cands, i)
				}
			}
			i := cands[rng.Intn(len(cands))]
			lc := locs[i]
			var off int64
			for {
				off = 8 + rng.Int63n(lc.size-8)
				if off < 12 || off >= 16 {
					break
				}
			}
			path := segmentPath(dir, lc.seg, ".log")
			data, _ := os.ReadFile(path)
			if lc.pos+off >= int64(len(data)) {
				continue // already cut away
			}
			data[lc.pos+off] ^= byte(1 + rng.Intn(255))
			os.WriteFile(path, data, 0o644)
			firstBad = min(firstBad, i)
		}
		if rng.Intn(3) == 0 {
			os.Remove(segmentPath(dir, active, ".index")) // a lost index is rebuilt
		}

		l, err := Open(dir, cfg, rp, 0, Options{})
		if err != nil {
			t.Fatalf("iteration %d: Open: %v", iter, err)
		}
		wantLEO := int64(0)
		if firstBad > 0 {
			wantLEO = locs[firstBad-1].next
		}
		if l.LogEndOffset() != wantLEO {
			l.Close()
			t.Fatalf("iteration %d: LEO %d, want %d (first bad batch %d)", iter, l.LogEndOffset(), wantLEO, firstBad)
		}
		got := readAll(t, l)
		if len(got) != firstBad {
			t.Fatalf("iteration %d: %d batches, want %d", iter, len(got), firstBad)
		}
		var all []byte
		res, _ := l.Read(0, 1<<30, wantLEO, true)
		all = append(all, res.Records...)
		if !bytes.HasPrefix(bytes.Join(stored, nil), all) {
			t.Fatalf("iteration %d: data differs from what was appended", iter)
		}
		checkIndexes(t, l, true)
		// The log goes on: append, close, reopen clean.
		mustAppend(t, l, makeBatch(batchSpec{firstTs: 5000}), AppendOptions{})
		if err := l.Close(); err != nil {
			t.Fatal(err)
		}
		l = openTestLog(t, dir, cfg, Options{HadCleanShutdown: true})
		if l.LogEndOffset() != wantLEO+1 {
			t.Fatalf("iteration %d: after reopen LEO %d", iter, l.LogEndOffset())
		}
		l.Close()
	}
}

func FuzzRecover(f *testing.F) {
	var seed []byte
	for i := 0; i < 4; i++ {
		b := makeBatch(batchSpec{n: i + 1, firstTs: int64(100 * i)})
		setBaseOffset(b, int64(i*(i+1)/2))
		seed = append(seed, b...)
	}
	f.Add(seed, int64(0))
	f.Add(seed[:len(seed)-7], int64(3))
	f.Add([]byte{}, int64(0))
	f.Add(make([]byte, 200), int64(0))
	f.Fuzz(func(t *testing.T, data []byte, rp int64) {
		dir := t.TempDir()
		if err := os.WriteFile(segmentPath(dir, 0, ".log"), data, 0o644); err != nil {
			t.Fatal(err)
		}
		cfg := testConfig()
		cfg.IndexIntervalBytes = 64
		for _, clean := range []bool{false, true} {
			l, err := Open(dir, cfg, rp, 0, Options{HadCleanShutdown: clean})
			if err != nil {
				t.Fatalf("Open(clean=%v): %v", clean, err)
			}
			readAll(t, l)
			l.OffsetForTimestamp(0)
			l.MaxTimestamp()
			if !clean {
				checkIndexes(t, l, true)
			}
			if err := l.Close(); err != nil {
				t.Fatal(err)
			}
		}
	})
}
