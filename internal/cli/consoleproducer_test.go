package cli

import (
	"bytes"
	"context"
	"errors"
	"io"
	"reflect"
	"strings"
	"sync"
	"testing"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/samsa-io/samsa/internal/brokertest"
)

// ctRun runs one samsa command line as the binary would, with stdin and captured output.
func ctRun(ctx context.Context, stdin string, args ...string) (stdout, stderr string, err error) {
	var out, errb bytes.Buffer
	err = Run(ctx, args, strings.NewReader(stdin), &out, &errb)
	return out.String(), errb.String(), err
}

// ctRecords reads every record of topic from the start with a plain franz-go client.
func ctRecords(t *testing.T, tb *brokertest.Broker, topic string, want int) []*kgo.Record {
	t.Helper()
	cl := tb.Client(kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	ctx := brokertest.Ctx(t)
	var recs []*kgo.Record
	for len(recs) < want {
		f := cl.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			t.Fatalf("read %d of %d records of %s: %v", len(recs), want, topic, err)
		}
		recs = append(recs, f.Records()...)
	}
	return recs
}

func TestLineReaderParse(t *testing.T) {
	type hdr struct{ k, v string }
	null := "<null>"
	tests := []struct {
		name    string
		props   clientProps
		line    string
		key     string // null for nil
		value   string
		headers []hdr
		err     string
	}{
		{name: "value only", line: "a\tb", key: null, value: "a\tb"},
		{name: "key", props: clientProps{"parse.key": "true"}, line: "k\tv\tw", key: "k", value: "v\tw"},
		{name: "custom key separator", props: clientProps{"parse.key": "true", "key.separator": "::"}, line: "k::v", key: "k", value: "v"},
		{name: "empty key and value", props: clientProps{"parse.key": "true"}, line: "\t", key: "", value: ""},
		{name: "missing key separator", props: clientProps{"parse.key": "true"}, line: "kv", err: "no key separator found on line number 1: 'kv'"},
		{name: "missing separator ignored", props: clientProps{"parse.key": "TRUE", "ignore.error": "true"}, line: "kv", key: null, value: "kv"},
		{name: "headers and key", props: clientProps{"parse.key": "true", "parse.headers": "true"}, line: "h1:v1,h2:v2\tk\tv",
			key: "k", value: "v", headers: []hdr{{"h1", "v1"}, {"h2", "v2"}}},
		{name: "header value with separator", props: clientProps{"parse.headers": "true"}, line: "h:a:b\tv",
			key: null, value: "v", headers: []hdr{{"h", "a:b"}}},
		{name: "null marker", props: clientProps{"parse.key": "true", "parse.headers": "true", "null.marker": "NULL"},
			line: "h:NULL\tNULL\tNULL", key: null, value: null, headers: []hdr{{"h", null}}},
		{name: "null header key", props: clientProps{"parse.headers": "true", "null.marker": "NULL"},
			line: "NULL:x\tv", err: "header keys should not be equal to the null marker 'NULL'"},
		{name: "header without key separator", props: clientProps{"parse.headers": "true"}, line: "h\tv",
			err: "no header key separator found in pair 'h' on line number 1"},
		{name: "missing headers delimiter", props: clientProps{"parse.headers": "true"}, line: "v",
			err: "no headers delimiter found on line number 1: 'v'"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			props := tt.props
			if props == nil {
				props = clientProps{}
			}
			r, err := newLineReader(props)
			if err != nil {
				t.Fatal(err)
			}
			rec, err := r.parse(tt.line, 1)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("error %v, want %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			str := func(b []byte) string {
				if b == nil {
					return null
				}
				return string(b)
			}
			if str(rec.Key) != tt.key || str(rec.Value) != tt.value {
				t.Errorf("key %q value %q, want %q %q", str(rec.Key), str(rec.Value), tt.key, tt.value)
			}
			var got []hdr
			for _, h := range rec.Headers {
				got = append(got, hdr{h.Key, str(h.Value)})
			}
			if !reflect.DeepEqual(got, tt.headers) {
				t.Errorf("headers %v, want %v", got, tt.headers)
			}
		})
	}
}

func TestLineReaderConfigErrors(t *testing.T) {
	for _, props := range []clientProps{
		{"headers.delimiter": ","},
		{"headers.separator": ":"},
		{"null.marker": "\t"},
		{"key.separator": ""},
		{"parse.keys": "true"},
	} {
		if _, err := newLineReader(props); err == nil {
			t.Errorf("%v: no error", props)
		}
	}
}

func TestOptionalFlagValue(t *testing.T) {
	tests := []struct{ in, want []string }{
		{[]string{"--compression-codec"}, []string{"--compression-codec", "gzip"}},
		{[]string{"--compression-codec", "--sync"}, []string{"--compression-codec", "gzip", "--sync"}},
		{[]string{"--compression-codec", "lz4"}, []string{"--compression-codec", "lz4"}},
		{[]string{"--compression-codec=zstd"}, []string{"--compression-codec=zstd"}},
	}
	for _, tt := range tests {
		if got := optionalFlagValue(tt.in, "compression-codec", "gzip"); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("%v: got %v, want %v", tt.in, got, tt.want)
		}
	}
}

