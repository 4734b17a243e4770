package commitlog

import (
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/samsa-io/samsa/internal/atomicfile"
	"github.com/samsa-io/samsa/internal/record"
)

// The log cleaner: Kafka's LogCleaner, simplified. See "Log compaction" in doc.go for
// the algorithm, the files and the crash-recovery rules.

// Suffixes of the files a cleaning round writes next to a segment's.
const (
	cleanedSuffix = ".cleaned"
	swapSuffix    = ".swap"
)

// CleanerCheckpointFile is the data-dir file recording each log's cleaned-to offset.
const CleanerCheckpointFile = "cleaner-offset-checkpoint"

// DefaultCleanerMapBytes is the default memory bound of a round's offset map, Kafka's
// log.cleaner.dedupe.buffer.size.
const DefaultCleanerMapBytes = 128 << 20

// mapEntryOverhead is what one key of the offset map costs beyond its bytes: the Go
// map's bucket slot, the string header and the int64 offset, rounded up.
const mapEntryOverhead = 64

// errCleanAborted reports a round abandoned because the log changed under it
// (truncation, retention, DeleteRecords, Close) or its context ended.
var errCleanAborted = errors.New("commitlog: cleaning aborted")

// CleanOptions tune one cleaning round.
type CleanOptions struct {
	// MaxMapBytes bounds the offset map (keys plus mapEntryOverhead each); <= 0 means
	// DefaultCleanerMapBytes. The map always takes the first dirty segment whole, then
	// stops at the first segment that would pass the bound: the round cleans that
	// prefix of the dirty section, and the next round goes on from there.
	MaxMapBytes int64
}

// CleanStats describe a cleaning round.
type CleanStats struct {
	Cleaned        bool  // something was rewritten
	FirstDirty     int64 // the cleaned-to offset before the round
	EndOffset      int64 // the cleaned-to offset after it
	Partial        bool  // the offset map filled up before the end of the cleanable section
	SegmentsIn     int
	SegmentsOut    int
	BytesIn        int64
	BytesOut       int64
	RecordsRemoved int64
}

// cleanability is the cleaner's view of a log at one moment (Kafka's LogToClean).
type cleanability struct {
	compact    bool
	firstDirty int64 // effective cleaned-to offset
	cleanBytes int64 // bytes of segments wholly below firstDirty
	dirtyBytes int64 // bytes of dirty segments wholly below the uncleanable offset
	needNow    bool  // max.compaction.lag.ms or a due delete horizon forces a clean
	ratio      float64
	minRatio   float64
	horizonDue bool
}

// worthCleaning is Kafka's selection rule: dirty ratio at least
// min.cleanable.dirty.ratio, or forced by max.compaction.lag.ms with something to
// clean, or a kept tombstone whose delete horizon has passed.
func (c cleanability) worthCleaning() bool {
	if !c.compact {
		return false
	}
	if c.dirtyBytes > 0 && (c.needNow || c.ratio >= c.minRatio) {
		return true
	}
	return c.horizonDue && c.cleanBytes > 0
}

// cleanView is a snapshot of the state a round works on.
type cleanView struct {
	cfg  Config
	segs []*segment
	// Per segment, as published at the snapshot: size, index entries, largest
	// timestamp (retention's notion) and first batch's max timestamp.
	sizes    []int64
	offsets  [][]offsetEntry
	largest  []int64
	rollTs   []int64
	hw       int64
	logStart int64
	gen      uint64
	cleaned  int64
	due      int64
}

func (l *Log) snapshotForClean() (cleanView, bool) {
	l.mu.RLock()
	defer l.mu.RUnlock()
	if l.closed {
		return cleanView{}, false
	}
	v := cleanView{cfg: l.cfg, segs: append([]*segment(nil), l.segments...), hw: l.hw, logStart: l.logStart,
		gen: l.segGen.Load(), cleaned: l.cleanedTo, due: l.horizonDue}
	for _, s := range v.segs {
		v.sizes = append(v.sizes, s.st.size)
		v.offsets = append(v.offsets, s.offsets)
		v.largest = append(v.largest, s.largestTimestamp())
		v.rollTs = append(v.rollTs, s.st.rollTs)
	}
	return v, true
}

