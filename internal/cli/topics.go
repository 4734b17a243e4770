package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

const topicsSummary = `Create, delete, describe, or change a topic (kafka-topics.sh).

Exactly one action: --create, --list, --describe, --alter or --delete.
--topic accepts a regular expression except with --create ("test\\.topic").
To change a topic's configs use 'samsa configs'.`

// topicsOptions are kafka-topics.sh's flags.
type topicsOptions struct {
	client                                clientFlags
	output                                outputFlag
	create, list, describe, alter, delete bool
	topic, topicID                        string
	configs                               multiFlag
	partitions, replicationFactor         int
	replicaAssignment                     string
	underReplicated, unavailable          bool
	underMinISR, atMinISR                 bool
	withOverrides                         bool
	ifExists, ifNotExists                 bool
	excludeInternal                       bool
	partitionSizeLimit                    int
	set                                   map[string]bool // flags given
}

func runTopics(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet(e, "topics", topicsSummary)
	var o topicsOptions
	o.client.register(fs)
	o.output.register(fs)
	zk := registerZookeeper(fs)
	fs.BoolVar(&o.create, "create", false, "create a new topic")
	fs.BoolVar(&o.list, "list", false, "list all available topics")
	fs.BoolVar(&o.describe, "describe", false, "list details for the given topics")
	fs.BoolVar(&o.alter, "alter", false, "alter the number of partitions and the replica assignment")
	fs.BoolVar(&o.delete, "delete", false, "delete a topic")
	fs.StringVar(&o.topic, "topic", "", "the topic to create, alter, describe or delete; a regular expression except with --create")
	fs.StringVar(&o.topicID, "topic-id", "", "the topic id to describe")
	fs.Var(&o.configs, "config", "a topic config override for --create, name=value (repeatable)")
	fs.IntVar(&o.partitions, "partitions", 0, "the number of partitions for the topic being created or altered (default: the cluster's num.partitions)")
	fs.IntVar(&o.replicationFactor, "replication-factor", 0, "the replication factor of each partition (default: the cluster's default.replication.factor)")
	fs.StringVar(&o.replicaAssignment, "replica-assignment", "", "manual partition-to-broker assignment: broker_p0_r1:broker_p0_r2,broker_p1_r1:broker_p1_r2,...")
	fs.BoolVar(&o.underReplicated, "under-replicated-partitions", false, "with --describe, only show under-replicated partitions")
	fs.BoolVar(&o.unavailable, "unavailable-partitions", false, "with --describe, only show partitions whose leader is not available")
	fs.BoolVar(&o.underMinISR, "under-min-isr-partitions", false, "with --describe, only show partitions whose ISR count is below min.insync.replicas")
	fs.BoolVar(&o.atMinISR, "at-min-isr-partitions", false, "with --describe, only show partitions whose ISR count equals min.insync.replicas")
	fs.BoolVar(&o.withOverrides, "topics-with-overrides", false, "with --describe, only show topics that have overridden configs")
	fs.BoolVar(&o.ifExists, "if-exists", false, "with --alter, --delete or --describe, act only if the topic exists")
	fs.BoolVar(&o.ifNotExists, "if-not-exists", false, "with --create, act only if the topic does not already exist")
	fs.BoolVar(&o.excludeInternal, "exclude-internal", false, "exclude internal topics when listing or describing")
	fs.IntVar(&o.partitionSizeLimit, "partition-size-limit-per-response", 2000, "accepted for compatibility; Samsa describes all partitions at once")
	if err := parseAdminFlags(e, fs, args, zk); err != nil {
		if errors.Is(err, errHelp) {
			return nil
		}
		return err
	}
	o.set = givenFlags(fs)
	if err := o.validate(); err != nil {
		return err
	}

	adm, cl, err := o.client.newAdmin(ctx)
	if err != nil {
		return err
	}
	defer cl.Close()
	switch {
	case o.create:
		err = createTopic(ctx, e, cl, &o)
	case o.list:
		err = listTopics(ctx, e, adm, &o)
	case o.describe:
		err = describeTopics(ctx, e, adm, &o)
	case o.alter:
		err = alterTopics(ctx, cl, adm, &o)
	case o.delete:
		err = deleteTopics(ctx, adm, &o)
	}
	if err != nil && !errors.Is(err, errUsage) {
		return fmt.Errorf("Error while executing topic command : %s", describeErr(err))
	}
	return err
}

