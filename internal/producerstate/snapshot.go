package producerstate

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/samsa-io/samsa/internal/atomicfile"
)

// ErrCorruptSnapshot is wrapped by the errors of decoding a snapshot file whose bytes
// are invalid (bad CRC, unknown version, impossible values, short or long file).
// LoadSnapshot does not return it: it deletes such a file and falls back to an older one.
var ErrCorruptSnapshot = errors.New("corrupt producer state snapshot")

const (
	snapshotVersion = 1
	snapshotSuffix  = ".snapshot"
	tmpSuffix       = atomicfile.TempSuffix
	offsetDigits    = 20

	headerLen     = 2 + 4 + 8 + 4         // version, crc, offset, count
	crcStart      = 6                     // the CRC covers the file from here on
	entryFixedLen = 8 + 2 + 4 + 8 + 8 + 1 // up to and including the batch count
	batchLen      = 4 + 4 + 8 + 8 + 8
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// SnapshotFileName returns the name of the snapshot at offset.
func SnapshotFileName(offset int64) string {
	return fmt.Sprintf("%0*d%s", offsetDigits, offset, snapshotSuffix)
}

// parseSnapshotName returns the offset of a snapshot file name, or false if name is not
// one.
func parseSnapshotName(name string) (int64, bool) {
	digits, ok := strings.CutSuffix(name, snapshotSuffix)
	if !ok || len(digits) != offsetDigits {
		return 0, false
	}
	for _, c := range digits {
		if c < '0' || c > '9' {
			return 0, false
		}
	}
	off, err := strconv.ParseInt(digits, 10, 64)
	if err != nil {
		return 0, false
	}
	return off, true
}

// WriteSnapshot writes the state as <20-digit offset>.snapshot in dir, durably, and
// removes older snapshots but the newest two.
//
// The state must be that of the log up to offset (exclusive); see the package comment.
// Snapshots above offset are removed as well: writing at offset means the log is at
// offset now, so a higher snapshot describes a log that was truncated away. Snapshot
// files are only removed once the new one is durable.
func (m *Manager) WriteSnapshot(dir string, offset int64) error {
	if offset < 0 {
		return fmt.Errorf("producerstate: snapshot offset %d is negative", offset)
	}
	name := SnapshotFileName(offset)
	path := filepath.Join(dir, name)
	if err := atomicfile.WriteFile(path, m.encode(offset)); err != nil {
		return fmt.Errorf("producerstate: write snapshot %s: %w", name, err)
	}

	offsets, err := listSnapshots(dir)
	if err != nil {
		return err
	}
	var remove []int64
	kept := 0
	for _, off := range offsets { // newest first
		if off > offset || kept == 2 {
			remove = append(remove, off)
			continue
		}
		kept++
	}
	return removeSnapshots(dir, remove)
}

// listSnapshots returns the offsets of the snapshot files in dir, newest first. A
// missing directory has none.
func listSnapshots(dir string) ([]int64, error) {
	des, err := os.ReadDir(dir)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, nil
		}
		return nil, fmt.Errorf("producerstate: list snapshots: %w", err)
	}
	var offsets []int64
	for _, de := range des {
		if off, ok := parseSnapshotName(de.Name()); ok && de.Type().IsRegular() {
			offsets = append(offsets, off)
		}
	}
	slices.Sort(offsets)
	slices.Reverse(offsets)
	return offsets, nil
}

// removeSnapshots removes the snapshot files at offsets and fsyncs dir if any was
// removed. Files already gone are not an error.
func removeSnapshots(dir string, offsets []int64) error {
	if len(offsets) == 0 {
		return nil
	}
	for _, off := range offsets {
		name := SnapshotFileName(off)
		if err := os.Remove(filepath.Join(dir, name)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("producerstate: remove snapshot %s: %w", name, err)
		}
	}
	if err := atomicfile.SyncDir(dir); err != nil {
		return fmt.Errorf("producerstate: remove snapshots: %w", err)
	}
	return nil
}

