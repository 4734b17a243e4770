package cli

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/samsa-io/samsa/internal/brokertest"
)

// admRun runs the samsa command line as main does, returning what it printed.
func admRun(ctx context.Context, args ...string) (stdout, stderr string, err error) {
	var out, errOut bytes.Buffer
	err = Run(ctx, args, strings.NewReader(""), &out, &errOut)
	return out.String(), errOut.String(), err
}

// admStep is one command of a walk-through and what it must print.
type admStep struct {
	name    string
	args    []string
	want    string         // exact stdout, unless wantRe is set
	wantRe  *regexp.Regexp // stdout must match
	wantErr string         // the error must contain this; "" means success
}

func admRunSteps(t *testing.T, ctx context.Context, bootstrap string, steps []admStep) {
	t.Helper()
	for _, s := range steps {
		args := append([]string{s.args[0], "--bootstrap-server", bootstrap}, s.args[1:]...)
		out, stderr, err := admRun(ctx, args...)
		if s.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), s.wantErr) {
				t.Fatalf("%s: %v: error %v, want one containing %q (stdout %q)", s.name, args, err, s.wantErr, out)
			}
			if strings.Contains(err.Error(), "\n") {
				t.Errorf("%s: error is not one line: %q", s.name, err)
			}
		} else if err != nil {
			t.Fatalf("%s: %v: %v (stderr %q)", s.name, args, err, stderr)
		}
		switch {
		case s.wantErr != "" && s.want == "":
		case s.wantRe != nil:
			if !s.wantRe.MatchString(out) {
				t.Errorf("%s: stdout\n%s\ndoes not match\n%s", s.name, out, s.wantRe)
			}
		case out != s.want:
			t.Errorf("%s: stdout\n%q\nwant\n%q", s.name, out, s.want)
		}
	}
}

// admPartitionLines is a regexp for the partition lines topics --describe prints for
// parts, with no eligible leader replicas (Samsa keeps none).
func admPartitionLines(topic string, parts []kadm.PartitionDetail) string {
	var b strings.Builder
	for _, p := range parts {
		fmt.Fprintf(&b, "\tTopic: %s\tPartition: %d\tLeader: %d\tReplicas: %s\tIsr: %s\tElr: \tLastKnownElr: \n",
			topic, p.Partition, p.Leader, joinIDs(p.Replicas), joinIDs(p.ISR))
	}
	return regexp.QuoteMeta(b.String())
}

// admJSONIDs is the body of a JSON array of ids as topics --describe --output json
// indents it inside a partition.
func admJSONIDs(ids []int32) string {
	var lines []string
	for _, id := range ids {
		lines = append(lines, fmt.Sprintf("          %d", id))
	}
	return strings.Join(lines, ",\n") + "\n"
}

// admBrokerConfigsHeaders are the lines configs --describe --entity-type brokers prints
// for brokers without dynamic configs.
func admBrokerConfigsHeaders(nodes []int32) string {
	var b strings.Builder
	for _, id := range nodes {
		fmt.Fprintf(&b, "Dynamic configs for broker %d are:\n", id)
	}
	return b.String()
}

