package broker

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kbin"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/xdg-go/scram"
)

// peerClient sends requests to another Samsa node, one at a time, at exactly the
// version set on the request. Forwarding needs that: an admin request is passed to the
// controller in the version the client chose (kgo always upgrades to the highest
// version both sides know, and field sets differ between versions). Requests between
// nodes are few and each waits for its answer, so one connection without pipelining is
// enough.
type peerClient struct {
	addr     string
	clientID string
	fmt      *kmsg.RequestFormatter
	// auth returns the credential to authenticate new connections with (SCRAM, see
	// sasl.go); ok false sends requests unauthenticated.
	auth func() (user, password string, ok bool)

	mu   sync.Mutex // serialises requests; guards the fields below
	nc   net.Conn
	r    *bufio.Reader
	corr int32
}

// peerMaxResponse bounds a response from a peer: a replica fetch is the largest
// (replica.fetch.response.max.bytes, default 10 MiB, plus a first batch that may exceed
// it up to message.max.bytes).
const peerMaxResponse = 256 << 20

func newPeerClient(addr, clientID string, auth func() (string, string, bool)) *peerClient {
	return &peerClient{addr: addr, clientID: clientID, auth: auth, fmt: kmsg.NewRequestFormatter(kmsg.FormatterClientID(clientID))}
}

// request sends req and returns its response. Any error closes the connection, so the
// next request starts on a fresh one.
func (p *peerClient) request(ctx context.Context, req kmsg.Request) (kmsg.Response, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	resp, err := p.requestLocked(ctx, req)
	if err != nil && p.nc != nil {
		p.nc.Close()
		p.nc = nil
	}
	return resp, err
}

// authenticateLocked runs the SCRAM exchange on a new connection, when there is a
// credential.
func (p *peerClient) authenticateLocked(ctx context.Context) error {
	if p.auth == nil {
		return nil
	}
	user, pass, ok := p.auth()
	if !ok {
		return nil
	}
	hs := kmsg.NewPtrSASLHandshakeRequest()
	hs.Version, hs.Mechanism = 1, scramMechanism
	resp, err := p.roundTripLocked(ctx, hs)
	if err != nil {
		return err
	}
	if err := codeError(resp.(*kmsg.SASLHandshakeResponse).ErrorCode, nil); err != nil {
		return fmt.Errorf("broker: SASL handshake with %s: %w", p.addr, err)
	}
	client, err := scram.SHA512.NewClient(user, pass, "")
	if err != nil {
		return fmt.Errorf("broker: scram client: %w", err)
	}
	conv := client.NewConversation()
	in := ""
	for !conv.Done() {
		out, err := conv.Step(in)
		if err != nil {
			return fmt.Errorf("broker: authenticating to %s: %w", p.addr, err)
		}
		if conv.Done() && out == "" {
			break
		}
		ar := kmsg.NewPtrSASLAuthenticateRequest()
		ar.Version, ar.SASLAuthBytes = 1, []byte(out)
		resp, err := p.roundTripLocked(ctx, ar)
		if err != nil {
			return err
		}
		r := resp.(*kmsg.SASLAuthenticateResponse)
		if err := codeError(r.ErrorCode, r.ErrorMessage); err != nil {
			return fmt.Errorf("broker: authenticating to %s: %w", p.addr, err)
		}
		in = string(r.SASLAuthBytes)
	}
	if !conv.Valid() {
		return fmt.Errorf("broker: %s did not prove it knows the cluster secret: %w", p.addr, kerr.SaslAuthenticationFailed)
	}
	return nil
}

func (p *peerClient) requestLocked(ctx context.Context, req kmsg.Request) (kmsg.Response, error) {
	if p.nc == nil {
		d := net.Dialer{Timeout: 2 * time.Second}
		nc, err := d.DialContext(ctx, "tcp", p.addr)
		if err != nil {
			return nil, fmt.Errorf("broker: dial %s: %w", p.addr, err)
		}
		p.nc, p.r = nc, bufio.NewReaderSize(nc, 64<<10)
		if err := p.authenticateLocked(ctx); err != nil {
			return nil, err
		}
	}
	return p.roundTripLocked(ctx, req)
}

// roundTripLocked sends one request on the open connection and reads its response.
func (p *peerClient) roundTripLocked(ctx context.Context, req kmsg.Request) (kmsg.Response, error) {
	deadline, ok := ctx.Deadline()
	if !ok {
		deadline = time.Time{}
	}
	p.nc.SetDeadline(deadline)
	// Closing the connection is the only way to interrupt a blocked read early.
	nc := p.nc
	stop := context.AfterFunc(ctx, func() { nc.SetDeadline(time.Unix(1, 0)) })
	defer stop()

	p.corr++
	if _, err := p.nc.Write(p.fmt.AppendRequest(nil, req, p.corr)); err != nil {
		return nil, fmt.Errorf("broker: send %s to %s: %w", kmsg.Key(req.Key()).Name(), p.addr, err)
	}
	var sz [4]byte
	if _, err := io.ReadFull(p.r, sz[:]); err != nil {
		return nil, fmt.Errorf("broker: read %s response from %s: %w", kmsg.Key(req.Key()).Name(), p.addr, err)
	}
	n := int32(binary.BigEndian.Uint32(sz[:]))
	if n < 4 || n > peerMaxResponse {
		return nil, fmt.Errorf("broker: %s response from %s has size %d", kmsg.Key(req.Key()).Name(), p.addr, n)
	}
	frame := make([]byte, n)
	if _, err := io.ReadFull(p.r, frame); err != nil {
		return nil, fmt.Errorf("broker: read %s response from %s: %w", kmsg.Key(req.Key()).Name(), p.addr, err)
	}
	rd := kbin.Reader{Src: frame}
	if corr := rd.Int32(); corr != p.corr {
		return nil, fmt.Errorf("broker: %s response from %s has correlation id %d, want %d", kmsg.Key(req.Key()).Name(), p.addr, corr, p.corr)
	}
	resp := req.ResponseKind()
	resp.SetVersion(req.GetVersion())
	if resp.IsFlexible() && req.Key() != kmsg.ApiVersions.Int16() {
		kmsg.SkipTags(&rd)
	}
	if err := rd.Complete(); err != nil {
		return nil, fmt.Errorf("broker: %s response header from %s: %w", kmsg.Key(req.Key()).Name(), p.addr, err)
	}
	if err := resp.ReadFrom(rd.Src); err != nil {
		return nil, fmt.Errorf("broker: decode %s response from %s: %w", kmsg.Key(req.Key()).Name(), p.addr, err)
	}
	return resp, nil
}

// close closes the connection; a later request opens a new one.
func (p *peerClient) close() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.nc != nil {
		p.nc.Close()
		p.nc = nil
	}
}

// errPeerClosed is returned for requests after the node started shutting down.
var errPeerClosed = errors.New("broker: node is shutting down")
