package commitlog

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"go.uber.org/goleak"
)

func TestParseDirName(t *testing.T) {
	for _, tc := range []struct {
		name string
		tp   TopicPartition
		ok   bool
	}{
		{"t-0", TopicPartition{"t", 0}, true},
		{"my-topic-12", TopicPartition{"my-topic", 12}, true},
		{"__consumer_offsets-49", TopicPartition{"__consumer_offsets", 49}, true},
		{"t-", TopicPartition{}, false},
		{"-3", TopicPartition{}, false},
		{"t-01", TopicPartition{}, false},
		{"t--1", TopicPartition{"t-", 1}, true},
		{"t-0.abc-delete", TopicPartition{}, false},
		{"notapartition", TopicPartition{}, false},
	} {
		tp, ok := ParseDirName(tc.name)
		if ok != tc.ok || tp != tc.tp {
			t.Errorf("ParseDirName(%q) = %v, %v", tc.name, tp, ok)
		}
		if ok && tp.DirName() != tc.name {
			t.Errorf("DirName round trip %q", tc.name)
		}
	}
}

func TestManagerLifecycle(t *testing.T) {
	dir := t.TempDir()
	m, err := OpenManager(dir, ManagerOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if m.HadCleanShutdown() {
		t.Fatal("fresh dir reported clean")
	}
	id := [16]byte{0xfb, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15}
	a, b := TopicPartition{"my-topic", 0}, TopicPartition{"other", 3}
	la, err := m.GetOrCreate(a, id, testConfig())
	if err != nil {
		t.Fatal(err)
	}
	if again, _ := m.GetOrCreate(a, id, testConfig()); again != la || m.Get(a) != la {
		t.Fatal("GetOrCreate did not return the open log")
	}
	lb, _ := m.GetOrCreate(b, [16]byte{}, testConfig())
	for i := 0; i < 5; i++ {
		mustAppend(t, la, makeBatch(batchSpec{}), AppendOptions{})
	}
	mustAppend(t, lb, makeBatch(batchSpec{n: 2}), AppendOptions{})
	meta, _ := os.ReadFile(filepath.Join(dir, "my-topic-0", "partition.metadata"))
	if string(meta) != "version: 0\ntopic_id: -wECAwQFBgcICQoLDA0ODw\n" {
		t.Fatalf("partition.metadata %q", meta)
	}
	if _, err := m.GetOrCreate(TopicPartition{"my-topic", 0}, [16]byte{1}, testConfig()); err != nil {
		t.Fatal("open log must be returned without re-checking") // already open
	}
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, CleanShutdownFile)); err != nil {
		t.Fatal("no clean-shutdown marker")
	}
	rp, _ := os.ReadFile(filepath.Join(dir, RecoveryPointCheckpointFile))
	if got := string(rp); got != "0\n2\nmy-topic 0 5\nother 3 2\n" && got != "0\n2\nother 3 2\nmy-topic 0 5\n" {
		t.Fatalf("recovery point checkpoint %q", got)
	}

	m, err = OpenManager(dir, ManagerOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !m.HadCleanShutdown() {
		t.Fatal("clean shutdown not noticed")
	}
	if _, err := os.Stat(filepath.Join(dir, CleanShutdownFile)); !os.IsNotExist(err) {
		t.Fatal("marker not removed at open")
	}
	parts := m.Partitions()
	slices.SortFunc(parts, func(x, y TopicPartition) int { return len(x.Topic) - len(y.Topic) })
	if !slices.Equal(parts, []TopicPartition{b, a}) {
		t.Fatalf("partitions %v", parts)
	}
	if _, err := m.GetOrCreate(a, [16]byte{9}, testConfig()); err == nil {
		t.Fatal("a different topic id was accepted for an existing directory")
	}
	la, err = m.GetOrCreate(a, id, testConfig())
	if err != nil || la.LogEndOffset() != 5 {
		t.Fatalf("reopened LEO %d (%v)", la.LogEndOffset(), err)
	}
	if err := m.Delete(a); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "my-topic-0")); !os.IsNotExist(err) {
		t.Fatal("partition dir not removed")
	}
	// Crash: no Close. The next open recovers b from its checkpointed recovery point.
	lb, _ = m.GetOrCreate(b, [16]byte{}, testConfig())
	mustAppend(t, lb, makeBatch(batchSpec{}), AppendOptions{})
	f, _ := os.OpenFile(segmentPath(filepath.Join(dir, "other-3"), 0, ".log"), os.O_WRONLY|os.O_APPEND, 0)
	f.Write([]byte("torn write"))
	f.Close()
	m2, err := OpenManager(dir, ManagerOptions{})
	if err != nil || m2.HadCleanShutdown() {
		t.Fatalf("reopen after crash: %v", err)
	}
	lb2, err := m2.GetOrCreate(b, [16]byte{}, testConfig())
	if err != nil || lb2.LogEndOffset() != 3 {
		t.Fatalf("recovered LEO %d (%v)", lb2.LogEndOffset(), err)
	}
	m2.Close()
	m.Close()
}

