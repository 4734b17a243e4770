package cli

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/twmb/franz-go/pkg/kgo"
)

const consoleProducerSummary = `Reads lines from standard input and produces one record per line to --topic,
as kafka-console-producer.sh. With --property parse.key=true each line is
"key<key.separator>value"; with parse.headers=true it starts with
"h1:v1,h2:v2<headers.delimiter>". Send failures are reported on stderr and make the
command exit non-zero.

Reader properties (--property, defaults as Kafka's LineMessageReader):
  parse.key=false  key.separator=\t  parse.headers=false  headers.delimiter=\t
  headers.separator=,  headers.key.separator=:  null.marker=(unset)  ignore.error=false`

func runConsoleProducer(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet(e, "console-producer", consoleProducerSummary)
	var (
		cf                                         clientFlags
		topic, brokerList, lineReader              string
		syncSend                                   bool
		compression                                string
		readerConfig, producerConfig               string
		properties, producerProperties             multiFlag
		acks                                       string
		batchSize, retries, requestTimeoutMs       int
		maxPartitionMemoryBytes, socketBufferSize  int
		retryBackoffMs, lingerMs, metadataExpiryMs int64
		maxBlockMs, maxMemoryBytes                 int64
	)
	cf.register(fs)
	fs.StringVar(&topic, "topic", "", "REQUIRED: the topic to produce messages to")
	fs.StringVar(&brokerList, "broker-list", "", "DEPRECATED, use --bootstrap-server")
	fs.BoolVar(&syncSend, "sync", false, "send each record synchronously, waiting for its acknowledgement")
	fs.StringVar(&compression, "compression-codec", "none", "compression codec: none, gzip, snappy, lz4 or zstd (gzip when given without a value)")
	fs.IntVar(&batchSize, "batch-size", 16*1024, "producer batch.size in bytes")
	fs.IntVar(&retries, "message-send-max-retries", 3, "producer retries")
	fs.Int64Var(&retryBackoffMs, "retry-backoff-ms", 100, "producer retry.backoff.ms")
	fs.Int64Var(&lingerMs, "timeout", 1000, "producer linger.ms: how long a record may wait for a fuller batch")
	fs.StringVar(&acks, "request-required-acks", "-1", "producer acks: -1 (all), 0 or 1")
	fs.IntVar(&requestTimeoutMs, "request-timeout-ms", 1500, "producer request.timeout.ms")
	fs.Int64Var(&metadataExpiryMs, "metadata-expiry-ms", 5*60*1000, "producer metadata.max.age.ms")
	fs.Int64Var(&maxBlockMs, "max-block-ms", 60*1000, "producer max.block.ms (accepted for compatibility)")
	fs.Int64Var(&maxMemoryBytes, "max-memory-bytes", 32*1024*1024, "producer buffer.memory")
	fs.IntVar(&maxPartitionMemoryBytes, "max-partition-memory-bytes", 16*1024, "producer batch.size (same as --batch-size)")
	fs.IntVar(&socketBufferSize, "socket-buffer-size", 100*1024, "producer send.buffer.bytes (accepted for compatibility)")
	fs.StringVar(&lineReader, "line-reader", "", "only the default line reader is available")
	fs.Var(&properties, "property", "reader property key=value (repeatable), see above")
	fs.StringVar(&readerConfig, "reader-config", "", "reader properties file; --property takes precedence")
	fs.Var(&producerProperties, "producer-property", "producer property key=value (repeatable)")
	fs.StringVar(&producerConfig, "producer.config", "", "producer properties file; --producer-property takes precedence")

	if err := parseFlags(e, fs, optionalFlagValue(args, "compression-codec", "gzip")); err != nil {
		if isHelp(err) {
			return nil
		}
		return err
	}
	if topic == "" {
		return usageErrorf("console-producer: --topic is required")
	}
	if brokerList != "" && !flagSet(fs, "bootstrap-server") {
		cf.bootstrap = brokerList
	}
	if lineReader != "" && !isDefaultLineReader(lineReader) {
		return usageErrorf("console-producer: --line-reader %s: only the default line reader is available", lineReader)
	}

	readerProps, err := loadClientProps(&clientFlags{}, readerConfig, "--reader-config", properties, "property")
	if err != nil {
		return err
	}
	reader, err := newLineReader(readerProps)
	if err != nil {
		return usageErrorf("console-producer: %v", err)
	}

	props, err := loadClientProps(&cf, producerConfig, "--producer.config", producerProperties, "producer-property")
	if err != nil {
		return err
	}
	props.merge(fs, "timeout", "linger.ms")
	props.merge(fs, "request-required-acks", "acks")
	props.merge(fs, "request-timeout-ms", "request.timeout.ms")
	props.merge(fs, "message-send-max-retries", "retries")
	props.merge(fs, "retry-backoff-ms", "retry.backoff.ms")
	props.merge(fs, "metadata-expiry-ms", "metadata.max.age.ms")
	props.merge(fs, "max-memory-bytes", "buffer.memory")
	// Java uses batch.size as a fill target and sends larger records alone; franz-go
	// treats its batch size as a hard cap, so the 16 KiB default is applied only when
	// asked for, to keep long lines producible.
	if flagSet(fs, "batch-size") {
		props["batch.size"] = fmt.Sprint(batchSize)
	}
	if flagSet(fs, "max-partition-memory-bytes") {
		props["batch.size"] = fmt.Sprint(maxPartitionMemoryBytes)
	}
	props.merge(fs, "compression-codec", "compression.type")

	ps, err := producerOptions(props, "console-producer", e.stderr)
	if err != nil {
		return err
	}
	opts := append(defaultClientID(props, "console-producer"), ps.opts...)
	opts = append(opts, kgo.DefaultProduceTopic(topic), kgo.AllowAutoTopicCreation())
	cl, err := cf.newClient(ctx, opts...)
	if err != nil {
		return fmt.Errorf("console-producer: %w", err)
	}
	defer cl.Close()

	p := &lineProducer{cl: cl, topic: topic, stderr: e.stderr, sync: syncSend}
	readErr := p.run(ctx, e.stdin, reader)
	// Whatever was read is delivered (or fails) before we report, as Kafka's producer
	// close does; a cancelled context still gets its buffered records flushed.
	flushErr := cl.Flush(context.WithoutCancel(ctx))
	p.wg.Wait()
	if readErr != nil {
		return fmt.Errorf("console-producer: %w", readErr)
	}
	if flushErr != nil {
		return fmt.Errorf("console-producer: %w", flushErr)
	}
	if n := p.failed.Load(); n > 0 && !reader.ignoreError {
		return fmt.Errorf("console-producer: %d of %d records could not be sent", n, p.sent.Load())
	}
	return nil
}

