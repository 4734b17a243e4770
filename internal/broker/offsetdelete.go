package broker

import (
	"context"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// handleOffsetDelete is served by the group coordinator (package group).
func (b *Broker) handleOffsetDelete(_ context.Context, _ *conn, kreq kmsg.Request) (kmsg.Response, error) {
	return b.coord.OffsetDelete(kreq.(*kmsg.OffsetDeleteRequest)), nil
}
