// Package replica holds the partitions this node hosts and replicates them as Kafka
// does. Each Partition pairs a commitlog.Log with its role from the metadata image
// (leader, follower, or neither), its leader epoch, its high watermark and the fetch
// requests waiting for new data. The Manager makes the hosted partitions match every
// new image (Reconcile), so the metadata quorum drives what exists on disk and who
// leads it.
//
// # Leader
//
// A leader appends clients' records (AppendAsLeader) and serves followers' fetches
// (ReadForFollower), which read up to the log end offset rather than the high
// watermark. Each follower fetch records the follower's log end offset (its fetch
// offset) and when it last caught up with the leader. The high watermark is the
// smallest log end offset of the leader and of every member of the maximal ISR (the
// image's ISR plus the members of an ISR change in flight) and never moves back. The
// leader's own log end offset counts only appends that have returned, so in the
// group-commit flush mode the watermark never covers data not yet fsynced here.
// acks=all produces wait (WaitForCommit) for the watermark to pass their last offset.
//
// ISR changes go to the controller one at a time per partition (Options.AlterPartition)
// and take effect when an image shows them: a periodic check drops followers that have
// not caught up within replica.lag.time.max.ms, and a fetch that reaches the high
// watermark and the start of the leader's epoch brings a follower back, if it is
// eligible: it fetched in this leader epoch within replica.lag.time.max.ms and its
// broker is registered, unfenced and not shutting down in the latest image (the
// controller would refuse any other). A refused change is retried at the next check and
// logged at WARN at most once a minute per partition.
//
// DeleteRecords raises the leader's log start offset; followers follow it from their
// fetch responses and report theirs in their fetches. The low watermark is the smallest
// log start offset of the leader and of every follower whose broker is alive
// (registered, unfenced), as Kafka's; a DeleteRecords answers once it reaches the
// requested offset (WaitForLowWatermark), or times out.
//
// # High watermark across restarts
//
// The commitlog checkpoints every partition's high watermark
// (replication-offset-checkpoint, every replica.high.watermark.checkpoint.interval.ms
// and at clean shutdown) and restores it when it opens the log, never above the log
// end. A partition that becomes leader starts from that watermark and moves it only
// with its in-sync followers' fetches; a follower starts from it and follows its
// leader's. So records a leader had appended but not committed before a restart stay
// invisible to consumers until they are replicated, and a follower's possibly divergent
// tail is never exposed should it be elected later.
//
// # Follower
//
// A follower copies its leader's log with one fetcher goroutine per leader broker
// (fetcher.go), appending the batches as they are (offsets, epochs and producer state
// kept). A fetch carries the epoch of the follower's last batch, so the leader can
// answer with a diverging epoch (KIP-320) and the follower truncates its divergent
// tail before copying further.
//
// # Locks
//
// Manager.mu guards the map of hosted partitions. Per partition, roleMu serialises role
// changes (Reconcile) against appends: leader appends hold it shared, a follower's
// appends and truncations and every role change hold it exclusively, so no batch from
// a fetch sent under an old role lands after the role changed, and no client batch is
// appended after leadership moved. Partition.mu guards the role and the replication
// state. The order is Manager.mu, roleMu, Partition.mu, Manager.fmu, fetcher.mu; the
// log's own locks are taken inside any of them. The fetcher reads its partition list
// under fetcher.mu and releases it before taking a partition's locks.
//
// On a single node every partition is led here and the ISR is this node alone, so the
// high watermark follows the leader's appends exactly as before replication existed
// (after a restart it jumps to the log end as soon as the partition is led), and
// DeleteRecords answers at once.
package replica
