package cli

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/samsa-io/samsa/internal/brokertest"
)

func TestMessageFormatter(t *testing.T) {
	ts := time.UnixMilli(1700000000000)
	rec := &kgo.Record{Key: []byte("k1"), Value: []byte("v1"), Partition: 0, Offset: 5, Timestamp: ts,
		Headers: []kgo.RecordHeader{{Key: "h1", Value: []byte("x")}, {Key: "h2"}}}
	bare := &kgo.Record{Value: nil, Offset: 6, Partition: 2, Timestamp: ts}
	tests := []struct {
		props clientProps
		rec   *kgo.Record
		want  string
	}{
		{nil, rec, "v1\n"},
		{clientProps{"print.key": "true"}, rec, "k1\tv1\n"},
		{clientProps{"print.timestamp": "true", "print.partition": "true", "print.offset": "true", "print.key": "true"}, rec,
			"CreateTime:1700000000000\tPartition:0\tOffset:5\tk1\tv1\n"},
		{clientProps{"print.headers": "true", "print.key": "true"}, rec, "h1:x,h2:null\tk1\tv1\n"},
		{clientProps{"print.headers": "true", "headers.separator": "|", "null.literal": "NIL"}, rec, "h1:x|h2:NIL\tv1\n"},
		{clientProps{"print.headers": "true", "print.key": "true", "null.literal": "-"}, bare, "NO_HEADERS\t-\t-\n"},
		{clientProps{"print.key": "true", "print.value": "false"}, rec, "k1\n"},
		{clientProps{"print.offset": "true", "print.value": "false"}, bare, "Offset:6\n"},
		{clientProps{"print.key": "true", "key.separator": " => ", "line.separator": ";"}, rec, "k1 => v1;"},
		{clientProps{"print.partition": "true", "print.value": "false", "print.key": "false"}, bare, "Partition:2\n"},
	}
	for _, tt := range tests {
		var buf bytes.Buffer
		w := bufio.NewWriter(&buf)
		if err := newMessageFormatter(tt.props, &buf).writeTo(w, tt.rec); err != nil {
			t.Fatal(err)
		}
		w.Flush()
		if buf.String() != tt.want {
			t.Errorf("%v: got %q, want %q", tt.props, buf.String(), tt.want)
		}
	}
}

// TestConsoleRoundTrip produces lines with headers and keys with console-producer and
// reads them back with console-consumer, comparing with the exact lines Kafka's
// DefaultMessageFormatter prints (timestamps taken from the stored records).
func TestConsoleRoundTrip(t *testing.T) {
	tb := startBroker(t, nil)
	tb.CreateTopic("rt", 1, nil)
	ctx := brokertest.Ctx(t)
	input := "h1:v1,h2:v2\tk1\tvalue one\n" +
		"h3:\tk2\tv2\n" +
		"h4:x\tk3\t\n" +
		"h5:NULL\tNULL\tv4\n"
	if _, stderr, err := ctRun(ctx, input, "console-producer", "--bootstrap-server", tb.Addr, "--topic", "rt",
		"--property", "parse.key=true", "--property", "parse.headers=true", "--property", "null.marker=NULL"); err != nil {
		t.Fatalf("console-producer: %v (%s)", err, stderr)
	}
	recs := ctRecords(t, tb, "rt", 4)
	body := []string{"h1:v1,h2:v2\tk1\tvalue one", "h3:\tk2\tv2", "h4:x\tk3\t", "h5:null\tnull\tv4"}
	var want strings.Builder
	for i, r := range recs {
		fmt.Fprintf(&want, "CreateTime:%d\tPartition:0\tOffset:%d\t%s\n", r.Timestamp.UnixMilli(), i, body[i])
	}
	stdout, stderr, err := ctRun(ctx, "", "console-consumer", "--bootstrap-server", tb.Addr, "--topic", "rt", "--from-beginning",
		"--property", "print.key=true", "--property", "print.timestamp=true", "--property", "print.partition=true",
		"--property", "print.offset=true", "--property", "print.headers=true", "--max-messages", "4")
	if err != nil {
		t.Fatalf("console-consumer: %v (%s)", err, stderr)
	}
	if stdout != want.String() {
		t.Errorf("output\n%q\nwant\n%q", stdout, want.String())
	}
	if !strings.Contains(stderr, "Processed a total of 4 messages") {
		t.Errorf("stderr %q", stderr)
	}

	// Only keys, as the seeds' tutorial does.
	stdout, _, err = ctRun(ctx, "", "console-consumer", "--bootstrap-server", tb.Addr, "--topic", "rt", "--from-beginning",
		"--property", "print.key=true", "--max-messages", "2")
	if err != nil {
		t.Fatal(err)
	}
	if stdout != "k1\tvalue one\nk2\tv2\n" {
		t.Errorf("print.key output %q", stdout)
	}
}

