package commitlog

import (
	"errors"
	"fmt"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/samsa-io/samsa/internal/atomicfile"
	"github.com/samsa-io/samsa/internal/producerstate"
)

// TimestampType is message.timestamp.type.
type TimestampType int8

const (
	// CreateTime keeps the producer's timestamps (Kafka's default).
	CreateTime TimestampType = 0
	// LogAppendTime makes the broker stamp every batch with its append time.
	LogAppendTime TimestampType = 1
)

// Config holds the settings of one partition's log: Kafka's topic-level configs,
// already resolved against the broker defaults.
type Config struct {
	SegmentBytes       int64         // segment.bytes: roll when the active segment would exceed this
	SegmentAge         time.Duration // segment.ms: roll when the active segment is older than this
	SegmentIndexBytes  int           // segment.index.bytes: roll when an index reaches this size
	IndexIntervalBytes int           // index.interval.bytes: bytes between sparse index entries
	RetentionTime      time.Duration // retention.ms: delete segments older than this; < 0 keeps forever
	RetentionBytes     int64         // retention.bytes: delete oldest segments past this size; < 0 unlimited
	MaxMessageBytes    int32         // max.message.bytes: largest record batch accepted
	TimestampType      TimestampType // message.timestamp.type
	// message.timestamp.before.max.ms / after.max.ms: how far a CreateTime timestamp may lie
	// in the past or future of the broker's clock; < 0 or 0 disables the check as in Kafka
	// (Kafka's defaults are Long.MAX_VALUE and 3600000).
	TimestampBeforeMax time.Duration
	TimestampAfterMax  time.Duration
	// FlushMessages is flush.messages: fsync after this many messages. 1 is the
	// group-commit mode: Append returns only after an fsync covering its batch, and
	// concurrent appends share one fsync. Kafka's default (Long.MAX_VALUE) leaves data to
	// the page cache.
	FlushMessages int64
	FlushInterval time.Duration // flush.ms: fsync when the oldest unflushed data is older than this
	// ProducerIDExpiration is producer.id.expiration.ms: idle producer state is dropped after it.
	ProducerIDExpiration time.Duration

	// Compaction (cleanup.policy and the log cleaner's settings; see "Log compaction"
	// in doc.go).
	Compact bool // cleanup.policy contains compact: the cleaner keeps the latest record per key
	Delete  bool // cleanup.policy contains delete: retention.ms and retention.bytes apply
	// DeleteRetention is delete.retention.ms: how long a tombstone survives after the
	// clean that first kept it (its delete horizon).
	DeleteRetention time.Duration
	// MinCompactionLag is min.compaction.lag.ms: segments holding a record younger than
	// this are not cleaned.
	MinCompactionLag time.Duration
	// MaxCompactionLag is max.compaction.lag.ms: a log whose oldest dirty batch is older
	// than this is cleaned whatever its dirty ratio, and its active segment rolls by then.
	MaxCompactionLag time.Duration
	// MinCleanableDirtyRatio is min.cleanable.dirty.ratio: the share of the cleanable
	// bytes not yet cleaned at which the cleaner picks the log.
	MinCleanableDirtyRatio float64

	// MinInsyncReplicas is min.insync.replicas: the smallest ISR an acks=all produce is
	// accepted with. The log does not use it; the replica layer reads it from here so
	// that it is resolved per topic like every other topic config.
	MinInsyncReplicas int32
}

// DefaultConfig returns Kafka's defaults.
func DefaultConfig() Config {
	return Config{
		SegmentBytes:         1 << 30,
		SegmentAge:           7 * 24 * time.Hour,
		SegmentIndexBytes:    10 << 20,
		IndexIntervalBytes:   4096,
		RetentionTime:        7 * 24 * time.Hour,
		RetentionBytes:       -1,
		MaxMessageBytes:      1048588,
		TimestampType:        CreateTime,
		TimestampBeforeMax:   -1,
		TimestampAfterMax:    time.Hour,
		FlushMessages:        1<<63 - 1,
		FlushInterval:        1<<63 - 1,
		ProducerIDExpiration: 24 * time.Hour,

		Delete:                 true,
		DeleteRetention:        24 * time.Hour,
		MaxCompactionLag:       1<<63 - 1,
		MinCleanableDirtyRatio: 0.5,
		MinInsyncReplicas:      1,
	}
}

// maxSegmentAge is Kafka's LogConfig.maxSegmentMs: a compacted log rolls by
// max.compaction.lag.ms at the latest, so that the cleaner, which never touches the
// active segment, can honour the lag.
func (c *Config) maxSegmentAge() time.Duration {
	if c.Compact && c.MaxCompactionLag > 0 {
		return min(c.SegmentAge, c.MaxCompactionLag)
	}
	return c.SegmentAge
}

// Clock is the time source; tests substitute a fake.
type Clock interface{ Now() time.Time }

// Options are the non-config dependencies of a log.
type Options struct {
	Clock  Clock        // nil means the wall clock
	Logger *slog.Logger // nil means slog.Default()
	// FS opens segment files; nil means the OS. Tests use it to inject write errors.
	FS FS
	// HadCleanShutdown is set (by the Manager) when the log was closed cleanly: Open
	// then trusts the segments and checks only the indexes and the active segment's
	// tail, instead of validating every batch from the recovery point on.
	HadCleanShutdown bool
}

type wallClock struct{}

func (wallClock) Now() time.Time { return time.Now() }

// ErrClosed is returned by every Log method called after Close.
var ErrClosed = errors.New("commitlog: log is closed")

// AppendOptions describe where an append comes from.
type AppendOptions struct {
	// LeaderEpoch is stamped into every appended batch's PartitionLeaderEpoch field.
	LeaderEpoch int32
	// FromReplication is true for a follower appending the leader's batches as they are:
	// offsets are kept, not assigned, and producer sequences are not checked against
	// client rules. Clients' produce requests use false.
	FromReplication bool
}

// AppendResult tells where the appended records landed.
type AppendResult struct {
	BaseOffset     int64 // offset of the first record
	LastOffset     int64 // offset of the last record
	LogAppendTime  int64 // ms since the epoch when TimestampType is LogAppendTime, else -1
	LogStartOffset int64
	// Duplicate is true when the batch was a retry of one already in the log (idempotent
	// producer); the offsets are those of the original.
	Duplicate bool
}

// ReadResult is a slice of the log: whole record batches as stored.
type ReadResult struct {
	Records []byte // zero or more complete batches, starting with the one holding the fetch offset
}

