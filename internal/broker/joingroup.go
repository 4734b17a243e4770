package broker

import (
	"context"
	"net"

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

// watchClose returns a context that also ends when the peer closes the connection (the
// connection's reader saw EOF or an error), for handlers that wait long (JoinGroup,
// SyncGroup): a member that went away must not hold up its group's rebalance.
func (c *conn) watchClose(ctx context.Context) (context.Context, func()) {
	ctx, cancel := context.WithCancel(ctx)
	go func() {
		select {
		case <-c.gone:
			cancel()
		case <-ctx.Done():
		}
	}()
	return ctx, cancel
}
