// Package batchtest builds Kafka v2 record batches for tests, the way a client would
// send them in a produce request.
package batchtest

import (
	"encoding/binary"
	"hash/crc32"

	"github.com/twmb/franz-go/pkg/kbin"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// Record is one record to put in a batch.
type Record struct {
	Key, Value []byte
	Headers    []kmsg.Header
	// TimestampDelta is added to the batch's first timestamp.
	TimestampDelta int64
}

// Batch describes a batch; zero ProducerID means -1 (not idempotent) unless Idempotent.
type Batch struct {
	FirstTimestamp int64
	Attributes     int16
	ProducerID     int64
	ProducerEpoch  int16
	FirstSequence  int32
	Idempotent     bool
	Records        []Record
}

// Encode returns the batch in wire form with base offset 0 and a correct CRC-32C.
func (b Batch) Encode() []byte {
	var recs []byte
	maxTS := b.FirstTimestamp
	for i, r := range b.Records {
		rec := kmsg.Record{
			TimestampDelta64: r.TimestampDelta,
			OffsetDelta:      int32(i),
			Key:              r.Key,
			Value:            r.Value,
			Headers:          r.Headers,
		}
		// kmsg writes Length as given; encode with zero (one varint byte) to learn the size.
		body := rec.AppendTo(nil)[1:]
		recs = kbin.AppendVarint(recs, int32(len(body)))
		recs = append(recs, body...)
		if ts := b.FirstTimestamp + r.TimestampDelta; ts > maxTS {
			maxTS = ts
		}
	}
	pid, epoch, seq := int64(-1), int16(-1), int32(-1)
	if b.Idempotent {
		pid, epoch, seq = b.ProducerID, b.ProducerEpoch, b.FirstSequence
	}
	rb := kmsg.RecordBatch{
		FirstOffset:          0,
		Length:               int32(49 + len(recs)),
		PartitionLeaderEpoch: -1,
		Magic:                2,
		Attributes:           b.Attributes,
		LastOffsetDelta:      int32(len(b.Records) - 1),
		FirstTimestamp:       b.FirstTimestamp,
		MaxTimestamp:         maxTS,
		ProducerID:           pid,
		ProducerEpoch:        epoch,
		FirstSequence:        seq,
		NumRecords:           int32(len(b.Records)),
		Records:              recs,
	}
	out := rb.AppendTo(nil)
	binary.BigEndian.PutUint32(out[17:21], crc32.Checksum(out[21:], crc32.MakeTable(crc32.Castagnoli)))
	return out
}

// Values builds a batch of records with the given values.
func Values(firstTimestamp int64, values ...string) Batch {
	b := Batch{FirstTimestamp: firstTimestamp}
	for _, v := range values {
		b.Records = append(b.Records, Record{Value: []byte(v)})
	}
	return b
}
