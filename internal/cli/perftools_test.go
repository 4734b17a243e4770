package cli

import (
	"context"
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/samsa-io/samsa/internal/brokertest"
)

// ctPerfTotal matches producer-perf-test's final line, Kafka's format.
var ctPerfTotal = regexp.MustCompile(`^(\d+) records sent, (\d+\.\d{6}) records/sec \((\d+\.\d{2}) MB/sec\), (\d+\.\d{2}) ms avg latency, (\d+\.\d{2}) ms max latency, (\d+) ms 50th, (\d+) ms 95th, (\d+) ms 99th, (\d+) ms 99\.9th\.$`)

// ctEndOffsets sums the end offsets (high watermarks) of topic's partitions once they
// add up to want, or after ten seconds. On a cluster a high watermark moves once the
// followers have fetched what the leader acknowledged, which with acks=1 may be after
// the producer is done.
func ctEndOffsets(t *testing.T, tb *brokertest.Broker, topic string, want int64) int64 {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		ends, err := tb.Admin().ListEndOffsets(brokertest.Ctx(t), topic)
		if err == nil {
			err = ends.Error()
		}
		if err != nil {
			t.Fatal(err)
		}
		var sum int64
		for _, ps := range ends {
			for _, o := range ps {
				sum += o.Offset
			}
		}
		if sum >= want || time.Now().After(deadline) {
			return sum
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func ctPerfSummary(t *testing.T, stdout string) []string {
	t.Helper()
	lines := strings.Split(strings.TrimSuffix(stdout, "\n"), "\n")
	m := ctPerfTotal.FindStringSubmatch(lines[len(lines)-1])
	if m == nil {
		t.Fatalf("last line does not parse as Kafka's summary: %q", stdout)
	}
	return m
}

func TestProducerPerfTestCount(t *testing.T) {
	tb := startBroker(t, nil)
	tb.CreateTopic("perf", 3, nil)
	ctx := brokertest.Ctx(t)
	stdout, stderr, err := ctRun(ctx, "", "producer-perf-test", "--topic", "perf", "--num-records", "20000", "--record-size", "100",
		"--throughput", "-1", "--producer-props", "bootstrap.servers="+tb.Addr, "acks=1", "linger.ms=5")
	if err != nil {
		t.Fatalf("producer-perf-test: %v (%s)", err, stderr)
	}
	m := ctPerfSummary(t, stdout)
	if m[1] != "20000" {
		t.Errorf("summary counts %s records, want 20000", m[1])
	}
	if n := ctEndOffsets(t, tb, "perf", 20000); n != 20000 {
		t.Errorf("the broker holds %d records, want 20000", n)
	}
	// The MB/s figure is records/s times 100 bytes.
	rate, _ := strconv.ParseFloat(m[2], 64)
	mb, _ := strconv.ParseFloat(m[3], 64)
	if want := rate * 100 / (1024 * 1024); math.Abs(mb-want) > 0.01+want*0.01 {
		t.Errorf("MB/sec %v, want %v from %v records/sec", mb, want, rate)
	}
	p := make([]int, 4)
	for i := range p {
		p[i], _ = strconv.Atoi(m[6+i])
	}
	maxLat, _ := strconv.ParseFloat(m[5], 64)
	if p[0] > p[1] || p[1] > p[2] || p[2] > p[3] || float64(p[3]) > maxLat {
		t.Errorf("percentiles %v and max %v are not ordered", p, maxLat)
	}
}

// TestProducerPerfTestRateMatchesBroker checks the reported records/sec against the
// broker's own clock: with log.message.timestamp.type=LogAppendTime every batch is
// stamped when the broker appends it, so (records-1) / (last stamp - first stamp) is the
// rate the broker saw. A throttled run lasting about two seconds keeps the few
// milliseconds of the first and last round trips well under the 10% allowed; a tool
// that counted sends instead of acknowledgements, timed the wrong interval or
// misreported its count would be off by more.
func TestProducerPerfTestRateMatchesBroker(t *testing.T) {
	tb := startBroker(t, map[string]string{"log.message.timestamp.type": "LogAppendTime"})
	tb.CreateTopic("rate", 1, nil)
	ctx := brokertest.Ctx(t)
	const n = 10000
	stdout, stderr, err := ctRun(ctx, "", "producer-perf-test", "--bootstrap-server", tb.Addr, "--topic", "rate",
		"--num-records", fmt.Sprint(n), "--record-size", "50", "--throughput", "5000", "--producer-props", "linger.ms=0")
	if err != nil {
		t.Fatalf("producer-perf-test: %v (%s)", err, stderr)
	}
	m := ctPerfSummary(t, stdout)
	reported, _ := strconv.ParseFloat(m[2], 64)
	recs := ctRecords(t, tb, "rate", n)
	first, last := recs[0].Timestamp, recs[0].Timestamp
	for _, r := range recs {
		if r.Attrs.TimestampType() != 1 {
			t.Fatalf("record timestamp type %d, want LogAppendTime", r.Attrs.TimestampType())
		}
		if r.Timestamp.Before(first) {
			first = r.Timestamp
		}
		if r.Timestamp.After(last) {
			last = r.Timestamp
		}
	}
	brokerRate := float64(n-1) / last.Sub(first).Seconds()
	if math.Abs(reported-brokerRate) > 0.10*brokerRate {
		t.Errorf("reported %.0f records/sec, the broker's append times give %.0f", reported, brokerRate)
	}
	// The throttle keeps the rate at or under the target; it may be lower on a busy machine.
	if reported > 5000*1.10 {
		t.Errorf("reported %.0f records/sec with --throughput 5000", reported)
	}
}

func TestThrottler(t *testing.T) {
	start := time.Unix(1000, 0)
	tests := []struct {
		target  float64
		sent    int64
		elapsed time.Duration
		want    bool
	}{
		{-1, 1_000_000, time.Millisecond, false},
		{100, 50, time.Second, false},
		{100, 150, time.Second, true},
		{100, 10, 0, false}, // no time yet: nothing to measure
		{0, 1, time.Second, true},
	}
	for _, tt := range tests {
		if got := newThrottler(tt.target, start).shouldThrottle(tt.sent, start.Add(tt.elapsed)); got != tt.want {
			t.Errorf("target %v, %d sent in %v: throttle %v, want %v", tt.target, tt.sent, tt.elapsed, got, tt.want)
		}
	}
	// Sleeps are owed 1/target each and taken only once 2 ms are owed.
	th := newThrottler(1000, start) // 1 ms per record
	th.throttle(context.Background())
	if th.sleepDebt != time.Millisecond {
		t.Errorf("debt after one record %v, want 1ms (no sleep yet)", th.sleepDebt)
	}
}

func TestPerfStatsPercentiles(t *testing.T) {
	var out strings.Builder
	now := time.Unix(0, 0)
	s := newPerfStats(&out, 1000, false, now)
	for i := int64(1); i <= 1000; i++ {
		s.record(i, 10, now)
	}
	s.printTotal(now.Add(2 * time.Second))
	want := "1000 records sent, 500.000000 records/sec (0.00 MB/sec), 500.50 ms avg latency, 1000.00 ms max latency, 501 ms 50th, 951 ms 95th, 991 ms 99th, 1000 ms 99.9th.\n"
	if out.String() != want {
		t.Errorf("got  %q\nwant %q", out.String(), want)
	}
	// A window line every five seconds.
	out.Reset()
	s = newPerfStats(&out, 10, false, now)
	s.record(3, 1048576, now.Add(time.Second))
	s.record(5, 1048576, now.Add(5*time.Second))
	if want := "2 records sent, 0.4 records/sec (0.40 MB/sec), 4.0 ms avg latency, 5.0 ms max latency.\n"; out.String() != want {
		t.Errorf("window line %q, want %q", out.String(), want)
	}
}

func TestExpandNargs(t *testing.T) {
	got := expandNargs([]string{"--producer-props", "a=1", "b=2", "--topic", "t", "--producer-props", "c=3"}, "producer-props")
	want := "--producer-props a=1 --producer-props b=2 --topic t --producer-props c=3"
	if strings.Join(got, " ") != want {
		t.Errorf("got %q", got)
	}
}

func TestProducerPerfTestErrors(t *testing.T) {
	ctx := context.Background()
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"--num-records", "1", "--record-size", "1", "--throughput", "-1"}, "--topic is required"},
		{[]string{"--topic", "t", "--record-size", "1", "--throughput", "-1"}, "--num-records is required"},
		{[]string{"--topic", "t", "--num-records", "1", "--throughput", "-1"}, "exactly one of --record-size"},
		{[]string{"--topic", "t", "--num-records", "1", "--record-size", "1"}, "--throughput is required"},
		{[]string{"--topic", "t", "--num-records", "0", "--record-size", "1", "--throughput", "-1"}, "greater than zero"},
		{[]string{"--topic", "t", "--num-records", "1", "--record-size", "1", "--throughput", "-1", "--bootstrap-server", "127.0.0.1:1"}, "cannot reach a broker"},
	} {
		_, _, err := ctRun(ctx, "", append([]string{"producer-perf-test"}, tt.args...)...)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%v: %v, want %q", tt.args, err, tt.want)
		}
	}
}

