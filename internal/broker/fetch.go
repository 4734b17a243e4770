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
//
// A fetch with a replica id (ReplicaID, or ReplicaState.ID from v15) is a follower's:
// it reads up to the log end offset instead of the high watermark and records the
// follower's progress (replica.Partition.ReadForFollower). Only a broker of the cluster
// may send one (CVE-2018-1288); anyone else gets TOPIC_AUTHORIZATION_FAILED for every
// partition, as Kafka answers.
func (b *Broker) handleFetch(ctx context.Context, c *conn, kreq kmsg.Request) (kmsg.Response, error) {
	req := kreq.(*kmsg.FetchRequest)
	if req.SessionID != 0 || req.SessionEpoch > 0 {
		resp := req.ResponseKind().(*kmsg.FetchResponse)
		resp.ErrorCode = kerr.FetchSessionIDNotFound.Code
		return resp, nil
	}
	replicaID := req.ReplicaID
	if req.Version >= 15 {
		replicaID = req.ReplicaState.ID
	}
	if replicaID >= 0 && !c.fromBroker() {
		return refuseReplicaFetch(req), nil
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
		resp, bytes, parts, respondNow := b.fetchOnce(req, replicaID)
		if bytes >= int(req.MinBytes) || req.MaxWaitMillis <= 0 || !time.Now().Before(deadline) || resp.ErrorCode != 0 || respondNow {
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

// refuseReplicaFetch answers a replica fetch from a peer that is not a broker:
// TOPIC_AUTHORIZATION_FAILED for every partition.
func refuseReplicaFetch(req *kmsg.FetchRequest) *kmsg.FetchResponse {
	resp := req.ResponseKind().(*kmsg.FetchResponse)
	for _, rt := range req.Topics {
		st := kmsg.NewFetchResponseTopic()
		st.Topic, st.TopicID = rt.Topic, rt.TopicID
		for _, rp := range rt.Partitions {
			sp := kmsg.NewFetchResponseTopicPartition()
			sp.Partition = rp.Partition
			sp.ErrorCode = kerr.TopicAuthorizationFailed.Code
			sp.HighWatermark, sp.LastStableOffset, sp.LogStartOffset = -1, -1, -1
			sp.RecordBatches = []byte{}
			st.Partitions = append(st.Partitions, sp)
		}
		resp.Topics = append(resp.Topics, st)
	}
	return resp
}

// fetchOnce reads every requested partition once; replicaID >= 0 makes it a follower's
// fetch. It returns the response, the number of record bytes in it, and the partitions
// it could read (for watching), and whether it must be sent without waiting for more
// data (a partition failed, or a follower must truncate first).
func (b *Broker) fetchOnce(req *kmsg.FetchRequest, replicaID int32) (resp *fetchResponse, total int, parts []*replica.Partition, respondNow bool) {
	resp = &fetchResponse{FetchResponse: req.ResponseKind().(*kmsg.FetchResponse)}
	img := b.quorum.Image()
	maxBytes := int(req.MaxBytes)
	if maxBytes <= 0 || maxBytes > fetchMaxBytes {
		maxBytes = fetchMaxBytes
	}
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
			p, err := b.partition(commitlog.TopicPartition{Topic: name, Partition: rp.Partition})
			if err != nil {
				sp.ErrorCode = errorCode(err)
				st.Partitions = append(st.Partitions, sp)
				continue
			}
			parts = append(parts, p)
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
			fs := commitlog.FileSlice{HighWatermark: -1}
			if replicaID >= 0 {
				var fr replica.FollowerRead
				fr, err = p.ReadForFollower(replica.FollowerFetch{
					ReplicaID:          replicaID,
					FetchOffset:        rp.FetchOffset,
					LastFetchedEpoch:   rp.LastFetchedEpoch,
					CurrentLeaderEpoch: rp.CurrentLeaderEpoch,
					LogStartOffset:     rp.LogStartOffset,
					MaxBytes:           limit,
					MinOneBatch:        total == 0,
				})
				fs = fr.Slice
				fs.HighWatermark = fr.HighWatermark
				sp.LogStartOffset = fr.LogStartOffset
				if fr.Diverging {
					sp.DivergingEpoch.Epoch, sp.DivergingEpoch.EndOffset = fr.DivergingEpoch, fr.DivergingEndOffset
					respondNow = true // the follower must truncate before it can fetch more
				}
			} else if err = leaderOf(p, rp.CurrentLeaderEpoch); err == nil {
				sp.LogStartOffset = p.Log.LogStartOffset()
				// The log caps the slice at the high watermark, which it returns.
				fs, err = p.Log.ReadFile(rp.FetchOffset, limit, math.MaxInt64, total == 0)
				if err != nil {
					fs.HighWatermark = p.Log.HighWatermark()
				}
			}
			if err != nil {
				sp.ErrorCode = errorCode(err)
				if sp.ErrorCode == kerr.UnknownServerError.Code {
					b.logger.Error("fetch", "topic", name, "partition", rp.Partition, "err", err)
					sp.ErrorCode = kerr.KafkaStorageError.Code
				}
				respondNow = true
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
	return resp, total, parts, respondNow
}

// leaderOf checks that a client's request for p may be served here: the client's
// leader epoch (KIP-320) matches, and this node leads the partition (a follower, or a
// partition without a leader, answers NOT_LEADER_OR_FOLLOWER, which makes the client
// refresh its metadata).
func leaderOf(p *replica.Partition, clientEpoch int32) error {
	if err := checkLeaderEpoch(clientEpoch, p.LeaderEpoch()); err != nil {
		return err
	}
	if !p.IsLeader() {
		return fmt.Errorf("broker: %s-%d: not the leader: %w", p.TP.Topic, p.TP.Partition, kerr.NotLeaderForPartition)
	}
	return nil
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
