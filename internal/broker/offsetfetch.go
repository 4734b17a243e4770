package broker

import (
	"context"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// handleOffsetFetch is served by the group coordinator (package group).
func (b *Broker) handleOffsetFetch(_ context.Context, _ *conn, kreq kmsg.Request) (kmsg.Response, error) {
	return b.coord.OffsetFetch(kreq.(*kmsg.OffsetFetchRequest)), nil
}
