package e2e

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// TestClusterExample runs examples/cluster/start.sh, the three-node cluster for trying
// Samsa out, with its own properties files moved to free ports: the cluster forms, a
// replicated topic works, and Ctrl-C (SIGINT to the script) stops every node.
func TestClusterExample(t *testing.T) {
	dir := t.TempDir()
	// Free ports for each node's client and controller listener.
	ports := map[string]string{}
	for i := 1; i <= 3; i++ {
		for _, l := range []string{"92", "93"} {
			addr := freeAddr(t)
			ports[fmt.Sprintf("127.0.0.1:9%d%s", i, l)] = addr
		}
	}
	for i := 1; i <= 3; i++ {
		name := fmt.Sprintf("node-%d.properties", i)
		data, err := os.ReadFile(filepath.Join("..", "examples", "cluster", name))
		if err != nil {
			t.Fatal(err)
		}
		text := string(data)
		for from, to := range ports {
			text = strings.ReplaceAll(text, from, to)
		}
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	script, err := filepath.Abs(filepath.Join("..", "examples", "cluster", "start.sh"))
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("bash", script)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "SAMSA_BIN="+samsaBin, "SAMSA_CONFIG_DIR="+dir)
	out, err := os.Create(filepath.Join(dir, "script.out"))
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// exited is closed once the script has exited.
	exited := make(chan struct{})
	go func() {
		cmd.Wait()
		close(exited)
	}()
	defer func() {
		if t.Failed() {
			for i := 1; i <= 3; i++ {
				log, _ := os.ReadFile(filepath.Join(dir, "samsa-cluster-data", fmt.Sprintf("node-%d.log", i)))
				t.Logf("node %d log:\n%s", i, tail(string(log), 40))
			}
			script, _ := os.ReadFile(filepath.Join(dir, "script.out"))
			t.Logf("script output:\n%s", script)
		}
	}()
	defer func() {
		select {
		case <-exited:
		default:
			cmd.Process.Kill()
			<-exited
		}
	}()

	bootstrap := ports["127.0.0.1:9192"]
	cl, err := kgo.NewClient(kgo.SeedBrokers(bootstrap), kgo.DefaultProduceTopic("tryout"),
		kgo.ConsumeTopics("tryout"), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	for {
		md, err := adm.Metadata(ctx)
		if err == nil && len(md.Brokers) == 3 {
			break
		}
		if ctx.Err() != nil {
			t.Fatalf("the example cluster did not form: %v (metadata %v)", ctx.Err(), err)
		}
		time.Sleep(200 * time.Millisecond)
	}
	// The example's properties give new topics three replicas.
	resp, err := adm.CreateTopic(ctx, 3, -1, nil, "tryout")
	if err == nil {
		err = resp.Err
	}
	if err != nil {
		t.Fatal(err)
	}
	td, err := adm.ListTopics(ctx, "tryout")
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range td["tryout"].Partitions {
		if len(p.Replicas) != 3 {
			t.Fatalf("partition %d has replicas %v, want 3 (default.replication.factor=3)", p.Partition, p.Replicas)
		}
	}
	if err := cl.ProduceSync(ctx, kgo.StringRecord("hello cluster")).FirstErr(); err != nil {
		t.Fatal(err)
	}
	fs := cl.PollRecords(ctx, 1)
	if err := fs.Err0(); err != nil || fs.NumRecords() != 1 || string(fs.Records()[0].Value) != "hello cluster" {
		t.Fatalf("consume: %v, %d records", err, fs.NumRecords())
	}

	cmd.Process.Signal(syscall.SIGINT)
	select {
	case <-exited:
	case <-time.After(60 * time.Second):
		t.Fatal("the example cluster did not stop within 60 s of Ctrl-C")
	}
	for i := 1; i <= 3; i++ {
		log, _ := os.ReadFile(filepath.Join(dir, "samsa-cluster-data", fmt.Sprintf("node-%d.log", i)))
		if !strings.Contains(string(log), "samsa broker stopped") {
			t.Errorf("node %d did not stop cleanly; log tail:\n%s", i, tail(string(log), 20))
		}
	}
}

func tail(s string, lines int) string {
	parts := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(parts) > lines {
		parts = parts[len(parts)-lines:]
	}
	return strings.Join(parts, "\n")
}
