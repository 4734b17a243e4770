package record

import (
	"bytes"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"testing"

	"github.com/klauspost/compress/s2"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func TestEncodeDecodeRoundTrip(t *testing.T) {
	b := NewBatch(100,
		Record{Timestamp: 1000, Key: []byte("k1"), Value: []byte("v1"), Headers: []Header{{"h", []byte("x")}}},
		Record{Timestamp: 1005, Key: []byte("k2"), Value: nil},
		Record{Timestamp: 999, Key: nil, Value: []byte{}},
	)
	enc, err := b.Encode()
	if err != nil {
		t.Fatal(err)
	}
	// kmsg, an independent decoder, agrees on the header.
	var kb kmsg.RecordBatch
	if err := kb.ReadFrom(enc); err != nil {
		t.Fatal(err)
	}
	if kb.FirstOffset != 100 || kb.NumRecords != 3 || kb.LastOffsetDelta != 2 || kb.MaxTimestamp != 1005 {
		t.Fatalf("kmsg reads %+v", kb)
	}
	got, err := Decode(enc)
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range got.Records {
		w := b.Records[i]
		if r.Offset != w.Offset || r.Timestamp != w.Timestamp || !bytes.Equal(r.Key, w.Key) || (r.Key == nil) != (w.Key == nil) ||
			!bytes.Equal(r.Value, w.Value) || (r.Value == nil) != (w.Value == nil) || len(r.Headers) != len(w.Headers) {
			t.Errorf("record %d: %+v, want %+v", i, r, w)
		}
	}
}

func TestDecodeRejectsCorruption(t *testing.T) {
	enc, _ := NewBatch(0, Record{Key: []byte("k"), Value: []byte("v")}).Encode()
	for i := range enc {
		bad := append([]byte(nil), enc...)
		bad[i] ^= 0x5a
		_, err := Decode(bad)
		// Base offset (0-7) and leader epoch (12-15) lie outside the CRC; everything
		// else is the length, the magic, the CRC or covered by it.
		outsideCRC := i < 8 || (i >= 12 && i < 16)
		if outsideCRC != (err == nil) {
			t.Errorf("flipping byte %d: err %v", i, err)
		}
	}
	if _, err := Decode(enc[:len(enc)-1]); err == nil {
		t.Error("truncated batch decoded")
	}
}

func FuzzDecode(f *testing.F) {
	enc, _ := NewBatch(5, Record{Key: []byte("k"), Value: []byte("v"), Headers: []Header{{"a", nil}}}).Encode()
	f.Add(enc)
	f.Fuzz(func(t *testing.T, data []byte) {
		b, err := Decode(data)
		if err != nil {
			return
		}
		// What decodes encodes to a batch that decodes and encodes to itself.
		once, err := b.Encode()
		if err != nil {
			t.Fatal(err)
		}
		b2, err := Decode(once)
		if err != nil {
			t.Fatalf("re-encoded batch does not decode: %v", err)
		}
		twice, _ := b2.Encode()
		if !bytes.Equal(once, twice) {
			t.Fatalf("encoding is not stable:\n%x\n%x", once, twice)
		}
	})
}

var codecs = []struct {
	name  string
	codec int8
}{{"none", CodecNone}, {"gzip", CodecGzip}, {"snappy", CodecSnappy}, {"lz4", CodecLZ4}, {"zstd", CodecZstd}}

func TestCompressedRoundTrip(t *testing.T) {
	big := bytes.Repeat([]byte("samsa compresses "), 10000) // several xerial blocks
	for _, c := range codecs {
		t.Run(c.name, func(t *testing.T) {
			b := NewBatch(42,
				Record{Timestamp: 10, Key: []byte("a"), Value: []byte("1")},
				Record{Timestamp: 12, Key: []byte("b"), Value: nil},
				Record{Timestamp: 11, Key: []byte("c"), Value: big, Headers: []Header{{"h", []byte("v")}}},
			)
			b.Attributes = int16(c.codec)
			enc, err := b.Encode()
			if err != nil {
				t.Fatal(err)
			}
			if c.codec != CodecNone && len(enc) > len(big)/2 {
				t.Errorf("batch of %d bytes is not compressed", len(enc))
			}
			var kb kmsg.RecordBatch
			if err := kb.ReadFrom(enc); err != nil || kb.Attributes != int16(c.codec) || kb.NumRecords != 3 {
				t.Fatalf("kmsg reads %+v, %v", kb, err)
			}
			got, err := Decode(enc)
			if err != nil {
				t.Fatal(err)
			}
			if got.Attributes != int16(c.codec) || len(got.Records) != 3 {
				t.Fatalf("decoded %+v", got)
			}
			for i, r := range got.Records {
				w := b.Records[i]
				if r.Offset != w.Offset || r.Timestamp != w.Timestamp || !bytes.Equal(r.Key, w.Key) ||
					!bytes.Equal(r.Value, w.Value) || (r.Value == nil) != (w.Value == nil) || len(r.Headers) != len(w.Headers) {
					t.Errorf("record %d differs", i)
				}
			}
			// Too small a limit is a CorruptMessage, not an allocation.
			if c.codec != CodecNone {
				if _, err := DecodeLimit(enc, len(big)/2); !errors.Is(err, kerr.CorruptMessage) {
					t.Errorf("DecodeLimit below the decompressed size: %v", err)
				}
			}
		})
	}
}

// TestDecodeRawSnappy: franz-go (without streaming compression) and librdkafka send a
// single raw snappy block rather than the xerial framing.
func TestDecodeRawSnappy(t *testing.T) {
	b := NewBatch(0, Record{Key: []byte("k"), Value: bytes.Repeat([]byte("x"), 1000)})
	raw, _ := b.Encode()
	recs := raw[headerSize:]
	out := append([]byte(nil), raw[:headerSize]...)
	out = append(out, s2.EncodeSnappy(nil, recs)...)
	binary.BigEndian.PutUint32(out[8:], uint32(len(out)-12))
	binary.BigEndian.PutUint16(out[21:], uint16(CodecSnappy))
	binary.BigEndian.PutUint32(out[17:], crc32.Checksum(out[crcStart:], castagnoli))
	got, err := Decode(out)
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Records) != 1 || len(got.Records[0].Value) != 1000 {
		t.Fatalf("decoded %+v", got.Records)
	}
}