func TestConsumerPerfTest(t *testing.T) {
	tb := startBroker(t, nil)
	tb.CreateTopic("cperf", 2, nil)
	ctx := brokertest.Ctx(t)
	if _, _, err := ctRun(ctx, "", "producer-perf-test", "--bootstrap-server", tb.Addr, "--topic", "cperf",
		"--num-records", "500", "--record-size", "1000", "--throughput", "-1"); err != nil {
		t.Fatal(err)
	}
	header := "start.time, end.time, data.consumed.in.MB, MB.sec, data.consumed.in.nMsg, nMsg.sec, rebalance.time.ms, fetch.time.ms, fetch.MB.sec, fetch.nMsg.sec"
	line := regexp.MustCompile(`^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d:\d{3}, \d{4}-\d\d-\d\d \d\d:\d\d:\d\d:\d{3}, (\d+\.\d{4}), \d+\.\d{4}, (\d+), \d+\.\d{4}, 0, \d+, \S+, \S+$`)
	for _, tt := range []struct {
		messages, timeout string
		count             int
		warn              bool
	}{
		{"500", "10000", 500, false},
		{"200", "10000", 200, false},
		{"600", "300", 500, true},
	} {
		stdout, stderr, err := ctRun(ctx, "", "consumer-perf-test", "--bootstrap-server", tb.Addr, "--topic", "cperf",
			"--messages", tt.messages, "--timeout", tt.timeout)
		if err != nil {
			t.Fatalf("consumer-perf-test: %v (%s)", err, stderr)
		}
		lines := strings.Split(strings.TrimSuffix(stdout, "\n"), "\n")
		if lines[0] != header {
			t.Errorf("header %q", lines[0])
		}
		if tt.warn != strings.HasPrefix(lines[1], "WARNING: Exiting before consuming the expected number of messages: timeout (300 ms) exceeded.") {
			t.Errorf("--messages %s: line %q", tt.messages, lines[1])
		}
		m := line.FindStringSubmatch(lines[len(lines)-1])
		if m == nil {
			t.Fatalf("result line %q does not parse", lines[len(lines)-1])
		}
		if m[2] != fmt.Sprint(tt.count) || m[1] != fmt.Sprintf("%.4f", float64(tt.count*1000)/(1024*1024)) {
			t.Errorf("--messages %s: %s messages, %s MB; want %d", tt.messages, m[2], m[1], tt.count)
		}
	}
	stdout, _, err := ctRun(ctx, "", "consumer-perf-test", "--bootstrap-server", tb.Addr, "--topic", "cperf", "--messages", "10",
		"--show-detailed-stats", "--hide-header")
	if err != nil || stdout != "" {
		t.Errorf("detailed stats with a run shorter than the interval: %v, %q", err, stdout)
	}
	if _, _, err := ctRun(ctx, "", "consumer-perf-test", "--bootstrap-server", tb.Addr, "--topic", "cperf"); err == nil || !strings.Contains(err.Error(), "--messages is required") {
		t.Errorf("without --messages: %v", err)
	}
}

