package broker

import (
	"context"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// handleDescribeGroups is served by the group coordinator (package group).
func (b *Broker) handleDescribeGroups(_ context.Context, _ *conn, kreq kmsg.Request) (kmsg.Response, error) {
	return b.coord.DescribeGroups(kreq.(*kmsg.DescribeGroupsRequest)), nil
}
