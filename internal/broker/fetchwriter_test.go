package broker

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kbin"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/samsa-io/samsa/internal/batchtest"
	"github.com/samsa-io/samsa/internal/commitlog"
)

// tcpPair returns both ends of a loopback TCP connection.
func tcpPair(t *testing.T) (server, client *net.TCPConn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, _ := ln.Accept()
		accepted <- c
	}()
	cc, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	sc := <-accepted
	if sc == nil {
		t.Fatal("accept failed")
	}
	t.Cleanup(func() { sc.Close(); cc.Close() })
	return sc.(*net.TCPConn), cc.(*net.TCPConn)
}

// pipePair returns both ends of an in-memory connection (not TCP: the copying path).
func pipePair(t *testing.T) (server, client net.Conn) {
	s, c := net.Pipe()
	t.Cleanup(func() { s.Close(); c.Close() })
	return s, c
}

func testConn(nc net.Conn) *conn {
	return &conn{nc: nc, w: bufio.NewWriterSize(nc, 16<<10), logger: slog.New(slog.DiscardHandler)}
}

// writeAndRead writes resp on the server end (flushing it as serve does) while reading
// one frame from the client end, and returns the frame with its size prefix.
func writeAndRead(t *testing.T, c *conn, client net.Conn, hdr requestHeader, resp kmsg.Response) ([]byte, error) {
	t.Helper()
	werr := make(chan error, 1)
	go func() {
		err := c.writeResponse(hdr, resp)
		if err == nil {
			err = c.w.Flush()
		}
		werr <- err
	}()
	client.SetReadDeadline(time.Now().Add(20 * time.Second))
	var size [4]byte
	if _, err := io.ReadFull(client, size[:]); err != nil {
		return nil, fmt.Errorf("read size: %w (writer: %v)", err, <-werr)
	}
	frame := make([]byte, 4+binary.BigEndian.Uint32(size[:]))
	copy(frame, size[:])
	if _, err := io.ReadFull(client, frame[4:]); err != nil {
		return nil, fmt.Errorf("read frame: %w (writer: %v)", err, <-werr)
	}
	return frame, <-werr
}

// kmsgFrame is kmsg's own encoding of resp as a response frame.
func kmsgFrame(hdr requestHeader, resp *kmsg.FetchResponse) []byte {
	resp.SetVersion(hdr.version)
	b := kbin.AppendInt32([]byte{0, 0, 0, 0}, hdr.correlationID)
	if resp.IsFlexible() {
		b = append(b, 0)
	}
	b = resp.AppendTo(b)
	binary.BigEndian.PutUint32(b, uint32(len(b)-4))
	return b
}

// fetchFixture builds Fetch responses over random file contents: several topics, empty
// partitions, errors, record sets whose sizes cross the uvarint length boundaries, and
// one larger than the socket buffers. Ranges of one file are shared by partitions.
type fetchFixture struct {
	files  []*os.File
	data   [][]byte
	ranges [][3]int64 // file, pos, size per partition with data (in build order)
}

func newFetchFixture(t *testing.T) *fetchFixture {
	t.Helper()
	fx := &fetchFixture{}
	dir := t.TempDir()
	for i, n := range []int{40 << 10, 3 << 20} {
		b := make([]byte, n)
		rand.Read(b)
		p := filepath.Join(dir, fmt.Sprintf("f%d", i))
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		f, err := os.Open(p)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { f.Close() })
		fx.files = append(fx.files, f)
		fx.data = append(fx.data, b)
	}
	fx.ranges = [][3]int64{{0, 0, 126}, {0, 126, 127}, {1, 5, 3<<20 - 5}, {0, 300, 16384}, {0, 1, 1}, {0, 20000, 16383}, {0, 7, 2 << 10}}
	return fx
}

