package cli

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

const consoleConsumerSummary = `Prints records of --topic (or of every topic matching --include) to standard
output, as kafka-console-consumer.sh, one line per record in the layout of Kafka's
DefaultMessageFormatter. On exit (--max-messages reached, --timeout-ms without a
record, Ctrl-C) it prints "Processed a total of N messages" on stderr.

Without --group the consumer is assigned every partition of the topic directly (or
--partition alone) and commits nothing, where Kafka joins a throw-away group; with
--group it joins that consumer group and commits what it printed.

Formatter properties (--property): print.timestamp, print.partition, print.offset,
print.headers, print.key, print.value (default true), key.separator (\t),
line.separator (\n), headers.separator (,), null.literal (null).`

func runConsoleConsumer(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet(e, "console-consumer", consoleConsumerSummary)
	var (
		cf                                 clientFlags
		topic, include, offset, group      string
		isolation, formatter, consumerCfg  string
		formatterCfg                       string
		partition, maxMessages             int
		timeoutMs                          int64
		fromBeginning, skipOnError         bool
		properties, formatterProps, cprops multiFlag
	)
	cf.register(fs)
	fs.StringVar(&topic, "topic", "", "the topic to consume")
	fs.StringVar(&include, "include", "", "regular expression of the topics to consume (instead of --topic)")
	fs.StringVar(&include, "whitelist", "", "DEPRECATED, use --include")
	fs.IntVar(&partition, "partition", -1, "consume only this partition (default all)")
	fs.StringVar(&offset, "offset", "", "with --partition: earliest, latest or a non-negative offset to start at (default latest)")
	fs.BoolVar(&fromBeginning, "from-beginning", false, "start with the earliest record rather than the latest when there is no committed offset")
	fs.IntVar(&maxMessages, "max-messages", -1, "exit after this many records (default no limit)")
	fs.Int64Var(&timeoutMs, "timeout-ms", -1, "exit when no record arrives for this many milliseconds (default wait forever)")
	fs.BoolVar(&skipOnError, "skip-message-on-error", false, "report a record that cannot be read and go on instead of stopping")
	fs.StringVar(&isolation, "isolation-level", "read_uncommitted", "read_committed or read_uncommitted")
	fs.StringVar(&group, "group", "", "consumer group to join (needs a broker with group support)")
	fs.StringVar(&formatter, "formatter", "kafka.tools.DefaultMessageFormatter", "only Kafka's DefaultMessageFormatter is available")
	fs.Var(&properties, "property", "formatter property key=value (repeatable), see above")
	fs.Var(&formatterProps, "formatter-property", "same as --property")
	fs.StringVar(&formatterCfg, "formatter-config", "", "formatter properties file; --property takes precedence")
	fs.Var(&cprops, "consumer-property", "consumer property key=value (repeatable)")
	fs.StringVar(&consumerCfg, "consumer.config", "", "consumer properties file; --consumer-property takes precedence")

	if err := parseFlags(e, fs, args); err != nil {
		if isHelp(err) {
			return nil
		}
		return err
	}
	if (topic == "") == (include == "") {
		return usageErrorf("console-consumer: exactly one of --topic or --include is required")
	}
	hasPartition := flagSet(fs, "partition")
	if hasPartition {
		if topic == "" {
			return usageErrorf("console-consumer: the topic is required when partition is specified")
		}
		if partition < 0 {
			return usageErrorf("console-consumer: --partition %d is not a partition number", partition)
		}
		if fromBeginning && offset != "" {
			return usageErrorf("console-consumer: options from-beginning and offset cannot be specified together")
		}
	} else if offset != "" {
		return usageErrorf("console-consumer: the partition is required when offset is specified")
	}
	if !isDefaultFormatter(formatter) {
		return usageErrorf("console-consumer: --formatter %s: only kafka.tools.DefaultMessageFormatter is available", formatter)
	}
	start := kgo.NewOffset().AtEnd()
	if fromBeginning {
		start = kgo.NewOffset().AtStart()
	}
	if offset != "" {
		o, err := parseStartOffset(offset)
		if err != nil {
			return err
		}
		start = o
	}
	timeout := time.Duration(math.MaxInt64)
	if timeoutMs >= 0 {
		timeout = time.Duration(timeoutMs) * time.Millisecond
	}

	fprops, err := loadClientProps(&clientFlags{}, formatterCfg, "--formatter-config", append(append(multiFlag{}, properties...), formatterProps...), "property")
	if err != nil {
		return err
	}
	mf := newMessageFormatter(fprops, e.stderr)

	props, err := loadClientProps(&cf, consumerCfg, "--consumer.config", cprops, "consumer-property")
	if err != nil {
		return err
	}
	if g, ok := props["group.id"]; ok && group != "" && g != group {
		return usageErrorf("console-consumer: the group ids provided in different places (directly using '--group', via '--consumer-property', or via '--consumer.config') do not match. Detected group ids: '%s', '%s'", group, g)
	}
	if group == "" {
		group = props["group.id"]
	}
	if group != "" && hasPartition {
		return usageErrorf("console-consumer: options group and partition cannot be specified together")
	}
	if r, ok := props["auto.offset.reset"]; ok && fromBeginning && r != "earliest" {
		return usageErrorf("console-consumer: can't simultaneously specify --from-beginning and 'auto.offset.reset=%s', please remove one option", r)
	}
	props.merge(fs, "isolation-level", "isolation.level")
	cs, err := consumerOptions(props, "console-consumer", e.stderr)
	if err != nil {
		return err
	}
	switch cs.offsetReset {
	case "earliest":
		start = kgo.NewOffset().AtStart()
	case "latest":
		start = kgo.NewOffset().AtEnd()
	}

	opts := append(defaultClientID(props, "console-consumer"), cs.opts...)
	switch {
	case hasPartition:
		opts = append(opts, kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: {int32(partition): start}}),
			// An --offset past the end resets to the end, as auto.offset.reset=latest.
			kgo.ConsumeResetOffset(kgo.NewOffset().AtEnd()))
	case topic != "":
		opts = append(opts, kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(start))
	default:
		// Kafka matches the whole topic name against the pattern and leaves out the
		// internal topics.
		opts = append(opts, kgo.ConsumeRegex(), kgo.ConsumeTopics("^(?:"+include+")$"),
			kgo.ConsumeExcludeTopics("^__.*"), kgo.ConsumeResetOffset(start))
	}
	if cs.offsetReset == "none" {
		opts = append(opts, kgo.ConsumeResetOffset(kgo.NoResetOffset()))
	}
	if group != "" {
		opts = append(opts, kgo.ConsumerGroup(group))
		opts = append(opts, cs.groupOpts...)
		if cs.autoCommit {
			opts = append(opts, kgo.AutoCommitMarks())
		} else {
			opts = append(opts, kgo.DisableAutoCommit())
		}
	}
	cl, err := cf.newClient(ctx, opts...)
	if err != nil {
		return fmt.Errorf("console-consumer: %w", err)
	}
	defer cl.Close()
	if group != "" {
		if err := requireGroups(ctx, cl, "console-consumer", group, cf.bootstrap); err != nil {
			return err
		}
	}
	if topic != "" {
		n, err := topicPartitionCount(ctx, cl, topic)
		if err != nil {
			return fmt.Errorf("console-consumer: %w", err)
		}
		if hasPartition && int32(partition) >= n {
			return fmt.Errorf("console-consumer: topic %q has no partition %d (it has %d)", topic, partition, n)
		}
	}

	c := &consoleConsumer{cl: cl, mf: mf, out: bufio.NewWriter(e.stdout), stderr: e.stderr,
		maxMessages: maxMessages, timeout: timeout, skipOnError: skipOnError, group: group != "" && cs.autoCommit}
	err = c.run(ctx)
	if c.group {
		commitCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		if cerr := cl.CommitMarkedOffsets(commitCtx); cerr != nil && err == nil {
			err = fmt.Errorf("console-consumer: committing offsets: %w", cerr)
		}
		cancel()
	}
	fmt.Fprintf(e.stderr, "Processed a total of %d messages\n", c.count)
	return err
}