// bounds returns the segments of the round: segments [0, cleanEnd) lie wholly below
// the first dirty offset, [cleanEnd, dirtyEnd) are dirty and cleanable (sealed, below
// the high watermark, older than min.compaction.lag.ms). A segment's end is the next
// segment's base.
func (v *cleanView) bounds(nowMs int64) (firstDirty int64, cleanEnd, dirtyEnd int) {
	n := len(v.segs) - 1 // the active segment is never cleaned
	active := v.segs[n]
	firstDirty = v.cleaned
	if firstDirty < v.logStart || firstDirty > active.base {
		// As Kafka: a checkpoint outside the log (truncation, deleted records) restarts
		// cleaning from the log start.
		firstDirty = v.logStart
	}
	uncleanable := min(active.base, v.hw)
	for cleanEnd < n && v.segs[cleanEnd+1].base <= firstDirty {
		cleanEnd++
	}
	dirtyEnd = cleanEnd
	for dirtyEnd < n && v.segs[dirtyEnd+1].base <= uncleanable {
		if lag := v.cfg.MinCompactionLag.Milliseconds(); lag > 0 && v.largest[dirtyEnd] > nowMs-lag {
			break
		}
		dirtyEnd++
	}
	return firstDirty, cleanEnd, dirtyEnd
}

// cleanability computes the log's dirty ratio and whether it must be cleaned now.
func (l *Log) cleanability(nowMs int64) cleanability {
	v, ok := l.snapshotForClean()
	if !ok || !v.cfg.Compact {
		return cleanability{}
	}
	firstDirty, cleanEnd, dirtyEnd := v.bounds(nowMs)
	c := cleanability{compact: true, firstDirty: firstDirty, minRatio: v.cfg.MinCleanableDirtyRatio}
	for i := 0; i < cleanEnd; i++ {
		c.cleanBytes += v.sizes[i]
	}
	for i := cleanEnd; i < dirtyEnd; i++ {
		c.dirtyBytes += v.sizes[i]
	}
	if total := c.cleanBytes + c.dirtyBytes; total > 0 {
		c.ratio = float64(c.dirtyBytes) / float64(total)
	}
	if c.dirtyBytes > 0 && v.cfg.MaxCompactionLag > 0 && v.cfg.MaxCompactionLag.Milliseconds() < math.MaxInt64/2 {
		// Kafka looks at the first batch of the first dirty segment.
		if ts := v.rollTs[cleanEnd]; ts >= 0 && ts < nowMs-v.cfg.MaxCompactionLag.Milliseconds() {
			c.needNow = true
		}
	}
	c.horizonDue = v.due <= nowMs
	return c
}

// CleanableRatio reports the log's dirty ratio as the cleaner sees it now, and
// whether the cleaner would pick it.
func (l *Log) CleanableRatio() (ratio float64, worth bool) {
	c := l.cleanability(l.clock.Now().UnixMilli())
	return c.ratio, c.worthCleaning()
}

// CleanedTo is the cleaner's first dirty offset: the log is compacted below it.
func (l *Log) CleanedTo() int64 {
	l.mu.RLock()
	defer l.mu.RUnlock()
	return l.cleanedTo
}

