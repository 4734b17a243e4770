package cli

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

const producerPerfSummary = `Produces --num-records records to --topic as fast as possible or at
--throughput records/s and reports throughput and latency (send to acknowledgement)
as kafka-producer-perf-test.sh: a line every 5 seconds and a final summary with
percentiles. Producer settings come from --producer-props k=v ... and
--producer.config (bootstrap.servers there or --bootstrap-server names the brokers).`

func runProducerPerfTest(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet(e, "producer-perf-test", producerPerfSummary)
	var (
		cf                                     clientFlags
		topic, payloadFile, payloadDelimiter   string
		producerConfig, transactionalID        string
		numRecords, warmupRecords, txnDuration int64
		recordSize                             int
		throughput                             float64
		payloadMonotonic, printMetrics         bool
		producerProps                          multiFlag
	)
	cf.register(fs)
	fs.StringVar(&topic, "topic", "", "REQUIRED: produce messages to this topic")
	fs.Int64Var(&numRecords, "num-records", 0, "REQUIRED: number of messages to produce")
	fs.IntVar(&recordSize, "record-size", 0, "message size in bytes (one of --record-size, --payload-file, --payload-monotonic)")
	fs.StringVar(&payloadFile, "payload-file", "", "file to read payloads from, picked at random per record")
	fs.StringVar(&payloadDelimiter, "payload-delimiter", `\n`, "delimiter between payloads in --payload-file")
	fs.BoolVar(&payloadMonotonic, "payload-monotonic", false, "payload is the record's index as a decimal string")
	fs.Float64Var(&throughput, "throughput", 0, "REQUIRED: throttle to about this many records/s; -1 for no limit")
	fs.Var(&producerProps, "producer-props", "producer properties k=v ... (take precedence over --producer.config)")
	fs.StringVar(&producerConfig, "producer.config", "", "producer properties file")
	fs.BoolVar(&printMetrics, "print-metrics", false, "print client metrics at the end (not available: prints a note)")
	fs.StringVar(&transactionalID, "transactional-id", "", "not supported: transactions are not available yet")
	fs.Int64Var(&txnDuration, "transaction-duration-ms", 0, "not supported: transactions are not available yet")
	fs.Int64Var(&warmupRecords, "warmup-records", 0, "records to leave out of a second, steady-state summary")
	if err := parseFlags(e, fs, expandNargs(args, "producer-props")); err != nil {
		if isHelp(err) {
			return nil
		}
		return err
	}
	switch {
	case topic == "":
		return usageErrorf("producer-perf-test: --topic is required")
	case !flagSet(fs, "num-records"):
		return usageErrorf("producer-perf-test: --num-records is required")
	case numRecords <= 0:
		return usageErrorf("producer-perf-test: --num-records should be greater than zero")
	case !flagSet(fs, "throughput"):
		return usageErrorf("producer-perf-test: --throughput is required")
	case warmupRecords < 0 || warmupRecords >= numRecords:
		return usageErrorf("producer-perf-test: the value for --warmup-records must be strictly fewer than the number of records in the test, --num-records")
	case transactionalID != "" || txnDuration != 0:
		return usageErrorf("producer-perf-test: transactions are not supported yet")
	}
	payloadChoices := 0
	for _, set := range []bool{flagSet(fs, "record-size"), payloadFile != "", payloadMonotonic} {
		if set {
			payloadChoices++
		}
	}
	if payloadChoices != 1 {
		return usageErrorf("producer-perf-test: exactly one of --record-size, --payload-file or --payload-monotonic is required")
	}
	if flagSet(fs, "record-size") && recordSize <= 0 {
		return usageErrorf("producer-perf-test: --record-size should be greater than zero")
	}

	var payloads [][]byte
	if payloadFile != "" {
		var err error
		if payloads, err = readPayloads(e.stdout, payloadFile, payloadDelimiter); err != nil {
			return fmt.Errorf("producer-perf-test: %w", err)
		}
	}

	props, err := loadClientProps(&cf, producerConfig, "--producer.config", producerProps, "producer-props")
	if err != nil {
		return err
	}
	bootstrapFromProps(&cf, fs, props)
	ps, err := producerOptions(props, "producer-perf-test", e.stderr)
	if err != nil {
		return err
	}
	opts := append(defaultClientID(props, "perf-producer-client"), ps.opts...)
	opts = append(opts, kgo.DefaultProduceTopic(topic), kgo.AllowAutoTopicCreation())
	cl, err := cf.newClient(ctx, opts...)
	if err != nil {
		return fmt.Errorf("producer-perf-test: %w", err)
	}
	defer cl.Close()

	if warmupRecords > 0 {
		fmt.Fprintf(e.stdout, "Warmup first %d records. Steady state results will print after the complete test summary.\n", warmupRecords)
	}
	// The payload source: one random buffer sliced at a varying start, so each record
	// differs without an allocation per record and no buffer is reused while in flight.
	rng := rand.New(rand.NewPCG(0, 0))
	var random []byte
	if recordSize > 0 {
		random = make([]byte, recordSize+4096)
		for i := range random {
			random[i] = byte('A' + rng.IntN(26))
		}
	}
	payload := func(i int64) []byte {
		switch {
		case len(payloads) > 0:
			return payloads[rng.IntN(len(payloads))]
		case payloadMonotonic:
			return []byte(fmt.Sprint(i))
		default:
			off := rng.IntN(4096)
			return random[off : off+recordSize : off+recordSize]
		}
	}

	var (
		mu       sync.Mutex // guards failures and firstErr, written by promises
		failures int64
		firstErr error
		wg       sync.WaitGroup
	)
	now := time.Now()
	stats := newPerfStats(e.stdout, numRecords, false, now)
	var steady *perfStats
	throttler := newThrottler(throughput, now)
	for i := int64(0); i < numRecords; i++ {
		if ctx.Err() != nil {
			break
		}
		value := payload(i)
		sendStart := time.Now()
		if warmupRecords > 0 && i == warmupRecords {
			steady = newPerfStats(e.stdout, numRecords-warmupRecords, true, sendStart)
			stats.suppress()
		}
		st := steady
		wg.Add(1)
		cl.Produce(ctx, &kgo.Record{Value: value}, func(_ *kgo.Record, err error) {
			defer wg.Done()
			acked := time.Now()
			if err != nil {
				mu.Lock()
				failures++
				if firstErr == nil {
					firstErr = err
				}
				mu.Unlock()
				return
			}
			latency := acked.Sub(sendStart).Milliseconds()
			stats.record(latency, len(value), acked)
			if st != nil {
				st.record(latency, len(value), acked)
			}
		})
		if throttler.shouldThrottle(i, sendStart) {
			throttler.throttle(ctx)
		}
	}
	flushErr := cl.Flush(ctx)
	wg.Wait()
	end := time.Now()
	stats.printTotal(end)
	if steady != nil {
		steady.printTotal(end)
	}
	if printMetrics {
		fmt.Fprintln(e.stderr, "producer-perf-test: --print-metrics: franz-go does not keep Kafka's producer metrics; none are printed")
	}
	if failures > 0 {
		return fmt.Errorf("producer-perf-test: %d of %d records failed; first error: %w", failures, numRecords, firstErr)
	}
	if flushErr != nil && ctx.Err() == nil {
		return fmt.Errorf("producer-perf-test: %w", flushErr)
	}
	return nil
}

