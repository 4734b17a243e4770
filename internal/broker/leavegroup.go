package broker

import (
	"context"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// handleLeaveGroup is served by the group coordinator (package group).
func (b *Broker) handleLeaveGroup(_ context.Context, _ *conn, kreq kmsg.Request) (kmsg.Response, error) {
	return b.coord.LeaveGroup(kreq.(*kmsg.LeaveGroupRequest)), nil
}