func isDefaultLineReader(name string) bool {
	switch name {
	case "kafka.tools.LineMessageReader", "org.apache.kafka.tools.LineMessageReader", "kafka.tools.ConsoleProducer$LineMessageReader":
		return true
	}
	return false
}

// optionalFlagValue gives a flag that Kafka accepts without a value (joptsimple
// withOptionalArg, as --compression-codec) its implied value, so Go's flag package,
// which needs one, parses it.
func optionalFlagValue(args []string, name, implied string) []string {
	out := make([]string, 0, len(args)+1)
	for i, a := range args {
		out = append(out, a)
		if a == "-"+name || a == "--"+name {
			if i+1 == len(args) || strings.HasPrefix(args[i+1], "-") {
				out = append(out, implied)
			}
		}
	}
	return out
}

// lineProducer sends parsed lines and counts outcomes; promises run on franz-go's
// goroutines, hence the atomics and the stderr mutex.
type lineProducer struct {
	cl     *kgo.Client
	topic  string
	stderr io.Writer
	sync   bool

	sent, failed atomic.Int64
	wg           sync.WaitGroup
	mu           sync.Mutex // guards writes to stderr from promises
}

// run reads stdin line by line until EOF, a parse error or ctx is done. Reading happens
// on its own goroutine so a cancelled context (Ctrl-C) is noticed while stdin blocks.
func (p *lineProducer) run(ctx context.Context, stdin io.Reader, reader *lineReader) error {
	type line struct {
		text string
		eof  bool
		err  error
	}
	lines := make(chan line)
	done := make(chan struct{})
	defer close(done)
	go func() {
		br := bufio.NewReaderSize(stdin, 64*1024)
		for {
			s, err := br.ReadString('\n')
			if s != "" {
				s = strings.TrimSuffix(s, "\n")
				s = strings.TrimSuffix(s, "\r")
				select {
				case lines <- line{text: s}:
				case <-done:
					return
				}
			}
			if err != nil {
				last := line{eof: true}
				if !errors.Is(err, io.EOF) {
					last = line{err: err}
				}
				select {
				case lines <- last:
				case <-done:
				}
				return
			}
		}
	}()
	lineNo := 0
	for {
		var l line
		select {
		case <-ctx.Done():
			return nil
		case l = <-lines:
		}
		switch {
		case l.eof:
			return nil
		case l.err != nil:
			return fmt.Errorf("reading standard input: %w", l.err)
		}
		lineNo++
		rec, err := reader.parse(l.text, lineNo)
		if err != nil {
			return err
		}
		rec.Topic = p.topic
		p.send(ctx, rec)
	}
}

