package cli

import (
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
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/samsa-io/samsa/internal/brokertest"
)

// cgBroker starts a broker whose groups rebalance at once, so tests need not wait out
// group.initial.rebalance.delay.ms.
func cgBroker(t *testing.T) *brokertest.Broker {
	return startBroker(t, map[string]string{"group.initial.rebalance.delay.ms": "0"})
}

// cgRun runs samsa consumer-groups against addr.
func cgRun(ctx context.Context, addr string, args ...string) (stdout, stderr string, err error) {
	return admRun(ctx, append([]string{"consumer-groups", "--bootstrap-server", addr}, args...)...)
}

// cgMustRun runs consumer-groups and fails the test on error.
func cgMustRun(t *testing.T, ctx context.Context, addr string, args ...string) (stdout, stderr string) {
	t.Helper()
	out, errOut, err := cgRun(ctx, addr, args...)
	if err != nil {
		t.Fatalf("consumer-groups %v: %v (stdout %q, stderr %q)", args, err, out, errOut)
	}
	return out, errOut
}

// cgCommitted reads a group's committed offsets with kadm, as "topic:partition" → offset.
func cgCommitted(t *testing.T, adm *kadm.Client, group string) map[string]int64 {
	t.Helper()
	resps, err := adm.FetchOffsets(brokertest.Ctx(t), group)
	if err != nil {
		t.Fatalf("FetchOffsets %s: %v", group, err)
	}
	out := make(map[string]int64)
	resps.Each(func(r kadm.OffsetResponse) {
		if r.Err == nil && r.At >= 0 {
			out[fmt.Sprintf("%s:%d", r.Topic, r.Partition)] = r.At
		}
	})
	return out
}

func sameOffsets(a, b map[string]int64) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

// offsetsLine is one line of --describe, padded as Kafka pads it.
func offsetsLine(gw, tw, cw, hw int, cols ...string) string {
	return fmt.Sprintf("%-*s %-*s %-10s %-15s %-15s %-15s %-*s %-*s %s",
		gw, cols[0], tw, cols[1], cols[2], cols[3], cols[4], cols[5], cw, cols[6], hw, cols[7], cols[8])
}

// TestConsumerGroupsWalkThrough follows the seeds' tutorial: a topic, keyed lines from
// console-producer, console-consumer in a group, then the group's lag as records are
// added and after a reset.
func TestConsumerGroupsWalkThrough(t *testing.T) {
	tb := cgBroker(t)
	ctx := brokertest.Ctx(t)
	admRunSteps(t, ctx, tb.Addr, []admStep{
		{name: "create", args: []string{"topics", "--create", "--topic", "orders", "--partitions", "1"}, want: "Created topic orders.\n"},
	})
	produce := func(lines string) {
		t.Helper()
		if _, stderr, err := ctRun(ctx, lines, "console-producer", "--bootstrap-server", tb.Addr, "--topic", "orders",
			"--property", "parse.key=true", "--property", "key.separator=:"); err != nil {
			t.Fatalf("console-producer: %v (%s)", err, stderr)
		}
	}
	produce("alice:apple\nbob:banana\ncarol:cherry\n")
	out, stderr, err := ctRun(ctx, "", "console-consumer", "--bootstrap-server", tb.Addr, "--topic", "orders",
		"--group", "g", "--from-beginning", "--max-messages", "3", "--property", "print.key=true")
	if err != nil {
		t.Fatalf("console-consumer: %v (%s)", err, stderr)
	}
	if out != "alice\tapple\nbob\tbanana\ncarol\tcherry\n" {
		t.Fatalf("console-consumer printed %q", out)
	}

	header := "\nGROUP           TOPIC           PARTITION  CURRENT-OFFSET  LOG-END-OFFSET  LAG             CONSUMER-ID     HOST            CLIENT-ID"
	row := func(current, end, lag string) string {
		return "\n" + offsetsLine(15, 15, 15, 15, "g", "orders", "0", current, end, lag, "-", "-", "-")
	}
	out, stderr = cgMustRun(t, ctx, tb.Addr, "--describe", "--group", "g")
	if want := header + row("3", "3", "0") + "\n"; out != want {
		t.Errorf("describe after consuming:\n%q\nwant\n%q", out, want)
	}
	if stderr != "\nConsumer group 'g' has no active members.\n" {
		t.Errorf("describe stderr %q", stderr)
	}

	produce("dave:date\nerin:elderberry\n")
	out, _ = cgMustRun(t, ctx, tb.Addr, "--describe", "--group", "g")
	if want := header + row("3", "5", "2") + "\n"; out != want {
		t.Errorf("describe after producing more:\n%q\nwant\n%q", out, want)
	}

	out, _ = cgMustRun(t, ctx, tb.Addr, "--reset-offsets", "--group", "g", "--topic", "orders", "--to-earliest", "--execute")
	if want := "\nGROUP           TOPIC           PARTITION  NEW-OFFSET\ng               orders          0          0\n"; out != want {
		t.Errorf("reset output:\n%q\nwant\n%q", out, want)
	}
	out, _ = cgMustRun(t, ctx, tb.Addr, "--describe", "--group", "g")
	if want := header + row("0", "5", "5") + "\n"; out != want {
		t.Errorf("describe after reset:\n%q\nwant\n%q", out, want)
	}

	// The group picks up from the reset position.
	out, _, err = ctRun(ctx, "", "console-consumer", "--bootstrap-server", tb.Addr, "--topic", "orders",
		"--group", "g", "--max-messages", "1")
	if err != nil || out != "apple\n" {
		t.Errorf("consumer after reset: %q, %v", out, err)
	}

	out, _ = cgMustRun(t, ctx, tb.Addr, "--list")
	if out != "g\n" {
		t.Errorf("list: %q", out)
	}
	out, _ = cgMustRun(t, ctx, tb.Addr, "--delete", "--group", "g")
	if out != "Deletion of requested consumer groups ('g') was successful.\n" {
		t.Errorf("delete: %q", out)
	}
	out, _ = cgMustRun(t, ctx, tb.Addr, "--list")
	if out != "" {
		t.Errorf("list after delete: %q", out)
	}
	if _, _, err := cgRun(ctx, tb.Addr, "--describe", "--group", "g"); err == nil || err.Error() != "Error: Consumer group 'g' does not exist." {
		t.Errorf("describe after delete: %v", err)
	}
}

