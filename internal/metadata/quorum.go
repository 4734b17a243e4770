package metadata

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/samsa-io/samsa/internal/atomicfile"
)

// The local quorum's file names; see the package doc.
const (
	metadataFile    = "metadata.json"
	metadataTmpFile = metadataFile + atomicfile.TempSuffix
)

// localQuorum is the single-node Quorum: this node is the only voter and controller, and
// a record is committed once the image holding it is in metadata.json.
type localQuorum struct {
	dir string
	img atomic.Pointer[Image] // latest applied image; read without locks

	// persist writes an image durably; a field so tests can make it fail.
	persist func(*Image) error

	// mu serialises Propose and guards the fields below it.
	mu     sync.Mutex
	subs   []func(prev, next *Image)
	closed bool
	failed error // set when a write may have half-happened; Propose then refuses

	// notifyMu is taken while mu is still held and released after the subscribers ran,
	// so changes reach subscribers one at a time and in the order they were applied,
	// without subscribers running under mu.
	notifyMu sync.Mutex
}

// OpenLocalQuorum opens the single-node quorum persisted in dir.
//
// On first start (no metadata.json) it forms the cluster: the cluster id is clusterID, or
// a random one if clusterID is ""; nodeID is registered as a broker (without an endpoint:
// the broker publishes it with RegisterBroker) and made the controller. On later starts a
// non-empty clusterID must match the stored one, and nodeID the stored controller.
func OpenLocalQuorum(dir string, clusterID string, nodeID int32) (Quorum, error) {
	if nodeID < 0 {
		return nil, fmt.Errorf("metadata: node.id %d is negative", nodeID)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("metadata: create %s: %w", dir, err)
	}
	q := &localQuorum{dir: dir}
	q.persist = q.writeImage

	img, err := readImageFile(filepath.Join(dir, metadataFile))
	switch {
	case errors.Is(err, fs.ErrNotExist):
		if clusterID == "" {
			clusterID = RandomUUID().String()
		}
		img, err = NewImage().Apply([]Record{
			{Type: RecordClusterID, ClusterID: &ClusterIDRecord{ClusterID: clusterID}},
			{Type: RecordRegisterBroker, RegisterBroker: &RegisterBrokerRecord{ID: nodeID}},
			{Type: RecordControllerChange, ControllerChange: &ControllerChangeRecord{ControllerID: nodeID}},
		})
		if err != nil {
			return nil, fmt.Errorf("metadata: form cluster in %s: %w", dir, err)
		}
		if err := q.persist(img); err != nil {
			return nil, err
		}
	case err != nil:
		return nil, err
	case clusterID != "" && clusterID != img.ClusterID:
		return nil, fmt.Errorf("metadata: cluster.id %q does not match %q stored in %s: %w", clusterID, img.ClusterID, dir, kerr.InconsistentClusterID)
	case img.ControllerID != nodeID:
		return nil, fmt.Errorf("metadata: node.id %d does not match %d stored in %s", nodeID, img.ControllerID, dir)
	}
	// A leftover temp file is a write that crashed before its rename; the rename is the
	// commit point, so it holds nothing committed.
	if err := os.Remove(filepath.Join(dir, metadataTmpFile)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("metadata: remove stale temp file: %w", err)
	}
	q.img.Store(img)
	return q, nil
}

// readImageFile reads and decodes a metadata file, bounding its size before reading.
func readImageFile(path string) (*Image, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err // fs.ErrNotExist is how the caller learns this is a first start
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("metadata: stat %s: %w", path, err)
	}
	if st.Size() > MaxMetadataFileSize {
		return nil, fmt.Errorf("%w: %s is %d bytes, more than the %d allowed", ErrCorrupt, path, st.Size(), MaxMetadataFileSize)
	}
	data := make([]byte, st.Size())
	if _, err := f.ReadAt(data, 0); err != nil && st.Size() > 0 {
		return nil, fmt.Errorf("metadata: read %s: %w", path, err)
	}
	img, err := DecodeImage(data)
	if err != nil {
		return nil, fmt.Errorf("metadata: %s: %w", path, err)
	}
	return img, nil
}

// errWriteUncertain marks a write that failed after the rename: metadata.json may hold
// the new image or the old one after a crash, so the quorum stops accepting proposals.
var errWriteUncertain = errors.New("metadata: metadata file state uncertain after a failed write")

// writeImage replaces metadata.json with img: temp file, fsync, rename, fsync dir.
func (q *localQuorum) writeImage(img *Image) error {
	data, err := EncodeImage(img)
	if err != nil {
		return err
	}
	err = atomicfile.WriteFile(filepath.Join(q.dir, metadataFile), data)
	if errors.Is(err, atomicfile.ErrDirSync) {
		return fmt.Errorf("%w: %v", errWriteUncertain, err)
	}
	if err != nil {
		return fmt.Errorf("metadata: %w", err)
	}
	return nil
}

func (q *localQuorum) Image() *Image { return q.img.Load() }

// Subscribe registers fn for every change applied after Subscribe returns. A caller that
// subscribes first and then reads Image() misses no change. fn runs on the proposing
// goroutine with no lock of the quorum held, one change at a time; it must not call
// Propose itself (that would wait for its own notification to finish).
func (q *localQuorum) Subscribe(fn func(prev, next *Image)) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.subs = append(q.subs, fn)
}

// Propose applies recs to the current image, persists the result, publishes it and
// then notifies subscribers. Records that do not apply leave everything unchanged.
func (q *localQuorum) Propose(ctx context.Context, recs []Record) (*Image, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("metadata: propose: %w", err)
	}
	q.mu.Lock()
	switch {
	case q.closed:
		q.mu.Unlock()
		return nil, fmt.Errorf("metadata: propose: quorum closed: %w", kerr.NotController)
	case q.failed != nil:
		q.mu.Unlock()
		return nil, fmt.Errorf("metadata: propose refused after an earlier write failure (%v): %w", q.failed, kerr.KafkaStorageError)
	}
	prev := q.img.Load()
	if len(recs) == 0 {
		q.mu.Unlock()
		return prev, nil
	}
	next, err := prev.Apply(recs)
	if err != nil {
		q.mu.Unlock()
		return nil, err
	}
	if err := q.persist(next); err != nil {
		if errors.Is(err, errWriteUncertain) {
			q.failed = err
		}
		q.mu.Unlock()
		return nil, fmt.Errorf("%w: %w", err, kerr.KafkaStorageError)
	}
	q.img.Store(next)
	subs := q.subs // Subscribe appends, never writes in place, so sharing is safe
	q.notifyMu.Lock()
	q.mu.Unlock()
	defer q.notifyMu.Unlock()
	for _, fn := range subs {
		fn(prev, next)
	}
	return next, nil
}

// Close stops the quorum: later proposals fail. It waits for a notification in progress.
func (q *localQuorum) Close() error {
	q.mu.Lock()
	q.closed = true
	// Taking notifyMu while holding mu (Propose's order) waits for a notification in
	// progress; none starts later, as closed is set.
	q.notifyMu.Lock()
	q.mu.Unlock()
	q.notifyMu.Unlock()
	return nil
}
