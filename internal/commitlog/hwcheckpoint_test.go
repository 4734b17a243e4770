package commitlog

import (
	"bytes"
	"context"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"
)

// TestHighWatermarkCheckpointRoundTrip: Close writes every partition's high watermark,
// the next open restores it, and a partition not opened in a session keeps its entry.
func TestHighWatermarkCheckpointRoundTrip(t *testing.T) {
	dir := t.TempDir()
	a, b := TopicPartition{"a", 0}, TopicPartition{"b-b", 7}
	m, err := OpenManager(dir, ManagerOptions{})
	if err != nil {
		t.Fatal(err)
	}
	la, _ := m.GetOrCreate(a, [16]byte{}, testConfig())
	lb, _ := m.GetOrCreate(b, [16]byte{}, testConfig())
	for range 5 {
		mustAppend(t, la, makeBatch(batchSpec{}), AppendOptions{})
	}
	mustAppend(t, lb, makeBatch(batchSpec{n: 2}), AppendOptions{})
	la.SetHighWatermark(3) // records 3 and 4 not committed
	lb.SetHighWatermark(2)
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	if got := readHWFile(t, dir); !maps.Equal(got, map[TopicPartition]int64{a: 3, b: 2}) {
		t.Fatalf("checkpoint %v, want a-0 at 3, b-b-7 at 2", got)
	}

	// Open only a: its high watermark comes back; b's entry survives a write.
	m, err = OpenManager(dir, ManagerOptions{})
	if err != nil {
		t.Fatal(err)
	}
	la, _ = m.GetOrCreate(a, [16]byte{}, testConfig())
	if hw, leo := la.HighWatermark(), la.LogEndOffset(); hw != 3 || leo != 5 {
		t.Fatalf("reopened: high watermark %d, log end %d; want 3 and 5", hw, leo)
	}
	la.SetHighWatermark(4)
	if err := m.WriteHighWatermarkCheckpoint(); err != nil {
		t.Fatal(err)
	}
	if got := readHWFile(t, dir); !maps.Equal(got, map[TopicPartition]int64{a: 4, b: 2}) {
		t.Fatalf("checkpoint %v, want a-0 at 4 and b-b-7 kept at 2", got)
	}
	if err := m.Delete(a); err != nil {
		t.Fatal(err)
	}
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	if got := readHWFile(t, dir); !maps.Equal(got, map[TopicPartition]int64{b: 2}) {
		t.Fatalf("checkpoint %v after deleting a-0, want b-b-7 at 2 only", got)
	}
}

func readHWFile(t *testing.T, dir string) map[TopicPartition]int64 {
	t.Helper()
	got, err := readOffsetCheckpoint(filepath.Join(dir, HighWatermarkCheckpointFile))
	if err != nil {
		t.Fatal(err)
	}
	return got
}