// readPayloads splits the payload file as Kafka does (announcing it on stdout).
func readPayloads(stdout io.Writer, path, delimiter string) ([][]byte, error) {
	if delimiter == `\n` {
		delimiter = "\n"
	}
	abs, _ := filepath.Abs(path)
	fmt.Fprintf(stdout, "Reading payloads from: %s\n", abs)
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("--payload-file: %w", err)
	}
	if len(data) == 0 {
		return nil, fmt.Errorf("--payload-file %s: file does not exist or empty file provided", path)
	}
	var out [][]byte
	for _, p := range bytes.Split(data, []byte(delimiter)) {
		if len(p) > 0 {
			out = append(out, p)
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("--payload-file %s: no payloads between delimiters", path)
	}
	fmt.Fprintf(stdout, "Number of messages read: %d\n", len(out))
	return out, nil
}

// perfStats is Kafka's ProducerPerformance.Stats: totals, a reporting window of five
// seconds, and a sample of latencies (at most 500,000) for the percentiles. Promises
// call record from franz-go's goroutines.
type perfStats struct {
	out          io.Writer
	start        time.Time
	sampling     int64
	steadyState  bool
	reportWindow time.Duration

	mu               sync.Mutex // guards everything below
	latencies        []int64
	iteration        int64
	count, bytes     int64
	totalLatency     int64
	maxLatency       int64
	windowStart      time.Time
	windowCount      int64
	windowBytes      int64
	windowTotalLat   int64
	windowMaxLatency int64
	suppressed       bool
}

