package producerstate

import (
	"encoding/binary"
	"errors"
	"hash/crc32"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"testing"
)

// sampleManager has producers exercising every field: several batch counts, extreme
// values, an open transaction, and an entry without batches.
func sampleManager() *Manager {
	m := New()
	for n := range 7 {
		m.Update(1, 5, batchN(n))
	}
	m.Update(2, math.MaxInt16, BatchMeta{FirstSeq: math.MaxInt32 - 4, LastSeq: 4, FirstOffset: 700, LastOffset: 709, MaxTimestamp: -1})
	m.UpdateTransactional(3, 0, BatchMeta{FirstSeq: 0, LastSeq: 0, FirstOffset: 710, LastOffset: 710, MaxTimestamp: math.MaxInt64})
	m.EndTxn(4, 1, math.MaxInt32, 711, 42)
	m.Update(math.MaxInt64, 0, BatchMeta{FirstSeq: 0, LastSeq: 0, FirstOffset: 712, LastOffset: 712, MaxTimestamp: 0})
	m.Update(0, 0, BatchMeta{FirstSeq: 3, LastSeq: 3, FirstOffset: 713, LastOffset: 713, MaxTimestamp: math.MinInt64})
	return m
}

// snapshotsIn lists the snapshot offsets in dir, oldest first, failing on any other file.
func snapshotsIn(t *testing.T, dir string) []int64 {
	t.Helper()
	des, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var offs []int64
	for _, de := range des {
		off, ok := parseSnapshotName(de.Name())
		if !ok {
			t.Fatalf("unexpected file %s in %s", de.Name(), dir)
		}
		offs = append(offs, off)
	}
	slices.Sort(offs)
	return offs
}

func TestSnapshotRoundTrip(t *testing.T) {
	dir := t.TempDir()
	src := sampleManager()
	if err := src.WriteSnapshot(dir, 714); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "00000000000000000714.snapshot")); err != nil {
		t.Fatalf("snapshot file name: %v", err)
	}
	dst := New()
	dst.Update(77, 0, batchN(0)) // loading must replace, not merge
	off, err := dst.LoadSnapshot(dir, 714)
	if err != nil || off != 714 {
		t.Fatalf("LoadSnapshot = %d, %v; want 714", off, err)
	}
	if got, want := dst.Entries(), src.Entries(); !reflect.DeepEqual(got, want) {
		t.Fatalf("loaded entries differ:\ngot  %+v\nwant %+v", got, want)
	}
	// The loaded state behaves as the original: duplicates, sequences, and appends.
	if dup, err := dst.Check(1, 5, 60, 69); err != nil || dup == nil || *dup != batchN(6) {
		t.Fatalf("Check duplicate after load = %v, %v", dup, err)
	}
	if _, err := dst.Check(1, 5, 70, 79); err != nil {
		t.Fatalf("Check next after load: %v", err)
	}
	dst.Update(1, 5, batchN(7))
	if e, _ := dst.Get(1); len(e.Batches) != MaxBatches || e.Batches[0] != batchN(3) {
		t.Fatalf("batches after load and update: %+v", e.Batches)
	}

	// An empty state round-trips too.
	empty := t.TempDir()
	if err := New().WriteSnapshot(empty, 0); err != nil {
		t.Fatal(err)
	}
	if off, err := dst.LoadSnapshot(empty, 0); err != nil || off != 0 || dst.Len() != 0 {
		t.Fatalf("LoadSnapshot of empty state = %d, %v, %d producers", off, err, dst.Len())
	}
}

func TestWriteSnapshotKeepsNewestTwo(t *testing.T) {
	dir := t.TempDir()
	m := sampleManager()
	for i, off := range []int64{100, 200, 300, 400} {
		if err := m.WriteSnapshot(dir, off); err != nil {
			t.Fatal(err)
		}
		want := []int64{100, 200, 300, 400}[max(0, i-1) : i+1]
		if got := snapshotsIn(t, dir); !reflect.DeepEqual(got, want) {
			t.Fatalf("after writing %d: snapshots %v, want %v", off, got, want)
		}
	}
	// Writing below existing snapshots (the log was truncated) removes the higher ones
	// rather than the one just written.
	if err := m.WriteSnapshot(dir, 150); err != nil {
		t.Fatal(err)
	}
	if got := snapshotsIn(t, dir); !reflect.DeepEqual(got, []int64{150}) {
		t.Fatalf("after writing 150: snapshots %v, want [150]", got)
	}
	// Rewriting the same offset replaces it.
	m.Update(9, 0, batchN(9))
	if err := m.WriteSnapshot(dir, 150); err != nil {
		t.Fatal(err)
	}
	n := New()
	if off, err := n.LoadSnapshot(dir, math.MaxInt64); err != nil || off != 150 || n.Len() != m.Len() {
		t.Fatalf("LoadSnapshot = %d, %v, %d producers; want 150 with %d", off, err, n.Len(), m.Len())
	}
	if err := m.WriteSnapshot(dir, -1); err == nil {
		t.Fatal("WriteSnapshot at a negative offset succeeded")
	}
}

