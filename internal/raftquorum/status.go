package raftquorum

import (
	"cmp"
	"slices"
	"strconv"
	"time"

	"github.com/hashicorp/raft"
)

// Status is the quorum as this node sees it, for DescribeQuorum.
type Status struct {
	LeaderID     int32  // -1 when no leader is known
	Term         uint64 // raft term: the quorum's leader epoch
	CommitIndex  uint64 // last raft index known committed
	AppliedIndex uint64 // last raft index applied to this node's image
	Voters       []VoterStatus
	// Observers are the non-voting members (nodes with the controller role outside
	// controller.quorum.voters), reported like Voters.
	Observers []VoterStatus
}

// VoterStatus is one voter's replication state.
//
// On the leader, LastIndex is the voter's match index: for the leader itself its last
// log index, for a follower the highest index it acknowledged in the current term
// (seen by the transport; 0 until the follower first answered an AppendEntries that
// carried a log position). LastContact is now for the leader itself and the time of the
// follower's last successful answer (heartbeats included) otherwise.
//
// On a follower only its own LastIndex (its last log index) and the leader's
// LastContact (when this node last heard from it) are known; the rest is 0 / zero time.
type VoterStatus struct {
	ID          int32
	LastIndex   uint64
	LastContact time.Time
}

// Status reports the quorum's state as known locally.
func (q *Quorum) Status() Status {
	st := Status{
		LeaderID:     -1,
		Term:         q.raft.CurrentTerm(),
		CommitIndex:  q.raft.CommitIndex(),
		AppliedIndex: q.raft.AppliedIndex(),
	}
	if id, ok := q.Leader(); ok {
		st.LeaderID = id
	}
	isLeader := q.raft.State() == raft.Leader
	var servers []raft.Server
	if f := q.raft.GetConfiguration(); f.Error() == nil {
		servers = f.Configuration().Servers
	}
	now := time.Now()
	for _, s := range servers {
		n, err := strconv.ParseInt(string(s.ID), 10, 32)
		if err != nil {
			continue // every server id is a node id written by Open
		}
		v := VoterStatus{ID: int32(n)}
		switch {
		case s.ID == q.id:
			v.LastIndex = q.raft.LastIndex()
			if isLeader {
				v.LastContact = now
			}
		case isLeader:
			if p, ok := q.trans.peer(s.ID, st.Term); ok {
				v.LastIndex, v.LastContact = p.matchIndex, p.lastContact
			}
		case v.ID == st.LeaderID:
			v.LastContact = q.raft.LastContact()
		}
		if s.Suffrage == raft.Voter {
			st.Voters = append(st.Voters, v)
		} else {
			st.Observers = append(st.Observers, v)
		}
	}
	slices.SortFunc(st.Voters, func(a, b VoterStatus) int { return cmp.Compare(a.ID, b.ID) })
	slices.SortFunc(st.Observers, func(a, b VoterStatus) int { return cmp.Compare(a.ID, b.ID) })
	return st
}
