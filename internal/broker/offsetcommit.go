package broker

import (
	"context"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// handleOffsetCommit is served by the group coordinator (package group).
func (b *Broker) handleOffsetCommit(_ context.Context, _ *conn, kreq kmsg.Request) (kmsg.Response, error) {
	return b.coord.OffsetCommit(kreq.(*kmsg.OffsetCommitRequest)), nil
}
