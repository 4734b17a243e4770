package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

const leaderElectionSummary = `Elect new leaders for partitions (kafka-leader-election.sh).

--election-type preferred makes each partition's first (preferred) replica its leader
if it is in sync; unclean gives a partition without a leader one, out of sync if need
be (records it lacks are lost). Pick the partitions with exactly one of --topic and
--partition, --all-topic-partitions, or --path-to-json-file:

  {"partitions": [{"topic": "foo", "partition": 1}, {"topic": "foobar", "partition": 2}]}`

func runLeaderElection(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet(e, "leader-election", leaderElectionSummary)
	var cf clientFlags
	cf.register(fs)
	fs.StringVar(&cf.commandConfig, "admin.config", "", "deprecated: same as --command-config")
	electionType := fs.String("election-type", "", "REQUIRED: preferred or unclean")
	topic := fs.String("topic", "", "the topic of the partition to elect a leader for")
	partition := fs.Int("partition", -1, "the partition to elect a leader for (with --topic)")
	fs.Bool("all-topic-partitions", false, "elect leaders for every partition that needs it")
	jsonFile := fs.String("path-to-json-file", "", "JSON file listing the partitions")
	if err := parseFlags(e, fs, args); err != nil {
		if errors.Is(err, errHelp) {
			return nil
		}
		return err
	}
	given := givenFlags(fs)
	if !given["election-type"] {
		return usageErrorf("Missing required option(s): election-type")
	}
	var typ int8
	var typName string
	switch strings.ToUpper(*electionType) {
	case "PREFERRED":
		typ, typName = 0, "PREFERRED"
	case "UNCLEAN":
		typ, typName = 1, "UNCLEAN"
	default:
		return usageErrorf("--election-type: %q is not preferred or unclean", *electionType)
	}
	n := 0
	for _, f := range []string{"topic", "all-topic-partitions", "path-to-json-file"} {
		if given[f] {
			n++
		}
	}
	switch {
	case n != 1:
		return usageErrorf("One and only one of the following options is required: topic, all-topic-partitions, path-to-json-file")
	case given["topic"] && !given["partition"]:
		return usageErrorf("Missing required option(s): partition")
	case !given["topic"] && given["partition"]:
		return usageErrorf("Option partition is only allowed if topic is used")
	}

	req := kmsg.NewPtrElectLeadersRequest()
	req.ElectionType, req.TimeoutMillis = typ, 30000
	var parts []partitionAssignment
	switch {
	case given["topic"]:
		parts = []partitionAssignment{{topic: *topic, partition: int32(*partition)}}
	case given["path-to-json-file"]:
		data, err := os.ReadFile(*jsonFile)
		if err != nil {
			return fmt.Errorf("--path-to-json-file: %w", err)
		}
		if parts, err = parseElectionJSON(data); err != nil {
			return err
		}
	}
	if parts != nil {
		req.Topics = []kmsg.ElectLeadersRequestTopic{}
		idx := make(map[string]int)
		for _, a := range parts {
			i, ok := idx[a.topic]
			if !ok {
				i = len(req.Topics)
				idx[a.topic] = i
				rt := kmsg.NewElectLeadersRequestTopic()
				rt.Topic = a.topic
				req.Topics = append(req.Topics, rt)
			}
			req.Topics[i].Partitions = append(req.Topics[i].Partitions, a.partition)
		}
	}

	cl, err := cf.newClient(ctx)
	if err != nil {
		return err
	}
	defer cl.Close()
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		return err
	}
	if err := responseError(resp.ErrorCode, nil); err != nil {
		return fmt.Errorf("leader-election: %s", describeErr(err))
	}
	var succeeded, noop, failed []partitionAssignment
	msgs := make(map[string]string)
	for _, t := range resp.Topics {
		for _, p := range t.Partitions {
			a := partitionAssignment{topic: t.Topic, partition: p.Partition}
			err := responseError(p.ErrorCode, p.ErrorMessage)
			switch {
			case err == nil:
				succeeded = append(succeeded, a)
			case errors.Is(err, kerr.ElectionNotNeeded):
				noop = append(noop, a)
			default:
				failed = append(failed, a)
				msgs[a.String()] = describeErr(err)
			}
		}
	}
	for _, s := range [][]partitionAssignment{succeeded, noop, failed} {
		sortAssignments(s)
	}
	join := func(as []partitionAssignment) string {
		s := make([]string, len(as))
		for i, a := range as {
			s[i] = a.String()
		}
		return strings.Join(s, ", ")
	}
	if len(succeeded) > 0 {
		fmt.Fprintf(e.stdout, "Successfully completed leader election (%s) for partitions %s\n", typName, join(succeeded))
	}
	if len(noop) > 0 {
		fmt.Fprintf(e.stdout, "Valid replica already elected for partitions %s\n", join(noop))
	}
	for _, a := range failed {
		fmt.Fprintf(e.stdout, "Error completing leader election (%s) for partition: %s: %s\n", typName, a, msgs[a.String()])
	}
	if len(failed) > 0 {
		return fmt.Errorf("%d replica(s) could not be elected", len(failed))
	}
	return nil
}

// parseElectionJSON reads --path-to-json-file as Kafka's parseReplicaElectionData.
func parseElectionJSON(data []byte) ([]partitionAssignment, error) {
	var raw struct {
		Partitions *[]struct {
			Topic     *string `json:"topic"`
			Partition *int32  `json:"partition"`
		} `json:"partitions"`
	}
	if err := json.NewDecoder(bytes.NewReader(data)).Decode(&raw); err != nil {
		return nil, fmt.Errorf("The input string is not a valid JSON: %v", err)
	}
	if raw.Partitions == nil {
		return nil, errors.New("Replica election data is missing \"partitions\" field")
	}
	var out []partitionAssignment
	seen := make(map[string]int)
	var dups []string
	for i, p := range *raw.Partitions {
		if p.Topic == nil || p.Partition == nil {
			return nil, fmt.Errorf("partition entry %d needs topic and partition", i)
		}
		a := partitionAssignment{topic: *p.Topic, partition: *p.Partition}
		if seen[a.String()]++; seen[a.String()] == 2 {
			dups = append(dups, a.String())
		}
		out = append(out, a)
	}
	if len(dups) > 0 {
		return nil, fmt.Errorf("Replica election data contains duplicate partitions: [%s]", strings.Join(dups, ", "))
	}
	if out == nil {
		out = []partitionAssignment{}
	}
	return out, nil
}
