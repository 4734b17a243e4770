package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

const consumerPerfSummary = `Consumes --messages records from --topic (or the topics matching --include) and
reports throughput as kafka-consumer-perf-test.sh: a header and one CSV-like line, or
a line per --reporting-interval with --show-detailed-stats.

Without --group every partition is assigned directly (rebalance.time.ms is 0), where
Kafka joins a generated group; with --group the consumer joins that group (the broker
must support consumer groups) and the time to be assigned partitions is
rebalance.time.ms.`

func runConsumerPerfTest(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet(e, "consumer-perf-test", consumerPerfSummary)
	var (
		cf                                     clientFlags
		topic, include, group, consumerConfig  string
		dateFormat                             string
		fetchSize, socketBufferSize            int
		messages, timeoutMs, reportingInterval int64
		fromLatest, detailed, hideHeader       bool
		printMetrics                           bool
	)
	cf.register(fs)
	fs.StringVar(&topic, "topic", "", "the topic to consume from")
	fs.StringVar(&include, "include", "", "regular expression of the topics to consume from")
	fs.StringVar(&group, "group", "", "consumer group to join (default: no group, partitions assigned directly)")
	fs.IntVar(&fetchSize, "fetch-size", 1024*1024, "max.partition.fetch.bytes: the amount of data to fetch per partition in a request")
	fs.BoolVar(&fromLatest, "from-latest", false, "start at the latest record rather than the earliest when there is no committed offset")
	fs.IntVar(&socketBufferSize, "socket-buffer-size", 2*1024*1024, "accepted for compatibility")
	fs.StringVar(&consumerConfig, "consumer.config", "", "consumer properties file")
	fs.BoolVar(&printMetrics, "print-metrics", false, "print client metrics (not available: prints a note)")
	fs.BoolVar(&detailed, "show-detailed-stats", false, "report stats every --reporting-interval")
	fs.Int64Var(&timeoutMs, "timeout", 10000, "the maximum time in milliseconds between returned records")
	fs.Int64Var(&messages, "messages", 0, "REQUIRED: the number of messages to consume")
	fs.Int64Var(&reportingInterval, "reporting-interval", 5000, "interval in milliseconds at which to print progress")
	fs.StringVar(&dateFormat, "date-format", "yyyy-MM-dd HH:mm:ss:SSS", "java.text.SimpleDateFormat pattern for the time fields")
	fs.BoolVar(&hideHeader, "hide-header", false, "do not print the header line")
	if err := parseFlags(e, fs, args); err != nil {
		if isHelp(err) {
			return nil
		}
		return err
	}
	switch {
	case !flagSet(fs, "messages"):
		return usageErrorf("consumer-perf-test: --messages is required")
	case (topic == "") == (include == ""):
		return usageErrorf("consumer-perf-test: exactly one of --topic or --include is required")
	case reportingInterval <= 0:
		return usageErrorf("consumer-perf-test: reporting interval must be greater than 0")
	}
	props, err := loadClientProps(&cf, consumerConfig, "--consumer.config", nil, "consumer.config")
	if err != nil {
		return err
	}
	if group == "" {
		group = props["group.id"]
	}
	cs, err := consumerOptions(props, "consumer-perf-test", e.stderr)
	if err != nil {
		return err
	}
	start := kgo.NewOffset().AtStart()
	if fromLatest {
		start = kgo.NewOffset().AtEnd()
	}
	opts := append(defaultClientID(props, "perf-consumer-client"), cs.opts...)
	opts = append(opts, kgo.FetchMaxPartitionBytes(int32(fetchSize)), kgo.ConsumeResetOffset(start))
	if topic != "" {
		opts = append(opts, kgo.ConsumeTopics(topic))
	} else {
		opts = append(opts, kgo.ConsumeRegex(), kgo.ConsumeTopics("^(?:"+include+")$"), kgo.ConsumeExcludeTopics("^__.*"))
	}

	// The rebalance time, as Kafka's ConsumerPerfRebListener: from the start (or the
	// last revocation of everything) to the first assignment.
	var (
		mu          sync.Mutex // guards joinStart, joinTotal, joinRound, assigned
		joinStart   = time.Now()
		joinTotal   time.Duration
		joinRound   time.Duration
		assignedAny bool
	)
	if group != "" {
		opts = append(opts, kgo.ConsumerGroup(group), kgo.DisableAutoCommit())
		opts = append(opts, cs.groupOpts...)
		opts = append(opts,
			kgo.OnPartitionsAssigned(func(context.Context, *kgo.Client, map[string][]int32) {
				mu.Lock()
				defer mu.Unlock()
				if !assignedAny {
					d := time.Since(joinStart)
					joinTotal += d
					joinRound += d
				}
				assignedAny = true
			}),
			kgo.OnPartitionsRevoked(func(context.Context, *kgo.Client, map[string][]int32) {
				mu.Lock()
				defer mu.Unlock()
				assignedAny = false
				joinStart = time.Now()
			}))
	}
	cl, err := cf.newClient(ctx, opts...)
	if err != nil {
		return fmt.Errorf("consumer-perf-test: %w", err)
	}
	defer cl.Close()
	if group != "" {
		if err := requireGroups(ctx, cl, "consumer-perf-test", group, cf.bootstrap); err != nil {
			return err
		}
	}
	if topic != "" {
		if _, err := topicPartitionCount(ctx, cl, topic); err != nil {
			return fmt.Errorf("consumer-perf-test: %w", err)
		}
	}

	out := e.stdout
	if !hideHeader {
		printConsumerPerfHeader(out, detailed)
	}
	timeout := time.Duration(timeoutMs) * time.Millisecond
	interval := time.Duration(reportingInterval) * time.Millisecond
	var bytesRead, messagesRead, lastBytes, lastMessages int64
	startTime := time.Now()
	now := startTime
	lastReport, lastConsumed := now, now
	for messagesRead < messages && now.Sub(lastConsumed) <= timeout && ctx.Err() == nil {
		pctx, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
		fetches := cl.PollRecords(pctx, int(min(messages-messagesRead, 1<<20)))
		cancel()
		now = time.Now()
		for _, fe := range fetches.Errors() {
			if errors.Is(fe.Err, context.DeadlineExceeded) || errors.Is(fe.Err, context.Canceled) {
				continue
			}
			return fmt.Errorf("consumer-perf-test: %s-%d: %w", fe.Topic, fe.Partition, fe.Err)
		}
		if fetches.NumRecords() > 0 {
			lastConsumed = now
		}
		fetches.EachRecord(func(r *kgo.Record) {
			messagesRead++
			bytesRead += int64(len(r.Key) + len(r.Value))
			if now.Sub(lastReport) >= interval {
				if detailed {
					mu.Lock()
					round := joinRound
					joinRound = 0
					mu.Unlock()
					printConsumerProgress(out, dateFormat, bytesRead, lastBytes, messagesRead, lastMessages, lastReport, now, round)
				}
				lastReport, lastMessages, lastBytes = now, messagesRead, bytesRead
			}
		})
	}
	endTime := time.Now()
	if messagesRead < messages {
		fmt.Fprintf(out, "WARNING: Exiting before consuming the expected number of messages: timeout (%d ms) exceeded. You can use the --timeout option to increase the timeout.\n", timeoutMs)
	}
	if printMetrics {
		fmt.Fprintln(e.stderr, "consumer-perf-test: --print-metrics: franz-go does not keep Kafka's consumer metrics; none are printed")
	}
	if !detailed {
		mu.Lock()
		join := joinTotal
		mu.Unlock()
		elapsedSec := endTime.Sub(startTime).Seconds()
		fetchTime := endTime.Sub(startTime) - join
		mb := float64(bytesRead) / (1024 * 1024)
		fmt.Fprintf(out, "%s, %s, %.4f, %.4f, %d, %.4f, %d, %d, %.4f, %.4f\n",
			formatJavaDate(startTime, dateFormat), formatJavaDate(endTime, dateFormat),
			mb, mb/elapsedSec, messagesRead, float64(messagesRead)/elapsedSec,
			join.Milliseconds(), fetchTime.Milliseconds(),
			mb/fetchTime.Seconds(), float64(messagesRead)/fetchTime.Seconds())
	}
	return nil
}

