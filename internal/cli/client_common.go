package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// This file holds what the producing and consuming tools (console-producer,
// console-consumer, producer-perf-test, consumer-perf-test, e2e-latency) share: Kafka
// client properties translated to franz-go options, topic checks, and the small
// argument-shape differences of Kafka's scripts that Go's flag package does not have.

// clientProps is a set of Kafka client properties (key=value), built in Kafka's order of
// precedence: a config file, then --xxx-property items, then the tool's own flags.
type clientProps map[string]string

// loadClientProps reads the client properties of a tool, lowest precedence first: the
// --command-config file (Kafka 4's name for a tool's client config file), the tool's
// own config file (--producer.config, --consumer.config), then the k=v items.
func loadClientProps(cf *clientFlags, file, fileFlag string, items []string, itemsFlag string) (clientProps, error) {
	props := clientProps{}
	for _, f := range []struct{ path, flag string }{{cf.commandConfig, "--command-config"}, {file, fileFlag}} {
		if f.path == "" {
			continue
		}
		fromFile, err := readProperties(f.path, f.flag)
		if err != nil {
			return nil, err
		}
		for k, v := range fromFile {
			props[k] = v
		}
	}
	kv, err := keyValues(itemsFlag, items, false)
	if err != nil {
		return nil, err
	}
	for k, v := range kv {
		props[k] = v
	}
	return props, nil
}

// merge sets key from a tool flag as Kafka's CommandLineUtils.maybeMergeOptions does:
// an explicitly given flag wins, a flag's default only fills a key nobody set.
func (p clientProps) merge(fs *flag.FlagSet, flagName, key string) {
	f := fs.Lookup(flagName)
	if f == nil {
		return
	}
	if _, set := p[key]; !set || flagSet(fs, flagName) {
		p[key] = f.Value.String()
	}
}

// flagSet reports whether the flag was given on the command line.
func flagSet(fs *flag.FlagSet, name string) bool {
	found := false
	fs.Visit(func(f *flag.Flag) {
		if f.Name == name {
			found = true
		}
	})
	return found
}

// propsSilentlyIgnored are Kafka client keys that have no franz-go counterpart and no
// effect worth a warning: serializers (the tools handle bytes) and socket tuning.
var propsSilentlyIgnored = map[string]bool{
	"bootstrap.servers":    true, // taken by the caller, see bootstrapFromProps
	"key.serializer":       true,
	"value.serializer":     true,
	"key.deserializer":     true,
	"value.deserializer":   true,
	"send.buffer.bytes":    true,
	"receive.buffer.bytes": true,
	"max.block.ms":         true,
	"check.crcs":           true,
	"security.protocol":    true, // validated by clientProperties
	"client.id":            true, // applied by clientProperties
}

// durationMs parses a millisecond property.
func durationMs(source, key, v string) (time.Duration, error) {
	n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("%s: %s=%q is not a non-negative number of milliseconds", source, key, v)
	}
	return time.Duration(n) * time.Millisecond, nil
}

func intProp(source, key, v string) (int, error) {
	n, err := strconv.Atoi(strings.TrimSpace(v))
	if err != nil {
		return 0, fmt.Errorf("%s: %s=%q is not a number", source, key, v)
	}
	return n, nil
}

// producerSettings is what a tool needs to know about the producer it asked for.
type producerSettings struct {
	opts []kgo.Opt
	acks string // "-1", "0" or "1", normalised
}

