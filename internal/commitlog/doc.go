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
//	  replication-offset-checkpoint      per partition: high watermark
//	  cleaner-offset-checkpoint          per compacted partition: offset the cleaner cleaned to
//	  .samsa_cleanshutdown               present only after a clean Manager.Close
//	  <topic>-<partition>/               e.g. my-topic-0 (topic names may contain '-')
//	    partition.metadata
//	    leader-epoch-checkpoint
//	    00000000000000000000.log         segment: record batches, base offset in 20 digits
//	    00000000000000000000.index       sparse offset index of that segment
//	    00000000000000000000.timeindex   sparse time index of that segment
//	    00000000000000012345.log ...     next segment, base offset 12345
//	    <base>.index.tmp, .timeindex.tmp index file being written (see "Index files")
//	    <20-digit offset>.snapshot       producer state (package producerstate)
//	    <base>.log.cleaned, .index.cleaned, .timeindex.cleaned   cleaner output being written
//	    <base>.log.swap, .index.swap, .timeindex.swap            cleaner output being swapped in
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
// # Index files
//
// Both indexes live in memory (8 or 12 bytes per index.interval.bytes of log), where
// every lookup reads them; their files exist to spare a restart the scan of every
// .log. An append writes only the .log: the active segment's new entries stay in
// memory, and its index files on disk may be missing or stale. The files are written
// whole from memory, one write each, only when they must be on disk:
//
//   - at a roll, for the sealed segment (with its final time entry), fsynced, before
//     the next segment's .log is created: a segment that has a successor on disk may
//     be trusted by Open (below the recovery point, or after a clean shutdown), so its
//     index files are complete and durable by then. Sealed segments never change, so
//     their files are never written again;
//   - at Close, for the active segment (with its close-time time entry), fsynced, so a
//     clean Open trusts it;
//   - by recovery, for every scanned segment but the last (which stays active);
//   - by TruncateTo, for the segment it cuts (which becomes the active one);
//   - by the cleaner, for a cleaned segment, under .cleaned names (see below).
//
// A file is written to <name>.tmp and renamed over <name> (fsynced before and the
// directory after when durability is needed), so an index file that exists holds the
// whole of one write, never a prefix that would pass for a shorter index; Open
// deletes leftover .tmp files. Index files are never preallocated: they hold exactly
// their entries. They are read whole at Open and not held open: a segment keeps one
// file descriptor, its .log, which fetches read and send from.
//
// After a crash (even kill -9 mid-roll) every index file Open trusts is complete: the
// last segment is always recovered after an unclean shutdown (it holds the recovery
// point or lies after it), and every other segment got its files at its roll or its
// recovery, before anything that could make it trusted. A trusted segment with
// batches whose index file is missing, of a size that is not a multiple of the entry
// size, or failing the sanity checks (see Recovery) is recovered and its files
// rewritten; an empty .log has no entries, whatever files it has.
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
// # recovery-point-offset-checkpoint, log-start-offset-checkpoint, cleaner-offset-checkpoint, replication-offset-checkpoint
//
// Text, as Kafka's OffsetCheckpointFile, ASCII, every line ended by one '\n':
//
//	0                  version, always 0
//	2                  number of entries, decimal
//	orders 0 1200      "<topic> <partition> <offset>", single spaces: the topic name as
//	orders 1 977       is (it has no spaces), partition and offset in decimal
//
// Entries are in no particular order; nothing may follow the last one but blank lines.
// A reader refuses another version, a count that is negative, above 2^24 or not
// matching the lines, and any line without exactly three fields, naming the file in
// the error. The files are written atomically like the epoch file (temp file, fsync,
// rename, fsync dir). recovery-point-offset-checkpoint and log-start-offset-checkpoint
// are written every ManagerOptions.CheckpointInterval and at Close.
// cleaner-offset-checkpoint is written after every Manager.RunCleaner pass that cleaned
// something; a stale or missing one only makes the cleaner redo work.
//
// replication-offset-checkpoint holds each partition's high watermark (Kafka's file of
// that name), written every ManagerOptions.HighWatermarkCheckpointInterval
// (replica.high.watermark.checkpoint.interval.ms, default 5 s) and at Close. Manager
// restores a log's high watermark from it when it opens the log, clamped to [log start,
// log end]; a partition it does not name, and every partition when the file is
// unreadable (logged), starts at its log start. As high watermarks only move forward
// while a log is open, a stale file holds values too low, never too high (but for a
// follower's truncation, which the clamp covers): the replica layer raises them again
// as replication confirms the records, so no consumer reads a record after a restart
// that was not committed before it.
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
//     sanity-checked (both files present, sizes a multiple of the entry size,
//     increasing entries, positions inside the .log); the active segment's end is found
//     by scanning headers from its last index entry only. A segment whose index is
//     missing or fails the check is recovered as below.
//  3. Unclean shutdown: segments before the one holding recoveryPoint are treated as in
//     step 2. From that segment on, every batch is validated: whole header, batchLength in
//     bounds, magic 2, CRC-32C, base offset not below the previous batch's end, offsets
//     fitting the segment. The .log is truncated at the first bad batch and every later
//     segment is deleted; the indexes of scanned segments are rebuilt from scratch and
//     the leader epoch cache is fed with their batches. Recovered segments are fsynced,
//     and the index files of those that are not the last are written (fsynced) with
//     their final time entry; the last segment's stay in memory.
//  4. The log end offset, recovery point and high watermark become the end of the last
//     valid batch (the Manager then restores the high watermark from
//     replication-offset-checkpoint); the log start offset is max(logStartOffset, first segment base). The
//     epoch cache drops entries past the end.
//  5. Producer state: producerstate.LoadSnapshot at or below the end, then every
//     idempotent batch after the snapshot is replayed (producerstate.Update).
//
// Before step 1, the leftovers of an interrupted cleaning round are repaired (see
// "Crash recovery of the cleaner" below).
//
// Close truncates a failed write's leftovers from the active segment, writes its index
// files with the final time index entry, fsyncs everything and writes a producer
// snapshot at the end.
//
// # Durability of the flush modes
//
//   - Default (flush.messages and flush.ms = Long.MAX_VALUE, as Kafka): appends go to
//     the page cache and survive a process crash but not a machine crash; durability
//     comes from replication. Segments are fsynced after a roll (at the next
//     FlushCheckInterval tick, as Kafka schedules it; their index files at the roll
//     itself) and at Close; the recovery point follows those flushes.
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
//
// # Log compaction
//
// A log with cleanup.policy containing compact (Config.Compact) is cleaned by the
// Manager's cleaner (Manager.RunCleaner, every ManagerOptions.CleanerBackoff, default
// 15 s; Log.Clean runs one round directly). The model is Kafka's LogCleaner:
//
//   - Sections. cleanedTo (per log, from cleaner-offset-checkpoint) splits the log: the
//     segments wholly below it are clean; the segments after it are dirty. The active
//     segment, segments reaching past the high watermark and, from the first segment
//     whose largest timestamp is younger than min.compaction.lag.ms on, the rest, are
//     never cleaned. A cleanedTo outside [log start, active base] restarts at the log
//     start.
//   - Selection. RunCleaner picks, filthiest first, the compacted logs whose dirty ratio
//     (cleanable dirty bytes / (clean + cleanable dirty bytes)) is at least
//     min.cleanable.dirty.ratio, or whose first dirty batch is older than
//     max.compaction.lag.ms (such a log also rolls its active segment by then, Kafka's
//     maxSegmentMs), or that kept a tombstone whose delete horizon has passed. Each log
//     is cleaned at most once per pass (again only while the offset map bound cuts its
//     rounds short and they make progress), so a pass always ends and a directory of
//     many small compacted partitions does not keep the cleaner busy. One round runs
//     per log at a time (Log.cleanMu), one log at a time (Manager.cleanMu).
//   - Offset map. Every record of the cleanable dirty segments, in order, sets
//     map[key] = offset: the latest offset of each key. Its memory is bounded by
//     ManagerOptions.CleanerMapBytes (default 128 MiB, Kafka's dedupe buffer; each key
//     costs its bytes plus 64): the first dirty segment always goes in whole, then
//     segments are added while they fit. The round cleans up to the end of the last
//     segment mapped, and the next round goes on from there.
//   - Rewrite. Every segment below the end of the mapped section (clean ones too) is
//     rewritten, in groups of consecutive segments whose total size fits segment.bytes,
//     whose index entries fit segment.index.bytes and whose offsets fit 32-bit relative
//     offsets (Kafka's groupSegmentsBySize, on the sizes before cleaning): each group
//     becomes one segment at the first one's base. A record is kept iff it has a key,
//     no later offset of its key is in the map, and, for a tombstone (null value), its
//     batch's delete horizon has not passed. Batches keep their base offset,
//     lastOffsetDelta, producer fields, leader epoch and codec (a compressed batch is
//     decompressed, at most 16 × max.message.bytes and 64 MiB, and re-encoded with the
//     same codec); maxTimestamp of a CreateTime batch becomes its kept records' largest.
//     A batch that keeps every record and needs no delete horizon is copied as it is. A
//     batch left empty is dropped, except (kept with no records and no codec) the last
//     batch of each active idempotent producer, so a replay of the log restores its
//     sequence state as Kafka does, and the last batch of each group, so that the
//     cleaned segment ends where the replaced ones did (crash recovery relies on it).
//     Control batches are copied as they are.
//   - Delete horizon (KIP-534, as Kafka 3.x stores it): the first time a batch with a
//     kept tombstone is cleaned, it is rewritten with attribute bit 6 set and
//     firstTimestamp = clean time + delete.retention.ms (record timestamp deltas are
//     taken from it, so record timestamps do not change). A later round drops its
//     tombstones once the clock reaches the horizon.
//   - Keyless records are refused at Append for a compacted log (kerr.InvalidRecord,
//     "compacted topic cannot accept message without key"; compressed batches are
//     decompressed to check), and dropped by the cleaner should any exist.
//   - Retention (retention.ms, retention.bytes) applies only with cleanup.policy
//     containing delete (Config.Delete): a compact-only log never loses data by age
//     or size.
//
// # Crash recovery of the cleaner
//
// A group's cleaned segment is written to <base>.log.cleaned, <base>.index.cleaned
// and <base>.timeindex.cleaned and fsynced, without any log lock (sealed segments do
// not change). Then, holding the log's appendMu and flushMu (so no truncation,
// retention, DeleteRecords or Close runs meanwhile), the round checks that the
// segments it read are still the log's (if one of those ran, the round is abandoned
// and its .cleaned files deleted), renames the files to .swap, the .log last (its
// .swap is the commit point), fsyncs the directory, and publishes the new segment list
// under mu, which readers hold for a whole read: a reader sees the old segments or the
// new one, never a mix. It then deletes the old segments' files (.log first), renames
// the .index.swap and .timeindex.swap to their final names, the .log.swap last, and
// fsyncs the directory. Open repairs a crash at any point:
//
//   - a .cleaned file is deleted: the round had not committed;
//   - an .index.swap or .timeindex.swap without a .log.swap likewise;
//   - a <base>.log.swap is completed: every .log whose base lies in [base, the offset
//     after the .swap's last batch) is deleted with its indexes, so are the index files
//     of base (.swap or not), and the .swap is renamed to <base>.log, whose indexes are
//     then rebuilt by a full recovery scan. As the last batch of a group is always
//     kept, that range covers exactly the replaced segments.
//
// cleaner-offset-checkpoint is written after the swaps, so a crash before it only
// repeats work: cleaning is idempotent.
package commitlog
