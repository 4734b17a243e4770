package commitlog

import (
	"fmt"

	"github.com/twmb/franz-go/pkg/kerr"
)

// This file holds what the replica layer needs beyond a single node's log: reads past
// the high watermark for followers, the leader epoch a new leader starts, and a
// follower's restart at the leader's log start offset.

// ReadFileForReplica is ReadFile for a follower's fetch: the range may run up to the
// log end offset, past the high watermark, since followers must copy data before it can
// be committed. Consumers must keep using ReadFile.
func (l *Log) ReadFileForReplica(offset int64, maxBytes int, minOneBatch bool) (FileSlice, error) {
	l.mu.RLock()
	defer l.mu.RUnlock()
	if l.closed {
		return FileSlice{}, ErrClosed
	}
	if offset < l.logStart || offset > l.leo {
		return FileSlice{}, fmt.Errorf("commitlog: offset %d outside [%d, %d]: %w", offset, l.logStart, l.leo, kerr.OffsetOutOfRange)
	}
	return l.readFileLocked(offset, maxBytes, l.leo, minOneBatch)
}

// AssignEpoch records that leader epoch starts at the current log end offset, as a new
// leader does before its first append (Kafka's Partition.makeLeader): followers that
// ask for the end of the previous epoch then get this offset even before the new
// leader has written anything. An epoch not newer than the latest is ignored.
func (l *Log) AssignEpoch(epoch int32) error {
	l.appendMu.Lock()
	defer l.appendMu.Unlock()
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return ErrClosed
	}
	if last, ok := l.epochs.latest(); ok && last.epoch >= epoch {
		l.mu.Unlock()
		return nil
	}
	if l.epochs.assign(epoch, l.leo) {
		l.epochsDirty = true
	}
	l.mu.Unlock()
	l.writeEpochsLocked()
	return nil
}

// TruncateFullyAndStartAt empties the log and restarts it at offset: log start, log
// end and high watermark all become offset (Kafka's truncateFullyAndStartAt). A
// follower does this when the leader's log starts past the follower's end, so the
// records in between can never be fetched.
func (l *Log) TruncateFullyAndStartAt(offset int64) error {
	if offset < 0 {
		return fmt.Errorf("commitlog: truncate fully and start at %d: %w", offset, kerr.OffsetOutOfRange)
	}
	l.appendMu.Lock()
	defer l.appendMu.Unlock()
	l.flushMu.Lock()
	defer l.flushMu.Unlock()
	return l.truncateLocked(offset, true)
}