// ProducerInfo describes an active idempotent producer (DescribeProducers).
type ProducerInfo struct {
	ProducerID            int64
	ProducerEpoch         int16
	LastSequence          int32
	LastTimestamp         int64
	CoordinatorEpoch      int32
	CurrentTxnStartOffset int64
}

// Log is one partition's log: a directory of segments.
//
// Locks, always taken in this order:
//   - cleanMu serialises cleaning rounds of this log (see cleaner.go): a round reads
//     sealed segments without other locks and takes the three below only to swap
//     cleaned segments in.
//   - appendMu serialises everything that writes: Append, roll, TruncateTo, retention,
//     DeleteRecordsBefore, producer state and Close. It is held while bytes are written
//     to the active segment, so readers never wait for a write(2).
//   - flushMu serialises fsyncs. Group commit: appenders queue on it and the first one
//     fsyncs everything written so far, so the others find their data covered. Anything
//     that closes files takes it too, so an fsync never meets a closed file.
//   - mu guards the fields below it. Readers hold it shared for the whole read (a pread
//     from the page cache); writers hold it exclusively only to publish new state.
//
// ReadFile returns a file range that its caller sends (sendfile) after mu is released,
// so a segment can be closed and deleted by retention, DeleteRecords, a cleaner swap or
// Close while a send from it is in flight. That is safe because *os.File counts the
// users of its descriptor (internal/poll): a send that holds the descriptor (inside
// File.SyscallConn().Control) keeps it open, and reads the file's old bytes even once it
// is unlinked, until it returns; an operation that starts after Close fails (the file
// is closed) and the fetch closes its client's connection (the client retries from
// the same offset and gets the data from the segments now in place). The bytes of a
// range never change under a send: sealed segments are immutable, the active one only
// grows, and a cleaner writes new files rather than rewriting old ones. The exception
// is TruncateTo, which cuts a segment and lets later appends reuse its positions, so a
// send racing it could mix old and new bytes. Only replication truncates (a follower's
// divergent tail, usually above the high watermark, which ReadFile never returns); on
// one node it is never called. A ReadFileForReplica range can reach above the high
// watermark, but a node truncates only as a follower, after it stopped serving
// followers; a send already in flight then may carry mixed bytes, which the fetching
// follower's CRC check rejects before it fetches again.
type Log struct {
	dir    string
	clock  Clock
	logger *slog.Logger
	fs     FS

	cleanMu sync.Mutex

	appendMu sync.Mutex
	// producers is guarded by appendMu (producerstate.Manager is not synchronised).
	producers   *producerstate.Manager
	epochsDirty bool // guarded by appendMu: the epoch checkpoint file is stale

	flushMu sync.Mutex

	mu              sync.RWMutex
	cfg             Config
	segments        []*segment // sorted by base offset; the last is active
	logStart        int64
	leo             int64
	hw              int64
	recoveryPoint   int64
	lastFlush       time.Time
	rollFlushNeeded bool // a segment was sealed since the last flush
	epochs          epochCache
	closed          bool
	// segGen counts changes to the segment list other than rolls and the cleaner's
	// swaps (retention, DeleteRecords, truncation, Close): a cleaning round that began
	// under another generation is abandoned before it swaps.
	segGen atomic.Uint64
	// cleanedTo is the cleaner's first dirty offset: everything below it has been
	// compacted (cleaner-offset-checkpoint).
	cleanedTo int64
	// horizonDue is the earliest delete horizon (ms) of a tombstone the last clean
	// kept, or math.MaxInt64: once due, the log is worth cleaning again.
	horizonDue int64

	// hwPos is the file position of hw (see ReadFile), kept by SetHighWatermark;
	// appendEnds are the ends of the last appends, where hw usually moves next. Both
	// are guarded by mu.
	hwPos         hwMark
	appendEnds    [hwMarkRing]hwMark
	appendEndNext int
}

// Open opens (creating if needed) the log in dir, recovering from recoveryPoint: every
// batch past it is validated and a torn or corrupt tail is truncated.
func Open(dir string, cfg Config, recoveryPoint, logStartOffset int64, opts Options) (*Log, error) {
	l := &Log{
		dir:        dir,
		clock:      opts.Clock,
		logger:     opts.Logger,
		fs:         opts.FS,
		producers:  producerstate.New(),
		cfg:        cfg,
		horizonDue: math.MaxInt64,
	}
	if l.clock == nil {
		l.clock = wallClock{}
	}
	if l.logger == nil {
		l.logger = slog.Default()
	}
	l.logger = l.logger.With("log", filepath.Base(dir))
	if l.fs == nil {
		l.fs = osFS{}
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("commitlog: create %s: %w: %w", dir, err, kerr.KafkaStorageError)
	}
	if err := l.load(recoveryPoint, logStartOffset, opts.HadCleanShutdown); err != nil {
		for _, s := range l.segments {
			s.close()
		}
		return nil, err
	}
	return l, nil
}

// segmentBases lists the base offsets of the .log files in dir and removes index files
// that have no .log (left by a crash while deleting a segment) and stale temp files.
func segmentBases(dir string) ([]int64, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	logs := map[int64]bool{}
	var orphans []string
	for _, e := range ents {
		name := e.Name()
		ext := filepath.Ext(name)
		base, err := strconv.ParseInt(strings.TrimSuffix(name, ext), 10, 64)
		if err != nil || len(name)-len(ext) != 20 || base < 0 {
			if strings.HasSuffix(name, ".tmp") {
				orphans = append(orphans, name)
			}
			continue
		}
		switch ext {
		case ".log":
			logs[base] = true
		case ".index", ".timeindex":
			orphans = append(orphans, name)
		}
	}
	for _, name := range orphans {
		ext := filepath.Ext(name)
		if base, err := strconv.ParseInt(strings.TrimSuffix(name, ext), 10, 64); err == nil && logs[base] && ext != ".tmp" {
			continue
		}
		os.Remove(filepath.Join(dir, name))
	}
	bases := make([]int64, 0, len(logs))
	for b := range logs {
		bases = append(bases, b)
	}
	slices.Sort(bases)
	return bases, nil
}

