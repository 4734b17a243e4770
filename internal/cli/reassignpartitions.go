package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"strings"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

const reassignPartitionsSummary = `Move partition replicas between brokers (kafka-reassign-partitions.sh).

Exactly one action:
  --generate  propose an assignment of the topics in --topics-to-move-json-file
              ({"version":1,"topics":[{"topic":"foo"}]}) over --broker-list (1,2,3)
  --execute   start the reassignment in --reassignment-json-file
  --verify    tell whether the reassignments of --reassignment-json-file completed
  --cancel    cancel the reassignments of --reassignment-json-file (reverting them)
  --list      list the reassignments in progress

The reassignment file is Kafka's:

  {"version":1,"partitions":[{"topic":"foo","partition":0,"replicas":[1,2],"log_dirs":["any","any"]}]}

New replicas copy the partition from its leader; once they are all in sync the old
replicas are dropped. Samsa has one log directory per broker, so log_dirs may only be
"any", and it has no replication throttles.`

// cannotExecuteMessage is Kafka's refusal to start a reassignment while others run.
const cannotExecuteMessage = "Cannot execute because there is an existing partition assignment.  Use --additional to override this and create a new partition assignment in addition to the existing one. The --additional flag can also be used to change the throttle by resubmitting the current reassignment."

// reassignIntN picks the random start of --generate's placement, as Kafka's
// AdminUtils does; tests replace it.
var reassignIntN = rand.IntN

// partitionAssignment is one partition's replica list.
type partitionAssignment struct {
	topic     string
	partition int32
	replicas  []int32
}

func (a partitionAssignment) String() string { return topicPartitionString(a.topic, a.partition) }

func sortAssignments(as []partitionAssignment) {
	slices.SortFunc(as, func(a, b partitionAssignment) int {
		if c := strings.Compare(a.topic, b.topic); c != 0 {
			return c
		}
		return int(a.partition) - int(b.partition)
	})
}

// reassignmentJSON is Kafka's reassignment file.
type reassignmentJSON struct {
	Version    int                   `json:"version"`
	Partitions []reassignmentJSONRow `json:"partitions"`
}

type reassignmentJSONRow struct {
	Topic     string   `json:"topic"`
	Partition int32    `json:"partition"`
	Replicas  []int32  `json:"replicas"`
	LogDirs   []string `json:"log_dirs"`
}

// formatReassignmentJSON is Kafka's formatAsReassignmentJson: compact JSON, partitions
// sorted, every log dir "any".
func formatReassignmentJSON(as []partitionAssignment) string {
	as = slices.Clone(as)
	sortAssignments(as)
	doc := reassignmentJSON{Version: 1, Partitions: []reassignmentJSONRow{}}
	for _, a := range as {
		dirs := make([]string, len(a.replicas))
		for i := range dirs {
			dirs[i] = "any"
		}
		doc.Partitions = append(doc.Partitions, reassignmentJSONRow{Topic: a.topic, Partition: a.partition, Replicas: nonNilInt32s(a.replicas), LogDirs: dirs})
	}
	b, _ := json.Marshal(doc) // plain structs of strings and ints always marshal
	return string(b)
}

func nonNilInt32s(s []int32) []int32 {
	if s == nil {
		return []int32{}
	}
	return s
}