// producerOptions translates Kafka producer properties into franz-go options. Keys
// without a franz-go counterpart are reported on warn and ignored, as Kafka's clients
// log unknown configs and go on.
func producerOptions(props clientProps, source string, warn io.Writer) (producerSettings, error) {
	var ps producerSettings
	base, err := clientProperties(props, source)
	if err != nil {
		return ps, err
	}
	// Kafka's producers compress nothing unless compression.type says so; franz-go's
	// default is snappy. A compression.type below overrides this.
	ps.opts = append(ps.opts, kgo.ProducerBatchCompression(kgo.NoCompression()))
	ps.opts = append(ps.opts, base...)
	idempotent := true
	idempotenceSet := false
	ps.acks = "-1"
	for _, k := range sortedKeys(props) {
		v := strings.TrimSpace(props[k])
		switch k {
		case "acks":
			switch strings.ToLower(v) {
			case "-1", "all":
				ps.acks = "-1"
			case "0", "1":
				ps.acks = v
			default:
				return ps, fmt.Errorf("%s: acks=%q must be all, -1, 0 or 1", source, v)
			}
		case "linger.ms":
			d, err := durationMs(source, k, v)
			if err != nil {
				return ps, err
			}
			ps.opts = append(ps.opts, kgo.ProducerLinger(d))
		case "batch.size":
			n, err := intProp(source, k, v)
			if err != nil {
				return ps, err
			}
			// Java sends a record larger than batch.size in a batch of its own; franz-go
			// refuses a record larger than its batch cap, so the cap never goes below
			// what one ordinary record needs.
			ps.opts = append(ps.opts, kgo.ProducerBatchMaxBytes(int32(max(n, 512))))
		case "compression.type":
			codec, err := compressionCodec(v)
			if err != nil {
				return ps, fmt.Errorf("%s: %w", source, err)
			}
			ps.opts = append(ps.opts, kgo.ProducerBatchCompression(codec))
		case "enable.idempotence":
			idempotenceSet = true
			idempotent = strings.EqualFold(v, "true")
		case "max.in.flight.requests.per.connection":
			n, err := intProp(source, k, v)
			if err != nil {
				return ps, err
			}
			ps.opts = append(ps.opts, kgo.MaxProduceRequestsInflightPerBroker(n))
		case "request.timeout.ms":
			d, err := durationMs(source, k, v)
			if err != nil {
				return ps, err
			}
			ps.opts = append(ps.opts, kgo.ProduceRequestTimeout(d))
		case "delivery.timeout.ms":
			d, err := durationMs(source, k, v)
			if err != nil {
				return ps, err
			}
			ps.opts = append(ps.opts, kgo.RecordDeliveryTimeout(d))
		case "retries":
			n, err := intProp(source, k, v)
			if err != nil {
				return ps, err
			}
			ps.opts = append(ps.opts, kgo.RecordRetries(n))
		case "retry.backoff.ms":
			d, err := durationMs(source, k, v)
			if err != nil {
				return ps, err
			}
			ps.opts = append(ps.opts, kgo.RetryBackoffFn(func(int) time.Duration { return d }))
		case "metadata.max.age.ms":
			d, err := durationMs(source, k, v)
			if err != nil {
				return ps, err
			}
			ps.opts = append(ps.opts, kgo.MetadataMaxAge(d))
		case "buffer.memory":
			n, err := intProp(source, k, v)
			if err != nil {
				return ps, err
			}
			ps.opts = append(ps.opts, kgo.MaxBufferedBytes(n))
		case "transactional.id":
			return ps, fmt.Errorf("%s: transactional.id: transactions are not supported by these tools yet", source)
		default:
			if !propsSilentlyIgnored[k] {
				fmt.Fprintf(warn, "WARN %s: producer property %s is not supported and is ignored\n", source, k)
			}
		}
	}
	switch ps.acks {
	case "-1":
		ps.opts = append(ps.opts, kgo.RequiredAcks(kgo.AllISRAcks()))
	case "1":
		ps.opts = append(ps.opts, kgo.RequiredAcks(kgo.LeaderAck()))
	case "0":
		ps.opts = append(ps.opts, kgo.RequiredAcks(kgo.NoAck()))
	}
	// The idempotent producer needs acks=all, as in Java where acks 0 or 1 turn the
	// default idempotence off and an explicit enable.idempotence=true with them is an error.
	if ps.acks != "-1" {
		if idempotenceSet && idempotent {
			return ps, fmt.Errorf("%s: enable.idempotence=true requires acks=all", source)
		}
		idempotent = false
	}
	if !idempotent {
		ps.opts = append(ps.opts, kgo.DisableIdempotentWrite())
	}
	return ps, nil
}

// compressionCodec maps Kafka's compression.type names to franz-go codecs.
func compressionCodec(name string) (kgo.CompressionCodec, error) {
	switch strings.ToLower(strings.TrimSpace(name)) {
	case "none", "":
		return kgo.NoCompression(), nil
	case "gzip":
		return kgo.GzipCompression(), nil
	case "snappy":
		return kgo.SnappyCompression(), nil
	case "lz4":
		return kgo.Lz4Compression(), nil
	case "zstd":
		return kgo.ZstdCompression(), nil
	}
	return kgo.CompressionCodec{}, fmt.Errorf("compression %q is not one of none, gzip, snappy, lz4, zstd", name)
}

