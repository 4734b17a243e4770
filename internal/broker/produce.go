package broker

import (
	"context"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
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
	// The partitions' appends, each filling its slot of the response.
	type job struct {
		topic, partition int
		rp               *kmsg.ProduceRequestTopicPartition
		res              commitlog.AppendResult
		p                *replica.Partition
		epoch            int32
		err              error
	}
	var jobs []job
	for ti := range req.Topics {
		rt := &req.Topics[ti]
		st := kmsg.NewProduceResponseTopic()
		st.Topic = rt.Topic
		st.TopicID = rt.TopicID
		for pi := range rt.Partitions {
			sp := kmsg.NewProduceResponseTopicPartition()
			sp.Partition = rt.Partitions[pi].Partition
			st.Partitions = append(st.Partitions, sp)
			jobs = append(jobs, job{topic: ti, partition: pi, rp: &rt.Partitions[pi]})
		}
		resp.Topics = append(resp.Topics, st)
	}
	run := func(j *job) {
		j.p, j.res, j.epoch, j.err = b.producePartition(ctx, req, req.Topics[j.topic].Topic, *j.rp)
	}
	if b.appendInParallel(req) {
		parallelProduces.Add(1)
		// Appends to different partitions go to different files: copying the records
		// into the page cache (most of an append's cost) runs on every core at once.
		var wg sync.WaitGroup
		sem := make(chan struct{}, runtime.GOMAXPROCS(0))
		for i := range jobs {
			wg.Add(1)
			sem <- struct{}{}
			go func() {
				defer func() { <-sem; wg.Done() }()
				run(&jobs[i])
			}()
		}
		wg.Wait()
	} else {
		for i := range jobs {
			run(&jobs[i])
		}
	}
	for _, j := range jobs {
		sp := &resp.Topics[j.topic].Partitions[j.partition]
		if j.err != nil {
			b.produceError(sp, req.Topics[j.topic].Topic, j.err)
			continue
		}
		sp.BaseOffset = j.res.BaseOffset
		sp.LogAppendTime = j.res.LogAppendTime
		sp.LogStartOffset = j.res.LogStartOffset
		if req.Acks == -1 {
			waits = append(waits, pending{p: j.p, topic: j.topic, partition: j.partition, last: j.res.LastOffset, epoch: j.epoch})
		}
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

// parallelProduces counts the produce requests whose partitions were appended in
// parallel, so tests can tell that path was taken.
var parallelProduces atomic.Int64

// parallelAppendBytes is the size of a produce request from which its partitions are
// appended in parallel: below it, starting goroutines costs more than it saves.
const parallelAppendBytes = 256 << 10

// appendInParallel reports whether req's partitions may be appended concurrently: it
// is large, names several partitions, each once (two batches for one partition must be
// appended in order), and of topics that exist (so no two appends race to create one).
func (b *Broker) appendInParallel(req *kmsg.ProduceRequest) bool {
	// The cheap checks first: most requests are small or for one partition, and
	// must not pay for the duplicate check's map.
	n, size := 0, 0
	for _, rt := range req.Topics {
		n += len(rt.Partitions)
		for _, rp := range rt.Partitions {
			size += len(rp.Records)
		}
	}
	if n < 2 || size < parallelAppendBytes {
		return false
	}
	img := b.quorum.Image()
	seen := make(map[commitlog.TopicPartition]bool, n)
	for _, rt := range req.Topics {
		if img.Topics[rt.Topic] == nil {
			return false
		}
		for _, rp := range rt.Partitions {
			tp := commitlog.TopicPartition{Topic: rt.Topic, Partition: rp.Partition}
			if seen[tp] {
				return false
			}
			seen[tp] = true
		}
	}
	return true
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
	p, err := b.partition(commitlog.TopicPartition{Topic: topic, Partition: rp.Partition})
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