// validate applies kafka-topics.sh's checks of which flags go together.
func (o *topicsOptions) validate() error {
	if err := o.output.validate(); err != nil {
		return err
	}
	actions := 0
	for _, a := range []bool{o.create, o.list, o.describe, o.alter, o.delete} {
		if a {
			actions++
		}
	}
	if actions != 1 {
		return usageErrorf("command must include exactly one action: --list, --describe, --create, --alter or --delete")
	}
	action := o.action()
	if !o.list && !o.describe && o.topic == "" {
		return usageErrorf("--topic is required with --%s", action)
	}
	only := func(flagName string, allowed ...string) error {
		if o.set[flagName] && !slices.Contains(allowed, action) {
			return usageErrorf("--%s can only be used with --%s", flagName, strings.Join(allowed, " or --"))
		}
		return nil
	}
	checks := []struct {
		flag    string
		actions []string
	}{
		{"config", []string{"create"}},
		{"partitions", []string{"create", "alter"}},
		{"replication-factor", []string{"create"}},
		{"replica-assignment", []string{"create", "alter"}},
		{"under-replicated-partitions", []string{"describe"}},
		{"unavailable-partitions", []string{"describe"}},
		{"under-min-isr-partitions", []string{"describe"}},
		{"at-min-isr-partitions", []string{"describe"}},
		{"topics-with-overrides", []string{"describe"}},
		{"if-exists", []string{"alter", "delete", "describe"}},
		{"if-not-exists", []string{"create"}},
		{"exclude-internal", []string{"list", "describe"}},
		{"topic-id", []string{"describe"}},
	}
	for _, c := range checks {
		if err := only(c.flag, c.actions...); err != nil {
			if c.flag == "config" && o.alter {
				return usageErrorf("--config can't be used with --alter: to change a topic's configs use 'samsa configs --alter --entity-type topics --entity-name <topic> --add-config k=v'")
			}
			return err
		}
	}
	if o.alter && !o.set["partitions"] {
		return usageErrorf("--partitions is required with --alter")
	}
	if o.create && o.set["replica-assignment"] && (o.set["partitions"] || o.set["replication-factor"]) {
		return usageErrorf("--replica-assignment can't be used with --partitions or --replication-factor")
	}
	if o.withOverrides && (o.underReplicated || o.unavailable || o.underMinISR || o.atMinISR) {
		return usageErrorf("--topics-with-overrides can't be used with the partition filters (--under-replicated-partitions, ...)")
	}
	if o.output.json() && !o.list && !o.describe {
		return usageErrorf("--output json is for --list and --describe")
	}
	return nil
}

func (o *topicsOptions) action() string {
	switch {
	case o.create:
		return "create"
	case o.list:
		return "list"
	case o.describe:
		return "describe"
	case o.alter:
		return "alter"
	default:
		return "delete"
	}
}

// parseReplicaAssignment reads "1:2,2:3" (partition 0 on brokers 1 and 2, partition 1
// on 2 and 3), with kafka-topics.sh's checks.
func parseReplicaAssignment(s string) ([][]int32, error) {
	var out [][]int32
	for i, part := range strings.Split(s, ",") {
		var brokers []int32
		seen := make(map[int32]bool)
		var dups []string
		for _, b := range strings.Split(part, ":") {
			id, err := strconv.ParseInt(strings.TrimSpace(b), 10, 32)
			if err != nil {
				return nil, usageErrorf("--replica-assignment: %q is not a broker id", strings.TrimSpace(b))
			}
			if seen[int32(id)] {
				dups = append(dups, strconv.Itoa(int(id)))
			}
			seen[int32(id)] = true
			brokers = append(brokers, int32(id))
		}
		if len(dups) > 0 {
			return nil, fmt.Errorf("Partition replica lists may not contain duplicate entries: %s", strings.Join(dups, ","))
		}
		if len(out) > 0 && len(brokers) != len(out[0]) {
			return nil, fmt.Errorf("Partition %d has different replication factor: [%s]", i, strings.ReplaceAll(joinInt32s(brokers), ",", ", "))
		}
		out = append(out, brokers)
	}
	return out, nil
}