func isDefaultFormatter(name string) bool {
	switch name {
	case "default", "kafka.tools.DefaultMessageFormatter", "org.apache.kafka.tools.consumer.DefaultMessageFormatter":
		return true
	}
	return false
}

// parseStartOffset reads --offset as Kafka does.
func parseStartOffset(s string) (kgo.Offset, error) {
	switch strings.ToLower(s) {
	case "earliest":
		return kgo.NewOffset().AtStart(), nil
	case "latest":
		return kgo.NewOffset().AtEnd(), nil
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 {
		return kgo.Offset{}, usageErrorf("console-consumer: the provided offset value '%s' is incorrect. Valid values are 'earliest', 'latest', or a non-negative long", s)
	}
	return kgo.NewOffset().At(n), nil
}

// consoleConsumer is the poll-and-print loop; it is used by one goroutine.
type consoleConsumer struct {
	cl          *kgo.Client
	mf          *messageFormatter
	out         *bufio.Writer
	stderr      io.Writer
	maxMessages int
	timeout     time.Duration
	skipOnError bool
	group       bool // mark printed records for the group's commit

	count int
}

// run polls until ctx is done, maxMessages were printed, or no record came within
// timeout. Only a fetch error (unless skipOnError) or a failed write is an error.
func (c *consoleConsumer) run(ctx context.Context) error {
	defer c.out.Flush()
	for c.maxMessages < 0 || c.count < c.maxMessages {
		want := 10000
		if c.maxMessages >= 0 {
			want = min(want, c.maxMessages-c.count)
		}
		pctx, cancel := ctx, context.CancelFunc(func() {})
		if c.timeout != time.Duration(math.MaxInt64) {
			pctx, cancel = context.WithTimeout(ctx, c.timeout)
		}
		fetches := c.cl.PollRecords(pctx, want)
		timedOut := pctx.Err() != nil
		cancel()
		if ctx.Err() != nil || fetches.IsClientClosed() {
			return nil
		}
		for _, fe := range fetches.Errors() {
			if errors.Is(fe.Err, context.DeadlineExceeded) || errors.Is(fe.Err, context.Canceled) {
				continue
			}
			var dataLoss *kgo.ErrDataLoss
			if errors.As(fe.Err, &dataLoss) {
				fmt.Fprintf(c.stderr, "WARN %v\n", fe.Err)
				continue
			}
			fmt.Fprintf(c.stderr, "ERROR Error processing message from %s-%d: %v\n", fe.Topic, fe.Partition, fe.Err)
			if !c.skipOnError {
				return fmt.Errorf("console-consumer: %s-%d: %w", fe.Topic, fe.Partition, fe.Err)
			}
		}
		var werr error
		fetches.EachRecord(func(r *kgo.Record) {
			if werr != nil {
				return
			}
			if werr = c.mf.writeTo(c.out, r); werr == nil {
				c.count++
				if c.group {
					c.cl.MarkCommitRecords(r)
				}
			}
		})
		if werr == nil {
			werr = c.out.Flush()
		}
		if werr != nil {
			return fmt.Errorf("console-consumer: writing output: %w", werr)
		}
		if timedOut && fetches.NumRecords() == 0 {
			return nil
		}
	}
	return nil
}

// messageFormatter is Kafka's DefaultMessageFormatter: the fields asked for, in a fixed
// order (timestamp, partition, offset, headers, key, value), each followed by
// key.separator, the last by line.separator.
type messageFormatter struct {
	printTimestamp, printPartition, printOffset bool
	printDelivery, printHeaders, printKey       bool
	printValue                                  bool
	keySep, lineSep, headersSep, nullLiteral    string
}

func newMessageFormatter(props clientProps, warn io.Writer) *messageFormatter {
	f := &messageFormatter{printValue: true, keySep: "\t", lineSep: "\n", headersSep: ",", nullLiteral: "null"}
	flags := map[string]*bool{
		"print.timestamp": &f.printTimestamp, "print.partition": &f.printPartition,
		"print.offset": &f.printOffset, "print.delivery": &f.printDelivery,
		"print.headers": &f.printHeaders, "print.key": &f.printKey, "print.value": &f.printValue,
	}
	strs := map[string]*string{
		"key.separator": &f.keySep, "line.separator": &f.lineSep,
		"headers.separator": &f.headersSep, "null.literal": &f.nullLiteral,
	}
	for _, k := range sortedKeys(props) {
		v := props[k]
		if b, ok := flags[k]; ok {
			*b = strings.EqualFold(strings.TrimSpace(v), "true")
		} else if s, ok := strs[k]; ok {
			*s = v
		} else if strings.HasPrefix(k, "key.deserializer") || strings.HasPrefix(k, "value.deserializer") || strings.HasPrefix(k, "headers.deserializer") {
			fmt.Fprintf(warn, "WARN console-consumer: %s is not supported; keys, values and headers are printed as raw bytes\n", k)
		}
	}
	return f
}

func (f *messageFormatter) writeTo(w *bufio.Writer, r *kgo.Record) error {
	sep := func(more bool) {
		if more {
			w.WriteString(f.keySep)
		} else {
			w.WriteString(f.lineSep)
		}
	}
	bytesOrNull := func(b []byte) {
		if b == nil {
			w.WriteString(f.nullLiteral)
		} else {
			w.Write(b)
		}
	}
	if f.printTimestamp {
		switch r.Attrs.TimestampType() {
		case 0:
			fmt.Fprintf(w, "CreateTime:%d", r.Timestamp.UnixMilli())
		case 1:
			fmt.Fprintf(w, "LogAppendTime:%d", r.Timestamp.UnixMilli())
		default:
			w.WriteString("NO_TIMESTAMP")
		}
		sep(f.printPartition || f.printOffset || f.printDelivery || f.printHeaders || f.printKey || f.printValue)
	}
	if f.printPartition {
		fmt.Fprintf(w, "Partition:%d", r.Partition)
		sep(f.printOffset || f.printDelivery || f.printHeaders || f.printKey || f.printValue)
	}
	if f.printOffset {
		fmt.Fprintf(w, "Offset:%d", r.Offset)
		sep(f.printDelivery || f.printHeaders || f.printKey || f.printValue)
	}
	if f.printDelivery {
		// Delivery counts exist only for share groups, which this consumer is not.
		w.WriteString("Delivery:NONE")
		sep(f.printHeaders || f.printKey || f.printValue)
	}
	if f.printHeaders {
		if len(r.Headers) == 0 {
			w.WriteString("NO_HEADERS")
		}
		for i, h := range r.Headers {
			if i > 0 {
				w.WriteString(f.headersSep)
			}
			w.WriteString(h.Key)
			w.WriteByte(':')
			bytesOrNull(h.Value)
		}
		sep(f.printKey || f.printValue)
	}
	if f.printKey {
		bytesOrNull(r.Key)
		sep(f.printValue)
	}
	if f.printValue {
		bytesOrNull(r.Value)
		w.WriteString(f.lineSep)
	}
	// bufio.Writer keeps its first error and reports it from every later call.
	_, err := w.Write(nil)
	return err
}