// load opens the segments and runs recovery; see "Recovery" in doc.go.
func (l *Log) load(recoveryPoint, logStartOffset int64, clean bool) error {
	storageErr := func(err error) error {
		return fmt.Errorf("commitlog: open %s: %w: %w", l.dir, err, kerr.KafkaStorageError)
	}
	// Finish or undo an interrupted cleaner swap first (see "Log compaction" in
	// doc.go); the segments it completes have their indexes rebuilt below.
	rebuild, err := recoverCleanerFiles(l.dir)
	if err != nil {
		return storageErr(err)
	}
	bases, err := segmentBases(l.dir)
	if err != nil {
		return storageErr(err)
	}
	now := l.clock.Now()
	lim := limitsOf(&l.cfg)
	epochs, err := readEpochCheckpoint(filepath.Join(l.dir, epochCheckpointFile))
	if err != nil {
		// The cache is rebuilt below from the batch headers.
		l.logger.Warn("commitlog: leader epoch checkpoint unreadable, rebuilding", "err", err)
		l.epochsDirty = true
	}
	l.epochs = epochs
	rebuildEpochs := l.epochsDirty

	for _, b := range bases {
		s, err := openSegment(l.fs, l.dir, b, false, now)
		if err != nil {
			return storageErr(err)
		}
		l.segments = append(l.segments, s)
	}
	if len(l.segments) == 0 {
		s, err := openSegment(l.fs, l.dir, max(logStartOffset, 0), true, now)
		if err != nil {
			return storageErr(err)
		}
		l.segments = append(l.segments, s)
	}

	// Segments before the one holding the recovery point were flushed; from it on,
	// every batch is validated unless the log was closed cleanly.
	first := len(l.segments)
	if !clean {
		first = 0
		for i, s := range l.segments {
			if s.base <= recoveryPoint {
				first = i
			}
		}
	}
	assign := func(h *BatchHeader) {
		if l.epochs.assign(h.PartitionLeaderEpoch, h.BaseOffset) {
			l.epochsDirty = true
		}
	}
	var recovered []*segment
	for i := 0; i < len(l.segments); i++ {
		s := l.segments[i]
		last := i == len(l.segments)-1
		prevNext := int64(0)
		if i > 0 {
			prevNext = l.segments[i-1].st.next
		}
		fi, err := s.log.Stat()
		if err != nil {
			return storageErr(err)
		}
		trusted := i < first && !rebuild[s.base]
		if trusted {
			// An empty .log (a new log, or an empty active segment) has no index
			// entries, whatever its index files say or whether they exist.
			if fi.Size() > 0 {
				err = s.loadIndexes(fi.Size())
			}
			if err != nil {
				l.logger.Warn("commitlog: rebuilding index", "segment", s.base, "err", err)
				trusted = false
			} else if last {
				if err := s.loadTail(lim); err != nil {
					l.logger.Warn("commitlog: rebuilding index", "segment", s.base, "err", err)
					trusted = false
				}
			} else {
				s.st = segState{size: fi.Size(), next: l.segments[i+1].base, maxTs: -1, maxTsOffset: s.base, rollTs: -1, bytesSinceIndex: 0}
				if n := len(s.times); n > 0 {
					s.st.maxTs, s.st.maxTsOffset = s.times[n-1].ts, s.base+int64(s.times[n-1].rel)
				}
			}
		}
		if !trusted {
			var onBatch func(*BatchHeader)
			if !rebuildEpochs {
				onBatch = assign
			}
			cut, err := s.recover(prevNext, lim, onBatch)
			if err != nil {
				return storageErr(err)
			}
			recovered = append(recovered, s)
			if cut {
				l.logger.Warn("commitlog: truncated a torn or corrupt tail", "segment", s.base, "size", s.st.size)
			}
			if cut && !last {
				// Everything after the first bad batch goes: later segments too.
				for _, d := range l.segments[i+1:] {
					if err := d.remove(l.dir); err != nil {
						return storageErr(err)
					}
				}
				l.segments = l.segments[:i+1]
				last = true
			}
		}
		if !last {
			s.sealed = true
		}
	}
	// What recovery scanned is fsynced now, so the recovery point can move to the end
	// of the log. A recovered segment that is not the last is sealed: its rebuilt
	// indexes get their final time entry and are written, durably, before the log is
	// used (a crash before that repeats this recovery, as the recovery point has not
	// moved). The last segment's indexes stay in memory until it is sealed or closed.
	for _, s := range recovered {
		if err := s.log.Sync(); err != nil {
			return storageErr(err)
		}
		if s.sealed {
			p := s.seal()
			if err := s.writeSealedIndexes(&p); err != nil {
				return storageErr(err)
			}
			s.publish(&p)
		}
	}
	for _, s := range l.segments {
		s.syncedSize = s.st.size
	}
	active := l.segments[len(l.segments)-1]
	l.leo = active.st.next
	l.logStart = min(max(logStartOffset, l.segments[0].base), l.leo)
	l.hw = l.leo
	l.trackHighWatermarkLocked()
	l.recoveryPoint = l.leo
	l.lastFlush = now

	if rebuildEpochs {
		l.epochs = epochCache{}
		for _, s := range l.segments {
			if _, err := s.walk(0, s.st.size, func(h *BatchHeader, _ int64) bool { assign(h); return true }); err != nil {
				return storageErr(err)
			}
		}
	}
	if l.epochs.truncateFromEnd(l.leo) {
		l.epochsDirty = true
	}
	if l.epochs.truncateFromStart(l.logStart) {
		l.epochsDirty = true
	}
	l.writeEpochsLocked()
	return l.loadProducersLocked()
}

// loadProducersLocked restores producer state: the newest snapshot at or below the log
// end, then every idempotent batch after it. Needs appendMu or exclusive access.
func (l *Log) loadProducersLocked() error {
	snap, err := l.producers.LoadSnapshot(l.dir, l.leo)
	if err != nil {
		l.logger.Warn("commitlog: producer snapshot unreadable, replaying the log", "err", err)
		snap = -1
	}
	from := max(snap, l.logStart)
	for _, s := range l.segments {
		if s.st.next <= from {
			continue
		}
		start := lookupOffset(s.offsets, from-s.base)
		_, err := s.walk(start, s.st.size, func(h *BatchHeader, _ int64) bool {
			if h.LastOffset() >= from {
				l.updateProducer(h)
			}
			return true
		})
		if err != nil {
			return fmt.Errorf("commitlog: replay producer state: %w: %w", err, kerr.KafkaStorageError)
		}
	}
	return nil
}

func (l *Log) updateProducer(h *BatchHeader) {
	if h.ProducerID < 0 || h.IsControl() {
		return
	}
	l.producers.Update(h.ProducerID, h.ProducerEpoch, producerstate.BatchMeta{
		FirstSeq:     h.BaseSequence,
		LastSeq:      h.LastSequence(),
		FirstOffset:  h.BaseOffset,
		LastOffset:   h.LastOffset(),
		MaxTimestamp: h.MaxTimestamp,
	})
}

