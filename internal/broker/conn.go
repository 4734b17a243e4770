package broker

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kbin"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/xdg-go/scram"
)

// conn is one client connection. Its reader goroutine (readLoop) uses only r, busy and
// gone; everything else belongs to the goroutine running serve.
type conn struct {
	b        *Broker
	nc       net.Conn
	r        *bufio.Reader
	w        *bufio.Writer
	logger   *slog.Logger
	clientID string
	// wbuf is reused for encoding responses.
	wbuf []byte
	// sasl is the SASL exchange in progress (between SaslHandshake and the last
	// SaslAuthenticate); principal is the user it authenticated, "" for none.
	sasl      *scram.ServerConversation
	principal string
	// closeAfter closes the connection once the current response is written (a failed
	// authentication is answered, then the connection closed).
	closeAfter bool
	// apis is what this connection's listener serves: the broker's table, or the
	// controller listener's.
	apis map[kmsg.Key]api
	// busy counts the requests read and not yet handled.
	busy atomic.Int32
	// gone is closed by the reader when reading fails: the peer closed the connection
	// (or it broke). nil outside serve.
	gone chan struct{}
}

// errClose marks a request that violates the protocol badly enough that the
// connection is closed, as Kafka does, rather than answered.
var errClose = errors.New("broker: closing connection")

// requestHeader is the part of a request before its body.
type requestHeader struct {
	key           int16
	version       int16
	correlationID int32
	clientID      *string
}

// readAhead is how many requests a connection reads ahead of the one being handled.
// Requests are still handled one at a time and answered in order, as Kafka does; reading
// the next ones while one is handled overlaps receiving a client's pipelined produce
// requests with appending the current one. It bounds the memory a connection holds in
// unhandled requests to readAhead frames.
const readAhead = 2

// serve reads, handles and answers requests until the connection fails or ctx ends.
// A reader goroutine reads the frames (readLoop); this one handles and answers them.
func (c *conn) serve(ctx context.Context) {
	frames := make(chan []byte, readAhead)
	stop := make(chan struct{})
	c.gone = make(chan struct{})
	var readErr error // written by readLoop before it closes frames
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		c.readLoop(frames, stop, &readErr)
	}()
	defer func() {
		// Stop the reader: closing the connection ends a read in progress.
		close(stop)
		c.nc.Close()
		wg.Wait()
		for frame := range frames {
			recycleFrame(frame)
		}
	}()
	for frame := range frames {
		err := c.handleFrame(ctx, frame)
		c.busy.Add(-1)
		if kmsg.Key(binary.BigEndian.Uint16(frame)) == kmsg.Produce {
			// Nothing refers to a produce request's bytes once it is handled: the
			// records were copied into the log.
			recycleFrame(frame)
		}
		if err != nil {
			if ctx.Err() == nil {
				c.logger.Info("closing connection", "err", err)
			}
			return
		}
		if c.closeAfter {
			c.w.Flush()
			return
		}
		// Every response goes out before the next request is handled: that one may
		// wait (a long-polling Fetch, a JoinGroup) and must not hold this answer back.
		if err := c.w.Flush(); err != nil {
			return
		}
	}
	if !errors.Is(readErr, io.EOF) && !errors.Is(readErr, net.ErrClosed) && ctx.Err() == nil {
		c.logger.Info("closing connection", "err", readErr)
	}
}

// readLoop reads frames into frames until reading fails or stop is closed; then it sets
// *errp to why and closes frames.
func (c *conn) readLoop(frames chan<- []byte, stop <-chan struct{}, errp *error) {
	defer close(frames)
	defer close(c.gone)
	idle := c.b.cfg.ConnectionsMaxIdle
	for {
		if err := c.awaitRequest(idle); err != nil {
			*errp = err
			return
		}
		frame, err := c.readFrame()
		if err != nil {
			*errp = err
			return
		}
		c.busy.Add(1)
		select {
		case frames <- frame:
		case <-stop:
			recycleFrame(frame)
			*errp = net.ErrClosed
			return
		}
	}
}

// awaitRequest waits for the first byte of the next request. connections.max.idle.ms:
// a client that sends nothing for that long is dropped, so abandoned connections do not
// hold memory forever; the time a request takes to handle (a JoinGroup waiting for the
// group, say) does not count as idle.
func (c *conn) awaitRequest(idle time.Duration) error {
	for {
		if idle > 0 {
			c.nc.SetReadDeadline(time.Now().Add(idle))
		}
		_, err := c.r.Peek(1)
		var ne net.Error
		if err != nil && errors.As(err, &ne) && ne.Timeout() && c.busy.Load() > 0 {
			continue
		}
		return err
	}
}