// build returns the response the handler would (record sets as files) and the same
// response with the bytes in place. Partition layout per topic: data, empty, error,
// data ...
func (fx *fetchFixture) build(version int16) (*fetchResponse, *kmsg.FetchResponse) {
	zc := &fetchResponse{FetchResponse: kmsg.NewPtrFetchResponse()}
	want := kmsg.NewPtrFetchResponse()
	for _, r := range []*kmsg.FetchResponse{zc.FetchResponse, want} {
		r.Version = version
		r.ThrottleMillis = 5
	}
	next := 0
	for ti, name := range []string{"alpha", "beta-topic", "g"} {
		for _, r := range []*kmsg.FetchResponse{zc.FetchResponse, want} {
			st := kmsg.NewFetchResponseTopic()
			st.Topic = name
			st.TopicID = [16]byte{byte(ti + 1), 2, 3}
			r.Topics = append(r.Topics, st)
		}
		for pi := 0; pi < 4; pi++ {
			sp := kmsg.NewFetchResponseTopicPartition()
			sp.Partition = int32(pi)
			sp.HighWatermark, sp.LastStableOffset, sp.LogStartOffset = 1000+int64(pi), 1000+int64(pi), int64(ti)
			sp.RecordBatches = []byte{}
			wsp := sp
			switch {
			case pi == 1:
			case pi == 2:
				sp.ErrorCode = kerr.OffsetOutOfRange.Code
				wsp.ErrorCode = sp.ErrorCode
			case next < len(fx.ranges):
				rg := fx.ranges[next]
				next++
				zc.files = append(zc.files, fetchFile{topic: ti, partition: pi, FileSlice: commitlog.FileSlice{File: fx.files[rg[0]], Pos: rg[1], Size: rg[2]}})
				wsp.RecordBatches = fx.data[rg[0]][rg[1] : rg[1]+rg[2]]
			}
			zc.Topics[ti].Partitions = append(zc.Topics[ti].Partitions, sp)
			want.Topics[ti].Partitions = append(want.Topics[ti].Partitions, wsp)
		}
	}
	return zc, want
}

// TestFetchWriterMatchesKmsg: for every Fetch version served, the zero-copy writer
// puts on the wire exactly what kmsg encodes for the same response with the records in
// place, through sendfile on TCP and through the copying path otherwise.
func TestFetchWriterMatchesKmsg(t *testing.T) {
	fx := newFetchFixture(t)
	ts, tc := tcpPair(t)
	ts.SetWriteBuffer(16 << 10) // small buffers: the large record set meets EAGAIN
	tc.SetReadBuffer(16 << 10)
	ps, pc := pipePair(t)
	for _, tr := range []struct {
		name     string
		c        *conn
		client   net.Conn
		sendfile bool
	}{{"tcp", testConn(ts), tc, true}, {"pipe", testConn(ps), pc, false}} {
		for v := int16(4); v <= 16; v++ {
			t.Run(fmt.Sprintf("%s/v%d", tr.name, v), func(t *testing.T) {
				hdr := requestHeader{key: kmsg.Fetch.Int16(), version: v, correlationID: 1000 + int32(v)}
				zc, want := fx.build(v)
				before := sendfileCalls.Load()
				got, err := writeAndRead(t, tr.c, tr.client, hdr, zc)
				if err != nil {
					t.Fatal(err)
				}
				if w := kmsgFrame(hdr, want); !bytes.Equal(got, w) {
					t.Fatalf("frame of %d bytes differs from kmsg's %d bytes", len(got), len(w))
				}
				wantCalls := int64(0)
				if tr.sendfile {
					wantCalls = int64(len(zc.files))
				}
				if n := sendfileCalls.Load() - before; n != wantCalls {
					t.Fatalf("%d ranges sent with sendfile, want %d", n, wantCalls)
				}
			})
		}
	}
	// A response without records and a plain kmsg one take the ordinary path.
	hdr := requestHeader{key: kmsg.Fetch.Int16(), version: 12, correlationID: 9}
	want := kmsg.NewPtrFetchResponse()
	want.ErrorCode = kerr.FetchSessionIDNotFound.Code
	got, err := writeAndRead(t, testConn(ts), tc, hdr, &fetchResponse{FetchResponse: want})
	if err != nil || !bytes.Equal(got, kmsgFrame(hdr, want)) {
		t.Fatalf("response without records: %v", err)
	}
}

// TestFetchWriterSentinelCollision: when a sentinel's random prefix also occurs in the
// metadata (forced here), the writer falls back to copying and the frame is still
// exactly kmsg's.
func TestFetchWriterSentinelCollision(t *testing.T) {
	fx := newFetchFixture(t)
	ts, tc := tcpPair(t)
	prefix := []byte("collide-me!!") // 12 bytes, also in a topic name and a topic id
	defer func(r io.Reader) { sentinelRand = r }(sentinelRand)
	for _, v := range []int16{4, 12, 13, 16} {
		sentinelRand = bytes.NewReader(prefix)
		hdr := requestHeader{key: kmsg.Fetch.Int16(), version: v, correlationID: 3}
		zc, want := fx.build(v)
		for _, r := range []*kmsg.FetchResponse{zc.FetchResponse, want} {
			r.Topics[1].Topic = "x" + string(prefix)
			copy(r.Topics[1].TopicID[2:], prefix)
		}
		before := sendfileCalls.Load()
		got, err := writeAndRead(t, testConn(ts), tc, hdr, zc)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, kmsgFrame(hdr, want)) {
			t.Fatalf("v%d: frame differs from kmsg's", v)
		}
		if n := sendfileCalls.Load() - before; n != 0 {
			t.Fatalf("v%d: %d sendfile calls after a collision, want the copying path", v, n)
		}
	}
}

