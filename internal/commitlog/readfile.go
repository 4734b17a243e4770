package commitlog

import (
	"fmt"
	"os"

	"github.com/twmb/franz-go/pkg/kerr"
)

// FileSlice is a byte range of a segment file, for sending with sendfile(2) without
// reading the bytes into memory. It starts at a batch boundary; its end may cut the
// last batch (see ReadFile). The range is read with an explicit position (pread,
// sendfile with an offset argument), never with File's shared offset: many fetches use
// the same *os.File at once.
type FileSlice struct {
	File *os.File
	Pos  int64 // position in File of the first byte
	Size int64 // bytes to send; 0 means nothing to send (File may then be nil)
	// HighWatermark is the high watermark when the slice was taken: every byte of the
	// slice holds offsets below it. A fetch reports it, so a response never carries
	// records above the high watermark it announces.
	HighWatermark int64
}

// hwMarkRing is how many recent append ends the log remembers for SetHighWatermark.
const hwMarkRing = 16

// hwMark is a file position of an offset: the position in seg where the batch holding
// offset starts, or seg's size when offset is seg's next offset.
type hwMark struct {
	seg    *segment
	offset int64
	pos    int64
}

// ReadFile is Read without reading: it returns the file range holding the batches
// from the one that holds offset, with the same out-of-range errors as Read, and data
// from one segment only (as Kafka's LogSegment.read). The range ends at the smallest of
// its start + maxBytes, the position of min(maxOffset, high watermark), and the
// segment's end. A last batch cut by maxBytes is left partial, as Kafka sends it: every
// client drops a partial batch at the end of a partition's records. The first batch is
// never cut: if it is larger than maxBytes the range is empty, or, with minOneBatch,
// exactly that batch (KIP-74). Unlike Read, ReadFile never returns bytes at or past the
// high watermark, whatever maxOffset says: it serves consumers.
//
// The high watermark's position is tracked by SetHighWatermark, so the common case
// needs no header reads past the batch holding offset (one index lookup and a short
// header walk, as Read).
//
// The caller reads the range after ReadFile has returned, without the log's locks:
// see Log for what happens when the segment is closed or deleted meanwhile.
func (l *Log) ReadFile(offset int64, maxBytes int, maxOffset int64, minOneBatch bool) (FileSlice, error) {
	l.mu.RLock()
	defer l.mu.RUnlock()
	if l.closed {
		return FileSlice{}, ErrClosed
	}
	if offset < l.logStart || offset > l.leo {
		return FileSlice{}, fmt.Errorf("commitlog: offset %d outside [%d, %d]: %w", offset, l.logStart, l.leo, kerr.OffsetOutOfRange)
	}
	return l.readFileLocked(offset, maxBytes, min(maxOffset, l.hw), minOneBatch)
}

// readFileLocked is ReadFile's work for any limit (ReadFile: the high watermark;
// ReadFileForReplica: the log end offset), once offset is known to be in range. Needs mu.
func (l *Log) readFileLocked(offset int64, maxBytes int, limit int64, minOneBatch bool) (FileSlice, error) {
	out := FileSlice{HighWatermark: l.hw}
	if offset >= limit || offset == l.leo {
		return out, nil
	}
	for i := l.segmentForLocked(offset); i < len(l.segments); i++ {
		s := l.segments[i]
		pos, h, found, err := s.find(offset)
		if err != nil {
			return out, storageError("read", err)
		}
		if !found {
			continue // offset lies in a gap after this segment's last batch
		}
		if h.LastOffset() >= limit {
			return out, nil
		}
		f, ok := s.log.(*os.File)
		if !ok {
			return out, storageError("read", fmt.Errorf("segment %d is not an OS file", s.base))
		}
		end, err := l.positionLocked(s, limit)
		if err != nil {
			return out, storageError("read", err)
		}
		size := min(int64(max(maxBytes, 0)), end-pos)
		if h.Size() > size {
			// The first batch does not fit: never send part of it.
			if !minOneBatch {
				return out, nil
			}
			size = h.Size()
		}
		out.File, out.Pos, out.Size = f, pos, size
		return out, nil
	}
	return out, nil
}

// positionLocked is the end of the bytes of s that hold only offsets below limit: the
// position of the batch holding limit, or the segment's size when every batch of s is
// below it. The high watermark's position is remembered (SetHighWatermark); any other
// limit inside s costs an index lookup and a header walk. Needs mu.
func (l *Log) positionLocked(s *segment, limit int64) (int64, error) {
	if limit >= s.st.next {
		return s.st.size, nil
	}
	if m := l.hwPos; m.seg == s && m.offset == limit {
		return m.pos, nil
	}
	pos, _, found, err := s.find(limit)
	if err != nil {
		return 0, err
	}
	if !found {
		return s.st.size, nil
	}
	return pos, nil
}

// noteAppendEndLocked remembers that offset starts at pos in seg: the end of an append,
// which the high watermark is soon moved to. Needs mu held for writing.
func (l *Log) noteAppendEndLocked(seg *segment, offset, pos int64) {
	l.appendEnds[l.appendEndNext] = hwMark{seg: seg, offset: offset, pos: pos}
	l.appendEndNext = (l.appendEndNext + 1) % hwMarkRing
}

// trackHighWatermarkLocked finds the file position of the high watermark: the active
// segment's end when it equals the log end offset, else one of the recent append
// ends, else (rare: truncation, a watermark lagging many appends) an index lookup and
// a header walk. A failed walk leaves no mark: readers then walk themselves and report
// the error. Needs mu held for writing.
func (l *Log) trackHighWatermarkLocked() {
	l.hwPos = hwMark{}
	if len(l.segments) == 0 {
		return
	}
	hw := l.hw
	if active := l.segments[len(l.segments)-1]; hw == l.leo {
		l.hwPos = hwMark{seg: active, offset: hw, pos: active.st.size}
		return
	}
	for _, m := range l.appendEnds {
		if m.seg != nil && m.offset == hw {
			l.hwPos = m
			return
		}
	}
	s := l.segments[l.segmentForLocked(hw)]
	if hw >= s.st.next {
		l.hwPos = hwMark{seg: s, offset: hw, pos: s.st.size}
		return
	}
	pos, _, found, err := s.find(hw)
	if err != nil {
		return
	}
	if !found {
		pos = s.st.size
	}
	l.hwPos = hwMark{seg: s, offset: hw, pos: pos}
}
