package broker

import (
	"context"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// handleDeleteGroups is served by the group coordinator (package group).
func (b *Broker) handleDeleteGroups(_ context.Context, _ *conn, kreq kmsg.Request) (kmsg.Response, error) {
	return b.coord.DeleteGroups(kreq.(*kmsg.DeleteGroupsRequest)), nil
}
