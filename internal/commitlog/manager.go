package commitlog

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/samsa-io/samsa/internal/atomicfile"
)

// Files of a data directory (see doc.go).
const (
	RecoveryPointCheckpointFile  = "recovery-point-offset-checkpoint"
	LogStartOffsetCheckpointFile = "log-start-offset-checkpoint"
	// HighWatermarkCheckpointFile is Kafka's replication-offset-checkpoint.
	HighWatermarkCheckpointFile = "replication-offset-checkpoint"
	CleanShutdownFile           = ".samsa_cleanshutdown"
	PartitionMetadataFile       = "partition.metadata"
)

// TopicPartition names a partition.
type TopicPartition struct {
	Topic     string
	Partition int32
}

// DirName is the partition's directory name, <topic>-<partition>.
func (tp TopicPartition) DirName() string { return fmt.Sprintf("%s-%d", tp.Topic, tp.Partition) }

// ParseDirName parses <topic>-<partition>; the topic may itself contain '-'.
func ParseDirName(name string) (TopicPartition, bool) {
	i := strings.LastIndexByte(name, '-')
	if i <= 0 {
		return TopicPartition{}, false
	}
	p, err := strconv.ParseInt(name[i+1:], 10, 32)
	if err != nil || p < 0 || strconv.FormatInt(p, 10) != name[i+1:] {
		return TopicPartition{}, false
	}
	return TopicPartition{Topic: name[:i], Partition: int32(p)}, true
}

// ManagerOptions configure a Manager.
type ManagerOptions struct {
	Options
	// RetentionCheckInterval is log.retention.check.interval.ms (Kafka: 5 minutes).
	// Producer-id expiration runs on the same tick.
	RetentionCheckInterval time.Duration
	// CheckpointInterval is how often the recovery point and log start checkpoints are
	// written (Kafka: 60 s).
	CheckpointInterval time.Duration
	// HighWatermarkCheckpointInterval is replica.high.watermark.checkpoint.interval.ms:
	// how often replication-offset-checkpoint is written. Zero means 5 s (Kafka's).
	HighWatermarkCheckpointInterval time.Duration
	// FlushCheckInterval is log.flush.scheduler.interval.ms: how often flush.ms is checked
	// and segments sealed by a roll are flushed. Zero means 1 s.
	FlushCheckInterval time.Duration
	// CleanerBackoff is log.cleaner.backoff.ms: how often the cleaner looks for
	// compacted logs worth cleaning. Zero means 15 s (Kafka's default).
	CleanerBackoff time.Duration
	// CleanerMapBytes bounds the cleaner's offset map (log.cleaner.dedupe.buffer.size);
	// zero means DefaultCleanerMapBytes.
	CleanerMapBytes int64
	// DisableCleaner turns the log cleaner off (log.cleaner.enable=false): compacted
	// topics then grow like any other until it is on again.
	DisableCleaner bool
}

// Manager owns one data directory (log.dirs) and every partition log in it.
type Manager struct {
	dir    string
	opts   ManagerOptions
	logger *slog.Logger
	clean  bool // the clean-shutdown marker was present at open

	// ckMu serialises checkpoint writes.
	ckMu sync.Mutex
	// cleanMu serialises RunCleaner calls.
	cleanMu sync.Mutex
	// pointsMu guards cleanerPoints: the cleaned-to offsets of
	// cleaner-offset-checkpoint, kept for every partition on disk.
	pointsMu      sync.Mutex
	cleanerPoints map[TopicPartition]int64

	mu sync.Mutex // guards the fields below
	// logs are the open partition logs.
	logs map[TopicPartition]*Log
	// onDisk are the partitions found at open; recoveryPoints, logStarts and
	// highWatermarks hold their checkpointed offsets until they are opened, so a
	// checkpoint written meanwhile does not forget them.
	onDisk         []TopicPartition
	recoveryPoints map[TopicPartition]int64
	logStarts      map[TopicPartition]int64
	highWatermarks map[TopicPartition]int64
	unopened       map[TopicPartition]bool // on disk, not yet opened this session
	closed         bool
}