// Clean runs one cleaning round on a compacted log, whatever its dirty ratio: it
// builds the offset map over the cleanable dirty segments, rewrites every segment
// below the end of the mapped section and swaps the results in. A log that is not
// compacted, or has nothing cleanable, is left alone. Rounds on one log never overlap.
func (l *Log) Clean(ctx context.Context, opts CleanOptions) (CleanStats, error) {
	l.cleanMu.Lock()
	defer l.cleanMu.Unlock()
	v, ok := l.snapshotForClean()
	if !ok {
		return CleanStats{}, ErrClosed
	}
	if !v.cfg.Compact {
		return CleanStats{}, nil
	}
	if opts.MaxMapBytes <= 0 {
		opts.MaxMapBytes = DefaultCleanerMapBytes
	}
	now := l.clock.Now()
	nowMs := now.UnixMilli()
	firstDirty, cleanEnd, dirtyEnd := v.bounds(nowMs)
	stats := CleanStats{FirstDirty: firstDirty, EndOffset: firstDirty}
	if cleanEnd == 0 && dirtyEnd == 0 {
		return stats, nil
	}
	r := cleanRound{l: l, v: &v, ctx: ctx, nowMs: nowMs, decodeLimit: decodeLimit(&v.cfg), stats: &stats}

	// The offset map: key → offset of its latest record in the mapped dirty segments.
	r.offsets = map[string]int64{}
	mapEnd := cleanEnd
	var mapBytes int64
	for mapEnd < dirtyEnd {
		added, err := r.addToMap(mapEnd, opts.MaxMapBytes-mapBytes, mapEnd == cleanEnd)
		if err != nil {
			return stats, err
		}
		if !added {
			stats.Partial = true
			break
		}
		mapBytes += r.mapBytes
		mapEnd++
	}
	end := mapEnd // segments [0, end) are rewritten
	endOffset := firstDirty
	if mapEnd > cleanEnd {
		endOffset = v.segs[mapEnd].base
	}
	if end == 0 {
		return stats, nil
	}

	// Producers whose last batch lies in the rewritten range keep that batch (empty if
	// need be), so replaying the log restores their sequence state, as Kafka does.
	l.appendMu.Lock()
	r.producerLast = map[int64]int64{}
	for _, e := range l.producers.Entries() {
		if n := len(e.Batches); n > 0 {
			r.producerLast[e.ProducerID] = e.Batches[n-1].LastOffset
		}
	}
	l.appendMu.Unlock()

	r.due = math.MaxInt64
	for _, g := range groupSegments(&v, end) {
		if err := r.cleanGroup(g); err != nil {
			return stats, err
		}
	}
	l.mu.Lock()
	if l.segGen.Load() == v.gen {
		l.cleanedTo = max(endOffset, l.logStart)
		l.horizonDue = r.due
	}
	l.mu.Unlock()
	stats.Cleaned = true
	stats.EndOffset = endOffset
	l.logger.Info("commitlog: cleaned log", "from", firstDirty, "to", endOffset, "segmentsIn", stats.SegmentsIn,
		"segmentsOut", stats.SegmentsOut, "bytesIn", stats.BytesIn, "bytesOut", stats.BytesOut,
		"recordsRemoved", stats.RecordsRemoved, "partial", stats.Partial)
	return stats, nil
}

// decodeLimit bounds the decompressed size of a stored batch the cleaner (or the key
// check of Append) decodes: 16 times max.message.bytes, at most 64 MiB.
func decodeLimit(cfg *Config) int {
	return int(min(16*max(int64(cfg.MaxMessageBytes), 1<<20), record.MaxDecompressedSize))
}

// checkKeys rejects a batch for a compacted log holding a record without key, as
// Kafka's LogValidator ("Compacted topic cannot accept message without key").
func checkKeys(b []byte, h *BatchHeader, cfg *Config) error {
	if h.IsControl() {
		return nil
	}
	batch, err := record.DecodeLimit(b, decodeLimit(cfg))
	if err != nil {
		return err
	}
	for _, r := range batch.Records {
		if r.Key == nil {
			return fmt.Errorf("compacted topic cannot accept message without key (offset delta %d): %w", r.Offset-batch.BaseOffset, kerr.InvalidRecord)
		}
	}
	return nil
}

// cleanRound is the working state of one Clean call.
type cleanRound struct {
	l            *Log
	v            *cleanView
	ctx          context.Context
	nowMs        int64
	decodeLimit  int
	stats        *CleanStats
	offsets      map[string]int64
	mapBytes     int64 // bytes added by the last addToMap
	producerLast map[int64]int64
	due          int64 // earliest delete horizon of a kept tombstone
}

// checkAbort ends the round early when its context is done or the log's segments
// changed (the final check happens under the log's locks at the swap).
func (r *cleanRound) checkAbort() error {
	if r.ctx.Err() != nil || r.l.segGen.Load() != r.v.gen {
		return errCleanAborted
	}
	return nil
}

