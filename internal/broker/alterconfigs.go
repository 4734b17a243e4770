package broker

import (
	"context"
	"fmt"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/samsa-io/samsa/internal/metadata"
)

// errDynamicBrokerConfig answers attempts to change broker configs at run time, which
// Samsa does not support yet: broker configs come from server.properties, flags and
// the environment.
var errDynamicBrokerConfig = fmt.Errorf("broker: dynamic broker configs are not supported; set them in server.properties: %w", kerr.InvalidRequest)

// handleAlterConfigs replaces a topic's overrides with exactly the given set (the
// legacy, non-incremental API).
func (b *Broker) handleAlterConfigs(ctx context.Context, _ *conn, kreq kmsg.Request) (kmsg.Response, error) {
	req := kreq.(*kmsg.AlterConfigsRequest)
	resp := req.ResponseKind().(*kmsg.AlterConfigsResponse)
	for _, rr := range req.Resources {
		sr := kmsg.NewAlterConfigsResponseResource()
		sr.ResourceType = rr.ResourceType
		sr.ResourceName = rr.ResourceName
		err := b.alterResource(rr.ResourceType, rr.ResourceName, func() error {
			configs := make(map[string]string, len(rr.Configs))
			for _, c := range rr.Configs {
				if c.Value != nil {
					configs[c.Name] = *c.Value
				}
			}
			return b.ctl.ReplaceTopicConfigs(ctx, rr.ResourceName, configs, req.ValidateOnly)
		})
		sr.ErrorCode = errorCode(err)
		sr.ErrorMessage = errorMessage(err)
		resp.Resources = append(resp.Resources, sr)
	}
	return resp, nil
}

func (b *Broker) handleIncrementalAlterConfigs(ctx context.Context, _ *conn, kreq kmsg.Request) (kmsg.Response, error) {
	req := kreq.(*kmsg.IncrementalAlterConfigsRequest)
	resp := req.ResponseKind().(*kmsg.IncrementalAlterConfigsResponse)
	for _, rr := range req.Resources {
		sr := kmsg.NewIncrementalAlterConfigsResponseResource()
		sr.ResourceType = rr.ResourceType
		sr.ResourceName = rr.ResourceName
		err := b.alterResource(rr.ResourceType, rr.ResourceName, func() error {
			ops := make([]metadata.ConfigOp, 0, len(rr.Configs))
			for _, c := range rr.Configs {
				ops = append(ops, metadata.ConfigOp{Key: c.Name, Op: metadata.ConfigOpType(c.Op), Value: c.Value})
			}
			return b.ctl.IncrementalAlterTopicConfigs(ctx, rr.ResourceName, ops, req.ValidateOnly)
		})
		sr.ErrorCode = errorCode(err)
		sr.ErrorMessage = errorMessage(err)
		resp.Resources = append(resp.Resources, sr)
	}
	return resp, nil
}

// alterResource routes a config change: topics to alterTopic, this broker to
// errDynamicBrokerConfig, anything else to INVALID_REQUEST.
func (b *Broker) alterResource(typ kmsg.ConfigResourceType, name string, alterTopic func() error) error {
	switch typ {
	case kmsg.ConfigResourceTypeTopic:
		return alterTopic()
	case kmsg.ConfigResourceTypeBroker:
		if err := b.checkBrokerResource(name); err != nil {
			return err
		}
		return errDynamicBrokerConfig
	default:
		return fmt.Errorf("broker: config resource type %d is not supported: %w", typ, kerr.InvalidRequest)
	}
}