// OpenManager opens dir, reading its checkpoints and noting whether the last shutdown was clean.
func OpenManager(dir string, opts ManagerOptions) (*Manager, error) {
	if opts.RetentionCheckInterval <= 0 {
		opts.RetentionCheckInterval = 5 * time.Minute
	}
	if opts.CheckpointInterval <= 0 {
		opts.CheckpointInterval = time.Minute
	}
	if opts.HighWatermarkCheckpointInterval <= 0 {
		opts.HighWatermarkCheckpointInterval = 5 * time.Second
	}
	if opts.FlushCheckInterval <= 0 {
		opts.FlushCheckInterval = time.Second
	}
	if opts.CleanerBackoff <= 0 {
		opts.CleanerBackoff = 15 * time.Second
	}
	if opts.Clock == nil {
		opts.Clock = wallClock{}
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	m := &Manager{dir: dir, opts: opts, logger: opts.Logger, logs: map[TopicPartition]*Log{}, unopened: map[TopicPartition]bool{}}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, storageError("create data dir", err)
	}
	var err error
	if m.recoveryPoints, err = readOffsetCheckpoint(filepath.Join(dir, RecoveryPointCheckpointFile)); err != nil {
		// Without recovery points every log is recovered from its start: slow, safe.
		m.logger.Warn("commitlog: recovery point checkpoint unreadable", "err", err)
		m.recoveryPoints = map[TopicPartition]int64{}
	}
	if m.logStarts, err = readOffsetCheckpoint(filepath.Join(dir, LogStartOffsetCheckpointFile)); err != nil {
		m.logger.Warn("commitlog: log start offset checkpoint unreadable", "err", err)
		m.logStarts = map[TopicPartition]int64{}
	}
	if m.highWatermarks, err = readOffsetCheckpoint(filepath.Join(dir, HighWatermarkCheckpointFile)); err != nil {
		// Without it every log reopens with its high watermark at its log start, which
		// is safe: a leader's climbs again as its in-sync followers fetch, a follower's
		// from its leader's answers.
		m.logger.Warn("commitlog: high watermark checkpoint unreadable", "err", err)
		m.highWatermarks = map[TopicPartition]int64{}
	}
	if m.cleanerPoints, err = readOffsetCheckpoint(filepath.Join(dir, CleanerCheckpointFile)); err != nil {
		// Without it every compacted log is cleaned again from its start: slow, safe.
		m.logger.Warn("commitlog: cleaner offset checkpoint unreadable", "err", err)
		m.cleanerPoints = map[TopicPartition]int64{}
	}
	marker := filepath.Join(dir, CleanShutdownFile)
	if _, err := os.Stat(marker); err == nil {
		m.clean = true
		// Removed now: if we crash from here on, the next start must recover.
		if err := os.Remove(marker); err != nil {
			return nil, storageError("remove clean-shutdown marker", err)
		}
		if err := atomicfile.SyncDir(dir); err != nil {
			return nil, storageError("sync data dir", err)
		}
	}
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, storageError("list data dir", err)
	}
	for _, e := range ents {
		if !e.IsDir() {
			continue
		}
		if tp, ok := ParseDirName(e.Name()); ok {
			m.onDisk = append(m.onDisk, tp)
			m.unopened[tp] = true
		}
	}
	m.logger.Info("commitlog: opened data dir", "dir", dir, "partitions", len(m.onDisk), "cleanShutdown", m.clean)
	return m, nil
}

// Dir is the data directory.
func (m *Manager) Dir() string { return m.dir }

// HadCleanShutdown reports whether the clean-shutdown marker was present at open.
func (m *Manager) HadCleanShutdown() bool { return m.clean }

// Partitions lists the partition directories found on disk at open.
func (m *Manager) Partitions() []TopicPartition {
	m.mu.Lock()
	defer m.mu.Unlock()
	return slices.Clone(m.onDisk)
}