// forEachBatch reads the batches of segment i as the snapshot saw it.
func (r *cleanRound) forEachBatch(i int, fn func(h *BatchHeader, b []byte) error) error {
	s := r.v.segs[i]
	var buf []byte
	var ferr error
	_, err := s.walk(0, r.v.sizes[i], func(h *BatchHeader, pos int64) bool {
		if ferr = r.checkAbort(); ferr != nil {
			return false
		}
		if int64(cap(buf)) < h.Size() {
			buf = make([]byte, h.Size())
		}
		b := buf[:h.Size()]
		if _, err := s.log.ReadAt(b, pos); err != nil {
			ferr = err
			return false
		}
		ferr = fn(h, b)
		return ferr == nil
	})
	if ferr == nil {
		ferr = err
	}
	if ferr != nil && !errors.Is(ferr, errCleanAborted) {
		if r.checkAbort() != nil {
			return errCleanAborted
		}
		return fmt.Errorf("commitlog: clean segment %d: %w", s.base, ferr)
	}
	return ferr
}

// addToMap adds the keys of dirty segment i to the offset map unless that would take
// more than budget bytes (first: add it anyway). It reports whether it added them.
func (r *cleanRound) addToMap(i int, budget int64, first bool) (bool, error) {
	pending := map[string]int64{}
	var need int64
	err := r.forEachBatch(i, func(h *BatchHeader, b []byte) error {
		if h.IsControl() {
			return nil
		}
		batch, err := record.DecodeLimit(b, r.decodeLimit)
		if err != nil {
			return err
		}
		for _, rec := range batch.Records {
			if rec.Key == nil {
				continue
			}
			k := string(rec.Key)
			if _, ok := pending[k]; !ok {
				if _, ok := r.offsets[k]; !ok {
					need += int64(len(k)) + mapEntryOverhead
				}
			}
			pending[k] = rec.Offset
		}
		if !first && need > budget {
			return errMapFull
		}
		return nil
	})
	if errors.Is(err, errMapFull) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	for k, off := range pending {
		r.offsets[k] = off
	}
	r.mapBytes = need
	return true, nil
}

var errMapFull = errors.New("commitlog: offset map full")

// groupSegments splits segments [0, end) into runs to merge into one cleaned segment
// each, as Kafka's groupSegmentsBySize: consecutive segments whose sizes add up to at
// most segment.bytes, whose index entries fit segment.index.bytes, and whose offsets
// fit one segment's 32-bit relative offsets.
func groupSegments(v *cleanView, end int) [][]int {
	lim := limitsOf(&v.cfg)
	var groups [][]int
	for i := 0; i < end; {
		g := []int{i}
		size, entries := v.sizes[i], len(v.offsets[i])
		j := i + 1
		for ; j < end; j++ {
			if size+v.sizes[j] > v.cfg.SegmentBytes || entries+len(v.offsets[j]) >= lim.maxOffsetEntry ||
				v.segs[j+1].base-1-v.segs[i].base > math.MaxInt32 {
				break
			}
			size += v.sizes[j]
			entries += len(v.offsets[j])
			g = append(g, j)
		}
		groups = append(groups, g)
		i = j
	}
	return groups
}

