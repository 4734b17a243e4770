package commitlog

import (
	"encoding/binary"
	"fmt"
	"io"
	"sort"
)

const (
	offsetEntrySize = 8  // relative offset int32, position int32
	timeEntrySize   = 12 // timestamp int64, relative offset int32
)

// offsetEntry maps the last offset of a batch (relative to the segment's base offset)
// to the batch's byte position in the .log file.
type offsetEntry struct {
	rel int32
	pos int32
}

// timeEntry says: up to and including the batch whose last offset is base+rel, the
// largest timestamp seen in the segment is ts. Timestamps strictly increase.
type timeEntry struct {
	ts  int64
	rel int32
}

// readIndexFile reads a whole index file. Index files are small (a 1 GiB segment with
// the default interval has a 2 MiB .index) and their size is bounded by
// segment.index.bytes, so reading them whole is fine; maxBytes guards a bogus file.
func readIndexFile(f File, entrySize int, maxBytes int64) ([]byte, error) {
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	size := fi.Size()
	if size%int64(entrySize) != 0 {
		return nil, fmt.Errorf("commitlog: index size %d is not a multiple of %d", size, entrySize)
	}
	if size > maxBytes {
		return nil, fmt.Errorf("commitlog: index size %d exceeds %d", size, maxBytes)
	}
	b := make([]byte, size)
	if _, err := f.ReadAt(b, 0); err != nil && err != io.EOF {
		return nil, err
	}
	return b, nil
}

func decodeOffsetIndex(b []byte) []offsetEntry {
	es := make([]offsetEntry, len(b)/offsetEntrySize)
	for i := range es {
		p := b[i*offsetEntrySize:]
		es[i] = offsetEntry{rel: int32(binary.BigEndian.Uint32(p)), pos: int32(binary.BigEndian.Uint32(p[4:]))}
	}
	return es
}

func decodeTimeIndex(b []byte) []timeEntry {
	es := make([]timeEntry, len(b)/timeEntrySize)
	for i := range es {
		p := b[i*timeEntrySize:]
		es[i] = timeEntry{ts: int64(binary.BigEndian.Uint64(p)), rel: int32(binary.BigEndian.Uint32(p[8:]))}
	}
	return es
}

func encodeOffsetEntries(es []offsetEntry) []byte {
	b := make([]byte, 0, len(es)*offsetEntrySize)
	for _, e := range es {
		b = binary.BigEndian.AppendUint32(b, uint32(e.rel))
		b = binary.BigEndian.AppendUint32(b, uint32(e.pos))
	}
	return b
}

func encodeTimeEntries(es []timeEntry) []byte {
	b := make([]byte, 0, len(es)*timeEntrySize)
	for _, e := range es {
		b = binary.BigEndian.AppendUint64(b, uint64(e.ts))
		b = binary.BigEndian.AppendUint32(b, uint32(e.rel))
	}
	return b
}

// checkOffsetIndex is the sanity check run on a loaded .index: relative offsets and
// positions strictly increase and every position lies inside the .log file.
func checkOffsetIndex(es []offsetEntry, logSize int64) error {
	for i, e := range es {
		if e.rel < 0 || e.pos < 0 || int64(e.pos) >= logSize {
			return fmt.Errorf("commitlog: index entry %d (%d, %d) out of range", i, e.rel, e.pos)
		}
		if i > 0 && (e.rel <= es[i-1].rel || e.pos <= es[i-1].pos) {
			return fmt.Errorf("commitlog: index entry %d (%d, %d) not increasing", i, e.rel, e.pos)
		}
	}
	return nil
}

// checkTimeIndex is the sanity check run on a loaded .timeindex: timestamps strictly
// increase and offsets do not decrease (Kafka's TimeIndex invariants).
func checkTimeIndex(es []timeEntry) error {
	for i, e := range es {
		if e.rel < 0 {
			return fmt.Errorf("commitlog: time index entry %d has offset %d", i, e.rel)
		}
		if i > 0 && (e.ts <= es[i-1].ts || e.rel < es[i-1].rel) {
			return fmt.Errorf("commitlog: time index entry %d (%d, %d) not increasing", i, e.ts, e.rel)
		}
	}
	return nil
}

// lookupOffset returns the position of the largest entry whose offset is <= rel, or 0:
// the batch holding rel starts at or after it.
func lookupOffset(es []offsetEntry, rel int64) int64 {
	i := sort.Search(len(es), func(i int) bool { return int64(es[i].rel) > rel })
	if i == 0 {
		return 0
	}
	return int64(es[i-1].pos)
}

// lookupTime returns the relative offset of the largest entry whose timestamp is
// strictly below ts, or -1. Every record at or before that offset has a timestamp
// below ts, so the first record with timestamp >= ts lies after it. (Kafka searches for
// <= ts, which can skip earlier records with a timestamp equal to ts.)
func lookupTime(es []timeEntry, ts int64) int64 {
	i := sort.Search(len(es), func(i int) bool { return es[i].ts >= ts })
	if i == 0 {
		return -1
	}
	return int64(es[i-1].rel)
}