// GetOrCreate opens the partition's log, creating its directory if needed. topicID is
// written to the partition.metadata file. An already open log is returned as is.
//
// The high watermark of a log found on disk is restored from
// replication-offset-checkpoint, clamped to [log start, log end]; a partition the
// checkpoint does not name starts at its log start (Kafka does the same). Everything
// past it counts as uncommitted until replication says otherwise.
func (m *Manager) GetOrCreate(tp TopicPartition, topicID [16]byte, cfg Config) (*Log, error) {
	logs, errs := m.OpenMany([]OpenSpec{{TP: tp, TopicID: topicID, Config: cfg}})
	return logs[0], errs[0]
}

// OpenSpec names a log for OpenMany.
type OpenSpec struct {
	TP      TopicPartition
	TopicID [16]byte
	Config  Config
}

// OpenMany is GetOrCreate for several logs at once: those not open yet are opened in
// parallel (at most GOMAXPROCS at a time), since opening one may mean recovering it
// (reading and checking every batch after its recovery point) and a node starting
// after a crash, or creating a topic with thousands of partitions, opens many. The
// results are in the order of specs. Callers must not open one partition from two
// goroutines at once (the replica manager opens logs under its own lock).
func (m *Manager) OpenMany(specs []OpenSpec) ([]*Log, []error) {
	logs, errs := make([]*Log, len(specs)), make([]error, len(specs))
	type job struct {
		i                   int
		rp, ls, hw, cleaned int64
		existed             bool
	}
	var jobs []*job
	m.mu.Lock()
	closed, clean := m.closed, m.clean
	for i, sp := range specs {
		switch {
		case closed:
			errs[i] = ErrClosed
		case m.logs[sp.TP] != nil:
			logs[i] = m.logs[sp.TP]
		default:
			// 0 when unknown: recover everything, start the high watermark at the log start.
			jobs = append(jobs, &job{i: i, rp: m.recoveryPoints[sp.TP], ls: m.logStarts[sp.TP], hw: m.highWatermarks[sp.TP]})
		}
	}
	m.mu.Unlock()
	m.pointsMu.Lock()
	for _, j := range jobs {
		j.cleaned = m.cleanerPoints[specs[j.i].TP]
	}
	m.pointsMu.Unlock()

	open := func(j *job) {
		sp := specs[j.i]
		dir := filepath.Join(m.dir, sp.TP.DirName())
		_, statErr := os.Stat(dir)
		j.existed = statErr == nil
		if err := os.MkdirAll(dir, 0o755); err != nil {
			errs[j.i] = storageError("create partition dir", err)
			return
		}
		if err := writePartitionMetadata(dir, sp.TopicID); err != nil {
			errs[j.i] = err
			return
		}
		opts := m.opts.Options
		opts.HadCleanShutdown = clean || !j.existed
		l, err := Open(dir, sp.Config, j.rp, j.ls, opts)
		if err != nil {
			errs[j.i] = err
			return
		}
		if j.existed {
			// SetHighWatermark keeps it at or below the log end.
			l.SetHighWatermark(max(j.hw, l.LogStartOffset()))
		}
		l.cleanedTo = j.cleaned
		logs[j.i] = l
	}
	if len(jobs) == 1 {
		open(jobs[0])
	} else {
		var wg sync.WaitGroup
		sem := make(chan struct{}, runtime.GOMAXPROCS(0))
		for _, j := range jobs {
			wg.Add(1)
			sem <- struct{}{}
			go func() {
				defer func() { <-sem; wg.Done() }()
				open(j)
			}()
		}
		wg.Wait()
	}

	m.mu.Lock()
	defer m.mu.Unlock()
	for _, j := range jobs {
		l, tp := logs[j.i], specs[j.i].TP
		if l == nil {
			continue
		}
		switch {
		case m.closed:
			l.Close()
			logs[j.i], errs[j.i] = nil, ErrClosed
		case m.logs[tp] != nil:
			// Opened by another caller meanwhile: keep that one.
			l.Close()
			logs[j.i] = m.logs[tp]
		default:
			m.logs[tp] = l
			delete(m.unopened, tp)
			if !j.existed {
				m.onDisk = append(m.onDisk, tp)
			}
		}
	}
	return logs, errs
}

