package broker

import (
	"context"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// handleConsumerGroupDescribe is served by the group coordinator (package group).
func (b *Broker) handleConsumerGroupDescribe(_ context.Context, _ *conn, kreq kmsg.Request) (kmsg.Response, error) {
	return b.coord.ConsumerGroupDescribe(kreq.(*kmsg.ConsumerGroupDescribeRequest)), nil
}
