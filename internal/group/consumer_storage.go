package group

import (
	"encoding/binary"
	"errors"
	"hash/fnv"
	"slices"
	"sort"
)

// This file encodes and decodes the records of KIP-848 consumer groups in
// __consumer_offsets, following Kafka's schemas (group-coordinator's
// ConsumerGroup*Key/Value.json); kmsg has no types for them. See the package doc for
// the layout.

// Key versions (Kafka's record types) of consumer group records.
const (
	cgMetadataKey           = 3 // ConsumerGroupMetadataKey: group
	cgMemberMetadataKey     = 5 // ConsumerGroupMemberMetadataKey: group, member
	cgTargetMetadataKey     = 6 // ConsumerGroupTargetAssignmentMetadataKey: group
	cgTargetMemberKey       = 7 // ConsumerGroupTargetAssignmentMemberKey: group, member
	cgCurrentAssignmentKey  = 8 // ConsumerGroupCurrentMemberAssignmentKey: group, member
	maxDecodedArrayElements = 1 << 20
)

var errShortRecord = errors.New("group: truncated consumer group record")

// --- keys: int16 type, then non-flexible strings (int16 length) ---

func cgKey(typ int16, group string, member *string) []byte {
	b := binary.BigEndian.AppendUint16(nil, uint16(typ))
	b = appendString16(b, group)
	if member != nil {
		b = appendString16(b, *member)
	}
	return b
}

func appendString16(b []byte, s string) []byte {
	b = binary.BigEndian.AppendUint16(b, uint16(len(s)))
	return append(b, s...)
}

// --- flexible values: compact strings and arrays (uvarint length+1), tagged fields ---

type enc struct{ b []byte }

func (e *enc) i8(v int8)   { e.b = append(e.b, byte(v)) }
func (e *enc) i16(v int16) { e.b = binary.BigEndian.AppendUint16(e.b, uint16(v)) }
func (e *enc) i32(v int32) { e.b = binary.BigEndian.AppendUint32(e.b, uint32(v)) }
func (e *enc) i64(v int64) { e.b = binary.BigEndian.AppendUint64(e.b, uint64(v)) }
func (e *enc) uv(v uint64) { e.b = binary.AppendUvarint(e.b, v) }
func (e *enc) str(s string) {
	e.uv(uint64(len(s)) + 1)
	e.b = append(e.b, s...)
}
func (e *enc) nstr(s *string) {
	if s == nil {
		e.uv(0)
		return
	}
	e.str(*s)
}
func (e *enc) noTags() { e.uv(0) }

type dec struct {
	b   []byte
	err error
}

func (d *dec) need(n int) bool {
	if d.err != nil || n < 0 || len(d.b) < n {
		d.err = errShortRecord
		return false
	}
	return true
}
func (d *dec) i8() int8 {
	if !d.need(1) {
		return 0
	}
	v := int8(d.b[0])
	d.b = d.b[1:]
	return v
}
func (d *dec) i16() int16 {
	if !d.need(2) {
		return 0
	}
	v := int16(binary.BigEndian.Uint16(d.b))
	d.b = d.b[2:]
	return v
}
func (d *dec) i32() int32 {
	if !d.need(4) {
		return 0
	}
	v := int32(binary.BigEndian.Uint32(d.b))
	d.b = d.b[4:]
	return v
}
func (d *dec) uv() uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.err = errShortRecord
		return 0
	}
	d.b = d.b[n:]
	return v
}
func (d *dec) uuid() (u uuid) {
	if d.need(16) {
		copy(u[:], d.b)
		d.b = d.b[16:]
	}
	return u
}

// bytesN reads n bytes, refusing lengths beyond what is left (never allocates a size
// read from the record without that bound).
func (d *dec) bytesN(n uint64) []byte {
	if n > uint64(len(d.b)) {
		d.err = errShortRecord
		return nil
	}
	if !d.need(int(n)) {
		return nil
	}
	v := d.b[:n]
	d.b = d.b[n:]
	return v
}
func (d *dec) nstr() *string {
	n := d.uv()
	if d.err != nil || n == 0 {
		return nil
	}
	s := string(d.bytesN(n - 1))
	return &s
}
func (d *dec) str() string {
	if s := d.nstr(); s != nil {
		return *s
	}
	return ""
}

// arrayLen reads a compact array length (-1 for null), bounded by the bytes left.
func (d *dec) arrayLen() int {
	n := d.uv()
	if d.err != nil || n == 0 {
		return -1
	}
	if n-1 > uint64(len(d.b)) || n-1 > maxDecodedArrayElements {
		d.err = errShortRecord
		return -1
	}
	return int(n - 1)
}