// cleanGroup rewrites the segments of g into one cleaned segment and swaps it in.
func (r *cleanRound) cleanGroup(g []int) error {
	l, v := r.l, r.v
	base := v.segs[g[0]].base
	out, err := openCleaned(l.fs, l.dir, base)
	if err != nil {
		return storageError(fmt.Sprintf("create cleaned segment %d", base), err)
	}
	done := false // set once the cleaned segment belongs to the log
	defer func() {
		if !done {
			out.close()
			removeCleanerFiles(l.dir, base)
		}
	}()
	lim := limitsOf(&v.cfg)
	p := pending{st: segState{next: base, maxTs: -1, maxTsOffset: base, rollTs: -1}}
	deleteHorizon := r.nowMs + v.cfg.DeleteRetention.Milliseconds()
	// The last batch of the group is found from the last index entry on.
	lastSeg := g[len(g)-1]
	lastBatchEnd := int64(-1)
	_, err = v.segs[lastSeg].walk(lookupOffset(v.offsets[lastSeg], math.MaxInt32), v.sizes[lastSeg], func(h *BatchHeader, _ int64) bool {
		lastBatchEnd = h.LastOffset()
		return true
	})
	if err != nil {
		if r.checkAbort() != nil {
			return errCleanAborted
		}
		return storageError(fmt.Sprintf("clean segment %d", v.segs[lastSeg].base), err)
	}
	for _, i := range g {
		r.stats.SegmentsIn++
		r.stats.BytesIn += v.sizes[i]
		err := r.forEachBatch(i, func(h *BatchHeader, b []byte) error {
			keep, due, err := r.filterBatch(h, b, deleteHorizon, h.LastOffset() == lastBatchEnd)
			if err != nil {
				return err
			}
			r.due = min(r.due, due)
			if keep == nil {
				return nil
			}
			kh, err := ParseBatchHeader(keep)
			if err != nil {
				return err
			}
			pos := p.st.size
			if _, err := out.log.WriteAt(keep, pos); err != nil {
				return err
			}
			out.note(&p, &kh, pos, lim)
			return nil
		})
		if err != nil {
			return err
		}
	}
	// The final time index entry, as for any sealed segment. The index files are
	// written whole under their .cleaned names and fsynced; the swap renames them.
	out.maybeAddTime(&p, true)
	out.publish(&p)
	for _, f := range []struct {
		ext  string
		data []byte
	}{{".index", encodeOffsetEntries(out.offsets)}, {".timeindex", encodeTimeEntries(out.times)}} {
		if err := writeIndexFile(l.fs, segmentPath(l.dir, base, f.ext+cleanedSuffix), f.data, true); err != nil {
			return storageError("write cleaned index", err)
		}
	}
	if err := out.log.Sync(); err != nil {
		return storageError("fsync cleaned segment", err)
	}
	r.stats.SegmentsOut++
	r.stats.BytesOut += p.st.size
	return r.swap(g, out, &done)
}

// filterBatch applies the retention rules to one stored batch and returns the bytes
// to write (the batch itself, a rebuilt batch, or nil to drop it) and the delete
// horizon of any tombstone it keeps (math.MaxInt64 if none). lastOfGroup marks the
// last batch of the cleaned segment, which is always kept (see doc.go, crash
// recovery).
func (r *cleanRound) filterBatch(h *BatchHeader, b []byte, deleteHorizon int64, lastOfGroup bool) ([]byte, int64, error) {
	due := int64(math.MaxInt64)
	if h.IsControl() {
		// Transaction markers are kept as they are until transactions exist.
		return append([]byte(nil), b...), due, nil
	}
	batch, err := record.DecodeLimit(b, r.decodeLimit)
	if err != nil {
		return nil, due, err
	}
	hasHorizon := batch.Attributes&record.DeleteHorizonBit != 0
	horizonPassed := hasHorizon && r.nowMs >= batch.FirstTimestamp
	kept := batch.Records[:0:0]
	tombstones := false
	for _, rec := range batch.Records {
		if rec.Key == nil {
			continue // Kafka discards keyless records in compacted logs
		}
		if off, ok := r.offsets[string(rec.Key)]; ok && rec.Offset < off {
			continue // a later record has this key
		}
		if rec.Value == nil {
			if horizonPassed {
				continue
			}
			tombstones = true
		}
		kept = append(kept, rec)
	}
	r.stats.RecordsRemoved += int64(len(batch.Records) - len(kept))
	setHorizon := tombstones && !hasHorizon
	if tombstones {
		due = batch.FirstTimestamp
		if setHorizon {
			due = deleteHorizon
		}
	}
	if len(kept) == len(batch.Records) && !setHorizon {
		return append([]byte(nil), b...), due, nil
	}
	if len(kept) == 0 {
		last, ok := r.producerLast[h.ProducerID]
		if !lastOfGroup && !(h.ProducerID >= 0 && ok && last == h.LastOffset()) {
			return nil, due, nil
		}
		// An empty batch keeps the offset span, producer fields and max timestamp.
		batch.Attributes &^= record.CompressionMask
	}
	batch.Records = kept
	batch.LastOffsetDelta = h.LastOffsetDelta
	if setHorizon {
		// KIP-534: the delete horizon lives in firstTimestamp, flagged by attribute
		// bit 6; record timestamps stay right as their deltas are taken from it.
		batch.Attributes |= record.DeleteHorizonBit
		batch.FirstTimestamp = deleteHorizon
	}
	if len(kept) > 0 && h.TimestampType() == CreateTime {
		batch.MaxTimestamp = kept[0].Timestamp
		for _, rec := range kept {
			batch.MaxTimestamp = max(batch.MaxTimestamp, rec.Timestamp)
		}
	}
	enc, err := batch.Encode()
	return enc, due, err
}

