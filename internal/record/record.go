// Package record builds and decodes Kafka v2 record batches as Go values, for the
// broker's own writers and readers of records (the group coordinator's
// __consumer_offsets, the log cleaner). The hot produce and fetch paths never use it:
// they move batches as bytes (see package commitlog, which documents the format).
package record

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"

	"github.com/twmb/franz-go/pkg/kbin"
	"github.com/twmb/franz-go/pkg/kerr"
)

// Header is a record header.
type Header struct {
	Key   string
	Value []byte
}

// Record is one record. Nil Key or Value are null (a nil Value is a tombstone).
type Record struct {
	Offset    int64 // absolute offset
	Timestamp int64 // ms since the epoch
	Key       []byte
	Value     []byte
	Headers   []Header
}

// Attribute bits of a batch.
const (
	CompressionMask   = 0x07
	TimestampTypeBit  = 0x08
	TransactionalBit  = 0x10
	ControlBit        = 0x20
	DeleteHorizonBit  = 0x40
	headerSize        = 61
	minBatchLength    = headerSize - 12
	crcStart          = 21
	maxRecordsInBatch = 1 << 24
)

// Batch is a record batch with its records. BaseOffset and the records' offsets are
// absolute; records need not have consecutive offsets (a compacted batch has gaps).
type Batch struct {
	BaseOffset           int64
	PartitionLeaderEpoch int32
	Attributes           int16
	// LastOffsetDelta is the batch's offset span. When zero on Encode it is taken from
	// the last record; a compacted batch keeps its original span.
	LastOffsetDelta int32
	FirstTimestamp  int64
	MaxTimestamp    int64
	ProducerID      int64
	ProducerEpoch   int16
	BaseSequence    int32
	Records         []Record
}

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// NewBatch returns a batch at baseOffset with no producer (id, epoch, sequence -1)
// holding records, whose offsets are assigned from baseOffset and whose timestamps
// bound the batch's.
func NewBatch(baseOffset int64, records ...Record) *Batch {
	b := &Batch{BaseOffset: baseOffset, PartitionLeaderEpoch: -1, ProducerID: -1, ProducerEpoch: -1, BaseSequence: -1}
	for i := range records {
		records[i].Offset = baseOffset + int64(i)
	}
	b.Records = records
	if len(records) > 0 {
		b.FirstTimestamp = records[0].Timestamp
		b.MaxTimestamp = records[0].Timestamp
		for _, r := range records {
			b.MaxTimestamp = max(b.MaxTimestamp, r.Timestamp)
		}
	}
	return b
}

// Encode returns the batch in wire form with a correct CRC-32C. The records are
// compressed with the codec of the attributes' bits 0-2 (see compress.go for the
// framing of each codec).
func (b *Batch) Encode() ([]byte, error) {
	var recs []byte
	for _, r := range b.Records {
		recs = appendRecord(recs, r, b.BaseOffset, b.FirstTimestamp)
	}
	if codec := int8(b.Attributes & CompressionMask); codec != CodecNone && len(b.Records) > 0 {
		var err error
		if recs, err = compress(codec, recs); err != nil {
			return nil, err
		}
	}
	lastDelta := b.LastOffsetDelta
	if lastDelta == 0 && len(b.Records) > 0 {
		lastDelta = int32(b.Records[len(b.Records)-1].Offset - b.BaseOffset)
	}
	out := make([]byte, 0, headerSize+len(recs))
	out = kbin.AppendInt64(out, b.BaseOffset)
	out = kbin.AppendInt32(out, int32(headerSize-12+len(recs)))
	out = kbin.AppendInt32(out, b.PartitionLeaderEpoch)
	out = kbin.AppendInt8(out, 2)
	out = kbin.AppendInt32(out, 0) // CRC, below
	out = kbin.AppendInt16(out, b.Attributes)
	out = kbin.AppendInt32(out, lastDelta)
	out = kbin.AppendInt64(out, b.FirstTimestamp)
	out = kbin.AppendInt64(out, b.MaxTimestamp)
	out = kbin.AppendInt64(out, b.ProducerID)
	out = kbin.AppendInt16(out, b.ProducerEpoch)
	out = kbin.AppendInt32(out, b.BaseSequence)
	out = kbin.AppendInt32(out, int32(len(b.Records)))
	out = append(out, recs...)
	binary.BigEndian.PutUint32(out[17:], crc32.Checksum(out[crcStart:], castagnoli))
	return out, nil
}

func appendRecord(dst []byte, r Record, baseOffset, firstTimestamp int64) []byte {
	var body []byte
	body = append(body, 0) // attributes, unused
	body = binary.AppendVarint(body, r.Timestamp-firstTimestamp)
	body = binary.AppendVarint(body, r.Offset-baseOffset)
	body = appendVarBytes(body, r.Key)
	body = appendVarBytes(body, r.Value)
	body = binary.AppendVarint(body, int64(len(r.Headers)))
	for _, h := range r.Headers {
		body = appendVarBytes(body, []byte(h.Key))
		body = appendVarBytes(body, h.Value)
	}
	dst = binary.AppendVarint(dst, int64(len(body)))
	return append(dst, body...)
}

func appendVarBytes(dst, b []byte) []byte {
	if b == nil {
		return binary.AppendVarint(dst, -1)
	}
	dst = binary.AppendVarint(dst, int64(len(b)))
	return append(dst, b...)
}