// removeTmpFiles removes snapshot temporary files left by a crash during WriteSnapshot.
func removeTmpFiles(dir string) error {
	des, err := os.ReadDir(dir)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		return fmt.Errorf("producerstate: list snapshots: %w", err)
	}
	for _, de := range des {
		name := de.Name()
		if base, ok := strings.CutSuffix(name, tmpSuffix); ok {
			if _, ok := parseSnapshotName(base); ok {
				if err := os.Remove(filepath.Join(dir, name)); err != nil && !errors.Is(err, fs.ErrNotExist) {
					return fmt.Errorf("producerstate: remove %s: %w", name, err)
				}
			}
		}
	}
	return nil
}

// DeleteSnapshots removes every snapshot file (and leftover temporary file) in dir, for
// a log truncated to nothing or deleted.
func DeleteSnapshots(dir string) error {
	if err := removeTmpFiles(dir); err != nil {
		return err
	}
	return DeleteSnapshotsAbove(dir, -1)
}

// DeleteSnapshotsAbove removes the snapshots above offset. The log calls it when it
// truncates at offset: those snapshots include batches that are gone, and would be
// wrongly loaded once the log grows past them again. A snapshot at exactly offset
// reflects only batches below it and stays valid.
func DeleteSnapshotsAbove(dir string, offset int64) error {
	offsets, err := listSnapshots(dir)
	if err != nil {
		return err
	}
	var remove []int64
	for _, off := range offsets {
		if off > offset {
			remove = append(remove, off)
		}
	}
	return removeSnapshots(dir, remove)
}

// LoadSnapshot replaces the state with the newest snapshot in dir at or below maxOffset,
// deleting newer ones, and returns its offset (-1 if none; state is then empty).
//
// Corrupt snapshots are deleted and skipped, as are leftover temporary files. An I/O
// error other than a corrupt file is returned with offset -1 and empty state, and no
// file is deleted for it.
func (m *Manager) LoadSnapshot(dir string, maxOffset int64) (int64, error) {
	m.producers = make(map[int64]*Entry)
	if err := removeTmpFiles(dir); err != nil {
		return -1, err
	}
	offsets, err := listSnapshots(dir)
	if err != nil {
		return -1, err
	}
	var remove []int64
	defer func() {
		// Removal is tidying: a leftover stale file is skipped or removed again by the
		// next load, so its failure does not fail the load.
		_ = removeSnapshots(dir, remove)
	}()
	for _, off := range offsets { // newest first
		if off > maxOffset {
			remove = append(remove, off)
			continue
		}
		name := SnapshotFileName(off)
		data, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			return -1, fmt.Errorf("producerstate: read snapshot %s: %w", name, err)
		}
		producers, err := decode(data, off)
		if err != nil {
			remove = append(remove, off)
			continue
		}
		m.producers = producers
		return off, nil
	}
	return -1, nil
}

// encode serialises the state as a snapshot at offset (format in the package comment).
func (m *Manager) encode(offset int64) []byte {
	entries := m.Entries()
	size := headerLen
	for i := range entries {
		size += entryFixedLen + batchLen*len(entries[i].Batches)
	}
	b := make([]byte, headerLen, size)
	binary.BigEndian.PutUint16(b[0:], snapshotVersion)
	binary.BigEndian.PutUint64(b[6:], uint64(offset))
	binary.BigEndian.PutUint32(b[14:], uint32(len(entries)))
	for i := range entries {
		e := &entries[i]
		b = binary.BigEndian.AppendUint64(b, uint64(e.ProducerID))
		b = binary.BigEndian.AppendUint16(b, uint16(e.Epoch))
		b = binary.BigEndian.AppendUint32(b, uint32(e.CoordinatorEpoch))
		b = binary.BigEndian.AppendUint64(b, uint64(e.CurrentTxnFirstOffset))
		b = binary.BigEndian.AppendUint64(b, uint64(e.LastTimestamp))
		b = append(b, byte(len(e.Batches)))
		for _, bm := range e.Batches {
			b = binary.BigEndian.AppendUint32(b, uint32(bm.FirstSeq))
			b = binary.BigEndian.AppendUint32(b, uint32(bm.LastSeq))
			b = binary.BigEndian.AppendUint64(b, uint64(bm.FirstOffset))
			b = binary.BigEndian.AppendUint64(b, uint64(bm.LastOffset))
			b = binary.BigEndian.AppendUint64(b, uint64(bm.MaxTimestamp))
		}
	}
	binary.BigEndian.PutUint32(b[2:], crc32.Checksum(b[crcStart:], castagnoli))
	return b
}

