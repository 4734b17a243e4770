package metadata

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
)

func openQuorum(t *testing.T, dir, clusterID string, nodeID int32) *localQuorum {
	t.Helper()
	q, err := OpenLocalQuorum(dir, clusterID, nodeID)
	if err != nil {
		t.Fatalf("OpenLocalQuorum: %v", err)
	}
	return q.(*localQuorum)
}

func TestLocalQuorumFirstStart(t *testing.T) {
	dir := t.TempDir()
	q := openQuorum(t, dir, "", 3)
	img := q.Image()
	if len(img.ClusterID) != 22 || img.ControllerID != 3 {
		t.Fatalf("cluster id %q controller %d, want a random 22-char id and controller 3", img.ClusterID, img.ControllerID)
	}
	if _, ok := img.Broker(3); !ok || len(img.Brokers) != 1 {
		t.Fatalf("brokers %v, want node 3 registered", img.Brokers)
	}
	if _, err := os.Stat(filepath.Join(dir, metadataFile)); err != nil {
		t.Fatalf("metadata file not written at first start: %v", err)
	}
	q.Close()

	other := openQuorum(t, t.TempDir(), "", 3)
	defer other.Close()
	if other.Image().ClusterID == img.ClusterID {
		t.Fatal("two clusters got the same random id")
	}

	given := openQuorum(t, t.TempDir(), "my-cluster", 0)
	defer given.Close()
	if given.Image().ClusterID != "my-cluster" || given.Image().ControllerID != 0 {
		t.Fatalf("given cluster id not used: %+v", given.Image())
	}
}

func TestLocalQuorumPersistenceRoundTrip(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	q := openQuorum(t, dir, "c1", 1)
	if err := RegisterBroker(ctx, q, Broker{ID: 1, Host: "localhost", Port: 9092, Rack: "r1"}); err != nil {
		t.Fatal(err)
	}
	c := NewController(q, ControllerConfig{IsListConfig: func(string) bool { return true }})
	if _, err := c.CreateTopic(ctx, CreateTopicSpec{Name: "orders", NumPartitions: 3, ReplicationFactor: 1, Configs: map[string]string{"retention.ms": "100"}}, false); err != nil {
		t.Fatal(err)
	}
	if _, err := c.CreateTopic(ctx, CreateTopicSpec{Name: "gone", NumPartitions: 1, ReplicationFactor: 1}, false); err != nil {
		t.Fatal(err)
	}
	if _, err := c.DeleteTopic(ctx, "gone", UUID{}); err != nil {
		t.Fatal(err)
	}
	if err := c.IncrementalAlterTopicConfigs(ctx, "orders", []ConfigOp{{Key: "cleanup.policy", Op: OpAppend, Value: ptr("compact")}}, false); err != nil {
		t.Fatal(err)
	}
	if err := c.CreatePartitions(ctx, "orders", 4, nil, false); err != nil {
		t.Fatal(err)
	}
	handed := map[int64]bool{}
	take := func(c *Controller, n int64) {
		first, err := c.AllocateProducerIDs(ctx, n)
		if err != nil {
			t.Fatal(err)
		}
		for id := first; id < first+n; id++ {
			if handed[id] {
				t.Fatalf("producer id %d handed out twice", id)
			}
			handed[id] = true
		}
	}
	take(c, 100)
	take(c, 5)
	want := q.Image()
	if err := q.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := q.Propose(ctx, []Record{brokerRec(2)}); err == nil {
		t.Fatal("Propose after Close succeeded")
	}

	q2 := openQuorum(t, dir, "c1", 1)
	defer q2.Close()
	got := q2.Image()
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("reopened image differs:\n got %+v\nwant %+v", got, want)
	}
	orders := got.Topic("orders")
	if len(orders.Partitions) != 4 || orders.Configs["cleanup.policy"] != "compact" || orders.Configs["retention.ms"] != "100" || got.Topic("gone") != nil {
		t.Fatalf("reopened topic %+v", orders)
	}
	if b, _ := got.Broker(1); b.Host != "localhost" || b.Port != 9092 || b.Rack != "r1" {
		t.Fatalf("reopened broker %+v", b)
	}
	take(NewController(q2, ControllerConfig{}), 50)
	if len(handed) != 155 {
		t.Fatalf("%d distinct producer ids, want 155", len(handed))
	}
}

func TestRegisterBrokerIsIdempotent(t *testing.T) {
	ctx := context.Background()
	q := newMemQuorum(t)
	b := Broker{ID: 1, Host: "h1", Port: 1}
	if err := RegisterBroker(ctx, q, b); err != nil {
		t.Fatal(err)
	}
	offset := q.Image().Offset
	if err := RegisterBroker(ctx, q, b); err != nil || q.Image().Offset != offset {
		t.Fatalf("re-registering the same endpoint proposed a record (%v)", err)
	}
	b.Port = 2
	if err := RegisterBroker(ctx, q, b); err != nil || q.Image().Brokers[1].Port != 2 {
		t.Fatalf("endpoint change not applied (%v)", err)
	}
}