// openCleaned creates the .log.cleaned of a cleaned segment at base; its index files
// are written once the segment is complete (cleanGroup).
func openCleaned(fs FS, dir string, base int64) (*segment, error) {
	s := &segment{base: base, fs: fs, dir: dir, st: segState{next: base, maxTs: -1, maxTsOffset: base, rollTs: -1}}
	var err error
	if s.log, err = fs.OpenFile(segmentPath(dir, base, ".log"+cleanedSuffix), os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o644); err != nil {
		return nil, err
	}
	return s, nil
}

// removeCleanerFiles deletes the .cleaned and .swap files of base.
func removeCleanerFiles(dir string, base int64) {
	for _, ext := range []string{".log", ".index", ".timeindex"} {
		os.Remove(segmentPath(dir, base, ext+cleanedSuffix))
		os.Remove(segmentPath(dir, base, ext+swapSuffix))
	}
}

// swapHook, when set by a test, is called after each file step of a swap (to copy the
// directory as a crash at that point would leave it).
var swapHook func(step string)

func hook(step string) {
	if swapHook != nil {
		swapHook(step)
	}
}

// swap replaces the segments of g by out, Kafka's way. Holding appendMu and flushMu
// (so that no truncation, retention or Close can run) it checks that the segments are
// still the log's, renames the .cleaned files to .swap (the .log last: its .swap is
// the commit point that crash recovery completes), publishes the new segment list
// under mu, deletes the old segments' files and strips the .swap suffixes. A crash
// anywhere is repaired by recoverCleanerFiles at the next Open. committed is set once
// the new list is published: the caller must not remove out's files after that.
func (r *cleanRound) swap(g []int, out *segment, committed *bool) error {
	l, v := r.l, r.v
	base := out.base
	rename := func(ext, from, to string) error {
		return os.Rename(segmentPath(l.dir, base, ext+from), segmentPath(l.dir, base, ext+to))
	}
	hook("cleaned")

	l.appendMu.Lock()
	defer l.appendMu.Unlock()
	l.flushMu.Lock()
	defer l.flushMu.Unlock()
	// segGen changes only under appendMu, so this check holds until we are done.
	l.mu.RLock()
	first := -1
	ok := !l.closed && l.segGen.Load() == v.gen
	for i, s := range l.segments {
		if ok && s == v.segs[g[0]] {
			first = i
			break
		}
	}
	ok = ok && first >= 0 && first+len(g) <= len(l.segments)-1
	for k := range g {
		ok = ok && l.segments[first+k] == v.segs[g[k]]
	}
	l.mu.RUnlock()
	if !ok {
		return errCleanAborted
	}

	for _, ext := range []string{".index", ".timeindex", ".log"} {
		if err := rename(ext, cleanedSuffix, swapSuffix); err != nil {
			return storageError("rename cleaned segment", err)
		}
		hook("renamed" + ext)
	}
	if err := atomicfile.SyncDir(l.dir); err != nil {
		// The .log.swap may be durable: from here on the swap must complete, in
		// memory now or by recovery after a crash.
		l.logger.Warn("commitlog: sync log dir before swap", "err", err)
	}
	hook("swap")

	l.mu.Lock()
	old := slices.Clone(l.segments[first : first+len(g)])
	out.created = old[0].created
	out.sealed, out.syncedSize = true, out.st.size
	// The cleaned segment ends where the next segment begins, as the replaced did.
	out.st.next = l.segments[first+len(g)].base
	segs := make([]*segment, 0, len(l.segments)-len(g)+1)
	segs = append(segs, l.segments[:first]...)
	segs = append(segs, out)
	segs = append(segs, l.segments[first+len(g):]...)
	l.segments = segs
	l.mu.Unlock()
	*committed = true

	// No reader can reach the old segments any more: their files go, then the .swap
	// suffixes. The new segment's open .log follows the renames; it finds its index
	// files by their final names should it ever read or rewrite them.
	var errs []error
	for _, s := range old {
		errs = append(errs, s.remove(l.dir))
		hook("deleted-old")
	}
	for _, ext := range []string{".index", ".timeindex", ".log"} {
		errs = append(errs, rename(ext, swapSuffix, ""))
		hook("unswapped" + ext)
	}
	errs = append(errs, atomicfile.SyncDir(l.dir))
	if err := errors.Join(errs...); err != nil {
		return storageError("swap cleaned segment", err)
	}
	return nil
}