// parseReassignmentJSON reads a reassignment file as Kafka's
// parsePartitionReassignmentData and parseExecuteAssignmentArgs check it.
func parseReassignmentJSON(data []byte) ([]partitionAssignment, error) {
	var raw struct {
		Version    *int `json:"version"`
		Partitions []struct {
			Topic     *string  `json:"topic"`
			Partition *int32   `json:"partition"`
			Replicas  *[]int32 `json:"replicas"`
			LogDirs   []string `json:"log_dirs"`
		} `json:"partitions"`
	}
	if err := json.NewDecoder(bytes.NewReader(data)).Decode(&raw); err != nil {
		return nil, fmt.Errorf("The input string is not a valid JSON: %v", err)
	}
	if raw.Version != nil && *raw.Version != 1 {
		return nil, fmt.Errorf("Not supported version field value %d", *raw.Version)
	}
	var out []partitionAssignment
	for i, p := range raw.Partitions {
		if p.Topic == nil || p.Partition == nil || p.Replicas == nil {
			return nil, fmt.Errorf("partition entry %d needs topic, partition and replicas", i)
		}
		a := partitionAssignment{topic: *p.Topic, partition: *p.Partition, replicas: *p.Replicas}
		if p.LogDirs != nil {
			if len(p.LogDirs) != len(a.replicas) {
				return nil, fmt.Errorf("Size of replicas list %s is different from size of log dirs list %s for partition %s",
					javaIntList(a.replicas), "["+strings.Join(p.LogDirs, ", ")+"]", a)
			}
			for _, d := range p.LogDirs {
				if d != "any" {
					return nil, fmt.Errorf("partition %s: log dir %q: Samsa keeps one log directory per broker, so log_dirs may only be \"any\"", a, d)
				}
			}
		}
		out = append(out, a)
	}
	return out, nil
}

// checkExecuteAssignments is the rest of Kafka's parseExecuteAssignmentArgs.
func checkExecuteAssignments(as []partitionAssignment) error {
	if len(as) == 0 {
		return errors.New("Partition reassignment list cannot be empty")
	}
	seen := make(map[string]int)
	var dupParts, dupReplicas []string
	for _, a := range as {
		if len(a.replicas) == 0 {
			return errors.New("Partition replica list cannot be empty")
		}
		if seen[a.String()]++; seen[a.String()] == 2 {
			dupParts = append(dupParts, a.String())
		}
		var dups []string
		for i, r := range a.replicas {
			if slices.Contains(a.replicas[:i], r) && !slices.Contains(dups, strconv.Itoa(int(r))) {
				dups = append(dups, strconv.Itoa(int(r)))
			}
		}
		if len(dups) > 0 {
			dupReplicas = append(dupReplicas, fmt.Sprintf("%s contains multiple entries for %s", a, strings.Join(dups, ",")))
		}
	}
	if len(dupParts) > 0 {
		return fmt.Errorf("Partition reassignment contains duplicate topic partitions: %s", strings.Join(dupParts, ","))
	}
	if len(dupReplicas) > 0 {
		return fmt.Errorf("Partition replica lists may not contain duplicate entries: %s", strings.Join(dupReplicas, ". "))
	}
	return nil
}

// javaIntList prints ids as Java's List.toString: "[1, 2]".
func javaIntList(ids []int32) string {
	s := make([]string, len(ids))
	for i, id := range ids {
		s[i] = strconv.Itoa(int(id))
	}
	return "[" + strings.Join(s, ", ") + "]"
}