// writeEpochsLocked rewrites leader-epoch-checkpoint if it is stale. A failure is
// logged and retried on the next change or flush: the cache in memory is right, and
// failing an append whose data is already in the log would only make clients retry.
// Needs appendMu (or exclusive access).
func (l *Log) writeEpochsLocked() {
	if !l.epochsDirty {
		return
	}
	l.mu.RLock()
	data := l.epochs.encode()
	l.mu.RUnlock()
	if err := atomicfile.WriteFile(filepath.Join(l.dir, epochCheckpointFile), data); err != nil {
		l.logger.Error("commitlog: write leader epoch checkpoint", "err", err)
		return
	}
	l.epochsDirty = false
}

func storageError(op string, err error) error {
	return fmt.Errorf("commitlog: %s: %w: %w", op, err, kerr.KafkaStorageError)
}

// Append validates records (one or more v2 batches from a produce request) and appends
// them. Offsets, the leader epoch and (for LogAppendTime) timestamps and CRC are
// patched in place in records: the caller must not reuse the slice concurrently.
func (l *Log) Append(records []byte, opts AppendOptions) (AppendResult, error) {
	l.appendMu.Lock()
	res, flushTo, err := l.appendLocked(records, opts)
	l.appendMu.Unlock()
	if err != nil || flushTo < 0 {
		return res, err
	}
	if err := l.flushTo(flushTo); err != nil {
		return res, err
	}
	return res, nil
}

// appendLocked does Append's work under appendMu. It returns the offset a flush must
// cover before Append returns (flush.messages), or -1.
func (l *Log) appendLocked(records []byte, opts AppendOptions) (AppendResult, int64, error) {
	l.mu.RLock()
	closed, cfg, leo, logStart, active := l.closed, l.cfg, l.leo, l.logStart, l.segments[len(l.segments)-1]
	l.mu.RUnlock()
	if closed {
		return AppendResult{}, -1, ErrClosed
	}
	now := l.clock.Now()
	nowMs := now.UnixMilli()
	refs, err := validateBatches(records, validateOptions{
		maxMessageBytes:    cfg.MaxMessageBytes,
		timestampType:      cfg.TimestampType,
		timestampBeforeMax: cfg.TimestampBeforeMax,
		timestampAfterMax:  cfg.TimestampAfterMax,
		now:                now,
		fromReplication:    opts.FromReplication,
	})
	if err != nil {
		return AppendResult{}, -1, err
	}
	if cfg.Compact && !opts.FromReplication {
		for i := range refs {
			if err := checkKeys(records[refs[i].pos:refs[i].pos+int(refs[i].h.Size())], &refs[i].h, &cfg); err != nil {
				return AppendResult{}, -1, fmt.Errorf("commitlog: batch at position %d: %w", refs[i].pos, err)
			}
		}
	}
	res := AppendResult{BaseOffset: -1, LastOffset: -1, LogAppendTime: -1, LogStartOffset: logStart}
	if len(refs) == 0 {
		return res, -1, nil
	}
	if cfg.TimestampType == LogAppendTime {
		res.LogAppendTime = nowMs
	}

	if h := &refs[0].h; !opts.FromReplication && h.ProducerID >= 0 {
		dup, err := l.producers.Check(h.ProducerID, h.ProducerEpoch, h.BaseSequence, h.LastSequence())
		if err != nil {
			return AppendResult{}, -1, err
		}
		if dup != nil {
			res.BaseOffset, res.LastOffset, res.Duplicate = dup.FirstOffset, dup.LastOffset, true
			if cfg.TimestampType == LogAppendTime {
				res.LogAppendTime = dup.MaxTimestamp
			}
			return res, -1, nil
		}
	}

	next := leo
	maxTs := int64(-1)
	for i := range refs {
		h := &refs[i].h
		b := records[refs[i].pos : refs[i].pos+int(h.Size())]
		if opts.FromReplication {
			if h.BaseOffset < next {
				return AppendResult{}, -1, fmt.Errorf("commitlog: replicated batch at offset %d is below the log end %d: %w", h.BaseOffset, next, kerr.InvalidRecord)
			}
		} else {
			h.BaseOffset = next
			setBaseOffset(b, next)
			h.PartitionLeaderEpoch = opts.LeaderEpoch
			setLeaderEpoch(b, opts.LeaderEpoch)
			if cfg.TimestampType == LogAppendTime {
				setLogAppendTime(b, nowMs)
				h.Attributes |= attrTimestampType
				h.MaxTimestamp = nowMs
			}
		}
		next = h.LastOffset() + 1
		maxTs = max(maxTs, h.MaxTimestamp)
	}
	first, last := refs[0].h.BaseOffset, next-1

	seg := active
	if l.shouldRoll(seg, &cfg, int64(len(records)), maxTs, first, last, now) {
		if seg, err = l.rollLocked(first, now); err != nil {
			return AppendResult{}, -1, err
		}
	}
	if last-seg.base > math.MaxInt32 {
		return AppendResult{}, -1, fmt.Errorf("commitlog: append of offsets %d..%d spans more than a segment can index: %w", first, last, kerr.InvalidRecord)
	}

	pos := seg.st.size
	if _, err := seg.log.WriteAt(records, pos); err != nil {
		if terr := seg.log.Truncate(pos); terr != nil {
			l.logger.Error("commitlog: cannot truncate after failed write", "segment", seg.base, "err", terr)
		}
		return AppendResult{}, -1, storageError(fmt.Sprintf("append to segment %d", seg.base), err)
	}
	p := seg.newPending()
	lim := limitsOf(&cfg)
	for i := range refs {
		seg.note(&p, &refs[i].h, pos+int64(refs[i].pos), lim)
	}
	// The new index entries stay in memory: the active segment's index files are
	// written when it is sealed or the log is closed, and rebuilt by recovery after a
	// crash (see "Index files" in doc.go).

	l.mu.Lock()
	seg.publish(&p)
	l.leo = next
	l.noteAppendEndLocked(seg, next, p.st.size)
	for i := range refs {
		if l.epochs.assign(refs[i].h.PartitionLeaderEpoch, refs[i].h.BaseOffset) {
			l.epochsDirty = true
		}
	}
	rp := l.recoveryPoint
	l.mu.Unlock()
	l.writeEpochsLocked()
	for i := range refs {
		l.updateProducer(&refs[i].h)
	}

	res.BaseOffset, res.LastOffset = first, last
	flushTo := int64(-1)
	if cfg.FlushMessages > 0 && next-rp >= cfg.FlushMessages {
		flushTo = next
	}
	return res, flushTo, nil
}