// readFrame reads one size-prefixed request. The size is checked against
// socket.request.max.bytes before anything is allocated for it.
func (c *conn) readFrame() ([]byte, error) {
	var sz [4]byte
	if _, err := io.ReadFull(c.r, sz[:]); err != nil {
		return nil, err
	}
	n := int32(binary.BigEndian.Uint32(sz[:]))
	// A request header is at least key, version and correlation id.
	if n < 8 {
		return nil, fmt.Errorf("broker: request size %d is too small", n)
	}
	if n > c.b.cfg.SocketRequestMaxBytes {
		return nil, fmt.Errorf("broker: request size %d is larger than socket.request.max.bytes (%d)", n, c.b.cfg.SocketRequestMaxBytes)
	}
	return c.readBody(int(n))
}

// Request buffers come in size classes from 16 KiB to 16 MiB (powers of four up to
// 1 MiB, then of two), each recycled through its own pool: produce requests are
// batches of up to about 1 MiB by default in every client (a little more with the
// request's header), a request for many partitions holds several, and most other
// requests are small. Recycling matters beyond saving the allocator's work: a fresh
// buffer's pages must be zeroed and faulted in, which on a virtual machine can cost
// more than the whole append, and a small request must not take a large buffer.
// eagerFrameBytes is how much a frame may be given before its bytes arrive.
const eagerFrameBytes = 2 << 20

// frameClasses are the buffer sizes pooled, ascending.
var frameClasses = []int{16 << 10, 64 << 10, 256 << 10, 1 << 20, 2 << 20, 4 << 20, 8 << 20, 16 << 20}

// framePools recycle the buffers of produce requests, one pool per size class. Nothing
// keeps a produce request's bytes once it is answered (the log has copied them to its
// file); the buffers of other requests are left to the garbage collector, because what
// they decode to may alias them (a group keeps its members' metadata).
var framePools = func() map[int]*sync.Pool {
	m := make(map[int]*sync.Pool)
	for _, size := range frameClasses {
		m[size] = &sync.Pool{New: func() any { b := make([]byte, 0, size); return &b }}
	}
	return m
}()

// frameBuffer returns an empty buffer of at least n bytes: a pooled one of the
// smallest class that holds n, or for n above the largest class an exact one.
func frameBuffer(n int) []byte {
	for _, size := range frameClasses {
		if n <= size {
			return (*framePools[size].Get().(*[]byte))[:0]
		}
	}
	return make([]byte, 0, n)
}

// readBody reads an n-byte frame body. It never holds much more than twice what
// actually arrived (or eagerFrameBytes): a peer that announces 100 MB and sends little
// holds little memory.
func (c *conn) readBody(n int) ([]byte, error) {
	buf := frameBuffer(min(n, eagerFrameBytes))
	for len(buf) < n {
		if len(buf) == cap(buf) {
			grown := frameBuffer(min(2*cap(buf), n))[:len(buf)]
			copy(grown, buf)
			recycleFrame(buf)
			buf = grown
		}
		m, err := c.r.Read(buf[len(buf):min(cap(buf), n)])
		buf = buf[:len(buf)+m]
		if err != nil {
			if errors.Is(err, io.EOF) {
				err = io.ErrUnexpectedEOF
			}
			return nil, err
		}
	}
	return buf, nil
}

// recycleFrame returns a produce request's buffer to its class's pool once it is
// answered.
func recycleFrame(frame []byte) {
	if p := framePools[cap(frame)]; p != nil {
		frame = frame[:0]
		p.Put(&frame)
	}
}

// errUnsupportedApiVersions is returned by decodeRequest for an ApiVersions request
// of a version we do not know; it is answered, not closed (KIP-511).
var errUnsupportedApiVersions = errors.New("broker: unsupported ApiVersions version")