func runReassignPartitions(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet(e, "reassign-partitions", reassignPartitionsSummary)
	var cf clientFlags
	cf.register(fs)
	zk := registerZookeeper(fs)
	generate := fs.Bool("generate", false, "propose a reassignment of --topics-to-move-json-file over --broker-list")
	execute := fs.Bool("execute", false, "start the reassignment in --reassignment-json-file")
	verify := fs.Bool("verify", false, "report the state of the reassignments in --reassignment-json-file")
	cancel := fs.Bool("cancel", false, "cancel the reassignments in --reassignment-json-file")
	list := fs.Bool("list", false, "list the reassignments in progress")
	topicsFile := fs.String("topics-to-move-json-file", "", "--generate: JSON file of the topics to move")
	brokerList := fs.String("broker-list", "", "--generate: comma-separated ids of the brokers to move them to")
	reassignFile := fs.String("reassignment-json-file", "", "--execute, --verify, --cancel: the reassignment JSON file")
	additional := fs.Bool("additional", false, "--execute: start even though other reassignments are in progress")
	fs.Bool("disable-rack-aware", false, "--generate: ignore racks (Samsa's --generate always does)")
	fs.Bool("preserve-throttles", false, "accepted for compatibility: Samsa has no replication throttles")
	fs.Int64("timeout", 10000, "accepted for compatibility: log directory moves are not supported")
	if err := parseAdminFlags(e, fs, args, zk); err != nil {
		if errors.Is(err, errHelp) {
			return nil
		}
		return err
	}
	actions := 0
	for _, a := range []bool{*generate, *execute, *verify, *cancel, *list} {
		if a {
			actions++
		}
	}
	if actions != 1 {
		return usageErrorf("Command must include exactly one action: --generate, --execute, --verify, --cancel, --list")
	}
	need := func(v, name string) error {
		if v == "" {
			return usageErrorf("Missing required argument \"[%s]\"", name)
		}
		return nil
	}
	var data []byte
	readFile := func(path, name string) error {
		if err := need(path, name); err != nil {
			return err
		}
		var err error
		if data, err = os.ReadFile(path); err != nil {
			return fmt.Errorf("--%s: %w", name, err)
		}
		return nil
	}
	switch {
	case *generate:
		if err := readFile(*topicsFile, "topics-to-move-json-file"); err != nil {
			return err
		}
		if err := need(*brokerList, "broker-list"); err != nil {
			return err
		}
	case *execute, *verify, *cancel:
		if err := readFile(*reassignFile, "reassignment-json-file"); err != nil {
			return err
		}
	}
	cl, err := cf.newClient(ctx)
	if err != nil {
		return err
	}
	defer cl.Close()
	switch {
	case *generate:
		return reassignGenerate(ctx, e, cl, data, *brokerList)
	case *execute:
		return reassignExecute(ctx, e, cl, data, *additional)
	case *verify:
		return reassignVerify(ctx, e, cl, data)
	case *cancel:
		return reassignCancel(ctx, e, cl, data)
	default:
		return reassignList(ctx, e, cl)
	}
}

// listReassignments returns the reassignments in progress (nil filter: all).
func listReassignments(ctx context.Context, cl *kgo.Client, filter []partitionAssignment) (map[string]kmsg.ListPartitionReassignmentsResponseTopicPartition, error) {
	req := kmsg.NewPtrListPartitionReassignmentsRequest()
	req.TimeoutMillis = 30000
	if filter != nil {
		req.Topics = []kmsg.ListPartitionReassignmentsRequestTopic{}
		idx := make(map[string]int)
		for _, a := range filter {
			i, ok := idx[a.topic]
			if !ok {
				i = len(req.Topics)
				idx[a.topic] = i
				rt := kmsg.NewListPartitionReassignmentsRequestTopic()
				rt.Topic = a.topic
				req.Topics = append(req.Topics, rt)
			}
			req.Topics[i].Partitions = append(req.Topics[i].Partitions, a.partition)
		}
	}
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		return nil, err
	}
	if err := responseError(resp.ErrorCode, resp.ErrorMessage); err != nil {
		return nil, err
	}
	out := make(map[string]kmsg.ListPartitionReassignmentsResponseTopicPartition)
	for _, t := range resp.Topics {
		for _, p := range t.Partitions {
			out[topicPartitionString(t.Topic, p.Partition)] = p
		}
	}
	return out, nil
}

// clusterState is what the tool needs of the cluster's metadata.
type clusterState struct {
	brokers  []int32                      // sorted
	replicas map[string]map[int32][]int32 // topic -> partition -> replicas
}

// describeCluster reads the brokers and the replicas of topics (all topics when nil).
func describeCluster(ctx context.Context, cl *kgo.Client, topics []string) (*clusterState, error) {
	req := kmsg.NewPtrMetadataRequest()
	if topics != nil {
		req.Topics = []kmsg.MetadataRequestTopic{}
		for _, t := range topics {
			rt := kmsg.NewMetadataRequestTopic()
			rt.Topic = kmsg.StringPtr(t)
			req.Topics = append(req.Topics, rt)
		}
	}
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		return nil, err
	}
	st := &clusterState{replicas: make(map[string]map[int32][]int32)}
	for _, b := range resp.Brokers {
		st.brokers = append(st.brokers, b.NodeID)
	}
	slices.Sort(st.brokers)
	for _, t := range resp.Topics {
		if t.Topic == nil || t.ErrorCode != 0 {
			continue
		}
		ps := make(map[int32][]int32)
		for _, p := range t.Partitions {
			ps[p.Partition] = p.Replicas
		}
		st.replicas[*t.Topic] = ps
	}
	return st, nil
}