func printConsumerPerfHeader(w io.Writer, detailed bool) {
	const more = ", rebalance.time.ms, fetch.time.ms, fetch.MB.sec, fetch.nMsg.sec"
	if detailed {
		fmt.Fprintf(w, "time, threadId, data.consumed.in.MB, MB.sec, data.consumed.in.nMsg, nMsg.sec%s\n", more)
	} else {
		fmt.Fprintf(w, "start.time, end.time, data.consumed.in.MB, MB.sec, data.consumed.in.nMsg, nMsg.sec%s\n", more)
	}
}

// printConsumerProgress prints one --show-detailed-stats line, as Kafka's
// printBasicProgress followed by printExtendedProgress.
func printConsumerProgress(w io.Writer, dateFormat string, bytesRead, lastBytes, msgs, lastMsgs int64, start, end time.Time, joinRound time.Duration) {
	elapsedMs := float64(end.Sub(start)) / float64(time.Millisecond)
	totalMB := float64(bytesRead) / (1024 * 1024)
	intervalMB := float64(bytesRead-lastBytes) / (1024 * 1024)
	fmt.Fprintf(w, "%s, %d, %.4f, %.4f, %d, %.4f", formatJavaDate(end, dateFormat), 0,
		totalMB, 1000*intervalMB/elapsedMs, msgs, 1000*float64(msgs-lastMsgs)/elapsedMs)
	fetchMs := end.Sub(start).Milliseconds() - joinRound.Milliseconds()
	mbSec, msgSec := 0.0, 0.0
	if fetchMs > 0 {
		mbSec = 1000 * intervalMB / float64(fetchMs)
		msgSec = 1000 * float64(msgs-lastMsgs) / float64(fetchMs)
	}
	fmt.Fprintf(w, ", %d, %d, %.4f, %.4f\n", joinRound.Milliseconds(), fetchMs, mbSec, msgSec)
}

