package replica

import (
	"context"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/samsa-io/samsa/internal/commitlog"
	"github.com/samsa-io/samsa/internal/metadata"
)

// TestHighWatermarkSurvivesRestart: a whole cluster restarts while its leader holds
// records the ISR never copied and a follower holds some it copied but never saw
// committed. After the restart both keep the high watermark they had, and consumers of
// the leader see nothing past it until the records are replicated.
func TestHighWatermarkSurvivesRestart(t *testing.T) {
	tc := startCluster(t, clusterOptions{nodes: 3})
	last, epoch := tc.produce(1, 3, -1)
	if err := tc.part(1).WaitForCommit(context.Background(), last, epoch); err != nil {
		t.Fatal(err)
	}
	const hw = 3
	for _, id := range []int32{2, 3} {
		waitFor(t, "followers to learn the high watermark", func() bool { return tc.part(id).Log.HighWatermark() == hw })
	}
	// Node 2 copies two more records, which node 3 (in the ISR) never does: they stay
	// uncommitted. Then node 1 appends two that nobody copies.
	tc.nodes[3].cut.Store(true)
	tc.produce(1, 2, 1)
	waitFor(t, "node 2 to copy", func() bool { return tc.part(2).Log.LogEndOffset() == hw+2 })
	tc.nodes[2].cut.Store(true)
	tc.produce(1, 2, 1)

	tc.restart()
	for _, tt := range []struct {
		id      int32
		hw, leo int64
	}{
		{1, hw, hw + 4},
		{2, hw, hw + 2},
		{3, hw, hw},
	} {
		l := tc.part(tt.id).Log
		if got, leo := l.HighWatermark(), l.LogEndOffset(); got != tt.hw || leo != tt.leo {
			t.Errorf("node %d after the restart: high watermark %d, log end %d; want %d and %d", tt.id, got, leo, tt.hw, tt.leo)
		}
	}
	leader := tc.part(1)
	if !leader.IsLeader() {
		t.Fatal("node 1 does not lead after the restart")
	}
	if fs, err := leader.Log.ReadFile(hw, 1<<20, math.MaxInt64, true); err != nil || fs.Size != 0 {
		t.Fatalf("consumer read at the high watermark after the restart: %d bytes, %v", fs.Size, err)
	}

	tc.nodes[2].cut.Store(false)
	tc.nodes[3].cut.Store(false)
	waitFor(t, "the leader's records to commit", func() bool { return leader.Log.HighWatermark() == hw+4 })
	tc.waitInSync(1, 2, 3)
	if fs, err := leader.Log.ReadFile(hw, 1<<20, math.MaxInt64, true); err != nil || fs.Size == 0 {
		t.Fatalf("consumer read after replication: %d bytes, %v", fs.Size, err)
	}
}

// TestRestoredHighWatermarkByRole: one node reopens a log whose high watermark (2) is
// below its end (3) and takes the role the image gives it.
func TestRestoredHighWatermarkByRole(t *testing.T) {
	tests := []struct {
		name       string
		node       int32
		isr        []int32
		noFile     bool // replication-offset-checkpoint lost
		want       int64
		wantLeader bool
	}{
		{name: "follower keeps it", node: 2, isr: []int32{1, 2}, want: 2},
		{name: "follower without checkpoint starts at the log start", node: 2, isr: []int32{1, 2}, noFile: true, want: 0},
		{name: "leader waits for its isr", node: 1, isr: []int32{1, 2}, want: 2, wantLeader: true},
		{name: "leader without checkpoint waits for its isr", node: 1, isr: []int32{1, 2}, noFile: true, want: 0, wantLeader: true},
		{name: "sole isr member commits its log", node: 1, isr: []int32{1}, want: 3, wantLeader: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			tp := commitlog.TopicPartition{Topic: "t", Partition: 0}
			id := metadata.RandomUUID()
			logs, err := commitlog.OpenManager(dir, commitlog.ManagerOptions{DisableCleaner: true})
			if err != nil {
				t.Fatal(err)
			}
			l, err := logs.GetOrCreate(tp, id, commitlog.DefaultConfig())
			if err != nil {
				t.Fatal(err)
			}
			for range 3 {
				if _, err := l.Append(batch(), commitlog.AppendOptions{}); err != nil {
					t.Fatal(err)
				}
			}
			l.SetHighWatermark(2)
			if err := logs.Close(); err != nil {
				t.Fatal(err)
			}
			if tt.noFile {
				if err := os.Remove(filepath.Join(dir, commitlog.HighWatermarkCheckpointFile)); err != nil {
					t.Fatal(err)
				}
			}
			logs, err = commitlog.OpenManager(dir, commitlog.ManagerOptions{DisableCleaner: true})
			if err != nil {
				t.Fatal(err)
			}
			defer logs.Close()

			img, err := metadata.NewImage().Apply([]metadata.Record{
				{Type: metadata.RecordRegisterBroker, RegisterBroker: &metadata.RegisterBrokerRecord{ID: 1}},
				{Type: metadata.RecordRegisterBroker, RegisterBroker: &metadata.RegisterBrokerRecord{ID: 2}},
				{Type: metadata.RecordTopic, Topic: &metadata.TopicRecord{Name: "t", ID: id}},
				{Type: metadata.RecordPartition, Partition: &metadata.PartitionRecord{TopicID: id, Replicas: []int32{1, 2}, ISR: tt.isr, Leader: 1}},
			})
			if err != nil {
				t.Fatal(err)
			}
			m := NewManager(Options{NodeID: tt.node, Logs: logs, LogConfig: testLogConfig})
			if err := m.Reconcile(img); err != nil {
				t.Fatal(err)
			}
			p, err := m.Get(tp)
			if err != nil {
				t.Fatal(err)
			}
			if p.IsLeader() != tt.wantLeader {
				t.Fatalf("leader %v, want %v", p.IsLeader(), tt.wantLeader)
			}
			if hw, leo := p.Log.HighWatermark(), p.Log.LogEndOffset(); hw != tt.want || leo != 3 {
				t.Fatalf("high watermark %d, log end %d; want %d and 3", hw, leo, tt.want)
			}
		})
	}
}