// TestAdminWalkThrough follows the seeds' tutorial: create a topic with three
// partitions, list, describe, add partitions, change its configs, read offsets after
// producing, delete records, delete the topic.
func TestAdminWalkThrough(t *testing.T) {
	tb := startBroker(t, nil)
	ctx := brokertest.Ctx(t)

	admRunSteps(t, ctx, tb.Addr, []admStep{
		{name: "create", args: []string{"topics", "--create", "--topic", "walk", "--partitions", "3", "--replication-factor", "1"}, want: "Created topic walk.\n"},
		{name: "create again", args: []string{"topics", "--create", "--topic", "walk", "--partitions", "3"}, wantErr: "Error while executing topic command : Topic 'walk' already exists."},
		{name: "create if not exists", args: []string{"topics", "--create", "--topic", "walk", "--if-not-exists"}, want: ""},
		{name: "create with config", args: []string{"topics", "--create", "--topic", "other.topic", "--partitions", "1", "--config", "retention.ms=1000"},
			want: "WARNING: Due to limitations in metric names, topics with a period ('.') or underscore ('_') could collide. To avoid issues it is best to use either, but not both.\nCreated topic other.topic.\n"},
		{name: "list", args: []string{"topics", "--list"}, want: "other.topic\nwalk\n"},
		{name: "list regex", args: []string{"topics", "--list", "--topic", "wa.*"}, want: "walk\n"},
		{name: "list json", args: []string{"topics", "--list", "--exclude-internal", "--output", "json"}, want: "[\n  \"other.topic\",\n  \"walk\"\n]\n"},
	})

	// Which nodes hold which replicas is the controller's choice: on one node all are
	// node 1's; on a cluster walk's lie on one node each and other.topic (the default
	// replication factor) on every node.
	nodes := nodeIDs(tb)
	walk := topicLayout(t, tb, "walk", 1)
	other := topicLayout(t, tb, "other.topic", len(nodes))
	admRunSteps(t, ctx, tb.Addr, []admStep{
		{name: "describe", args: []string{"topics", "--describe", "--topic", "walk"}, wantRe: regexp.MustCompile(`^` +
			`Topic: walk\tTopicId: [A-Za-z0-9_-]{22}\tPartitionCount: 3\tReplicationFactor: 1\tConfigs: \n` +
			admPartitionLines("walk", walk) + `$`)},
		{name: "describe override", args: []string{"topics", "--describe", "--topic", "other.topic"}, wantRe: regexp.MustCompile(
			fmt.Sprintf(`^Topic: other.topic\tTopicId: \S+\tPartitionCount: 1\tReplicationFactor: %d\tConfigs: retention.ms=1000\n`, len(nodes)) +
				admPartitionLines("other.topic", other) + `$`)},
		{name: "topics with overrides", args: []string{"topics", "--describe", "--topics-with-overrides"}, wantRe: regexp.MustCompile(
			`^Topic: other.topic\t[^\n]*Configs: retention.ms=1000\n$`)},
		{name: "under-replicated: none", args: []string{"topics", "--describe", "--under-replicated-partitions"}, want: ""},
		{name: "at min isr: all", args: []string{"topics", "--describe", "--topic", "walk", "--at-min-isr-partitions"}, wantRe: regexp.MustCompile(
			`^(\tTopic: walk\tPartition: \d[^\n]*\n){3}$`)},
		{name: "alter partitions", args: []string{"topics", "--alter", "--topic", "walk", "--partitions", "4"}, want: ""},
	})

	walk = topicLayout(t, tb, "walk", 1)
	if len(walk) != 4 {
		t.Fatalf("walk has %d partitions after the alter, want 4", len(walk))
	}
	admRunSteps(t, ctx, tb.Addr, []admStep{
		{name: "describe after alter", args: []string{"topics", "--describe", "--topic", "walk"}, wantRe: regexp.MustCompile(
			`^Topic: walk\tTopicId: \S+\tPartitionCount: 4\t[^\n]*\n` + admPartitionLines("walk", walk) + `$`)},
		{name: "describe json", args: []string{"topics", "--describe", "--topic", "other.topic", "--output", "json"}, wantRe: regexp.MustCompile(
			`(?s)^\[\n  \{\n    "topic": "other.topic",\n    "topic_id": "\S+",\n    "partition_count": 1,\n    "replication_factor": ` + fmt.Sprint(len(nodes)) +
				`,\n    "configs": \{\n      "retention.ms": "1000"\n    \},\n    "partitions": \[\n      \{\n        "partition": 0,\n        "leader": ` + fmt.Sprint(other[0].Leader) +
				`,\n        "replicas": \[\n` + admJSONIDs(other[0].Replicas) + `        \],\n        "isr": \[\n` + admJSONIDs(other[0].ISR) + `        \],\n`)},

		{name: "configs add", args: []string{"configs", "--alter", "--entity-type", "topics", "--entity-name", "walk", "--add-config", "retention.ms=60000,cleanup.policy=[compact,delete]"},
			want: "Completed updating config for topic walk.\n"},
		{name: "configs describe", args: []string{"configs", "--describe", "--topic", "walk"}, wantRe: regexp.MustCompile(`^` +
			`Dynamic configs for topic walk are:\n` +
			`  cleanup.policy=compact,delete sensitive=false synonyms=\{DYNAMIC_TOPIC_CONFIG:cleanup.policy=compact,delete[^\n]*\}\n` +
			`  retention.ms=60000 sensitive=false synonyms=\{DYNAMIC_TOPIC_CONFIG:retention.ms=60000[^\n]*\}\n$`)},
		{name: "topic describe shows overrides", args: []string{"topics", "--describe", "--topic", "walk"}, wantRe: regexp.MustCompile(
			`^Topic: walk\t[^\n]*\tConfigs: cleanup.policy=compact,delete,retention.ms=60000\n`)},
		{name: "configs delete missing", args: []string{"configs", "--alter", "--topic", "walk", "--delete-config", "segment.ms,retention.ms"},
			wantErr: "Invalid config(s): segment.ms"},
		{name: "configs delete", args: []string{"configs", "--alter", "--topic", "walk", "--delete-config", "retention.ms"},
			want: "Completed updating config for topic walk.\n"},
		{name: "configs describe after delete", args: []string{"configs", "--describe", "--entity-type", "topics", "--entity-name", "walk"}, wantRe: regexp.MustCompile(
			`^Dynamic configs for topic walk are:\n  cleanup.policy=compact,delete sensitive=false synonyms=\{[^\n]*\}\n$`)},
		{name: "configs describe json", args: []string{"configs", "--describe", "--topic", "walk", "--output", "json"}, wantRe: regexp.MustCompile(
			`(?s)^\[\n  \{\n    "entity_type": "topics",\n    "entity_name": "walk",\n    "configs": \[\n      \{\n        "name": "cleanup.policy",\n        "value": "compact,delete",\n        "sensitive": false,\n        "source": "DYNAMIC_TOPIC_CONFIG",`)},
		{name: "configs describe all", args: []string{"configs", "--describe", "--topic", "walk", "--all"}, wantRe: regexp.MustCompile(
			`(?s)^All configs for topic walk are:\n.*  cleanup.policy=compact,delete sensitive=false .*  retention.ms=\d+ sensitive=false synonyms=\{DEFAULT_CONFIG:`)},
		{name: "all brokers' dynamic configs", args: []string{"configs", "--describe", "--entity-type", "brokers"},
			want: admBrokerConfigsHeaders(nodes) + "Default configs for brokers in the cluster are:\n"},
		{name: "broker configs", args: []string{"configs", "--describe", "--entity-type", "brokers", "--entity-name", "1", "--all"}, wantRe: regexp.MustCompile(
			`(?s)^All configs for broker 1 are:\n.*  num.partitions=\d+ sensitive=false synonyms=\{`)},
	})

	// Produce five records to partition 0 and two to partition 1.
	cl := tb.Client(kgo.RecordPartitioner(kgo.ManualPartitioner()), kgo.DefaultProduceTopic("walk"))
	var recs []*kgo.Record
	for i := range 7 {
		p := int32(0)
		if i >= 5 {
			p = 1
		}
		recs = append(recs, &kgo.Record{Partition: p, Key: []byte{'k', byte('0' + i)}, Value: []byte("v")})
	}
	if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
	offsetFile := filepath.Join(t.TempDir(), "offsets.json")
	if err := os.WriteFile(offsetFile, []byte(`{"partitions":[{"topic":"walk","partition":0,"offset":3}],"version":1}`), 0o644); err != nil {
		t.Fatal(err)
	}
	badOffsetFile := filepath.Join(t.TempDir(), "bad.json")
	if err := os.WriteFile(badOffsetFile, []byte(`{"partitions":[{"topic":"walk","partition":9,"offset":1}]}`), 0o644); err != nil {
		t.Fatal(err)
	}

	admRunSteps(t, ctx, tb.Addr, []admStep{
		{name: "latest offsets", args: []string{"get-offsets", "--topic", "walk"}, want: "walk:0:5\nwalk:1:2\nwalk:2:0\nwalk:3:0\n"},
		{name: "earliest offsets", args: []string{"get-offsets", "--topic", "walk", "--time", "-2"}, want: "walk:0:0\nwalk:1:0\nwalk:2:0\nwalk:3:0\n"},
		{name: "one partition", args: []string{"get-offsets", "--topic", "walk", "--partitions", "0,1"}, want: "walk:0:5\nwalk:1:2\n"},
		{name: "topic-partitions", args: []string{"get-offsets", "--topic-partitions", "walk:1-3,other.*:0"}, want: "other.topic:0:0\nwalk:1:2\nwalk:2:0\n"},
		{name: "future timestamp", args: []string{"get-offsets", "--topic", "walk", "--time", "99999999999999"}, want: ""},
		{name: "offsets json", args: []string{"get-offsets", "--topic", "walk", "--partitions", "1", "--output", "json"},
			want: "[\n  {\n    \"topic\": \"walk\",\n    \"partition\": 1,\n    \"offset\": 2\n  }\n]\n"},
		{name: "delete records", args: []string{"delete-records", "--offset-json-file", offsetFile},
			want: "Executing records delete operation\nRecords delete operation completed:\npartition: walk-0\tlow_watermark: 3\n"},
		{name: "earliest after delete", args: []string{"get-offsets", "--topic", "walk", "--partitions", "0", "--time", "earliest"}, want: "walk:0:3\n"},
		{name: "delete records of a missing partition", args: []string{"delete-records", "--offset-json-file", badOffsetFile},
			want:    "Executing records delete operation\nRecords delete operation completed:\npartition: walk-9\terror: This server does not host this topic-partition.\n",
			wantErr: "1 of 1 partitions failed"},
		{name: "delete topic", args: []string{"topics", "--delete", "--topic", "walk"}, want: ""},
		{name: "delete missing with if-exists", args: []string{"topics", "--delete", "--topic", "walk", "--if-exists"}, want: ""},
		{name: "describe deleted", args: []string{"topics", "--describe", "--topic", "walk"}, wantErr: "Error while executing topic command : Topic 'walk' does not exist as expected"},
		{name: "list after delete", args: []string{"topics", "--list", "--topic", "walk"}, want: "\n"},
	})
}