// tags reads a tagged-field section, handing each field to fn.
func (d *dec) tags(fn func(tag uint64, data []byte)) {
	n := d.uv()
	for i := uint64(0); i < n && d.err == nil; i++ {
		tag := d.uv()
		data := d.bytesN(d.uv())
		if d.err == nil && fn != nil {
			fn(tag, data)
		}
	}
}

// topicPartitions is Kafka's TopicPartitions struct of these records: a topic id and
// its partitions (with, for current assignments, the tagged AssignmentEpochs).
func (e *enc) topicPartitions(s partitionSet, epochs bool) {
	topics := s.sortedTopics()
	e.uv(uint64(len(topics)) + 1)
	for _, t := range topics {
		e.b = append(e.b, t[:]...)
		ps := s.sortedPartitions(t)
		e.uv(uint64(len(ps)) + 1)
		for _, p := range ps {
			e.i32(p)
		}
		if !epochs {
			e.noTags()
			continue
		}
		var f enc
		f.uv(uint64(len(ps)) + 1)
		for _, p := range ps {
			f.i32(s[t][p])
		}
		e.uv(1) // one tagged field: AssignmentEpochs (tag 0)
		e.uv(0)
		e.uv(uint64(len(f.b)))
		e.b = append(e.b, f.b...)
	}
}

func (d *dec) topicPartitions() partitionSet {
	s := make(partitionSet)
	n := d.arrayLen()
	for i := 0; i < n && d.err == nil; i++ {
		t := d.uuid()
		np := d.arrayLen()
		ps := make([]int32, 0, max(np, 0))
		for j := 0; j < np && d.err == nil; j++ {
			ps = append(ps, d.i32())
		}
		var epochs []int32
		d.tags(func(tag uint64, data []byte) {
			if tag != 0 {
				return
			}
			f := dec{b: data}
			ne := f.arrayLen()
			for j := 0; j < ne && f.err == nil; j++ {
				epochs = append(epochs, f.i32())
			}
			if f.err != nil || len(epochs) != len(ps) {
				epochs = nil
			}
		})
		for j, p := range ps {
			e := int32(0)
			if epochs != nil {
				e = epochs[j]
			}
			s.add(t, p, e)
		}
	}
	return s
}

// --- values ---

func cgMetadataValue(epoch int32, metadataHash int64) []byte {
	var e enc
	e.i16(0)
	e.i32(epoch)
	e.uv(1) // tagged MetadataHash (tag 0)
	e.uv(0)
	e.uv(8)
	e.i64(metadataHash)
	return e.b
}

func cgMemberMetadataValue(m *consumerMember) []byte {
	var e enc
	e.i16(0)
	e.nstr(m.instanceID)
	e.nstr(m.rackID)
	e.str(m.clientID)
	e.str(m.clientHost)
	e.uv(uint64(len(m.topics)) + 1)
	for _, t := range m.topics {
		e.str(t)
	}
	if m.regex == "" {
		e.nstr(nil)
	} else {
		e.str(m.regex)
	}
	e.i32(int32(m.rebalanceTimeout.Milliseconds()))
	e.nstr(m.serverAssignor)
	e.noTags()
	return e.b
}

func cgTargetMetadataValue(epoch int32) []byte {
	var e enc
	e.i16(0)
	e.i32(epoch)
	e.noTags()
	return e.b
}

func cgTargetMemberValue(s partitionSet) []byte {
	var e enc
	e.i16(0)
	e.topicPartitions(s, false)
	e.noTags()
	return e.b
}

func cgCurrentAssignmentValue(m *consumerMember) []byte {
	var e enc
	e.i16(0)
	e.i32(m.epoch)
	e.i32(m.prevEpoch)
	e.i8(int8(m.state))
	e.topicPartitions(m.assigned, true)
	e.topicPartitions(m.revoking, true)
	e.noTags()
	return e.b
}

// consumerRecord is one decoded consumer group record.
type consumerRecord struct {
	typ    int16
	member string
	// Exactly one of these is set for a value (all nil for a tombstone).
	epoch    *int32 // group epoch (3) or target assignment epoch (6)
	hash     int64  // metadata hash (3)
	meta     *consumerMember
	target   partitionSet
	assigned *consumerMember // epoch, prevEpoch, state, assigned, revoking
}