func (p *lineProducer) send(ctx context.Context, rec *kgo.Record) {
	p.sent.Add(1)
	p.wg.Add(1)
	// Records already handed to the client are delivered even if ctx is cancelled
	// afterwards: cancellation stops reading, not in-flight sends.
	pctx := context.WithoutCancel(ctx)
	if !p.sync {
		p.cl.Produce(pctx, rec, p.done)
		return
	}
	result := make(chan struct{})
	p.cl.Produce(pctx, rec, func(r *kgo.Record, err error) {
		p.done(r, err)
		close(result)
	})
	// Flush sends now instead of lingering: --sync means one record at a time.
	_ = p.cl.Flush(pctx)
	<-result
}

// done is the delivery callback; its message is Kafka's ErrorLoggingCallback's.
func (p *lineProducer) done(r *kgo.Record, err error) {
	defer p.wg.Done()
	if err == nil {
		return
	}
	p.failed.Add(1)
	p.mu.Lock()
	defer p.mu.Unlock()
	fmt.Fprintf(p.stderr, "ERROR Error when sending message to topic %s with key: %s, value: %s with error: %v\n",
		r.Topic, bytesDesc(r.Key), bytesDesc(r.Value), err)
}

func bytesDesc(b []byte) string {
	if b == nil {
		return "null"
	}
	return fmt.Sprintf("%d bytes", len(b))
}

// lineReader is Kafka's LineMessageReader: it splits a line into headers, key and value.
type lineReader struct {
	parseKey, parseHeaders, ignoreError               bool
	keySeparator, headersDelimiter                    string
	headersSeparator, headersKeySeparator, nullMarker string
	hasNullMarker                                     bool
	headersSplit                                      *regexp.Regexp
}