// writePartitionMetadata writes Kafka's partition.metadata unless it is there already;
// a file naming another topic id means a stale directory of a deleted topic. The file is
// not fsynced: it only guards against mixing up topics, and a crash that tears it (an
// empty or unparsable file) makes the next open write it again. Skipping the fsyncs
// matters when a topic with thousands of partitions is created.
func writePartitionMetadata(dir string, topicID [16]byte) error {
	if topicID == ([16]byte{}) {
		return nil
	}
	want := fmt.Sprintf("version: 0\ntopic_id: %s\n", base64.RawURLEncoding.EncodeToString(topicID[:]))
	path := filepath.Join(dir, PartitionMetadataFile)
	have, err := os.ReadFile(path)
	switch {
	case err == nil && string(have) == want:
		return nil
	case err == nil && validPartitionMetadata(have):
		return fmt.Errorf("commitlog: %s holds %q, want %q: %w", path, have, want, kerr.InconsistentTopicID)
	case err != nil && !os.IsNotExist(err):
		return storageError("read partition metadata", err)
	}
	if err := os.WriteFile(path, []byte(want), 0o644); err != nil {
		return storageError("write partition metadata", err)
	}
	return nil
}

// validPartitionMetadata reports whether b is a complete partition.metadata file (and
// not what a crash left of one).
func validPartitionMetadata(b []byte) bool {
	rest, ok := strings.CutPrefix(string(b), "version: 0\ntopic_id: ")
	if !ok || !strings.HasSuffix(rest, "\n") {
		return false
	}
	id, err := base64.RawURLEncoding.DecodeString(strings.TrimSuffix(rest, "\n"))
	return err == nil && len(id) == 16
}

// Get returns an open log or nil.
func (m *Manager) Get(tp TopicPartition) *Log {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.logs[tp]
}

// Delete closes the partition's log and removes its directory.
func (m *Manager) Delete(tp TopicPartition) error {
	m.mu.Lock()
	l := m.logs[tp]
	delete(m.logs, tp)
	delete(m.recoveryPoints, tp)
	delete(m.logStarts, tp)
	delete(m.highWatermarks, tp)
	delete(m.unopened, tp)
	m.onDisk = slices.DeleteFunc(m.onDisk, func(x TopicPartition) bool { return x == tp })
	m.mu.Unlock()
	m.pointsMu.Lock()
	delete(m.cleanerPoints, tp)
	m.pointsMu.Unlock()
	var err error
	if l != nil {
		err = l.Discard()
	}
	if rerr := os.RemoveAll(filepath.Join(m.dir, tp.DirName())); rerr != nil {
		err = errors.Join(err, storageError("delete partition dir", rerr))
	}
	return err
}

func (m *Manager) openLogs() []*Log {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]*Log, 0, len(m.logs))
	for _, l := range m.logs {
		out = append(out, l)
	}
	return out
}

// Run does the background work (retention, flush.ms, checkpoints, log cleaning) until
// ctx ends. It starts no goroutines: a long cleaning round delays the other work, as
// it would share Kafka's one cleaner thread.
func (m *Manager) Run(ctx context.Context) {
	retention := time.NewTicker(m.opts.RetentionCheckInterval)
	defer retention.Stop()
	flush := time.NewTicker(m.opts.FlushCheckInterval)
	defer flush.Stop()
	checkpoint := time.NewTicker(m.opts.CheckpointInterval)
	defer checkpoint.Stop()
	hwCheckpoint := time.NewTicker(m.opts.HighWatermarkCheckpointInterval)
	defer hwCheckpoint.Stop()
	var cleanerC <-chan time.Time
	if !m.opts.DisableCleaner {
		cleaner := time.NewTicker(m.opts.CleanerBackoff)
		defer cleaner.Stop()
		cleanerC = cleaner.C
	}
	for {
		select {
		case <-ctx.Done():
			return
		case <-cleanerC:
			m.RunCleaner(ctx)
		case <-retention.C:
			m.RunRetention()
		case <-flush.C:
			m.RunFlushCheck()
		case <-checkpoint.C:
			if err := m.WriteCheckpoints(); err != nil {
				m.logger.Error("commitlog: write checkpoints", "err", err)
			}
		case <-hwCheckpoint.C:
			if err := m.WriteHighWatermarkCheckpoint(); err != nil {
				m.logger.Error("commitlog: write high watermark checkpoint", "err", err)
			}
		}
	}
}

