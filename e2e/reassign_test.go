package e2e

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/samsa-io/samsa/internal/clustertest"
)

// samsaTool runs one of the samsa tools against the cluster and returns its stdout.
func samsaTool(t *testing.T, c *clustertest.Cluster, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	args = append(args[:1:1], append([]string{"--bootstrap-server", strings.Join(c.BootstrapServers(), ",")}, args[1:]...)...)
	cmd := exec.CommandContext(ctx, samsaBin, args...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		err = fmt.Errorf("%v: %w (stderr %q)", args, err, stderr.String())
	}
	return string(out), err
}

// partitionState is one partition as the cluster's metadata shows it.
func partitionState(t *testing.T, c *clustertest.Cluster, topic string, partition int32) (replicas, isr []int32, leader int32, err error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	td, err := c.Admin(t).ListTopics(ctx, topic)
	if err != nil {
		return nil, nil, -1, err
	}
	p, ok := td[topic].Partitions[partition]
	if !ok {
		return nil, nil, -1, fmt.Errorf("no partition %s-%d", topic, partition)
	}
	replicas, isr = slices.Clone(p.Replicas), slices.Clone(p.ISR)
	slices.Sort(isr)
	return replicas, isr, p.Leader, nil
}

// TestClusterReassignAndElect: a partition on brokers 1 and 2 is moved to 2 and 3
// with reassign-partitions while it holds 1000 records; node 3 then has them all and
// node 1 drops its copy. After the preferred leader is killed and restarted,
// leader-election gives it the leadership back.
func TestClusterReassignAndElect(t *testing.T) {
	c := startCluster(t, 3)
	const topic = "moving"
	if out, err := samsaTool(t, c, "topics", "--create", "--topic", topic, "--replica-assignment", "1:2"); err != nil {
		t.Fatalf("create: %v (%s)", err, out)
	}
	waitFullISR(t, c, topic, 1, 2)

	const n = 1000
	cl := c.Client(t, kgo.DefaultProduceTopic(topic))
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	recs := make([]*kgo.Record, n)
	for i := range recs {
		recs[i] = &kgo.Record{Value: []byte(strconv.Itoa(i))}
	}
	if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		t.Fatalf("produce: %v", err)
	}

	file := filepath.Join(t.TempDir(), "reassign.json")
	if err := os.WriteFile(file, []byte(`{"version":1,"partitions":[{"topic":"moving","partition":0,"replicas":[2,3],"log_dirs":["any","any"]}]}`), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := samsaTool(t, c, "reassign-partitions", "--execute", "--reassignment-json-file", file)
	if err != nil || !strings.Contains(out, "Successfully started partition reassignment for moving-0") ||
		!strings.Contains(out, `"replicas":[1,2]`) {
		t.Fatalf("execute: %v\n%s", err, out)
	}
	c.WaitFor(t, 60*time.Second, "the reassignment to complete", func() (bool, string) {
		out, err := samsaTool(t, c, "reassign-partitions", "--verify", "--reassignment-json-file", file)
		if err != nil {
			return false, err.Error()
		}
		return strings.Contains(out, "Reassignment of partition moving-0 is completed."), out
	})
	c.WaitFor(t, 30*time.Second, "replicas and ISR {2,3}", func() (bool, string) {
		replicas, isr, leader, err := partitionState(t, c, topic, 0)
		if err != nil {
			return false, err.Error()
		}
		return slices.Equal(replicas, []int32{2, 3}) && slices.Equal(isr, []int32{2, 3}),
			fmt.Sprintf("replicas %v isr %v leader %d", replicas, isr, leader)
	})
	if out, err := samsaTool(t, c, "reassign-partitions", "--list"); err != nil || out != "No partition reassignments found.\n" {
		t.Fatalf("list: %v %q", err, out)
	}
	c.WaitFor(t, 30*time.Second, "node 1 to drop its replica", func() (bool, string) {
		_, err := os.Stat(filepath.Join(c.Node(1).Dir, topic+"-0"))
		return os.IsNotExist(err), fmt.Sprint(err)
	})

	// Node 2 (the leader) dies: node 3 leads and must serve every record.
	_, _, leader, err := partitionState(t, c, topic, 0)
	if err != nil || leader != 2 {
		t.Fatalf("leader %d, %v; want the first target replica, 2", leader, err)
	}
	c.Node(2).Kill()
	c.WaitFor(t, 30*time.Second, "node 3 to lead", func() (bool, string) {
		_, isr, leader, err := partitionState(t, c, topic, 0)
		return err == nil && leader == 3, fmt.Sprintf("leader %d isr %v err %v", leader, isr, err)
	})
	consumer := c.Client(t, kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	seen := make(map[string]bool)
	for len(seen) < n {
		fs := consumer.PollFetches(ctx)
		if err := fs.Err0(); err != nil {
			t.Fatalf("consume from node 3 after %d records: %v", len(seen), err)
		}
		fs.EachRecord(func(r *kgo.Record) { seen[string(r.Value)] = true })
	}

	// Node 2 comes back as a follower; the preferred election makes it lead again.
	c.Node(2).Start()
	c.WaitForBrokers(t, 3)
	waitFullISR(t, c, topic, 1, 2)
	out, err = samsaTool(t, c, "leader-election", "--election-type", "PREFERRED", "--topic", topic, "--partition", "0")
	if err != nil || out != "Successfully completed leader election (PREFERRED) for partitions moving-0\n" {
		t.Fatalf("leader election: %v %q", err, out)
	}
	c.WaitFor(t, 30*time.Second, "node 2 to lead", func() (bool, string) {
		_, _, leader, err := partitionState(t, c, topic, 0)
		return err == nil && leader == 2, fmt.Sprintf("leader %d err %v", leader, err)
	})
	out, err = samsaTool(t, c, "leader-election", "--election-type", "preferred", "--all-topic-partitions")
	if err != nil || strings.Contains(out, "moving-0") {
		t.Fatalf("second election: %v %q; want moving-0 left out", err, out)
	}
}
