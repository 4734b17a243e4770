package broker_test

import (
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
)

// TestOffsetsTopicBoundedUnderCommitStorm commits offsets of one group thousands of
// times: the cleaner compacts __consumer_offsets so its partition stays small, the
// committed offsets stay right, and they load back from the compacted log on restart.
func TestOffsetsTopicBoundedUnderCommitStorm(t *testing.T) {
	overrides := map[string]string{
		"offsets.topic.segment.bytes":  "65536",
		"offsets.topic.num.partitions": "4",
		"log.cleaner.backoff.ms":       "50",
	}
	tb := startBroker(t, "", overrides)
	createTopic(t, tb, "work", 2, nil)
	adm := tb.admin()
	ctx := testCtx(t)

	const commits = 5000
	for i := 1; i <= commits; i++ {
		offs := kadm.Offsets{}
		offs.Add(kadm.Offset{Topic: "work", Partition: 0, At: int64(i), LeaderEpoch: -1, Metadata: "storm"})
		offs.Add(kadm.Offset{Topic: "work", Partition: 1, At: int64(2 * i), LeaderEpoch: -1})
		res, err := adm.CommitOffsets(ctx, "storm", offs)
		if err == nil {
			err = res.Error()
		}
		if err != nil {
			t.Fatalf("commit %d: %v", i, err)
		}
	}

	// Thousands of commits wrote well over a megabyte; once cleaned, the partition holds
	// little more than its active segment and one cleaned segment.
	const bound = 4 * 65536
	var size int64
	for {
		ld, err := adm.DescribeAllLogDirs(ctx, nil)
		if err != nil {
			t.Fatal(err)
		}
		size = 0
		ld.Each(func(d kadm.DescribedLogDir) {
			d.Topics.Each(func(p kadm.DescribedLogDirPartition) {
				if p.Topic == "__consumer_offsets" {
					size += p.Size
				}
			})
		})
		if size <= bound {
			break
		}
		select {
		case <-ctx.Done():
			t.Fatalf("__consumer_offsets holds %d bytes after %d commits, want at most %d", size, commits, bound)
		case <-time.After(50 * time.Millisecond):
		}
	}

	check := func(adm *kadm.Client) {
		t.Helper()
		fetched, err := adm.FetchOffsets(testCtx(t), "storm")
		if err != nil {
			t.Fatal(err)
		}
		o0, _ := fetched.Lookup("work", 0)
		o1, _ := fetched.Lookup("work", 1)
		if o0.At != commits || o0.Metadata != "storm" || o1.At != 2*commits {
			t.Fatalf("committed offsets %d (%q) and %d, want %d and %d", o0.At, o0.Metadata, o1.At, commits, 2*commits)
		}
	}
	check(adm)
	tb = tb.restart(nil)
	check(tb.admin())
}
