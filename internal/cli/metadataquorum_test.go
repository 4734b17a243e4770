package cli

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/samsa-io/samsa/internal/brokertest"
)

// TestMetadataQuorum runs describe --status and --replication against one node, which is
// the whole quorum, or against a cluster whose every node is a voter.
func TestMetadataQuorum(t *testing.T) {
	tb := startBroker(t, nil)
	ctx := brokertest.Ctx(t)
	leader, epoch := quorumLeader(t, tb)
	var voters []string
	for i, n := range tb.Nodes() {
		voters = append(voters, fmt.Sprintf(`{"id": %d, "endpoints": [%q]}`, i+1, n.QuorumEndpoint()))
	}
	// Alone, the node is the leader of the first epoch with no followers. A cluster's
	// followers may be a record behind at the moment of asking.
	lag, lagTime := `0`, `0`
	statusCol, leaderCell, followerLag := "Status", "Leader", ``
	if tb.InCluster() {
		lag, lagTime = `\d+`, `-?\d+`
		statusCol, leaderCell, followerLag = "Status  ", "Leader  ", `\d+ *`
	}
	row := func(id int32, lag, times, status string) string {
		return fmt.Sprintf(`%-6d\tAAAAAAAAAAAAAAAAAAAAAA\t[1-9]\d* *\t%s\t%s\t%s\t\n`, id, lag, times, status)
	}
	rows := func(times string) string {
		out := row(leader, "0  ", times, leaderCell)
		for _, id := range nodeIDs(tb) {
			if id != leader {
				out += row(id, followerLag, times, "Follower")
			}
		}
		return out
	}
	admRunSteps(t, ctx, tb.Addr, []admStep{
		{name: "status", args: []string{"metadata-quorum", "describe", "--status"}, wantRe: regexp.MustCompile(`^` +
			`ClusterId:              [A-Za-z0-9_-]{22}\n` +
			fmt.Sprintf("LeaderId:               %d\n", leader) +
			fmt.Sprintf("LeaderEpoch:            %d\n", epoch) +
			`HighWatermark:          [1-9]\d*\n` +
			`MaxFollowerLag:         ` + lag + `\n` +
			`MaxFollowerLagTimeMs:   ` + lagTime + `\n` +
			`CurrentVoters:          ` + regexp.QuoteMeta("["+strings.Join(voters, ", ")+"]") + `\n` +
			`CurrentObservers:       \[\]\n$`)},
		{name: "replication", args: []string{"metadata-quorum", "describe", "--replication"}, wantRe: regexp.MustCompile(`^` +
			`NodeId\tDirectoryId           \tLogEndOffset\tLag\tLastFetchTimestamp\tLastCaughtUpTimestamp\t` + statusCol + `\t\n` +
			rows(`\d{13}     \t\d{13}        `) + `$`)},
		{name: "human readable", args: []string{"metadata-quorum", "describe", "--replication", "--human-readable"}, wantRe: regexp.MustCompile(
			`\n` + rows(`\d+ ms ago *\t\d+ ms ago *`) + `$`)},
	})
	if !tb.InCluster() && (leader != 1 || epoch != 1) {
		t.Errorf("a single node's quorum: leader %d in epoch %d, want node 1 in epoch 1", leader, epoch)
	}
	// --bootstrap-controller stands in for --bootstrap-server, and flags may follow the
	// command.
	out, _, err := admRun(ctx, "metadata-quorum", "describe", "--bootstrap-controller", tb.Addr, "--status")
	if err != nil || !strings.HasPrefix(out, "ClusterId:") {
		t.Errorf("--bootstrap-controller: %v\n%s", err, out)
	}
}

func TestMetadataQuorumUsage(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		wantErr string
	}{
		{"no command", []string{"metadata-quorum", "--bootstrap-server", "127.0.0.1:1"}, "a command is required: describe"},
		{"neither", []string{"metadata-quorum", "describe"}, "One of --status or --replication must be specified with describe sub-command"},
		{"both", []string{"metadata-quorum", "describe", "--status", "--replication"}, "Only one of --status or --replication should be specified with describe sub-command"},
		{"human readable status", []string{"metadata-quorum", "describe", "--status", "--human-readable"}, "The option --human-readable is only supported along with --replication"},
		{"two bootstraps", []string{"metadata-quorum", "--bootstrap-server", "a:1", "--bootstrap-controller", "b:1", "describe", "--status"}, "not allowed with argument --bootstrap-server"},
		{"other command", []string{"metadata-quorum", "show"}, "invalid choice: 'show'"},
		{"add-controller", []string{"metadata-quorum", "add-controller"}, "add-controller is not supported"},
		{"extra argument", []string{"metadata-quorum", "describe", "now", "--status"}, `unexpected argument "now"`},
		{"bad flag", []string{"metadata-quorum", "describe", "--bogus"}, "flag provided but not defined: -bogus"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := admRun(context.Background(), tt.args...)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("error %v, want one containing %q", err, tt.wantErr)
			}
			if !errors.Is(err, errUsage) {
				t.Errorf("not a usage error: %v", err)
			}
		})
	}
}

