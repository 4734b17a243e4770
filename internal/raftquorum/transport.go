package raftquorum

import (
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"time"

	"github.com/hashicorp/raft"
)

// Magic is the first bytes a raft connection sends on the controller listener; the broker
// peeks the first byte of every accepted connection, hands connections starting with
// Magic[0] ('S') to the quorum and serves Kafka frames on the others (a Kafka frame starts
// with a big-endian size whose first byte is 0 for any allowed request size).
const Magic = "SAMSA-RAFT/1\n"

// errListenerClosed is returned by Accept once the quorum is closed; NetworkTransport
// stops its accept loop on it because the transport is shut down by then.
var errListenerClosed = errors.New("raftquorum: listener closed")

// streamLayer is the raft.StreamLayer over the broker's controller listener: inbound
// connections arrive on conns (the broker accepted them and consumed Magic), outbound
// ones are dialled here and start with Magic.
//
// NetworkTransport never closes the connections a peer keeps open, so the stream layer
// tracks every connection it hands out and closes them all in Close; otherwise a closed
// quorum would keep serving raft RPCs on them.
type streamLayer struct {
	conns <-chan net.Conn
	addr  net.Addr

	done chan struct{} // closed by Close; unblocks Accept

	// mu guards open and closed.
	mu     sync.Mutex
	open   map[*trackedConn]struct{}
	closed bool
}

func newStreamLayer(conns <-chan net.Conn, addr net.Addr) *streamLayer {
	return &streamLayer{conns: conns, addr: addr, done: make(chan struct{}), open: make(map[*trackedConn]struct{})}
}

// Accept returns the next raft connection the broker accepted. Only NetworkTransport's
// accept loop calls it.
func (s *streamLayer) Accept() (net.Conn, error) {
	select {
	case c, ok := <-s.conns:
		if !ok {
			// The broker closed Conns: no more connections will come. Wait for Close
			// rather than failing at once, which the transport would retry in a loop.
			<-s.done
			return nil, errListenerClosed
		}
		return s.track(c)
	case <-s.done:
		return nil, errListenerClosed
	}
}

// track registers c so Close can close it; after Close it closes c instead.
func (s *streamLayer) track(c net.Conn) (net.Conn, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		c.Close()
		return nil, errListenerClosed
	}
	tc := &trackedConn{Conn: c, s: s}
	s.open[tc] = struct{}{}
	return tc, nil
}

// Close stops Accept and closes every connection handed out. The broker owns the real
// listener and the Conns channel, so neither is closed here; connections the broker
// sends after Close are closed when Accept would have returned them, which it no
// longer does, so the broker must not block sending on Conns.
func (s *streamLayer) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	close(s.done)
	open := s.open
	s.open = nil
	s.mu.Unlock()
	for c := range open {
		c.Conn.Close()
	}
	return nil
}

func (s *streamLayer) Addr() net.Addr { return s.addr }

// Dial connects to a peer's controller listener and announces a raft connection.
func (s *streamLayer) Dial(address raft.ServerAddress, timeout time.Duration) (net.Conn, error) {
	deadline := time.Now().Add(timeout)
	c, err := net.DialTimeout("tcp", string(address), timeout)
	if err != nil {
		return nil, err
	}
	if err := c.SetWriteDeadline(deadline); err != nil {
		c.Close()
		return nil, err
	}
	if _, err := c.Write([]byte(Magic)); err != nil {
		c.Close()
		return nil, fmt.Errorf("raftquorum: send magic to %s: %w", address, err)
	}
	if err := c.SetWriteDeadline(time.Time{}); err != nil {
		c.Close()
		return nil, err
	}
	return s.track(c)
}

// trackedConn is a connection registered with its stream layer until closed.
type trackedConn struct {
	net.Conn
	s *streamLayer
}

// Read reports the end of a connection closed by the stream layer's Close as io.EOF:
// NetworkTransport logs any other read error at Error level, and shutting down is no
// error.
func (c *trackedConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	if err != nil {
		c.s.mu.Lock()
		closed := c.s.closed
		c.s.mu.Unlock()
		if closed {
			err = io.EOF
		}
	}
	return n, err
}

func (c *trackedConn) Close() error {
	c.s.mu.Lock()
	delete(c.s.open, c) // a no-op on the nil map after Close
	c.s.mu.Unlock()
	return c.Conn.Close()
}

// peerProgress is what the leader last learnt from one follower.
type peerProgress struct {
	term        uint64    // leader term of the request the answer belongs to
	matchIndex  uint64    // last log index known to match the leader's log
	lastContact time.Time // when the follower last answered successfully
}

// trackingTransport is the NetworkTransport with the leader's view of each follower's
// progress recorded on the way: hashicorp/raft keeps its match indexes private, and
// DescribeQuorum needs them. Replication calls AppendEntries and InstallSnapshot from
// one goroutine per follower, so the map is guarded by mu.
type trackingTransport struct {
	*raft.NetworkTransport

	mu       sync.Mutex
	progress map[raft.ServerID]peerProgress
}

func newTrackingTransport(t *raft.NetworkTransport) *trackingTransport {
	return &trackingTransport{NetworkTransport: t, progress: make(map[raft.ServerID]peerProgress)}
}

// AppendEntriesPipeline refuses pipelining so every AppendEntries goes through
// AppendEntries below, where its answer is seen.
func (t *trackingTransport) AppendEntriesPipeline(raft.ServerID, raft.ServerAddress) (raft.AppendPipeline, error) {
	return nil, raft.ErrPipelineReplicationNotSupported
}

func (t *trackingTransport) AppendEntries(id raft.ServerID, target raft.ServerAddress, args *raft.AppendEntriesRequest, resp *raft.AppendEntriesResponse) error {
	err := t.NetworkTransport.AppendEntries(id, target, args, resp)
	if err == nil && resp.Success {
		// A heartbeat carries no log position (PrevLogEntry 0, no entries), so it only
		// refreshes the contact time; the max keeps the match index it already had.
		t.record(id, args.Term, args.PrevLogEntry+uint64(len(args.Entries)))
	}
	return err
}

func (t *trackingTransport) InstallSnapshot(id raft.ServerID, target raft.ServerAddress, args *raft.InstallSnapshotRequest, resp *raft.InstallSnapshotResponse, data io.Reader) error {
	err := t.NetworkTransport.InstallSnapshot(id, target, args, resp, data)
	if err == nil && resp.Success {
		t.record(id, args.Term, args.LastLogIndex)
	}
	return err
}

// record notes a successful answer from follower id to a request of leader term term.
// Within one term a follower's match index only grows; a new term starts afresh.
func (t *trackingTransport) record(id raft.ServerID, term, match uint64) {
	t.mu.Lock()
	defer t.mu.Unlock()
	p := t.progress[id]
	if p.term != term {
		p = peerProgress{term: term}
	}
	p.matchIndex = max(p.matchIndex, match)
	p.lastContact = time.Now()
	t.progress[id] = p
}

// peer returns what was learnt about follower id while leading in term.
func (t *trackingTransport) peer(id raft.ServerID, term uint64) (peerProgress, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	p, ok := t.progress[id]
	return p, ok && p.term == term
}
