package e2e

import (
	"os"
	"path/filepath"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

func endOffset(t *testing.T, cl *kgo.Client, topic string, partition int32) int64 {
	t.Helper()
	lo, err := kadm.NewClient(cl).ListEndOffsets(ctxFor(t, 30*time.Second), topic)
	if err != nil {
		t.Fatal(err)
	}
	o, ok := lo.Lookup(topic, partition)
	if !ok || o.Err != nil {
		t.Fatalf("end offset of %s-%d: %v", topic, partition, o.Err)
	}
	return o.Offset
}

func createTopic(t *testing.T, cl *kgo.Client, topic string, partitions int32) {
	t.Helper()
	resp, err := kadm.NewClient(cl).CreateTopic(ctxFor(t, 30*time.Second), partitions, 1, nil, topic)
	if err == nil {
		err = resp.Err
	}
	if err != nil {
		t.Fatal(err)
	}
}

// TestCleanRestart produces, stops the server with SIGTERM, starts it again and reads
// everything back.
func TestCleanRestart(t *testing.T) {
	p := startProc(t, t.TempDir())
	cl := p.client(t, kgo.DefaultProduceTopic("restart"))
	createTopic(t, cl, "restart", 3)
	const n = 3000
	for i := 0; i < n; i++ {
		cl.Produce(ctxFor(t, time.Minute), &kgo.Record{Key: []byte(value(i % 10)), Value: []byte(value(i))}, func(_ *kgo.Record, err error) {
			if err != nil {
				t.Error(err)
			}
		})
	}
	if err := cl.Flush(ctxFor(t, time.Minute)); err != nil {
		t.Fatal(err)
	}
	cl.Close()
	p.stop()
	if _, err := os.Stat(filepath.Join(p.dir, ".samsa_cleanshutdown")); err != nil {
		t.Errorf("no clean-shutdown marker after SIGTERM: %v", err)
	}
	p.restart()
	seen := readAll(t, p, "restart", 3)
	for i := 0; i < n; i++ {
		if seen[value(i)] != 1 {
			t.Fatalf("record %s seen %d times after restart", value(i), seen[value(i)])
		}
	}
}

// TestKillDuringProduce kills the server with SIGKILL while an idempotent producer
// writes with acks=all in the group-commit flush mode, restarts it, and checks that every
// acknowledged record is there exactly once.
func TestKillDuringProduce(t *testing.T) {
	for round := 0; round < 3; round++ {
		p := startProc(t, t.TempDir(), "log.flush.interval.messages=1", "log.segment.bytes=65536")
		cl := p.client(t, kgo.DefaultProduceTopic("crash"), kgo.RequiredAcks(kgo.AllISRAcks()), kgo.ProducerLinger(time.Millisecond))
		createTopic(t, cl, "crash", 3)

		var mu sync.Mutex
		var acked []int
		stop := make(chan struct{})
		var wg sync.WaitGroup
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				i := i
				cl.Produce(ctxFor(t, time.Minute), &kgo.Record{Key: []byte(value(i % 17)), Value: []byte(value(i))}, func(_ *kgo.Record, err error) {
					if err == nil {
						mu.Lock()
						acked = append(acked, i)
						mu.Unlock()
					}
				})
				if i%64 == 63 {
					time.Sleep(time.Millisecond) // leave the broker time to write, so segments roll
				}
			}
		}()
		// Kill once a good amount is acknowledged, at a varying moment.
		deadline := time.Now().Add(30 * time.Second)
		for {
			mu.Lock()
			n := len(acked)
			mu.Unlock()
			if n >= 2000+round*1500 || time.Now().After(deadline) {
				break
			}
			time.Sleep(5 * time.Millisecond)
		}
		p.kill()
		close(stop)
		wg.Wait()
		mu.Lock()
		ackedNow := append([]int(nil), acked...)
		mu.Unlock()
		cl.Close()
		if len(ackedNow) < 1000 {
			t.Fatalf("only %d records acknowledged before the kill", len(ackedNow))
		}

		p.restart()
		seen := readAll(t, p, "crash", 3)
		t.Logf("round %d: %d records acknowledged before the kill, %d in the log after recovery", round, len(ackedNow), len(seen))
		sort.Ints(ackedNow)
		for _, i := range ackedNow {
			if seen[value(i)] != 1 {
				t.Fatalf("round %d: acknowledged record %s seen %d times after kill -9", round, value(i), seen[value(i)])
			}
		}
		for v, c := range seen {
			if c != 1 {
				t.Fatalf("round %d: record %s stored %d times", round, v, c)
			}
		}
		// The recovered log takes new writes.
		cl2 := p.client(t, kgo.DefaultProduceTopic("crash"))
		if err := cl2.ProduceSync(ctxFor(t, 30*time.Second), &kgo.Record{Value: []byte("after")}).FirstErr(); err != nil {
			t.Fatalf("produce after recovery: %v", err)
		}
		p.kill()
	}
}

// TestRecoverDamagedTail kills the server, damages the active segment (a torn batch and
// trailing garbage), and restarts: the log is cut back to the last valid batch, its
// indexes are rebuilt, and it is readable and writable.
func TestRecoverDamagedTail(t *testing.T) {
	dir := t.TempDir()
	p := startProc(t, dir)
	cl := p.client(t, kgo.DefaultProduceTopic("torn"), kgo.ProducerLinger(0), kgo.MaxBufferedRecords(1))
	createTopic(t, cl, "torn", 1)
	const n = 200
	for i := 0; i < n; i++ {
		if err := cl.ProduceSync(ctxFor(t, 30*time.Second), &kgo.Record{Value: []byte(value(i))}).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	cl.Close()
	p.kill()

	segs, _ := filepath.Glob(filepath.Join(dir, "torn-0", "*.log"))
	if len(segs) == 0 {
		t.Fatal("no segment files")
	}
	sort.Strings(segs)
	active := segs[len(segs)-1]
	st, err := os.Stat(active)
	if err != nil {
		t.Fatal(err)
	}
	// Cut into the last batch, then append garbage after the cut.
	if err := os.Truncate(active, st.Size()-5); err != nil {
		t.Fatal(err)
	}
	f, err := os.OpenFile(active, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.Write([]byte("this is not a record batch, it is garbage from a torn write"))
	f.Close()
	// Remove the indexes: they must be rebuilt.
	idx, _ := filepath.Glob(filepath.Join(dir, "torn-0", "*index"))
	for _, f := range idx {
		os.Remove(f)
	}

	p.restart()
	cl = p.client(t, kgo.DefaultProduceTopic("torn"))
	if end := endOffset(t, cl, "torn", 0); end != n-1 {
		t.Fatalf("end offset after recovery %d, want %d (the last batch was torn)", end, n-1)
	}
	seen := readAll(t, p, "torn", 1)
	for i := 0; i < n-1; i++ {
		if seen[value(i)] != 1 {
			t.Fatalf("record %s seen %d times", value(i), seen[value(i)])
		}
	}
	if seen[value(n-1)] != 0 {
		t.Fatalf("torn record %s survived", value(n-1))
	}
	if err := cl.ProduceSync(ctxFor(t, 30*time.Second), &kgo.Record{Value: []byte("new")}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	if end := endOffset(t, cl, "torn", 0); end != n {
		t.Fatalf("end offset after new write %d, want %d", end, n)
	}
	for _, f := range idx {
		if _, err := os.Stat(f); err != nil {
			t.Errorf("index %s not rebuilt: %v", filepath.Base(f), err)
		}
	}
}