func TestBrokerAPIVersions(t *testing.T) {
	tb := startBroker(t, nil)
	ctx := brokertest.Ctx(t)
	out, _, err := admRun(ctx, "broker-api-versions", "--bootstrap-server", tb.Addr)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(out, "\n")
	host, port, _ := strings.Cut(tb.Addr, ":")
	if want := host + ":" + port + " (id: 1 rack: null) -> ("; lines[0] != want {
		t.Errorf("first line %q, want %q", lines[0], want)
	}
	if lines[len(lines)-2] != ")" || lines[len(lines)-1] != "" {
		t.Errorf("output does not end with \")\": %q", lines[len(lines)-2:])
	}
	for _, want := range []string{
		"\tProduce(0): 3 to 11 [usable: 11],",
		"\tApiVersions(18): 0 to 4 [usable: 4],",
		"\tDescribeProducers(61): 0 [usable: 0],",
		"\tSaslHandshake(17): 1 [usable: 1],",
		"\tCreateAcls(30): UNSUPPORTED,",
	} {
		if !strings.Contains(out, "\n"+want+"\n") {
			t.Errorf("output lacks line %q:\n%s", want, out)
		}
	}
	out, _, err = admRun(ctx, "broker-api-versions", "--bootstrap-server", tb.Addr, "--output", "json")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, `"name": "ApiVersions",`) || !strings.HasPrefix(out, "[\n  {\n    \"id\": 1,") {
		t.Errorf("json output:\n%s", out)
	}
}

