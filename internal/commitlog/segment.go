package commitlog

import (
	"bufio"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"math"
	"os"
	"path/filepath"
	"time"

	"github.com/samsa-io/samsa/internal/atomicfile"
)

// segState is the part of a segment's metadata that every append changes. The appender
// (holding Log.appendMu) computes a new segState outside Log.mu and publishes it under
// Log.mu, so readers see size, next and the indexes change together.
type segState struct {
	size            int64 // bytes of whole batches in the .log file
	next            int64 // offset after the segment's last batch (base when empty)
	maxTs           int64 // largest batch maxTimestamp, -1 when none
	maxTsOffset     int64 // last offset of the first batch having maxTs
	rollTs          int64 // maxTimestamp of the first batch; -1: roll by wall-clock age
	bytesSinceIndex int64 // bytes appended since the last .index entry
}

// segment is one <base>.log with its .index and .timeindex. Only the .log is held
// open (fetches read and sendfile from it); the indexes live in memory (offsets,
// times) and their files are opened only to be read at Open or written whole when
// they must be on disk: at seal, at Close, and where recovery, truncation or the
// cleaner rebuild them (see "Index files" in doc.go). So a segment costs one file
// descriptor.
type segment struct {
	base    int64
	created time.Time // when this process created or opened it (segment.ms fallback)
	fs      FS        // opens the index files when they are read or written
	dir     string    // the log's directory, where the index files are
	log     File

	// Guarded by Log.mu; changed only while Log.appendMu is also held (or before the
	// Log is shared).
	st      segState
	offsets []offsetEntry // the .index entries; on disk only once written (see above)
	times   []timeEntry   // the .timeindex entries, likewise
	sealed  bool          // no longer the active segment; its index files are on disk

	// Guarded by Log.mu; changed by the flusher holding Log.flushMu.
	syncedSize int64 // .log bytes known to be fsynced

	// onDisk says how many entries of offsets and times the index files hold,
	// fsynced, when ok; then Close need not write them again (an idle log reopened
	// and closed rewrites nothing). Guarded by Log.appendMu.
	onDisk indexCount
}

// indexCount is a number of .index and .timeindex entries.
type indexCount struct {
	offsets, times int
	ok             bool
}

func (s *segment) indexCount() indexCount {
	return indexCount{offsets: len(s.offsets), times: len(s.times), ok: true}
}

func segmentPath(dir string, base int64, ext string) string {
	return filepath.Join(dir, fmt.Sprintf("%020d%s", base, ext))
}

// openSegment opens (or with create, creates empty) the .log of the segment at base.
// A created segment starts without index files: stale ones of an earlier segment at
// the same base are removed, so that they cannot be taken for this one's.
func openSegment(fs FS, dir string, base int64, create bool, now time.Time) (*segment, error) {
	flag := os.O_RDWR | os.O_CREATE
	if create {
		flag |= os.O_TRUNC
		if err := removeIndexFiles(dir, base); err != nil {
			return nil, err
		}
	}
	s := &segment{base: base, created: now, fs: fs, dir: dir, st: segState{next: base, maxTs: -1, maxTsOffset: base, rollTs: -1}}
	var err error
	if s.log, err = fs.OpenFile(segmentPath(dir, base, ".log"), flag, 0o644); err != nil {
		return nil, err
	}
	return s, nil
}

func (s *segment) close() error {
	return s.log.Close()
}

// remove closes the segment and deletes its files; .log first so that a crash in
// between leaves orphan indexes (removed by Open) rather than an index-less log.
func (s *segment) remove(dir string) error {
	err := s.close()
	if rerr := os.Remove(segmentPath(dir, s.base, ".log")); rerr != nil && !errors.Is(rerr, os.ErrNotExist) {
		err = errors.Join(err, rerr)
	}
	return errors.Join(err, removeIndexFiles(dir, s.base))
}

// removeIndexFiles deletes the .index and .timeindex of base, if any.
func removeIndexFiles(dir string, base int64) error {
	var err error
	for _, ext := range []string{".index", ".timeindex"} {
		if rerr := os.Remove(segmentPath(dir, base, ext)); rerr != nil && !errors.Is(rerr, os.ErrNotExist) {
			err = errors.Join(err, rerr)
		}
	}
	return err
}

// indexLimits are the index-related config values.
type indexLimits struct {
	interval       int64
	maxOffsetEntry int
	maxTimeEntry   int
}

func limitsOf(cfg *Config) indexLimits {
	return indexLimits{
		interval:       int64(cfg.IndexIntervalBytes),
		maxOffsetEntry: max(1, cfg.SegmentIndexBytes/offsetEntrySize),
		maxTimeEntry:   max(1, cfg.SegmentIndexBytes/timeEntrySize),
	}
}

