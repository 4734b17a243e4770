package broker

import (
	"context"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// handleHeartbeat is served by the group coordinator (package group).
func (b *Broker) handleHeartbeat(_ context.Context, _ *conn, kreq kmsg.Request) (kmsg.Response, error) {
	return b.coord.Heartbeat(kreq.(*kmsg.HeartbeatRequest)), nil
}