func TestManagerRun(t *testing.T) {
	defer goleak.VerifyNone(t)
	dir := t.TempDir()
	m, err := OpenManager(dir, ManagerOptions{FlushCheckInterval: time.Millisecond, CheckpointInterval: time.Millisecond, RetentionCheckInterval: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	cfg := testConfig()
	cfg.FlushInterval = 0 // flush at every check
	l, _ := m.GetOrCreate(TopicPartition{"t", 0}, [16]byte{}, cfg)
	mustAppend(t, l, makeBatch(batchSpec{}), AppendOptions{})
	if l.RecoveryPoint() != 0 {
		t.Fatal("flushed without a flush policy asking for it")
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { m.Run(ctx); close(done) }()
	deadline := time.Now().Add(10 * time.Second)
	for {
		data, _ := os.ReadFile(filepath.Join(dir, RecoveryPointCheckpointFile))
		if string(data) == "0\n1\nt 0 1\n" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("checkpoint never showed the flush: %q", data)
		}
		time.Sleep(time.Millisecond)
	}
	cancel()
	<-done
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestManagerUncleanKeepsMarkerOff(t *testing.T) {
	dir := t.TempDir()
	m, _ := OpenManager(dir, ManagerOptions{})
	m.GetOrCreate(TopicPartition{"t", 0}, [16]byte{}, testConfig())
	m.GetOrCreate(TopicPartition{"t", 1}, [16]byte{}, testConfig())
	// crash, then a session that opens only one of the two partitions
	m2, _ := OpenManager(dir, ManagerOptions{})
	m2.GetOrCreate(TopicPartition{"t", 0}, [16]byte{}, testConfig())
	if err := m2.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, CleanShutdownFile)); !os.IsNotExist(err) {
		t.Fatal("clean marker written although t-1 was never recovered")
	}
	m.Close()
}

// TestPartitionMetadataFile: a torn partition.metadata (what a crash can leave, as it
// is not fsynced) is rewritten; a complete one naming another topic id is refused.
func TestPartitionMetadataFile(t *testing.T) {
	id := [16]byte{0xfb, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15}
	want := "version: 0\ntopic_id: -wECAwQFBgcICQoLDA0ODw\n"
	for _, c := range []struct {
		name, have string
		wantErr    bool
	}{
		{"missing", "", false},
		{"torn empty", "\x00", false},
		{"torn half", "version: 0\ntopic_i", false},
		{"torn id", "version: 0\ntopic_id: -wECAwQFBg", false},
		{"same topic", want, false},
		{"other topic", "version: 0\ntopic_id: AQIDBAUGBwgJCgsMDQ4PEA\n", true},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			if c.have != "" {
				if err := os.WriteFile(filepath.Join(dir, PartitionMetadataFile), []byte(c.have), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			err := writePartitionMetadata(dir, id)
			if c.wantErr {
				if !errors.Is(err, kerr.InconsistentTopicID) {
					t.Fatalf("error %v, want INCONSISTENT_TOPIC_ID", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got, _ := os.ReadFile(filepath.Join(dir, PartitionMetadataFile)); string(got) != want {
				t.Fatalf("partition.metadata %q, want %q", got, want)
			}
		})
	}
}

// TestOpenMany opens several logs at once after a crash: each is recovered (a torn tail
// cut), already open logs are returned as they are, a bad one fails alone, and a closed
// manager refuses.
func TestOpenMany(t *testing.T) {
	dir := t.TempDir()
	m, err := OpenManager(dir, ManagerOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var specs []OpenSpec
	for p := range int32(6) {
		specs = append(specs, OpenSpec{TP: TopicPartition{"wide", p}, TopicID: [16]byte{1, byte(p)}, Config: testConfig()})
	}
	logs, errs := m.OpenMany(specs)
	for i, l := range logs {
		if errs[i] != nil || l == nil || m.Get(specs[i].TP) != l {
			t.Fatalf("spec %d: log %v err %v", i, l, errs[i])
		}
		for range i + 1 {
			mustAppend(t, l, makeBatch(batchSpec{}), AppendOptions{})
		}
	}
	// Crash (no Close), with a torn write at the end of every log.
	for _, sp := range specs {
		f, _ := os.OpenFile(segmentPath(filepath.Join(dir, sp.TP.DirName()), 0, ".log"), os.O_WRONLY|os.O_APPEND, 0)
		f.Write([]byte("torn write"))
		f.Close()
	}
	m2, err := OpenManager(dir, ManagerOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer m2.Close()
	first, err := m2.GetOrCreate(specs[0].TP, specs[0].TopicID, testConfig())
	if err != nil {
		t.Fatal(err)
	}
	bad := OpenSpec{TP: specs[1].TP, TopicID: [16]byte{9}, Config: testConfig()} // another topic's id
	if logs, errs := m2.OpenMany([]OpenSpec{specs[2], bad}); errs[0] != nil || logs[0] == nil || errs[1] == nil {
		t.Fatalf("a good and a bad spec: %v", errs)
	}
	logs, errs = m2.OpenMany(specs)
	if logs[0] != first {
		t.Fatal("an open log was opened again")
	}
	for i, l := range logs {
		if errs[i] != nil || l.LogEndOffset() != int64(i+1) {
			t.Fatalf("spec %d after the crash: end %v err %v; want %d", i, l, errs[i], i+1)
		}
	}
	m2.Close()
	if _, errs := m2.OpenMany(specs[:2]); !errors.Is(errs[0], ErrClosed) || !errors.Is(errs[1], ErrClosed) {
		t.Fatalf("closed manager: %v", errs)
	}
	m.Close()
}

// TestDeleteDiscards: deleting a partition closes its log without making it durable
// first (no index files, producer snapshot or fsync for data about to go), and removes
// the directory; the log refuses appends afterwards.
func TestDeleteDiscards(t *testing.T) {
	dir := t.TempDir()
	m, err := OpenManager(dir, ManagerOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	tp := TopicPartition{"gone", 0}
	l, err := m.GetOrCreate(tp, [16]byte{7}, testConfig())
	if err != nil {
		t.Fatal(err)
	}
	mustAppend(t, l, makeBatch(batchSpec{n: 3}), AppendOptions{})
	idx := segmentPath(filepath.Join(dir, tp.DirName()), 0, ".index")
	if _, err := os.Stat(idx); !os.IsNotExist(err) {
		t.Fatalf("the active segment has an index file before close: %v", err)
	}
	if err := l.Discard(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(idx); !os.IsNotExist(err) {
		t.Fatalf("Discard wrote the index file: %v", err)
	}
	if err := m.Delete(tp); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, tp.DirName())); !os.IsNotExist(err) {
		t.Fatal("partition directory not removed")
	}
	if _, err := l.Append(makeBatch(batchSpec{}), AppendOptions{}); !errors.Is(err, ErrClosed) {
		t.Fatalf("append after delete: %v", err)
	}
}