// decodeConsumerRecord decodes a record with key type 3..8; ok is false for anything
// malformed, which is then skipped like an unknown record.
func decodeConsumerRecord(typ int16, r Record) (group string, cr consumerRecord, ok bool) {
	d := dec{b: r.Key[2:]}
	readStr16 := func() string {
		n := d.i16()
		if n < 0 {
			d.err = errShortRecord
			return ""
		}
		return string(d.bytesN(uint64(n)))
	}
	group = readStr16()
	cr.typ = typ
	switch typ {
	case cgMemberMetadataKey, cgTargetMemberKey, cgCurrentAssignmentKey:
		cr.member = readStr16()
	}
	if d.err != nil {
		return "", cr, false
	}
	if r.Value == nil {
		return group, cr, true
	}
	d = dec{b: r.Value}
	if d.i16() != 0 { // value version: only 0 exists
		return "", cr, false
	}
	switch typ {
	case cgMetadataKey:
		e := d.i32()
		cr.epoch = &e
		d.tags(func(tag uint64, data []byte) {
			if tag == 0 && len(data) == 8 {
				cr.hash = int64(binary.BigEndian.Uint64(data))
			}
		})
	case cgTargetMetadataKey:
		e := d.i32()
		cr.epoch = &e
		d.tags(nil)
	case cgMemberMetadataKey:
		m := &consumerMember{id: cr.member}
		m.instanceID = d.nstr()
		m.rackID = d.nstr()
		m.clientID = d.str()
		m.clientHost = d.str()
		n := d.arrayLen()
		m.topics = []string{}
		for i := 0; i < n && d.err == nil; i++ {
			m.topics = append(m.topics, d.str())
		}
		if re := d.nstr(); re != nil {
			m.regex = *re
		}
		m.rebalanceTimeout = msDuration(d.i32())
		m.serverAssignor = d.nstr()
		d.tags(nil)
		cr.meta = m
	case cgTargetMemberKey:
		cr.target = d.topicPartitions()
		d.tags(nil)
	case cgCurrentAssignmentKey:
		m := &consumerMember{id: cr.member}
		m.epoch = d.i32()
		m.prevEpoch = d.i32()
		m.state = memberState(d.i8())
		m.assigned = d.topicPartitions()
		m.revoking = d.topicPartitions()
		d.tags(nil)
		cr.assigned = m
	default:
		return "", cr, false
	}
	if d.err != nil {
		return "", cr, false
	}
	return group, cr, true
}

// consumerReplay collects the consumer group records of one partition during load:
// the last record of each key wins, a tombstone deletes.
type consumerReplay struct {
	groups map[string]*replayedConsumerGroup
}

type replayedConsumerGroup struct {
	epoch       *int32
	hash        int64
	targetEpoch *int32
	meta        map[string]*consumerMember
	target      map[string]partitionSet
	current     map[string]*consumerMember
}

func (r *consumerReplay) apply(group string, cr consumerRecord) {
	if r.groups == nil {
		r.groups = make(map[string]*replayedConsumerGroup)
	}
	g := r.groups[group]
	if g == nil {
		g = &replayedConsumerGroup{
			meta:    make(map[string]*consumerMember),
			target:  make(map[string]partitionSet),
			current: make(map[string]*consumerMember),
		}
		r.groups[group] = g
	}
	switch cr.typ {
	case cgMetadataKey:
		g.epoch, g.hash = cr.epoch, cr.hash
	case cgTargetMetadataKey:
		g.targetEpoch = cr.epoch
	case cgMemberMetadataKey:
		if cr.meta == nil {
			delete(g.meta, cr.member)
		} else {
			g.meta[cr.member] = cr.meta
		}
	case cgTargetMemberKey:
		if cr.target == nil {
			delete(g.target, cr.member)
		} else {
			g.target[cr.member] = cr.target
		}
	case cgCurrentAssignmentKey:
		if cr.assigned == nil {
			delete(g.current, cr.member)
		} else {
			g.current[cr.member] = cr.assigned
		}
	}
}

// metadataHash is this coordinator's hash of a group's subscription metadata (topic
// names, ids and partition counts). It is stored as ConsumerGroupMetadataValue's
// MetadataHash so a restarted coordinator sees whether topics changed while it was
// down; it is not Kafka's hash function (a Kafka broker reading it would rebalance
// once).
func metadataHash(meta map[string]topicMeta) int64 {
	names := make([]string, 0, len(meta))
	for n := range meta {
		names = append(names, n)
	}
	sort.Strings(names)
	h := fnv.New64a()
	var b []byte
	for _, n := range names {
		tm := meta[n]
		b = append(b[:0], n...)
		b = append(b, 0)
		b = append(b, tm.id[:]...)
		b = binary.BigEndian.AppendUint32(b, uint32(tm.partitions))
		h.Write(b)
	}
	return int64(h.Sum64())
}

// sortedKeys returns the keys of m in order.
func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}
