package commitlog

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"math"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
)

// Byte offsets of the fields of a v2 record batch header (see doc.go).
const (
	offBaseOffset      = 0
	offBatchLength     = 8
	offLeaderEpoch     = 12
	offMagic           = 16
	offCRC             = 17
	offAttributes      = 21
	offLastOffsetDelta = 23
	offFirstTimestamp  = 27
	offMaxTimestamp    = 35
	offProducerID      = 43
	offProducerEpoch   = 51
	offBaseSequence    = 53
	offRecordCount     = 57

	// BatchHeaderSize is the size of a v2 record batch header; records follow it.
	BatchHeaderSize = 61
	// batchOverhead is the part of the header not counted by batchLength
	// (baseOffset and batchLength themselves).
	batchOverhead = 12
	// minBatchLength is the smallest legal batchLength: a header without records.
	minBatchLength = BatchHeaderSize - batchOverhead
)

// Attribute bits of a record batch.
const (
	attrCompressionMask = 0x07
	attrTimestampType   = 0x08 // set: LogAppendTime
	attrTransactional   = 0x10
	attrControl         = 0x20
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// BatchHeader is the fixed header of a Kafka v2 record batch.
type BatchHeader struct {
	BaseOffset           int64
	BatchLength          int32 // bytes after this field: Size() == BatchLength + 12
	PartitionLeaderEpoch int32
	Magic                int8
	CRC                  uint32 // CRC-32C of the bytes from Attributes to the end of the batch
	Attributes           int16
	LastOffsetDelta      int32
	FirstTimestamp       int64
	MaxTimestamp         int64
	ProducerID           int64
	ProducerEpoch        int16
	BaseSequence         int32
	RecordCount          int32
}

// Size is the number of bytes the batch occupies.
func (h *BatchHeader) Size() int64 { return int64(h.BatchLength) + batchOverhead }

// LastOffset is the offset of the batch's last record.
func (h *BatchHeader) LastOffset() int64 { return h.BaseOffset + int64(h.LastOffsetDelta) }

// Compression is the codec id of the attributes (0 none, 1 gzip, 2 snappy, 3 lz4, 4 zstd).
func (h *BatchHeader) Compression() int8 { return int8(h.Attributes & attrCompressionMask) }

// TimestampType is CreateTime or LogAppendTime.
func (h *BatchHeader) TimestampType() TimestampType {
	if h.Attributes&attrTimestampType != 0 {
		return LogAppendTime
	}
	return CreateTime
}

// IsTransactional reports the transactional attribute bit.
func (h *BatchHeader) IsTransactional() bool { return h.Attributes&attrTransactional != 0 }

// IsControl reports the control attribute bit (transaction markers).
func (h *BatchHeader) IsControl() bool { return h.Attributes&attrControl != 0 }

// LastSequence is the sequence number of the batch's last record. Sequences wrap from
// MaxInt32 to 0 as in Kafka's DefaultRecordBatch.incrementSequence.
func (h *BatchHeader) LastSequence() int32 {
	if h.BaseSequence < 0 {
		return h.BaseSequence
	}
	if h.BaseSequence > math.MaxInt32-h.LastOffsetDelta {
		return h.LastOffsetDelta - (math.MaxInt32 - h.BaseSequence) - 1
	}
	return h.BaseSequence + h.LastOffsetDelta
}

// ParseBatchHeader decodes the header at the start of b. It checks only that b holds a
// whole header and that magic is 2; it does not check the length or CRC (see ReadBatch).
func ParseBatchHeader(b []byte) (BatchHeader, error) {
	var h BatchHeader
	if len(b) < BatchHeaderSize {
		return h, fmt.Errorf("commitlog: batch header needs %d bytes, have %d: %w", BatchHeaderSize, len(b), kerr.CorruptMessage)
	}
	be := binary.BigEndian
	h.BaseOffset = int64(be.Uint64(b[offBaseOffset:]))
	h.BatchLength = int32(be.Uint32(b[offBatchLength:]))
	h.PartitionLeaderEpoch = int32(be.Uint32(b[offLeaderEpoch:]))
	h.Magic = int8(b[offMagic])
	h.CRC = be.Uint32(b[offCRC:])
	h.Attributes = int16(be.Uint16(b[offAttributes:]))
	h.LastOffsetDelta = int32(be.Uint32(b[offLastOffsetDelta:]))
	h.FirstTimestamp = int64(be.Uint64(b[offFirstTimestamp:]))
	h.MaxTimestamp = int64(be.Uint64(b[offMaxTimestamp:]))
	h.ProducerID = int64(be.Uint64(b[offProducerID:]))
	h.ProducerEpoch = int16(be.Uint16(b[offProducerEpoch:]))
	h.BaseSequence = int32(be.Uint32(b[offBaseSequence:]))
	h.RecordCount = int32(be.Uint32(b[offRecordCount:]))
	if h.Magic != 2 {
		return h, fmt.Errorf("commitlog: record batch magic %d, only 2 is supported: %w", h.Magic, kerr.InvalidRecord)
	}
	return h, nil
}

// ReadBatch parses and checks the first batch in b: the header, the length (at least a
// header, at most what b holds) and the CRC. It returns the header; the batch is
// b[:h.Size()]. It is what the log's recovery and a dump tool use on stored bytes.
func ReadBatch(b []byte) (BatchHeader, error) {
	if len(b) < batchOverhead {
		return BatchHeader{}, fmt.Errorf("commitlog: %d trailing bytes are not a batch: %w", len(b), kerr.CorruptMessage)
	}
	length := int32(binary.BigEndian.Uint32(b[offBatchLength:]))
	if length < minBatchLength || int64(length)+batchOverhead > int64(len(b)) {
		return BatchHeader{}, fmt.Errorf("commitlog: batch length %d out of bounds [%d, %d]: %w", length, minBatchLength, len(b)-batchOverhead, kerr.CorruptMessage)
	}
	h, err := ParseBatchHeader(b)
	if err != nil {
		return h, err
	}
	if crc := crc32.Checksum(b[offAttributes:h.Size()], castagnoli); crc != h.CRC {
		return h, fmt.Errorf("commitlog: batch at offset %d: crc %08x, stored %08x: %w", h.BaseOffset, crc, h.CRC, kerr.CorruptMessage)
	}
	return h, nil
}

// batchRef is one validated batch of an append: its header and where it lies in the
// caller's records.
type batchRef struct {
	h   BatchHeader
	pos int // start in the records slice
}

// validateOptions are the config values validateBatches needs.
type validateOptions struct {
	maxMessageBytes    int32
	timestampType      TimestampType
	timestampBeforeMax time.Duration
	timestampAfterMax  time.Duration
	now                time.Time
	fromReplication    bool
}

// validateBatches splits records into batches and checks each as Kafka's
// UnifiedLog.analyzeAndValidateRecords and LogValidator do for the batch header, without
// looking at individual records (compressed batches are never decompressed).
func validateBatches(records []byte, o validateOptions) ([]batchRef, error) {
	if len(records) == 0 {
		if o.fromReplication {
			return nil, nil
		}
		return nil, fmt.Errorf("commitlog: produce request has no record batch: %w", kerr.InvalidRecord)
	}
	var refs []batchRef
	nowMs := o.now.UnixMilli()
	for pos := 0; pos < len(records); {
		rest := records[pos:]
		if len(rest) < BatchHeaderSize {
			return nil, fmt.Errorf("commitlog: %d bytes at position %d are not a whole batch header: %w", len(rest), pos, kerr.CorruptMessage)
		}
		h, err := ParseBatchHeader(rest)
		if err != nil {
			return nil, err
		}
		if h.BatchLength < minBatchLength || int64(h.BatchLength)+batchOverhead > int64(len(rest)) {
			return nil, fmt.Errorf("commitlog: batch at position %d: length %d out of bounds [%d, %d]: %w", pos, h.BatchLength, minBatchLength, len(rest)-batchOverhead, kerr.CorruptMessage)
		}
		size := h.Size()
		if !o.fromReplication && size > int64(o.maxMessageBytes) {
			return nil, fmt.Errorf("commitlog: batch of %d bytes exceeds max.message.bytes %d: %w", size, o.maxMessageBytes, kerr.MessageTooLarge)
		}
		if crc := crc32.Checksum(rest[offAttributes:size], castagnoli); crc != h.CRC {
			return nil, fmt.Errorf("commitlog: batch at position %d: crc %08x, stored %08x: %w", pos, crc, h.CRC, kerr.CorruptMessage)
		}
		if h.LastOffsetDelta < 0 {
			return nil, fmt.Errorf("commitlog: batch at position %d: negative lastOffsetDelta %d: %w", pos, h.LastOffsetDelta, kerr.InvalidRecord)
		}
		if !o.fromReplication {
			if err := validateClientBatch(&h, o, nowMs); err != nil {
				return nil, fmt.Errorf("commitlog: batch at position %d: %w", pos, err)
			}
		}
		refs = append(refs, batchRef{h: h, pos: pos})
		pos += int(size)
	}
	if !o.fromReplication && len(refs) > 1 {
		for i := range refs {
			if refs[i].h.ProducerID >= 0 {
				return nil, fmt.Errorf("commitlog: idempotent or transactional produce must carry exactly one batch, got %d: %w", len(refs), kerr.InvalidRecord)
			}
		}
	}
	return refs, nil
}

// validateClientBatch applies the rules Kafka has for batches from producers only.
func validateClientBatch(h *BatchHeader, o validateOptions, nowMs int64) error {
	if h.RecordCount < 1 || h.LastOffsetDelta != h.RecordCount-1 {
		return fmt.Errorf("record count %d does not match lastOffsetDelta %d: %w", h.RecordCount, h.LastOffsetDelta, kerr.InvalidRecord)
	}
	if h.IsControl() {
		return fmt.Errorf("clients may not write control batches: %w", kerr.InvalidRecord)
	}
	if h.ProducerID >= 0 && h.BaseSequence < 0 {
		return fmt.Errorf("producer %d sent sequence %d: %w", h.ProducerID, h.BaseSequence, kerr.InvalidRecord)
	}
	if o.timestampType == CreateTime {
		// Checked on the header only (first and max timestamp): looking at each record
		// would mean decompressing. -1 is "no timestamp" and passes as in Kafka.
		for _, ts := range [2]int64{h.FirstTimestamp, h.MaxTimestamp} {
			if ts == -1 {
				continue
			}
			if o.timestampBeforeMax > 0 && ts < nowMs-o.timestampBeforeMax.Milliseconds() {
				return fmt.Errorf("timestamp %d is more than %v before now (%d): %w", ts, o.timestampBeforeMax, nowMs, kerr.InvalidTimestamp)
			}
			if o.timestampAfterMax > 0 && ts > nowMs+o.timestampAfterMax.Milliseconds() {
				return fmt.Errorf("timestamp %d is more than %v after now (%d): %w", ts, o.timestampAfterMax, nowMs, kerr.InvalidTimestamp)
			}
		}
	}
	return nil
}

// setBaseOffset patches the baseOffset field; it lies outside the CRC.
func setBaseOffset(b []byte, off int64) { binary.BigEndian.PutUint64(b[offBaseOffset:], uint64(off)) }

// setLeaderEpoch patches the partitionLeaderEpoch field; it lies outside the CRC.
func setLeaderEpoch(b []byte, epoch int32) {
	binary.BigEndian.PutUint32(b[offLeaderEpoch:], uint32(epoch))
}

// setLogAppendTime does what Kafka's DefaultRecordBatch.setMaxTimestamp does for
// LogAppendTime: set the timestamp-type bit and maxTimestamp (firstTimestamp is left
// as sent; consumers use maxTimestamp for every record of such a batch) and rewrite
// the CRC. b is one whole batch.
func setLogAppendTime(b []byte, ts int64) {
	be := binary.BigEndian
	attrs := be.Uint16(b[offAttributes:]) | attrTimestampType
	be.PutUint16(b[offAttributes:], attrs)
	be.PutUint64(b[offMaxTimestamp:], uint64(ts))
	be.PutUint32(b[offCRC:], crc32.Checksum(b[offAttributes:], castagnoli))
}

// forEachRecord walks the records of one uncompressed batch (b is the whole batch),
// calling fn with each record's offset and timestamp until fn returns false. It
// reads only each record's length, timestamp delta and offset delta.
func forEachRecord(b []byte, h *BatchHeader, fn func(offset, timestamp int64) bool) error {
	p := BatchHeaderSize
	for i := int32(0); i < h.RecordCount; i++ {
		length, n := binary.Varint(b[p:])
		if n <= 0 || length < 0 || length > int64(len(b)-p-n) {
			return fmt.Errorf("commitlog: record %d of batch %d: bad length: %w", i, h.BaseOffset, kerr.CorruptMessage)
		}
		p += n
		rec := b[p : p+int(length)]
		p += int(length)
		if len(rec) < 1 {
			return fmt.Errorf("commitlog: record %d of batch %d: empty: %w", i, h.BaseOffset, kerr.CorruptMessage)
		}
		tsDelta, n1 := binary.Varint(rec[1:])
		if n1 <= 0 {
			return fmt.Errorf("commitlog: record %d of batch %d: bad timestamp delta: %w", i, h.BaseOffset, kerr.CorruptMessage)
		}
		offDelta, n2 := binary.Varint(rec[1+n1:])
		if n2 <= 0 {
			return fmt.Errorf("commitlog: record %d of batch %d: bad offset delta: %w", i, h.BaseOffset, kerr.CorruptMessage)
		}
		if !fn(h.BaseOffset+offDelta, h.FirstTimestamp+tsDelta) {
			return nil
		}
	}
	return nil
}

// firstRecordAtOrAfter returns the offset and timestamp of the first record of batch b
// whose timestamp is >= ts. Compressed and LogAppendTime batches answer at batch
// granularity: (baseOffset, maxTimestamp), as every record of a LogAppendTime batch
// has maxTimestamp, and a compressed batch would have to be decompressed.
func firstRecordAtOrAfter(b []byte, h *BatchHeader, ts int64) (int64, int64) {
	if h.Compression() != 0 || h.TimestampType() == LogAppendTime {
		return h.BaseOffset, h.MaxTimestamp
	}
	off, rts := int64(-1), int64(-1)
	err := forEachRecord(b, h, func(o, t int64) bool {
		if t >= ts {
			off, rts = o, t
			return false
		}
		return true
	})
	if err != nil || off < 0 {
		return h.BaseOffset, h.MaxTimestamp
	}
	return off, rts
}

func beUint32(b []byte) uint32 { return binary.BigEndian.Uint32(b) }
func beUint64(b []byte) uint64 { return binary.BigEndian.Uint64(b) }