// consumerSettings is what consumerOptions found besides franz-go options.
type consumerSettings struct {
	opts        []kgo.Opt // consumer-wide options
	groupOpts   []kgo.Opt // options that only apply to a group consumer
	group       string    // group.id, if set
	offsetReset string    // auto.offset.reset, if set: earliest, latest or none
	autoCommit  bool      // enable.auto.commit (default true, as Java)
}

// consumerOptions translates Kafka consumer properties into franz-go options.
func consumerOptions(props clientProps, source string, warn io.Writer) (consumerSettings, error) {
	cs := consumerSettings{autoCommit: true}
	base, err := clientProperties(props, source)
	if err != nil {
		return cs, err
	}
	cs.opts = append(cs.opts, base...)
	for _, k := range sortedKeys(props) {
		v := strings.TrimSpace(props[k])
		switch k {
		case "group.id":
			cs.group = v
		case "auto.offset.reset":
			switch v {
			case "earliest", "latest", "none":
				cs.offsetReset = v
			default:
				return cs, fmt.Errorf("%s: auto.offset.reset=%q must be earliest, latest or none", source, v)
			}
		case "enable.auto.commit":
			cs.autoCommit = strings.EqualFold(v, "true")
		case "isolation.level":
			lvl, err := isolationLevel(v)
			if err != nil {
				return cs, fmt.Errorf("%s: %w", source, err)
			}
			cs.opts = append(cs.opts, kgo.FetchIsolationLevel(lvl))
		case "fetch.max.wait.ms":
			d, err := durationMs(source, k, v)
			if err != nil {
				return cs, err
			}
			cs.opts = append(cs.opts, kgo.FetchMaxWait(max(d, 10*time.Millisecond)))
		case "fetch.min.bytes", "fetch.max.bytes", "max.partition.fetch.bytes":
			n, err := intProp(source, k, v)
			if err != nil {
				return cs, err
			}
			switch k {
			case "fetch.min.bytes":
				cs.opts = append(cs.opts, kgo.FetchMinBytes(int32(n)))
			case "fetch.max.bytes":
				cs.opts = append(cs.opts, kgo.FetchMaxBytes(int32(n)))
			default:
				cs.opts = append(cs.opts, kgo.FetchMaxPartitionBytes(int32(n)))
			}
		case "metadata.max.age.ms":
			d, err := durationMs(source, k, v)
			if err != nil {
				return cs, err
			}
			cs.opts = append(cs.opts, kgo.MetadataMaxAge(d))
		case "session.timeout.ms", "heartbeat.interval.ms", "auto.commit.interval.ms", "max.poll.interval.ms":
			d, err := durationMs(source, k, v)
			if err != nil {
				return cs, err
			}
			switch k {
			case "session.timeout.ms":
				cs.groupOpts = append(cs.groupOpts, kgo.SessionTimeout(d))
			case "heartbeat.interval.ms":
				cs.groupOpts = append(cs.groupOpts, kgo.HeartbeatInterval(d))
			case "auto.commit.interval.ms":
				cs.groupOpts = append(cs.groupOpts, kgo.AutoCommitInterval(d))
			default:
				cs.groupOpts = append(cs.groupOpts, kgo.RebalanceTimeout(d))
			}
		case "group.instance.id":
			cs.groupOpts = append(cs.groupOpts, kgo.InstanceID(v))
		case "max.poll.records":
			// The tools bound each poll themselves.
		default:
			if !propsSilentlyIgnored[k] {
				fmt.Fprintf(warn, "WARN %s: consumer property %s is not supported and is ignored\n", source, k)
			}
		}
	}
	return cs, nil
}

func isolationLevel(v string) (kgo.IsolationLevel, error) {
	switch v {
	case "read_uncommitted":
		return kgo.ReadUncommitted(), nil
	case "read_committed":
		return kgo.ReadCommitted(), nil
	}
	return kgo.IsolationLevel{}, fmt.Errorf("isolation level %q must be read_committed or read_uncommitted", v)
}

func sortedKeys(m clientProps) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// bootstrapFromProps lets bootstrap.servers in a tool's properties name the brokers, as
// producer-perf-test's --producer-props does in Kafka, unless --bootstrap-server was
// given explicitly.
func bootstrapFromProps(c *clientFlags, fs *flag.FlagSet, props clientProps) {
	if bs, ok := props["bootstrap.servers"]; ok && strings.TrimSpace(bs) != "" && !flagSet(fs, "bootstrap-server") {
		c.bootstrap = bs
	}
}