// ErrCompressed is returned (wrapped) by Decode for a batch whose compression codec
// (attribute bits 0-2) is not one of Kafka's (5, 6 or 7).
var ErrCompressed = errors.New("record: unknown compression codec")

// Decode parses one whole batch (exactly the bytes of the batch), checking its length
// and CRC, decompressing its records if needed (at most MaxDecompressedSize bytes).
// Every length inside is bounded by the batch's (decompressed) size.
func Decode(batch []byte) (*Batch, error) { return DecodeLimit(batch, MaxDecompressedSize) }

// DecodeLimit is Decode with the decompressed records bounded by limit bytes
// (clamped to MaxDecompressedSize); a batch over it fails with kerr.CorruptMessage.
func DecodeLimit(batch []byte, limit int) (*Batch, error) {
	corrupt := func(what string) error {
		return fmt.Errorf("record: %s: %w", what, kerr.CorruptMessage)
	}
	if len(batch) < headerSize {
		return nil, corrupt("batch shorter than its header")
	}
	rd := kbin.Reader{Src: batch}
	b := &Batch{BaseOffset: rd.Int64()}
	length := rd.Int32()
	if length < minBatchLength || int(length)+12 != len(batch) {
		return nil, corrupt(fmt.Sprintf("batch length %d does not match %d bytes", length, len(batch)))
	}
	b.PartitionLeaderEpoch = rd.Int32()
	if magic := rd.Int8(); magic != 2 {
		return nil, corrupt(fmt.Sprintf("magic %d", magic))
	}
	crc := rd.Uint32()
	if crc32.Checksum(batch[crcStart:], castagnoli) != crc {
		return nil, corrupt("CRC mismatch")
	}
	b.Attributes = rd.Int16()
	b.LastOffsetDelta = rd.Int32()
	b.FirstTimestamp = rd.Int64()
	b.MaxTimestamp = rd.Int64()
	b.ProducerID = rd.Int64()
	b.ProducerEpoch = rd.Int16()
	b.BaseSequence = rd.Int32()
	count := rd.Int32()
	recs := rd.Src
	// An empty batch (kept by compaction for producer state) has no compressed payload.
	if codec := int8(b.Attributes & CompressionMask); codec != CodecNone && (count != 0 || len(recs) != 0) {
		if codec > CodecZstd {
			return nil, fmt.Errorf("record: codec %d: %w: %w", codec, ErrCompressed, kerr.UnsupportedCompressionType)
		}
		var err error
		if recs, err = decompress(codec, recs, min(max(limit, 0), MaxDecompressedSize)); err != nil {
			return nil, err
		}
	}
	// Every record takes at least 7 bytes (length, attributes, three varints, two
	// lengths, header count), so a count above the bytes present is corrupt.
	if count < 0 || count > maxRecordsInBatch || int(count) > len(recs) {
		return nil, corrupt(fmt.Sprintf("record count %d", count))
	}
	b.Records = make([]Record, 0, count)
	for i := int32(0); i < count; i++ {
		r, n, err := decodeRecord(recs, b.BaseOffset, b.FirstTimestamp)
		if err != nil {
			return nil, fmt.Errorf("record: record %d: %w", i, err)
		}
		recs = recs[n:]
		b.Records = append(b.Records, r)
	}
	if len(recs) != 0 {
		return nil, corrupt(fmt.Sprintf("%d bytes after the last record", len(recs)))
	}
	return b, nil
}

func decodeRecord(src []byte, baseOffset, firstTimestamp int64) (Record, int, error) {
	var r Record
	length, n := binary.Varint(src)
	if n <= 0 || length < 1 || length > int64(len(src)-n) {
		return r, 0, kerr.CorruptMessage
	}
	body := src[n : n+int(length)]
	total := n + int(length)
	body = body[1:] // attributes
	tsDelta, k := binary.Varint(body)
	if k <= 0 {
		return r, 0, kerr.CorruptMessage
	}
	body = body[k:]
	offDelta, k := binary.Varint(body)
	if k <= 0 {
		return r, 0, kerr.CorruptMessage
	}
	body = body[k:]
	r.Timestamp = firstTimestamp + tsDelta
	r.Offset = baseOffset + offDelta
	var ok bool
	if r.Key, body, ok = readVarBytes(body); !ok {
		return r, 0, kerr.CorruptMessage
	}
	if r.Value, body, ok = readVarBytes(body); !ok {
		return r, 0, kerr.CorruptMessage
	}
	nh, k := binary.Varint(body)
	if k <= 0 || nh < 0 || nh > int64(len(body)) {
		return r, 0, kerr.CorruptMessage
	}
	body = body[k:]
	for i := int64(0); i < nh; i++ {
		var hk, hv []byte
		if hk, body, ok = readVarBytes(body); !ok || hk == nil {
			return r, 0, kerr.CorruptMessage
		}
		if hv, body, ok = readVarBytes(body); !ok {
			return r, 0, kerr.CorruptMessage
		}
		r.Headers = append(r.Headers, Header{Key: string(hk), Value: hv})
	}
	if len(body) != 0 {
		return r, 0, kerr.CorruptMessage
	}
	return r, total, nil
}

// readVarBytes reads a varint-length byte string (-1 is null) without copying.
func readVarBytes(src []byte) ([]byte, []byte, bool) {
	l, n := binary.Varint(src)
	if n <= 0 || l < -1 || l > int64(len(src)-n) {
		return nil, nil, false
	}
	if l == -1 {
		return nil, src[n:], true
	}
	return src[n : n+int(l)], src[n+int(l):], true
}