// cgConsumer is a franz-go group member that has consumed want records and committed.
func cgConsumer(t *testing.T, tb *brokertest.Broker, group, topic, clientID string, want int) *kgo.Client {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(tb.Addr), kgo.ClientID(clientID), kgo.ConsumerGroup(group),
		kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.DisableAutoCommit())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	ctx := brokertest.Ctx(t)
	got := 0
	for got < want {
		f := cl.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			t.Fatalf("group %s consumed %d of %d records: %v", group, got, want, err)
		}
		f.EachError(func(tp string, p int32, err error) { t.Fatalf("fetch %s-%d: %v", tp, p, err) })
		got += f.NumRecords()
	}
	if err := cl.CommitUncommittedOffsets(ctx); err != nil {
		t.Fatalf("commit: %v", err)
	}
	return cl
}

func cgProduce(t *testing.T, tb *brokertest.Broker, topic string, perPartition ...int) {
	t.Helper()
	cl := tb.Client(kgo.RecordPartitioner(kgo.ManualPartitioner()))
	var recs []*kgo.Record
	for p, n := range perPartition {
		for i := 0; i < n; i++ {
			recs = append(recs, &kgo.Record{Topic: topic, Partition: int32(p), Value: []byte("v")})
		}
	}
	if err := cl.ProduceSync(brokertest.Ctx(t), recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
}

// TestConsumerGroupsActiveGroup describes a group with a live franz-go member: the
// offsets, members and state views, JSON, and the refusals an active group gets.
func TestConsumerGroupsActiveGroup(t *testing.T) {
	tb := cgBroker(t)
	ctx := brokertest.Ctx(t)
	tb.CreateTopic("cg", 2, nil)
	cgProduce(t, tb, "cg", 4, 2)
	member := cgConsumer(t, tb, "active", "cg", "cg-client", 6)
	cgProduce(t, tb, "cg", 3, 0)
	adm := tb.Admin()

	dgs, err := adm.DescribeGroups(ctx, "active")
	if err != nil {
		t.Fatal(err)
	}
	dg := dgs["active"]
	if dg.State != "Stable" || len(dg.Members) != 1 {
		t.Fatalf("group is %s with %d members", dg.State, len(dg.Members))
	}
	memberID, _ := member.GroupMetadata()
	m := dg.Members[0]
	if m.MemberID != memberID || m.ClientID != "cg-client" || m.ClientHost == "" {
		t.Fatalf("member %+v, want id %s", m, memberID)
	}
	cw, hw := max(15, len(memberID)), max(15, len(m.ClientHost))

	out, stderr := cgMustRun(t, ctx, tb.Addr, "--describe", "--group", "active")
	want := "\n" + offsetsLine(15, 15, cw, hw, "GROUP", "TOPIC", "PARTITION", "CURRENT-OFFSET", "LOG-END-OFFSET", "LAG", "CONSUMER-ID", "HOST", "CLIENT-ID") +
		"\n" + offsetsLine(15, 15, cw, hw, "active", "cg", "0", "4", "7", "3", memberID, m.ClientHost, "cg-client") +
		"\n" + offsetsLine(15, 15, cw, hw, "active", "cg", "1", "2", "2", "0", memberID, m.ClientHost, "cg-client") + "\n"
	if out != want || stderr != "" {
		t.Errorf("describe:\n%q\nwant\n%q\nstderr %q", out, want, stderr)
	}
	// --offsets is the default view; --verbose adds the committed leader epoch.
	if out2, _ := cgMustRun(t, ctx, tb.Addr, "--describe", "--group", "active", "--offsets"); out2 != want {
		t.Errorf("--offsets differs from the default view:\n%q", out2)
	}
	out, _ = cgMustRun(t, ctx, tb.Addr, "--describe", "--group", "active", "--verbose")
	if !strings.HasPrefix(out, "\nGROUP           TOPIC           PARTITION  LEADER-EPOCH    CURRENT-OFFSET  LOG-END-OFFSET  LAG             CONSUMER-ID") {
		t.Errorf("verbose describe:\n%s", out)
	}

	out, _ = cgMustRun(t, ctx, tb.Addr, "--describe", "--group", "active", "--members")
	want = fmt.Sprintf("\n%-15s %-*s %-*s %-15s %-15s \n%-15s %-*s %-*s %-15s %-15s \n",
		"GROUP", cw, "CONSUMER-ID", hw, "HOST", "CLIENT-ID", "#PARTITIONS",
		"active", cw, memberID, hw, m.ClientHost, "cg-client", "2")
	if out != want {
		t.Errorf("members:\n%q\nwant\n%q", out, want)
	}
	out, _ = cgMustRun(t, ctx, tb.Addr, "--describe", "--group", "active", "--members", "--verbose")
	want = fmt.Sprintf("\n%-15s %-*s %-*s %-15s %-15s %-15s %-20s %-15s %-20s\n%-15s %-*s %-*s %-15s %-15s %-15s %-20s %-15s %-20s\n",
		"GROUP", cw, "CONSUMER-ID", hw, "HOST", "CLIENT-ID", "#PARTITIONS", "CURRENT-EPOCH", "CURRENT-ASSIGNMENT", "TARGET-EPOCH", "TARGET-ASSIGNMENT",
		"active", cw, memberID, hw, m.ClientHost, "cg-client", "2", "-", "cg:0,1", "-", "-")
	if out != want {
		t.Errorf("members --verbose:\n%q\nwant\n%q", out, want)
	}

	out, _ = cgMustRun(t, ctx, tb.Addr, "--describe", "--group", "active", "--state")
	coord := fmt.Sprintf("%s:%d  (%d)", dg.Coordinator.Host, dg.Coordinator.Port, dg.Coordinator.NodeID)
	want = fmt.Sprintf("\n%-15s %-*s %-20s %-20s %s\n%-15s %-*s %-20s %-20s %s\n",
		"GROUP", max(25, len(coord)), "COORDINATOR (ID)", "ASSIGNMENT-STRATEGY", "STATE", "#MEMBERS",
		"active", max(25, len(coord)), coord, dg.Protocol, "Stable", "1")
	if out != want || dg.Protocol == "" {
		t.Errorf("state:\n%q\nwant\n%q", out, want)
	}

	out, _ = cgMustRun(t, ctx, tb.Addr, "--describe", "--group", "active", "--output", "json")
	wantRe := regexp.MustCompile(`(?s)^\[\n  \{\n    "group": "active",\n    "state": "Stable",\n    "partitions": \[\n      \{\n        "topic": "cg",\n        "partition": 0,\n        "leader_epoch": (null|\d+),\n        "current_offset": 4,\n        "log_end_offset": 7,\n        "lag": 3,\n        "consumer_id": "` + regexp.QuoteMeta(memberID) + `",`)
	if !wantRe.MatchString(out) {
		t.Errorf("describe json:\n%s", out)
	}
	out, _ = cgMustRun(t, ctx, tb.Addr, "--describe", "--group", "active", "--state", "--output", "json")
	if !strings.Contains(out, `"state": "Stable"`) || !strings.Contains(out, `"members": 1`) || !strings.Contains(out, `"assignment_strategy": "`+dg.Protocol+`"`) {
		t.Errorf("state json:\n%s", out)
	}
	out, _ = cgMustRun(t, ctx, tb.Addr, "--describe", "--group", "active", "--members", "--output", "json")
	if !strings.Contains(out, `"assignment": [`+"\n"+`          {`+"\n"+`            "topic": "cg",`) || !strings.Contains(out, `"partitions": 2,`) {
		t.Errorf("members json:\n%s", out)
	}

	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"--list"}, "active\n"},
		{[]string{"--list", "--state"}, "GROUP                     STATE               \nactive                    Stable              \n"},
		{[]string{"--list", "--state", "stable,empty"}, "GROUP                     STATE               \nactive                    Stable              \n"},
		{[]string{"--list", "--state", "Empty"}, "GROUP                     STATE               \n"},
		{[]string{"--list", "--type"}, "GROUP                     TYPE                \nactive                    Classic             \n"},
		{[]string{"--list", "--type", "consumer", "--state"}, "GROUP                     TYPE                 STATE               \n"},
		{[]string{"--list", "--output", "json"}, "[\n  {\n    \"group\": \"active\",\n    \"type\": \"Classic\",\n    \"state\": \"Stable\"\n  }\n]\n"},
	} {
		if out, _ := cgMustRun(t, ctx, tb.Addr, tt.args...); out != tt.want {
			t.Errorf("%v:\n%q\nwant\n%q", tt.args, out, tt.want)
		}
	}

	// An active group's offsets cannot be reset, nor the group deleted.
	before := cgCommitted(t, adm, "active")
	_, _, err = cgRun(ctx, tb.Addr, "--reset-offsets", "--group", "active", "--topic", "cg", "--to-earliest", "--execute")
	if err == nil || err.Error() != "Error: Assignments can only be reset if the group 'active' is inactive, but the current state is Stable." {
		t.Errorf("reset of an active group: %v", err)
	}
	if after := cgCommitted(t, adm, "active"); !sameOffsets(before, after) {
		t.Errorf("refused reset changed offsets: %v → %v", before, after)
	}
	out, _, err = cgRun(ctx, tb.Addr, "--delete", "--group", "active")
	if err == nil || !strings.Contains(out, "* Group 'active' could not be deleted due to: org.apache.kafka.common.errors.GroupNotEmptyException: The group is not empty.\n") {
		t.Errorf("delete of an active group: %v, stdout %q", err, out)
	}
	out, _, err = cgRun(ctx, tb.Addr, "--delete-offsets", "--group", "active", "--topic", "cg")
	if err == nil || !strings.Contains(out, "Error: org.apache.kafka.common.errors.GroupSubscribedToTopicException") {
		t.Errorf("delete-offsets of a subscribed topic: %v, stdout %q", err, out)
	}
	if after := cgCommitted(t, adm, "active"); !sameOffsets(before, after) {
		t.Errorf("refused delete-offsets changed offsets: %v → %v", before, after)
	}

	// Once the member leaves, the group is Empty and its partitions have no consumer.
	member.Close()
	out, stderr = cgMustRun(t, ctx, tb.Addr, "--describe", "--group", "active")
	want = "\n" + offsetsLine(15, 15, 15, 15, "GROUP", "TOPIC", "PARTITION", "CURRENT-OFFSET", "LOG-END-OFFSET", "LAG", "CONSUMER-ID", "HOST", "CLIENT-ID") +
		"\n" + offsetsLine(15, 15, 15, 15, "active", "cg", "0", "4", "7", "3", "-", "-", "-") +
		"\n" + offsetsLine(15, 15, 15, 15, "active", "cg", "1", "2", "2", "0", "-", "-", "-") + "\n"
	if out != want || stderr != "\nConsumer group 'active' has no active members.\n" {
		t.Errorf("describe of the empty group:\n%q\nwant\n%q\nstderr %q", out, want, stderr)
	}
	out, _ = cgMustRun(t, ctx, tb.Addr, "--describe", "--group", "active", "--members")
	if out != "\nGROUP           CONSUMER-ID     HOST            CLIENT-ID       #PARTITIONS     \n" {
		t.Errorf("members of the empty group: %q", out)
	}
	out, _ = cgMustRun(t, ctx, tb.Addr, "--describe", "--group", "active", "--state")
	if !strings.Contains(out, "\nactive          "+fmt.Sprintf("%-*s", max(25, len(coord)), coord)+" -                    Empty                0\n") {
		t.Errorf("state of the empty group: %q", out)
	}
}

