package broker

import (
	"cmp"
	"context"
	"math"
	"slices"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/samsa-io/samsa/internal/raftquorum"
)

// clusterMetadataTopic and clusterMetadataPartition name the metadata log as KRaft
// exposes it: DescribeQuorum describes exactly this one partition.
const (
	clusterMetadataTopic           = "__cluster_metadata"
	clusterMetadataPartition int32 = 0
)

// singleNodeLeaderEpoch is the leader epoch a single node reports: its quorum is itself
// alone and never holds an election, so the epoch is that of a first election won and
// never changes. Kafka's own single-node KRaft reports a small constant in the same way.
const singleNodeLeaderEpoch = 1

// handleDescribeQuorum answers DescribeQuorum (KIP-595, KIP-836, KIP-853) as Kafka's
// KRaft leader does for the metadata log, __cluster_metadata-0:
//
//   - LeaderEpoch is the Raft term, HighWatermark the commit index; a voter's
//     LogEndOffset is its last log index (a Raft index N is the end of N entries, as a
//     Kafka log end offset N is the end of offsets 0..N-1), -1 while unknown.
//   - LastFetchTimestamp is when the leader last heard from the voter (now for itself);
//     LastCaughtUpTimestamp is the same when the voter had the leader's whole log at
//     that time, else -1: the leader keeps no history of when a lagging follower was
//     last caught up.
//   - v2's Nodes carry each voter's controller listener from controller.quorum.voters
//     (name: the first of controller.listener.names). Directory ids are zero: Samsa
//     has none.
//   - There are no observers: every Samsa node is a voter.
//
// In a cluster only the Raft leader answers; another node says NOT_LEADER_OR_FOLLOWER at
// the partition level, and broker listeners forward the request to the active
// controller. On a single node the quorum is this node alone: it leads with epoch 1 and
// its log end offset and high watermark are both the metadata image's offset.
func (b *Broker) handleDescribeQuorum(_ context.Context, _ *conn, kreq kmsg.Request) (kmsg.Response, error) {
	req := kreq.(*kmsg.DescribeQuorumRequest)
	resp := req.ResponseKind().(*kmsg.DescribeQuorumResponse)
	answered := false
	for _, rt := range req.Topics {
		st := kmsg.NewDescribeQuorumResponseTopic()
		st.Topic = rt.Topic
		for _, rp := range rt.Partitions {
			sp := kmsg.NewDescribeQuorumResponseTopicPartition()
			sp.Partition = rp.Partition
			sp.LeaderID = -1
			switch {
			case rt.Topic != clusterMetadataTopic || rp.Partition != clusterMetadataPartition:
				sp.ErrorCode = kerr.UnknownTopicOrPartition.Code
			case !b.describeQuorumPartition(&sp, time.Now()):
				sp.ErrorCode = kerr.NotLeaderForPartition.Code
			default:
				answered = true
			}
			st.Partitions = append(st.Partitions, sp)
		}
		resp.Topics = append(resp.Topics, st)
	}
	if answered {
		resp.Nodes = b.quorumNodes()
	}
	return resp, nil
}

// describeQuorumPartition fills sp with the quorum's state. It returns false, with only
// the leader id and epoch known to this node filled in, when this node is not the
// quorum leader and so cannot describe the followers.
func (b *Broker) describeQuorumPartition(sp *kmsg.DescribeQuorumResponseTopicPartition, now time.Time) bool {
	if b.cluster == nil {
		offset := b.quorum.Image().Offset
		sp.LeaderID = b.cfg.NodeID
		sp.LeaderEpoch = singleNodeLeaderEpoch
		sp.HighWatermark = offset
		v := kmsg.NewDescribeQuorumResponseTopicPartitionReplicaState()
		v.ReplicaID = b.cfg.NodeID
		v.LogEndOffset = offset
		v.LastFetchTimestamp = now.UnixMilli()
		v.LastCaughtUpTimestamp = now.UnixMilli()
		sp.CurrentVoters = append(sp.CurrentVoters, v)
		return true
	}
	st := b.cluster.raft.Status()
	sp.LeaderID = st.LeaderID
	sp.LeaderEpoch = clampInt32(st.Term)
	if st.LeaderID != b.cfg.NodeID {
		return false
	}
	sp.HighWatermark = clampInt64(st.CommitIndex)
	var leaderEnd uint64
	for _, v := range st.Voters {
		if v.ID == st.LeaderID {
			leaderEnd = v.LastIndex
		}
	}
	sp.CurrentVoters = replicaStates(st.Voters, st.LeaderID, leaderEnd)
	sp.Observers = replicaStates(st.Observers, st.LeaderID, leaderEnd)
	// Brokers without the controller role follow the log by fetching it (see
	// metadatafetch.go); the active controller reports those it has heard from.
	for id, f := range b.cluster.observers() {
		rs := kmsg.NewDescribeQuorumResponseTopicPartitionReplicaState()
		rs.ReplicaID, rs.LogEndOffset = id, -1
		if f.index > 0 {
			rs.LogEndOffset = clampInt64(f.index)
		}
		rs.LastFetchTimestamp, rs.LastCaughtUpTimestamp = f.at.UnixMilli(), -1
		if f.caughtUp {
			rs.LastCaughtUpTimestamp = rs.LastFetchTimestamp
		}
		sp.Observers = append(sp.Observers, rs)
	}
	slices.SortFunc(sp.Observers, func(x, y kmsg.DescribeQuorumResponseTopicPartitionReplicaState) int {
		return cmp.Compare(x.ReplicaID, y.ReplicaID)
	})
	return true
}