// shouldRoll is Kafka's LogSegment.shouldRoll: the append would overflow segment.bytes,
// the segment is older than segment.ms (by the timestamps of its first batch and of
// the append, or by wall clock without timestamps), an index is full, or the offsets
// do not fit the segment's 32-bit relative offsets.
func (l *Log) shouldRoll(s *segment, cfg *Config, appendSize, maxTs, first, last int64, now time.Time) bool {
	if s.st.size == 0 {
		// An empty segment is only replaced, and only by one at another base.
		return first != s.base && (first < s.base || last-s.base > math.MaxInt32)
	}
	if first < s.base || last-s.base > math.MaxInt32 {
		return true
	}
	if s.st.size > cfg.SegmentBytes-appendSize {
		return true
	}
	waited := now.Sub(s.created).Milliseconds()
	if s.st.rollTs >= 0 {
		waited = maxTs - s.st.rollTs
	}
	if waited > cfg.maxSegmentAge().Milliseconds() {
		return true
	}
	lim := limitsOf(cfg)
	return len(s.offsets) >= lim.maxOffsetEntry || len(s.times) >= lim.maxTimeEntry
}

// rollLocked seals the active segment and starts a new one at base. An empty active
// segment is replaced instead. Needs appendMu.
//
// The sealed segment's index files are written and fsynced before the new segment's
// .log is created: once a segment has a successor on disk, Open may trust its
// indexes (it lies below the recovery point), so they must be complete and durable
// by then. Two small fsyncs per segment.bytes of log cost nothing measurable, and
// doing them here rather than in the next flush keeps that invariant in one place.
func (l *Log) rollLocked(base int64, now time.Time) (*segment, error) {
	old := l.segments[len(l.segments)-1]
	if old.st.size == 0 {
		ns, err := openSegment(l.fs, l.dir, base, true, now)
		if err != nil {
			return nil, storageError(fmt.Sprintf("roll segment %d", base), err)
		}
		l.flushMu.Lock()
		l.mu.Lock()
		l.segments[len(l.segments)-1] = ns
		l.mu.Unlock()
		err = old.remove(l.dir)
		l.flushMu.Unlock()
		if err != nil {
			l.logger.Warn("commitlog: remove empty segment", "segment", old.base, "err", err)
		}
		return ns, nil
	}
	p := old.seal()
	if err := old.writeSealedIndexes(&p); err != nil {
		return nil, storageError(fmt.Sprintf("seal segment %d", old.base), err)
	}
	ns, err := openSegment(l.fs, l.dir, base, true, now)
	if err != nil {
		// The old segment stays active; its index files on disk are as stale as an
		// active segment's may be.
		return nil, storageError(fmt.Sprintf("roll segment %d", base), err)
	}
	l.mu.Lock()
	old.publish(&p)
	old.sealed = true
	l.segments = append(l.segments, ns)
	l.rollFlushNeeded = true
	l.mu.Unlock()
	// Kafka snapshots producer state at every roll, which bounds the replay after a crash.
	if err := l.producers.WriteSnapshot(l.dir, base); err != nil {
		l.logger.Warn("commitlog: producer snapshot", "offset", base, "err", err)
	}
	l.logger.Debug("commitlog: rolled segment", "base", base)
	return ns, nil
}

// Read returns batches starting with the one that holds offset, up to maxBytes, never
// including offsets at or past maxOffset. With minOneBatch the first batch is returned
// even if larger than maxBytes (KIP-74). Like Kafka, one Read returns data from one
// segment only.
func (l *Log) Read(offset int64, maxBytes int, maxOffset int64, minOneBatch bool) (ReadResult, error) {
	l.mu.RLock()
	defer l.mu.RUnlock()
	if l.closed {
		return ReadResult{}, ErrClosed
	}
	if offset < l.logStart || offset > l.leo {
		return ReadResult{}, fmt.Errorf("commitlog: offset %d outside [%d, %d]: %w", offset, l.logStart, l.leo, kerr.OffsetOutOfRange)
	}
	if offset >= maxOffset || offset == l.leo {
		return ReadResult{}, nil
	}
	for i := l.segmentForLocked(offset); i < len(l.segments); i++ {
		s := l.segments[i]
		pos, h, found, err := s.find(offset)
		if err != nil {
			return ReadResult{}, storageError("read", err)
		}
		if !found {
			continue // offset lies in a gap after this segment's last batch
		}
		if h.LastOffset() >= maxOffset {
			return ReadResult{}, nil
		}
		if h.Size() > int64(maxBytes) {
			if !minOneBatch {
				return ReadResult{}, nil
			}
			buf := make([]byte, h.Size())
			if _, err := s.log.ReadAt(buf, pos); err != nil {
				return ReadResult{}, storageError("read", err)
			}
			return ReadResult{Records: buf}, nil
		}
		buf := make([]byte, min(int64(maxBytes), s.st.size-pos))
		if _, err := s.log.ReadAt(buf, pos); err != nil {
			return ReadResult{}, storageError("read", err)
		}
		return ReadResult{Records: buf[:wholeBatches(buf, maxOffset)]}, nil
	}
	return ReadResult{}, nil
}

// wholeBatches returns the length of the prefix of buf made of whole batches that end
// before maxOffset. buf starts at a batch boundary.
func wholeBatches(buf []byte, maxOffset int64) int {
	end := 0
	for len(buf)-end >= offLastOffsetDelta+4 {
		b := buf[end:]
		size := int(int32(beUint32(b[offBatchLength:]))) + batchOverhead
		if size < BatchHeaderSize || size > len(b) {
			break
		}
		last := int64(beUint64(b[offBaseOffset:])) + int64(int32(beUint32(b[offLastOffsetDelta:])))
		if last >= maxOffset {
			break
		}
		end += size
	}
	return end
}

// segmentForLocked is the index of the last segment whose base is <= offset (0 if none).
func (l *Log) segmentForLocked(offset int64) int {
	i := sort.Search(len(l.segments), func(i int) bool { return l.segments[i].base > offset })
	return max(i-1, 0)
}

// LogStartOffset is the first offset still in the log.
func (l *Log) LogStartOffset() int64 {
	l.mu.RLock()
	defer l.mu.RUnlock()
	return l.logStart
}

// LogEndOffset is the offset the next appended record will get.
func (l *Log) LogEndOffset() int64 {
	l.mu.RLock()
	defer l.mu.RUnlock()
	return l.leo
}