// RunRetention applies retention to every open log and expires idle producers; Run
// calls it every RetentionCheckInterval.
func (m *Manager) RunRetention() {
	now := m.opts.Clock.Now()
	for _, l := range m.openLogs() {
		if n, err := l.ApplyRetention(); err != nil && !errors.Is(err, ErrClosed) {
			m.logger.Error("commitlog: retention", "dir", l.dir, "err", err)
		} else if n > 0 {
			m.logger.Info("commitlog: retention deleted segments", "dir", l.dir, "segments", n)
		}
		l.expireProducers(now)
	}
}

// RunFlushCheck flushes logs due by flush.ms or by a roll; Run calls it every
// FlushCheckInterval.
func (m *Manager) RunFlushCheck() {
	now := m.opts.Clock.Now()
	for _, l := range m.openLogs() {
		if err := l.maybeFlush(now); err != nil && !errors.Is(err, ErrClosed) {
			m.logger.Error("commitlog: flush", "dir", l.dir, "err", err)
		}
	}
}

// WriteCheckpoints writes recovery-point-offset-checkpoint and
// log-start-offset-checkpoint for every partition of the directory.
func (m *Manager) WriteCheckpoints() error {
	m.ckMu.Lock()
	defer m.ckMu.Unlock()
	m.mu.Lock()
	rps := make(map[TopicPartition]int64, len(m.onDisk))
	lss := make(map[TopicPartition]int64, len(m.onDisk))
	for tp := range m.unopened {
		if off, ok := m.recoveryPoints[tp]; ok {
			rps[tp] = off
		}
		if off, ok := m.logStarts[tp]; ok {
			lss[tp] = off
		}
	}
	logs := make(map[TopicPartition]*Log, len(m.logs))
	for tp, l := range m.logs {
		logs[tp] = l
	}
	m.mu.Unlock()
	for tp, l := range logs {
		rps[tp] = l.RecoveryPoint()
		lss[tp] = l.LogStartOffset()
	}
	return errors.Join(
		writeOffsetCheckpoint(filepath.Join(m.dir, RecoveryPointCheckpointFile), rps),
		writeOffsetCheckpoint(filepath.Join(m.dir, LogStartOffsetCheckpointFile), lss),
	)
}

// WriteHighWatermarkCheckpoint writes replication-offset-checkpoint: the high
// watermark of every partition of the directory. Run calls it every
// HighWatermarkCheckpointInterval, Close once more at the end. A stale file is safe: a
// high watermark restored too low climbs again as replication confirms the records,
// and one above the log end (the follower truncated since) is clamped at open.
func (m *Manager) WriteHighWatermarkCheckpoint() error {
	m.ckMu.Lock()
	defer m.ckMu.Unlock()
	m.mu.Lock()
	hws := make(map[TopicPartition]int64, len(m.onDisk))
	for tp := range m.unopened {
		if off, ok := m.highWatermarks[tp]; ok {
			hws[tp] = off
		}
	}
	logs := make(map[TopicPartition]*Log, len(m.logs))
	for tp, l := range m.logs {
		logs[tp] = l
	}
	m.mu.Unlock()
	for tp, l := range logs {
		hws[tp] = l.HighWatermark()
	}
	return writeOffsetCheckpoint(filepath.Join(m.dir, HighWatermarkCheckpointFile), hws)
}

