package cli

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

const e2eLatencySummary = `Measures end-to-end latency as kafka-e2e-latency.sh: it produces one record,
waits until a consumer of the same topic has it, and repeats NUM_MESSAGES times,
then prints the average and the 50th, 99th and 99.9th percentiles in milliseconds.
The topic is created (1 partition) when missing.

  samsa e2e-latency BROKER TOPIC NUM_MESSAGES PRODUCER_ACKS MESSAGE_SIZE_BYTES [PROPERTIES_FILE]
  samsa e2e-latency --bootstrap-server B --topic T --num-records N --producer-acks 1|all --record-size S [--command-config F]`

// e2ePollTimeout is how long one record may take to come back, as Kafka's tool.
const e2ePollTimeout = 60 * time.Second

func runE2ELatency(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet(e, "e2e-latency", e2eLatencySummary)
	var (
		cf               clientFlags
		topic, acks      string
		numRecords, size int
	)
	cf.register(fs)
	fs.StringVar(&topic, "topic", "", "topic to produce to and consume from")
	fs.IntVar(&numRecords, "num-records", 0, "number of records to send")
	fs.StringVar(&acks, "producer-acks", "", "producer acks: 1 or all")
	fs.IntVar(&size, "record-size", 0, "size of each record in bytes")
	for _, a := range args {
		if a == "-h" || a == "--help" || a == "-help" {
			fs.SetOutput(e.stdout)
			fs.Usage()
			return nil
		}
	}
	if err := fs.Parse(args); err != nil {
		return usageErrorf("%v", err)
	}
	switch pos := fs.Args(); len(pos) {
	case 0:
	case 5, 6:
		cf.bootstrap, topic, acks = pos[0], pos[1], pos[3]
		var err1, err2 error
		numRecords, err1 = strconv.Atoi(pos[2])
		size, err2 = strconv.Atoi(pos[4])
		if err := errors.Join(err1, err2); err != nil {
			return usageErrorf("e2e-latency: NUM_MESSAGES and MESSAGE_SIZE_BYTES must be numbers: %v", err)
		}
		if len(pos) == 6 && strings.TrimSpace(pos[5]) != "" {
			cf.commandConfig = pos[5]
		}
	default:
		return usageErrorf("e2e-latency: USAGE: samsa e2e-latency broker_list topic num_messages producer_acks message_size_bytes [optional] properties_file")
	}
	switch {
	case topic == "":
		return usageErrorf("e2e-latency: --topic is required")
	case numRecords <= 0:
		return usageErrorf("e2e-latency: the number of records must be greater than zero")
	case size < 0:
		return usageErrorf("e2e-latency: the record size must not be negative")
	case acks != "1" && acks != "all":
		return usageErrorf("e2e-latency: latency testing requires synchronous acknowledgement. Please use 1 or all")
	}

	props, err := loadClientProps(&cf, "", "", nil, "")
	if err != nil {
		return err
	}
	// Everything that makes a record wait is off: no linger, no broker-side batching wait.
	props["linger.ms"] = "0"
	props["acks"] = acks
	ps, err := producerOptions(props, "e2e-latency", e.stderr)
	if err != nil {
		return err
	}
	admin, cl, err := cf.newAdmin(ctx)
	if err != nil {
		return fmt.Errorf("e2e-latency: %w", err)
	}
	defer cl.Close()
	partitions, err := topicPartitionCount(ctx, cl, topic)
	if errors.Is(err, errUnknownTopic) {
		fmt.Fprintf(e.stdout, "Topic \"%s\" does not exist. Will create topic with 1 partition(s) and replication factor = 1\n", topic)
		resp, cerr := admin.CreateTopic(ctx, 1, 1, nil, topic)
		if cerr == nil {
			cerr = resp.Err
		}
		if cerr != nil {
			fmt.Fprintf(e.stdout, "Creation of topic %s failed\n", topic)
			return fmt.Errorf("e2e-latency: creating topic %s: %w", topic, cerr)
		}
		partitions = 1
	} else if err != nil {
		return fmt.Errorf("e2e-latency: %w", err)
	}

	// The consumer starts exactly at today's ends, resolved before the first send, so
	// the first record cannot fall before its start position (Kafka's tool seeks to the
	// end and forces the position for the same reason).
	ends, err := listEndOffsetsRetrying(ctx, admin, topic)
	if err != nil {
		return fmt.Errorf("e2e-latency: listing end offsets: %w", err)
	}
	startAt := map[int32]kgo.Offset{}
	ends.Each(func(o kadm.ListedOffset) { startAt[o.Partition] = kgo.NewOffset().At(o.Offset) })
	if int32(len(startAt)) != partitions {
		return fmt.Errorf("e2e-latency: topic %s: end offsets for %d of %d partitions", topic, len(startAt), partitions)
	}
	copts, err := cf.options()
	if err != nil {
		return err
	}
	copts = append(copts, ps.opts...)
	copts = append(copts, kgo.DefaultProduceTopic(topic),
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: startAt}),
		// Fetches wait for data at the broker, which answers as soon as the record is
		// appended, so the wait bound only matters when nothing arrives.
		kgo.FetchMaxWait(time.Second))
	pc, err := kgo.NewClient(copts...)
	if err != nil {
		return fmt.Errorf("e2e-latency: %w", err)
	}
	defer pc.Close()

	rng := rand.New(rand.NewPCG(0, 0))
	latencies := make([]int64, numRecords)
	var total time.Duration
	for i := 0; i < numRecords; i++ {
		msg := bytes.Repeat([]byte{byte('A' + rng.IntN(26))}, size)
		begin := time.Now()
		if err := pc.ProduceSync(ctx, &kgo.Record{Value: msg}).FirstErr(); err != nil {
			return fmt.Errorf("e2e-latency: producing record %d: %w", i, err)
		}
		got, err := pollOne(ctx, pc)
		if err != nil {
			return fmt.Errorf("e2e-latency: %w", err)
		}
		elapsed := time.Since(begin)
		if len(got) != 1 {
			return fmt.Errorf("e2e-latency: only one result was expected during this test. We found [%d]", len(got))
		}
		if !bytes.Equal(got[0].Value, msg) {
			return fmt.Errorf("e2e-latency: the message read [%s] did not match the message sent [%s]", got[0].Value, msg)
		}
		if i%1000 == 0 {
			fmt.Fprintf(e.stdout, "%d\t%s\n", i, javaDouble(float64(elapsed)/float64(time.Millisecond)))
		}
		total += elapsed
		latencies[i] = elapsed.Milliseconds()
	}
	fmt.Fprintf(e.stdout, "Avg latency: %.4f ms\n", float64(total)/float64(numRecords)/float64(time.Millisecond))
	slices.Sort(latencies)
	fmt.Fprintf(e.stdout, "Percentiles: 50th = %d, 99th = %d, 99.9th = %d\n",
		percentile(latencies, 0.5), percentile(latencies, 0.99), percentile(latencies, 0.999))
	return nil
}

