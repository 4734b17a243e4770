package record

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"sync"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/s2"
	"github.com/klauspost/compress/zstd"
	"github.com/pierrec/lz4/v4"
	"github.com/twmb/franz-go/pkg/kerr"
)

// Compression codecs: the values of a batch's attribute bits 0-2.
const (
	CodecNone   int8 = 0
	CodecGzip   int8 = 1
	CodecSnappy int8 = 2
	CodecLZ4    int8 = 3
	CodecZstd   int8 = 4
)

// MaxDecompressedSize bounds the records of one compressed batch once decompressed
// (Decode's limit, and the largest limit DecodeLimit accepts). A batch that claims or
// produces more is rejected with kerr.CorruptMessage, so a decompression bomb cannot
// make the broker allocate without bound.
const MaxDecompressedSize = 64 << 20

// xerialMagic starts the snappy framing of the Java client (xerial snappy-java's
// SnappyOutputStream): the magic, then a 4-byte version and a 4-byte minimum
// compatible version, then blocks, each a 4-byte big-endian length and a raw snappy
// block.
var xerialMagic = []byte{0x82, 'S', 'N', 'A', 'P', 'P', 'Y', 0}

const (
	xerialHeaderSize = 16
	// xerialBlockSize is the uncompressed size of the blocks we write, as the Java
	// client's SnappyOutputStream.
	xerialBlockSize = 32 << 10
)

// zstd coders are expensive to build and safe for concurrent EncodeAll/DecodeAll, so
// one of each serves the process. The decoder refuses frames (and windows) larger
// than MaxDecompressedSize before allocating for them.
var (
	zstdEncoder = sync.OnceValue(func() *zstd.Encoder {
		e, err := zstd.NewWriter(nil, zstd.WithEncoderConcurrency(1))
		if err != nil {
			panic(fmt.Sprintf("record: zstd encoder with constant options: %v", err))
		}
		return e
	})
	zstdDecoder = sync.OnceValue(func() *zstd.Decoder {
		d, err := zstd.NewReader(nil,
			zstd.WithDecoderConcurrency(0),
			zstd.WithDecoderLowmem(true),
			zstd.WithDecoderMaxMemory(MaxDecompressedSize),
			zstd.WithDecoderMaxWindow(MaxDecompressedSize))
		if err != nil {
			panic(fmt.Sprintf("record: zstd decoder with constant options: %v", err))
		}
		return d
	})
)

// gzip and lz4 writers hold large tables: they are reused.
var (
	gzipWriters = sync.Pool{New: func() any { return gzip.NewWriter(nil) }}
	lz4Writers  = sync.Pool{New: func() any { return lz4.NewWriter(nil) }}
)

// compress returns src compressed with codec, framed as Kafka clients write it:
// gzip and zstd as standard streams/frames, lz4 as an LZ4 frame, snappy in the
// Java client's xerial framing (which every client decodes).
func compress(codec int8, src []byte) ([]byte, error) {
	switch codec {
	case CodecNone:
		return src, nil
	case CodecGzip:
		w := gzipWriters.Get().(*gzip.Writer)
		defer gzipWriters.Put(w)
		return compressStream(w, src)
	case CodecSnappy:
		out := append(make([]byte, 0, xerialHeaderSize+len(src)/2), xerialMagic...)
		out = binary.BigEndian.AppendUint32(out, 1) // version
		out = binary.BigEndian.AppendUint32(out, 1) // minimum compatible version
		for len(src) > 0 {
			chunk := src[:min(len(src), xerialBlockSize)]
			src = src[len(chunk):]
			block := s2.EncodeSnappy(nil, chunk)
			out = binary.BigEndian.AppendUint32(out, uint32(len(block)))
			out = append(out, block...)
		}
		return out, nil
	case CodecLZ4:
		w := lz4Writers.Get().(*lz4.Writer)
		defer lz4Writers.Put(w)
		return compressStream(w, src)
	case CodecZstd:
		return zstdEncoder().EncodeAll(src, nil), nil
	}
	return nil, fmt.Errorf("record: unknown compression codec %d: %w", codec, kerr.UnsupportedCompressionType)
}

