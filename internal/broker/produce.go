package broker

import (
	"context"
	"fmt"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/samsa-io/samsa/internal/commitlog"
)

// handleProduce appends each partition's records. On one node the ISR is the leader
// alone, so acks=1 and acks=all are both answered once the append (and, in the
// group-commit flush mode, its fsync) is done; acks=0 gets no response at all.
func (b *Broker) handleProduce(ctx context.Context, _ *conn, kreq kmsg.Request) (kmsg.Response, error) {
	req := kreq.(*kmsg.ProduceRequest)
	resp := req.ResponseKind().(*kmsg.ProduceResponse)
	for _, rt := range req.Topics {
		st := kmsg.NewProduceResponseTopic()
		st.Topic = rt.Topic
		st.TopicID = rt.TopicID
		for _, rp := range rt.Partitions {
			sp := kmsg.NewProduceResponseTopicPartition()
			sp.Partition = rp.Partition
			res, err := b.producePartition(ctx, req, rt.Topic, rp)
			if err != nil {
				sp.ErrorCode = errorCode(err)
				if sp.ErrorCode == kerr.UnknownServerError.Code {
					b.logger.Error("produce", "topic", rt.Topic, "partition", rp.Partition, "err", err)
					sp.ErrorCode = kerr.KafkaStorageError.Code
				}
				sp.ErrorMessage = errorMessage(err)
				sp.BaseOffset = -1
				sp.LogAppendTime = -1
				sp.LogStartOffset = -1
			} else {
				sp.BaseOffset = res.BaseOffset
				sp.LogAppendTime = res.LogAppendTime
				sp.LogStartOffset = res.LogStartOffset
			}
			st.Partitions = append(st.Partitions, sp)
		}
		resp.Topics = append(resp.Topics, st)
	}
	if req.Acks == 0 {
		// No response is sent, so, as Kafka does, a failure closes the connection: it
		// is the only way the client can learn of it.
		for _, st := range resp.Topics {
			for _, sp := range st.Partitions {
				if sp.ErrorCode != 0 {
					return nil, fmt.Errorf("broker: acks=0 produce to %s-%d failed with error %d: %w", st.Topic, sp.Partition, sp.ErrorCode, errClose)
				}
			}
		}
		return nil, nil
	}
	return resp, nil
}

func (b *Broker) producePartition(ctx context.Context, req *kmsg.ProduceRequest, topic string, rp kmsg.ProduceRequestTopicPartition) (commitlog.AppendResult, error) {
	if req.Acks != 0 && req.Acks != 1 && req.Acks != -1 {
		return commitlog.AppendResult{}, fmt.Errorf("broker: acks=%d: %w", req.Acks, kerr.InvalidRequiredAcks)
	}
	if req.TransactionID != nil {
		return commitlog.AppendResult{}, fmt.Errorf("broker: transactions are not supported yet: %w", kerr.InvalidRequest)
	}
	if isInternalTopic(topic) {
		return commitlog.AppendResult{}, fmt.Errorf("broker: %s is an internal topic: %w", topic, kerr.InvalidTopicException)
	}
	img := b.quorum.Image()
	t := img.Topics[topic]
	if t == nil && b.cfg.AutoCreateTopicsEnable {
		var err error
		if t, err = b.autoCreateTopic(ctx, topic); err != nil {
			return commitlog.AppendResult{}, err
		}
	}
	if t == nil || rp.Partition < 0 || int(rp.Partition) >= len(t.Partitions) {
		return commitlog.AppendResult{}, fmt.Errorf("broker: %s-%d: %w", topic, rp.Partition, kerr.UnknownTopicOrPartition)
	}
	p, err := b.replicas.Get(commitlog.TopicPartition{Topic: topic, Partition: rp.Partition})
	if err != nil {
		return commitlog.AppendResult{}, err
	}
	if len(rp.Records) == 0 {
		return commitlog.AppendResult{}, fmt.Errorf("broker: %s-%d: no records: %w", topic, rp.Partition, kerr.CorruptMessage)
	}
	if err := b.checkProducerID(rp.Records); err != nil {
		return commitlog.AppendResult{}, err
	}
	return p.Append(rp.Records)
}

// checkProducerID rejects an idempotent batch whose producer id this cluster never
// issued: UNKNOWN_PRODUCER_ID makes the client fetch a new one. (An issued id that the
// partition has no state for is accepted with any sequence, as Kafka does, because its
// state may have expired.)
func (b *Broker) checkProducerID(records []byte) error {
	h, err := commitlog.ParseBatchHeader(records)
	if err != nil {
		return fmt.Errorf("broker: %w", err)
	}
	if h.ProducerID >= 0 && h.ProducerID >= b.quorum.Image().NextProducerID {
		return fmt.Errorf("broker: producer id %d was never issued: %w", h.ProducerID, kerr.UnknownProducerID)
	}
	return nil
}
