package cli

import (
	"context"
	"errors"
	"fmt"
	"math"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/twmb/franz-go/pkg/kmsg"
)

const getOffsetsSummary = `Print partition offsets as topic:partition:offset (kafka-get-offsets.sh).

--time is -1 or latest (the default), -2 or earliest, -3 or max-timestamp,
-4 or earliest-local, -5 or latest-tiered, or a timestamp in ms: the first offset
whose timestamp is at least that (partitions with no such offset are left out).`

// Special ListOffsets timestamps (Kafka's ListOffsetsRequest constants).
const (
	latestTimestamp        = -1
	earliestTimestamp      = -2
	maxTimestamp           = -3
	earliestLocalTimestamp = -4
	latestTieredTimestamp  = -5
)

type getOffsetsOptions struct {
	client          clientFlags
	output          outputFlag
	topicPartitions string
	topic           string
	partitions      string
	time            string
	excludeInternal bool
}

func runGetOffsets(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet(e, "get-offsets", getOffsetsSummary)
	var o getOffsetsOptions
	o.client.register(fs)
	o.output.register(fs)
	zk := registerZookeeper(fs)
	fs.StringVar(&o.topicPartitions, "topic-partitions", "", "comma-separated topic-partition patterns, e.g. topic1:1,topic2:0-3,topic3,topic4:5-,topic5:-3 (not with --topic or --partitions)")
	fs.StringVar(&o.topic, "topic", "", "the topic to get offsets for; a regular expression (default: all topics)")
	fs.StringVar(&o.partitions, "partitions", "", "comma-separated partition ids (default: all partitions)")
	fs.StringVar(&o.time, "time", "latest", "timestamp in ms, or -1/latest, -2/earliest, -3/max-timestamp, -4/earliest-local, -5/latest-tiered")
	fs.BoolVar(&o.excludeInternal, "exclude-internal-topics", false, "leave out internal topics")
	if err := parseAdminFlags(e, fs, args, zk); err != nil {
		if errors.Is(err, errHelp) {
			return nil
		}
		return err
	}
	if err := o.output.validate(); err != nil {
		return err
	}
	if o.topicPartitions != "" && (o.topic != "" || o.partitions != "") {
		return usageErrorf("--topic-partitions cannot be used with --topic or --partitions")
	}
	ts, err := parseOffsetTime(o.time)
	if err != nil {
		return err
	}
	var filter tpFilter
	if o.topicPartitions != "" {
		filter, err = parseTopicPartitionPatterns(o.topicPartitions)
	} else {
		filter, err = topicAndPartitionsFilter(o.topic, o.partitions)
	}
	if err != nil {
		return err
	}

	adm, cl, err := o.client.newAdmin(ctx)
	if err != nil {
		return err
	}
	defer cl.Close()
	md, err := adm.Metadata(ctx)
	if err != nil {
		return err
	}
	req := kmsg.NewPtrListOffsetsRequest()
	req.ReplicaID = -1
	matched := 0
	for _, name := range md.Topics.Names() {
		td := md.Topics[name]
		if td.Err != nil || (o.excludeInternal && (td.IsInternal || isInternalTopic(name))) {
			continue
		}
		rt := kmsg.NewListOffsetsRequestTopic()
		rt.Topic = name
		for _, p := range td.Partitions.Numbers() {
			if !filter.allowed(name, p) {
				continue
			}
			rp := kmsg.NewListOffsetsRequestTopicPartition()
			rp.Partition = p
			rp.Timestamp = ts
			rp.CurrentLeaderEpoch = -1
			rt.Partitions = append(rt.Partitions, rp)
			matched++
		}
		if len(rt.Partitions) > 0 {
			req.Topics = append(req.Topics, rt)
		}
	}
	if matched == 0 {
		return errors.New("Could not match any topic-partitions with the specified filters")
	}

	type result struct {
		Topic     string `json:"topic"`
		Partition int32  `json:"partition"`
		Offset    int64  `json:"offset"`
	}
	var results []result
	// kgo splits the request by partition leader; each shard answers or fails whole.
	for _, shard := range cl.RequestSharded(ctx, req) {
		if shard.Err != nil {
			sreq, _ := shard.Req.(*kmsg.ListOffsetsRequest)
			if sreq == nil {
				return shard.Err
			}
			for _, t := range sreq.Topics {
				for _, p := range t.Partitions {
					fmt.Fprintf(e.stderr, "Skip getting offsets for topic-partition %s due to error: %v\n", topicPartitionString(t.Topic, p.Partition), shard.Err)
				}
			}
			continue
		}
		resp := shard.Resp.(*kmsg.ListOffsetsResponse)
		for _, t := range resp.Topics {
			for _, p := range t.Partitions {
				if err := responseError(p.ErrorCode, nil); err != nil {
					fmt.Fprintf(e.stderr, "Skip getting offsets for topic-partition %s due to error: %s\n", topicPartitionString(t.Topic, p.Partition), describeErr(err))
					continue
				}
				if p.Offset == -1 { // UNKNOWN_OFFSET: no record at or after the timestamp
					continue
				}
				results = append(results, result{t.Topic, p.Partition, p.Offset})
			}
		}
	}
	// Kafka sorts by TopicPartition.toString, so "t-10" comes before "t-2".
	sort.Slice(results, func(i, j int) bool {
		return topicPartitionString(results[i].Topic, results[i].Partition) < topicPartitionString(results[j].Topic, results[j].Partition)
	})
	if o.output.json() {
		if results == nil {
			results = []result{}
		}
		return writeJSON(e.stdout, results)
	}
	for _, r := range results {
		fmt.Fprintf(e.stdout, "%s:%d:%d\n", r.Topic, r.Partition, r.Offset)
	}
	return nil
}

