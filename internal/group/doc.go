// Package group is the group coordinator of a Samsa node: Kafka consumer groups with
// the classic rebalance protocol (JoinGroup, SyncGroup, Heartbeat, LeaveGroup) and the
// committed offsets of every group (OffsetCommit, OffsetFetch, OffsetDelete), plus the
// admin APIs over them (ListGroups, DescribeGroups, DeleteGroups). Its methods take and
// return kmsg requests and responses; the broker's handler files only call them.
//
// # Groups and states
//
// A group has a Type (classic today; KIP-848 "consumer" groups will be a second type)
// and committed offsets, which every type shares. A classic group moves through Kafka's
// states:
//
//	Empty ──join──▶ PreparingRebalance ──all rejoined / rebalance timeout──▶ CompletingRebalance
//	  ▲                 ▲     │ (no member left: Empty, generation+1)             │ leader's SyncGroup
//	  │                 │     ▼                                                   ▼
//	  │                 └──── member joins, leaves, expires, changes protocols ── Stable
//	  └── DeleteGroups / expiry of an empty group without offsets ──▶ Dead (forgotten)
//
// Each completed join starts a new generation; the leader is the earliest-joined member
// still present. The coordinator relays member metadata and assignments untouched, so
// eager and cooperative assignors (range, roundrobin, sticky, cooperative-sticky) all
// run in the clients. JoinGroup and SyncGroup block the calling connection's goroutine
// until the rebalance step completes, as Kafka delays those responses.
//
// Timers (all through Clock.AfterFunc, tracked by the coordinator's WaitGroup, stopped
// by Close): the join timer (group.initial.rebalance.delay.ms for a new group, then the
// largest rebalance timeout), the sync timer (members that do not send SyncGroup within
// the rebalance timeout are removed), one session timer per member (it fires at the
// deadline it was armed for and re-arms if heartbeats moved the deadline, so a
// heartbeat costs no timer operation), and one per KIP-394 pending member id. Every
// callback locks its group and checks that the rebalance (rebalanceSeq, generation) or
// member it was armed for is still current, so a stale timer does nothing.
//
// # Who owns what
//
// Each group's state is guarded by its own group.mu: requests for different groups
// never wait for each other. Coordinator.mu guards the map of groups, the load state of
// the partitions and the closed flag; it is a leaf lock, always taken after a group's
// mu and never held while taking one (lookups release it before locking the group). A
// group removed from the map is marked Dead under its mu first, so a request that found
// it just before sees Dead and looks again. Writes to __consumer_offsets happen under
// the group's mu, so the records of one group are appended in the order its state
// changed. A waiting JoinGroup or SyncGroup holds no lock: it waits on a channel with a
// buffer of one that the group fills while holding its mu.
//
// # Storage
//
// Group metadata and offsets are records of the internal topic __consumer_offsets in
// Kafka's formats (the kmsg types generated from Kafka's own schemas), so a tool that
// reads the topic sees what it would see in Kafka. A group lives in partition
// (Java String.hashCode(groupID) & 0x7fffffff) % partitions (PartitionFor). Keys start
// with their int16 version:
//
//	offset commit  key   version 1: int16 1, string group, string topic, int32 partition
//	               value version 3: int16 3, int64 offset, int32 leader epoch,
//	                                string metadata, int64 commit timestamp (ms)
//	group metadata key   version 2: int16 2, string group
//	               value version 3: int16 3, string protocol type, int32 generation,
//	                                nullable string protocol, nullable string leader,
//	                                int64 current state timestamp (ms), array of members:
//	                                string member id, nullable string group.instance.id,
//	                                string client id, string client host,
//	                                int32 rebalance timeout (ms), int32 session timeout
//	                                (ms), bytes subscription (the metadata of the chosen
//	                                protocol), bytes assignment
//
// (strings are int16 length + bytes, -1 for null; bytes are int32 length + bytes.) A
// record with a null value is a tombstone: a deleted offset or group. Loading accepts
// offset values v0-v4 and group values v0-v4 and skips keys of other versions (such as
// KIP-848's), as Kafka does. The batches are plain v2 batches without producer id or
// compression, appended through the Store interface (the broker implements it over the
// replica manager). At start every partition is replayed (last record per key wins)
// before its groups are served; meanwhile they get COORDINATOR_LOAD_IN_PROGRESS. A
// group loaded with members is Stable in its stored generation and its members must
// heartbeat within their session timeout.
//
// Offsets of a group that has been Empty for offsets.retention.minutes, and offsets of
// topics a stable consumer group no longer subscribes to, expire; an Empty group left
// without offsets is deleted (a tombstone for its metadata). The check runs every
// offsets.retention.check.interval.ms on a goroutine started by Start and stopped by
// Close.
package group