func newLineReader(props clientProps) (*lineReader, error) {
	r := &lineReader{
		keySeparator:        "\t",
		headersDelimiter:    "\t",
		headersSeparator:    ",",
		headersKeySeparator: ":",
	}
	isTrue := func(k string) bool { return strings.EqualFold(strings.TrimSpace(props[k]), "true") }
	r.parseKey = isTrue("parse.key")
	r.parseHeaders = isTrue("parse.headers")
	r.ignoreError = isTrue("ignore.error")
	if v, ok := props["key.separator"]; ok {
		r.keySeparator = v
	}
	if v, ok := props["headers.delimiter"]; ok {
		r.headersDelimiter = v
	}
	if v, ok := props["headers.separator"]; ok {
		r.headersSeparator = v
	}
	if v, ok := props["headers.key.separator"]; ok {
		r.headersKeySeparator = v
	}
	r.nullMarker, r.hasNullMarker = props["null.marker"]
	for k := range props {
		switch k {
		case "parse.key", "parse.headers", "ignore.error", "key.separator", "headers.delimiter",
			"headers.separator", "headers.key.separator", "null.marker":
		default:
			return nil, fmt.Errorf("unknown reader property %q", k)
		}
	}
	if r.keySeparator == "" || r.headersDelimiter == "" || r.headersSeparator == "" || r.headersKeySeparator == "" {
		return nil, errors.New("separators and delimiters may not be empty")
	}
	// Kafka splits headers with headers.separator taken as a Java regular expression;
	// the common separators mean the same in Go's syntax.
	re, err := regexp.Compile(r.headersSeparator)
	if err != nil {
		return nil, fmt.Errorf("headers.separator %q: %v", r.headersSeparator, err)
	}
	r.headersSplit = re
	for _, c := range []struct{ a, b, an, bn string }{
		{r.headersDelimiter, r.headersSeparator, "headers.delimiter", "headers.separator"},
		{r.headersDelimiter, r.headersKeySeparator, "headers.delimiter", "headers.key.separator"},
		{r.headersSeparator, r.headersKeySeparator, "headers.separator", "headers.key.separator"},
	} {
		if c.a == c.b {
			return nil, fmt.Errorf("%s and %s may not be equal", c.an, c.bn)
		}
	}
	if r.hasNullMarker {
		for _, c := range []struct{ v, n string }{
			{r.keySeparator, "key.separator"}, {r.headersSeparator, "headers.separator"},
			{r.headersDelimiter, "headers.delimiter"}, {r.headersKeySeparator, "headers.key.separator"},
		} {
			if c.v == r.nullMarker {
				return nil, fmt.Errorf("null.marker and %s may not be equal", c.n)
			}
		}
	}
	return r, nil
}

func (r *lineReader) isNull(s string) bool { return r.hasNullMarker && s == r.nullMarker }

// parse splits one line. Errors read as Kafka's: "no key separator found on line
// number 3: 'abc'".
func (r *lineReader) parse(line string, lineNo int) (*kgo.Record, error) {
	rec := &kgo.Record{}
	rest := line
	if r.parseHeaders {
		i := strings.Index(rest, r.headersDelimiter)
		switch {
		case i >= 0:
			headers := rest[:i]
			rest = rest[i+len(r.headersDelimiter):]
			if !r.isNull(headers) {
				hs, err := r.splitHeaders(headers, lineNo)
				if err != nil {
					return nil, err
				}
				rec.Headers = hs
			}
		case !r.ignoreError:
			return nil, fmt.Errorf("no headers delimiter found on line number %d: '%s'", lineNo, line)
		}
	}
	if r.parseKey {
		i := strings.Index(rest, r.keySeparator)
		switch {
		case i >= 0:
			if key := rest[:i]; !r.isNull(key) {
				rec.Key = nonNilBytes(key)
			}
			rest = rest[i+len(r.keySeparator):]
		case !r.ignoreError:
			return nil, fmt.Errorf("no key separator found on line number %d: '%s'", lineNo, line)
		}
	}
	if !r.isNull(rest) {
		rec.Value = nonNilBytes(rest)
	}
	return rec, nil
}

func (r *lineReader) splitHeaders(s string, lineNo int) ([]kgo.RecordHeader, error) {
	var out []kgo.RecordHeader
	pairs := r.headersSplit.Split(s, -1)
	// Java's String.split drops trailing empty strings; so do we.
	for len(pairs) > 1 && pairs[len(pairs)-1] == "" {
		pairs = pairs[:len(pairs)-1]
	}
	for _, pair := range pairs {
		i := strings.Index(pair, r.headersKeySeparator)
		if i < 0 {
			if r.ignoreError {
				out = append(out, kgo.RecordHeader{Key: pair})
				continue
			}
			return nil, fmt.Errorf("no header key separator found in pair '%s' on line number %d", pair, lineNo)
		}
		key, value := pair[:i], pair[i+len(r.headersKeySeparator):]
		if r.isNull(key) {
			return nil, fmt.Errorf("header keys should not be equal to the null marker '%s' as they can't be null", r.nullMarker)
		}
		h := kgo.RecordHeader{Key: key}
		if !r.isNull(value) {
			h.Value = nonNilBytes(value)
		}
		out = append(out, h)
	}
	return out, nil
}

// nonNilBytes keeps an empty field an empty (not null) key, value or header value:
// franz-go writes a nil slice as null.
func nonNilBytes(s string) []byte {
	return append(make([]byte, 0, len(s)), s...)
}
