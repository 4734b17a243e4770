package raftquorum

import (
	"encoding/json"
	"fmt"
	"io"

	"github.com/hashicorp/raft"
	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/samsa-io/samsa/internal/metadata"
)

// applyResult is the FSM's answer to one log entry, handed back to the proposer through
// raft's ApplyFuture.Response.
type applyResult struct {
	img *metadata.Image // the image after the entry; nil when err is set
	err error           // why the entry's records did not apply; wraps a *kerr.Error
}

// fsm is the raft.FSM over the metadata image. hashicorp/raft calls Apply, Snapshot and
// Restore from its single FSM goroutine (and Restore once from NewRaft, before that
// goroutine starts), never concurrently, so the fields owned by the fsm need no lock.
type fsm struct {
	q      *Quorum
	stable raft.StableStore // where the cluster id is copied; see checkClusterID

	// storedClusterID is the cluster id known to be in the stable store; owned by the
	// FSM goroutine after Open.
	storedClusterID string
}

// Apply applies one entry: the JSON array of records of one Propose.
func (f *fsm) Apply(l *raft.Log) any {
	if l.Type != raft.LogCommand {
		return applyResult{img: f.q.Image()} // raft hands only commands to the FSM
	}
	var recs []metadata.Record
	if err := json.Unmarshal(l.Data, &recs); err != nil {
		// Every node decodes the same bytes the same way, so every node skips it.
		err = fmt.Errorf("raftquorum: entry %d: decode records: %v: %w", l.Index, err, kerr.CorruptMessage)
		f.q.logger.Error("raftquorum: skipping undecodable log entry", "index", l.Index, "err", err)
		return applyResult{err: err}
	}
	prev := f.q.Image()
	next, err := prev.Apply(recs)
	if err != nil {
		// Deterministic: the same records fail the same way on every node.
		f.q.logger.Debug("raftquorum: log entry does not apply", "index", l.Index, "err", err)
		return applyResult{err: err}
	}
	f.publish(prev, next, &Entry{Offset: prev.Offset, Index: l.Index, Records: recs})
	return applyResult{img: next}
}

// publish makes next the current image, remembers its cluster id and the entry that led
// to it (nil for a restored snapshot, which empties the tail), then notifies the
// subscribers outside the quorum's lock.
func (f *fsm) publish(prev, next *metadata.Image, e *Entry) {
	f.checkClusterID(next)
	f.q.mu.Lock()
	f.q.img.Store(next)
	if e != nil {
		f.q.rememberLocked(*e)
	} else {
		f.q.tail, f.q.tailLen = nil, 0
	}
	subs := f.q.subs // Subscribe appends, never writes in place, so sharing is safe
	f.q.mu.Unlock()
	for _, fn := range subs {
		fn(prev, next)
	}
}

// checkClusterID copies the image's cluster id into the stable store the first time one
// appears, so the next Open can check Config.ClusterID against it, and notes a clash with
// the configured id (possible only on a node that started from an empty directory).
func (f *fsm) checkClusterID(img *metadata.Image) {
	if img.ClusterID == "" || img.ClusterID == f.storedClusterID {
		return
	}
	if want := f.q.cfg.ClusterID; want != "" && want != img.ClusterID {
		err := fmt.Errorf("raftquorum: cluster.id %q does not match %q of the cluster: %w", want, img.ClusterID, kerr.InconsistentClusterID)
		if f.q.clusterErr.CompareAndSwap(nil, &err) {
			f.q.logger.Error("raftquorum: this node belongs to another cluster; it will not act as controller", "err", err)
		}
		return
	}
	if err := f.stable.Set([]byte(clusterIDKey), []byte(img.ClusterID)); err != nil {
		// Not fatal: the id stays in the image, only the check at the next Open is lost.
		f.q.logger.Warn("raftquorum: cannot store cluster id", "err", err)
		return
	}
	f.storedClusterID = img.ClusterID
}

// Snapshot captures the current image; images are immutable, so Persist may run
// concurrently with later Applies.
func (f *fsm) Snapshot() (raft.FSMSnapshot, error) {
	return snapshot{img: f.q.Image()}, nil
}

// Restore replaces the image with a snapshot's and notifies subscribers of the jump.
func (f *fsm) Restore(rc io.ReadCloser) error {
	defer rc.Close()
	// Read one byte past the limit to tell "at the limit" from "over it" without
	// trusting any size the snapshot claims.
	data, err := io.ReadAll(io.LimitReader(rc, metadata.MaxMetadataFileSize+1))
	if err != nil {
		return fmt.Errorf("raftquorum: read snapshot: %w", err)
	}
	img, err := metadata.DecodeImage(data) // rejects data over MaxMetadataFileSize
	if err != nil {
		return fmt.Errorf("raftquorum: restore snapshot: %w", err)
	}
	f.publish(f.q.Image(), img, nil)
	return nil
}

// snapshot is one image being written to a snapshot sink.
type snapshot struct{ img *metadata.Image }

func (s snapshot) Persist(sink raft.SnapshotSink) error {
	data, err := metadata.EncodeImage(s.img)
	if err == nil {
		_, err = sink.Write(data)
	}
	if err != nil {
		sink.Cancel()
		return fmt.Errorf("raftquorum: write snapshot: %w", err)
	}
	return sink.Close()
}

func (snapshot) Release() {}