// streamWriter is a pooled compressing writer (gzip, lz4) that can be pointed at a new
// destination.
type streamWriter interface {
	io.WriteCloser
	Reset(io.Writer)
}

// compressStream compresses src through w into a new buffer.
func compressStream(w streamWriter, src []byte) ([]byte, error) {
	var buf bytes.Buffer
	w.Reset(&buf)
	if _, err := w.Write(src); err != nil {
		return nil, err
	}
	if err := w.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// decompress returns src decompressed with codec, failing with kerr.CorruptMessage on
// malformed input or when the result would exceed limit bytes. Nothing is allocated
// from a size the input claims beyond limit.
func decompress(codec int8, src []byte, limit int) ([]byte, error) {
	corrupt := func(err error) error {
		return fmt.Errorf("record: decompress codec %d: %v: %w", codec, err, kerr.CorruptMessage)
	}
	switch codec {
	case CodecGzip:
		r, err := gzip.NewReader(bytes.NewReader(src))
		if err != nil {
			return nil, corrupt(err)
		}
		out, err := readAllLimit(r, limit)
		if err != nil {
			return nil, corrupt(err)
		}
		return out, nil
	case CodecSnappy:
		out, err := decodeSnappy(src, limit)
		if err != nil {
			return nil, corrupt(err)
		}
		return out, nil
	case CodecLZ4:
		out, err := readAllLimit(lz4.NewReader(bytes.NewReader(src)), limit)
		if err != nil {
			return nil, corrupt(err)
		}
		return out, nil
	case CodecZstd:
		out, err := zstdDecoder().DecodeAll(src, nil)
		if err != nil {
			return nil, corrupt(err)
		}
		if len(out) > limit {
			return nil, corrupt(fmt.Errorf("more than %d bytes", limit))
		}
		return out, nil
	}
	return nil, fmt.Errorf("record: unknown compression codec %d: %w", codec, kerr.CorruptMessage)
}

// readAllLimit reads r to its end, failing if it yields more than limit bytes. The
// buffer grows with what is actually read.
func readAllLimit(r io.Reader, limit int) ([]byte, error) {
	var buf bytes.Buffer
	n, err := buf.ReadFrom(io.LimitReader(r, int64(limit)+1))
	if err != nil {
		return nil, err
	}
	if n > int64(limit) {
		return nil, fmt.Errorf("more than %d bytes", limit)
	}
	return buf.Bytes(), nil
}

// decodeSnappy decodes either the xerial framing of the Java client or a raw snappy
// block, as franz-go writes by default (and librdkafka can). Each block's decoded
// length is read from its header and checked against limit before it is decoded.
func decodeSnappy(src []byte, limit int) ([]byte, error) {
	if len(src) < xerialHeaderSize || !bytes.HasPrefix(src, xerialMagic) {
		n, err := s2.DecodedLen(src)
		if err != nil {
			return nil, err
		}
		if n > limit {
			return nil, fmt.Errorf("snappy block of %d bytes exceeds %d", n, limit)
		}
		return s2.Decode(make([]byte, n), src)
	}
	var out []byte
	for rest := src[xerialHeaderSize:]; len(rest) > 0; {
		if len(rest) < 4 {
			return nil, fmt.Errorf("xerial: %d trailing bytes", len(rest))
		}
		size := binary.BigEndian.Uint32(rest)
		rest = rest[4:]
		if uint64(size) > uint64(len(rest)) {
			return nil, fmt.Errorf("xerial: block of %d bytes, %d left", size, len(rest))
		}
		block := rest[:size]
		rest = rest[size:]
		n, err := s2.DecodedLen(block)
		if err != nil {
			return nil, err
		}
		if n > limit-len(out) {
			return nil, fmt.Errorf("xerial: more than %d bytes", limit)
		}
		start := len(out)
		out = append(out, make([]byte, n)...)
		if _, err := s2.Decode(out[start:], block); err != nil {
			return nil, err
		}
	}
	return out, nil
}