// TestAdminErrors checks that mistakes end in one clear line and a non-nil error (exit
// code 1 from main).
func TestAdminErrors(t *testing.T) {
	tb := startBroker(t, nil)
	ctx := brokertest.Ctx(t)
	tb.CreateTopic("present", 1, nil)
	tests := []struct {
		name      string
		args      []string
		wantErr   string
		wantUsage bool
	}{
		{"no action", []string{"topics", "--bootstrap-server", tb.Addr}, "exactly one action", true},
		{"two actions", []string{"topics", "--bootstrap-server", tb.Addr, "--list", "--delete"}, "exactly one action", true},
		{"bad flag", []string{"topics", "--bootstrap-server", tb.Addr, "--list", "--bogus"}, "flag provided but not defined: -bogus", true},
		{"create without topic", []string{"topics", "--bootstrap-server", tb.Addr, "--create"}, "--topic is required with --create", true},
		{"alter without partitions", []string{"topics", "--bootstrap-server", tb.Addr, "--alter", "--topic", "present"}, "--partitions is required with --alter", true},
		{"alter with config", []string{"topics", "--bootstrap-server", tb.Addr, "--alter", "--topic", "present", "--partitions", "2", "--config", "a=b"}, "samsa configs", true},
		{"zookeeper", []string{"topics", "--zookeeper", "localhost:2181", "--list"}, "built-in metadata quorum", true},
		{"configs zookeeper", []string{"configs", "--zookeeper", "localhost:2181", "--describe", "--topic", "t"}, "use --bootstrap-server", true},
		{"bad partitions", []string{"topics", "--bootstrap-server", tb.Addr, "--create", "--topic", "x", "--partitions", "0"}, "The partitions must be greater than 0", false},
		{"bad rf", []string{"topics", "--bootstrap-server", tb.Addr, "--create", "--topic", "x", "--replication-factor", "0"}, "The replication factor must be between 1 and 32767 inclusive", false},
		{"unknown topic describe", []string{"topics", "--bootstrap-server", tb.Addr, "--describe", "--topic", "nope"}, "Topic 'nope' does not exist as expected", false},
		{"unknown topic alter", []string{"topics", "--bootstrap-server", tb.Addr, "--alter", "--topic", "nope", "--partitions", "3"}, "Topic 'nope' does not exist as expected", false},
		{"fewer partitions", []string{"topics", "--bootstrap-server", tb.Addr, "--alter", "--topic", "present", "--partitions", "1"}, "Error while executing topic command : ", false},
		{"too many replicas", []string{"topics", "--bootstrap-server", tb.Addr, "--create", "--topic", "rf", "--replication-factor", fmt.Sprint(len(nodeIDs(tb)) + 1)}, "Error while executing topic command : ", false},
		{"bad regex", []string{"topics", "--bootstrap-server", tb.Addr, "--list", "--topic", "a("}, "a( is an invalid regex.", true},
		{"configs unknown topic", []string{"configs", "--bootstrap-server", tb.Addr, "--describe", "--topic", "nope"}, "Error while executing config command : ", false},
		{"configs alter broker", []string{"configs", "--bootstrap-server", tb.Addr, "--alter", "--broker", "1", "--add-config", "log.retention.ms=5"}, "Error while executing config command : ", false},
		{"configs no action", []string{"configs", "--bootstrap-server", tb.Addr, "--topic", "present"}, "exactly one action: --describe, --alter", true},
		{"configs nothing to alter", []string{"configs", "--bootstrap-server", tb.Addr, "--alter", "--topic", "present"}, "At least one of --add-config, --add-config-file, or --delete-config", true},
		{"configs mixed entity flags", []string{"configs", "--bootstrap-server", tb.Addr, "--describe", "--topic", "present", "--entity-type", "topics"}, "should not be used in conjunction", true},
		{"configs bad broker id", []string{"configs", "--bootstrap-server", tb.Addr, "--describe", "--broker", "one"}, "must be a valid integer broker id, but it is: one", true},
		{"configs users", []string{"configs", "--bootstrap-server", tb.Addr, "--describe", "--entity-type", "users"}, "not supported by Samsa yet", true},
		{"configs bad add", []string{"configs", "--bootstrap-server", tb.Addr, "--alter", "--topic", "present", "--add-config", "a=b=c"}, "must be in the format \"key=val\"", true},
		{"get-offsets no match", []string{"get-offsets", "--bootstrap-server", tb.Addr, "--topic", "nope"}, "Could not match any topic-partitions with the specified filters", false},
		{"get-offsets bad time", []string{"get-offsets", "--bootstrap-server", tb.Addr, "--time", "yesterday"}, "Malformed time argument yesterday.", true},
		{"get-offsets both filters", []string{"get-offsets", "--bootstrap-server", tb.Addr, "--topic", "a", "--topic-partitions", "a:0"}, "--topic-partitions cannot be used with --topic or --partitions", true},
		{"delete-records no file", []string{"delete-records", "--bootstrap-server", tb.Addr}, "--offset-json-file is required", true},
		{"dump-log no files", []string{"dump-log"}, "--files is required", true},
		{"dump-log missing file", []string{"dump-log", "--files", "/nonexistent/00000000000000000000.log"}, "no such file", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, _, err := admRun(ctx, tt.args...)
			t.Logf("samsa: %v", err)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("error %v, want one containing %q (stdout %q)", err, tt.wantErr, out)
			}
			if strings.Contains(err.Error(), "\n") {
				t.Errorf("error is not one line: %q", err)
			}
			if got := errors.Is(err, errUsage); got != tt.wantUsage {
				t.Errorf("errors.Is(err, errUsage) = %v, want %v", got, tt.wantUsage)
			}
		})
	}
}