// recoverCleanerFiles repairs what a crash in a cleaning round left in dir, before
// the segments are opened (doc.go, "Crash recovery of the cleaner"):
//   - .cleaned files are deleted: the round had not committed.
//   - .index.swap and .timeindex.swap without a .log.swap are deleted likewise.
//   - a <base>.log.swap is completed: every .log whose base lies in [base, the offset
//     after its last batch) is deleted with its indexes, the index files of base are
//     deleted, and the .swap is renamed to <base>.log. Its indexes are rebuilt: the
//     returned set holds the bases whose segments must be recovered from the .log.
func recoverCleanerFiles(dir string) (map[int64]bool, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var swaps []int64
	logs := map[int64]bool{}
	var stray []string
	for _, e := range ents {
		name := e.Name()
		switch {
		case strings.HasSuffix(name, cleanedSuffix):
			stray = append(stray, name)
		case strings.HasSuffix(name, ".log"+swapSuffix):
			if b, ok := parseBase(strings.TrimSuffix(name, ".log"+swapSuffix)); ok {
				swaps = append(swaps, b)
			}
		case strings.HasSuffix(name, ".log"):
			if b, ok := parseBase(strings.TrimSuffix(name, ".log")); ok {
				logs[b] = true
			}
		}
	}
	swapSet := map[int64]bool{}
	for _, b := range swaps {
		swapSet[b] = true
	}
	for _, e := range ents {
		name := e.Name()
		for _, ext := range []string{".index" + swapSuffix, ".timeindex" + swapSuffix} {
			if b, ok := parseBase(strings.TrimSuffix(name, ext)); ok && strings.HasSuffix(name, ext) && !swapSet[b] {
				stray = append(stray, name)
			}
		}
	}
	changed := len(stray) > 0
	for _, name := range stray {
		if err := os.Remove(filepath.Join(dir, name)); err != nil && !os.IsNotExist(err) {
			return nil, err
		}
	}
	rebuild := map[int64]bool{}
	sort.Slice(swaps, func(i, j int) bool { return swaps[i] < swaps[j] })
	for _, b := range swaps {
		end, err := swapEnd(segmentPath(dir, b, ".log"+swapSuffix), b)
		if err != nil {
			return nil, err
		}
		for o := range logs {
			if o >= b && o < end {
				for _, ext := range []string{".log", ".index", ".timeindex"} {
					if err := os.Remove(segmentPath(dir, o, ext)); err != nil && !os.IsNotExist(err) {
						return nil, err
					}
				}
				delete(logs, o)
			}
		}
		for _, ext := range []string{".index", ".timeindex", ".index" + swapSuffix, ".timeindex" + swapSuffix} {
			if err := os.Remove(segmentPath(dir, b, ext)); err != nil && !os.IsNotExist(err) {
				return nil, err
			}
		}
		if err := os.Rename(segmentPath(dir, b, ".log"+swapSuffix), segmentPath(dir, b, ".log")); err != nil {
			return nil, err
		}
		logs[b] = true
		rebuild[b] = true
		changed = true
	}
	if changed {
		if err := atomicfile.SyncDir(dir); err != nil {
			return nil, err
		}
	}
	return rebuild, nil
}

func parseBase(s string) (int64, bool) {
	if len(s) != 20 {
		return 0, false
	}
	b, err := strconv.ParseInt(s, 10, 64)
	return b, err == nil && b >= 0
}

// swapEnd is the offset after the last whole batch of a .swap file (base if none).
// The cleaner keeps the last batch of every cleaned segment, so this is where the
// replaced segments ended.
func swapEnd(path string, base int64) (int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return 0, err
	}
	s := &segment{base: base, log: f}
	end := base
	_, err = s.walk(0, fi.Size(), func(h *BatchHeader, _ int64) bool {
		end = h.LastOffset() + 1
		return true
	})
	if err != nil && !errors.Is(err, errTorn) {
		return 0, err
	}
	return end, nil
}
