package cli

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strings"
	"testing"

	"github.com/samsa-io/samsa/internal/brokertest"
)

// TestMetadataShellPaths walks the ZooKeeper-shaped tree of a cluster (one node, or
// three) with two topics, one with a config override.
func TestMetadataShellPaths(t *testing.T) {
	tb := startBroker(t, nil)
	ctx := brokertest.Ctx(t)
	tb.CreateTopic("walk", 3, nil)
	retention := "1000"
	tb.CreateTopic("other.topic", 1, map[string]*string{"retention.ms": &retention})
	host, port, _ := strings.Cut(tb.Addr, ":")
	// Replicas, leaders and the controller are the cluster's choice; on one node all are
	// node 1, and the controller's epoch is the quorum's first.
	nodes := nodeIDs(tb)
	walk := topicLayout(t, tb, "walk", len(nodes))
	var assignment []string
	for _, p := range walk {
		assignment = append(assignment, fmt.Sprintf(`"%d":[%s]`, p.Partition, joinIDs(p.Replicas)))
	}
	controller, epoch := quorumLeader(t, tb)
	if !tb.InCluster() && (controller != 1 || epoch != 1) {
		t.Errorf("a single node's quorum: leader %d in epoch %d, want node 1 in epoch 1", controller, epoch)
	}

	ls := func(path string) []string { return []string{"metadata", "ls", path} }
	get := func(path string) []string { return []string{"metadata", "get", path} }
	admRunSteps(t, ctx, tb.Addr, []admStep{
		{name: "root", args: ls("/"), want: "[brokers, cluster, config, controller]\n"},
		{name: "brokers", args: ls("/brokers"), want: "[ids, topics]\n"},
		{name: "broker ids", args: ls("/brokers/ids"), want: "[" + strings.ReplaceAll(joinIDs(nodes), ",", ", ") + "]\n"},
		{name: "broker", args: get("/brokers/ids/1"), want: `{"features":{},"listener_security_protocol_map":{"PLAINTEXT":"PLAINTEXT"},` +
			`"endpoints":["PLAINTEXT://` + tb.Addr + `"],"jmx_port":-1,"rack":null,"host":"` + host + `","port":` + port + `,"version":5}` + "\n"},
		{name: "broker has no children", args: ls("/brokers/ids/1"), want: "[]\n"},
		{name: "topics", args: ls("/brokers/topics"), want: "[other.topic, walk]\n"},
		{name: "topic", args: get("/brokers/topics/walk"), wantRe: regexp.MustCompile(
			`^` + regexp.QuoteMeta(`{"partitions":{`+strings.Join(assignment, ",")+`},"topic_id":"`) +
				`[A-Za-z0-9_-]{22}","adding_replicas":\{\},"removing_replicas":\{\},"version":3\}\n$`)},
		{name: "topic children", args: ls("/brokers/topics/walk"), want: "[partitions]\n"},
		{name: "partitions", args: ls("/brokers/topics/walk/partitions"), want: "[0, 1, 2]\n"},
		{name: "partitions node", args: get("/brokers/topics/walk/partitions"), want: "null\n"},
		{name: "partition", args: ls("/brokers/topics/walk/partitions/2"), want: "[state]\n"},
		{name: "partition state", args: get("/brokers/topics/walk/partitions/2/state"), wantRe: regexp.MustCompile(
			fmt.Sprintf(`^\{"controller_epoch":%d,"leader":%d,"version":1,"leader_epoch":\d+,"isr":\[%s\]\}\n$`, epoch, walk[2].Leader, joinIDs(walk[2].ISR)))},
		{name: "controller", args: get("/controller"), wantRe: regexp.MustCompile(fmt.Sprintf(`^\{"version":2,"brokerid":%d,"timestamp":"\d{13}"\}\n$`, controller))},
		{name: "cluster", args: ls("/cluster"), want: "[id]\n"},
		{name: "cluster id", args: get("/cluster/id"), wantRe: regexp.MustCompile(`^\{"version":"1","id":"[A-Za-z0-9_-]{22}"\}\n$`)},
		{name: "config", args: ls("/config"), want: "[brokers, topics]\n"},
		{name: "config topics", args: ls("/config/topics"), want: "[other.topic, walk]\n"},
		{name: "topic config", args: get("/config/topics/other.topic"), want: `{"version":1,"config":{"retention.ms":"1000"}}` + "\n"},
		{name: "topic without overrides", args: get("/config/topics/walk"), want: `{"version":1,"config":{}}` + "\n"},
		{name: "broker configs", args: ls("/config/brokers"), want: "[]\n"},
		{name: "node without data", args: get("/brokers"), want: "null\n"},

		{name: "unknown top", args: get("/zookeeper"), wantErr: "Node does not exist: /zookeeper"},
		{name: "unknown broker", args: get("/brokers/ids/9"), wantErr: "Node does not exist: /brokers/ids/9"},
		{name: "unknown topic", args: ls("/brokers/topics/nope"), wantErr: "Node does not exist: /brokers/topics/nope"},
		{name: "unknown partition", args: get("/brokers/topics/walk/partitions/3/state"), wantErr: "Node does not exist: /brokers/topics/walk/partitions/3/state"},
		{name: "below a leaf", args: ls("/cluster/id/x"), wantErr: "Node does not exist: /cluster/id/x"},
		{name: "unknown topic config", args: get("/config/topics/nope"), wantErr: "Node does not exist: /config/topics/nope"},
		{name: "broker config without overrides", args: get("/config/brokers/1"), wantErr: "Node does not exist: /config/brokers/1"},
	})
}

