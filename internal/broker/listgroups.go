package broker

import (
	"context"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// handleListGroups is served by the group coordinator (package group).
func (b *Broker) handleListGroups(_ context.Context, _ *conn, kreq kmsg.Request) (kmsg.Response, error) {
	return b.coord.ListGroups(kreq.(*kmsg.ListGroupsRequest)), nil
}
