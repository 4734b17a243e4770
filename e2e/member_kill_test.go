package e2e

import (
	"bytes"
	"context"
	"os/exec"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// TestKilledGroupMemberIsReplaced: a group member killed with SIGKILL sends no
// LeaveGroup; the coordinator expires its session and its partitions move to the
// surviving member, which then reads every record produced to them.
func TestKilledGroupMemberIsReplaced(t *testing.T) {
	p := startProc(t, t.TempDir(), "group.initial.rebalance.delay.ms=0")
	admin := p.client(t)
	createTopic(t, admin, "jobs", 4)

	// Member 1: the real binary's console consumer, in its own process.
	victim := exec.Command(samsaBin, "console-consumer", "--bootstrap-server", p.addr, "--topic", "jobs",
		"--group", "workers", "--consumer-property", "session.timeout.ms=6000",
		"--consumer-property", "heartbeat.interval.ms=500")
	var victimOut bytes.Buffer
	victim.Stdout, victim.Stderr = &victimOut, &victimOut
	if err := victim.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { victim.Process.Kill(); victim.Wait() })

	// Member 2: a franz-go consumer in this process.
	// It reports how many partitions it owns after every change (the default balancer
	// is cooperative: callbacks carry only what was added or taken away).
	assigned := make(chan int, 64)
	var owned int
	var mu sync.Mutex
	change := func(delta int) {
		mu.Lock()
		owned += delta
		assigned <- owned
		mu.Unlock()
	}
	survivor := p.client(t, kgo.ConsumerGroup("workers"), kgo.ConsumeTopics("jobs"),
		kgo.SessionTimeout(6*time.Second), kgo.HeartbeatInterval(500*time.Millisecond),
		kgo.OnPartitionsAssigned(func(_ context.Context, _ *kgo.Client, m map[string][]int32) { change(len(m["jobs"])) }),
		kgo.OnPartitionsRevoked(func(_ context.Context, _ *kgo.Client, m map[string][]int32) { change(-len(m["jobs"])) }),
		kgo.OnPartitionsLost(func(_ context.Context, _ *kgo.Client, m map[string][]int32) { change(-len(m["jobs"])) }),
	)
	ctx := ctxFor(t, 90*time.Second)
	go func() {
		for ctx.Err() == nil {
			survivor.PollFetches(ctx)
		}
	}()
	// Wait until the two members share the partitions.
	for n := 0; n != 2; {
		select {
		case n = <-assigned:
		case <-ctx.Done():
			t.Fatalf("the two members never split the partitions; console consumer said:\n%s", victimOut.String())
		}
	}
	victim.Process.Signal(syscall.SIGKILL)
	victim.Wait()
	for n := 0; n != 4; {
		select {
		case n = <-assigned:
		case <-ctx.Done():
			t.Fatal("the killed member's partitions never moved to the survivor")
		}
	}
}