func TestLoadSnapshotMaxOffset(t *testing.T) {
	tests := []struct {
		maxOffset int64
		wantOff   int64
		wantLeft  []int64
	}{
		{maxOffset: math.MaxInt64, wantOff: 300, wantLeft: []int64{100, 200, 300}},
		{maxOffset: 300, wantOff: 300, wantLeft: []int64{100, 200, 300}},
		{maxOffset: 299, wantOff: 200, wantLeft: []int64{100, 200}},
		{maxOffset: 100, wantOff: 100, wantLeft: []int64{100}},
		{maxOffset: 99, wantOff: -1, wantLeft: nil},
	}
	for _, tt := range tests {
		dir := t.TempDir()
		for _, off := range []int64{100, 200, 300} {
			m := New()
			m.Update(off, 0, batchN(0)) // the producer id tells the snapshots apart
			if err := os.WriteFile(filepath.Join(dir, SnapshotFileName(off)), m.encode(off), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		m := sampleManager()
		off, err := m.LoadSnapshot(dir, tt.maxOffset)
		if err != nil || off != tt.wantOff {
			t.Errorf("LoadSnapshot(%d) = %d, %v; want %d", tt.maxOffset, off, err, tt.wantOff)
			continue
		}
		var wantPIDs []int64
		if off >= 0 {
			wantPIDs = []int64{off}
		}
		var pids []int64
		for _, e := range m.Entries() {
			pids = append(pids, e.ProducerID)
		}
		if !reflect.DeepEqual(pids, wantPIDs) {
			t.Errorf("LoadSnapshot(%d): producers %v, want %v", tt.maxOffset, pids, wantPIDs)
		}
		if got := snapshotsIn(t, dir); !reflect.DeepEqual(got, tt.wantLeft) {
			t.Errorf("LoadSnapshot(%d) left snapshots %v, want %v", tt.maxOffset, got, tt.wantLeft)
		}
	}
}

func TestLoadSnapshotNone(t *testing.T) {
	m := sampleManager()
	if off, err := m.LoadSnapshot(filepath.Join(t.TempDir(), "missing"), 1000); err != nil || off != -1 || m.Len() != 0 {
		t.Fatalf("LoadSnapshot of a missing dir = %d, %v, %d producers", off, err, m.Len())
	}
	dir := t.TempDir()
	// Files that are not snapshots are left alone; a leftover temporary file is removed.
	for _, name := range []string{"00000000000000000000.log", "123.snapshot", "x.snapshot.tmp", "00000000000000000005.snapshot.tmp"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte("junk"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if off, err := m.LoadSnapshot(dir, 1000); err != nil || off != -1 {
		t.Fatalf("LoadSnapshot = %d, %v", off, err)
	}
	des, _ := os.ReadDir(dir)
	var names []string
	for _, de := range des {
		names = append(names, de.Name())
	}
	if want := []string{"00000000000000000000.log", "123.snapshot", "x.snapshot.tmp"}; !reflect.DeepEqual(names, want) {
		t.Fatalf("files left %v, want %v", names, want)
	}
}

// TestLoadSnapshotCorruptFallsBack damages the newest of two snapshots in every way a
// single bit flip or a truncation can and checks the older one is loaded instead and
// the damaged one deleted.
func TestLoadSnapshotCorruptFallsBack(t *testing.T) {
	older := New()
	older.Update(1, 0, batchN(0))
	olderData := older.encode(100)
	newData := sampleManager().encode(200)

	check := func(t *testing.T, damaged []byte) {
		t.Helper()
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, SnapshotFileName(100)), olderData, 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, SnapshotFileName(200)), damaged, 0o644); err != nil {
			t.Fatal(err)
		}
		m := New()
		off, err := m.LoadSnapshot(dir, math.MaxInt64)
		if err != nil || off != 100 {
			t.Fatalf("LoadSnapshot = %d, %v; want fallback to 100", off, err)
		}
		if !reflect.DeepEqual(m.Entries(), older.Entries()) {
			t.Fatalf("loaded %+v, want %+v", m.Entries(), older.Entries())
		}
		if got := snapshotsIn(t, dir); !reflect.DeepEqual(got, []int64{100}) {
			t.Fatalf("snapshots left %v, want [100]", got)
		}
	}
	t.Run("bit flip", func(t *testing.T) {
		for i := range len(newData) * 8 {
			damaged := slices.Clone(newData)
			damaged[i/8] ^= 1 << (i % 8)
			check(t, damaged)
		}
	})
	t.Run("truncation", func(t *testing.T) {
		for n := range len(newData) {
			check(t, newData[:n])
		}
	})
	t.Run("trailing bytes", func(t *testing.T) {
		check(t, append(slices.Clone(newData), 0))
	})
	t.Run("both corrupt", func(t *testing.T) {
		dir := t.TempDir()
		os.WriteFile(filepath.Join(dir, SnapshotFileName(100)), olderData[:10], 0o644)
		os.WriteFile(filepath.Join(dir, SnapshotFileName(200)), newData[:10], 0o644)
		m := sampleManager()
		if off, err := m.LoadSnapshot(dir, math.MaxInt64); err != nil || off != -1 || m.Len() != 0 {
			t.Fatalf("LoadSnapshot = %d, %v, %d producers; want -1 and empty", off, err, m.Len())
		}
		if got := snapshotsIn(t, dir); len(got) != 0 {
			t.Fatalf("snapshots left %v", got)
		}
	})
}

// fixCRC recomputes the checksum of a snapshot so that tests can reach the checks
// behind it.
func fixCRC(b []byte) {
	if len(b) >= crcStart {
		binary.BigEndian.PutUint32(b[2:], crc32.Checksum(b[crcStart:], castagnoli))
	}
}

// TestDecodeRejects feeds decode snapshots with a valid CRC but impossible content.
func TestDecodeRejects(t *testing.T) {
	good := sampleManager().encode(714)
	if _, err := decode(good, 714); err != nil {
		t.Fatalf("decode of a good snapshot: %v", err)
	}
	// Offsets within the file of the sample's first entry (producer 0, one batch).
	const e0 = headerLen
	tests := []struct {
		name   string
		offset int64
		edit   func(b []byte) []byte
	}{
		{"version 2", 714, func(b []byte) []byte { binary.BigEndian.PutUint16(b, 2); return b }},
		{"offset differs from name", 715, func(b []byte) []byte { return b }},
		{"huge entry count", 714, func(b []byte) []byte { binary.BigEndian.PutUint32(b[14:], math.MaxUint32); return b }},
		{"entry count one too many", 714, func(b []byte) []byte {
			binary.BigEndian.PutUint32(b[14:], binary.BigEndian.Uint32(b[14:])+1)
			return b
		}},
		{"entry count one too few", 714, func(b []byte) []byte {
			binary.BigEndian.PutUint32(b[14:], binary.BigEndian.Uint32(b[14:])-1)
			return b
		}},
		{"negative producer id", 714, func(b []byte) []byte { binary.BigEndian.PutUint64(b[e0:], math.MaxUint64); return b }},
		{"duplicate producer id", 714, func(b []byte) []byte {
			// The second entry is producer 1; make the first producer 1 as well.
			binary.BigEndian.PutUint64(b[e0:], 1)
			return b
		}},
		{"transaction offset below -1", 714, func(b []byte) []byte { binary.BigEndian.PutUint64(b[e0+14:], uint64(1<<64-2)); return b }},
		{"six batches", 714, func(b []byte) []byte { b[e0+30] = 6; return b }},
		{"255 batches", 714, func(b []byte) []byte { b[e0+30] = 255; return b }},
		{"batch last offset below first", 714, func(b []byte) []byte {
			binary.BigEndian.PutUint64(b[e0+entryFixedLen+16:], 0)
			return b
		}},
		{"negative batch offset", 714, func(b []byte) []byte {
			binary.BigEndian.PutUint64(b[e0+entryFixedLen+8:], math.MaxUint64)
			return b
		}},
	}
	for _, tt := range tests {
		b := tt.edit(slices.Clone(good))
		fixCRC(b)
		if _, err := decode(b, tt.offset); !errors.Is(err, ErrCorruptSnapshot) {
			t.Errorf("%s: decode error = %v, want ErrCorruptSnapshot", tt.name, err)
		}
	}
	// Batches out of offset order in producer 1 (five batches after the first entry).
	b := slices.Clone(good)
	p1 := e0 + entryFixedLen + batchLen + entryFixedLen
	first := slices.Clone(b[p1 : p1+batchLen])
	copy(b[p1:], b[p1+batchLen:p1+2*batchLen])
	copy(b[p1+batchLen:], first)
	fixCRC(b)
	if _, err := decode(b, 714); !errors.Is(err, ErrCorruptSnapshot) {
		t.Errorf("batches out of order: decode error = %v, want ErrCorruptSnapshot", err)
	}
}

func TestDeleteSnapshots(t *testing.T) {
	dir := t.TempDir()
	for _, off := range []int64{100, 200, 300} {
		if err := os.WriteFile(filepath.Join(dir, SnapshotFileName(off)), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := DeleteSnapshotsAbove(dir, 200); err != nil {
		t.Fatal(err)
	}
	if got := snapshotsIn(t, dir); !reflect.DeepEqual(got, []int64{100, 200}) {
		t.Fatalf("after DeleteSnapshotsAbove(200): %v", got)
	}
	os.WriteFile(filepath.Join(dir, SnapshotFileName(400)+".tmp"), nil, 0o644)
	os.WriteFile(filepath.Join(dir, "keep.log"), nil, 0o644)
	if err := DeleteSnapshots(dir); err != nil {
		t.Fatal(err)
	}
	des, _ := os.ReadDir(dir)
	if len(des) != 1 || des[0].Name() != "keep.log" {
		t.Fatalf("after DeleteSnapshots: %v", des)
	}
	if err := DeleteSnapshots(filepath.Join(dir, "missing")); err != nil {
		t.Fatalf("DeleteSnapshots of a missing dir: %v", err)
	}
}

// FuzzLoadSnapshot loads arbitrary bytes as a snapshot file. It must never panic nor
// allocate by an unchecked count; a file that loads must re-encode to the same bytes
// (the format has one encoding per state), and one that does not must be deleted.
// With fixCRC the checksum is repaired first, so that mutations reach the parser.
func FuzzLoadSnapshot(f *testing.F) {
	f.Add(sampleManager().encode(100), false)
	f.Add(New().encode(100), false)
	f.Add([]byte{}, false)
	f.Add(sampleManager().encode(100)[:headerLen], true)
	huge := sampleManager().encode(100)
	binary.BigEndian.PutUint32(huge[14:], math.MaxUint32)
	f.Add(huge, true)
	f.Fuzz(func(t *testing.T, data []byte, repair bool) {
		data = slices.Clone(data)
		if repair {
			fixCRC(data)
		}
		dir := t.TempDir()
		path := filepath.Join(dir, SnapshotFileName(100))
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Fatal(err)
		}
		m := New()
		off, err := m.LoadSnapshot(dir, 100)
		if err != nil {
			t.Fatalf("LoadSnapshot: %v", err)
		}
		switch off {
		case 100:
			if again := m.encode(100); !slices.Equal(again, data) {
				t.Fatalf("loaded snapshot re-encodes differently:\n% x\n% x", data, again)
			}
		case -1:
			if m.Len() != 0 {
				t.Fatalf("no snapshot loaded but %d producers", m.Len())
			}
			if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
				t.Fatalf("corrupt snapshot not deleted: %v", err)
			}
		default:
			t.Fatalf("LoadSnapshot = %d", off)
		}
	})
}

// FuzzDecodeSnapshot is FuzzLoadSnapshot without the file system, which makes the fuzzer
// some hundred times faster at exploring the parser.
func FuzzDecodeSnapshot(f *testing.F) {
	f.Add(sampleManager().encode(100), false)
	f.Add(New().encode(100), false)
	f.Add([]byte{}, false)
	huge := sampleManager().encode(100)
	binary.BigEndian.PutUint32(huge[14:], math.MaxUint32)
	f.Add(huge, true)
	f.Fuzz(func(t *testing.T, data []byte, repair bool) {
		data = slices.Clone(data)
		if repair {
			fixCRC(data)
		}
		producers, err := decode(data, 100)
		if err != nil {
			if !errors.Is(err, ErrCorruptSnapshot) {
				t.Fatalf("decode error %v does not wrap ErrCorruptSnapshot", err)
			}
			return
		}
		m := &Manager{producers: producers}
		if again := m.encode(100); !slices.Equal(again, data) {
			t.Fatalf("decoded snapshot re-encodes differently:\n% x\n% x", data, again)
		}
	})
}