// withPayload returns a batch header (count records, codec) followed by payload,
// with a valid length and CRC.
func withPayload(codec int8, count int32, payload []byte) []byte {
	b := NewBatch(0)
	b.Attributes = int16(codec)
	enc, _ := b.Encode()
	out := append(enc[:headerSize:headerSize], payload...)
	binary.BigEndian.PutUint32(out[8:], uint32(len(out)-12))
	binary.BigEndian.PutUint32(out[57:], uint32(count))
	binary.BigEndian.PutUint32(out[17:], crc32.Checksum(out[crcStart:], castagnoli))
	return out
}

func TestDecompressionBomb(t *testing.T) {
	// 4 MiB of zeros compress to a few KiB; decoding with a 1 MiB limit must fail
	// (Decode's own limit, MaxDecompressedSize, works the same way).
	zeros := make([]byte, 4<<20)
	for _, c := range codecs[1:] {
		t.Run(c.name, func(t *testing.T) {
			payload, err := compress(c.codec, zeros)
			if err != nil {
				t.Fatal(err)
			}
			if len(payload) > 1<<20 {
				t.Fatalf("%d-byte payload is no bomb", len(payload))
			}
			_, err = DecodeLimit(withPayload(c.codec, 1, payload), 1<<20)
			if !errors.Is(err, kerr.CorruptMessage) {
				t.Fatalf("Decode of a %d-byte payload inflating past the limit: %v", len(payload), err)
			}
		})
	}
	// A raw snappy block whose header claims 4 GiB is refused before decoding.
	claim := binary.AppendUvarint(nil, 1<<32)
	if _, err := Decode(withPayload(CodecSnappy, 1, append(claim, 0, 0))); !errors.Is(err, kerr.CorruptMessage) {
		t.Errorf("snappy length claim: %v", err)
	}
	if _, err := Decode(withPayload(5, 1, []byte{1, 2, 3})); !errors.Is(err, ErrCompressed) {
		t.Errorf("codec 5: %v", err)
	}
}

func FuzzDecodeCompressed(f *testing.F) {
	for _, c := range codecs {
		b := NewBatch(7, Record{Key: []byte("k"), Value: []byte("value value value")}, Record{Key: []byte("k2")})
		b.Attributes = int16(c.codec)
		enc, _ := b.Encode()
		f.Add(enc[headerSize:], c.codec, int32(2))
	}
	f.Fuzz(func(t *testing.T, payload []byte, codec int8, count int32) {
		b, err := DecodeLimit(withPayload(codec&CompressionMask, count, payload), 1<<20)
		if err != nil {
			return
		}
		once, err := b.Encode()
		if err != nil {
			t.Fatal(err)
		}
		b2, err := Decode(once)
		if err != nil {
			t.Fatalf("re-encoded batch does not decode: %v", err)
		}
		if len(b2.Records) != len(b.Records) {
			t.Fatalf("%d records, then %d", len(b.Records), len(b2.Records))
		}
	})
}