func reassignGenerate(ctx context.Context, e *env, cl *kgo.Client, data []byte, brokerList string) error {
	var raw struct {
		Version *int `json:"version"`
		Topics  []struct {
			Topic *string `json:"topic"`
		} `json:"topics"`
	}
	if err := json.NewDecoder(bytes.NewReader(data)).Decode(&raw); err != nil {
		return fmt.Errorf("The input string is not a valid JSON: %v", err)
	}
	if raw.Version != nil && *raw.Version != 1 {
		return fmt.Errorf("Not supported version field value %d", *raw.Version)
	}
	var brokers []int32
	var dupBrokers []int32
	for _, s := range strings.Split(brokerList, ",") {
		id, err := strconv.ParseInt(strings.TrimSpace(s), 10, 32)
		if err != nil {
			return usageErrorf("--broker-list: %q is not a broker id", s)
		}
		if slices.Contains(brokers, int32(id)) && !slices.Contains(dupBrokers, int32(id)) {
			dupBrokers = append(dupBrokers, int32(id))
		}
		brokers = append(brokers, int32(id))
	}
	if len(dupBrokers) > 0 {
		return fmt.Errorf("Broker list contains duplicate entries: %s", javaIntList(dupBrokers))
	}
	var topics, dupTopics []string
	for i, t := range raw.Topics {
		if t.Topic == nil {
			return fmt.Errorf("topic entry %d has no topic", i)
		}
		if slices.Contains(topics, *t.Topic) && !slices.Contains(dupTopics, *t.Topic) {
			dupTopics = append(dupTopics, *t.Topic)
		}
		topics = append(topics, *t.Topic)
	}
	if len(dupTopics) > 0 {
		return fmt.Errorf("List of topics to reassign contains duplicate entries: [%s]", strings.Join(dupTopics, ", "))
	}
	st, err := describeCluster(ctx, cl, topics)
	if err != nil {
		return err
	}
	// As Kafka, brokers of the list that the cluster does not have are left out.
	var usable []int32
	for _, b := range brokers {
		if slices.Contains(st.brokers, b) {
			usable = append(usable, b)
		}
	}
	slices.Sort(usable)
	var current, proposed []partitionAssignment
	for _, t := range topics {
		ps, ok := st.replicas[t]
		if !ok {
			return fmt.Errorf("Topic %s not found.", t)
		}
		n := len(ps)
		for p := range int32(n) {
			current = append(current, partitionAssignment{topic: t, partition: p, replicas: ps[p]})
		}
		if n == 0 {
			continue
		}
		rf := len(ps[0])
		if rf > len(usable) {
			return fmt.Errorf("Replication factor: %d larger than available brokers: %d.", rf, len(usable))
		}
		for p, replicas := range placeRoundRobin(usable, n, rf, reassignIntN(len(usable)), reassignIntN(len(usable))) {
			proposed = append(proposed, partitionAssignment{topic: t, partition: int32(p), replicas: replicas})
		}
	}
	fmt.Fprintf(e.stdout, "Current partition replica assignment\n%s\n\n", formatReassignmentJSON(current))
	fmt.Fprintf(e.stdout, "Proposed partition reassignment configuration\n%s\n", formatReassignmentJSON(proposed))
	return nil
}

// placeRoundRobin is Kafka's rack-unaware replica placement: partition p's first
// replica is broker (p+start) mod n, the others follow at a shift that grows every n
// partitions, so that consecutive partitions do not always pair the same brokers.
func placeRoundRobin(brokers []int32, nPartitions, rf, start, shift int) [][]int32 {
	n := len(brokers)
	out := make([][]int32, 0, nPartitions)
	for p := range nPartitions {
		if p > 0 && p%n == 0 {
			shift++
		}
		first := (p + start) % n
		replicas := []int32{brokers[first]}
		for j := range rf - 1 {
			replicas = append(replicas, brokers[(first+1+(shift+j)%(n-1))%n])
		}
		out = append(out, replicas)
	}
	return out
}