// HighWatermark is the offset below which records are committed and readable. It starts
// at the log end offset found by Open; Manager.GetOrCreate then restores the one of
// replication-offset-checkpoint.
func (l *Log) HighWatermark() int64 {
	l.mu.RLock()
	defer l.mu.RUnlock()
	return l.hw
}

// SetHighWatermark moves the high watermark (never past the log end offset).
func (l *Log) SetHighWatermark(hw int64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.hw = min(max(hw, 0), l.leo)
	l.trackHighWatermarkLocked()
}

// RecoveryPoint is the offset below which the log is known flushed to disk.
func (l *Log) RecoveryPoint() int64 {
	l.mu.RLock()
	defer l.mu.RUnlock()
	return l.recoveryPoint
}

// OffsetForTimestamp finds the first record whose timestamp is >= ts, as Kafka's
// ListOffsets by timestamp: the first segment whose max timestamp reaches ts, then its
// time index, then a scan. Within compressed batches the answer is at batch
// granularity: the batch's base offset and its max timestamp (see doc.go).
func (l *Log) OffsetForTimestamp(ts int64) (offset, timestamp int64, leaderEpoch int32, found bool, err error) {
	l.mu.RLock()
	defer l.mu.RUnlock()
	if l.closed {
		return 0, 0, 0, false, ErrClosed
	}
	for _, s := range l.segments {
		if s.st.maxTs < ts || s.st.next <= l.logStart {
			continue
		}
		from := s.base
		if rel := lookupTime(s.times, ts); rel >= 0 {
			from = s.base + rel
		}
		from = max(from, l.logStart)
		var hit *BatchHeader
		var hitPos int64
		_, err := s.walk(lookupOffset(s.offsets, from-s.base), s.st.size, func(h *BatchHeader, pos int64) bool {
			if h.LastOffset() >= l.logStart && h.MaxTimestamp >= ts {
				hh := *h
				hit, hitPos = &hh, pos
				return false
			}
			return true
		})
		if err != nil {
			return 0, 0, 0, false, storageError("offset for timestamp", err)
		}
		if hit == nil {
			continue
		}
		b := make([]byte, hit.Size())
		if _, err := s.log.ReadAt(b, hitPos); err != nil {
			return 0, 0, 0, false, storageError("offset for timestamp", err)
		}
		off, rts := firstRecordAtOrAfter(b, hit, ts)
		return max(off, l.logStart), rts, hit.PartitionLeaderEpoch, true, nil
	}
	return 0, 0, 0, false, nil
}

// MaxTimestamp finds the record with the largest timestamp (ListOffsets -3, KIP-734):
// the first batch holding the largest max timestamp, and in it the first record with
// that timestamp (the batch's base offset for compressed or LogAppendTime batches).
func (l *Log) MaxTimestamp() (offset, timestamp int64, leaderEpoch int32, found bool, err error) {
	l.mu.RLock()
	defer l.mu.RUnlock()
	if l.closed {
		return 0, 0, 0, false, ErrClosed
	}
	var best *segment
	for _, s := range l.segments {
		if s.st.size > 0 && s.st.next > l.logStart && (best == nil || s.st.maxTs > best.st.maxTs) {
			best = s
		}
	}
	if best == nil {
		return 0, 0, 0, false, nil
	}
	target := best.st.maxTs
	var hit *BatchHeader
	var hitPos int64
	_, err = best.walk(lookupOffset(best.offsets, best.st.maxTsOffset-best.base), best.st.size, func(h *BatchHeader, pos int64) bool {
		if h.MaxTimestamp == target {
			hh := *h
			hit, hitPos = &hh, pos
			return false
		}
		return true
	})
	if err != nil {
		return 0, 0, 0, false, storageError("max timestamp", err)
	}
	if hit == nil {
		return 0, 0, 0, false, nil
	}
	b := make([]byte, hit.Size())
	if _, err := best.log.ReadAt(b, hitPos); err != nil {
		return 0, 0, 0, false, storageError("max timestamp", err)
	}
	off, ts := firstRecordAtOrAfter(b, hit, target)
	return off, ts, hit.PartitionLeaderEpoch, true, nil
}

// DeleteRecordsBefore advances the log start offset to offset (DeleteRecords); -1
// means the high watermark. Whole segments below the new start are deleted. It returns
// the new log start offset.
func (l *Log) DeleteRecordsBefore(offset int64) (int64, error) {
	l.appendMu.Lock()
	defer l.appendMu.Unlock()
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return 0, ErrClosed
	}
	if offset == -1 {
		offset = l.hw
	}
	if offset < 0 || offset > l.hw {
		hw := l.hw
		l.mu.Unlock()
		return 0, fmt.Errorf("commitlog: delete records before %d: high watermark is %d: %w", offset, hw, kerr.OffsetOutOfRange)
	}
	if offset > l.logStart {
		l.logStart = offset
		if l.epochs.truncateFromStart(offset) {
			l.epochsDirty = true
		}
	}
	n := 0
	for n+1 < len(l.segments) && l.segments[n+1].base <= l.logStart {
		n++
	}
	logStart := l.logStart
	l.mu.Unlock()
	l.writeEpochsLocked()
	return logStart, l.deleteOldestLocked(n)
}

// deleteOldestLocked removes the n oldest segments (never the active one) and raises
// the log start offset to the first remaining base. Needs appendMu.
func (l *Log) deleteOldestLocked(n int) error {
	if n <= 0 {
		return nil
	}
	l.flushMu.Lock()
	defer l.flushMu.Unlock()
	l.mu.Lock()
	n = min(n, len(l.segments)-1)
	l.segGen.Add(1)
	gone := slices.Clone(l.segments[:n])
	l.segments = slices.Delete(l.segments, 0, n)
	if l.segments[0].base > l.logStart {
		l.logStart = l.segments[0].base
		if l.epochs.truncateFromStart(l.logStart) {
			l.epochsDirty = true
		}
	}
	l.mu.Unlock()
	l.writeEpochsLocked()
	var errs []error
	for _, s := range gone {
		if err := s.remove(l.dir); err != nil {
			errs = append(errs, err)
		}
		l.logger.Info("commitlog: deleted segment", "base", s.base)
	}
	if err := errors.Join(errs...); err != nil {
		return storageError("delete segments", err)
	}
	return nil
}

// EndOffsetForEpoch answers OffsetForLeaderEpoch as Kafka: the largest epoch <= epoch
// and the start offset of the epoch after it, or the log end offset for the latest
// epoch; (-1, -1) when unknown.
func (l *Log) EndOffsetForEpoch(epoch int32) (int32, int64) {
	l.mu.RLock()
	defer l.mu.RUnlock()
	return l.epochs.endOffsetFor(epoch, l.leo)
}

