package raftquorum

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/raft"

	"github.com/samsa-io/samsa/internal/metadata"
)

// newTestFSM returns an FSM over a quorum that has only what the FSM touches.
func newTestFSM() (*fsm, *Quorum) {
	q := &Quorum{logger: slog.New(slog.DiscardHandler)}
	q.img.Store(metadata.NewImage())
	return &fsm{q: q, stable: raft.NewInmemStore()}, q
}

// FuzzApply feeds arbitrary log entry data to the FSM: it must never panic, and an
// entry it rejects must leave the image as it was.
func FuzzApply(f *testing.F) {
	good, _ := json.Marshal([]metadata.Record{
		{Type: metadata.RecordClusterID, ClusterID: &metadata.ClusterIDRecord{ClusterID: "c"}},
		{Type: metadata.RecordRegisterBroker, RegisterBroker: &metadata.RegisterBrokerRecord{ID: 1, Host: "h", Port: 1}},
	})
	f.Add(good)
	f.Add([]byte(`[{"type":"Topic","topic":{"name":"t","id":"AAAAAAAAAAAAAAAAAAAAAQ"}}]`))
	f.Add([]byte(`[{"type":"Nope"}]`))
	f.Add([]byte(`null`))
	f.Add([]byte(`{`))
	f.Add([]byte(`[{"type":"ClusterID","clusterId":{"clusterId":"d"}}]`))
	f.Fuzz(func(t *testing.T, data []byte) {
		fsm, q := newTestFSM()
		before := q.Image()
		res := fsm.Apply(&raft.Log{Type: raft.LogCommand, Index: 1, Data: data}).(applyResult)
		switch {
		case res.err != nil && q.Image() != before:
			t.Fatalf("rejected entry changed the image: %v", res.err)
		case res.err == nil && res.img != q.Image():
			t.Fatal("applied entry's image is not the current one")
		}
	})
}

func TestSlogWriter(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"[WARN]  raft: slow\n", "level=WARN msg=\"raft: slow\""},
		{"[ERROR] raft: broken: error=x\n", "level=ERROR msg=\"raft: broken: error=x\""},
		{"[INFO]  raft: odd\n", "level=WARN msg=\"[INFO]  raft: odd\""},
		{"\n", ""},
		{"[ERROR] raft: failed to heartbeat to: peer=x\n[ERROR] raft: failed to heartbeat to: peer=x\n", "level=WARN msg=\"raft: failed to heartbeat to: peer=x\""},
	} {
		var buf bytes.Buffer
		l := slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
			if a.Key == slog.TimeKey {
				return slog.Attr{}
			}
			return a
		}}))
		if n, err := (&slogWriter{l: l, last: map[string]time.Time{}}).Write([]byte(tc.in)); err != nil || n != len(tc.in) {
			t.Fatalf("Write(%q) = %d, %v", tc.in, n, err)
		}
		if got := strings.TrimSpace(buf.String()); got != tc.want {
			t.Errorf("Write(%q) logged %q, want %q", tc.in, got, tc.want)
		}
	}
	// The adapter filters raft's chatter below Warn.
	var buf bytes.Buffer
	h := newHCLogger(slog.New(slog.NewTextHandler(&buf, nil)))
	h.Info("elected")
	h.Warn("lagging", "peer", "2")
	if out := buf.String(); strings.Contains(out, "elected") || !strings.Contains(out, "lagging") {
		t.Fatalf("hclog adapter output %q", out)
	}
}