func reassignExecute(ctx context.Context, e *env, cl *kgo.Client, data []byte, additional bool) error {
	targets, err := parseReassignmentJSON(data)
	if err != nil {
		return err
	}
	if err := checkExecuteAssignments(targets); err != nil {
		return err
	}
	sortAssignments(targets)
	active, err := listReassignments(ctx, cl, nil)
	if err != nil {
		return err
	}
	if !additional && len(active) > 0 {
		return errors.New(cannotExecuteMessage)
	}
	var topics []string
	for _, a := range targets {
		if !slices.Contains(topics, a.topic) {
			topics = append(topics, a.topic)
		}
	}
	st, err := describeCluster(ctx, cl, topics)
	if err != nil {
		return err
	}
	for _, a := range targets {
		for _, r := range a.replicas {
			if !slices.Contains(st.brokers, r) {
				return fmt.Errorf("Unknown broker id %d", r)
			}
		}
	}
	var current []partitionAssignment
	var missing []string
	for _, a := range targets {
		replicas, ok := st.replicas[a.topic][a.partition]
		if !ok {
			missing = append(missing, a.String())
			continue
		}
		current = append(current, partitionAssignment{topic: a.topic, partition: a.partition, replicas: replicas})
	}
	if len(missing) > 0 {
		return fmt.Errorf("Unable to find partition: %s", strings.Join(missing, ", "))
	}
	fmt.Fprintf(e.stdout, "Current partition replica assignment\n\n%s\n\nSave this to use as the --reassignment-json-file option during rollback\n", formatReassignmentJSON(current))

	errs, err := alterReassignments(ctx, cl, targets, false)
	if err != nil {
		return err
	}
	if len(errs) > 0 {
		fmt.Fprintln(e.stdout, "Error reassigning partition(s):")
		for _, line := range errs {
			fmt.Fprintln(e.stdout, line)
		}
		return fmt.Errorf("reassign-partitions: %d of %d partition reassignments failed", len(errs), len(targets))
	}
	fmt.Fprintf(e.stdout, "Successfully started partition reassignment%s for %s\n", plural(len(targets)), joinAssignments(targets))
	return nil
}

// alterReassignments sends AlterPartitionReassignments for targets (cancelling them
// with cancel) and returns a "t-0: message" line per failed partition, sorted.
func alterReassignments(ctx context.Context, cl *kgo.Client, targets []partitionAssignment, cancel bool) ([]string, error) {
	req := kmsg.NewPtrAlterPartitionAssignmentsRequest()
	req.TimeoutMillis = 30000
	idx := make(map[string]int)
	for _, a := range targets {
		i, ok := idx[a.topic]
		if !ok {
			i = len(req.Topics)
			idx[a.topic] = i
			rt := kmsg.NewAlterPartitionAssignmentsRequestTopic()
			rt.Topic = a.topic
			req.Topics = append(req.Topics, rt)
		}
		rp := kmsg.NewAlterPartitionAssignmentsRequestTopicPartition()
		rp.Partition = a.partition
		if !cancel {
			rp.Replicas = a.replicas
		}
		req.Topics[i].Partitions = append(req.Topics[i].Partitions, rp)
	}
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		return nil, err
	}
	if err := responseError(resp.ErrorCode, resp.ErrorMessage); err != nil {
		return nil, err
	}
	var failed []partitionAssignment
	msgs := make(map[string]string)
	for _, t := range resp.Topics {
		for _, p := range t.Partitions {
			if err := responseError(p.ErrorCode, p.ErrorMessage); err != nil {
				a := partitionAssignment{topic: t.Topic, partition: p.Partition}
				failed = append(failed, a)
				msgs[a.String()] = describeErr(err)
			}
		}
	}
	sortAssignments(failed)
	var lines []string
	for _, a := range failed {
		lines = append(lines, a.String()+": "+msgs[a.String()])
	}
	return lines, nil
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}

