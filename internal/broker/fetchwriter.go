package broker

import (
	"bytes"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"os"
	"sync"
	"sync/atomic"

	"github.com/twmb/franz-go/pkg/kbin"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/samsa-io/samsa/internal/commitlog"
)

// fetchResponse is a Fetch response whose record sets are still in segment files. It
// is a kmsg.Response (the embedded one gives version, flexibility and throttling);
// conn.writeFetchResponse writes it with the files' bytes in place.
type fetchResponse struct {
	*kmsg.FetchResponse
	// files are the record sets to send, in the order of the partitions they belong to.
	files []fetchFile
}

// fetchFile is the record set of resp.Topics[topic].Partitions[partition]. Indexes, not
// pointers: the slices grow while the response is built.
type fetchFile struct {
	topic, partition int
	commitlog.FileSlice
}

// The zero-copy encoding. The response is encoded by kmsg with a 16-byte sentinel as
// each partition's record set; the sentinels are then found in the encoded bytes,
// which are written up to a sentinel's length field, followed by the real length, the
// file range (sendfile) and the bytes after the sentinel. The sentinels share a random
// 12-byte prefix followed by their 4-byte index, so a single scan for the prefix finds
// every one and proves that none also occurs in the metadata around them (names and
// numbers: 96 random bits never match by chance, but if they did the response is
// encoded again with the bytes read into memory).
const (
	sentinelPrefixLen = 12
	sentinelLen       = sentinelPrefixLen + 4
)

// sentinelRand is where sentinel prefixes come from; a test replaces it to force a
// collision.
var sentinelRand io.Reader = rand.Reader

// sendfileCalls counts the file ranges sent with sendfile(2), so tests can tell that the
// zero-copy path was taken rather than the copying fallback.
var sendfileCalls atomic.Int64

// errSendfileUnsupported is returned by sendfile when the kernel or the file system
// cannot sendfile (ENOSYS, EINVAL) or the platform has no sendfile: the caller copies
// the rest of the range instead.
var errSendfileUnsupported = errors.New("broker: sendfile not supported")

// copyBufPool holds the buffers of the copying fallback.
var copyBufPool = sync.Pool{New: func() any { b := make([]byte, 64<<10); return &b }}

// writeFetchResponse writes a Fetch response whose record sets are file ranges.
// Everything but the file ranges is encoded first, so the frame size is known before
// the first byte goes out. A failure after that (a segment deleted and closed since
// the fetch read it, a truncated file, a socket error) leaves a partial frame on the
// wire: the error closes the connection and the client retries the fetch.
func (c *conn) writeFetchResponse(hdr requestHeader, fr *fetchResponse) error {
	if len(fr.files) == 0 {
		return c.writeEncoded(c.encodeResponse(hdr, fr.FetchResponse), 0)
	}
	var prefix [sentinelPrefixLen]byte
	if _, err := io.ReadFull(sentinelRand, prefix[:]); err != nil {
		return c.writeFetchCopied(hdr, fr)
	}
	sentinels := make([]byte, sentinelLen*len(fr.files))
	for i, f := range fr.files {
		s := sentinels[i*sentinelLen : (i+1)*sentinelLen : (i+1)*sentinelLen]
		copy(s, prefix[:])
		binary.BigEndian.PutUint32(s[sentinelPrefixLen:], uint32(i))
		fr.Topics[f.topic].Partitions[f.partition].RecordBatches = s
	}
	buf := c.encodeResponse(hdr, fr.FetchResponse)
	flexible := fr.IsFlexible()
	at, ok := locateSentinels(buf, prefix[:], len(fr.files), flexible)
	if !ok {
		return c.writeFetchCopied(hdr, fr)
	}
	size := int64(len(buf) - 4)
	for _, f := range fr.files {
		size += int64(lengthFieldLen(f.Size, flexible)) + f.Size
		size -= int64(lengthFieldLen(sentinelLen, flexible)) + sentinelLen
	}
	if size > math.MaxInt32 {
		return fmt.Errorf("broker: fetch response of %d bytes is too large", size)
	}
	binary.BigEndian.PutUint32(buf, uint32(size))
	prev := 0
	for i, f := range fr.files {
		start := at[i] - lengthFieldLen(sentinelLen, flexible)
		if _, err := c.w.Write(buf[prev:start]); err != nil {
			return err
		}
		var lenField [5]byte
		if _, err := c.w.Write(appendLengthField(lenField[:0], f.Size, flexible)); err != nil {
			return err
		}
		if err := c.sendFileRange(f.File, f.Pos, f.Size); err != nil {
			return err
		}
		prev = at[i] + sentinelLen
	}
	return c.writeEncoded(buf, prev)
}