// TestConsoleConsumerStops checks each way the consumer ends: --timeout-ms with and
// without records, --max-messages, and cancellation.
func TestConsoleConsumerStops(t *testing.T) {
	tb := startBroker(t, nil)
	tb.CreateTopic("stop", 1, nil)
	tb.CreateTopic("empty", 1, nil)
	ctx := brokertest.Ctx(t)
	if _, _, err := ctRun(ctx, "a\nb\nc\n", "console-producer", "--bootstrap-server", tb.Addr, "--topic", "stop"); err != nil {
		t.Fatal(err)
	}
	base := []string{"console-consumer", "--bootstrap-server", tb.Addr}
	tests := []struct {
		args   []string
		stdout string
		count  int
	}{
		{[]string{"--topic", "stop", "--from-beginning", "--timeout-ms", "300"}, "a\nb\nc\n", 3},
		{[]string{"--topic", "empty", "--from-beginning", "--timeout-ms", "100"}, "", 0},
		{[]string{"--topic", "stop", "--timeout-ms", "100"}, "", 0}, // latest: nothing new
		{[]string{"--topic", "stop", "--from-beginning", "--max-messages", "2"}, "a\nb\n", 2},
		{[]string{"--include", "st.p", "--from-beginning", "--max-messages", "3"}, "a\nb\nc\n", 3},
	}
	for _, tt := range tests {
		stdout, stderr, err := ctRun(ctx, "", append(base, tt.args...)...)
		if err != nil {
			t.Errorf("%v: %v", tt.args, err)
			continue
		}
		if stdout != tt.stdout || !strings.Contains(stderr, fmt.Sprintf("Processed a total of %d messages\n", tt.count)) {
			t.Errorf("%v: stdout %q stderr %q, want %q and %d processed", tt.args, stdout, stderr, tt.stdout, tt.count)
		}
	}

	// Cancelling the context (Ctrl-C) stops a consumer that has no limit.
	cctx, cancel := context.WithCancel(ctx)
	out := &ctNotifyWriter{c: make(chan struct{})}
	var errb bytes.Buffer
	done := make(chan error, 1)
	go func() {
		done <- Run(cctx, append(base, "--topic", "stop", "--from-beginning"), strings.NewReader(""), out, &errb)
	}()
	<-out.c
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("cancelled consumer: %v", err)
	}
	if !strings.HasPrefix("a\nb\nc\n", out.String()) || !strings.Contains(errb.String(), "Processed a total of") {
		t.Errorf("cancelled consumer: stdout %q stderr %q", out.String(), errb.String())
	}
}

func TestConsoleConsumerPartitionOffset(t *testing.T) {
	tb := startBroker(t, nil)
	tb.CreateTopic("po", 2, nil)
	ctx := brokertest.Ctx(t)
	cl := tb.Client(kgo.RecordPartitioner(kgo.ManualPartitioner()))
	for p := int32(0); p < 2; p++ {
		for i := 0; i < 4; i++ {
			r := &kgo.Record{Topic: "po", Partition: p, Value: fmt.Appendf(nil, "p%d-%d", p, i)}
			if err := cl.ProduceSync(ctx, r).FirstErr(); err != nil {
				t.Fatal(err)
			}
		}
	}
	base := []string{"console-consumer", "--bootstrap-server", tb.Addr, "--topic", "po", "--timeout-ms", "300",
		"--property", "print.partition=true", "--property", "print.offset=true"}
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"--partition", "1", "--offset", "2"}, "Partition:1\tOffset:2\tp1-2\nPartition:1\tOffset:3\tp1-3\n"},
		{[]string{"--partition", "0", "--offset", "earliest", "--max-messages", "1"}, "Partition:0\tOffset:0\tp0-0\n"},
		{[]string{"--partition", "0", "--from-beginning", "--max-messages", "1"}, "Partition:0\tOffset:0\tp0-0\n"},
		{[]string{"--partition", "1", "--offset", "latest"}, ""},
		{[]string{"--partition", "1"}, ""},
	}
	for _, tt := range tests {
		stdout, stderr, err := ctRun(ctx, "", append(base, tt.args...)...)
		if err != nil {
			t.Errorf("%v: %v (%s)", tt.args, err, stderr)
			continue
		}
		if stdout != tt.want {
			t.Errorf("%v: got %q, want %q", tt.args, stdout, tt.want)
		}
	}
}