// pending collects what one append (or a recovery scan) adds to a segment before it is
// written and published.
type pending struct {
	st      segState
	offsets []offsetEntry
	times   []timeEntry
}

func (s *segment) newPending() pending { return pending{st: s.st} }

func (s *segment) lastTimeEntry(p *pending) (timeEntry, bool) {
	if n := len(p.times); n > 0 {
		return p.times[n-1], true
	}
	if n := len(s.times); n > 0 {
		return s.times[n-1], true
	}
	return timeEntry{}, false
}

// note accounts one batch stored at pos, as Kafka's LogSegment.append and recover do:
// track the max timestamp, and when more than index.interval.bytes were written since
// the last entry add an .index entry for this batch (its last offset → its position)
// and a .timeindex entry for the max timestamp so far if that grew.
func (s *segment) note(p *pending, h *BatchHeader, pos int64, lim indexLimits) {
	if pos == 0 {
		p.st.rollTs = h.MaxTimestamp
	}
	if h.MaxTimestamp > p.st.maxTs {
		p.st.maxTs = h.MaxTimestamp
		p.st.maxTsOffset = h.LastOffset()
	}
	if p.st.bytesSinceIndex > lim.interval {
		if len(s.offsets)+len(p.offsets) < lim.maxOffsetEntry {
			p.offsets = append(p.offsets, offsetEntry{rel: int32(h.LastOffset() - s.base), pos: int32(pos)})
		}
		s.maybeAddTime(p, len(s.times)+len(p.times) < lim.maxTimeEntry)
		p.st.bytesSinceIndex = 0
	}
	p.st.bytesSinceIndex += h.Size()
	p.st.size = pos + h.Size()
	p.st.next = h.LastOffset() + 1
}

// maybeAddTime appends a .timeindex entry for the max timestamp so far if it is larger
// than the last entry's.
func (s *segment) maybeAddTime(p *pending, room bool) {
	if p.st.maxTs < 0 || !room {
		return
	}
	if last, ok := s.lastTimeEntry(p); ok && p.st.maxTs <= last.ts {
		return
	}
	p.times = append(p.times, timeEntry{ts: p.st.maxTs, rel: int32(p.st.maxTsOffset - s.base)})
}

// publish makes p visible; the caller holds Log.mu for writing.
func (s *segment) publish(p *pending) {
	s.st = p.st
	s.offsets = append(s.offsets, p.offsets...)
	s.times = append(s.times, p.times...)
}

// writeIndexes replaces both index files by the given entries, each in one write.
// A file is written under a temporary name and renamed over its final one, so that
// an index file that exists always holds the whole of one write: a crash leaves the
// old file, the new one, or (for a segment never written) none, never a prefix that
// would pass for a shorter index. With sync the files are fsynced before the rename
// and the directory after it, so that they are durable once this returns.
func (s *segment) writeIndexes(offsets []offsetEntry, times []timeEntry, sync bool) error {
	s.onDisk = indexCount{}
	for _, f := range []struct {
		ext  string
		data []byte
	}{{".index", encodeOffsetEntries(offsets)}, {".timeindex", encodeTimeEntries(times)}} {
		path := segmentPath(s.dir, s.base, f.ext)
		tmp := path + tempSuffix
		if err := writeIndexFile(s.fs, tmp, f.data, sync); err != nil {
			os.Remove(tmp)
			return err
		}
		if err := os.Rename(tmp, path); err != nil {
			os.Remove(tmp)
			return err
		}
	}
	if !sync {
		return nil
	}
	if err := atomicfile.SyncDir(s.dir); err != nil {
		return err
	}
	s.onDisk = indexCount{offsets: len(offsets), times: len(times), ok: true}
	return nil
}

// tempSuffix marks an index file being written; Open removes leftovers.
const tempSuffix = atomicfile.TempSuffix

// writeIndexFile creates (or truncates) path, writes data as its whole content,
// fsyncs it with sync, and closes it.
func writeIndexFile(fs FS, path string, data []byte, sync bool) error {
	f, err := fs.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return err
	}
	if len(data) > 0 {
		_, err = f.WriteAt(data, 0)
	}
	if err == nil && sync {
		err = f.Sync()
	}
	return errors.Join(err, f.Close())
}