func createTopic(ctx context.Context, e *env, cl *kgo.Client, o *topicsOptions) error {
	if o.set["replication-factor"] && (o.replicationFactor < 1 || o.replicationFactor > 32767) {
		return errors.New("The replication factor must be between 1 and 32767 inclusive")
	}
	if o.set["partitions"] && o.partitions < 1 {
		return errors.New("The partitions must be greater than 0")
	}
	configs, err := keyValues("config", o.configs, false)
	if err != nil {
		return err
	}
	if strings.ContainsAny(o.topic, "._") {
		fmt.Fprintln(e.stdout, "WARNING: Due to limitations in metric names, topics with a period ('.') or underscore ('_') could collide. To avoid issues it is best to use either, but not both.")
	}

	req := kmsg.NewPtrCreateTopicsRequest()
	rt := kmsg.NewCreateTopicsRequestTopic()
	rt.Topic = o.topic
	rt.NumPartitions = -1 // the cluster's defaults, as Kafka's NewTopic with empty options
	rt.ReplicationFactor = -1
	if o.set["partitions"] {
		rt.NumPartitions = int32(o.partitions)
	}
	if o.set["replication-factor"] {
		rt.ReplicationFactor = int16(o.replicationFactor)
	}
	if o.replicaAssignment != "" {
		assignment, err := parseReplicaAssignment(o.replicaAssignment)
		if err != nil {
			return err
		}
		for p, replicas := range assignment {
			ra := kmsg.NewCreateTopicsRequestTopicReplicaAssignment()
			ra.Partition = int32(p)
			ra.Replicas = replicas
			rt.ReplicaAssignment = append(rt.ReplicaAssignment, ra)
		}
	}
	for _, k := range sortedStringKeys(configs) {
		c := kmsg.NewCreateTopicsRequestTopicConfig()
		c.Name = k
		c.Value = kmsg.StringPtr(configs[k])
		rt.Configs = append(rt.Configs, c)
	}
	req.Topics = append(req.Topics, rt)
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		return err
	}
	for _, t := range resp.Topics {
		if t.Topic != o.topic {
			continue
		}
		if err := responseError(t.ErrorCode, t.ErrorMessage); err != nil {
			if errors.Is(err, kerr.TopicAlreadyExists) {
				if o.ifNotExists {
					return nil
				}
				// Kafka's controller words it so; tutorials and scripts look for it.
				return fmt.Errorf("Topic '%s' already exists.", o.topic)
			}
			return err
		}
		fmt.Fprintf(e.stdout, "Created topic %s.\n", o.topic)
		return nil
	}
	return fmt.Errorf("the broker's answer did not mention topic %s", o.topic)
}

// clusterTopics returns the metadata of every topic (internal ones too) and the topics
// the command's --topic selects, sorted.
func clusterTopics(ctx context.Context, adm *kadm.Client, o *topicsOptions) (kadm.Metadata, []string, error) {
	md, err := adm.Metadata(ctx)
	if err != nil {
		return md, nil, err
	}
	f, err := newTopicFilter(o.topic)
	if err != nil {
		return md, nil, err
	}
	var all []string
	for name, td := range md.Topics {
		if td.Err != nil {
			continue
		}
		if o.excludeInternal && td.IsInternal {
			continue
		}
		all = append(all, name)
	}
	return md, f.filter(all, o.excludeInternal), nil
}

// ensureTopicExists is kafka-topics.sh's check that a named --topic matched something.
func ensureTopicExists(found []string, o *topicsOptions) error {
	if o.topic != "" && len(found) == 0 && !o.ifExists {
		return fmt.Errorf("Topic '%s' does not exist as expected", o.topic)
	}
	return nil
}

func listTopics(ctx context.Context, e *env, adm *kadm.Client, o *topicsOptions) error {
	_, topics, err := clusterTopics(ctx, adm, o)
	if err != nil {
		return err
	}
	if o.output.json() {
		if topics == nil {
			topics = []string{}
		}
		return writeJSON(e.stdout, topics)
	}
	// Kafka prints the names joined by newlines with println, so no topics is one
	// empty line.
	fmt.Fprintln(e.stdout, strings.Join(topics, "\n"))
	return nil
}