// EpochForOffset is the leader epoch that wrote offset, or -1 if unknown.
func (l *Log) EpochForOffset(offset int64) int32 {
	l.mu.RLock()
	defer l.mu.RUnlock()
	return l.epochs.epochFor(offset)
}

// LatestEpoch is the newest leader epoch in the log, or -1.
func (l *Log) LatestEpoch() int32 {
	l.mu.RLock()
	defer l.mu.RUnlock()
	if e, ok := l.epochs.latest(); ok {
		return e.epoch
	}
	return -1
}

// TruncateTo removes every record at or past offset. A batch holding offset goes whole:
// the log then ends at that batch's base offset. Truncating below the log start offset
// empties the log and restarts it at offset (Kafka's truncateFullyAndStartAt).
func (l *Log) TruncateTo(offset int64) error {
	l.appendMu.Lock()
	defer l.appendMu.Unlock()
	l.flushMu.Lock()
	defer l.flushMu.Unlock()
	return l.truncateLocked(offset, false)
}

// truncateLocked is TruncateTo, or with full TruncateFullyAndStartAt. Needs appendMu
// and flushMu.
func (l *Log) truncateLocked(offset int64, full bool) error {
	l.mu.RLock()
	closed, leo, logStart, cfg := l.closed, l.leo, l.logStart, l.cfg
	l.mu.RUnlock()
	if closed {
		return ErrClosed
	}
	if offset < 0 {
		return fmt.Errorf("commitlog: truncate to %d: %w", offset, kerr.OffsetOutOfRange)
	}
	if offset >= leo && !full {
		return nil
	}
	// Readers wait while segment files shrink under them: truncation is rare.
	l.mu.Lock()
	l.segGen.Add(1)
	keep := 0 // segments kept: those with base < offset
	for keep < len(l.segments) && l.segments[keep].base < offset {
		keep++
	}
	var (
		gone    []*segment
		fresh   *segment
		newLogS = logStart
	)
	if offset <= logStart || keep == 0 || full {
		// Nothing below offset survives: start afresh at offset.
		// A new segment at offset replaces them all; should it share a base with an old
		// one, that one's files are reused (truncated), so it must not be removed.
		s, err := openSegment(l.fs, l.dir, offset, true, l.clock.Now())
		if err != nil {
			l.mu.Unlock()
			return storageError("truncate", err)
		}
		fresh, newLogS = s, offset
		for _, old := range l.segments {
			if old.base == offset {
				old.close()
			} else {
				gone = append(gone, old)
			}
		}
	} else {
		gone = slices.Clone(l.segments[keep:])
		s := l.segments[keep-1]
		pos, h, found, err := s.find(offset)
		if err == nil && found {
			cut := h.BaseOffset
			s.offsets = slices.DeleteFunc(slices.Clone(s.offsets), func(e offsetEntry) bool { return int64(e.pos) >= pos })
			s.times = slices.DeleteFunc(slices.Clone(s.times), func(e timeEntry) bool { return s.base+int64(e.rel) >= cut })
			err = errors.Join(s.log.Truncate(pos), s.writeIndexes(s.offsets, s.times, false))
		}
		if err != nil {
			l.mu.Unlock()
			return storageError("truncate", err)
		}
	}
	if fresh != nil {
		l.segments = []*segment{fresh}
	} else {
		l.segments = l.segments[:keep]
	}
	active := l.segments[len(l.segments)-1]
	active.sealed = false
	var tailErr error
	if fresh == nil {
		// Recompute the active segment's state from its trusted indexes and tail.
		tailErr = active.loadTail(limitsOf(&cfg))
		active.syncedSize = min(active.syncedSize, active.st.size)
	}
	l.leo = active.st.next
	l.logStart = min(newLogS, l.leo)
	l.hw = min(l.hw, l.leo)
	// Positions remembered in the truncated segments may now hold other batches.
	l.appendEnds = [hwMarkRing]hwMark{}
	l.trackHighWatermarkLocked()
	l.cleanedTo = min(l.cleanedTo, l.leo)
	l.recoveryPoint = min(l.recoveryPoint, l.leo)
	if full {
		// Nothing below offset exists any more, so none of it needs recovery or cleaning.
		l.hw, l.cleanedTo, l.recoveryPoint = l.leo, l.leo, l.leo
		l.trackHighWatermarkLocked()
	}
	if fresh != nil {
		l.epochs = epochCache{}
		l.epochsDirty = true
	} else if l.epochs.truncateFromEnd(l.leo) {
		l.epochsDirty = true
	}
	newLeo := l.leo
	l.mu.Unlock()
	l.writeEpochsLocked()
	if fresh != nil {
		l.producers.TruncateFrom(0)
	} else {
		l.producers.TruncateFrom(newLeo)
	}
	var errs []error
	for _, s := range gone {
		errs = append(errs, s.remove(l.dir))
	}
	if err := errors.Join(append(errs, tailErr)...); err != nil {
		return storageError("truncate", err)
	}
	l.logger.Info("commitlog: truncated", "offset", offset, "logEndOffset", newLeo)
	return nil
}

// Producers lists the active idempotent producers.
func (l *Log) Producers() []ProducerInfo {
	l.appendMu.Lock()
	defer l.appendMu.Unlock()
	var out []ProducerInfo
	for _, e := range l.producers.Entries() {
		pi := ProducerInfo{
			ProducerID:            e.ProducerID,
			ProducerEpoch:         e.Epoch,
			LastSequence:          -1,
			LastTimestamp:         e.LastTimestamp,
			CoordinatorEpoch:      e.CoordinatorEpoch,
			CurrentTxnStartOffset: e.CurrentTxnFirstOffset,
		}
		if n := len(e.Batches); n > 0 {
			pi.LastSequence = e.Batches[n-1].LastSeq
		}
		out = append(out, pi)
	}
	return out
}

// expireProducers drops producers idle for longer than producer.id.expiration.ms.
func (l *Log) expireProducers(now time.Time) {
	l.appendMu.Lock()
	defer l.appendMu.Unlock()
	l.mu.RLock()
	exp := l.cfg.ProducerIDExpiration
	l.mu.RUnlock()
	if exp > 0 {
		l.producers.ExpireOlderThan(now.Add(-exp).UnixMilli())
	}
}