// TestConsumerGroupsReset checks each reset specification on an inactive group, with
// the committed offsets read back through kadm.
func TestConsumerGroupsReset(t *testing.T) {
	tb := cgBroker(t)
	ctx := brokertest.Ctx(t)
	adm := tb.Admin()
	tb.CreateTopic("cg", 2, nil)
	cgProduce(t, tb, "cg", 7, 2)
	// Records stamped one second apart from 2024-01-01T00:00:00Z.
	tb.CreateTopic("ts", 1, nil)
	base := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	var recs []*kgo.Record
	for i := range 5 {
		recs = append(recs, &kgo.Record{Topic: "ts", Value: []byte("v"), Timestamp: base.Add(time.Duration(i) * time.Second)})
	}
	if err := tb.Client().ProduceSync(ctx, recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
	// set makes offs the group's only committed offsets.
	set := func(offs map[string]int64) {
		t.Helper()
		if _, err := adm.DeleteGroups(ctx, "rg"); err != nil {
			t.Fatal(err)
		}
		commits := make(kadm.Offsets)
		for k, v := range offs {
			var topic string
			var p int32
			fmt.Sscanf(strings.Replace(k, ":", " ", 1), "%s %d", &topic, &p)
			commits.Add(kadm.Offset{Topic: topic, Partition: p, At: v, LeaderEpoch: -1})
		}
		if err := adm.CommitAllOffsets(ctx, "rg", commits); err != nil {
			t.Fatal(err)
		}
	}
	dir := t.TempDir()
	plan := filepath.Join(dir, "plan.csv")
	if err := os.WriteFile(plan, []byte("cg,0,5\ncg,1,1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	groupPlan := filepath.Join(dir, "groups.csv")
	if err := os.WriteFile(groupPlan, []byte("rg,cg,0,6\nother,cg,0,1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	start := map[string]int64{"cg:0": 4, "cg:1": 1}
	tests := []struct {
		name   string
		args   []string
		want   map[string]int64
		stdout string // checked when set
		stderr string // must contain, when set
	}{
		{name: "earliest all topics", args: []string{"--all-topics", "--to-earliest"}, want: map[string]int64{"cg:0": 0, "cg:1": 0},
			stdout: "\nGROUP           TOPIC           PARTITION  NEW-OFFSET\nrg              cg              0          0\nrg              cg              1          0\n"},
		{name: "latest", args: []string{"--topic", "cg", "--to-latest"}, want: map[string]int64{"cg:0": 7, "cg:1": 2}},
		{name: "to offset one partition", args: []string{"--topic", "cg:0", "--to-offset", "3"}, want: map[string]int64{"cg:0": 3, "cg:1": 1}},
		{name: "to offset clamped", args: []string{"--topic", "cg:0,1", "--to-offset", "100"}, want: map[string]int64{"cg:0": 7, "cg:1": 2},
			stderr: "WARN New offset (100) is higher than latest offset for topic partition cg-0. Value will be set to 7."},
		{name: "shift back", args: []string{"--topic", "cg", "--shift-by", "-2"}, want: map[string]int64{"cg:0": 2, "cg:1": 0}},
		{name: "shift clamped", args: []string{"--all-topics", "--shift-by", "-10"}, want: map[string]int64{"cg:0": 0, "cg:1": 0},
			stderr: "WARN New offset (-9) is lower than earliest offset for topic partition cg-1. Value will be set to 0."},
		{name: "shift forward", args: []string{"--all-topics", "--shift-by", "2"}, want: map[string]int64{"cg:0": 6, "cg:1": 2}},
		{name: "current", args: []string{"--all-topics", "--to-current"}, want: start},
		{name: "from file", args: []string{"--from-file", plan}, want: map[string]int64{"cg:0": 5, "cg:1": 1}},
		{name: "from file with groups", args: []string{"--from-file", groupPlan}, want: map[string]int64{"cg:0": 6, "cg:1": 1}},
		{name: "datetime UTC", args: []string{"--topic", "ts", "--to-datetime", "2024-01-01T00:00:02.000"}, want: map[string]int64{"cg:0": 4, "cg:1": 1, "ts:0": 2}},
		{name: "datetime zone", args: []string{"--topic", "ts", "--to-datetime", "2024-01-01T01:00:03.000+01:00"}, want: map[string]int64{"cg:0": 4, "cg:1": 1, "ts:0": 3}},
		{name: "datetime between", args: []string{"--topic", "ts", "--to-datetime", "2024-01-01T00:00:01.500Z"}, want: map[string]int64{"cg:0": 4, "cg:1": 1, "ts:0": 2}},
		{name: "datetime future", args: []string{"--topic", "ts", "--to-datetime", "2999-01-01T00:00:00.000"}, want: map[string]int64{"cg:0": 4, "cg:1": 1, "ts:0": 5},
			stdout: "\nWarn: Partition 0 from topic ts is empty. Falling back to latest known offset.\n\nGROUP           TOPIC           PARTITION  NEW-OFFSET\nrg              ts              0          5\n"},
		{name: "duration long ago", args: []string{"--topic", "ts", "--by-duration", fmt.Sprintf("PT%dH", int(time.Since(base).Hours())+1)}, want: map[string]int64{"cg:0": 4, "cg:1": 1, "ts:0": 0}},
		{name: "duration before 1970", args: []string{"--topic", "ts", "--by-duration", "P36500D"}, want: map[string]int64{"cg:0": 4, "cg:1": 1, "ts:0": 0}},
		{name: "duration recent", args: []string{"--topic", "ts", "--by-duration", "PT1H"}, want: map[string]int64{"cg:0": 4, "cg:1": 1, "ts:0": 5}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			set(start)
			args := append([]string{"--reset-offsets", "--group", "rg"}, tt.args...)
			// A dry run (explicit or the default) prints the plan and changes nothing.
			dry, _ := cgMustRun(t, ctx, tb.Addr, append(args, "--dry-run")...)
			dflt, dfltErr := cgMustRun(t, ctx, tb.Addr, args...)
			if got := cgCommitted(t, adm, "rg"); !sameOffsets(got, start) {
				t.Fatalf("dry run changed offsets to %v", got)
			}
			if dry != dflt || !strings.Contains(dfltErr, "WARN: No action will be performed as the --execute option is missing.") {
				t.Errorf("default run printed %q (stderr %q), dry run %q", dflt, dfltErr, dry)
			}
			out, stderr := cgMustRun(t, ctx, tb.Addr, append(args, "--execute")...)
			if got := cgCommitted(t, adm, "rg"); !sameOffsets(got, tt.want) {
				t.Errorf("offsets %v, want %v", got, tt.want)
			}
			if out != dry {
				t.Errorf("--execute printed %q, the dry run %q", out, dry)
			}
			if tt.stdout != "" && out != tt.stdout {
				t.Errorf("stdout\n%q\nwant\n%q", out, tt.stdout)
			}
			if !strings.Contains(stderr, tt.stderr) {
				t.Errorf("stderr %q lacks %q", stderr, tt.stderr)
			}
		})
	}

	// --export writes what --from-file reads.
	set(start)
	csv, _ := cgMustRun(t, ctx, tb.Addr, "--reset-offsets", "--group", "rg", "--all-topics", "--shift-by", "1", "--export")
	if csv != "cg,0,5\ncg,1,2\n\n" {
		t.Fatalf("export: %q", csv)
	}
	exported := filepath.Join(dir, "exported.csv")
	if err := os.WriteFile(exported, []byte(csv), 0o644); err != nil {
		t.Fatal(err)
	}
	cgMustRun(t, ctx, tb.Addr, "--reset-offsets", "--group", "rg", "--from-file", exported, "--execute")
	if got := cgCommitted(t, adm, "rg"); !sameOffsets(got, map[string]int64{"cg:0": 5, "cg:1": 2}) {
		t.Errorf("offsets from the exported plan: %v", got)
	}

	// A group that never existed can be given offsets, as in Kafka.
	cgMustRun(t, ctx, tb.Addr, "--reset-offsets", "--group", "fresh", "--topic", "cg:1", "--to-latest", "--execute")
	if got := cgCommitted(t, adm, "fresh"); !sameOffsets(got, map[string]int64{"cg:1": 2}) {
		t.Errorf("new group's offsets: %v", got)
	}

	errTests := []struct {
		args []string
		want string
	}{
		{[]string{"--topic", "cg:5", "--to-earliest"}, `The partitions "cg-5" do not exist`},
		{[]string{"--topic", "missing", "--to-earliest"}, "Topic missing not found."},
		{[]string{"--topic", "ts", "--shift-by", "1"}, "Cannot shift offset for partition ts-0 since there is no current committed offset"},
		{[]string{"--from-file", groupPlan, "--all-topics"}, ""}, // rg has a plan
	}
	for _, tt := range errTests {
		_, _, err := cgRun(ctx, tb.Addr, append([]string{"--reset-offsets", "--group", "rg"}, tt.args...)...)
		if tt.want == "" {
			if err != nil {
				t.Errorf("%v: %v", tt.args, err)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), tt.want) || strings.Contains(err.Error(), "\n") {
			t.Errorf("%v: error %v, want one line containing %q", tt.args, err, tt.want)
		}
	}
	_, _, err := cgRun(ctx, tb.Addr, "--reset-offsets", "--group", "nobody", "--from-file", groupPlan)
	if err == nil || err.Error() != "Error: No reset plan for group nobody found." {
		t.Errorf("from-file without the group: %v", err)
	}
}

// TestConsumerGroupsDelete covers --delete-offsets and --delete on inactive groups.
func TestConsumerGroupsDelete(t *testing.T) {
	tb := cgBroker(t)
	ctx := brokertest.Ctx(t)
	adm := tb.Admin()
	tb.CreateTopic("a", 2, nil)
	tb.CreateTopic("b", 1, nil)
	commit := func(group string) {
		t.Helper()
		commits := make(kadm.Offsets)
		commits.AddOffset("a", 0, 0, -1)
		commits.AddOffset("a", 1, 0, -1)
		commits.AddOffset("b", 0, 0, -1)
		if err := adm.CommitAllOffsets(ctx, group, commits); err != nil {
			t.Fatal(err)
		}
	}
	commit("d1")
	commit("d2")
	commit("d3")

	out, _ := cgMustRun(t, ctx, tb.Addr, "--delete-offsets", "--group", "d1", "--topic", "a:1")
	if want := "Request succeeded for deleting offsets from group d1.\n\nTOPIC           PARTITION  STATUS         \na               1          Successful     \n"; out != want {
		t.Errorf("delete-offsets:\n%q\nwant\n%q", out, want)
	}
	if got := cgCommitted(t, adm, "d1"); !sameOffsets(got, map[string]int64{"a:0": 0, "b:0": 0}) {
		t.Errorf("offsets after delete-offsets: %v", got)
	}
	out, _ = cgMustRun(t, ctx, tb.Addr, "--delete-offsets", "--group", "d1", "--topic", "a", "--topic", "b")
	if want := "Request succeeded for deleting offsets from group d1.\n\nTOPIC           PARTITION  STATUS         \na               0          Successful     \na               1          Successful     \nb               0          Successful     \n"; out != want {
		t.Errorf("delete-offsets of whole topics:\n%q\nwant\n%q", out, want)
	}
	if got := cgCommitted(t, adm, "d1"); len(got) != 0 {
		t.Errorf("offsets left: %v", got)
	}
	out, _, err := cgRun(ctx, tb.Addr, "--delete-offsets", "--group", "d2", "--topic", "nope")
	if err == nil || !strings.Contains(out, "nope            -          Error: org.apache.kafka.common.errors.UnknownTopicOrPartitionException: ") {
		t.Errorf("delete-offsets of an unknown topic: %v, %q", err, out)
	}
	out, _, err = cgRun(ctx, tb.Addr, "--delete-offsets", "--group", "ghost", "--topic", "a:0")
	if err == nil || !strings.HasPrefix(out, "\nError: ") {
		t.Errorf("delete-offsets of an unknown group: %v, %q", err, out)
	}

	out, _ = cgMustRun(t, ctx, tb.Addr, "--delete", "--group", "d1", "--group", "d2")
	if out != "Deletion of requested consumer groups ('d1', 'd2') was successful.\n" {
		t.Errorf("delete two: %q", out)
	}
	out, _, err = cgRun(ctx, tb.Addr, "--delete", "--group", "d3", "--group", "ghost")
	if want := "\nError: Deletion of some consumer groups failed:\n* Group 'ghost' could not be deleted due to: org.apache.kafka.common.errors.GroupIdNotFoundException: The group id does not exist.\n\nThese consumer groups were deleted successfully: 'd3'\n"; out != want || err == nil {
		t.Errorf("delete with a missing group: %v\n%q\nwant\n%q", err, out, want)
	}
	commit("e1")
	commit("e2")
	out, _ = cgMustRun(t, ctx, tb.Addr, "--delete", "--all-groups")
	if out != "Deletion of requested consumer groups ('e1', 'e2') was successful.\n" {
		t.Errorf("delete all: %q", out)
	}
	if out, _ := cgMustRun(t, ctx, tb.Addr, "--list"); out != "" {
		t.Errorf("groups left: %q", out)
	}
}

// TestConsumerGroupsAllGroups describes several groups at once, one of them missing.
func TestConsumerGroupsAllGroups(t *testing.T) {
	tb := cgBroker(t)
	ctx := brokertest.Ctx(t)
	adm := tb.Admin()
	tb.CreateTopic("t", 1, nil)
	cgProduce(t, tb, "t", 3)
	for _, g := range []string{"x1", "x2"} {
		commits := make(kadm.Offsets)
		commits.AddOffset("t", 0, 1, -1)
		if err := adm.CommitAllOffsets(ctx, g, commits); err != nil {
			t.Fatal(err)
		}
	}
	out, _ := cgMustRun(t, ctx, tb.Addr, "--describe", "--all-groups")
	row := func(g string) string {
		return "\n" + offsetsLine(15, 15, 15, 15, "GROUP", "TOPIC", "PARTITION", "CURRENT-OFFSET", "LOG-END-OFFSET", "LAG", "CONSUMER-ID", "HOST", "CLIENT-ID") +
			"\n" + offsetsLine(15, 15, 15, 15, g, "t", "0", "1", "3", "2", "-", "-", "-") + "\n"
	}
	if out != row("x1")+row("x2") {
		t.Errorf("describe all:\n%q", out)
	}
	out, stderr, err := cgRun(ctx, tb.Addr, "--describe", "--group", "x2", "--group", "none")
	if out != row("x2") || err == nil || err.Error() != "Error: 1 of 2 consumer groups could not be described" ||
		!strings.Contains(stderr, "Error: Consumer group 'none' does not exist.") {
		t.Errorf("describe with a missing group: %v\nstdout %q\nstderr %q", err, out, stderr)
	}
	out, _ = cgMustRun(t, ctx, tb.Addr, "--reset-offsets", "--all-groups", "--all-topics", "--to-latest", "--execute")
	if out != "\nGROUP           TOPIC           PARTITION  NEW-OFFSET\nx1              t               0          3\nx2              t               0          3\n" {
		t.Errorf("reset all groups: %q", out)
	}
	csv, _ := cgMustRun(t, ctx, tb.Addr, "--reset-offsets", "--all-groups", "--all-topics", "--to-earliest", "--export")
	if csv != "x1,t,0,0\nx2,t,0,0\n\n" {
		t.Errorf("export of all groups: %q", csv)
	}
}

// TestConsumerGroupsKIP848 describes a group of the KIP-848 protocol (franz-go's
// ServerSideBalancer): its epochs come from ConsumerGroupDescribe.
func TestConsumerGroupsKIP848(t *testing.T) {
	tb := cgBroker(t)
	ctx := brokertest.Ctx(t)
	versions, err := kmsg.NewPtrApiVersionsRequest().RequestWith(ctx, tb.Client())
	if err != nil {
		t.Fatal(err)
	}
	has := map[int16]bool{}
	for _, k := range versions.ApiKeys {
		has[k.ApiKey] = true
	}
	if !has[int16(kmsg.ConsumerGroupHeartbeat)] || !has[int16(kmsg.ConsumerGroupDescribe)] {
		t.Skip("the broker does not advertise ConsumerGroupHeartbeat and ConsumerGroupDescribe")
	}
	tb.CreateTopic("ng", 2, nil)
	cgProduce(t, tb, "ng", 3, 2)
	cl, err := kgo.NewClient(kgo.SeedBrokers(tb.Addr), kgo.ClientID("nextgen"), kgo.ConsumerGroup("g848"),
		kgo.ConsumeTopics("ng"), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.DisableAutoCommit(), kgo.ServerSideBalancer())
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	for got := 0; got < 5; {
		f := cl.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			t.Fatalf("consumed %d of 5 records: %v", got, err)
		}
		got += f.NumRecords()
	}
	if err := cl.CommitUncommittedOffsets(ctx); err != nil {
		t.Fatal(err)
	}
	memberID, _ := cl.GroupMetadata()
	id := regexp.QuoteMeta(memberID)
	// On a cluster any node may coordinate the group.
	coords := tb.Admin().FindGroupCoordinators(ctx, "g848")
	coord, ok := coords["g848"]
	if !ok || coord.Err != nil {
		t.Fatalf("coordinator of g848: %+v", coords)
	}
	coordCell := regexp.QuoteMeta(fmt.Sprintf("%s:%d  (%d)", coord.Host, coord.Port, coord.NodeID))
	for _, tt := range []struct {
		args []string
		want *regexp.Regexp
	}{
		{[]string{"--list", "--type"}, regexp.MustCompile(`^GROUP +TYPE +\ng848 +Consumer +\n$`)},
		{[]string{"--describe", "--group", "g848"}, regexp.MustCompile(`^\nGROUP +TOPIC +PARTITION +CURRENT-OFFSET +LOG-END-OFFSET +LAG +CONSUMER-ID +HOST +CLIENT-ID\n` +
			`g848 +ng +0 +3 +3 +0 +` + id + ` +\S+ +nextgen\ng848 +ng +1 +2 +2 +0 +` + id + ` +\S+ +nextgen\n$`)},
		{[]string{"--describe", "--group", "g848", "--members", "--verbose"}, regexp.MustCompile(`^\nGROUP +CONSUMER-ID +HOST +CLIENT-ID +#PARTITIONS +CURRENT-EPOCH +CURRENT-ASSIGNMENT +TARGET-EPOCH +TARGET-ASSIGNMENT +\n` +
			`g848 +` + id + ` +\S+ +nextgen +2 +\d+ +ng:0,1 +\d+ +ng:0,1 +\n$`)},
		{[]string{"--describe", "--group", "g848", "--state", "--verbose"}, regexp.MustCompile(`^\nGROUP +COORDINATOR \(ID\) +ASSIGNMENT-STRATEGY +STATE +GROUP-EPOCH +TARGET-ASSIGNMENT-EPOCH +#MEMBERS\n` +
			`g848 +` + coordCell + ` +\S+ +Stable +\d+ +\d+ +1\n$`)},
	} {
		out, _ := cgMustRun(t, ctx, tb.Addr, tt.args...)
		if !tt.want.MatchString(out) {
			t.Errorf("%v:\n%s\ndoes not match\n%s", tt.args, out, tt.want)
		}
	}
	if _, _, err := cgRun(ctx, tb.Addr, "--reset-offsets", "--group", "g848", "--all-topics", "--to-earliest", "--execute"); err == nil ||
		!strings.Contains(err.Error(), "inactive, but the current state is Stable.") {
		t.Errorf("reset of an active KIP-848 group: %v", err)
	}
	cl.Close()
	cgMustRun(t, ctx, tb.Addr, "--reset-offsets", "--group", "g848", "--all-topics", "--to-earliest", "--execute")
	if got := cgCommitted(t, tb.Admin(), "g848"); !sameOffsets(got, map[string]int64{"ng:0": 0, "ng:1": 0}) {
		t.Errorf("offsets after reset: %v", got)
	}
}

// TestConsumerGroupsErrors checks that mistakes end in one clear line and a non-nil
// error.
func TestConsumerGroupsErrors(t *testing.T) {
	tb := cgBroker(t)
	ctx := brokertest.Ctx(t)
	tests := []struct {
		name      string
		args      []string
		wantErr   string
		wantUsage bool
	}{
		{"no action", []string{}, "Command must include exactly one action: --list, --describe, --delete, --reset-offsets, --delete-offsets, --validate-regex", true},
		{"two actions", []string{"--list", "--describe"}, "exactly one action", true},
		{"bad flag", []string{"--list", "--bogus"}, "flag provided but not defined: -bogus", true},
		{"describe without group", []string{"--describe"}, "Option [describe] takes one of these options: [all-groups], [group]", true},
		{"describe two views", []string{"--describe", "--group", "g", "--members", "--state"}, "takes at most one of these options", true},
		{"describe state value", []string{"--describe", "--group", "g", "--state", "stable"}, "Option [describe] does not take a value for [state]", true},
		{"members without describe", []string{"--list", "--members"}, "Option(s) [members] are unavailable", true},
		{"type with describe", []string{"--describe", "--group", "g", "--type"}, "Option(s) [type] are unavailable", true},
		{"group with list", []string{"--list", "--group", "g"}, `Option "[group]" can't be used with option "[list]"`, true},
		{"group and all-groups", []string{"--describe", "--group", "g", "--all-groups"}, `Option "[group]" can't be used with option "[all-groups]"`, true},
		{"topic with describe", []string{"--describe", "--group", "g", "--topic", "t"}, `Option "[topic]" can't be used with option "[describe]"`, true},
		{"bad state", []string{"--list", "--state", "sleeping"}, "Invalid state list 'sleeping'. Valid states are: PreparingRebalance, CompletingRebalance, Stable, Dead, Empty, Assigning, Reconciling", true},
		{"bad type", []string{"--list", "--type", "share"}, "Invalid types list 'share'. Valid types are: Classic, Consumer", true},
		{"delete with topic", []string{"--delete", "--group", "g", "--topic", "t"}, "The consumer does not support topic-specific offset deletion from a consumer group.", true},
		{"delete-offsets without topic", []string{"--delete-offsets", "--group", "g"}, "Option [delete-offsets] takes the following options: [group], [topic]", true},
		{"reset without scenario", []string{"--reset-offsets", "--group", "g", "--all-topics"}, "requires one of the following scenarios", true},
		{"reset two scenarios", []string{"--reset-offsets", "--group", "g", "--all-topics", "--to-earliest", "--to-latest"}, `Option "[to-earliest]" can't be used with option "[to-latest]"`, true},
		{"reset without scope", []string{"--reset-offsets", "--group", "g", "--to-earliest"}, "One of the reset scopes should be defined: --all-topics, --topic.", true},
		{"reset dry-run and execute", []string{"--reset-offsets", "--group", "g", "--all-topics", "--to-earliest", "--dry-run", "--execute"}, "only accepts one of [execute] and [dry-run]", true},
		{"reset bad datetime", []string{"--reset-offsets", "--group", "g", "--all-topics", "--to-datetime", "2024-01-01 10:00"}, "It does not contain a 'T'", true},
		{"reset datetime no millis", []string{"--reset-offsets", "--group", "g", "--all-topics", "--to-datetime", "2024-01-01T10:00:00"}, "Unparseable date", true},
		{"reset bad duration", []string{"--reset-offsets", "--group", "g", "--all-topics", "--by-duration", "1h"}, "Text cannot be parsed to a Duration", true},
		{"reset bad partition", []string{"--reset-offsets", "--group", "g", "--topic", "t:x", "--to-earliest"}, "Invalid partition 'x' specified in topic arg 't:x'", true},
		{"reset missing file", []string{"--reset-offsets", "--group", "g", "--from-file", "/nonexistent/plan.csv"}, "--from-file: ", false},
		{"json with delete", []string{"--delete", "--group", "g", "--output", "json"}, "--output json is for --list and --describe", true},
		{"zookeeper", []string{"--zookeeper", "localhost:2181", "--list"}, "built-in metadata quorum", true},
		{"unknown group", []string{"--describe", "--group", "nope"}, "Error: Consumer group 'nope' does not exist.", false},
		{"unknown group members", []string{"--describe", "--group", "nope", "--members"}, "Error: Consumer group 'nope' does not exist.", false},
		{"unknown group state", []string{"--describe", "--group", "nope", "--state"}, "Error: Consumer group 'nope' does not exist.", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, _, err := cgRun(ctx, tb.Addr, tt.args...)
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

	// Unreachable broker: one line, quickly (a short deadline stands in for the ten
	// seconds the tool waits).
	uctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	_, _, err := admRun(uctx, "consumer-groups", "--bootstrap-server", "127.0.0.1:1", "--list")
	if err == nil || !strings.Contains(err.Error(), "cannot reach a broker at 127.0.0.1:1") || strings.Contains(err.Error(), "\n") {
		t.Errorf("unreachable broker: %v", err)
	}

	out, _, err := admRun(context.Background(), "consumer-groups", "--help")
	if err != nil || !strings.HasPrefix(out, "Usage: samsa consumer-groups [flags]") || !strings.Contains(out, "-reset-offsets") {
		t.Errorf("--help: %v %q", err, out)
	}
	for re, want := range map[string]string{
		"orders-.*": "The regular expression `orders-.*` is valid.\n",
		"a(":        "The regular expression `a(` is invalid: missing closing ).\n",
	} {
		out, _, err := admRun(context.Background(), "consumer-groups", "--validate-regex", re)
		if err != nil || out != want {
			t.Errorf("--validate-regex %s: %v %q, want %q", re, err, out, want)
		}
	}
}

func TestParseKafkaDateTime(t *testing.T) {
	utc := func(s string) int64 {
		tm, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			t.Fatal(err)
		}
		return tm.UnixMilli()
	}
	tests := []struct {
		in   string
		want int64
		ok   bool
	}{
		{"2020-11-10T16:51:38.198", utc("2020-11-10T16:51:38.198Z"), true},
		{"2020-11-10T16:51:38.198Z", utc("2020-11-10T16:51:38.198Z"), true},
		{"2020-11-10T16:51:38.198+08:00", utc("2020-11-10T08:51:38.198Z"), true},
		{"2020-11-10T16:51:38.198+0800", utc("2020-11-10T08:51:38.198Z"), true},
		{"2020-11-10T16:51:38.198+08", utc("2020-11-10T08:51:38.198Z"), true},
		{"2020-11-10T16:51:38.198-05:30", utc("2020-11-10T22:21:38.198Z"), true},
		{"2020-11-10T16:51:38.5", utc("2020-11-10T16:51:38.005Z"), true}, // Java reads SSS as a number
		{"2020-11-10T16:51:38", 0, false},
		{"2020-11-10 16:51:38.198", 0, false},
		{"2020-02-30T00:00:00.000", 0, false},
		{"2020-11-10T25:00:00.000", 0, false},
		{"2020-11-10T16:51:38.198+25:00", 0, false},
		{"yesterday", 0, false},
	}
	for _, tt := range tests {
		got, err := parseKafkaDateTime(tt.in)
		if (err == nil) != tt.ok || (tt.ok && got != tt.want) {
			t.Errorf("%s: got %d, %v; want %d (ok %v)", tt.in, got, err, tt.want, tt.ok)
		}
	}
}

func TestParseJavaDuration(t *testing.T) {
	tests := []struct {
		in   string
		want time.Duration
		ok   bool
	}{
		{"PT1H", time.Hour, true},
		{"P1D", 24 * time.Hour, true},
		{"P1DT2H30M", 26*time.Hour + 30*time.Minute, true},
		{"PT15M", 15 * time.Minute, true},
		{"PT1.5S", 1500 * time.Millisecond, true},
		{"pt10s", 10 * time.Second, true},
		{"-PT1H", -time.Hour, true},
		{"PT-1H30M", -30 * time.Minute, true},
		{"P", 0, false},
		{"PT", 0, false},
		{"P1DT", 0, false},
		{"1h", 0, false},
		{"P1W", 0, false},
		{"PT99999999999999999999H", 0, false},
	}
	for _, tt := range tests {
		got, err := parseJavaDuration(tt.in)
		if (err == nil) != tt.ok || got != tt.want {
			t.Errorf("%s: got %v, %v; want %v (ok %v)", tt.in, got, err, tt.want, tt.ok)
		}
	}
}

func TestParseResetPlan(t *testing.T) {
	plan, err := parseResetPlan("t,0,5\nt,1,7\n", "g")
	if err != nil || plan["g"][topicPartition{"t", 0}] != 5 || plan["g"][topicPartition{"t", 1}] != 7 || len(plan) != 1 {
		t.Errorf("single-group plan: %v, %v", plan, err)
	}
	plan, err = parseResetPlan("g1,t,0,5\r\ng2,u,3,1\n", "")
	if err != nil || plan["g1"][topicPartition{"t", 0}] != 5 || plan["g2"][topicPartition{"u", 3}] != 1 {
		t.Errorf("multi-group plan: %v, %v", plan, err)
	}
	// With several groups asked for, three columns are not enough.
	for _, bad := range []struct{ csv, group string }{{"t,0,5\n", ""}, {"t,x,5\n", "g"}, {"t,0\n", "g"}, {"g,t,0,5,9\n", ""}} {
		if _, err := parseResetPlan(bad.csv, bad.group); err == nil {
			t.Errorf("%q (group %q): no error", bad.csv, bad.group)
		}
	}
}

func TestAssignmentString(t *testing.T) {
	tps := []topicPartition{{"b", 1}, {"a", 2}, {"b", 0}, {"a", 0}}
	if got := assignmentString(tps); got != "a:0,2;b:0,1" {
		t.Errorf("got %q", got)
	}
	if got := assignmentString(nil); got != "-" {
		t.Errorf("empty: %q", got)
	}
}
