package broker

import (
	"context"
	"fmt"
	"strconv"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/samsa-io/samsa/internal/config"
)

func (b *Broker) handleDescribeConfigs(_ context.Context, _ *conn, kreq kmsg.Request) (kmsg.Response, error) {
	req := kreq.(*kmsg.DescribeConfigsRequest)
	resp := req.ResponseKind().(*kmsg.DescribeConfigsResponse)
	for _, rr := range req.Resources {
		sr := kmsg.NewDescribeConfigsResponseResource()
		sr.ResourceType = rr.ResourceType
		sr.ResourceName = rr.ResourceName
		entries, err := b.describeResource(rr.ResourceType, rr.ResourceName)
		if err != nil {
			sr.ErrorCode = errorCode(err)
			sr.ErrorMessage = errorMessage(err)
			resp.Resources = append(resp.Resources, sr)
			continue
		}
		wanted := make(map[string]bool, len(rr.ConfigNames))
		for _, n := range rr.ConfigNames {
			wanted[n] = true
		}
		for _, e := range entries {
			if rr.ConfigNames != nil && !wanted[e.Name] {
				continue
			}
			c := kmsg.NewDescribeConfigsResponseResourceConfig()
			c.Name = e.Name
			if !e.Sensitive {
				c.Value = kmsg.StringPtr(e.Value)
			}
			c.ReadOnly = e.ReadOnly
			c.IsDefault = kmsg.ConfigSource(e.Source) == kmsg.ConfigSourceDefaultConfig
			c.Source = kmsg.ConfigSource(e.Source)
			c.IsSensitive = e.Sensitive
			c.ConfigType = kmsg.ConfigType(e.Type)
			if req.IncludeDocumentation {
				c.Documentation = kmsg.StringPtr(e.Doc)
			}
			if req.IncludeSynonyms {
				for _, s := range e.Synonyms {
					sy := kmsg.NewDescribeConfigsResponseResourceConfigConfigSynonym()
					sy.Name = s.Name
					sy.Value = kmsg.StringPtr(s.Value)
					sy.Source = kmsg.ConfigSource(s.Source)
					c.ConfigSynonyms = append(c.ConfigSynonyms, sy)
				}
			}
			sr.Configs = append(sr.Configs, c)
		}
		resp.Resources = append(resp.Resources, sr)
	}
	return resp, nil
}

// describeResource lists the configs of a topic or of this broker.
func (b *Broker) describeResource(typ kmsg.ConfigResourceType, name string) ([]config.ConfigEntry, error) {
	switch typ {
	case kmsg.ConfigResourceTypeTopic:
		t := b.quorum.Image().Topics[name]
		if t == nil {
			return nil, fmt.Errorf("broker: topic %q: %w", name, kerr.UnknownTopicOrPartition)
		}
		return b.cfg.DescribeTopicConfigs(t.Configs), nil
	case kmsg.ConfigResourceTypeBroker:
		if err := b.checkBrokerResource(name); err != nil {
			return nil, err
		}
		return b.cfg.DescribeBrokerConfigs(), nil
	default:
		return nil, fmt.Errorf("broker: config resource type %d is not supported: %w", typ, kerr.InvalidRequest)
	}
}

// checkBrokerResource accepts this node's id (or "" for the cluster default).
func (b *Broker) checkBrokerResource(name string) error {
	if name == "" {
		return nil
	}
	id, err := strconv.ParseInt(name, 10, 32)
	if err != nil {
		return fmt.Errorf("broker: broker resource name %q is not a node id: %w", name, kerr.InvalidRequest)
	}
	if int32(id) != b.cfg.NodeID {
		return fmt.Errorf("broker: node %d is not this broker (%d): %w", id, b.cfg.NodeID, kerr.InvalidRequest)
	}
	return nil
}
