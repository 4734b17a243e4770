package broker

import (
	"context"
	"fmt"
	"math"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/samsa-io/samsa/internal/commitlog"
	"github.com/samsa-io/samsa/internal/metadata"
	"github.com/samsa-io/samsa/internal/replica"
)

// fetchMaxBytes caps one fetch response, as Kafka's fetch.max.bytes default does.
const fetchMaxBytes = 55 << 20

// handleFetch reads each requested partition from its fetch offset up to the high
// watermark. When less than min_bytes is available it waits, up to max_wait_ms, for an
// append to wake it (partitions signal their watchers when the high watermark moves),
// then reads again. Fetch sessions (KIP-227) are not created: every response carries
// session id 0, which tells clients to keep sending full fetch requests.
//
// Records are not read here: the response holds ranges of segment files
// (commitlog.Log.ReadFile) that conn.writeFetchResponse sends with sendfile(2).
func (b *Broker) handleFetch(ctx context.Context, _ *conn, kreq kmsg.Request) (kmsg.Response, error) {
	req := kreq.(*kmsg.FetchRequest)
	if req.SessionID != 0 || req.SessionEpoch > 0 {
		resp := req.ResponseKind().(*kmsg.FetchResponse)
		resp.ErrorCode = kerr.FetchSessionIDNotFound.Code
		return resp, nil
	}

	deadline := time.Now().Add(time.Duration(req.MaxWaitMillis) * time.Millisecond)
	var wake chan struct{}
	var watched []*replica.Partition
	defer func() {
		for _, p := range watched {
			p.Unwatch(wake)
		}
	}()
	for {
		resp, bytes, parts := b.fetchOnce(req)
		if bytes >= int(req.MinBytes) || req.MaxWaitMillis <= 0 || !time.Now().Before(deadline) || resp.ErrorCode != 0 {
			return resp, nil
		}
		if wake == nil {
			// Watch every partition before reading again, so an append between the
			// read above and the wait below is not missed.
			wake = make(chan struct{}, 1)
			for _, p := range parts {
				p.Watch(wake)
			}
			watched = parts
			continue
		}
		timer := time.NewTimer(time.Until(deadline))
		select {
		case <-wake:
			timer.Stop()
		case <-timer.C:
		case <-ctx.Done():
			timer.Stop()
			return resp, nil
		}
	}
}

// fetchOnce reads every requested partition once. It returns the response, the number of
// record bytes in it, and the partitions it could read (for watching).
func (b *Broker) fetchOnce(req *kmsg.FetchRequest) (*fetchResponse, int, []*replica.Partition) {
	resp := &fetchResponse{FetchResponse: req.ResponseKind().(*kmsg.FetchResponse)}
	img := b.quorum.Image()
	maxBytes := int(req.MaxBytes)
	if maxBytes <= 0 || maxBytes > fetchMaxBytes {
		maxBytes = fetchMaxBytes
	}
	total := 0
	var parts []*replica.Partition
	for _, rt := range req.Topics {
		st := kmsg.NewFetchResponseTopic()
		st.Topic = rt.Topic
		st.TopicID = rt.TopicID
		name := rt.Topic
		unknownID := false
		if req.Version >= 13 {
			if t := img.TopicsByID[metadata.UUID(rt.TopicID)]; t != nil {
				name = t.Name
			} else {
				unknownID = true
			}
		}
		for _, rp := range rt.Partitions {
			sp := kmsg.NewFetchResponseTopicPartition()
			sp.Partition = rp.Partition
			sp.HighWatermark, sp.LastStableOffset, sp.LogStartOffset = -1, -1, -1
			if unknownID {
				sp.ErrorCode = kerr.UnknownTopicID.Code
				st.Partitions = append(st.Partitions, sp)
				continue
			}
			p, err := b.replicas.Get(commitlog.TopicPartition{Topic: name, Partition: rp.Partition})
			if err != nil {
				sp.ErrorCode = errorCode(err)
				st.Partitions = append(st.Partitions, sp)
				continue
			}
			parts = append(parts, p)
			if err := checkLeaderEpoch(rp.CurrentLeaderEpoch, p.LeaderEpoch()); err != nil {
				sp.ErrorCode = errorCode(err)
				st.Partitions = append(st.Partitions, sp)
				continue
			}
			sp.LogStartOffset = p.Log.LogStartOffset()
			limit := int(rp.PartitionMaxBytes)
			if remaining := maxBytes - total; remaining < limit {
				limit = remaining
			}
			if limit < 0 {
				limit = 0
			}
			// KIP-74: the first batch of the response is sent whole even when larger
			// than the limits, so a consumer can always make progress. Like Kafka, the
			// limit may cut the last batch; clients drop a trailing partial batch.
			// The log caps the slice at the high watermark, which it returns.
			fs, err := p.Log.ReadFile(rp.FetchOffset, limit, math.MaxInt64, total == 0)
			if err != nil {
				sp.ErrorCode = errorCode(err)
				if sp.ErrorCode == kerr.UnknownServerError.Code {
					b.logger.Error("fetch", "topic", name, "partition", rp.Partition, "err", err)
					sp.ErrorCode = kerr.KafkaStorageError.Code
				}
				fs.HighWatermark = p.Log.HighWatermark()
			}
			sp.HighWatermark = fs.HighWatermark
			sp.LastStableOffset = fs.HighWatermark
			// Empty, not null: librdkafka rejects a null record set. A partition with
			// data gets its bytes when the response is written.
			sp.RecordBatches = []byte{}
			if fs.Size > 0 {
				resp.files = append(resp.files, fetchFile{topic: len(resp.Topics), partition: len(st.Partitions), FileSlice: fs})
				total += int(fs.Size)
			}
			st.Partitions = append(st.Partitions, sp)
		}
		resp.Topics = append(resp.Topics, st)
	}
	return resp, total, parts
}

// checkLeaderEpoch compares a client's current leader epoch (KIP-320) with ours; -1
// means the client does not know it.
func checkLeaderEpoch(clientEpoch, ourEpoch int32) error {
	switch {
	case clientEpoch < 0 || clientEpoch == ourEpoch:
		return nil
	case clientEpoch < ourEpoch:
		return fmt.Errorf("broker: leader epoch %d is older than %d: %w", clientEpoch, ourEpoch, kerr.FencedLeaderEpoch)
	default:
		return fmt.Errorf("broker: leader epoch %d is newer than %d: %w", clientEpoch, ourEpoch, kerr.UnknownLeaderEpoch)
	}
}