func TestMetadataShellUsage(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		wantErr string
	}{
		{"relative path", []string{"metadata", "ls", "brokers"}, "Path must start with / character"},
		{"trailing slash", []string{"metadata", "ls", "/brokers/"}, "Path must not end with / character"},
		{"unknown command", []string{"metadata", "rm", "/brokers"}, `unknown command "rm"`},
		{"no path", []string{"metadata", "get"}, "get takes one path"},
		{"bad flag", []string{"metadata", "--bogus", "ls", "/"}, "flag provided but not defined: -bogus"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// An unreachable broker: the command is refused before connecting.
			_, _, err := admRun(context.Background(), append(tt.args, "--bootstrap-server", "127.0.0.1:1")...)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("error %v, want one containing %q", err, tt.wantErr)
			}
			if !errors.Is(err, errUsage) {
				t.Errorf("not a usage error: %v", err)
			}
		})
	}
}

// TestMetadataShell feeds the shell several commands on standard input (not a terminal:
// no prompt). A failed command is reported and the shell goes on; it ends at quit.
func TestMetadataShell(t *testing.T) {
	tb := startBroker(t, nil)
	ctx := brokertest.Ctx(t)
	tb.CreateTopic("t", 2, nil)

	run := func(input string) (string, string, error) {
		var out, errOut bytes.Buffer
		err := Run(ctx, []string{"metadata", "--bootstrap-server", tb.Addr}, strings.NewReader(input), &out, &errOut)
		return out.String(), errOut.String(), err
	}

	out, stderr, err := run("ls /brokers/ids\n\n  get /cluster/id  \nget /nope\nls brokers\nls /brokers/topics/t/partitions\nquit\nls /\n")
	if err == nil || !strings.Contains(err.Error(), "2 command(s) failed") {
		t.Errorf("error %v, want one counting 2 failed commands", err)
	}
	ids := regexp.QuoteMeta("[" + strings.ReplaceAll(joinIDs(nodeIDs(tb)), ",", ", ") + "]")
	if !regexp.MustCompile(`^` + ids + `\n\{"version":"1","id":"[A-Za-z0-9_-]{22}"\}\n\[0, 1\]\n$`).MatchString(out) {
		t.Errorf("stdout:\n%s", out)
	}
	if stderr != "Node does not exist: /nope\nPath must start with / character\n" {
		t.Errorf("stderr %q", stderr)
	}

	out, stderr, err = run("help\nls /config\n")
	if err != nil || stderr != "" {
		t.Errorf("error %v, stderr %q", err, stderr)
	}
	if out != "ls <path>\nget <path>\nquit\n[brokers, topics]\n" {
		t.Errorf("stdout %q", out)
	}
}

// TestMetadataShellCancel: cancelling the context (Ctrl-C) ends a shell that is waiting
// for its next line.
func TestMetadataShellCancel(t *testing.T) {
	tb := startBroker(t, nil)
	ctx, cancel := context.WithCancel(brokertest.Ctx(t))
	defer cancel()
	pr, pw := io.Pipe()
	defer pw.Close()
	done := make(chan error, 1)
	go func() {
		done <- Run(ctx, []string{"metadata", "--bootstrap-server", tb.Addr}, pr, io.Discard, io.Discard)
	}()
	// The write returns once the shell has taken the line, so it is running.
	if _, err := io.WriteString(pw, "ls /\n"); err != nil {
		t.Fatal(err)
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("shell ended with %v, want nil", err)
	}
}