// parseOffsetTime reads --time as GetOffsetShell does.
func parseOffsetTime(s string) (int64, error) {
	switch s {
	case "earliest":
		return earliestTimestamp, nil
	case "latest":
		return latestTimestamp, nil
	case "max-timestamp":
		return maxTimestamp, nil
	case "earliest-local":
		return earliestLocalTimestamp, nil
	case "latest-tiered":
		return latestTieredTimestamp, nil
	}
	ts, err := strconv.ParseInt(s, 10, 64)
	if err != nil || ts < latestTieredTimestamp {
		return 0, usageErrorf("Malformed time argument %s. Please use -1 or latest / -2 or earliest / -3 or max-timestamp / -4 or earliest-local / -5 or latest-tiered, or a specified long format timestamp", s)
	}
	return ts, nil
}

// tpFilter selects topic-partitions: any of its rules may allow one.
type tpFilter []tpRule

type tpRule struct {
	topic  *topicFilter
	lo, hi int32          // partition range [lo, hi)
	set    map[int32]bool // with --partitions: exactly these (nil: all)
}

func (f tpFilter) allowed(topic string, partition int32) bool {
	for _, r := range f {
		if !r.topic.allowed(topic, false) {
			continue
		}
		if r.set != nil {
			if r.set[partition] {
				return true
			}
			continue
		}
		if partition >= r.lo && partition < r.hi {
			return true
		}
	}
	return false
}

// topicAndPartitionsFilter is --topic REGEX --partitions 0,1.
func topicAndPartitionsFilter(topic, partitions string) (tpFilter, error) {
	tf, err := newTopicFilter(topic)
	if err != nil {
		return nil, err
	}
	r := tpRule{topic: tf, lo: 0, hi: math.MaxInt32}
	if partitions != "" {
		r.set = make(map[int32]bool)
		for _, s := range strings.Split(partitions, ",") {
			p, err := strconv.ParseInt(s, 10, 32)
			if err != nil {
				return nil, usageErrorf("--partitions expects a comma separated list of numeric partition ids, but received: %s", partitions)
			}
			r.set[int32(p)] = true
		}
	}
	return tpFilter{r}, nil
}

// tpPatternRe is GetOffsetShell's TOPIC_PARTITION_PATTERN.
var tpPatternRe = regexp.MustCompile(`^([^:,]*)(?::(?:([0-9]*)|(?:([0-9]*)-([0-9]*))))?$`)

// parseTopicPartitionPatterns is --topic-partitions: "t1:1,t2:0-3,t3,t4:5-,t5:-3,:0".
func parseTopicPartitionPatterns(s string) (tpFilter, error) {
	var f tpFilter
	for _, spec := range strings.Split(s, ",") {
		m := tpPatternRe.FindStringSubmatch(spec)
		if m == nil {
			return nil, usageErrorf("Invalid rule specification: %s", spec)
		}
		tf, err := newTopicFilter(m[1])
		if err != nil {
			return nil, err
		}
		num := func(s string, def int64) (int32, error) {
			if s == "" {
				return int32(def), nil
			}
			n, err := strconv.ParseInt(s, 10, 32)
			if err != nil {
				return 0, usageErrorf("Invalid rule specification: %s", spec)
			}
			return int32(n), nil
		}
		r := tpRule{topic: tf}
		if m[2] != "" {
			p, err := num(m[2], 0)
			if err != nil {
				return nil, err
			}
			r.lo, r.hi = p, p+1
		} else {
			if r.lo, err = num(m[3], 0); err != nil {
				return nil, err
			}
			if r.hi, err = num(m[4], math.MaxInt32); err != nil {
				return nil, err
			}
		}
		f = append(f, r)
	}
	return f, nil
}
