// Package group is the group coordinator of a Samsa node: Kafka consumer groups with
// the classic rebalance protocol (JoinGroup, SyncGroup, Heartbeat, LeaveGroup), KIP-848
// consumer groups (ConsumerGroupHeartbeat, ConsumerGroupDescribe) and the committed
// offsets of every group (OffsetCommit, OffsetFetch, OffsetDelete), plus the admin APIs
// over them (ListGroups, DescribeGroups, DeleteGroups). Its methods take and return
// kmsg requests and responses; the broker's handler files only call them.
//
// # Groups and states
//
// A group has a Type, "classic" or "consumer" (KIP-848), and committed offsets, which
// both types share. A classic group moves through Kafka's states:
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
// # Consumer groups (KIP-848)
//
// A member of a consumer group sends ConsumerGroupHeartbeat every heartbeat interval
// (group.consumer.heartbeat.interval.ms, 5 s, returned in each response). It joins with
// member epoch 0, its subscription (topic names, or from v1 a regex matched against
// whole topic names with Go's RE2 syntax) and an optional ServerAssignor; v0 members get
// a member id (a random base64url UUID) from the coordinator, v1 members bring their
// own. Later heartbeats carry the member's epoch and the partitions it owns (by topic
// id; null fields mean "unchanged").
//
// The group has a group epoch, bumped whenever a member joins, leaves, expires or is
// fenced, changes its subscription or assignor, or a subscribed topic appears,
// disappears or grows (a hash of the subscribed topics' names, ids and partition counts
// is compared at every heartbeat). When the group epoch passes the target assignment
// epoch, the group's assignor — the one most members name, else the first of
// group.consumer.assignors: "uniform" (sticky and balanced) or "range" (per topic,
// contiguous ranges in member id order) — computes a new target assignment. Unknown
// assignors get UNSUPPORTED_ASSIGNOR. Samsa recomputes the target at once when members
// leave (Kafka waits for the next heartbeat); the result is the same.
//
// Each member then reconciles towards its target, as Kafka's CurrentAssignmentBuilder:
// partitions it must give up are listed as revoking and it stays in its epoch
// (UNREVOKED_PARTITIONS) until a heartbeat no longer reports them; partitions it gains
// are handed out only once no other member holds them (UNRELEASED_PARTITIONS until
// then), when it moves to the target epoch. So a partition never has two owners. A
// member that does not revoke within its rebalance timeout is removed; one that does
// not heartbeat within group.consumer.session.timeout.ms (45 s) is removed. A
// heartbeat with an epoch ahead of the member's, or behind it (except the previous
// epoch with no partitions beyond the current ones: the response was lost), gets
// FENCED_MEMBER_EPOCH; an unknown member UNKNOWN_MEMBER_ID; a malformed one
// INVALID_REQUEST; a new member of a full group (group.consumer.max.size)
// GROUP_MAX_SIZE_REACHED. A member rejoining with epoch 0 and its old id keeps its
// assignment, which is sent again. Epoch -1 leaves. Static members (InstanceID): epoch
// -2 leaves for now, keeping the partitions until the session expires; a new member id
// with the same instance id takes them over (no new group epoch), while the old one is
// still active it gets UNRELEASED_INSTANCE_ID; a heartbeat under another member's
// instance id gets FENCED_INSTANCE_ID.
//
// Offsets: OffsetCommit from a consumer group member must name it (UNKNOWN_MEMBER_ID),
// use v9+ (UNSUPPORTED_VERSION), and carry its current epoch, or an older one for
// partitions it was assigned at or before that epoch (KIP-1251), else
// STALE_MEMBER_EPOCH; an admin commit (no member, negative epoch) is accepted only
// while the group is empty. OffsetFetch v9+ naming a member checks its epoch the same
// way (current epoch only). A ConsumerGroupHeartbeat to an empty classic group
// (offsets only) turns it into a consumer group; to one with members,
// GROUP_ID_NOT_FOUND. A JoinGroup to an empty consumer group turns it back into a
// classic group; to one with members, INCONSISTENT_GROUP_PROTOCOL (Kafka's online
// migration of members between protocols is not implemented). Consumer group states
// are Empty, Assigning, Reconciling and Stable; DescribeGroups shows consumer groups
// with protocol type "consumer", the assignor as protocol, and each member's
// subscription and assignment in the classic consumer protocol's encoding.
//
// Timers (all through Clock.AfterFunc, tracked by the coordinator's WaitGroup, stopped
// by Close): the join timer (group.initial.rebalance.delay.ms for a new group, then the
// largest rebalance timeout), the sync timer (members that do not send SyncGroup within
// the rebalance timeout are removed), one session timer per member (it fires at the
// deadline it was armed for and re-arms if heartbeats moved the deadline, so a
// heartbeat costs no timer operation), and one per KIP-394 pending member id. Every
// callback locks its group and checks that the rebalance (rebalanceSeq, generation) or
// member it was armed for is still current, so a stale timer does nothing. Consumer
// group members have a session timer of the same kind and a revocation timer
// (revokeSeq tells a stale one apart).
//
// # Partition ownership
//
// A group is coordinated by the node leading its partition of __consumer_offsets (in
// a single node, that node leads all of them: Load). Each partition is, on this node,
// in one of three states, changed only by LoadPartition and UnloadPartition (called in
// the order leadership changes, by the broker's metadata listener):
//
//	             LoadPartition(e)                replay done
//	not owned ─────────────────────▶ loading(e) ─────────────▶ loaded(e)
//	    ▲                                │                        │
//	    └──── UnloadPartition(u), u ≥ e ─┴────────────────────────┘
//
// A LoadPartition at e' > e while loading or loaded only records e' (this node led the
// partition all along); at e' ≤ e it does nothing, as does an UnloadPartition at u < e
// (a newer load happened since). Groups of a partition not owned get NOT_COORDINATOR,
// of a loading one COORDINATOR_LOAD_IN_PROGRESS. Each load has its own context and
// token (a fresh ownedPartition): unloading cancels its Scan, and a replay that
// finishes anyway installs its groups only if its token is still the partition's, so
// a load that lost the race with an unload (or with an unload and a newer load)
// installs nothing. Unloading removes the partition's groups from the map, then locks
// each one in turn: marks it Dead and unloaded, answers its parked JoinGroup and
// SyncGroup calls NOT_COORDINATOR and stops its timers. A request that held the
// group's mu at that moment has parked or armed whatever it did before the unload gets
// the mu, so nothing is left behind; a request that finds the group Dead and unloaded
// afterwards looks it up again and gets NOT_COORDINATOR; timer callbacks that were
// already running find it Dead and return. A group writes only while it is the map's
// entry for its id and its partition is owned, through the partition's context; an
// append that fails because another node leads the partition (the Store's error wraps
// NOT_LEADER_OR_FOLLOWER) is answered NOT_COORDINATOR, as Kafka maps it. Loads run in
// goroutines tracked by the coordinator's WaitGroup, at most four at a time; Close
// cancels them and waits.
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
// (strings are int16 length + bytes, -1 for null; bytes are int32 length + bytes.)
//
// Consumer groups use Kafka's KIP-848 records (group-coordinator's ConsumerGroup*Key
// and *Value schemas). Keys are not flexible: int16 type, string group, and for member
// records string member id. Values are int16 version 0, then flexible encoding
// (compact strings and arrays: uvarint length+1, 0 for null; uuid: 16 bytes; each
// struct ends with a tagged-field section: uvarint count, then per field uvarint tag,
// uvarint size, data):
//
//	3 group metadata      int32 group epoch; tag 0: int64 MetadataHash (Samsa's FNV-64a
//	                      of the subscribed topics' names, ids and partition counts,
//	                      not Kafka's hash: a Kafka broker reading it rebalances once)
//	5 member metadata     nullable instance id, nullable rack id, client id, client
//	                      host, []subscribed topic names, nullable regex, int32
//	                      rebalance timeout (ms), nullable server assignor
//	6 target metadata     int32 assignment epoch
//	7 target member       [](uuid topic id, []int32 partitions)
//	8 current assignment  int32 member epoch, int32 previous epoch, int8 state (0
//	                      stable, 1 unrevoked, 2 unreleased), assigned and pending
//	                      revocation partitions as [](uuid, []int32 partitions, tag 0:
//	                      []int32 assignment epochs)
//
// Every change is written before it is applied, in one batch per request, under the
// group's mu; a heartbeat that changes nothing writes nothing. Removing a member writes
// tombstones for its 8, 7 and 5 records; deleting a group, for its 6 and 3 records. A
// restarted coordinator rebuilds each consumer group (members keep their epochs and
// assignments and carry on heartbeating without rejoining; each gets a fresh session
// timeout, and those revoking a fresh rebalance timeout). Key 4 (partition metadata)
// is neither written nor needed; the hash replaces it.
//
// A record with a null value is a tombstone: a deleted offset or group. Loading accepts
// offset values v0-v4, group values v0-v4 and consumer group records, and skips keys
// of other versions (share or streams groups'), as Kafka skips unknown record types. The batches are plain v2 batches without producer id or
// compression, appended through the Store interface (the broker implements it over the
// replica manager). A partition this node starts coordinating is replayed (last record
// per key wins) before its groups are served; meanwhile they get
// COORDINATOR_LOAD_IN_PROGRESS. A
// group loaded with members is Stable in its stored generation and its members must
// heartbeat within their session timeout.
//
// Offsets of a group that has been Empty for offsets.retention.minutes, and offsets of
// topics a stable consumer group no longer subscribes to, expire; an Empty group left
// without offsets is deleted (a tombstone for its metadata). The check runs every
// offsets.retention.check.interval.ms on a goroutine started by Start and stopped by
// Close.
package group
