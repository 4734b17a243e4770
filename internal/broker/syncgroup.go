package broker

import (
	"context"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// handleSyncGroup is served by the group coordinator (package group). A follower's
// response waits for the leader's assignment; the wait ends early if the client goes
// away.
func (b *Broker) handleSyncGroup(ctx context.Context, c *conn, kreq kmsg.Request) (kmsg.Response, error) {
	ctx, stop := c.watchClose(ctx)
	defer stop()
	return b.coord.SyncGroup(ctx, kreq.(*kmsg.SyncGroupRequest)), nil
}