// bigLog opens a log whose first segment holds four 1 MiB batches and is followed by
// another segment, so that retention can delete it.
func bigLog(t *testing.T) (*commitlog.Log, []byte) {
	t.Helper()
	cfg := commitlog.DefaultConfig()
	cfg.TimestampAfterMax = -1
	cfg.MaxMessageBytes = 2 << 20
	cfg.SegmentBytes = 4<<20 + 4096
	cfg.RetentionBytes = 0
	cfg.RetentionTime = -1
	l, err := commitlog.Open(t.TempDir(), cfg, 0, 0, commitlog.Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	for i := 0; i < 5; i++ {
		v := make([]byte, 1<<20)
		rand.Read(v)
		if _, err := l.Append(batchtest.Values(1, string(v)).Encode(), commitlog.AppendOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	l.SetHighWatermark(l.LogEndOffset())
	res, err := l.Read(0, 64<<20, 4, true)
	if err != nil || len(res.Records) < 4<<20 {
		t.Fatalf("read %d bytes: %v", len(res.Records), err)
	}
	return l, res.Records
}

func oneFileResponse(fs commitlog.FileSlice) *fetchResponse {
	r := &fetchResponse{FetchResponse: kmsg.NewPtrFetchResponse()}
	r.Version = 16
	st := kmsg.NewFetchResponseTopic()
	sp := kmsg.NewFetchResponseTopicPartition()
	sp.RecordBatches = []byte{}
	st.Partitions = append(st.Partitions, sp)
	r.Topics = append(r.Topics, st)
	r.files = []fetchFile{{FileSlice: fs}}
	return r
}

// TestSendfileSurvivesSegmentDeletion: retention deletes (closes and unlinks) a
// segment while a sendfile from it is blocked on a full socket; the send completes
// with the right bytes. A send that starts after the deletion fails cleanly.
func TestSendfileSurvivesSegmentDeletion(t *testing.T) {
	l, want := bigLog(t)
	fs, err := l.ReadFile(0, 64<<20, math.MaxInt64, true)
	if err != nil || fs.Size != int64(len(want)) || fs.Pos != 0 {
		t.Fatalf("slice %d+%d (%v), want %d bytes", fs.Pos, fs.Size, err, len(want))
	}
	ts, tc := tcpPair(t)
	ts.SetWriteBuffer(16 << 10)
	tc.SetReadBuffer(16 << 10)
	c := testConn(ts)
	hdr := requestHeader{key: kmsg.Fetch.Int16(), version: 16, correlationID: 1}
	before := sendfileCalls.Load()
	werr := make(chan error, 1)
	go func() {
		err := c.writeResponse(hdr, oneFileResponse(fs))
		if err == nil {
			err = c.w.Flush()
		}
		werr <- err
	}()
	tc.SetReadDeadline(time.Now().Add(20 * time.Second))
	r := bufio.NewReaderSize(tc, 1)
	// Everything up to the records, then 64 KiB of them: the sendfile has started, and
	// the megabytes left cannot fit in the socket buffers, so it is still running.
	wantResp := oneFileResponse(fs).FetchResponse
	wantResp.Topics[0].Partitions[0].RecordBatches = want
	wantFrame := kmsgFrame(hdr, wantResp)
	head := len(wantFrame) - len(want) - 3 // three tag buffers follow the records
	got := make([]byte, len(wantFrame))
	if _, err := io.ReadFull(r, got[:head+64<<10]); err != nil {
		t.Fatal(err)
	}
	if n, err := l.ApplyRetention(); n != 1 || err != nil {
		t.Fatalf("retention deleted %d segments (%v)", n, err)
	}
	if _, err := io.ReadFull(r, got[head+64<<10:]); err != nil {
		t.Fatalf("reading the rest: %v (writer: %v)", err, <-werr)
	}
	if err := <-werr; err != nil {
		t.Fatalf("writer: %v", err)
	}
	if !bytes.Equal(got, wantFrame) {
		t.Fatal("the frame sent from the deleted segment differs from what it held")
	}
	if n := sendfileCalls.Load() - before; n != 1 {
		t.Fatalf("%d sendfile calls, want 1", n)
	}

	// The slice's file is closed now: a new send fails instead of sending anything else.
	ts2, tc2 := tcpPair(t)
	go io.Copy(io.Discard, tc2)
	if err := testConn(ts2).writeResponse(hdr, oneFileResponse(fs)); err == nil {
		t.Fatal("a send from a closed segment succeeded")
	}
}