// locateSentinels returns the positions of the n sentinels in buf, checking that each
// occurs exactly once, in order, right after the length field kmsg writes for 16 bytes.
func locateSentinels(buf, prefix []byte, n int, flexible bool) ([]int, bool) {
	at := make([]int, 0, n)
	for from := 0; ; {
		i := bytes.Index(buf[from:], prefix)
		if i < 0 {
			break
		}
		i += from
		want := len(at)
		if want == n || len(buf)-i < sentinelLen || binary.BigEndian.Uint32(buf[i+sentinelPrefixLen:]) != uint32(want) {
			return nil, false // the prefix also occurs somewhere else
		}
		var field [5]byte
		lf := appendLengthField(field[:0], sentinelLen, flexible)
		if i < len(lf) || !bytes.Equal(buf[i-len(lf):i], lf) {
			return nil, false
		}
		at = append(at, i)
		from = i + 1 // an occurrence overlapping this one is a collision too
	}
	return at, len(at) == n
}

// lengthFieldLen is the size of a record set's length field: an int32 before the
// flexible versions (12+), then a uvarint of length+1 (compact nullable bytes).
func lengthFieldLen(n int64, flexible bool) int {
	if !flexible {
		return 4
	}
	return kbin.UvarintLen(uint32(n + 1))
}

func appendLengthField(dst []byte, n int64, flexible bool) []byte {
	if !flexible {
		return kbin.AppendInt32(dst, int32(n))
	}
	return kbin.AppendUvarint(dst, uint32(n+1))
}

// writeFetchCopied writes a Fetch response the plain way: every file range read into
// memory and encoded by kmsg. It is the fallback when the sentinels cannot be trusted.
func (c *conn) writeFetchCopied(hdr requestHeader, fr *fetchResponse) error {
	for _, f := range fr.files {
		b := make([]byte, f.Size)
		if _, err := f.File.ReadAt(b, f.Pos); err != nil {
			return fmt.Errorf("broker: read segment range %d+%d: %w", f.Pos, f.Size, err)
		}
		fr.Topics[f.topic].Partitions[f.partition].RecordBatches = b
	}
	return c.writeEncoded(c.encodeResponse(hdr, fr.FetchResponse), 0)
}

// sendFileRange sends n bytes of f from pos on the connection, after the bytes
// buffered before them. It uses sendfile(2) on a TCP connection and copies otherwise
// (a TLS connection has to encrypt the bytes in user space anyway).
func (c *conn) sendFileRange(f *os.File, pos, n int64) error {
	if tc, ok := c.nc.(*net.TCPConn); ok {
		if err := c.w.Flush(); err != nil {
			return err
		}
		sent, err := sendfile(tc, f, pos, n)
		if !errors.Is(err, errSendfileUnsupported) {
			return err
		}
		pos, n = pos+sent, n-sent
	}
	bp := copyBufPool.Get().(*[]byte)
	defer copyBufPool.Put(bp)
	buf := *bp
	for n > 0 {
		m := min(n, int64(len(buf)))
		// ReadAt is pread: the file's shared offset, used by concurrent fetches of the
		// same segment, is never touched. A short file (truncated) is io.EOF.
		if _, err := f.ReadAt(buf[:m], pos); err != nil {
			return fmt.Errorf("broker: read segment range %d+%d: %w", pos, m, err)
		}
		if _, err := c.w.Write(buf[:m]); err != nil {
			return err
		}
		pos, n = pos+m, n-m
	}
	return nil
}