// writeSealedIndexes writes the indexes of a sealed segment, durably: the entries
// published plus p's (the final time entry seal adds). Files known to hold them
// already are left alone.
func (s *segment) writeSealedIndexes(p *pending) error {
	if len(p.offsets) == 0 && len(p.times) == 0 && s.onDisk == s.indexCount() {
		return nil
	}
	offsets := append(s.offsets[:len(s.offsets):len(s.offsets)], p.offsets...)
	times := append(s.times[:len(s.times):len(s.times)], p.times...)
	return s.writeIndexes(offsets, times, true)
}

// errTorn reports bytes that are not a whole, well-formed batch.
var errTorn = errors.New("commitlog: torn or malformed batch")

// readHeader reads the header of the batch at pos and checks that the batch lies
// within limit.
func (s *segment) readHeader(buf []byte, pos, limit int64) (BatchHeader, error) {
	if limit-pos < BatchHeaderSize {
		return BatchHeader{}, errTorn
	}
	if _, err := s.log.ReadAt(buf[:BatchHeaderSize], pos); err != nil {
		return BatchHeader{}, fmt.Errorf("commitlog: read %s at %d: %w", segmentPath("", s.base, ".log"), pos, err)
	}
	h, err := ParseBatchHeader(buf)
	if err != nil || h.BatchLength < minBatchLength || h.Size() > limit-pos || h.LastOffsetDelta < 0 {
		return h, errTorn
	}
	return h, nil
}

// walk calls fn for each batch header from pos until limit or until fn returns false.
// It returns the position after the last batch visited and errTorn (or an I/O error)
// when the bytes at that position are not a batch.
func (s *segment) walk(pos, limit int64, fn func(h *BatchHeader, pos int64) bool) (int64, error) {
	var buf [BatchHeaderSize]byte
	for pos < limit {
		h, err := s.readHeader(buf[:], pos, limit)
		if err != nil {
			return pos, err
		}
		if !fn(&h, pos) {
			return pos, nil
		}
		pos += h.Size()
	}
	return pos, nil
}

// find returns the position and header of the first batch at or after the index hint
// whose last offset is >= off, searching up to the published size.
func (s *segment) find(off int64) (int64, BatchHeader, bool, error) {
	start := lookupOffset(s.offsets, off-s.base)
	var (
		found bool
		fh    BatchHeader
		fpos  int64
	)
	_, err := s.walk(start, s.st.size, func(h *BatchHeader, pos int64) bool {
		if h.LastOffset() >= off {
			found, fh, fpos = true, *h, pos
			return false
		}
		return true
	})
	if err != nil {
		return 0, fh, false, err
	}
	return fpos, fh, found, nil
}

// recover rebuilds the segment from its .log: every batch is checked (length, magic,
// CRC, offsets increasing from minOffset and fitting the segment's relative range),
// the file is truncated at the first bad one, and both indexes are rebuilt in memory
// (the caller writes their files if the segment is sealed). It returns whether bytes
// were cut and calls onBatch for every good batch.
func (s *segment) recover(minOffset int64, lim indexLimits, onBatch func(h *BatchHeader)) (bool, error) {
	fi, err := s.log.Stat()
	if err != nil {
		return false, err
	}
	fileSize := fi.Size()
	s.offsets, s.times, s.onDisk = nil, nil, indexCount{}
	p := pending{st: segState{next: s.base, maxTs: -1, maxTsOffset: s.base, rollTs: -1}}
	r := bufio.NewReaderSize(io.NewSectionReader(s.log, 0, fileSize), 1<<16)
	var hdr [BatchHeaderSize]byte
	expect := max(minOffset, s.base)
	pos := int64(0)
	for pos < fileSize {
		if fileSize-pos < BatchHeaderSize {
			break
		}
		if _, err := io.ReadFull(r, hdr[:]); err != nil {
			return false, err
		}
		h, err := ParseBatchHeader(hdr[:])
		if err != nil || h.BatchLength < minBatchLength || h.Size() > fileSize-pos ||
			h.BaseOffset < expect || h.LastOffsetDelta < 0 || h.LastOffset()-s.base > math.MaxInt32 {
			break
		}
		crc := crc32.Update(0, castagnoli, hdr[offAttributes:])
		hw := crcWriter{crc: crc}
		if _, err := io.CopyN(&hw, r, h.Size()-BatchHeaderSize); err != nil {
			return false, err
		}
		if hw.crc != h.CRC {
			break
		}
		s.note(&p, &h, pos, lim)
		if onBatch != nil {
			onBatch(&h)
		}
		expect = h.LastOffset() + 1
		pos += h.Size()
	}
	s.publish(&p)
	truncated := pos < fileSize
	if truncated {
		if err := s.log.Truncate(pos); err != nil {
			return true, err
		}
	}
	return truncated, nil
}

type crcWriter struct{ crc uint32 }