func newPerfStats(out io.Writer, numRecords int64, steadyState bool, now time.Time) *perfStats {
	sampling := numRecords / min(numRecords, 500000)
	return &perfStats{
		out: out, start: now, windowStart: now, sampling: sampling, steadyState: steadyState,
		reportWindow: 5 * time.Second,
		latencies:    make([]int64, 0, numRecords/sampling+1),
	}
}

func (s *perfStats) suppress() {
	s.mu.Lock()
	s.suppressed = true
	s.mu.Unlock()
}

func (s *perfStats) record(latencyMs int64, n int, now time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.count++
	s.bytes += int64(n)
	s.totalLatency += latencyMs
	s.maxLatency = max(s.maxLatency, latencyMs)
	s.windowCount++
	s.windowBytes += int64(n)
	s.windowTotalLat += latencyMs
	s.windowMaxLatency = max(s.windowMaxLatency, latencyMs)
	if s.iteration%s.sampling == 0 {
		s.latencies = append(s.latencies, latencyMs)
	}
	if now.Sub(s.windowStart) >= s.reportWindow {
		if s.steadyState && s.count == s.windowCount {
			fmt.Fprintln(s.out, "In steady state.")
		}
		if !s.suppressed {
			s.printWindowLocked(now)
		}
		s.windowStart, s.windowCount, s.windowBytes, s.windowTotalLat, s.windowMaxLatency = now, 0, 0, 0, 0
	}
	s.iteration++
}

func (s *perfStats) printWindowLocked(now time.Time) {
	elapsedMs := float64(now.Sub(s.windowStart)) / float64(time.Millisecond)
	fmt.Fprintf(s.out, "%d records sent, %.1f records/sec (%.2f MB/sec), %.1f ms avg latency, %.1f ms max latency.\n",
		s.windowCount, 1000*float64(s.windowCount)/elapsedMs, 1000*float64(s.windowBytes)/elapsedMs/(1024*1024),
		float64(s.windowTotalLat)/float64(s.windowCount), float64(s.windowMaxLatency))
}

// printTotal prints Kafka's summary line. The elapsed time is from the first send to
// the last acknowledgement, measured to the nanosecond rather than Java's millisecond.
func (s *perfStats) printTotal(now time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	elapsedMs := float64(now.Sub(s.start)) / float64(time.Millisecond)
	sorted := slices.Clone(s.latencies)
	slices.Sort(sorted)
	avg := 0.0
	if s.count > 0 {
		avg = float64(s.totalLatency) / float64(s.count)
	}
	steady := ""
	if s.steadyState {
		steady = " steady state"
	}
	fmt.Fprintf(s.out, "%d%s records sent, %f records/sec (%.2f MB/sec), %.2f ms avg latency, %.2f ms max latency, %d ms 50th, %d ms 95th, %d ms 99th, %d ms 99.9th.\n",
		s.count, steady, 1000*float64(s.count)/elapsedMs, 1000*float64(s.bytes)/elapsedMs/(1024*1024),
		avg, float64(s.maxLatency),
		percentile(sorted, 0.5), percentile(sorted, 0.95), percentile(sorted, 0.99), percentile(sorted, 0.999))
}

// throttler is Kafka's ThroughputThrottler: when the rate so far exceeds the target it
// sleeps, on average 1/target seconds per record, in sleeps of at least 2 ms.
type throttler struct {
	target     float64
	start      time.Time
	sleepPer   time.Duration
	sleepDebt  time.Duration
	sleepAfter time.Duration
}

func newThrottler(target float64, start time.Time) *throttler {
	t := &throttler{target: target, start: start, sleepAfter: 2 * time.Millisecond}
	if target > 0 {
		t.sleepPer = time.Duration(float64(time.Second) / target)
	}
	return t
}

func (t *throttler) shouldThrottle(sentSoFar int64, now time.Time) bool {
	if t.target < 0 {
		return false
	}
	elapsed := now.Sub(t.start).Seconds()
	return elapsed > 0 && float64(sentSoFar)/elapsed > t.target
}

func (t *throttler) throttle(ctx context.Context) {
	if t.target == 0 {
		<-ctx.Done() // throughput 0 means send nothing more, until interrupted
		return
	}
	t.sleepDebt += t.sleepPer
	if t.sleepDebt < t.sleepAfter {
		return
	}
	startSleep := time.Now()
	timer := time.NewTimer(t.sleepDebt)
	select {
	case <-timer.C:
	case <-ctx.Done():
		timer.Stop()
	}
	// Oversleeping is credited against the next sleeps: the debt may go negative.
	t.sleepDebt -= time.Since(startSleep)
}
