package group

import (
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// TestRecordFormats checks the bytes of the records written against Kafka's layout.
func TestRecordFormats(t *testing.T) {
	key := offsetKey("g", topicPartition{"t", 3})
	want := []byte{0, 1, 0, 1, 'g', 0, 1, 't', 0, 0, 0, 3}
	if string(key) != string(want) {
		t.Errorf("offset key % x, want % x", key, want)
	}
	val := offsetValue(offset{offset: 5, leaderEpoch: 2, metadata: "m", commitTime: 9})
	want = []byte{0, 3, 0, 0, 0, 0, 0, 0, 0, 5, 0, 0, 0, 2, 0, 1, 'm', 0, 0, 0, 0, 0, 0, 0, 9}
	if string(val) != string(want) {
		t.Errorf("offset value % x, want % x", val, want)
	}
	if gk := groupKey("g"); string(gk) != string([]byte{0, 2, 0, 1, 'g'}) {
		t.Errorf("group key % x", gk)
	}
	lr, ok := decodeRecord(Record{Key: key, Value: val})
	if !ok || !lr.isOffset || lr.group != "g" || lr.tp != (topicPartition{"t", 3}) || lr.off.offset != 5 || lr.off.leaderEpoch != 2 {
		t.Errorf("decoded %+v", lr)
	}
	// An old (v1) value without a leader epoch.
	v1 := kmsg.NewOffsetCommitValue()
	v1.Version, v1.Offset, v1.ExpireTimestamp = 1, 8, 100
	lr, ok = decodeRecord(Record{Key: key, Value: v1.AppendTo(nil)})
	if !ok || lr.off.offset != 8 || lr.off.leaderEpoch != -1 {
		t.Errorf("decoded v1 %+v", lr)
	}
	if _, ok := decodeRecord(Record{Key: []byte{0, 9, 1}}); ok {
		t.Error("unknown key version decoded")
	}
}

// FuzzDecodeRecord: arbitrary records of __consumer_offsets never panic the loader.
func FuzzDecodeRecord(f *testing.F) {
	f.Add(offsetKey("g", topicPartition{"t", 0}), offsetValue(offset{offset: 1}))
	f.Add(groupKey("g"), []byte{0, 3, 0, 0})
	f.Add([]byte{0, 2, 0xff, 0xff}, []byte(nil))
	f.Fuzz(func(t *testing.T, key, value []byte) {
		decodeRecord(Record{Key: key, Value: value})
	})
}