func (w *crcWriter) Write(b []byte) (int, error) {
	w.crc = crc32.Update(w.crc, castagnoli, b)
	return len(b), nil
}

// loadIndexes reads and sanity-checks the index files of a segment opened from disk.
// A missing file is an error (the caller rebuilds the indexes from the .log): index
// files are written only whole (see writeIndexes), so a segment whose files were
// never written, or were deleted with a cleaner's swap, must not be taken for one
// without entries.
func (s *segment) loadIndexes(logSize int64) error {
	ob, err := s.readIndexFile(".index", offsetEntrySize)
	if err != nil {
		return err
	}
	tb, err := s.readIndexFile(".timeindex", timeEntrySize)
	if err != nil {
		return err
	}
	offs, times := decodeOffsetIndex(ob), decodeTimeIndex(tb)
	if err := checkOffsetIndex(offs, logSize); err != nil {
		return err
	}
	if err := checkTimeIndex(times); err != nil {
		return err
	}
	s.offsets, s.times = offs, times
	// Files Open trusts were fsynced by whoever wrote them: a roll, a Close, a
	// recovery or the cleaner.
	s.onDisk = s.indexCount()
	return nil
}

// readIndexFile opens, reads whole and closes one index file of the segment.
func (s *segment) readIndexFile(ext string, entrySize int) ([]byte, error) {
	f, err := s.fs.OpenFile(segmentPath(s.dir, s.base, ext), os.O_RDONLY, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return readIndexFile(f, entrySize, math.MaxInt32)
}

// loadTail restores segState of a segment whose indexes are trusted, scanning only the
// batches from the last .index entry to the end of the file (structure only, no CRC):
// the short scan Kafka does to find the next offset of a cleanly closed segment. It
// truncates the file at a malformed tail. The .timeindex's last entry gives the max
// timestamp: a segment gets a final entry when it is sealed or closed. Entries the
// tail calls for are added in memory only, as for any append to the active segment.
func (s *segment) loadTail(lim indexLimits) error {
	fi, err := s.log.Stat()
	if err != nil {
		return err
	}
	fileSize := fi.Size()
	st := segState{next: s.base, maxTs: -1, maxTsOffset: s.base, rollTs: -1}
	if n := len(s.times); n > 0 {
		st.maxTs, st.maxTsOffset = s.times[n-1].ts, s.base+int64(s.times[n-1].rel)
	}
	start := int64(0)
	if n := len(s.offsets); n > 0 {
		start = int64(s.offsets[n-1].pos)
		// The entry was made for the batch at start, whose last offset it holds.
		st.next = s.base + int64(s.offsets[n-1].rel) + 1
	}
	st.size = start
	if fileSize > 0 {
		var buf [BatchHeaderSize]byte
		if h, err := s.readHeader(buf[:], 0, fileSize); err == nil {
			st.rollTs = h.MaxTimestamp
		}
	}
	p := pending{st: st}
	expect := s.base
	entryOK := start == 0
	end, err := s.walk(start, fileSize, func(h *BatchHeader, pos int64) bool {
		if h.BaseOffset < expect || h.LastOffset()-s.base > math.MaxInt32 {
			return false
		}
		if pos == start && start > 0 {
			// The batch the last index entry names must be there, or the index lies.
			entryOK = h.LastOffset() == st.next-1
			if !entryOK {
				return false
			}
		}
		s.note(&p, h, pos, lim)
		expect = h.LastOffset() + 1
		return true
	})
	if err != nil && !errors.Is(err, errTorn) {
		return err
	}
	if !entryOK {
		return fmt.Errorf("commitlog: segment %d: last index entry does not name a batch", s.base)
	}
	if p.st.size == 0 {
		p.st.rollTs = -1
	}
	if end < fileSize {
		if err := s.log.Truncate(p.st.size); err != nil {
			return err
		}
	}
	s.publish(&p)
	return nil
}

// seal returns the final .timeindex entry Kafka writes when a segment stops being
// active (roll or close), so that the max timestamp survives a restart without a
// scan. The caller writes the index files (writeSealedIndexes) and publishes it.
func (s *segment) seal() pending {
	p := s.newPending()
	s.maybeAddTime(&p, true)
	return p
}

// largestTimestamp is the segment's age for time retention: the max timestamp or,
// for a segment without timestamps, the file's modification time (as Kafka).
func (s *segment) largestTimestamp() int64 {
	if s.st.maxTs >= 0 {
		return s.st.maxTs
	}
	if fi, err := s.log.Stat(); err == nil {
		return fi.ModTime().UnixMilli()
	}
	return math.MaxInt64
}