// pollOne waits up to e2ePollTimeout for records.
func pollOne(ctx context.Context, cl *kgo.Client) ([]*kgo.Record, error) {
	pctx, cancel := context.WithTimeout(ctx, e2ePollTimeout)
	defer cancel()
	for {
		fetches := cl.PollFetches(pctx)
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		if pctx.Err() != nil {
			return nil, fmt.Errorf("poll() timed out before finding a result (timeout:[%d])", e2ePollTimeout.Milliseconds())
		}
		for _, fe := range fetches.Errors() {
			return nil, fmt.Errorf("fetching %s-%d: %w", fe.Topic, fe.Partition, fe.Err)
		}
		if recs := fetches.Records(); len(recs) > 0 {
			return recs, nil
		}
	}
}

// javaDouble prints f as Java's Double.toString does for ordinary magnitudes: the
// shortest form, always with a decimal point.
func javaDouble(f float64) string {
	s := strconv.FormatFloat(f, 'f', -1, 64)
	if !strings.Contains(s, ".") {
		s += ".0"
	}
	return s
}

// listEndOffsetsRetrying lists topic's end offsets, retrying for a few seconds while a
// topic just created has no leader yet.
func listEndOffsetsRetrying(ctx context.Context, admin *kadm.Client, topic string) (kadm.ListedOffsets, error) {
	deadline := time.Now().Add(10 * time.Second)
	for {
		ends, err := admin.ListEndOffsets(ctx, topic)
		if err == nil {
			err = ends.Error()
		}
		retriable := errors.Is(err, kerr.UnknownTopicOrPartition) || errors.Is(err, kerr.LeaderNotAvailable) || errors.Is(err, kerr.NotLeaderForPartition)
		if err == nil || !retriable || time.Now().After(deadline) {
			return ends, err
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}
