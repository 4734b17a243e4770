package broker_test

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/samsa-io/samsa/internal/batchtest"
)

// rawConn is a bare TCP connection to the broker for sending hand-made frames.
type rawConn struct {
	t  *testing.T
	nc net.Conn
}

func dialRaw(t *testing.T, addr string) *rawConn {
	t.Helper()
	nc, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	nc.SetDeadline(time.Now().Add(20 * time.Second))
	return &rawConn{t: t, nc: nc}
}

func (c *rawConn) write(b []byte) {
	c.t.Helper()
	if _, err := c.nc.Write(b); err != nil {
		c.t.Fatal(err)
	}
}

// request sends req and decodes the response.
func (c *rawConn) request(req kmsg.Request, version int16) kmsg.Response {
	c.t.Helper()
	req.SetVersion(version)
	c.write(kmsg.NewRequestFormatter(kmsg.FormatterClientID("raw")).AppendRequest(nil, req, 7))
	var sz [4]byte
	if _, err := io.ReadFull(c.nc, sz[:]); err != nil {
		c.t.Fatalf("reading response size: %v", err)
	}
	body := make([]byte, binary.BigEndian.Uint32(sz[:]))
	if _, err := io.ReadFull(c.nc, body); err != nil {
		c.t.Fatal(err)
	}
	if id := int32(binary.BigEndian.Uint32(body)); id != 7 {
		c.t.Fatalf("correlation id %d, want 7", id)
	}
	body = body[4:]
	resp := req.ResponseKind()
	if resp.IsFlexible() && req.Key() != kmsg.ApiVersions.Int16() {
		body = body[1:] // empty header tags
	}
	if err := resp.ReadFrom(body); err != nil {
		c.t.Fatalf("decoding response: %v", err)
	}
	return resp
}

// expectClosed asserts the broker closes the connection without answering.
func (c *rawConn) expectClosed() {
	c.t.Helper()
	buf := make([]byte, 1)
	n, err := c.nc.Read(buf)
	if err == nil || n != 0 {
		c.t.Fatalf("connection still open (read %d bytes, err %v)", n, err)
	}
	if ne, ok := err.(net.Error); ok && ne.Timeout() {
		c.t.Fatal("broker neither answered nor closed the connection")
	}
}

func frame(body []byte) []byte {
	return binary.BigEndian.AppendUint32(nil, uint32(len(body))) // size prefix
}

// TestBadFrames sends malformed and hostile frames: each closes its connection, and the
// broker keeps serving everyone else.
func TestBadFrames(t *testing.T) {
	tb := startBroker(t, "", map[string]string{"socket.request.max.bytes": "1048576"})

	header := func(key, version int16) []byte {
		b := binary.BigEndian.AppendUint16(nil, uint16(key))
		b = binary.BigEndian.AppendUint16(b, uint16(version))
		b = binary.BigEndian.AppendUint32(b, 1)
		return binary.BigEndian.AppendUint16(b, 0xffff) // null client id
	}
	withSize := func(body []byte) []byte { return append(frame(body), body...) }

	cases := map[string][]byte{
		"size above socket.request.max.bytes": binary.BigEndian.AppendUint32(nil, 1<<30),
		"negative size":                       binary.BigEndian.AppendUint32(nil, 0xfffffff0),
		"size too small for a header":         withSize([]byte{0, 3}),
		"unknown api key":                     withSize(header(999, 0)),
		"unsupported produce version":         withSize(header(0, 1)),
		"topic name longer than frame":        withSize(append(header(3, 4), 0, 0, 0, 1, 0x7f, 0xff, 'a')),
		"truncated client id":                 withSize(append(header(3, 4)[:8], 0x00, 0x40, 'a')),
		"metadata array longer than frame":    withSize(append(header(3, 4), 0x7f, 0xff, 0xff, 0xff)),
	}
	for name, b := range cases {
		t.Run(name, func(t *testing.T) {
			c := dialRaw(t, tb.Addr)
			c.write(b)
			c.expectClosed()
		})
	}

	t.Run("truncated frame then hang up", func(t *testing.T) {
		c := dialRaw(t, tb.Addr)
		c.write(append(frame(make([]byte, 100)), header(18, 0)...))
		c.nc.(*net.TCPConn).CloseWrite()
		c.expectClosed()
	})

	t.Run("api versions with a future version", func(t *testing.T) {
		c := dialRaw(t, tb.Addr)
		b := header(18, 99)
		c.write(append(frame(b), b...))
		var sz [4]byte
		if _, err := io.ReadFull(c.nc, sz[:]); err != nil {
			t.Fatal(err)
		}
		body := make([]byte, binary.BigEndian.Uint32(sz[:]))
		if _, err := io.ReadFull(c.nc, body); err != nil {
			t.Fatal(err)
		}
		resp := kmsg.NewPtrApiVersionsResponse() // version 0
		if err := resp.ReadFrom(body[4:]); err != nil {
			t.Fatal(err)
		}
		if resp.ErrorCode != kerr.UnsupportedVersion.Code || len(resp.ApiKeys) == 0 {
			t.Fatalf("error %d with %d keys, want UNSUPPORTED_VERSION and the key list", resp.ErrorCode, len(resp.ApiKeys))
		}
	})

	// After all that the broker still answers.
	c := dialRaw(t, tb.Addr)
	av := kmsg.NewPtrApiVersionsRequest()
	av.ClientSoftwareName, av.ClientSoftwareVersion = "samsa-test", "1.0.0-rc1"
	resp := c.request(av, 3).(*kmsg.ApiVersionsResponse)
	if resp.ErrorCode != 0 || len(resp.ApiKeys) == 0 {
		t.Fatalf("ApiVersions after bad frames: error %d", resp.ErrorCode)
	}
	// KIP-511 software names are checked as Kafka does.
	av.ClientSoftwareName = "bad name!"
	if resp := c.request(av, 3).(*kmsg.ApiVersionsResponse); resp.ErrorCode != kerr.InvalidRequest.Code {
		t.Errorf("ApiVersions with a malformed software name: error %d, want INVALID_REQUEST", resp.ErrorCode)
	}
}

