// Package commitlog is the durable storage of Samsa: one partition's log in Kafka's
// on-disk layout (Log), and a Manager that owns a data directory (log.dirs) holding
// many partition logs. Files written here can be read by Kafka's own tools and vice
// versa. All integers on disk are big-endian.
//
// # Directory layout
//
//	<log.dirs>/
//	  recovery-point-offset-checkpoint   per partition: offset below which data is fsynced
//	  log-start-offset-checkpoint        per partition: first offset still in the log
//	  .samsa_cleanshutdown               present only after a clean Manager.Close
//	  <topic>-<partition>/               e.g. my-topic-0 (topic names may contain '-')
//	    partition.metadata
//	    leader-epoch-checkpoint
//	    00000000000000000000.log         segment: record batches, base offset in 20 digits
//	    00000000000000000000.index       sparse offset index of that segment
//	    00000000000000000000.timeindex   sparse time index of that segment
//	    00000000000000012345.log ...     next segment, base offset 12345
//	    <20-digit offset>.snapshot       producer state (package producerstate)
//
// # .log: record batches
//
// A segment file is a sequence of Kafka v2 record batches exactly as producers sent
// them (compressed batches are never decompressed), with base offsets assigned by the
// broker. Each batch:
//
//	offset len field
//	 0     8   baseOffset            first offset of the batch (set by the broker; outside the CRC)
//	 8     4   batchLength           bytes after this field: the batch is batchLength+12 bytes
//	12     4   partitionLeaderEpoch  leader epoch of the append (set by the broker; outside the CRC)
//	16     1   magic                 2
//	17     4   crc                   CRC-32C (Castagnoli) of bytes 21 .. end of batch
//	21     2   attributes            bits 0-2 compression (0 none, 1 gzip, 2 snappy, 3 lz4, 4 zstd),
//	                                 bit 3 timestamp type (1 = LogAppendTime), bit 4 transactional,
//	                                 bit 5 control, bit 6 delete horizon
//	23     4   lastOffsetDelta       last offset - baseOffset
//	27     8   firstTimestamp        ms
//	35     8   maxTimestamp          ms; for LogAppendTime the broker's append time
//	43     8   producerId            -1 without idempotence
//	51     2   producerEpoch
//	53     4   baseSequence
//	57     4   recordCount
//	61     ... records               (compressed as a whole when bits 0-2 are set)
//
// For a LogAppendTime topic the broker sets bit 3 and maxTimestamp and rewrites the
// CRC, leaving firstTimestamp and the records alone, as Kafka's
// DefaultRecordBatch.setMaxTimestamp does. Validation of producer batches looks at the
// header only (no per-record work): the CreateTime timestamp range is checked on
// firstTimestamp and maxTimestamp.
//
// # .index
//
// 8-byte entries: relative offset int32 (the last offset of a batch minus the segment's
// base offset), position int32 (byte position of that batch in the .log). An entry is
// added for a batch when more than index.interval.bytes were written since the previous
// entry; offsets and positions strictly increase. A lookup takes the largest entry whose
// offset is <= the target (binary search) and scans batch headers from its position.
//
// # .timeindex
//
// 12-byte entries: timestamp int64, relative offset int32. Whenever an .index entry is
// added, a time entry (max timestamp so far in the segment, last offset of the batch
// that holds it) is added if that timestamp is larger than the last entry's, so
// timestamps strictly increase. When a segment stops being active (roll) or the log is
// closed, a final entry with the segment's max timestamp is added: it gives the
// segment's largest timestamp (time retention, ListOffsets) without a scan on restart.
//
// Index files are never preallocated: they always hold exactly their entries. Both are
// kept in memory as well (8 or 12 bytes per index.interval.bytes of log) and read whole
// at open. They are written with every append but fsynced only when their segment is
// sealed or at Close: after a crash the active segment's indexes are rebuilt anyway.
//
// A segment rolls when the next append would take it past segment.bytes, when the
// first batch's timestamp is more than segment.ms older than the append's largest
// timestamp (or, without timestamps, the segment object is older than segment.ms), when
// an index holds segment.index.bytes, or when offsets would not fit the 32-bit relative
// offsets. The new segment's base offset is the first offset of the append.
//
// # leader-epoch-checkpoint
//
// Text, as Kafka's LeaderEpochCheckpointFile:
//
//	0                  version
//	2                  number of entries
//	0 0                "<epoch> <start offset>": epoch 0 started at offset 0
//	3 1200             epoch 3 started at offset 1200
//
// Rewritten (temp file, fsync, rename, fsync dir) whenever an append brings a new epoch,
// and on truncation or log start offset changes.
//
// # recovery-point-offset-checkpoint and log-start-offset-checkpoint
//
// Text, as Kafka's OffsetCheckpointFile: "0", the entry count, then one line per
// partition "<topic> <partition> <offset>". Written atomically like the epoch file,
// every CheckpointInterval and at Close.
//
// # partition.metadata
//
// Text: "version: 0\ntopic_id: <id>\n" where <id> is the 16-byte topic id in URL-safe
// base64 without padding (Kafka's Uuid.toString). Not written for the zero id.
//
// # .samsa_cleanshutdown
//
// An empty file written (durably) by Manager.Close after every log was flushed and
// closed and the checkpoints were written. OpenManager removes it at once, so a crash in
// the next session is noticed. Close does not write it if a log failed to close, or if
// the session began after a crash and some partition on disk was never opened (and
// therefore never recovered).
//
// # Recovery
//
// Open(dir, cfg, recoveryPoint, logStartOffset, opts):
//
//  1. Index files without a .log (left by a crash while deleting a segment) and temp
//     files are removed; the .log files are opened in base offset order.
//  2. Clean shutdown (Options.HadCleanShutdown): every segment's indexes are loaded and
//     sanity-checked (sizes a multiple of the entry size, increasing entries, positions
//     inside the .log); the active segment's end is found by scanning headers from its
//     last index entry only. A segment whose index is missing or fails the check is
//     recovered as below.
//  3. Unclean shutdown: segments before the one holding recoveryPoint are treated as in
//     step 2. From that segment on, every batch is validated: whole header, batchLength in
//     bounds, magic 2, CRC-32C, base offset not below the previous batch's end, offsets
//     fitting the segment. The .log is truncated at the first bad batch and every later
//     segment is deleted; the indexes of scanned segments are rebuilt from scratch and
//     the leader epoch cache is fed with their batches. Recovered segments are fsynced.
//  4. The log end offset, recovery point and high watermark become the end of the last
//     valid batch; the log start offset is max(logStartOffset, first segment base). The
//     epoch cache drops entries past the end.
//  5. Producer state: producerstate.LoadSnapshot at or below the end, then every
//     idempotent batch after the snapshot is replayed (producerstate.Update).
//
// Close writes the final time index entries, fsyncs everything, truncates a failed
// write's leftovers from the active segment and writes a producer snapshot at the end.
//
// # Durability of the flush modes
//
//   - Default (flush.messages and flush.ms = Long.MAX_VALUE, as Kafka): appends go to
//     the page cache and survive a process crash but not a machine crash; durability
//     comes from replication. Segments are fsynced after a roll (at the next
//     FlushCheckInterval tick, as Kafka schedules it) and at Close; the recovery point
//     follows those flushes.
//   - flush.ms = T: the Manager fsyncs a log when its oldest unflushed data is older
//     than T (checked every FlushCheckInterval).
//   - flush.messages = N > 1: the append that brings the unflushed record count to N
//     fsyncs before it returns.
//   - flush.messages = 1 (group commit): Append returns only after an fsync of the .log
//     that covers its batch. Concurrent appenders share fsyncs: they queue on one mutex
//     and the first fsyncs everything written so far, so the others find their offsets
//     already below the recovery point. An acknowledged batch survives a machine crash.
//
// A failed write (e.g. ENOSPC) truncates the segment back to its last good size and
// returns an error wrapping kerr.KafkaStorageError; the log stays readable, and
// appendable once the disk has room.
//
// # Timestamp lookups
//
// OffsetForTimestamp returns, as Kafka's ListOffsets, the first record (by offset) whose
// timestamp is >= the target, with the leader epoch of its batch. It finds the first
// segment whose max timestamp reaches the target, starts at the time index entry just
// below the target, and scans batch headers; inside an uncompressed CreateTime batch it
// walks the records' timestamp deltas. Inside a compressed batch it answers at batch
// granularity (the batch's base offset and max timestamp) rather than decompress; for a
// LogAppendTime batch that is exact, as all its records carry the max timestamp.
package commitlog
