package record

import (
	"bytes"
	"testing"

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