// decode parses a snapshot file that its name says is at offset. Every error wraps
// ErrCorruptSnapshot.
func decode(b []byte, offset int64) (map[int64]*Entry, error) {
	corrupt := func(format string, args ...any) error {
		return fmt.Errorf("producerstate: snapshot at offset %d: %s: %w",
			offset, fmt.Sprintf(format, args...), ErrCorruptSnapshot)
	}
	if len(b) < headerLen {
		return nil, corrupt("%d bytes is shorter than the header", len(b))
	}
	if v := int16(binary.BigEndian.Uint16(b[0:])); v != snapshotVersion {
		return nil, corrupt("unknown version %d", v)
	}
	if want, got := binary.BigEndian.Uint32(b[2:]), crc32.Checksum(b[crcStart:], castagnoli); want != got {
		return nil, corrupt("crc %#08x, want %#08x", got, want)
	}
	if o := int64(binary.BigEndian.Uint64(b[6:])); o != offset {
		return nil, corrupt("file holds offset %d", o)
	}
	count := binary.BigEndian.Uint32(b[14:])
	rest := b[headerLen:]
	// Bound the count by the bytes present before sizing anything by it.
	if uint64(count) > uint64(len(rest)/entryFixedLen) {
		return nil, corrupt("%d entries cannot fit in %d bytes", count, len(rest))
	}
	producers := make(map[int64]*Entry, count)
	prevPID := int64(-1)
	for i := uint32(0); i < count; i++ {
		if len(rest) < entryFixedLen {
			return nil, corrupt("entry %d is truncated", i)
		}
		e := &Entry{
			ProducerID:            int64(binary.BigEndian.Uint64(rest[0:])),
			Epoch:                 int16(binary.BigEndian.Uint16(rest[8:])),
			CoordinatorEpoch:      int32(binary.BigEndian.Uint32(rest[10:])),
			CurrentTxnFirstOffset: int64(binary.BigEndian.Uint64(rest[14:])),
			LastTimestamp:         int64(binary.BigEndian.Uint64(rest[22:])),
		}
		nb := int(rest[30])
		rest = rest[entryFixedLen:]
		if e.ProducerID <= prevPID {
			return nil, corrupt("entry %d: producer id %d out of order", i, e.ProducerID)
		}
		prevPID = e.ProducerID
		if e.CurrentTxnFirstOffset < -1 {
			return nil, corrupt("producer %d: transaction first offset %d", e.ProducerID, e.CurrentTxnFirstOffset)
		}
		if nb > MaxBatches {
			return nil, corrupt("producer %d: %d batches", e.ProducerID, nb)
		}
		if len(rest) < nb*batchLen {
			return nil, corrupt("producer %d: batches are truncated", e.ProducerID)
		}
		e.Batches = make([]BatchMeta, nb, MaxBatches)
		for j := range e.Batches {
			bm := BatchMeta{
				FirstSeq:     int32(binary.BigEndian.Uint32(rest[0:])),
				LastSeq:      int32(binary.BigEndian.Uint32(rest[4:])),
				FirstOffset:  int64(binary.BigEndian.Uint64(rest[8:])),
				LastOffset:   int64(binary.BigEndian.Uint64(rest[16:])),
				MaxTimestamp: int64(binary.BigEndian.Uint64(rest[24:])),
			}
			rest = rest[batchLen:]
			if bm.FirstOffset < 0 || bm.LastOffset < bm.FirstOffset ||
				(j > 0 && bm.FirstOffset <= e.Batches[j-1].LastOffset) {
				return nil, corrupt("producer %d: batch %d has offsets %d..%d",
					e.ProducerID, j, bm.FirstOffset, bm.LastOffset)
			}
			e.Batches[j] = bm
		}
		producers[e.ProducerID] = e
	}
	if len(rest) != 0 {
		return nil, corrupt("%d trailing bytes", len(rest))
	}
	return producers, nil
}