// TestQuorumOutput checks the two layouts against a three-voter quorum with a lagging
// follower and an observer, as Kafka's MetadataQuorumCommand prints them.
func TestQuorumOutput(t *testing.T) {
	replica := func(id int32, leo, fetch, caughtUp int64) kmsg.DescribeQuorumResponseTopicPartitionReplicaState {
		r := kmsg.NewDescribeQuorumResponseTopicPartitionReplicaState()
		r.ReplicaID, r.LogEndOffset, r.LastFetchTimestamp, r.LastCaughtUpTimestamp = id, leo, fetch, caughtUp
		return r
	}
	q := &quorumInfo{
		leaderID:      2,
		leaderEpoch:   7,
		highWatermark: 120,
		voters: []kmsg.DescribeQuorumResponseTopicPartitionReplicaState{
			replica(1, 120, 1700000000900, 1700000000900),
			replica(2, 125, 1700000001000, 1700000001000),
			replica(3, 100, 1700000000500, 1700000000200),
		},
		observers: []kmsg.DescribeQuorumResponseTopicPartitionReplicaState{replica(4, 90, -1, -1)},
		endpoints: map[int32][]string{
			1: {"CONTROLLER://n1:9093"},
			2: {"CONTROLLER://n2:9093"},
			3: {"CONTROLLER://[::1]:9093"},
		},
	}
	q.voters[0].ReplicaDirectoryID = [16]byte{1}

	var status bytes.Buffer
	if err := printQuorumStatus(&status, "cid", q); err != nil {
		t.Fatal(err)
	}
	wantStatus := `ClusterId:              cid
LeaderId:               2
LeaderEpoch:            7
HighWatermark:          120
MaxFollowerLag:         25
MaxFollowerLagTimeMs:   800
CurrentVoters:          [{"id": 1, "directoryId": "AQAAAAAAAAAAAAAAAAAAAA", "endpoints": ["CONTROLLER://n1:9093"]}, {"id": 2, "endpoints": ["CONTROLLER://n2:9093"]}, {"id": 3, "endpoints": ["CONTROLLER://[::1]:9093"]}]
CurrentObservers:       [{"id": 4}]
`
	if status.String() != wantStatus {
		t.Errorf("status:\n%s\nwant\n%s", status.String(), wantStatus)
	}

	var repl bytes.Buffer
	if err := printQuorumReplication(&repl, q, false, time.UnixMilli(1700000002000)); err != nil {
		t.Fatal(err)
	}
	wantRepl := "" +
		"NodeId\tDirectoryId           \tLogEndOffset\tLag\tLastFetchTimestamp\tLastCaughtUpTimestamp\tStatus  \t\n" +
		"2     \tAAAAAAAAAAAAAAAAAAAAAA\t125         \t0  \t1700000001000     \t1700000001000        \tLeader  \t\n" +
		"1     \tAQAAAAAAAAAAAAAAAAAAAA\t120         \t5  \t1700000000900     \t1700000000900        \tFollower\t\n" +
		"3     \tAAAAAAAAAAAAAAAAAAAAAA\t100         \t25 \t1700000000500     \t1700000000200        \tFollower\t\n" +
		"4     \tAAAAAAAAAAAAAAAAAAAAAA\t90          \t35 \t-1                \t-1                   \tObserver\t\n"
	if repl.String() != wantRepl {
		t.Errorf("replication:\n%q\nwant\n%q", repl.String(), wantRepl)
	}

	repl.Reset()
	if err := printQuorumReplication(&repl, q, true, time.UnixMilli(1700000002000)); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(repl.String(), "\t1000 ms ago       \t1000 ms ago          \tLeader  \t\n") ||
		!strings.Contains(repl.String(), "\t-1                \t-1                   \tObserver\t\n") {
		t.Errorf("human-readable replication:\n%s", repl.String())
	}

	// MaxFollowerLagTimeMs compares the leader with the first voter furthest behind: 0
	// when that is the leader, the caught-up times' difference when both are known, else
	// -1. Voter 2 leads.
	tests := []struct {
		name        string
		leo         [3]int64
		caughtUp    [3]int64
		wantLag     string
		wantLagTime string
	}{
		{"all equal, voter 1 first of equals", [3]int64{125, 125, 125}, [3]int64{1, 1, 1}, "0", "0"},
		{"unknown caught-up time", [3]int64{125, 125, 100}, [3]int64{1, 1, -1}, "25", "-1"},
		{"follower ahead of leader", [3]int64{130, 125, 125}, [3]int64{5, 9, 9}, "0", "0"},
	}
	for _, tt := range tests {
		qq := *q
		qq.voters = nil
		for i := range 3 {
			qq.voters = append(qq.voters, replica(int32(i+1), tt.leo[i], 1, tt.caughtUp[i]))
		}
		var out bytes.Buffer
		if err := printQuorumStatus(&out, "c", &qq); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(out.String(), "MaxFollowerLag:         "+tt.wantLag+"\n") || !strings.Contains(out.String(), "MaxFollowerLagTimeMs:   "+tt.wantLagTime+"\n") {
			t.Errorf("%s:\n%s\nwant lag %s, lag time %s", tt.name, out.String(), tt.wantLag, tt.wantLagTime)
		}
	}

	noLeader := *q
	noLeader.leaderID = -1
	if err := printQuorumStatus(&bytes.Buffer{}, "c", &noLeader); err == nil || !strings.Contains(err.Error(), "no leader") {
		t.Errorf("status without a leader: %v", err)
	}
}

func TestMetadataToolsHelp(t *testing.T) {
	for _, cmd := range []string{"metadata-quorum", "metadata"} {
		out, _, err := admRun(context.Background(), cmd, "--help")
		if err != nil {
			t.Errorf("%s --help: %v", cmd, err)
		}
		if !strings.HasPrefix(out, "Usage: samsa "+cmd+" [flags]") {
			t.Errorf("%s --help printed %q", cmd, out)
		}
	}
}

// TestMetadataToolsUnreachable: with no broker answering, both tools give up with one
// line naming the address.
func TestMetadataToolsUnreachable(t *testing.T) {
	for _, args := range [][]string{
		{"metadata-quorum", "describe", "--status"},
		{"metadata", "ls", "/brokers/ids"},
		{"metadata"},
	} {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
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