func TestFormatJavaDate(t *testing.T) {
	ts := time.Date(2024, 3, 7, 14, 5, 9, 42*int(time.Millisecond), time.UTC)
	for pattern, want := range map[string]string{
		"yyyy-MM-dd HH:mm:ss:SSS": "2024-03-07 14:05:09:042",
		"yy/M/d h 'o''clock' a":   "24/3/7 2 o'clock PM",
		"EEE MMM":                 "Thu Mar",
	} {
		if got := formatJavaDate(ts, pattern); got != want {
			t.Errorf("%q: got %q, want %q", pattern, got, want)
		}
	}
}

func TestE2ELatency(t *testing.T) {
	tb := startBroker(t, nil)
	tb.CreateTopic("lat", 1, nil)
	ctx := brokertest.Ctx(t)
	avg := regexp.MustCompile(`(?m)^Avg latency: \d+\.\d{4} ms$`)
	pct := regexp.MustCompile(`(?m)^Percentiles: 50th = (\d+), 99th = (\d+), 99\.9th = (\d+)$`)
	progress := regexp.MustCompile(`(?m)^0\t\d+\.\d+$`)

	// Kafka's positional form, on a topic it has to create.
	stdout, stderr, err := ctRun(ctx, "", "e2e-latency", tb.Addr, "newlat", "20", "1", "10")
	if err != nil {
		t.Fatalf("e2e-latency: %v (%s)", err, stderr)
	}
	if !strings.HasPrefix(stdout, "Topic \"newlat\" does not exist. Will create topic with 1 partition(s) and replication factor = 1\n") ||
		!avg.MatchString(stdout) || !pct.MatchString(stdout) || !progress.MatchString(stdout) {
		t.Errorf("output %q", stdout)
	}
	if n := ctEndOffsets(t, tb, "newlat", 20); n != 20 {
		t.Errorf("newlat holds %d records, want 20", n)
	}

	// The flag form on an existing topic that already has records.
	if _, _, err := ctRun(ctx, "old\n", "console-producer", "--bootstrap-server", tb.Addr, "--topic", "lat"); err != nil {
		t.Fatal(err)
	}
	stdout, _, err = ctRun(ctx, "", "e2e-latency", "--bootstrap-server", tb.Addr, "--topic", "lat", "--num-records", "15",
		"--producer-acks", "all", "--record-size", "100")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(stdout, "does not exist") || !avg.MatchString(stdout) || !pct.MatchString(stdout) {
		t.Errorf("output %q", stdout)
	}
	m := pct.FindStringSubmatch(stdout)
	p50, _ := strconv.Atoi(m[1])
	p99, _ := strconv.Atoi(m[2])
	if p50 > p99 {
		t.Errorf("50th %d > 99th %d", p50, p99)
	}
	if n := ctEndOffsets(t, tb, "lat", 16); n != 16 {
		t.Errorf("lat holds %d records, want 16", n)
	}

	for _, args := range [][]string{
		{tb.Addr, "lat", "5", "0", "10"},
		{tb.Addr, "lat", "5"},
		{"--topic", "lat", "--num-records", "1", "--producer-acks", "-1", "--record-size", "1"},
	} {
		if _, _, err := ctRun(ctx, "", append([]string{"e2e-latency"}, args...)...); err == nil {
			t.Errorf("%v: no error", args)
		}
	}
}
