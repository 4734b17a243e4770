package broker

import (
	"context"
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/samsa-io/samsa/internal/commitlog"
	"github.com/samsa-io/samsa/internal/replica"
)

// handleProduce appends each partition's records as leader. acks=1 is answered once the
// append (and, in the group-commit flush mode, its fsync) is done; acks=all then waits,
// for every partition together and at most timeout_ms, until the ISR has the records
// (the high watermark passed them); acks=0 gets no response at all.
func (b *Broker) handleProduce(ctx context.Context, _ *conn, kreq kmsg.Request) (kmsg.Response, error) {
	req := kreq.(*kmsg.ProduceRequest)
	resp := req.ResponseKind().(*kmsg.ProduceResponse)
	// pending is an acks=all append to wait for; topic and partition index resp.
	type pending struct {
		p                *replica.Partition
		topic, partition int
		last             int64
		epoch            int32
	}
	var waits []pending
	for _, rt := range req.Topics {
		st := kmsg.NewProduceResponseTopic()
		st.Topic = rt.Topic
		st.TopicID = rt.TopicID
		for _, rp := range rt.Partitions {
			sp := kmsg.NewProduceResponseTopicPartition()
			sp.Partition = rp.Partition
			p, res, epoch, err := b.producePartition(ctx, req, rt.Topic, rp)
			if err != nil {
				b.produceError(&sp, rt.Topic, err)
			} else {
				sp.BaseOffset = res.BaseOffset
				sp.LogAppendTime = res.LogAppendTime
				sp.LogStartOffset = res.LogStartOffset
				if req.Acks == -1 {
					waits = append(waits, pending{p: p, topic: len(resp.Topics), partition: len(st.Partitions), last: res.LastOffset, epoch: epoch})
				}
			}
			st.Partitions = append(st.Partitions, sp)
		}
		resp.Topics = append(resp.Topics, st)
	}
	if len(waits) > 0 {
		// Every partition was appended first; now they replicate in parallel, so waiting
		// for them one after the other under one deadline waits as long as the slowest.
		wctx, cancel := context.WithTimeout(ctx, time.Duration(max(req.TimeoutMillis, 0))*time.Millisecond)
		defer cancel()
		for _, w := range waits {
			if err := w.p.WaitForCommit(wctx, w.last, w.epoch); err != nil {
				b.produceError(&resp.Topics[w.topic].Partitions[w.partition], w.p.TP.Topic, err)
			}
		}
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

// produceError sets a partition's error and clears its offsets.
func (b *Broker) produceError(sp *kmsg.ProduceResponseTopicPartition, topic string, err error) {
	sp.ErrorCode = errorCode(err)
	if sp.ErrorCode == kerr.UnknownServerError.Code {
		b.logger.Error("produce", "topic", topic, "partition", sp.Partition, "err", err)
		sp.ErrorCode = kerr.KafkaStorageError.Code
	}
	sp.ErrorMessage = errorMessage(err)
	sp.BaseOffset = -1
	sp.LogAppendTime = -1
	sp.LogStartOffset = -1
}

// producePartition appends one partition's records as its leader. It returns the
// partition and the leader epoch of the append, for an acks=all wait.
func (b *Broker) producePartition(ctx context.Context, req *kmsg.ProduceRequest, topic string, rp kmsg.ProduceRequestTopicPartition) (*replica.Partition, commitlog.AppendResult, int32, error) {
	fail := func(err error) (*replica.Partition, commitlog.AppendResult, int32, error) {
		return nil, commitlog.AppendResult{}, -1, err
	}
	if req.Acks != 0 && req.Acks != 1 && req.Acks != -1 {
		return fail(fmt.Errorf("broker: acks=%d: %w", req.Acks, kerr.InvalidRequiredAcks))
	}
	if req.TransactionID != nil {
		return fail(fmt.Errorf("broker: transactions are not supported yet: %w", kerr.InvalidRequest))
	}
	if isInternalTopic(topic) {
		return fail(fmt.Errorf("broker: %s is an internal topic: %w", topic, kerr.InvalidTopicException))
	}
	img := b.quorum.Image()
	t := img.Topics[topic]
	if t == nil && b.cfg.AutoCreateTopicsEnable {
		var err error
		if t, err = b.autoCreateTopic(ctx, topic); err != nil {
			return fail(err)
		}
	}
	if t == nil || rp.Partition < 0 || int(rp.Partition) >= len(t.Partitions) {
		return fail(fmt.Errorf("broker: %s-%d: %w", topic, rp.Partition, kerr.UnknownTopicOrPartition))
	}
	p, err := b.replicas.Get(commitlog.TopicPartition{Topic: topic, Partition: rp.Partition})
	if err != nil {
		return fail(err)
	}
	if len(rp.Records) == 0 {
		return fail(fmt.Errorf("broker: %s-%d: no records: %w", topic, rp.Partition, kerr.CorruptMessage))
	}
	if err := b.checkProducerID(rp.Records); err != nil {
		return fail(err)
	}
	res, epoch, err := p.AppendAsLeader(rp.Records, req.Acks)
	if err != nil {
		return fail(err)
	}
	return p, res, epoch, nil
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
