package broker

import (
	"context"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/samsa-io/samsa/internal/group"
	"github.com/samsa-io/samsa/internal/metadata"
)

// handleConsumerGroupHeartbeat is served by the group coordinator (package group):
// KIP-848 consumer groups, v0 (the coordinator names members) and v1 (members name
// themselves; regex subscriptions).
func (b *Broker) handleConsumerGroupHeartbeat(_ context.Context, c *conn, kreq kmsg.Request) (kmsg.Response, error) {
	return b.coord.ConsumerGroupHeartbeat(kreq.(*kmsg.ConsumerGroupHeartbeatRequest), c.clientID, c.clientHost()), nil
}

// topicImage is the coordinator's group.TopicImage over a metadata image.
type topicImage struct{ img *metadata.Image }

func (t topicImage) TopicByName(name string) (group.TopicInfo, bool) {
	return topicInfo(t.img.Topic(name))
}

func (t topicImage) TopicByID(id [16]byte) (group.TopicInfo, bool) {
	return topicInfo(t.img.TopicByID(metadata.UUID(id)))
}

func (t topicImage) TopicNames() []string { return t.img.TopicNames() }

func topicInfo(t *metadata.Topic) (group.TopicInfo, bool) {
	if t == nil {
		return group.TopicInfo{}, false
	}
	return group.TopicInfo{Name: t.Name, ID: t.ID, Partitions: int32(len(t.Partitions))}, true
}
