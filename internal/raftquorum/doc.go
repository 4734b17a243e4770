// Package raftquorum is the metadata quorum of a multi-controller cluster: it implements
// metadata.Quorum on hashicorp/raft, so the metadata records of internal/metadata are
// ordered and persisted by a Raft log replicated across the voters listed in
// controller.quorum.voters.
//
// A node whose id is not among the voters is an observer: it does not bootstrap a
// configuration and so never campaigns; once the active controller has added it as a
// non-voting member (AddObserver) it receives and applies the log like a voter.
//
// # Mapping onto Raft
//
// The state machine (FSM) is a *metadata.Image. One Propose is one Raft log entry whose
// data is the JSON array of its []metadata.Record (encoding/json, the Record's own
// tags). Applying an entry applies all its records with Image.Apply or none of them: an
// entry whose records do not apply leaves the image unchanged on every node (Apply is
// deterministic), and the error is the proposer's answer. Image.Offset therefore counts
// the records applied, which is the same on every node at the same Raft index.
//
// A snapshot is the image in the metadata file format (metadata.EncodeImage; see the
// internal/metadata package doc for the bytes). Restoring one decodes it with
// metadata.DecodeImage, reading at most metadata.MaxMetadataFileSize bytes.
//
// # Files in Config.Dir
//
//   - raft.db: the Raft log and Raft's stable state (current term, vote), a bbolt database
//     written by hashicorp/raft-boltdb/v2. Besides Raft's own keys, the stable store holds
//     the key "samsa.cluster_id" (see below).
//   - snapshots/: hashicorp/raft's file snapshot store, the two newest snapshots; each
//     snapshot's state.bin is the metadata file format described above.
//
// # Cluster id
//
// The cluster id lives in the image (a ClusterID record). The first active controller
// proposes it (Config.ClusterID, or a random id) together with its ControllerChange.
// Because the image is only known once Raft has replayed the log, which happens after
// Open returns, the id is also copied into the stable store under "samsa.cluster_id" the
// first time this node applies an image holding one. Open compares a non-empty
// Config.ClusterID with that stored copy and fails with kerr.InconsistentClusterID when
// they differ. A node whose stored copy is still empty (a fresh directory) and that then
// learns a different id from the log logs an error, never becomes active, and refuses
// Propose with kerr.InconsistentClusterID.
//
// # Controller activation
//
// A node is the active controller (IsActive) once it is the Raft leader, has applied
// every entry committed before its term (raft.Barrier) and has committed a
// ControllerChange record naming itself. Only the active controller accepts Propose,
// so the Controller validating against Image() sees everything earlier leaders wrote.
//
// # Transport
//
// Raft connections share the controller listener with Kafka: the dialling side writes
// Magic before Raft's own framing, and the broker, which peeks the first byte of each
// accepted connection, hands those starting with Magic[0] to the quorum through
// Config.Conns with Magic already consumed. Raft's own wire format is hashicorp/raft's
// NetworkTransport (msgpack). Replication is not pipelined: every AppendEntries is a
// plain request/response, which is how the quorum learns each follower's match index for
// Status; metadata traffic is small, so pipelining buys nothing.
package raftquorum
