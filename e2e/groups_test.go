package e2e

import (
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
)

// TestGroupOffsetsSurviveKill: offsets committed to the real binary are there after a
// kill -9 and a restart (they are records of __consumer_offsets, recovered like any
// log).
func TestGroupOffsetsSurviveKill(t *testing.T) {
	dir := t.TempDir()
	p := startProc(t, dir, "group.initial.rebalance.delay.ms=0")
	adm := kadm.NewClient(p.client(t))
	ctx := ctxFor(t, 60*time.Second)
	if _, err := adm.CreateTopic(ctx, 3, 1, nil, "crash-offsets"); err != nil {
		t.Fatal(err)
	}
	want := kadm.Offsets{}
	for part := int32(0); part < 3; part++ {
		want.Add(kadm.Offset{Topic: "crash-offsets", Partition: part, At: int64(100 * (part + 1)), LeaderEpoch: -1, Metadata: "m"})
	}
	resp, err := adm.CommitOffsets(ctx, "survivor", want)
	if err == nil {
		err = resp.Error()
	}
	if err != nil {
		t.Fatalf("commit: %v", err)
	}

	p.kill()
	p.restart()
	adm = kadm.NewClient(p.client(t))
	var got kadm.OffsetResponses
	for {
		got, err = adm.FetchOffsets(ctx, "survivor")
		if err == nil {
			break
		}
		if ctx.Err() != nil {
			t.Fatalf("fetch offsets after restart: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	for part := int32(0); part < 3; part++ {
		o, ok := got.Lookup("crash-offsets", part)
		if !ok || o.At != int64(100*(part+1)) || o.Metadata != "m" {
			t.Errorf("partition %d after kill -9: %+v (found %v)", part, o, ok)
		}
	}
}
