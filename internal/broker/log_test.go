package broker_test

import (
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// TestLogAppendTime checks message.timestamp.type=LogAppendTime: the broker stamps
// every record with its own clock and the client sees that.
func TestLogAppendTime(t *testing.T) {
	tb := startBroker(t, "", nil)
	createTopic(t, tb, "lat", 1, map[string]*string{"message.timestamp.type": kadm.StringPtr("LogAppendTime")})
	cl := tb.client(kgo.DefaultProduceTopic("lat"))
	old := time.UnixMilli(1_000_000_000_000)
	before := time.Now().Add(-time.Second)
	res := cl.ProduceSync(testCtx(t), &kgo.Record{Value: []byte("x"), Timestamp: old})
	if err := res.FirstErr(); err != nil {
		t.Fatal(err)
	}
	after := time.Now().Add(time.Second)
	got := consumeAll(t, tb, "lat", 1)[0]
	if got.Timestamp.Before(before) || got.Timestamp.After(after) {
		t.Errorf("timestamp %v is not the append time (between %v and %v)", got.Timestamp, before, after)
	}
	if got.Attrs.TimestampType() != 1 { // 1 is LogAppendTime
		t.Errorf("record does not carry the LogAppendTime attribute")
	}
}

// TestRetention lets the background retention task delete old segments by size.
func TestRetention(t *testing.T) {
	tb := startBroker(t, "", map[string]string{"log.retention.check.interval.ms": "50"})
	adm := tb.admin()
	createTopic(t, tb, "ret", 1, map[string]*string{
		"segment.bytes":   kadm.StringPtr("2048"),
		"retention.bytes": kadm.StringPtr("4096"),
	})
	cl := tb.client(kgo.DefaultProduceTopic("ret"), kgo.ProducerLinger(0))
	for i := 0; i < 200; i++ {
		if err := cl.ProduceSync(testCtx(t), &kgo.Record{Value: make([]byte, 100)}).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	// Whole segments are deleted: what stays is within retention.bytes plus the active
	// segment. The background task runs every 50 ms; wait for it.
	ctx := testCtx(t)
	for {
		lo, err := adm.ListStartOffsets(ctx, "ret")
		if err != nil {
			t.Fatal(err)
		}
		start, _ := lo.Lookup("ret", 0)
		ld, err := adm.DescribeAllLogDirs(ctx, nil)
		if err != nil {
			t.Fatal(err)
		}
		var size int64 = -1
		ld.Each(func(d kadm.DescribedLogDir) {
			d.Topics.Each(func(p kadm.DescribedLogDirPartition) {
				if p.Topic == "ret" {
					size = p.Size
				}
			})
		})
		if start.Offset > 0 && size >= 0 && size <= 4096+2048 {
			break
		}
		select {
		case <-ctx.Done():
			t.Fatalf("retention did not bring the log within bounds: start offset %d, size %d", start.Offset, size)
		case <-time.After(20 * time.Millisecond):
		}
	}
}