func TestLocalQuorumOpenErrors(t *testing.T) {
	dir := t.TempDir()
	openQuorum(t, dir, "c1", 1).Close()

	_, err := OpenLocalQuorum(dir, "c2", 1)
	if err == nil || !strings.Contains(err.Error(), "cluster.id") {
		t.Fatalf("mismatched cluster id: %v, want an error naming cluster.id", err)
	}
	wantKerr(t, err, kerr.InconsistentClusterID)
	if _, err := OpenLocalQuorum(dir, "", 2); err == nil || !strings.Contains(err.Error(), "node.id") {
		t.Fatalf("mismatched node id: %v, want an error naming node.id", err)
	}
	if _, err := OpenLocalQuorum(t.TempDir(), "", -1); err == nil {
		t.Fatal("negative node id accepted")
	}
	q := openQuorum(t, dir, "", 1) // an empty cluster id accepts the stored one
	if q.Image().ClusterID != "c1" {
		t.Fatalf("cluster id %q", q.Image().ClusterID)
	}
	q.Close()

	if err := os.WriteFile(filepath.Join(dir, metadataFile), []byte(`{"format":1,`), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := OpenLocalQuorum(dir, "c1", 1); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("truncated file: %v, want ErrCorrupt", err)
	}
	// An oversized file is refused before it is read (the file is sparse: no disk used).
	if err := os.Truncate(filepath.Join(dir, metadataFile), MaxMetadataFileSize+1); err != nil {
		t.Fatal(err)
	}
	if _, err := OpenLocalQuorum(dir, "c1", 1); !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), "allowed") {
		t.Fatalf("oversized file: %v, want ErrCorrupt naming the limit", err)
	}
}

func TestLocalQuorumRemovesStaleTempFile(t *testing.T) {
	dir := t.TempDir()
	openQuorum(t, dir, "c1", 1).Close()
	tmp := filepath.Join(dir, metadataTmpFile)
	if err := os.WriteFile(tmp, []byte("half a write"), 0o644); err != nil {
		t.Fatal(err)
	}
	q := openQuorum(t, dir, "c1", 1)
	defer q.Close()
	if _, err := os.Stat(tmp); !os.IsNotExist(err) {
		t.Fatalf("stale temp file still there: %v", err)
	}
}

func TestProposeFailuresLeaveImage(t *testing.T) {
	ctx := context.Background()
	q := newMemQuorum(t, 1)
	called := 0
	q.Subscribe(func(prev, next *Image) { called++ })
	before := q.Image()

	if _, err := q.Propose(ctx, []Record{partRec(idA, 0, 1)}); err == nil {
		t.Fatal("record for an unknown topic accepted")
	}
	q.persist = func(*Image) error { return errors.New("disk full") }
	_, err := q.Propose(ctx, []Record{brokerRec(2)})
	wantKerr(t, err, kerr.KafkaStorageError)
	if q.Image() != before || called != 0 {
		t.Fatal("failed proposals changed the image or notified subscribers")
	}
	// A failure after the rename leaves the file's content unknown: refuse from then on.
	q.persist = func(*Image) error { return fmt.Errorf("%w: dir sync", errWriteUncertain) }
	if _, err := q.Propose(ctx, []Record{brokerRec(2)}); err == nil {
		t.Fatal("uncertain write reported success")
	}
	q.persist = func(*Image) error { return nil }
	if _, err := q.Propose(ctx, []Record{brokerRec(2)}); err == nil {
		t.Fatal("Propose accepted after an uncertain write")
	}

	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := newMemQuorum(t, 1).Propose(cancelled, []Record{brokerRec(2)}); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled context: %v", err)
	}
}

func TestSubscribersSeeEveryChangeInOrder(t *testing.T) {
	q := openQuorum(t, t.TempDir(), "c1", 1)
	defer q.Close()
	type change struct{ prev, next *Image }
	var got [2][]change // appended only by subscribers, which never run concurrently
	for i := range got {
		q.Subscribe(func(prev, next *Image) { got[i] = append(got[i], change{prev, next}) })
	}
	start := q.Image()

	const writers, each = 4, 5
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			for i := range each {
				if _, err := q.Propose(context.Background(), []Record{brokerRec(int32(100 + w*each + i))}); err != nil {
					t.Error(err)
				}
			}
		})
	}
	wg.Wait()

	for s, changes := range got {
		if len(changes) != writers*each {
			t.Fatalf("subscriber %d saw %d changes, want %d", s, len(changes), writers*each)
		}
		prev := start
		for i, c := range changes {
			if c.prev != prev || c.next.Offset != prev.Offset+1 {
				t.Fatalf("subscriber %d change %d: prev offset %d next %d, want a chain from offset %d", s, i, c.prev.Offset, c.next.Offset, prev.Offset)
			}
			prev = c.next
		}
		if prev != q.Image() {
			t.Fatalf("subscriber %d did not end at the current image", s)
		}
	}
}
