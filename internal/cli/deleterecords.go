package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"sort"
	"strings"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

const deleteRecordsSummary = `Delete the records of partitions below an offset (kafka-delete-records.sh).

The --offset-json-file holds, as Kafka's:

  {"partitions": [{"topic": "foo", "partition": 1, "offset": 1}], "version": 1}

Offset -1 means the partition's high watermark (delete everything).`

// offsetJSON is the --offset-json-file format.
type offsetJSON struct {
	Version    *int `json:"version"`
	Partitions *[]struct {
		Topic     *string `json:"topic"`
		Partition *int32  `json:"partition"`
		Offset    *int64  `json:"offset"`
	} `json:"partitions"`
}

type deleteRecordsTarget struct {
	topic     string
	partition int32
	offset    int64
}

// parseOffsetJSON reads and checks the --offset-json-file contents as Kafka's
// DeleteRecordsCommand does.
func parseOffsetJSON(data []byte) ([]deleteRecordsTarget, error) {
	var doc offsetJSON
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&doc); err != nil {
		return nil, fmt.Errorf("The input string is not a valid JSON: %v", err)
	}
	if doc.Version != nil && *doc.Version != 1 {
		return nil, fmt.Errorf("Not supported version field value %d", *doc.Version)
	}
	if doc.Partitions == nil {
		return nil, errors.New("Missing partitions field")
	}
	var out []deleteRecordsTarget
	seen := make(map[string]int)
	for i, p := range *doc.Partitions {
		if p.Topic == nil || p.Partition == nil || p.Offset == nil {
			return nil, fmt.Errorf("partition entry %d needs topic, partition and offset", i)
		}
		out = append(out, deleteRecordsTarget{*p.Topic, *p.Partition, *p.Offset})
		seen[topicPartitionString(*p.Topic, *p.Partition)]++
	}
	var dups []string
	for tp, n := range seen {
		if n > 1 {
			dups = append(dups, tp)
		}
	}
	if len(dups) > 0 {
		sort.Strings(dups)
		return nil, fmt.Errorf("Offset json file contains duplicate topic partitions: %s", strings.Join(dups, ","))
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].topic != out[j].topic {
			return out[i].topic < out[j].topic
		}
		return out[i].partition < out[j].partition
	})
	return out, nil
}

func runDeleteRecords(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet(e, "delete-records", deleteRecordsSummary)
	var cf clientFlags
	cf.register(fs)
	zk := registerZookeeper(fs)
	file := fs.String("offset-json-file", "", "REQUIRED: the JSON file with the offset per partition")
	if err := parseAdminFlags(e, fs, args, zk); err != nil {
		if errors.Is(err, errHelp) {
			return nil
		}
		return err
	}
	if *file == "" {
		return usageErrorf("--offset-json-file is required")
	}
	data, err := os.ReadFile(*file)
	if err != nil {
		return fmt.Errorf("--offset-json-file: %w", err)
	}
	targets, err := parseOffsetJSON(data)
	if err != nil {
		return err
	}
	adm, cl, err := cf.newAdmin(ctx)
	if err != nil {
		return err
	}
	defer cl.Close()

	// Partitions the cluster does not have get their error here: a delete records
	// request cannot even be routed for them.
	topics := make(map[string]bool)
	for _, t := range targets {
		topics[t.topic] = true
	}
	names := make([]string, 0, len(topics))
	for t := range topics {
		names = append(names, t)
	}
	md, err := adm.Metadata(ctx, names...)
	if err != nil {
		return err
	}
	missing := make(map[string]error)
	offsets := make(kadm.Offsets)
	for _, t := range targets {
		td, ok := md.Topics[t.topic]
		tp := topicPartitionString(t.topic, t.partition)
		switch {
		case !ok || td.Err != nil:
			missing[tp] = kerr.UnknownTopicOrPartition
		case !hasPartition(td, t.partition):
			missing[tp] = kerr.UnknownTopicOrPartition
		default:
			offsets.Add(kadm.Offset{Topic: t.topic, Partition: t.partition, At: t.offset})
		}
	}

	fmt.Fprintln(e.stdout, "Executing records delete operation")
	resps, err := adm.DeleteRecords(ctx, offsets)
	var shardErrs *kadm.ShardErrors
	if err != nil && !errors.As(err, &shardErrs) {
		return err
	}
	shardErr := make(map[string]error)
	if shardErrs != nil {
		for _, se := range shardErrs.Errs {
			req, ok := se.Req.(*kmsg.DeleteRecordsRequest)
			if !ok {
				continue
			}
			for _, t := range req.Topics {
				for _, p := range t.Partitions {
					shardErr[topicPartitionString(t.Topic, p.Partition)] = se.Err
				}
			}
		}
	}
	fmt.Fprintln(e.stdout, "Records delete operation completed:")
	failed := 0
	for _, t := range targets {
		tp := topicPartitionString(t.topic, t.partition)
		var perr error
		low := int64(-1)
		if err, ok := missing[tp]; ok {
			perr = err
		} else if r, ok := resps.Lookup(t.topic, t.partition); ok {
			perr, low = r.Err, r.LowWatermark
		} else if err, ok := shardErr[tp]; ok {
			perr = err
		} else {
			perr = errors.New("no answer for this partition")
		}
		if perr != nil {
			failed++
			fmt.Fprintf(e.stdout, "partition: %s\terror: %s\n", tp, describeErr(perr))
			continue
		}
		fmt.Fprintf(e.stdout, "partition: %s\tlow_watermark: %d\n", tp, low)
	}
	if failed > 0 {
		return fmt.Errorf("delete-records: %d of %d partitions failed", failed, len(targets))
	}
	return nil
}

func hasPartition(td kadm.TopicDetail, p int32) bool {
	_, ok := td.Partitions[p]
	return ok
}