func TestProducerOptions(t *testing.T) {
	var warn bytes.Buffer
	ps, err := producerOptions(clientProps{"acks": "1", "linger.ms": "5", "compression.type": "zstd", "frobnicate": "x"}, "test", &warn)
	if err != nil {
		t.Fatal(err)
	}
	if ps.acks != "1" || !strings.Contains(warn.String(), "frobnicate") {
		t.Errorf("acks %q, warnings %q", ps.acks, warn.String())
	}
	for _, bad := range []clientProps{
		{"acks": "2"},
		{"compression.type": "brotli"},
		{"acks": "1", "enable.idempotence": "true"},
		{"linger.ms": "soon"},
		{"security.protocol": "SASL_SSL"},
	} {
		if _, err := producerOptions(bad, "test", io.Discard); err == nil {
			t.Errorf("%v: no error", bad)
		}
	}
}

// TestConsoleProducerSendFailure checks that a record the client cannot send is
// reported as Kafka reports it and makes the command fail, unless ignore.error is set.
func TestConsoleProducerSendFailure(t *testing.T) {
	tb := startBroker(t, nil)
	tb.CreateTopic("big", 1, nil)
	ctx := brokertest.Ctx(t)
	long := strings.Repeat("x", 1000)
	_, stderr, err := ctRun(ctx, "small\n"+long+"\n", "console-producer", "--bootstrap-server", tb.Addr, "--topic", "big", "--batch-size", "512")
	if err == nil {
		t.Fatal("no error for a record larger than the batch size")
	}
	if !strings.Contains(stderr, "Error when sending message to topic big with key: null, value: 1000 bytes with error:") {
		t.Errorf("stderr %q", stderr)
	}
	_, _, err = ctRun(ctx, long+"\n", "console-producer", "--bootstrap-server", tb.Addr, "--topic", "big", "--batch-size", "512", "--property", "ignore.error=true")
	if err != nil {
		t.Errorf("with ignore.error: %v", err)
	}
	recs := ctRecords(t, tb, "big", 1)
	if string(recs[0].Value) != "small" {
		t.Errorf("first record %q, want small", recs[0].Value)
	}
}

// TestConsoleProducerModes produces with each acks, compression and --sync setting and
// checks every record arrives in order.
func TestConsoleProducerModes(t *testing.T) {
	tb := startBroker(t, nil)
	tb.CreateTopic("modes", 1, nil)
	ctx := brokertest.Ctx(t)
	var want []string
	for i, extra := range [][]string{
		{"--request-required-acks", "0", "--compression-codec", "gzip"},
		{"--request-required-acks", "1", "--compression-codec", "snappy", "--sync"},
		{"--request-required-acks", "all", "--compression-codec"}, // gzip implied, as Kafka
		{"--producer-property", "compression.type=lz4", "--producer-property", "linger.ms=0"},
		{"--compression-codec", "zstd", "--timeout", "0", "--message-send-max-retries", "1"},
	} {
		line := strings.Repeat(string(rune('a'+i)), 10)
		want = append(want, line, line)
		args := append([]string{"console-producer", "--bootstrap-server", tb.Addr, "--topic", "modes"}, extra...)
		if _, stderr, err := ctRun(ctx, line+"\n"+line+"\r\n", args...); err != nil {
			t.Fatalf("%v: %v (stderr %q)", extra, err, stderr)
		}
		// With acks=0 the producer is done once the records are on the wire: wait until
		// the broker has them, so the next producer's records come after them.
		if got := ctEndOffsets(t, tb, "modes", int64(len(want))); got != int64(len(want)) {
			t.Fatalf("%v: topic ends at %d, want %d", extra, got, len(want))
		}
	}
	var got []string
	for _, r := range ctRecords(t, tb, "modes", len(want)) {
		got = append(got, string(r.Value))
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %q, want %q", got, want)
	}
}

// ctNotifyWriter signals once something was written; the consumer tests use it to
// cancel a running command at a known point instead of sleeping.
type ctNotifyWriter struct {
	mu   sync.Mutex
	buf  bytes.Buffer
	once sync.Once
	c    chan struct{}
}

func (w *ctNotifyWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	n, err := w.buf.Write(p)
	w.once.Do(func() { close(w.c) })
	return n, err
}

func (w *ctNotifyWriter) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.String()
}

// TestConsoleProducerCancel checks that a cancelled context ends the producer while
// stdin is still open, and that what was read before is delivered.
func TestConsoleProducerCancel(t *testing.T) {
	tb := startBroker(t, nil)
	tb.CreateTopic("cancel", 1, nil)
	pr, pw := io.Pipe()
	defer pw.Close()
	ctx, cancel := context.WithCancel(brokertest.Ctx(t))
	done := make(chan error, 1)
	go func() {
		done <- Run(ctx, []string{"console-producer", "--bootstrap-server", tb.Addr, "--topic", "cancel", "--sync"}, pr, io.Discard, io.Discard)
	}()
	if _, err := pw.Write([]byte("first\n")); err != nil {
		t.Fatal(err)
	}
	recs := ctRecords(t, tb, "cancel", 1) // --sync: it is on the broker before the next read
	cancel()
	if err := <-done; err != nil && !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled producer: %v", err)
	}
	if string(recs[0].Value) != "first" {
		t.Errorf("record %q", recs[0].Value)
	}
}