// TestIdleConnectionClosed: connections.max.idle.ms drops a silent client.
func TestIdleConnectionClosed(t *testing.T) {
	tb := startBroker(t, "", map[string]string{"connections.max.idle.ms": "200"})
	c := dialRaw(t, tb.Addr)
	c.expectClosed()
}

// TestPipelinedRequests sends several requests before reading any answer; they come
// back in order.
func TestPipelinedRequests(t *testing.T) {
	tb := startBroker(t, "", nil)
	c := dialRaw(t, tb.Addr)
	f := kmsg.NewRequestFormatter()
	var out []byte
	for i := int32(0); i < 20; i++ {
		req := kmsg.NewPtrMetadataRequest()
		req.SetVersion(int16(i % 13))
		if i%2 == 0 {
			v := kmsg.NewPtrApiVersionsRequest()
			v.SetVersion(3)
			v.ClientSoftwareName, v.ClientSoftwareVersion = "raw", "1"
			out = append(out, f.AppendRequest(nil, v, i)...) // AppendRequest sizes from dst[0]
			continue
		}
		out = append(out, f.AppendRequest(nil, req, i)...)
	}
	c.write(out)
	for i := int32(0); i < 20; i++ {
		var sz [4]byte
		if _, err := io.ReadFull(c.nc, sz[:]); err != nil {
			t.Fatal(err)
		}
		body := make([]byte, binary.BigEndian.Uint32(sz[:]))
		if _, err := io.ReadFull(c.nc, body); err != nil {
			t.Fatal(err)
		}
		if id := int32(binary.BigEndian.Uint32(body)); id != i {
			t.Fatalf("response %d has correlation id %d", i, id)
		}
	}
}

