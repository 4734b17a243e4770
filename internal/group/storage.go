package group

import (
	"encoding/binary"
	"unicode/utf16"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// OffsetsTopic is the internal topic holding group metadata and committed offsets.
const OffsetsTopic = "__consumer_offsets"

// Record formats written (see the package doc).
const (
	offsetKeyVersion   = 1 // kmsg.OffsetCommitKey
	offsetValueVersion = 3 // kmsg.OffsetCommitValue: with the leader epoch, not flexible
	groupKeyVersion    = 2 // kmsg.GroupMetadataKey
	groupValueVersion  = 3 // kmsg.GroupMetadataValue: with static instance ids
)

// PartitionFor is the partition of __consumer_offsets holding groupID, as Kafka computes
// it: (Java's String.hashCode(groupID) & 0x7fffffff) % n.
func PartitionFor(groupID string, n int32) int32 {
	if n <= 0 {
		return 0
	}
	return (javaStringHash(groupID) & 0x7fffffff) % n
}

// javaStringHash is java.lang.String.hashCode: s[0]*31^(n-1) + ... over UTF-16 units.
func javaStringHash(s string) int32 {
	var h int32
	for _, u := range utf16.Encode([]rune(s)) {
		h = 31*h + int32(u)
	}
	return h
}

// topicPartition names a partition of a consumed topic.
type topicPartition struct {
	topic     string
	partition int32
}

// offset is one committed offset.
type offset struct {
	offset      int64
	leaderEpoch int32
	metadata    string
	commitTime  int64 // ms since the epoch
}

func offsetKey(g string, tp topicPartition) []byte {
	k := kmsg.OffsetCommitKey{Version: offsetKeyVersion, Group: g, Topic: tp.topic, Partition: tp.partition}
	return k.AppendTo(nil)
}

func offsetValue(o offset) []byte {
	v := kmsg.NewOffsetCommitValue()
	v.Version = offsetValueVersion
	v.Offset = o.offset
	v.LeaderEpoch = o.leaderEpoch
	v.Metadata = o.metadata
	v.CommitTimestamp = o.commitTime
	return v.AppendTo(nil)
}

func groupKey(g string) []byte {
	k := kmsg.GroupMetadataKey{Version: groupKeyVersion, Group: g}
	return k.AppendTo(nil)
}

// loadedRecord is one decoded record of __consumer_offsets.
type loadedRecord struct {
	group string
	// isOffset is set for an offset commit (tp, off); otherwise it is group metadata.
	isOffset bool
	tp       topicPartition
	off      offset
	meta     *kmsg.GroupMetadataValue // nil with a tombstone
	tomb     bool
	// consumer is set for the records of KIP-848 consumer groups (key versions 3-8).
	consumer *consumerRecord
}

// decodeRecord parses a record of __consumer_offsets. ok is false for records this
// coordinator does not know (other key versions, such as share or streams groups'),
// which are skipped as Kafka skips unknown record types.
func decodeRecord(r Record) (lr loadedRecord, ok bool) {
	if len(r.Key) < 2 {
		return lr, false
	}
	lr.tomb = r.Value == nil
	switch version := int16(binary.BigEndian.Uint16(r.Key)); version {
	case 0, 1:
		var k kmsg.OffsetCommitKey
		if k.ReadFrom(r.Key) != nil {
			return lr, false
		}
		lr.group, lr.isOffset, lr.tp = k.Group, true, topicPartition{k.Topic, k.Partition}
		if lr.tomb {
			return lr, true
		}
		var v kmsg.OffsetCommitValue
		if v.ReadFrom(r.Value) != nil {
			return lr, false
		}
		lr.off = offset{offset: v.Offset, leaderEpoch: -1, metadata: v.Metadata, commitTime: v.CommitTimestamp}
		if v.Version >= 3 {
			lr.off.leaderEpoch = v.LeaderEpoch
		}
		return lr, true
	case 2:
		var k kmsg.GroupMetadataKey
		if k.ReadFrom(r.Key) != nil {
			return lr, false
		}
		lr.group = k.Group
		if lr.tomb {
			return lr, true
		}
		v := new(kmsg.GroupMetadataValue)
		if v.ReadFrom(r.Value) != nil {
			return lr, false
		}
		lr.meta = v
		return lr, true
	case cgMetadataKey, cgMemberMetadataKey, cgTargetMetadataKey, cgTargetMemberKey, cgCurrentAssignmentKey:
		g, cr, ok := decodeConsumerRecord(version, r)
		if !ok {
			return lr, false
		}
		lr.group, lr.consumer = g, &cr
		return lr, true
	default:
		return lr, false
	}
}
