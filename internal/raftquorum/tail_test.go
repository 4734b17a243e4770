package raftquorum

import (
	"bytes"
	"testing"

	"github.com/samsa-io/samsa/internal/metadata"
)

// replay applies entries to img, as a broker following the metadata does.
func replay(t *testing.T, img *metadata.Image, entries []Entry) *metadata.Image {
	t.Helper()
	for _, e := range entries {
		if e.Offset != img.Offset {
			t.Fatalf("entry at offset %d follows an image at %d", e.Offset, img.Offset)
		}
		next, err := img.Apply(e.Records)
		if err != nil {
			t.Fatalf("replaying entry at %d: %v", e.Offset, err)
		}
		img = next
	}
	return img
}

func TestRecordsSince(t *testing.T) {
	c := newCluster(t, 3, nil)
	leader := c.waitActive()
	for i := range 5 {
		if _, err := leader.Propose(ctx(t), []metadata.Record{registerBroker(int32(i))}); err != nil {
			t.Fatal(err)
		}
	}
	// A two-record entry, and one that fails to apply (no offset, not in the tail).
	if _, err := leader.Propose(ctx(t), createTopic("t", metadata.RandomUUID(), 0, 1)); err != nil {
		t.Fatal(err)
	}
	if _, err := leader.Propose(ctx(t), createTopic("t", metadata.RandomUUID(), 0, 1)); err == nil {
		t.Fatal("creating topic t twice applied")
	}
	want := c.waitConverged(leader.Image().Offset)

	for _, q := range c.running() {
		entries, img, ok := q.RecordsSince(0, 1<<20)
		if !ok {
			t.Fatalf("node %d: records since 0 not held", q.cfg.NodeID)
		}
		got := replay(t, metadata.NewImage(), entries)
		if img.Offset != want.Offset || !bytes.Equal(encode(t, got), encode(t, want)) {
			t.Fatalf("node %d: replaying its tail gives offset %d, image offset %d; want %d", q.cfg.NodeID, got.Offset, img.Offset, want.Offset)
		}
	}

	// Caught up, or ahead: nothing to send.
	if entries, _, ok := leader.RecordsSince(want.Offset, 10); !ok || len(entries) != 0 {
		t.Fatalf("at the end: %d entries, ok %v", len(entries), ok)
	}
	if entries, _, ok := leader.RecordsSince(want.Offset+3, 10); !ok || len(entries) != 0 {
		t.Fatalf("past the end: %d entries, ok %v", len(entries), ok)
	}
	// maxRecords cuts between entries but returns at least one, whole.
	entries, _, ok := leader.RecordsSince(want.Offset-2, 1)
	if !ok || len(entries) != 1 || len(entries[0].Records) != 2 {
		t.Fatalf("last entry with maxRecords 1: %+v ok %v; want the two-record entry whole", entries, ok)
	}
	first, _, _ := leader.RecordsSince(0, 1<<20)
	if got, _, _ := leader.RecordsSince(first[1].Offset, 2); len(got) != 2 || got[0].Offset != first[1].Offset {
		t.Fatalf("from the second entry with maxRecords 2: %+v", got)
	}
	// Inside an entry, or before what is held: the image is needed.
	if _, _, ok := leader.RecordsSince(want.Offset-1, 10); ok {
		t.Fatal("an offset inside the last entry was served")
	}
	if _, _, ok := leader.RecordsSince(-1, 10); ok {
		t.Fatal("a negative offset was served")
	}
}

func TestRecordsSinceAfterSnapshot(t *testing.T) {
	c := newCluster(t, 1, func(cfg *Config) {
		cfg.SnapshotThreshold = 4
		cfg.TrailingLogs = 2
	})
	q := c.waitActive()
	for i := range 10 {
		if _, err := q.Propose(ctx(t), []metadata.Record{registerBroker(int32(i))}); err != nil {
			t.Fatal(err)
		}
	}
	if err := q.Snapshot(); err != nil {
		t.Fatal(err)
	}
	id := q.cfg.NodeID
	c.stop(id)
	c.start(id)
	q = c.waitActive()
	waitFor(t, "the restarted node to apply its log", func() bool { return len(q.Image().Brokers) == 10 })
	// Restored from a snapshot: the records before it are gone, later ones are there.
	if _, _, ok := q.RecordsSince(0, 100); ok {
		t.Fatal("records before the snapshot were served")
	}
	end := q.Image().Offset
	if _, err := q.Propose(ctx(t), []metadata.Record{registerBroker(42)}); err != nil {
		t.Fatal(err)
	}
	entries, img, ok := q.RecordsSince(end, 100)
	if !ok || len(entries) != 1 || img.Offset != end+1 {
		t.Fatalf("after the snapshot: %+v ok %v", entries, ok)
	}
}

func TestTailBound(t *testing.T) {
	q := &Quorum{}
	for i := range tailRecords + 10 {
		q.rememberLocked(Entry{Offset: int64(i), Records: []metadata.Record{registerBroker(1)}})
	}
	if q.tailLen != tailRecords || len(q.tail) != tailRecords || q.tail[0].Offset != 10 {
		t.Fatalf("tail holds %d records in %d entries from %d; want %d from 10", q.tailLen, len(q.tail), q.tail[0].Offset, tailRecords)
	}
	// One entry larger than the bound is kept alone.
	q.rememberLocked(Entry{Offset: tailRecords + 10, Records: make([]metadata.Record, tailRecords+1)})
	if len(q.tail) != 1 || q.tailLen != tailRecords+1 {
		t.Fatalf("after a huge entry: %d entries, %d records", len(q.tail), q.tailLen)
	}
}