// Size is the total bytes of the log's segments.
func (l *Log) Size() int64 {
	l.mu.RLock()
	defer l.mu.RUnlock()
	var n int64
	for _, s := range l.segments {
		n += s.st.size
	}
	return n
}

// Config returns the log's current config.
func (l *Log) Config() Config {
	l.mu.RLock()
	defer l.mu.RUnlock()
	return l.cfg
}

// SetConfig replaces the log's config (topic config changes). It applies from the next
// append on; existing segments keep their size and index spacing.
func (l *Log) SetConfig(cfg Config) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.cfg = cfg
}

// ApplyRetention deletes whole segments past retention, oldest first, as Kafka's
// deleteOldSegments: first those whose largest timestamp is older than retention.ms,
// then while the log minus the oldest segment is still at least retention.bytes. The
// active segment and segments above the high watermark are never deleted, and nothing
// is deleted unless cleanup.policy contains delete (Config.Delete): a compact-only
// log keeps its data whatever its age or size. It returns the number of segments
// deleted.
func (l *Log) ApplyRetention() (int, error) {
	l.appendMu.Lock()
	defer l.appendMu.Unlock()
	l.mu.RLock()
	if l.closed {
		l.mu.RUnlock()
		return 0, ErrClosed
	}
	cfg, hw, segs := l.cfg, l.hw, slices.Clone(l.segments)
	l.mu.RUnlock()
	if !cfg.Delete {
		return 0, nil
	}
	nowMs := l.clock.Now().UnixMilli()
	eligible := func(i int) bool { return i+1 < len(segs) && segs[i+1].base <= hw }
	n := 0
	if cfg.RetentionTime >= 0 {
		for eligible(n) && nowMs-segs[n].largestTimestamp() > cfg.RetentionTime.Milliseconds() {
			n++
		}
	}
	if cfg.RetentionBytes >= 0 {
		var size int64
		for _, s := range segs[n:] {
			size += s.st.size
		}
		diff := size - cfg.RetentionBytes
		for eligible(n) && diff-segs[n].st.size >= 0 {
			diff -= segs[n].st.size
			n++
		}
	}
	return n, l.deleteOldestLocked(n)
}

// Flush fsyncs everything appended so far.
func (l *Log) Flush() error { return l.flushTo(math.MaxInt64) }

// flushTo makes sure everything below target is fsynced; math.MaxInt64 means
// everything appended. Concurrent callers share fsyncs: whoever gets flushMu first
// flushes all data written so far.
func (l *Log) flushTo(target int64) error {
	l.flushMu.Lock()
	defer l.flushMu.Unlock()
	l.mu.RLock()
	done := l.recoveryPoint >= target
	closed := l.closed
	l.mu.RUnlock()
	if closed {
		return ErrClosed
	}
	if done {
		return nil
	}
	return l.flushLocked()
}

// flushLocked fsyncs every segment with unsynced bytes. Index files need no fsync
// here: a sealed segment's are fsynced when it is sealed, Close writes and fsyncs the
// active segment's, and until then recovery rebuilds them after a crash, so group
// commit pays one fsync per flush. Needs flushMu.
func (l *Log) flushLocked() error {
	type job struct {
		s    *segment
		size int64
	}
	l.mu.RLock()
	var jobs []job
	for _, s := range l.segments {
		if s.syncedSize < s.st.size {
			jobs = append(jobs, job{s, s.st.size})
		}
	}
	leo := l.leo
	l.mu.RUnlock()
	for _, j := range jobs {
		if err := j.s.log.Sync(); err != nil {
			return storageError(fmt.Sprintf("fsync segment %d", j.s.base), err)
		}
	}
	l.mu.Lock()
	for _, j := range jobs {
		j.s.syncedSize = max(j.s.syncedSize, j.size)
	}
	l.recoveryPoint = max(l.recoveryPoint, leo)
	l.lastFlush = l.clock.Now()
	l.rollFlushNeeded = false
	l.mu.Unlock()
	return nil
}

// maybeFlush is the Manager's periodic check: flush after a roll (as Kafka schedules a
// flush of the sealed segment) or when the oldest unflushed data is older than flush.ms.
func (l *Log) maybeFlush(now time.Time) error {
	l.mu.RLock()
	due := !l.closed && (l.rollFlushNeeded ||
		(l.recoveryPoint < l.leo && now.Sub(l.lastFlush) >= l.cfg.FlushInterval))
	l.mu.RUnlock()
	if !due {
		return nil
	}
	return l.Flush()
}

// Close flushes and writes the producer snapshot; the log cannot be used afterwards.
func (l *Log) Close() error {
	return l.close(true)
}

// Discard closes the log without making anything durable first: for a log whose
// directory is about to be deleted, where Close's fsyncs (of the data, the indexes and
// the producer snapshot) would only slow the deletion of a topic with many partitions.
func (l *Log) Discard() error {
	return l.close(false)
}

func (l *Log) close(durable bool) error {
	l.appendMu.Lock()
	defer l.appendMu.Unlock()
	l.flushMu.Lock()
	defer l.flushMu.Unlock()
	l.mu.RLock()
	closed := l.closed
	active := l.segments[len(l.segments)-1]
	l.mu.RUnlock()
	if closed {
		return nil
	}
	var errs []error
	if !durable {
		l.mu.Lock()
		l.closed = true
		l.segGen.Add(1)
		segs := l.segments
		l.mu.Unlock()
		for _, s := range segs {
			errs = append(errs, s.close())
		}
		return errors.Join(errs...)
	}
	// Drop bytes a failed write may have left past the last good batch, then write
	// the active segment's indexes, with the final time index entry, durably: the next
	// Open trusts them (clean shutdown) and needs no scan.
	if fi, err := active.log.Stat(); err == nil && fi.Size() != active.st.size {
		errs = append(errs, active.log.Truncate(active.st.size))
	}
	p := active.seal()
	if err := active.writeSealedIndexes(&p); err != nil {
		errs = append(errs, err)
	} else {
		l.mu.Lock()
		active.publish(&p)
		l.mu.Unlock()
	}
	errs = append(errs, l.flushLocked())
	l.writeEpochsLocked()
	l.mu.Lock()
	leo := l.leo
	l.closed = true
	l.segGen.Add(1)
	segs := l.segments
	l.mu.Unlock()
	if err := l.producers.WriteSnapshot(l.dir, leo); err != nil {
		errs = append(errs, err)
	}
	for _, s := range segs {
		errs = append(errs, s.close())
	}
	if err := errors.Join(errs...); err != nil {
		return storageError("close", err)
	}
	return nil
}
