package broker

import (
	"context"
	"errors"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/samsa-io/samsa/internal/metadata"
)

func (b *Broker) handleMetadata(ctx context.Context, _ *conn, kreq kmsg.Request) (kmsg.Response, error) {
	req := kreq.(*kmsg.MetadataRequest)
	resp := req.ResponseKind().(*kmsg.MetadataResponse)
	img := b.quorum.Image()

	// Before v4 every request may create topics; from v4 the client says.
	autoCreate := b.cfg.AutoCreateTopicsEnable && (req.Version < 4 || req.AllowAutoTopicCreation)

	allTopics := req.Topics == nil || (req.Version == 0 && len(req.Topics) == 0)
	if allTopics {
		for _, name := range img.TopicNames() {
			resp.Topics = append(resp.Topics, metadataTopic(img.Topics[name]))
		}
	}
	for _, rt := range req.Topics {
		if allTopics {
			break
		}
		var t *metadata.Topic
		switch {
		case rt.Topic != nil:
			t = img.Topics[*rt.Topic]
			if t == nil && autoCreate {
				var err error
				t, err = b.autoCreateTopic(ctx, *rt.Topic)
				if err != nil {
					st := kmsg.NewMetadataResponseTopic()
					st.Topic = rt.Topic
					st.ErrorCode = errorCode(err)
					resp.Topics = append(resp.Topics, st)
					continue
				}
			}
			if t == nil {
				st := kmsg.NewMetadataResponseTopic()
				st.Topic = rt.Topic
				st.ErrorCode = kerr.UnknownTopicOrPartition.Code
				if metadata.ValidateTopicName(*rt.Topic) != nil {
					st.ErrorCode = kerr.InvalidTopicException.Code
				}
				resp.Topics = append(resp.Topics, st)
				continue
			}
		default:
			t = img.TopicsByID[metadata.UUID(rt.TopicID)]
			if t == nil {
				st := kmsg.NewMetadataResponseTopic()
				st.TopicID = rt.TopicID
				st.ErrorCode = kerr.UnknownTopicID.Code
				resp.Topics = append(resp.Topics, st)
				continue
			}
		}
		resp.Topics = append(resp.Topics, metadataTopic(t))
	}

	// Brokers come from the image after any auto-creation.
	img = b.quorum.Image()
	for _, br := range listedBrokers(img) {
		rb := kmsg.NewMetadataResponseBroker()
		rb.NodeID = br.ID
		rb.Host = br.Host
		rb.Port = br.Port
		if br.Rack != "" {
			rb.Rack = kmsg.StringPtr(br.Rack)
		}
		resp.Brokers = append(resp.Brokers, rb)
	}
	resp.ClusterID = kmsg.StringPtr(img.ClusterID)
	resp.ControllerID = b.controllerIDForClients(img)
	return resp, nil
}

// listedBrokers are the brokers told to clients: the registered ones that are not
// fenced (a fenced broker leads nothing and may be down), sorted by id.
func listedBrokers(img *metadata.Image) []metadata.Broker {
	var out []metadata.Broker
	for _, id := range img.BrokerIDs() {
		if br := img.Brokers[id]; !br.Fenced {
			out = append(out, br)
		}
	}
	return out
}

// controllerIDForClients is the controller id of Metadata and DescribeCluster. On one
// node it is this node. In a cluster, clients cannot reach the controllers (they serve
// only the controller listener), so, as Kafka does, a broker is named: this one, which
// forwards admin requests to the active controller.
func (b *Broker) controllerIDForClients(img *metadata.Image) int32 {
	if b.cluster == nil {
		return img.ControllerID
	}
	return b.cfg.NodeID
}

// metadataTopic describes one topic for a Metadata response.
func metadataTopic(t *metadata.Topic) kmsg.MetadataResponseTopic {
	st := kmsg.NewMetadataResponseTopic()
	st.Topic = kmsg.StringPtr(t.Name)
	st.TopicID = t.ID
	st.IsInternal = isInternalTopic(t.Name)
	for _, p := range t.Partitions {
		sp := kmsg.NewMetadataResponseTopicPartition()
		sp.Partition = p.ID
		sp.Leader = p.Leader
		sp.LeaderEpoch = p.LeaderEpoch
		sp.Replicas = p.Replicas
		sp.ISR = p.ISR
		if p.Leader < 0 {
			sp.ErrorCode = kerr.LeaderNotAvailable.Code
		}
		st.Partitions = append(st.Partitions, sp)
	}
	return st
}

// autoCreateTopic creates a topic with the broker defaults, for Metadata and Produce
// (auto.create.topics.enable). A topic created concurrently by another request is
// returned as if created here.
func (b *Broker) autoCreateTopic(ctx context.Context, name string) (*metadata.Topic, error) {
	if isInternalTopic(name) {
		return nil, kerr.UnknownTopicOrPartition
	}
	t, err := b.createTopic(ctx, metadata.CreateTopicSpec{Name: name, NumPartitions: -1, ReplicationFactor: -1})
	if errors.Is(err, kerr.TopicAlreadyExists) {
		if t := b.quorum.Image().Topics[name]; t != nil {
			return t, nil
		}
	}
	if err != nil {
		b.logger.Info("auto-creating topic failed", "topic", name, "err", err)
		return nil, err
	}
	b.logger.Info("auto-created topic", "topic", name, "partitions", len(t.Partitions))
	return t, nil
}

// isInternalTopic reports Kafka's internal topics.
func isInternalTopic(name string) bool {
	return name == "__consumer_offsets" || name == "__transaction_state"
}

// errorCode maps an error to its Kafka error code: the code of a wrapped *kerr.Error,
// else KAFKA_STORAGE_ERROR for I/O failures and UNKNOWN_SERVER_ERROR for the rest.
func errorCode(err error) int16 {
	if err == nil {
		return 0
	}
	var ke *kerr.Error
	if errors.As(err, &ke) {
		return ke.Code
	}
	return kerr.UnknownServerError.Code
}

// errorMessage is the message sent beside an error code, or nil for success.
func errorMessage(err error) *string {
	if err == nil {
		return nil
	}
	return kmsg.StringPtr(err.Error())
}

// createTopic creates a topic for the broker's own needs (auto-creation,
// __consumer_offsets): through the local controller on one node, through the active
// controller in a cluster.
func (b *Broker) createTopic(ctx context.Context, spec metadata.CreateTopicSpec) (*metadata.Topic, error) {
	if b.cluster != nil {
		return b.cluster.createTopic(ctx, spec)
	}
	return b.ctl.CreateTopic(ctx, spec, false)
}
