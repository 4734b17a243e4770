package broker

import (
	"context"
	"errors"
	"net"
	"os"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// handleJoinGroup is served by the group coordinator (package group). The response is
// delayed until the rebalance completes; the wait ends early if the client goes away.
func (b *Broker) handleJoinGroup(ctx context.Context, c *conn, kreq kmsg.Request) (kmsg.Response, error) {
	ctx, stop := c.watchClose(ctx)
	defer stop()
	return b.coord.JoinGroup(ctx, kreq.(*kmsg.JoinGroupRequest), c.clientID, c.clientHost()), nil
}

// clientHost is the peer address as Kafka reports it in DescribeGroups ("/127.0.0.1").
func (c *conn) clientHost() string {
	host, _, err := net.SplitHostPort(c.nc.RemoteAddr().String())
	if err != nil {
		host = c.nc.RemoteAddr().String()
	}
	return "/" + host
}

// watchClose returns a context that also ends when the peer closes the connection, for
// handlers that wait long (JoinGroup, SyncGroup) while the connection's goroutine reads
// nothing. A goroutine peeks at the socket meanwhile: EOF or an error cancels the
// context; bytes of a pipelined request stay buffered for the next read. stop wakes the
// peek with a read deadline in the past and waits for it, so the connection is read by
// one goroutine at a time; serve sets the deadline again before its next read.
func (c *conn) watchClose(ctx context.Context) (context.Context, func()) {
	ctx, cancel := context.WithCancel(ctx)
	if c.r.Buffered() > 0 {
		// The client already sent its next request: it is alive.
		return ctx, cancel
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		if _, err := c.r.Peek(1); err != nil && !errors.Is(err, os.ErrDeadlineExceeded) {
			cancel()
		}
	}()
	return ctx, func() {
		c.nc.SetReadDeadline(time.Now())
		<-done
		c.nc.SetReadDeadline(time.Time{})
		cancel()
	}
}