// TestConsoleToolErrors checks that mistakes end with a one-line error and a non-zero
// exit, and that --help succeeds.
func TestConsoleToolErrors(t *testing.T) {
	tb := startBroker(t, nil)
	tb.CreateTopic("e", 1, nil)
	ctx := brokertest.Ctx(t)
	b := tb.Addr
	tests := []struct {
		stdin string
		args  []string
		want  string
	}{
		{"", []string{"console-producer", "--bootstrap-server", b}, "--topic is required"},
		{"", []string{"console-consumer", "--bootstrap-server", b}, "exactly one of --topic or --include"},
		{"", []string{"console-consumer", "--bootstrap-server", b, "--topic", "e", "--offset", "3"}, "partition is required when offset is specified"},
		{"", []string{"console-consumer", "--bootstrap-server", b, "--topic", "e", "--partition", "0", "--offset", "x"}, "the provided offset value 'x' is incorrect"},
		{"", []string{"console-consumer", "--bootstrap-server", b, "--topic", "e", "--partition", "0", "--offset", "1", "--from-beginning"}, "from-beginning and offset cannot be specified together"},
		{"", []string{"console-consumer", "--bootstrap-server", b, "--topic", "e", "--partition", "0", "--group", "g"}, "group and partition cannot be specified together"},
		{"", []string{"console-consumer", "--bootstrap-server", b, "--topic", "e", "--partition", "7"}, "has no partition 7"},
		{"", []string{"console-consumer", "--bootstrap-server", b, "--topic", "nope"}, `topic "nope" does not exist`},
		{"", []string{"console-consumer", "--bootstrap-server", b, "--topic", "e", "--formatter", "kafka.tools.LoggingMessageFormatter"}, "only kafka.tools.DefaultMessageFormatter"},
		{"", []string{"console-consumer", "--bootstrap-server", b, "--topic", "e", "--no-such-flag"}, "flag provided but not defined"},
		{"", []string{"console-consumer", "--bootstrap-server", "127.0.0.1:1", "--topic", "e"}, "cannot reach a broker at 127.0.0.1:1"},
		{"x\n", []string{"console-producer", "--bootstrap-server", "127.0.0.1:1", "--topic", "e"}, "cannot reach a broker at 127.0.0.1:1"},
		{"k\tv\nkv\n", []string{"console-producer", "--bootstrap-server", b, "--topic", "e", "--property", "parse.key=true"}, "no key separator found on line number 2: 'kv'"},
		{"", []string{"console-producer", "--bootstrap-server", b, "--topic", "e", "--compression-codec", "brotli"}, "not one of none, gzip"},
	}
	for _, tt := range tests {
		_, _, err := ctRun(ctx, tt.stdin, tt.args...)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%v: error %v, want %q", tt.args, err, tt.want)
		}
		if err != nil && strings.Contains(err.Error(), "\n") {
			t.Errorf("%v: error is not one line: %q", tt.args, err)
		}
	}
	for _, cmd := range []string{"console-producer", "console-consumer", "producer-perf-test", "consumer-perf-test", "e2e-latency"} {
		stdout, _, err := ctRun(ctx, "", cmd, "--help")
		if err != nil || !strings.Contains(stdout, "Usage: samsa "+cmd) || !strings.Contains(stdout, "-bootstrap-server") {
			t.Errorf("%s --help: err %v, stdout %q", cmd, err, stdout)
		}
	}
}

// TestConsoleConsumerGroup consumes in a consumer group: a second run starts where
// the first one's commit left off.
func TestConsoleConsumerGroup(t *testing.T) {
	tb := startBroker(t, map[string]string{"group.initial.rebalance.delay.ms": "0"})
	tb.CreateTopic("grp", 1, nil)
	ctx := brokertest.Ctx(t)
	if _, _, err := ctRun(ctx, "1\n2\n3\n4\n", "console-producer", "--bootstrap-server", tb.Addr, "--topic", "grp"); err != nil {
		t.Fatal(err)
	}
	args := []string{"console-consumer", "--bootstrap-server", tb.Addr, "--topic", "grp", "--group", "g1", "--from-beginning", "--max-messages", "2"}
	first, _, err := ctRun(ctx, "", args...)
	if err != nil {
		t.Fatal(err)
	}
	second, _, err := ctRun(ctx, "", args...)
	if err != nil {
		t.Fatal(err)
	}
	if first != "1\n2\n" || second != "3\n4\n" {
		t.Errorf("group runs printed %q then %q, want the committed position to carry over", first, second)
	}
	resps, err := tb.Admin().FetchOffsets(ctx, "g1")
	if err != nil {
		t.Fatal(err)
	}
	if o, ok := resps.Lookup("grp", 0); !ok || o.Err != nil || o.At != 4 {
		t.Errorf("committed offset %+v (found %v), want 4", o, ok)
	}
}
