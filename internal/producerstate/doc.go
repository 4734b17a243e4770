// Package producerstate tracks idempotent (and transactional) producers per partition:
// for each producer id the current epoch, the metadata of its last five batches, and its
// open transaction, so the partition's log can reject stale epochs and out-of-order
// sequences and answer a retried batch with the offsets it was first given.
//
// The semantics follow Kafka's ProducerStateManager and ProducerAppendInfo. A Manager is
// not safe for concurrent use: it is owned by the partition's log (internal/commitlog),
// which serialises every call. The log calls Check before appending a client batch that
// carries a producer id, Update (or UpdateTransactional) after appending it, EndTxn for a
// transaction marker, WriteSnapshot at clean close and periodically, LoadSnapshot plus
// Update replay of the log past the snapshot at open, TruncateFrom together with
// DeleteSnapshotsAbove on log truncation (DeleteSnapshots when the log is emptied or
// deleted), ExpireOlderThan from a background task, and Entries for DescribeProducers.
//
// # Sequence rules (Check)
//
// Let e be the stored entry of the producer.
//
//   - No entry: any sequence is accepted. Kafka does the same (since KIP-360) because
//     the entry may legitimately be gone: expired by producer.id.expiration.ms, or its
//     batches deleted by retention or DeleteRecords.
//   - epoch < e.Epoch: kerr.InvalidProducerEpoch (a zombie producer was fenced).
//   - epoch == e.Epoch and [firstSeq, lastSeq] equals one of the retained batches: a
//     duplicate (a retry); that batch's metadata is returned and nothing is appended.
//   - epoch > e.Epoch: firstSeq must be 0 (a bumped producer restarts its sequences),
//     else kerr.OutOfOrderSequenceNumber. If e has no epoch yet (-1, NoEpoch) any
//     sequence is accepted.
//   - epoch == e.Epoch: firstSeq must follow the last retained batch's lastSeq by one,
//     with int32 wraparound (math.MaxInt32 is followed by 0); with no retained batch it
//     must be 0. Anything else, including a retry older than the five retained batches,
//     is kerr.OutOfOrderSequenceNumber.
//
// # Snapshot files
//
// A snapshot holds the whole state as of a log offset X: it reflects every batch below
// X and none at or above it, so after loading it the log replays its batches from X on.
// The file is named by X as a 20-digit zero-padded decimal number plus ".snapshot"
// (00000000000000001234.snapshot) and lives in the partition's directory. It is written
// as <name>.tmp, fsynced, renamed over <name>, and the directory is fsynced, so a crash
// leaves either the old set of snapshots or the new one (plus, at worst, a stale .tmp
// file, which LoadSnapshot removes).
//
// All integers are big-endian. Byte layout, version 1:
//
//	offset  size  field
//	0       2     version, int16 = 1
//	2       4     CRC-32C (Castagnoli), uint32, of every byte from offset 6 to the end
//	6       8     snapshot offset X, int64 (must equal the offset in the file name)
//	14      4     entry count N, uint32
//	18      ...   N entries, in strictly increasing producer id order
//
// Each entry:
//
//	offset  size  field
//	0       8     producer id, int64 (>= 0)
//	8       2     producer epoch, int16
//	10      4     coordinator epoch, int32 (-1 if no transaction marker seen)
//	14      8     current transaction's first offset, int64 (-1 if none open)
//	22      8     last timestamp (ms), int64
//	30      1     batch count B, uint8 (0 to 5)
//	31      32*B  B batches, oldest first
//
// Each batch:
//
//	offset  size  field
//	0       4     first sequence, int32
//	4       4     last sequence, int32
//	8       8     first offset, int64
//	16      8     last offset, int64 (>= first offset, > the previous batch's last offset)
//	24      8     max timestamp (ms), int64
//
// The file ends right after the last entry; trailing bytes make it invalid. A file
// whose CRC does not match, whose version is unknown, or whose content breaks any rule
// above is treated as corrupt: LoadSnapshot deletes it and falls back to an older
// snapshot (or to none, and the log rebuilds the state by replaying from its start).
// Every count read from a file is checked against the bytes actually remaining before
// anything is allocated for it.
package producerstate
