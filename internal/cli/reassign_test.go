package cli

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/samsa-io/samsa/internal/brokertest"
)

// writeTemp writes data to a file in a test directory and returns its path.
func writeTemp(t *testing.T, name, data string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// reassignJSON is a reassignment file's text as the tool prints it, for partitions 0, 1, ...
// of topic rp with the given replicas.
func reassignJSON(replicas ...[]int32) string {
	var rows []string
	for p, rs := range replicas {
		dirs := strings.TrimSuffix(strings.Repeat(`"any",`, len(rs)), ",")
		rows = append(rows, fmt.Sprintf(`{"topic":"rp","partition":%d,"replicas":[%s],"log_dirs":[%s]}`, p, joinIDs(rs), dirs))
	}
	return `{"version":1,"partitions":[` + strings.Join(rows, ",") + `]}`
}

// TestReassignPartitionsInPlace runs every action of reassign-partitions with the
// current assignment as the target, so nothing moves (on one node it is the only
// assignment), and checks Kafka's texts.
func TestReassignPartitionsInPlace(t *testing.T) {
	tb := startBroker(t, nil)
	ctx := brokertest.Ctx(t)
	tb.CreateTopic("rp", 2, nil)
	old := reassignIntN
	reassignIntN = func(int) int { return 0 }
	t.Cleanup(func() { reassignIntN = old })

	nodes := nodeIDs(tb)
	layout := topicLayout(t, tb, "rp", len(nodes))
	r0, r1 := layout[0].Replicas, layout[1].Replicas
	// With the random start and shift fixed at 0, Kafka's assignment gives partition p the
	// broker list rotated to start at its p-th broker.
	proposed := reassignJSON(nodes, append(slices.Clone(nodes[1%len(nodes):]), nodes[:1%len(nodes)]...))
	brokerList := joinIDs(nodes)

	topics := writeTemp(t, "topics.json", `{"version":1,"topics":[{"topic":"rp"}]}`)
	target := writeTemp(t, "target.json", fmt.Sprintf(`{"version":1,"partitions":[{"topic":"rp","partition":1,"replicas":[%s],"log_dirs":[%s]},{"topic":"rp","partition":0,"replicas":[%s]}]}`,
		joinIDs(r1), strings.TrimSuffix(strings.Repeat(`"any",`, len(r1)), ","), joinIDs(r0)))
	unknownBroker := writeTemp(t, "unknown.json", `{"partitions":[{"topic":"rp","partition":0,"replicas":[1,9]}]}`)
	unknownPart := writeTemp(t, "unknownpart.json", `{"partitions":[{"topic":"rp","partition":7,"replicas":[1]}]}`)
	dups := writeTemp(t, "dups.json", `{"partitions":[{"topic":"rp","partition":0,"replicas":[1]},{"topic":"rp","partition":0,"replicas":[1]}]}`)
	dupReplicas := writeTemp(t, "dupreplicas.json", `{"partitions":[{"topic":"rp","partition":0,"replicas":[1,1]}]}`)
	empty := writeTemp(t, "empty.json", `{"version":1,"partitions":[]}`)
	logDir := writeTemp(t, "logdir.json", `{"partitions":[{"topic":"rp","partition":0,"replicas":[1],"log_dirs":["/data"]}]}`)
	badVersion := writeTemp(t, "version.json", `{"version":2,"partitions":[]}`)
	missingTopic := writeTemp(t, "missing.json", `{"version":1,"topics":[{"topic":"nope"}]}`)

	current := reassignJSON(r0, r1)
	if !tb.InCluster() && current != `{"version":1,"partitions":[{"topic":"rp","partition":0,"replicas":[1],"log_dirs":["any"]},{"topic":"rp","partition":1,"replicas":[1],"log_dirs":["any"]}]}` {
		t.Fatalf("one node's assignment %s", current)
	}
	rp := "reassign-partitions"
	admRunSteps(t, ctx, tb.Addr, []admStep{
		{name: "list none", args: []string{rp, "--list"}, want: "No partition reassignments found.\n"},
		{name: "generate", args: []string{rp, "--generate", "--topics-to-move-json-file", topics, "--broker-list", brokerList},
			want: "Current partition replica assignment\n" + current + "\n\nProposed partition reassignment configuration\n" + proposed + "\n"},
		{name: "generate too few brokers", args: []string{rp, "--generate", "--topics-to-move-json-file", topics, "--broker-list", "5"},
			wantErr: fmt.Sprintf("Replication factor: %d larger than available brokers: 0.", len(nodes))},
		{name: "generate duplicate brokers", args: []string{rp, "--generate", "--topics-to-move-json-file", topics, "--broker-list", "1,1"},
			wantErr: "Broker list contains duplicate entries: [1]"},
		{name: "generate unknown topic", args: []string{rp, "--generate", "--topics-to-move-json-file", missingTopic, "--broker-list", brokerList},
			wantErr: "Topic nope not found."},
		{name: "execute", args: []string{rp, "--execute", "--reassignment-json-file", target},
			want: "Current partition replica assignment\n\n" + current + "\n\nSave this to use as the --reassignment-json-file option during rollback\n" +
				"Successfully started partition reassignments for rp-0,rp-1\n"},
		{name: "verify", args: []string{rp, "--verify", "--reassignment-json-file", target},
			want: "Status of partition reassignment:\nReassignment of partition rp-0 is completed.\nReassignment of partition rp-1 is completed.\n"},
		{name: "verify mismatch", args: []string{rp, "--verify", "--reassignment-json-file", unknownBroker},
			want: "Status of partition reassignment:\nThere is no active reassignment of partition rp-0, but replica set is " + joinIDs(r0) + " rather than 1,9.\n"},
		{name: "cancel inactive", args: []string{rp, "--cancel", "--reassignment-json-file", target},
			want: "None of the specified partition reassignments are active.\nNone of the specified partition moves are active.\n"},
		{name: "unknown broker", args: []string{rp, "--execute", "--reassignment-json-file", unknownBroker}, wantErr: "Unknown broker id 9"},
		{name: "unknown partition", args: []string{rp, "--execute", "--reassignment-json-file", unknownPart}, wantErr: "Unable to find partition: rp-7"},
		{name: "duplicate partitions", args: []string{rp, "--execute", "--reassignment-json-file", dups}, wantErr: "Partition reassignment contains duplicate topic partitions: rp-0"},
		{name: "duplicate replicas", args: []string{rp, "--execute", "--reassignment-json-file", dupReplicas},
			wantErr: "Partition replica lists may not contain duplicate entries: rp-0 contains multiple entries for 1"},
		{name: "empty", args: []string{rp, "--execute", "--reassignment-json-file", empty}, wantErr: "Partition reassignment list cannot be empty"},
		{name: "log dir", args: []string{rp, "--execute", "--reassignment-json-file", logDir}, wantErr: `log_dirs may only be "any"`},
		{name: "version", args: []string{rp, "--verify", "--reassignment-json-file", badVersion}, wantErr: "Not supported version field value 2"},
		{name: "no action", args: []string{rp}, wantErr: "Command must include exactly one action: --generate, --execute, --verify, --cancel, --list"},
		{name: "two actions", args: []string{rp, "--list", "--verify"}, wantErr: "Command must include exactly one action"},
		{name: "no file", args: []string{rp, "--execute"}, wantErr: `Missing required argument "[reassignment-json-file]"`},
		{name: "no broker list", args: []string{rp, "--generate", "--topics-to-move-json-file", topics}, wantErr: `Missing required argument "[broker-list]"`},
	})
}

func TestLeaderElectionOneNode(t *testing.T) {
	tb := startBroker(t, nil)
	ctx := brokertest.Ctx(t)
	tb.CreateTopic("le", 2, nil)
	parts := writeTemp(t, "parts.json", `{"partitions":[{"topic":"le","partition":1},{"topic":"le","partition":0}]}`)
	dups := writeTemp(t, "dups.json", `{"partitions":[{"topic":"le","partition":1},{"topic":"le","partition":1}]}`)
	noField := writeTemp(t, "nofield.json", `{"version":1}`)
	le := "leader-election"
	admRunSteps(t, ctx, tb.Addr, []admStep{
		{name: "preferred one", args: []string{le, "--election-type", "preferred", "--topic", "le", "--partition", "0"},
			want: "Valid replica already elected for partitions le-0\n"},
		{name: "unclean one", args: []string{le, "--election-type", "UNCLEAN", "--topic", "le", "--partition", "1"},
			want: "Valid replica already elected for partitions le-1\n"},
		{name: "json file", args: []string{le, "--election-type", "preferred", "--path-to-json-file", parts},
			want: "Valid replica already elected for partitions le-0, le-1\n"},
		{name: "all", args: []string{le, "--election-type", "preferred", "--all-topic-partitions"}, want: ""},
		{name: "unknown partition", args: []string{le, "--election-type", "preferred", "--topic", "le", "--partition", "9"},
			wantErr: "1 replica(s) could not be elected"},
		{name: "no type", args: []string{le, "--all-topic-partitions"}, wantErr: "Missing required option(s): election-type"},
		{name: "bad type", args: []string{le, "--election-type", "random", "--all-topic-partitions"}, wantErr: "is not preferred or unclean"},
		{name: "none", args: []string{le, "--election-type", "preferred"},
			wantErr: "One and only one of the following options is required: topic, all-topic-partitions, path-to-json-file"},
		{name: "two", args: []string{le, "--election-type", "preferred", "--all-topic-partitions", "--topic", "le", "--partition", "0"},
			wantErr: "One and only one of the following options is required"},
		{name: "topic without partition", args: []string{le, "--election-type", "preferred", "--topic", "le"}, wantErr: "Missing required option(s): partition"},
		{name: "partition without topic", args: []string{le, "--election-type", "preferred", "--all-topic-partitions", "--partition", "0"},
			wantErr: "Option partition is only allowed if topic is used"},
		{name: "duplicates", args: []string{le, "--election-type", "preferred", "--path-to-json-file", dups},
			wantErr: "Replica election data contains duplicate partitions: [le-1]"},
		{name: "no partitions field", args: []string{le, "--election-type", "preferred", "--path-to-json-file", noField},
			wantErr: `Replica election data is missing "partitions" field`},
	})

	// The failed partition is reported on stdout as Kafka does.
	out, _, err := admRun(ctx, le, "--bootstrap-server", tb.Addr, "--election-type", "preferred", "--topic", "le", "--partition", "9")
	if err == nil || out != "Error completing leader election (PREFERRED) for partition: le-9: "+
		"metadata: elect leader of le-9: no such partition: UNKNOWN_TOPIC_OR_PARTITION: This server does not host this topic-partition.\n" {
		t.Fatalf("unknown partition: %q, %v", out, err)
	}
}