// decodeRequest parses a request frame: the header, then the body with kmsg. Errors
// mean the connection must be closed (a malformed frame, an API or version we do not
// serve), except errUnsupportedApiVersions.
func decodeRequest(apis map[kmsg.Key]api, frame []byte) (requestHeader, kmsg.Request, error) {
	rd := kbin.Reader{Src: frame}
	hdr := requestHeader{
		key:           rd.Int16(),
		version:       rd.Int16(),
		correlationID: rd.Int32(),
		clientID:      rd.NullableString(),
	}
	if err := rd.Complete(); err != nil {
		return hdr, nil, fmt.Errorf("broker: malformed request header: %w", err)
	}
	a, ok := apis[kmsg.Key(hdr.key)]
	if !ok {
		return hdr, nil, fmt.Errorf("broker: unsupported API key %d: %w", hdr.key, errClose)
	}
	if hdr.version < a.minVersion || hdr.version > a.maxVersion {
		if a.key == kmsg.ApiVersions {
			return hdr, nil, errUnsupportedApiVersions
		}
		return hdr, nil, fmt.Errorf("broker: %s version %d is outside %d-%d: %w", a.key.Name(), hdr.version, a.minVersion, a.maxVersion, errClose)
	}
	req := kmsg.RequestForKey(hdr.key)
	req.SetVersion(hdr.version)
	if req.IsFlexible() {
		kmsg.SkipTags(&rd)
		if err := rd.Complete(); err != nil {
			return hdr, nil, fmt.Errorf("broker: malformed request header tags: %w", err)
		}
	}
	if err := req.ReadFrom(rd.Src); err != nil {
		return hdr, nil, fmt.Errorf("broker: malformed %s v%d request: %w", a.key.Name(), hdr.version, err)
	}
	return hdr, req, nil
}

// handleFrame decodes and serves one request.
func (c *conn) handleFrame(ctx context.Context, frame []byte) error {
	hdr, req, err := decodeRequest(c.apis, frame)
	if errors.Is(err, errUnsupportedApiVersions) {
		// Answer with version 0 and UNSUPPORTED_VERSION so the client can retry with a
		// version we list.
		resp := apiVersionsResponse(c.apis)
		resp.SetVersion(0)
		resp.ErrorCode = kerr.UnsupportedVersion.Code
		return c.writeResponse(hdr, resp)
	}
	if err != nil {
		return err
	}
	if hdr.clientID != nil {
		c.clientID = *hdr.clientID
	}
	resp, err := c.apis[kmsg.Key(hdr.key)].handle(ctx, c, req)
	if err != nil {
		return err
	}
	if resp == nil {
		return nil
	}
	return c.writeResponse(hdr, resp)
}

// writeResponse encodes resp with the response header its API and version call for.
// A Fetch response with records goes through writeFetchResponse (fetchwriter.go),
// which sends the records from the segment files without copying them.
func (c *conn) writeResponse(hdr requestHeader, resp kmsg.Response) error {
	if resp.GetVersion() != hdr.version && hdr.key != kmsg.ApiVersions.Int16() {
		resp.SetVersion(hdr.version)
	}
	if fr, ok := resp.(*fetchResponse); ok {
		return c.writeFetchResponse(hdr, fr)
	}
	return c.writeEncoded(c.encodeResponse(hdr, resp), 0)
}

// encodeResponse returns the whole frame of resp: size, header and body, in c.wbuf.
func (c *conn) encodeResponse(hdr requestHeader, resp kmsg.Response) []byte {
	buf := append(c.wbuf[:0], 0, 0, 0, 0)
	buf = kbin.AppendInt32(buf, hdr.correlationID)
	// Flexible responses have a header with tags, except ApiVersions, whose response
	// header is always version 0 so that any client can read it.
	if resp.IsFlexible() && hdr.key != kmsg.ApiVersions.Int16() {
		buf = append(buf, 0)
	}
	buf = resp.AppendTo(buf)
	binary.BigEndian.PutUint32(buf, uint32(len(buf)-4))
	return buf
}

// writeEncoded buffers buf[from:], buf being what encodeResponse returned, and keeps
// buf for the next response.
func (c *conn) writeEncoded(buf []byte, from int) error {
	_, err := c.w.Write(buf[from:])
	// Keep a modest buffer for the next response; drop one grown by a large fetch.
	if cap(buf) <= 1<<20 {
		c.wbuf = buf
	}
	return err
}

func newConn(b *Broker, nc net.Conn, apis map[kmsg.Key]api) *conn {
	return &conn{
		b:    b,
		nc:   nc,
		apis: apis,
		// Small buffers keep idle connections cheap; large frames bypass them.
		r:      bufio.NewReaderSize(nc, 16<<10),
		w:      bufio.NewWriterSize(nc, 16<<10),
		logger: b.logger.With("remote", nc.RemoteAddr().String()),
	}
}
