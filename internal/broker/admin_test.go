package broker_test

import (
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// TestListOffsetsByTimestamp checks earliest, latest, max-timestamp and by-timestamp
// lookups through kadm.
func TestListOffsetsByTimestamp(t *testing.T) {
	tb := startBroker(t, "", nil)
	adm := tb.admin()
	createTopic(t, tb, "ts", 1, nil)
	cl := tb.client(kgo.DefaultProduceTopic("ts"))
	base := time.UnixMilli(1_700_000_000_000)
	for i := 0; i < 10; i++ {
		r := &kgo.Record{Value: []byte{byte(i)}, Timestamp: base.Add(time.Duration(i) * time.Second)}
		if i == 7 {
			r.Timestamp = base.Add(time.Hour) // the largest timestamp, not the last record
		}
		if err := cl.ProduceSync(testCtx(t), r).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	ctx := testCtx(t)
	check := func(name string, lo kadm.ListedOffsets, wantOffset int64) {
		t.Helper()
		o, ok := lo.Lookup("ts", 0)
		if !ok || o.Err != nil {
			t.Fatalf("%s: %v %v", name, ok, o.Err)
		}
		if o.Offset != wantOffset {
			t.Errorf("%s: offset %d, want %d", name, o.Offset, wantOffset)
		}
	}
	lo, err := adm.ListStartOffsets(ctx, "ts")
	if err != nil {
		t.Fatal(err)
	}
	check("earliest", lo, 0)
	lo, err = adm.ListEndOffsets(ctx, "ts")
	if err != nil {
		t.Fatal(err)
	}
	check("latest", lo, 10)
	lo, err = adm.ListOffsetsAfterMilli(ctx, base.Add(3500*time.Millisecond).UnixMilli(), "ts")
	if err != nil {
		t.Fatal(err)
	}
	check("after 3.5s", lo, 4)
	lo, err = adm.ListOffsetsAfterMilli(ctx, base.Add(2*time.Hour).UnixMilli(), "ts")
	if err != nil {
		t.Fatal(err)
	}
	check("after all", lo, 10) // kadm reports the end offset when no record is that late
	lo, err = adm.ListMaxTimestampOffsets(ctx, "ts")
	if err != nil {
		t.Fatal(err)
	}
	check("max timestamp", lo, 7)
}

// TestDeleteRecords raises the log start offset and checks the bounds.
func TestDeleteRecords(t *testing.T) {
	tb := startBroker(t, "", nil)
	adm := tb.admin()
	createTopic(t, tb, "del", 1, nil)
	cl := tb.client(kgo.DefaultProduceTopic("del"))
	for i := 0; i < 20; i++ {
		if err := cl.ProduceSync(testCtx(t), &kgo.Record{Value: []byte{byte(i)}}).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	ctx := testCtx(t)
	offs := kadm.Offsets{}
	offs.Add(kadm.Offset{Topic: "del", Partition: 0, At: 12})
	res, err := adm.DeleteRecords(ctx, offs)
	if err != nil {
		t.Fatal(err)
	}
	r, _ := res.Lookup("del", 0)
	if r.Err != nil || r.LowWatermark != 12 {
		t.Fatalf("delete records: low watermark %d, err %v", r.LowWatermark, r.Err)
	}
	lo, err := adm.ListStartOffsets(ctx, "del")
	if err != nil {
		t.Fatal(err)
	}
	if o, _ := lo.Lookup("del", 0); o.Offset != 12 {
		t.Errorf("start offset %d after delete, want 12", o.Offset)
	}
	// Past the high watermark: OFFSET_OUT_OF_RANGE.
	offs = kadm.Offsets{}
	offs.Add(kadm.Offset{Topic: "del", Partition: 0, At: 21})
	res, err = adm.DeleteRecords(ctx, offs)
	if err != nil {
		t.Fatal(err)
	}
	if r, _ := res.Lookup("del", 0); r.Err != kerr.OffsetOutOfRange {
		t.Errorf("delete past high watermark: %v, want OFFSET_OUT_OF_RANGE", r.Err)
	}
	// Fetching below the new start is out of range.
	fr := fetch(t, cl, "del", 0, 3)
	if fr.ErrorCode != kerr.OffsetOutOfRange.Code {
		t.Errorf("fetch below start: error %d, want OFFSET_OUT_OF_RANGE", fr.ErrorCode)
	}
	got := consumeAll(t, tb, "del", 8)
	if got[0].Offset != 12 {
		t.Errorf("first consumed offset %d, want 12", got[0].Offset)
	}
}

// TestTopicConfigsRoundTrip sets, reads, appends to and deletes topic configs with the
// incremental and the legacy APIs.
func TestTopicConfigsRoundTrip(t *testing.T) {
	tb := startBroker(t, "", map[string]string{"log.retention.hours": "48"})
	adm := tb.admin()
	ctx := testCtx(t)
	createTopic(t, tb, "cfg", 1, map[string]*string{"segment.bytes": kadm.StringPtr("1048576")})

	value := func(name string) (string, kadm.Config) {
		t.Helper()
		rcs, err := adm.DescribeTopicConfigs(ctx, "cfg")
		if err != nil {
			t.Fatal(err)
		}
		rc, err := rcs.On("cfg", nil)
		if err != nil || rc.Err != nil {
			t.Fatal(err, rc.Err)
		}
		for _, c := range rc.Configs {
			if c.Key == name {
				return c.MaybeValue(), c
			}
		}
		t.Fatalf("config %s not described", name)
		return "", kadm.Config{}
	}
	if v, c := value("segment.bytes"); v != "1048576" || c.Source != kmsg.ConfigSourceDynamicTopicConfig {
		t.Errorf("segment.bytes = %q (source %v), want 1048576 from the topic", v, c.Source)
	}
	if v, c := value("retention.ms"); v != "172800000" || c.Source != kmsg.ConfigSourceStaticBrokerConfig {
		t.Errorf("retention.ms = %q (source %v), want 172800000 from log.retention.hours", v, c.Source)
	}

	res, err := adm.AlterTopicConfigs(ctx, []kadm.AlterConfig{
		{Op: kadm.SetConfig, Name: "retention.ms", Value: kadm.StringPtr("60000")},
		{Op: kadm.AppendConfig, Name: "cleanup.policy", Value: kadm.StringPtr("compact")},
	}, "cfg")
	if err != nil || res[0].Err != nil {
		t.Fatal(err, res)
	}
	if v, _ := value("retention.ms"); v != "60000" {
		t.Errorf("retention.ms after set = %q", v)
	}
	if v, _ := value("cleanup.policy"); v != "delete,compact" {
		t.Errorf("cleanup.policy after append = %q, want delete,compact", v)
	}
	res, err = adm.AlterTopicConfigs(ctx, []kadm.AlterConfig{{Op: kadm.DeleteConfig, Name: "retention.ms"}}, "cfg")
	if err != nil || res[0].Err != nil {
		t.Fatal(err, res)
	}
	if v, _ := value("retention.ms"); v != "172800000" {
		t.Errorf("retention.ms after delete = %q, want the broker default", v)
	}

	// Bad values are refused with INVALID_CONFIG, changing nothing.
	res, err = adm.AlterTopicConfigs(ctx, []kadm.AlterConfig{{Op: kadm.SetConfig, Name: "retention.ms", Value: kadm.StringPtr("soon")}}, "cfg")
	if err != nil {
		t.Fatal(err)
	}
	if res[0].Err != kerr.InvalidConfig {
		t.Errorf("bad retention.ms: %v, want INVALID_CONFIG", res[0].Err)
	}
	// The legacy API replaces the whole set.
	res, err = adm.AlterTopicConfigsState(ctx, []kadm.AlterConfig{{Name: "max.message.bytes", Value: kadm.StringPtr("2048")}}, "cfg")
	if err != nil || res[0].Err != nil {
		t.Fatal(err, res)
	}
	if v, _ := value("max.message.bytes"); v != "2048" {
		t.Errorf("max.message.bytes = %q", v)
	}
	if _, c := value("segment.bytes"); c.Source == kmsg.ConfigSourceDynamicTopicConfig {
		t.Errorf("segment.bytes survived a full replace")
	}

	// The configs survive a restart.
	tb = tb.restart(map[string]string{"log.retention.hours": "48"})
	adm = tb.admin()
	if v, _ := value("max.message.bytes"); v != "2048" {
		t.Errorf("max.message.bytes after restart = %q", v)
	}
}

// fetch sends one raw fetch for a partition and returns its partition response.
func fetch(t *testing.T, cl *kgo.Client, topic string, partition int32, offset int64) kmsg.FetchResponseTopicPartition {
	t.Helper()
	req := kmsg.NewPtrFetchRequest()
	req.MaxBytes = 1 << 20
	req.SessionEpoch = -1
	rt := kmsg.NewFetchRequestTopic()
	rt.Topic = topic
	// From v13 topics are named by id.
	if td, err := kadm.NewClient(cl).ListTopics(testCtx(t), topic); err == nil {
		rt.TopicID = td[topic].ID
	}
	rp := kmsg.NewFetchRequestTopicPartition()
	rp.Partition = partition
	rp.FetchOffset = offset
	rp.PartitionMaxBytes = 1 << 20
	rp.CurrentLeaderEpoch = -1
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	resp, err := req.RequestWith(testCtx(t), leader(t, cl, topic, partition))
	if err != nil {
		t.Fatal(err)
	}
	if len(resp.Topics) != 1 || len(resp.Topics[0].Partitions) != 1 {
		t.Fatalf("fetch response has %d topics", len(resp.Topics))
	}
	return resp.Topics[0].Partitions[0]
}
