package broker

import (
	"context"
	"fmt"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/samsa-io/samsa/internal/metadata"
)

func (b *Broker) handleDeleteTopics(ctx context.Context, _ *conn, kreq kmsg.Request) (kmsg.Response, error) {
	req := kreq.(*kmsg.DeleteTopicsRequest)
	resp := req.ResponseKind().(*kmsg.DeleteTopicsResponse)

	// Before v6 topics are named in TopicNames; from v6 in Topics, by name or id.
	topics := req.Topics
	if req.Version < 6 {
		topics = nil
		for _, name := range req.TopicNames {
			rt := kmsg.NewDeleteTopicsRequestTopic()
			rt.Topic = kmsg.StringPtr(name)
			topics = append(topics, rt)
		}
	}
	for _, rt := range topics {
		st := kmsg.NewDeleteTopicsResponseTopic()
		st.Topic = rt.Topic
		st.TopicID = rt.TopicID
		t, err := b.deleteTopic(ctx, rt)
		if t != nil {
			st.Topic = kmsg.StringPtr(t.Name)
			st.TopicID = t.ID
		}
		st.ErrorCode = errorCode(err)
		st.ErrorMessage = errorMessage(err)
		resp.Topics = append(resp.Topics, st)
	}
	return resp, nil
}

func (b *Broker) deleteTopic(ctx context.Context, rt kmsg.DeleteTopicsRequestTopic) (*metadata.Topic, error) {
	if !b.cfg.DeleteTopicEnable {
		return nil, fmt.Errorf("broker: delete.topic.enable is false: %w", kerr.TopicDeletionDisabled)
	}
	name := ""
	if rt.Topic != nil {
		name = *rt.Topic
		if isInternalTopic(name) {
			return nil, fmt.Errorf("broker: %s is an internal topic: %w", name, kerr.InvalidTopicException)
		}
	}
	return b.ctl.DeleteTopic(ctx, name, metadata.UUID(rt.TopicID))
}