// topicDescription is one topic of --describe, for text and JSON output.
type topicDescription struct {
	Topic             string                 `json:"topic"`
	TopicID           string                 `json:"topic_id,omitempty"`
	PartitionCount    int                    `json:"partition_count"`
	ReplicationFactor int                    `json:"replication_factor"`
	Configs           map[string]string      `json:"configs"`
	Partitions        []partitionDescription `json:"partitions"`

	configOrder []string // the Configs keys in printing order
	showTopic   bool     // whether the topic line is printed (--topics-with-overrides)
}

type partitionDescription struct {
	Partition    int32   `json:"partition"`
	Leader       int32   `json:"leader"` // -1: none
	Replicas     []int32 `json:"replicas"`
	ISR          []int32 `json:"isr"`
	ELR          []int32 `json:"elr"`
	LastKnownELR []int32 `json:"last_known_elr"`
}

func describeTopics(ctx context.Context, e *env, adm *kadm.Client, o *topicsOptions) error {
	md, topics, err := clusterTopics(ctx, adm, o)
	if err != nil {
		return err
	}
	if o.topicID != "" {
		// As Kafka, a topic id wins over --topic.
		topics = nil
		for name, td := range md.Topics {
			if td.Err == nil && kafkaUUID(td.ID) == o.topicID && !(o.excludeInternal && isInternalTopic(name)) {
				topics = append(topics, name)
			}
		}
		if len(topics) == 0 && !o.ifExists {
			return fmt.Errorf("TopicId '%s' does not exist as expected", o.topicID)
		}
	} else if err := ensureTopicExists(topics, o); err != nil {
		return err
	}
	var descs []*topicDescription
	if len(topics) > 0 {
		rcs, err := adm.DescribeTopicConfigs(ctx, topics...)
		if err != nil {
			return err
		}
		configs := make(map[string]kadm.ResourceConfig, len(rcs))
		for _, rc := range rcs {
			if rc.Err != nil {
				return fmt.Errorf("describing the configs of topic %s: %w", rc.Name, errorWithMessage(rc.Err, &rc.ErrMessage))
			}
			configs[rc.Name] = rc
		}
		live := make(map[int32]bool)
		for _, b := range md.Brokers {
			live[b.NodeID] = true
		}
		for _, name := range topics {
			// A topic the filters leave nothing of is not printed at all.
			if d := describeOne(md.Topics[name], configs[name], live, o); d.showTopic || len(d.Partitions) > 0 {
				descs = append(descs, d)
			}
		}
	}
	if o.output.json() {
		if descs == nil {
			descs = []*topicDescription{}
		}
		return writeJSON(e.stdout, descs)
	}
	for _, d := range descs {
		d.print(e.stdout)
	}
	return nil
}

// describeOne builds the description of one topic, with its partitions already filtered
// by the --under-replicated-partitions style flags.
func describeOne(td kadm.TopicDetail, rc kadm.ResourceConfig, live map[int32]bool, o *topicsOptions) *topicDescription {
	d := &topicDescription{Topic: td.Topic, Configs: map[string]string{}, Partitions: []partitionDescription{}}
	if td.ID != ([16]byte{}) {
		d.TopicID = kafkaUUID(td.ID)
	}
	minISR := 1
	cfgs := slices.Clone(rc.Configs)
	sort.Slice(cfgs, func(i, j int) bool { return cfgs[i].Key < cfgs[j].Key })
	for _, c := range cfgs {
		v := "null"
		if c.Value != nil {
			v = *c.Value
		}
		if c.Key == "min.insync.replicas" {
			if n, err := strconv.Atoi(v); err == nil {
				minISR = n
			}
		}
		// Kafka prints every entry that is not a default: overrides and the broker's
		// static settings alike.
		if c.Source != kmsg.ConfigSourceDefaultConfig {
			d.Configs[c.Key] = v
			d.configOrder = append(d.configOrder, c.Key)
		}
	}
	parts := td.Partitions.Sorted()
	d.PartitionCount = len(parts)
	if len(parts) > 0 {
		d.ReplicationFactor = len(parts[0].Replicas)
	}

	filtering := o.underReplicated || o.unavailable || o.underMinISR || o.atMinISR
	d.showTopic = !filtering && (!o.withOverrides || len(d.Configs) > 0)
	if o.withOverrides {
		return d
	}
	for _, p := range parts {
		hasLeader := p.Leader >= 0
		show := !filtering ||
			(o.underReplicated && len(p.Replicas)-len(p.ISR) > 0) ||
			(o.unavailable && (!hasLeader || !live[p.Leader])) ||
			(o.underMinISR && (!hasLeader || len(p.ISR) < minISR)) ||
			(o.atMinISR && len(p.ISR) == minISR)
		if !show {
			continue
		}
		d.Partitions = append(d.Partitions, partitionDescription{
			Partition:    p.Partition,
			Leader:       p.Leader,
			Replicas:     nonNil(p.Replicas),
			ISR:          nonNil(p.ISR),
			ELR:          []int32{},
			LastKnownELR: []int32{},
		})
	}
	return d
}