// Close closes every log (each flushes and snapshots its producers), writes the
// checkpoints, then the clean-shutdown marker. The marker is left out when a log
// failed to close, or when the last shutdown was unclean and some partition was never
// opened (and so never recovered) in this session.
func (m *Manager) Close() error {
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return nil
	}
	m.closed = true
	logs := make(map[TopicPartition]*Log, len(m.logs))
	for tp, l := range m.logs {
		logs[tp] = l
	}
	needRecovery := !m.clean && len(m.unopened) > 0
	m.mu.Unlock()

	var errs []error
	for tp, l := range logs {
		if err := l.Close(); err != nil {
			errs = append(errs, fmt.Errorf("commitlog: close %s: %w", tp.DirName(), err))
		}
	}
	if err := m.WriteCheckpoints(); err != nil {
		errs = append(errs, storageError("write checkpoints", err))
	}
	if err := m.WriteHighWatermarkCheckpoint(); err != nil {
		errs = append(errs, storageError("write high watermark checkpoint", err))
	}
	if len(errs) == 0 && !needRecovery {
		if err := atomicfile.WriteFile(filepath.Join(m.dir, CleanShutdownFile), nil); err != nil {
			errs = append(errs, storageError("write clean-shutdown marker", err))
		}
	}
	return errors.Join(errs...)
}

func (m *Manager) openLogsByPartition() map[TopicPartition]*Log {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make(map[TopicPartition]*Log, len(m.logs))
	for tp, l := range m.logs {
		out[tp] = l
	}
	return out
}

// RunCleaner cleans the compacted logs worth cleaning, filthiest first (Kafka's
// grabFilthiestCompactedLog), one at a time, then writes cleaner-offset-checkpoint.
// Each log is cleaned at most once per call, unless its round was cut short by the
// offset map's bound and made progress, so a call always ends: logs that are clean
// enough, or whose round fails, wait for the next call (Run calls it every
// CleanerBackoff). It returns the number of rounds that cleaned something.
func (m *Manager) RunCleaner(ctx context.Context) int {
	m.cleanMu.Lock()
	defer m.cleanMu.Unlock()
	logs := m.openLogsByPartition()
	done := map[TopicPartition]bool{}
	rounds := 0
	for ctx.Err() == nil {
		nowMs := m.opts.Clock.Now().UnixMilli()
		var (
			pick     TopicPartition
			pickLog  *Log
			pickInfo cleanability
		)
		for tp, l := range logs {
			if done[tp] {
				continue
			}
			c := l.cleanability(nowMs)
			if !c.worthCleaning() {
				done[tp] = true
				continue
			}
			// Forced logs first, then the highest dirty ratio.
			if pickLog == nil || (c.needNow && !pickInfo.needNow) || (c.needNow == pickInfo.needNow && c.ratio > pickInfo.ratio) {
				pick, pickLog, pickInfo = tp, l, c
			}
		}
		if pickLog == nil {
			break
		}
		stats, err := pickLog.Clean(ctx, CleanOptions{MaxMapBytes: m.opts.CleanerMapBytes})
		if err != nil {
			done[pick] = true
			if !errors.Is(err, errCleanAborted) && !errors.Is(err, ErrClosed) {
				m.logger.Error("commitlog: clean", "dir", pickLog.dir, "err", err)
			}
			continue
		}
		if stats.Cleaned {
			rounds++
			m.pointsMu.Lock()
			if m.Get(pick) == pickLog { // not deleted meanwhile
				m.cleanerPoints[pick] = stats.EndOffset
			}
			m.pointsMu.Unlock()
		}
		if !stats.Partial || stats.EndOffset <= stats.FirstDirty {
			done[pick] = true
		}
	}
	if rounds > 0 {
		if err := m.writeCleanerCheckpoint(); err != nil {
			m.logger.Error("commitlog: write cleaner checkpoint", "err", err)
		}
	}
	return rounds
}

// writeCleanerCheckpoint writes cleaner-offset-checkpoint. A stale file only makes
// the cleaner redo work, so a failure is reported and retried after the next round.
func (m *Manager) writeCleanerCheckpoint() error {
	m.pointsMu.Lock()
	points := make(map[TopicPartition]int64, len(m.cleanerPoints))
	for tp, off := range m.cleanerPoints {
		points[tp] = off
	}
	m.pointsMu.Unlock()
	return writeOffsetCheckpoint(filepath.Join(m.dir, CleanerCheckpointFile), points)
}