// defaultClientID returns ClientID(id) unless the tool's properties name one: Kafka's
// tools use their own client ids (console-producer, perf-producer-client, ...) unless
// told otherwise.
func defaultClientID(props clientProps, id string) []kgo.Opt {
	if _, ok := props["client.id"]; ok {
		return nil
	}
	return []kgo.Opt{kgo.ClientID(id)}
}

// errUnknownTopic is returned (wrapped with the tool and topic) when a topic the user
// named does not exist; it wraps kerr.UnknownTopicOrPartition.
var errUnknownTopic = kerr.UnknownTopicOrPartition

// topicPartitionCount asks the cluster for topic's partitions without creating it.
func topicPartitionCount(ctx context.Context, cl *kgo.Client, topic string) (int32, error) {
	req := kmsg.NewPtrMetadataRequest()
	rt := kmsg.NewMetadataRequestTopic()
	rt.Topic = kmsg.StringPtr(topic)
	req.Topics = append(req.Topics, rt)
	req.AllowAutoTopicCreation = false
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		return 0, err
	}
	for _, t := range resp.Topics {
		if t.Topic == nil || *t.Topic != topic {
			continue
		}
		if err := kerr.ErrorForCode(t.ErrorCode); err != nil {
			if errors.Is(err, kerr.UnknownTopicOrPartition) {
				return 0, fmt.Errorf("topic %q does not exist: %w", topic, errUnknownTopic)
			}
			return 0, fmt.Errorf("topic %q: %w", topic, err)
		}
		return int32(len(t.Partitions)), nil
	}
	return 0, fmt.Errorf("topic %q does not exist: %w", topic, errUnknownTopic)
}

// supportsGroups reports whether the broker answers the consumer-group APIs, read from
// its ApiVersions: a group consumer against a broker without them would retry forever.
func supportsGroups(ctx context.Context, cl *kgo.Client) (bool, error) {
	resp, err := kmsg.NewPtrApiVersionsRequest().RequestWith(ctx, cl)
	if err != nil {
		return false, err
	}
	if err := kerr.ErrorForCode(resp.ErrorCode); err != nil {
		return false, err
	}
	need := map[int16]bool{int16(kmsg.FindCoordinator): false, int16(kmsg.JoinGroup): false, int16(kmsg.SyncGroup): false, int16(kmsg.Heartbeat): false, int16(kmsg.OffsetCommit): false, int16(kmsg.OffsetFetch): false}
	for _, k := range resp.ApiKeys {
		if _, ok := need[k.ApiKey]; ok {
			need[k.ApiKey] = true
		}
	}
	for _, ok := range need {
		if !ok {
			return false, nil
		}
	}
	return true, nil
}

// requireGroups fails with a clear message when the broker has no group coordinator.
func requireGroups(ctx context.Context, cl *kgo.Client, tool, group, bootstrap string) error {
	ok, err := supportsGroups(ctx, cl)
	if err != nil {
		return fmt.Errorf("%s: asking %s for its API versions: %w", tool, bootstrap, err)
	}
	if !ok {
		return fmt.Errorf("%s: --group %s: the broker at %s does not support consumer groups (no JoinGroup/OffsetCommit APIs); run without --group", tool, group, bootstrap)
	}
	return nil
}

// expandNargs rewrites Kafka's multi-valued flags (argparse nargs="+", as in
// "--producer-props a=1 b=2") into repeated flags ("--producer-props a=1
// --producer-props b=2") that Go's flag package understands.
func expandNargs(args []string, names ...string) []string {
	isMulti := func(a string) bool {
		for _, n := range names {
			if a == "-"+n || a == "--"+n {
				return true
			}
		}
		return false
	}
	var out []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		if !isMulti(a) {
			out = append(out, a)
			continue
		}
		j := i + 1
		for ; j < len(args) && !strings.HasPrefix(args[j], "-"); j++ {
			out = append(out, a, args[j])
		}
		if j == i+1 {
			out = append(out, a) // no value: let the flag package report it
		}
		i = j - 1
	}
	return out
}

// percentile returns the value at fraction p of sorted, as Kafka's tools index it:
// sorted[int(p*len)].
func percentile[T any](sorted []T, p float64) T {
	var zero T
	if len(sorted) == 0 {
		return zero
	}
	i := int(p * float64(len(sorted)))
	if i >= len(sorted) {
		i = len(sorted) - 1
	}
	return sorted[i]
}

// isHelp reports a help error from parseFlags.
func isHelp(err error) bool { return errors.Is(err, errHelp) }