func nonNil(s []int32) []int32 {
	if s == nil {
		return []int32{}
	}
	return s
}

// print writes Kafka's --describe layout. Samsa has no eligible leader replicas
// (KIP-966), so Elr and LastKnownElr are empty, as Kafka 4 prints them when the feature
// is off.
func (d *topicDescription) print(w io.Writer) {
	if d.showTopic {
		var b strings.Builder
		b.WriteString("Topic: " + d.Topic)
		if d.TopicID != "" {
			b.WriteString("\tTopicId: " + d.TopicID)
		}
		fmt.Fprintf(&b, "\tPartitionCount: %d\tReplicationFactor: %d\tConfigs: ", d.PartitionCount, d.ReplicationFactor)
		for i, k := range d.configOrder {
			if i > 0 {
				b.WriteString(",")
			}
			b.WriteString(k + "=" + d.Configs[k])
		}
		fmt.Fprintln(w, b.String())
	}
	for _, p := range d.Partitions {
		leader := "none"
		if p.Leader >= 0 {
			leader = strconv.Itoa(int(p.Leader))
		}
		fmt.Fprintf(w, "\tTopic: %s\tPartition: %d\tLeader: %s\tReplicas: %s\tIsr: %s\tElr: %s\tLastKnownElr: %s\n",
			d.Topic, p.Partition, leader, joinInt32s(p.Replicas), joinInt32s(p.ISR), joinInt32s(p.ELR), joinInt32s(p.LastKnownELR))
	}
}

func alterTopics(ctx context.Context, cl *kgo.Client, adm *kadm.Client, o *topicsOptions) error {
	md, topics, err := clusterTopics(ctx, adm, o)
	if err != nil {
		return err
	}
	if err := ensureTopicExists(topics, o); err != nil {
		return err
	}
	if len(topics) == 0 {
		return nil
	}
	var assignment [][]int32
	if o.replicaAssignment != "" {
		if assignment, err = parseReplicaAssignment(o.replicaAssignment); err != nil {
			return err
		}
	}
	req := kmsg.NewPtrCreatePartitionsRequest()
	for _, name := range topics {
		rt := kmsg.NewCreatePartitionsRequestTopic()
		rt.Topic = name
		rt.Count = int32(o.partitions)
		if assignment != nil {
			// As Kafka: the assignment lists every partition; the new ones are those past
			// the topic's current count.
			for _, replicas := range assignment[min(len(md.Topics[name].Partitions), len(assignment)):] {
				a := kmsg.NewCreatePartitionsRequestTopicAssignment()
				a.Replicas = replicas
				rt.Assignment = append(rt.Assignment, a)
			}
		}
		req.Topics = append(req.Topics, rt)
	}
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		return err
	}
	for _, t := range resp.Topics {
		if err := responseError(t.ErrorCode, t.ErrorMessage); err != nil {
			return err
		}
	}
	return nil
}

func deleteTopics(ctx context.Context, adm *kadm.Client, o *topicsOptions) error {
	_, topics, err := clusterTopics(ctx, adm, o)
	if err != nil {
		return err
	}
	if err := ensureTopicExists(topics, o); err != nil {
		return err
	}
	if len(topics) == 0 {
		return nil
	}
	resps, err := adm.DeleteTopics(ctx, topics...)
	if err != nil {
		return err
	}
	for _, r := range resps.Sorted() {
		if r.Err != nil {
			return errorWithMessage(r.Err, &r.ErrMessage)
		}
	}
	return nil
}

func sortedStringKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
