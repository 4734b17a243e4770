package cli

import (
	"bytes"
	"context"
	"os/exec"
	"strings"
	"testing"

	"github.com/samsa-io/samsa/internal/brokertest"
)

// ctKcat returns kcat's path; a missing kcat fails the test (it is a declared test
// dependency, installed by scripts/install-test-deps.sh), it is never skipped.
func ctKcat(t *testing.T) string {
	t.Helper()
	path, err := exec.LookPath("kcat")
	if err != nil {
		t.Fatal("kcat is not installed: run scripts/install-test-deps.sh (Debian package kcat)")
	}
	return path
}

func ctKcatRun(t *testing.T, ctx context.Context, stdin string, args ...string) string {
	t.Helper()
	cmd := exec.CommandContext(ctx, ctKcat(t), args...)
	cmd.Stdin = strings.NewReader(stdin)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		t.Fatalf("kcat %v: %v\n%s", args, err, errb.String())
	}
	return out.String()
}

// TestKcatReadsConsoleProducer checks that keys, values and headers written by
// console-producer read back the same with kcat (librdkafka).
func TestKcatReadsConsoleProducer(t *testing.T) {
	ctKcat(t)
	tb := startBroker(t, nil)
	tb.CreateTopic("tokcat", 1, nil)
	ctx := brokertest.Ctx(t)
	input := "h1:v1,h2:v2\tk1\tvalue one\nh3:x\tk2\tv2\n"
	if _, stderr, err := ctRun(ctx, input, "console-producer", "--bootstrap-server", tb.Addr, "--topic", "tokcat",
		"--property", "parse.key=true", "--property", "parse.headers=true"); err != nil {
		t.Fatalf("console-producer: %v (%s)", err, stderr)
	}
	got := ctKcatRun(t, ctx, "", "-C", "-b", tb.Addr, "-t", "tokcat", "-e", "-q", "-f", "%k:%s:%h\n")
	want := "k1:value one:h1=v1,h2=v2\nk2:v2:h3=x\n"
	if got != want {
		t.Errorf("kcat read %q, want %q", got, want)
	}
}

// TestConsoleConsumerReadsKcat checks the other way: what kcat -P writes with keys and
// headers, console-consumer prints.
func TestConsoleConsumerReadsKcat(t *testing.T) {
	ctKcat(t)
	tb := startBroker(t, nil)
	tb.CreateTopic("fromkcat", 1, nil)
	ctx := brokertest.Ctx(t)
	ctKcatRun(t, ctx, "key1:val1\nkey2:val2\n", "-P", "-b", tb.Addr, "-t", "fromkcat", "-K:", "-H", "k=v", "-H", "trace=abc")
	stdout, stderr, err := ctRun(ctx, "", "console-consumer", "--bootstrap-server", tb.Addr, "--topic", "fromkcat",
		"--from-beginning", "--property", "print.key=true", "--property", "print.headers=true", "--max-messages", "2")
	if err != nil {
		t.Fatalf("console-consumer: %v (%s)", err, stderr)
	}
	want := "k:v,trace:abc\tkey1\tval1\nk:v,trace:abc\tkey2\tval2\n"
	if stdout != want {
		t.Errorf("console-consumer printed %q, want %q", stdout, want)
	}
}
