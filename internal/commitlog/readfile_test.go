package commitlog

import (
	"bytes"
	"errors"
	"math/rand"
	"os"
	"slices"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
)

// sliceBytes reads a FileSlice's bytes with pread.
func sliceBytes(t testing.TB, fs FileSlice) []byte {
	t.Helper()
	if fs.Size == 0 {
		return nil
	}
	b := make([]byte, fs.Size)
	if _, err := fs.File.ReadAt(b, fs.Pos); err != nil {
		t.Fatalf("read slice %d+%d: %v", fs.Pos, fs.Size, err)
	}
	return b
}

func TestReadFileLimits(t *testing.T) {
	l := openTestLog(t, t.TempDir(), testConfig(), Options{})
	defer l.Close()
	stored := appendSpecs(t, l, []batchSpec{{n: 2, valueSize: 100}, {n: 3}, {n: 1}}, 0)
	all := bytes.Join(stored, nil)
	s0, s1 := len(stored[0]), len(stored[1])
	leo := l.LogEndOffset()
	l.SetHighWatermark(leo)
	for _, tc := range []struct {
		name      string
		offset    int64
		maxBytes  int
		maxOffset int64
		minOne    bool
		want      []byte
		err       *kerr.Error
	}{
		{"all", 0, 1 << 20, leo, false, all, nil},
		{"from middle of first batch", 1, 1 << 20, leo, false, all, nil},
		{"maxBytes cuts the last batch", 0, s0 + s1 + 5, leo, false, all[:s0+s1+5], nil},
		{"maxBytes at a batch end", 0, s0 + s1, leo, false, all[:s0+s1], nil},
		{"first batch too large", 0, s0 - 1, leo, false, nil, nil},
		{"first batch too large, minOneBatch", 0, s0 - 1, leo, true, stored[0], nil},
		{"zero maxBytes", 2, 0, leo, false, nil, nil},
		{"zero maxBytes, minOneBatch", 2, 0, leo, true, stored[1], nil},
		{"negative maxBytes, minOneBatch", 2, -5, leo, true, stored[1], nil},
		{"maxOffset excludes batch crossing it", 0, 1 << 20, 4, false, stored[0], nil},
		{"maxOffset at batch end", 0, 1 << 20, 5, false, all[:s0+s1], nil},
		{"maxOffset past the high watermark is capped", 0, 1 << 20, leo + 100, false, all, nil},
		{"at maxOffset", 2, 1 << 20, 2, true, nil, nil},
		{"at log end", leo, 1 << 20, leo, true, nil, nil},
		{"past log end", leo + 1, 1 << 20, leo, true, nil, kerr.OffsetOutOfRange},
		{"negative", -1, 1 << 20, leo, true, nil, kerr.OffsetOutOfRange},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fs, err := l.ReadFile(tc.offset, tc.maxBytes, tc.maxOffset, tc.minOne)
			if tc.err != nil {
				if !errors.Is(err, tc.err) {
					t.Fatalf("got %v, want %v", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := sliceBytes(t, fs); !bytes.Equal(got, tc.want) {
				t.Fatalf("got %d bytes at %d, want %d", len(got), fs.Pos, len(tc.want))
			}
			if fs.HighWatermark != leo {
				t.Fatalf("high watermark %d, want %d", fs.HighWatermark, leo)
			}
		})
	}
}

// TestReadFileMatchesRead checks ReadFile against Read over a log of many segments with
// the high watermark at every batch boundary, inside batches, and lagging the log end:
// the slice is Read's whole batches below the high watermark, cut by maxBytes.
func TestReadFileMatchesRead(t *testing.T) {
	cfg := testConfig()
	cfg.SegmentBytes = 1500
	cfg.IndexIntervalBytes = 200
	l := openTestLog(t, t.TempDir(), cfg, Options{})
	defer l.Close()
	rng := rand.New(rand.NewSource(7))
	appendSpecs(t, l, randomSpecs(rng, 120, 1000), 0)
	leo := l.LogEndOffset()
	check := func(hw int64) {
		t.Helper()
		l.SetHighWatermark(hw)
		for off := l.LogStartOffset(); off < leo; off++ {
			whole, err := l.Read(off, 1<<30, hw, true)
			if err != nil {
				t.Fatal(err)
			}
			for _, mb := range []int{1 << 30, rng.Intn(600), 0} {
				for _, minOne := range []bool{false, true} {
					fs, err := l.ReadFile(off, mb, 1<<62, minOne)
					if err != nil {
						t.Fatal(err)
					}
					got := sliceBytes(t, fs)
					want := whole.Records[:min(mb, len(whole.Records))]
					if len(whole.Records) > 0 {
						h, _ := ParseBatchHeader(whole.Records)
						if int(h.Size()) > mb {
							want = nil
							if minOne {
								want = whole.Records[:h.Size()]
							}
						}
					}
					if !bytes.Equal(got, want) {
						t.Fatalf("hw %d, offset %d, maxBytes %d, minOne %v: %d bytes, want %d", hw, off, mb, minOne, len(got), len(want))
					}
				}
			}
		}
	}
	for _, hw := range []int64{leo, leo - 1, leo / 2, 3, 1, 0} {
		check(hw)
	}
}

// TestHighWatermarkPosition checks the remembered position of the high watermark as it
// moves to append ends, in order and out of order (as group-commit appends finish), and
// to offsets no recent append ended at.
func TestHighWatermarkPosition(t *testing.T) {
	cfg := testConfig()
	cfg.SegmentBytes = 1000
	cfg.IndexIntervalBytes = 100
	l := openTestLog(t, t.TempDir(), cfg, Options{})
	defer l.Close()
	rng := rand.New(rand.NewSource(3))
	var ends []int64
	for _, s := range randomSpecs(rng, 60, 1000) {
		res := mustAppend(t, l, makeBatch(s), AppendOptions{})
		ends = append(ends, res.LastOffset+1)
	}
	// check verifies a mark by an independent walk: it names a live segment holding hw
	// (or ending at it), and the bytes before its position are the batches below hw.
	check := func(hw int64) {
		t.Helper()
		l.mu.RLock()
		defer l.mu.RUnlock()
		m := l.hwPos
		if m.seg == nil || m.offset != hw || !slices.Contains(l.segments, m.seg) || hw < m.seg.base || hw > m.seg.st.next {
			t.Fatalf("hw %d: mark %+v", hw, m)
		}
		pos := int64(0)
		_, err := m.seg.walk(0, m.seg.st.size, func(h *BatchHeader, p int64) bool {
			if h.BaseOffset >= hw {
				return false
			}
			pos = p + h.Size()
			return true
		})
		if err != nil || m.pos != pos {
			t.Fatalf("hw %d: mark in segment %d at %d, a walk says %d (%v)", hw, m.seg.base, m.pos, pos, err)
		}
	}
	order := append([]int64{}, ends[len(ends)-5:]...)
	rng.Shuffle(len(order), func(i, j int) { order[i], order[j] = order[j], order[i] })
	order = append(order, ends[:10]...) // beyond the ring: found by a walk
	for _, hw := range order {
		l.SetHighWatermark(hw)
		check(hw)
	}
}

// TestReadFileAfterSegmentDeleted: a slice taken before retention deletes its segment
// fails cleanly (os.ErrClosed) instead of reading another file.
func TestReadFileAfterSegmentDeleted(t *testing.T) {
	cfg := testConfig()
	b := makeBatch(batchSpec{valueSize: 40, firstTs: 1})
	cfg.SegmentBytes = int64(len(b)) // one batch per segment
	cfg.RetentionBytes = 0
	cfg.RetentionTime = -1
	clock := newFakeClock()
	l := openTestLog(t, t.TempDir(), cfg, Options{Clock: clock})
	defer l.Close()
	for i := 0; i < 3; i++ {
		mustAppend(t, l, makeBatch(batchSpec{valueSize: 40, firstTs: 1}), AppendOptions{})
	}
	l.SetHighWatermark(l.LogEndOffset())
	fs, err := l.ReadFile(0, 1<<20, l.HighWatermark(), true)
	if err != nil || fs.Size != int64(len(b)) {
		t.Fatalf("slice of %d bytes (%v)", fs.Size, err)
	}
	if n, err := l.ApplyRetention(); n != 2 || err != nil {
		t.Fatalf("retention deleted %d (%v)", n, err)
	}
	buf := make([]byte, fs.Size)
	if _, err := fs.File.ReadAt(buf, fs.Pos); !errors.Is(err, os.ErrClosed) {
		t.Fatalf("read of a deleted segment: %v, want os.ErrClosed", err)
	}
	if _, err := l.ReadFile(0, 1<<20, l.HighWatermark(), true); !errors.Is(err, kerr.OffsetOutOfRange) {
		t.Fatalf("ReadFile below the new log start: %v", err)
	}
}