func joinAssignments(as []partitionAssignment) string {
	s := make([]string, len(as))
	for i, a := range as {
		s[i] = a.String()
	}
	return strings.Join(s, ",")
}

func reassignVerify(ctx context.Context, e *env, cl *kgo.Client, data []byte) error {
	targets, err := parseReassignmentJSON(data)
	if err != nil {
		return err
	}
	sortAssignments(targets)
	active, err := listReassignments(ctx, cl, nil)
	if err != nil {
		return err
	}
	var topics []string
	for _, a := range targets {
		if !slices.Contains(topics, a.topic) {
			topics = append(topics, a.topic)
		}
	}
	st, err := describeCluster(ctx, cl, topics)
	if err != nil {
		return err
	}
	lines := []string{"Status of partition reassignment:"}
	for _, a := range targets {
		if _, ok := active[a.String()]; ok {
			lines = append(lines, fmt.Sprintf("Reassignment of partition %s is still in progress.", a))
			continue
		}
		cur := st.replicas[a.topic][a.partition] // nil for an unknown partition, as Kafka
		if slices.Equal(cur, a.replicas) {
			lines = append(lines, fmt.Sprintf("Reassignment of partition %s is completed.", a))
		} else {
			lines = append(lines, fmt.Sprintf("There is no active reassignment of partition %s, but replica set is %s rather than %s.", a, joinInt32s(cur), joinInt32s(a.replicas)))
		}
	}
	fmt.Fprintln(e.stdout, strings.Join(lines, "\n"))
	return nil
}

func reassignCancel(ctx context.Context, e *env, cl *kgo.Client, data []byte) error {
	targets, err := parseReassignmentJSON(data)
	if err != nil {
		return err
	}
	sortAssignments(targets)
	active, err := listReassignments(ctx, cl, targets)
	if err != nil {
		return err
	}
	var cancelling []partitionAssignment
	for _, a := range targets {
		if _, ok := active[a.String()]; ok {
			cancelling = append(cancelling, a)
		}
	}
	if len(cancelling) == 0 {
		fmt.Fprintln(e.stdout, "None of the specified partition reassignments are active.")
	} else {
		errs, err := alterReassignments(ctx, cl, cancelling, true)
		if err != nil {
			return err
		}
		if len(errs) > 0 {
			fmt.Fprintf(e.stdout, "Error cancelling partition reassignment%s for:\n", plural(len(errs)))
			for _, line := range errs {
				fmt.Fprintln(e.stdout, line)
			}
			return fmt.Errorf("reassign-partitions: %d of %d cancellations failed", len(errs), len(cancelling))
		}
		fmt.Fprintf(e.stdout, "Successfully cancelled partition reassignment%s for: %s\n", plural(len(cancelling)), joinAssignments(cancelling))
	}
	fmt.Fprintln(e.stdout, "None of the specified partition moves are active.")
	return nil
}

func reassignList(ctx context.Context, e *env, cl *kgo.Client) error {
	active, err := listReassignments(ctx, cl, nil)
	if err != nil {
		return err
	}
	if len(active) == 0 {
		fmt.Fprintln(e.stdout, "No partition reassignments found.")
		return nil
	}
	var parts []partitionAssignment
	for name := range active {
		i := strings.LastIndexByte(name, '-')
		p, _ := strconv.ParseInt(name[i+1:], 10, 32) // built by topicPartitionString
		parts = append(parts, partitionAssignment{topic: name[:i], partition: int32(p)})
	}
	sortAssignments(parts)
	fmt.Fprintln(e.stdout, "Current partition reassignments:")
	for _, a := range parts {
		r := active[a.String()]
		line := fmt.Sprintf("%s: replicas: %s.", a, joinInt32s(r.Replicas))
		if len(r.AddingReplicas) > 0 {
			line += fmt.Sprintf(" adding: %s.", joinInt32s(r.AddingReplicas))
		}
		if len(r.RemovingReplicas) > 0 {
			line += fmt.Sprintf(" removing: %s.", joinInt32s(r.RemovingReplicas))
		}
		fmt.Fprintln(e.stdout, line)
	}
	return nil
}