// replicaStates reports the quorum members of a Status for DescribeQuorum.
func replicaStates(members []raftquorum.VoterStatus, leaderID int32, leaderEnd uint64) []kmsg.DescribeQuorumResponseTopicPartitionReplicaState {
	var out []kmsg.DescribeQuorumResponseTopicPartitionReplicaState
	for _, v := range members {
		rs := kmsg.NewDescribeQuorumResponseTopicPartitionReplicaState()
		rs.ReplicaID = v.ID
		rs.LogEndOffset = clampInt64(v.LastIndex)
		if v.ID != leaderID && v.LastIndex == 0 {
			rs.LogEndOffset = -1 // the follower has not yet told the leader where it is
		}
		if !v.LastContact.IsZero() {
			rs.LastFetchTimestamp = v.LastContact.UnixMilli()
			if v.LastIndex >= leaderEnd {
				rs.LastCaughtUpTimestamp = rs.LastFetchTimestamp
			}
		}
		out = append(out, rs)
	}
	return out
}

// quorumNodes lists the voters' endpoints for DescribeQuorum v2: the controller
// listener of each entry of controller.quorum.voters in a cluster, the advertised client
// listener on a single node (which serves everything, the controller APIs included).
func (b *Broker) quorumNodes() []kmsg.DescribeQuorumResponseNode {
	cfg := b.cfg
	var nodes []kmsg.DescribeQuorumResponseNode
	add := func(id int32, name, host string, port int32) {
		if port < 0 || port > math.MaxUint16 {
			return // config validation keeps ports in range; never send a wrapped one
		}
		n := kmsg.NewDescribeQuorumResponseNode()
		n.NodeID = id
		l := kmsg.NewDescribeQuorumResponseNodeListener()
		l.Name, l.Host, l.Port = name, host, uint16(port)
		n.Listeners = append(n.Listeners, l)
		nodes = append(nodes, n)
	}
	if b.cluster == nil {
		name := "PLAINTEXT"
		if len(cfg.AdvertisedListeners) > 0 {
			name = cfg.AdvertisedListeners[0].Name
		} else if len(cfg.Listeners) > 0 {
			name = cfg.Listeners[0].Name
		}
		add(cfg.NodeID, name, b.advertisedHost, b.advertisedPort)
		return nodes
	}
	name := "CONTROLLER"
	if len(cfg.ControllerListenerNames) > 0 {
		name = cfg.ControllerListenerNames[0]
	}
	for _, v := range cfg.ControllerQuorumVoters {
		add(v.ID, name, v.Host, v.Port)
	}
	slices.SortFunc(nodes, func(x, y kmsg.DescribeQuorumResponseNode) int { return cmp.Compare(x.NodeID, y.NodeID) })
	return nodes
}

// describeQuorumErrorResponse answers a DescribeQuorum request with err for every
// partition asked about and at the top level: what a broker listener sends when it
// cannot reach the active controller to forward the request to.
func describeQuorumErrorResponse(req *kmsg.DescribeQuorumRequest, err error) *kmsg.DescribeQuorumResponse {
	code, msg := errorCode(err), errorMessage(err)
	resp := req.ResponseKind().(*kmsg.DescribeQuorumResponse)
	resp.ErrorCode, resp.ErrorMessage = code, msg
	for _, rt := range req.Topics {
		st := kmsg.NewDescribeQuorumResponseTopic()
		st.Topic = rt.Topic
		for _, rp := range rt.Partitions {
			sp := kmsg.NewDescribeQuorumResponseTopicPartition()
			sp.Partition, sp.ErrorCode, sp.ErrorMessage, sp.LeaderID = rp.Partition, code, msg, -1
			st.Partitions = append(st.Partitions, sp)
		}
		resp.Topics = append(resp.Topics, st)
	}
	return resp
}

func clampInt32(v uint64) int32 {
	if v > math.MaxInt32 {
		return math.MaxInt32
	}
	return int32(v)
}

func clampInt64(v uint64) int64 {
	if v > math.MaxInt64 {
		return math.MaxInt64
	}
	return int64(v)
}