// TestAdminUnreachable checks that every networked tool gives up with one line when no
// broker answers.
func TestAdminUnreachable(t *testing.T) {
	dir := t.TempDir()
	offsetFile := filepath.Join(dir, "o.json")
	if err := os.WriteFile(offsetFile, []byte(`{"partitions":[]}`), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{
		{"topics", "--list"},
		{"configs", "--describe", "--topic", "t"},
		{"get-offsets"},
		{"delete-records", "--offset-json-file", offsetFile},
		{"broker-api-versions"},
	} {
		t.Run(args[0], func(t *testing.T) {
			// A short deadline stands in for the ten seconds the tools wait.
			ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
			defer cancel()
			_, _, err := admRun(ctx, append(args, "--bootstrap-server", "127.0.0.1:1")...)
			if err == nil || !strings.Contains(err.Error(), "cannot reach a broker at 127.0.0.1:1") {
				t.Fatalf("error %v, want one saying the broker cannot be reached", err)
			}
			if strings.Contains(err.Error(), "\n") {
				t.Errorf("error is not one line: %q", err)
			}
		})
	}
}

func TestAdminHelp(t *testing.T) {
	for _, cmd := range []string{"topics", "configs", "get-offsets", "delete-records", "broker-api-versions", "dump-log"} {
		out, _, err := admRun(context.Background(), cmd, "--help")
		if err != nil {
			t.Errorf("%s --help: %v", cmd, err)
		}
		if !strings.HasPrefix(out, "Usage: samsa "+cmd+" [flags]") {
			t.Errorf("%s --help printed %q", cmd, out)
		}
	}
}