// TestRequestErrors checks the Kafka error code for each kind of bad request.
func TestRequestErrors(t *testing.T) {
	tb := startBroker(t, "", map[string]string{"auto.create.topics.enable": "false"})
	adm := tb.admin()
	createTopic(t, tb, "small", 1, map[string]*string{"max.message.bytes": kmsgStr("1024")})
	cl := tb.client()
	ctx := testCtx(t)

	for _, name := range []string{"", ".", "..", strings.Repeat("x", 250), "bad/name", "spaced name", "ünïcode"} {
		resp, err := adm.CreateTopics(ctx, 1, 1, nil, name)
		if err != nil {
			t.Fatal(err)
		}
		if r := resp[name]; r.Err != kerr.InvalidTopicException {
			t.Errorf("create %q: %v, want INVALID_TOPIC_EXCEPTION", name, r.Err)
		}
	}
	if resp, _ := adm.CreateTopics(ctx, 1, 1, nil, strings.Repeat("x", 249)); resp[strings.Repeat("x", 249)].Err != nil {
		t.Errorf("249-character name refused: %v", resp[strings.Repeat("x", 249)].Err)
	}
	if resp, _ := adm.CreateTopics(ctx, 1, 1, nil, "small"); resp["small"].Err != kerr.TopicAlreadyExists {
		t.Errorf("create existing: %v", resp["small"].Err)
	}
	if resp, _ := adm.CreateTopics(ctx, 0, 1, nil, "zero"); resp["zero"].Err != kerr.InvalidPartitions {
		t.Errorf("0 partitions: %v", resp["zero"].Err)
	}
	if resp, _ := adm.CreateTopics(ctx, 1, 9, nil, "rf9"); resp["rf9"].Err != kerr.InvalidReplicationFactor {
		t.Errorf("replication factor 9 on fewer brokers: %v", resp["rf9"].Err)
	}
	if resp, _ := adm.CreateTopics(ctx, 1, 1, map[string]*string{"retention.ms": kmsgStr("x")}, "badcfg"); resp["badcfg"].Err != kerr.InvalidConfig {
		t.Errorf("bad config: %v", resp["badcfg"].Err)
	}

	ok := batchtest.Values(time.Now().UnixMilli(), "v").Encode()
	corrupt := append([]byte(nil), ok...)
	corrupt[len(corrupt)-1] ^= 0xff
	big := batchtest.Values(time.Now().UnixMilli(), strings.Repeat("z", 2000)).Encode()
	badMagic := append([]byte(nil), ok...)
	badMagic[16] = 1

	for _, c := range []struct {
		name      string
		topic     string
		partition int32
		batch     []byte
		want      *kerr.Error
	}{
		{"unknown topic", "nope", 0, ok, kerr.UnknownTopicOrPartition},
		{"unknown partition", "small", 5, ok, kerr.UnknownTopicOrPartition},
		{"corrupt crc", "small", 0, corrupt, kerr.CorruptMessage},
		{"oversized batch", "small", 0, big, kerr.MessageTooLarge},
		{"old magic", "small", 0, badMagic, kerr.InvalidRecord}, // as Kafka: produce v3+ carries only v2 batches
		{"truncated batch", "small", 0, ok[:len(ok)-3], kerr.CorruptMessage},
	} {
		r := produceRaw(t, cl, c.topic, c.partition, c.batch)
		if got := kerr.ErrorForCode(r.ErrorCode); got != c.want {
			t.Errorf("produce %s: %v, want %v", c.name, got, c.want)
		}
	}
	// Nothing bad reached the log.
	if r := produceRaw(t, cl, "small", 0, ok); r.ErrorCode != 0 || r.BaseOffset != 0 {
		t.Fatalf("good batch after bad ones: error %d base %d, want 0 0", r.ErrorCode, r.BaseOffset)
	}
	// acks=0 has no response to carry an error: the connection is closed instead.
	c := dialRaw(t, tb.Addr)
	req := kmsg.NewPtrProduceRequest()
	req.Acks = 0
	rt := kmsg.NewProduceRequestTopic()
	rt.Topic = "small"
	rp := kmsg.NewProduceRequestTopicPartition()
	rp.Partition, rp.Records = 9, ok
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	req.SetVersion(9)
	c.write(kmsg.NewRequestFormatter().AppendRequest(nil, req, 1))
	c.expectClosed()

	if fr := fetch(t, cl, "small", 0, 100); fr.ErrorCode != kerr.OffsetOutOfRange.Code {
		t.Errorf("fetch past the end: %d, want OFFSET_OUT_OF_RANGE", fr.ErrorCode)
	}
	if fr := fetch(t, cl, "nope", 0, 0); fr.ErrorCode != kerr.UnknownTopicID.Code { // fetch v13+ names topics by id
		t.Errorf("fetch unknown topic: %d", fr.ErrorCode)
	}
	if fr := fetch(t, cl, "small", 0, 0); fr.ErrorCode != 0 || !bytes.Contains(fr.RecordBatches, []byte("v")) {
		t.Errorf("fetch of the good batch: error %d, %d bytes", fr.ErrorCode, len(fr.RecordBatches))
	}
}

func kmsgStr(s string) *string { return &s }

// TestManyConnections opens many connections at once, each pipelining requests, and
// checks every one is answered.
func TestManyConnections(t *testing.T) {
	tb := startBroker(t, "", nil)
	const conns, perConn = 200, 5
	errs := make(chan error, conns)
	for i := 0; i < conns; i++ {
		go func() {
			nc, err := net.DialTimeout("tcp", tb.Addr, 10*time.Second)
			if err != nil {
				errs <- err
				return
			}
			defer nc.Close()
			nc.SetDeadline(time.Now().Add(30 * time.Second))
			var out []byte
			for j := int32(0); j < perConn; j++ {
				req := kmsg.NewPtrMetadataRequest()
				req.SetVersion(12)
				out = append(out, kmsg.NewRequestFormatter().AppendRequest(nil, req, j)...)
			}
			if _, err := nc.Write(out); err != nil {
				errs <- err
				return
			}
			for j := int32(0); j < perConn; j++ {
				var sz [4]byte
				if _, err := io.ReadFull(nc, sz[:]); err != nil {
					errs <- err
					return
				}
				body := make([]byte, binary.BigEndian.Uint32(sz[:]))
				if _, err := io.ReadFull(nc, body); err != nil {
					errs <- err
					return
				}
				if id := int32(binary.BigEndian.Uint32(body)); id != j {
					errs <- fmt.Errorf("response %d has correlation id %d", j, id)
					return
				}
			}
			errs <- nil
		}()
	}
	for i := 0; i < conns; i++ {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
}