// TestHighWatermarkRestore: what a reopened log's high watermark becomes for each state
// of the checkpoint file. The log holds offsets 2..4 (log start 2, log end 5).
func TestHighWatermarkRestore(t *testing.T) {
	dir := t.TempDir()
	tp := TopicPartition{"t", 0}
	m, err := OpenManager(dir, ManagerOptions{})
	if err != nil {
		t.Fatal(err)
	}
	l, _ := m.GetOrCreate(tp, [16]byte{}, testConfig())
	for range 5 {
		mustAppend(t, l, makeBatch(batchSpec{}), AppendOptions{})
	}
	l.SetHighWatermark(5)
	if _, err := l.DeleteRecordsBefore(2); err != nil {
		t.Fatal(err)
	}
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, HighWatermarkCheckpointFile)
	for _, tt := range []struct {
		name    string
		file    string // "" removes it
		want    int64
		warning bool
	}{
		{"checkpointed", "0\n1\nt 0 3\n", 3, false},
		{"at the log end", "0\n1\nt 0 5\n", 5, false},
		{"past the log end", "0\n1\nt 0 9\n", 5, false},
		{"below the log start", "0\n1\nt 0 1\n", 2, false},
		{"partition not named", "0\n1\nu 0 4\n", 2, false},
		{"empty checkpoint", "0\n0\n", 2, false},
		{"missing file", "", 2, false},
		{"corrupt: short", "0\n2\nt 0 3\n", 2, true},
		{"corrupt: version", "1\n1\nt 0 3\n", 2, true},
		{"corrupt: offset", "0\n1\nt 0 x\n", 2, true},
		{"corrupt: torn", "0\n1\nt 0", 2, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if tt.file == "" {
				os.Remove(path)
			} else if err := os.WriteFile(path, []byte(tt.file), 0o644); err != nil {
				t.Fatal(err)
			}
			var logs bytes.Buffer
			m, err := OpenManager(dir, ManagerOptions{Options: Options{Logger: slog.New(slog.NewTextHandler(&logs, nil))}})
			if err != nil {
				t.Fatal(err)
			}
			defer m.Close()
			l, err := m.GetOrCreate(tp, [16]byte{}, testConfig())
			if err != nil {
				t.Fatal(err)
			}
			if got := l.HighWatermark(); got != tt.want {
				t.Errorf("high watermark %d, want %d", got, tt.want)
			}
			warned := strings.Contains(logs.String(), "level=WARN") && strings.Contains(logs.String(), path)
			if warned != tt.warning {
				t.Errorf("warning naming %s: %v, want %v; log:\n%s", path, warned, tt.warning, logs.String())
			}
		})
	}
}

func TestHighWatermarkCheckpointFileErrors(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, HighWatermarkCheckpointFile)
	for _, data := range []string{
		"", "x\n", "0\n", "0\n-1\n", "0\n99999999999\n", "0\n2\nt 0 1\n",
		"0\n1\nt 0 1 2\n", "0\n1\nt 0\n", "0\n1\nt x 1\n", "0\n1\n 0 1\n", "0\n1\nt 0 1\nu 0 2\n",
	} {
		if err := os.WriteFile(path, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
		_, err := readOffsetCheckpoint(path)
		if err == nil || !strings.Contains(err.Error(), path) {
			t.Errorf("%q: error %v, want one naming %s", data, err, path)
		}
	}
}

func TestManagerRunWritesHighWatermarks(t *testing.T) {
	defer goleak.VerifyNone(t)
	dir := t.TempDir()
	m, err := OpenManager(dir, ManagerOptions{HighWatermarkCheckpointInterval: time.Millisecond, DisableCleaner: true})
	if err != nil {
		t.Fatal(err)
	}
	l, _ := m.GetOrCreate(TopicPartition{"t", 0}, [16]byte{}, testConfig())
	mustAppend(t, l, makeBatch(batchSpec{n: 3}), AppendOptions{})
	l.SetHighWatermark(2)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { m.Run(ctx); close(done) }()
	deadline := time.Now().Add(10 * time.Second)
	for {
		data, _ := os.ReadFile(filepath.Join(dir, HighWatermarkCheckpointFile))
		if string(data) == "0\n1\nt 0 2\n" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("high watermark checkpoint never written: %q", data)
		}
		time.Sleep(time.Millisecond)
	}
	cancel()
	<-done
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
}

// FuzzReadOffsetCheckpoint: any file either fails to parse or survives a write and a
// second read unchanged.
func FuzzReadOffsetCheckpoint(f *testing.F) {
	for _, s := range []string{"0\n0\n", "0\n1\nt 0 3\n", "0\n2\na 1 2\nb-c 0 -1\n", "0\n1\nt 0", "1\n0\n", "0\n3\n"} {
		f.Add([]byte(s))
	}
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, data []byte) {
		path := filepath.Join(dir, "in")
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Fatal(err)
		}
		m, err := readOffsetCheckpoint(path)
		if err != nil {
			return
		}
		out := filepath.Join(dir, "out")
		if err := writeOffsetCheckpoint(out, m); err != nil {
			t.Fatal(err)
		}
		again, err := readOffsetCheckpoint(out)
		if err != nil || !maps.Equal(m, again) {
			t.Fatalf("round trip of %v: %v, %v", m, again, err)
		}
	})
}