// formatJavaDate formats t with a java.text.SimpleDateFormat pattern, for the letters
// people use in --date-format: y M d H h m s S E a z Z, and 'quoted' text.
func formatJavaDate(t time.Time, pattern string) string {
	var b strings.Builder
	for i := 0; i < len(pattern); {
		c := pattern[i]
		if c == '\'' {
			// Quoted text; '' is a literal quote, inside quotes or out.
			if i+1 < len(pattern) && pattern[i+1] == '\'' {
				b.WriteByte('\'')
				i += 2
				continue
			}
			i++
			for i < len(pattern) {
				if pattern[i] == '\'' {
					if i+1 < len(pattern) && pattern[i+1] == '\'' {
						b.WriteByte('\'')
						i += 2
						continue
					}
					i++
					break
				}
				b.WriteByte(pattern[i])
				i++
			}
			continue
		}
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z') {
			b.WriteByte(c)
			i++
			continue
		}
		n := 1
		for i+n < len(pattern) && pattern[i+n] == c {
			n++
		}
		i += n
		pad := func(v int) { fmt.Fprintf(&b, "%0*d", n, v) }
		switch c {
		case 'y':
			if n == 2 {
				fmt.Fprintf(&b, "%02d", t.Year()%100)
			} else {
				pad(t.Year())
			}
		case 'M':
			switch {
			case n >= 4:
				b.WriteString(t.Month().String())
			case n == 3:
				b.WriteString(t.Month().String()[:3])
			default:
				pad(int(t.Month()))
			}
		case 'd':
			pad(t.Day())
		case 'H':
			pad(t.Hour())
		case 'h':
			h := t.Hour() % 12
			if h == 0 {
				h = 12
			}
			pad(h)
		case 'm':
			pad(t.Minute())
		case 's':
			pad(t.Second())
		case 'S':
			pad(t.Nanosecond() / int(time.Millisecond))
		case 'E':
			if n >= 4 {
				b.WriteString(t.Weekday().String())
			} else {
				b.WriteString(t.Weekday().String()[:3])
			}
		case 'a':
			b.WriteString(t.Format("PM"))
		case 'z':
			b.WriteString(t.Format("MST"))
		case 'Z':
			b.WriteString(t.Format("-0700"))
		default:
			b.WriteString(strings.Repeat(string(c), n))
		}
	}
	return b.String()
}
