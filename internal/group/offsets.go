package group

import (
	"sort"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// This file is the part every group type shares: committed offsets (OffsetCommit,
// OffsetFetch, OffsetDelete) and their expiry.

// OffsetCommit handles an OffsetCommit request.
func (c *Coordinator) OffsetCommit(req *kmsg.OffsetCommitRequest) *kmsg.OffsetCommitResponse {
	resp := req.ResponseKind().(*kmsg.OffsetCommitResponse)
	codes := make([][]int16, len(req.Topics))
	var commits []topicPartition
	var values []offset
	now := c.nowMs()
	for i, rt := range req.Topics {
		codes[i] = make([]int16, len(rt.Partitions))
		n := c.parts(rt.Topic)
		for j, rp := range rt.Partitions {
			switch {
			case rp.Partition < 0 || rp.Partition >= n:
				codes[i][j] = kerr.UnknownTopicOrPartition.Code
			case rp.Metadata != nil && len(*rp.Metadata) > c.cfg.OffsetMetadataMaxBytes:
				codes[i][j] = kerr.OffsetMetadataTooLarge.Code
			default:
				o := offset{offset: rp.Offset, leaderEpoch: -1, commitTime: now}
				if req.Version >= 6 {
					o.leaderEpoch = rp.LeaderEpoch
				}
				if rp.Metadata != nil {
					o.metadata = *rp.Metadata
				}
				commits = append(commits, topicPartition{rt.Topic, rp.Partition})
				values = append(values, o)
				codes[i][j] = -1 // filled in below
			}
		}
	}
	var instanceID *string
	if req.Version >= 7 {
		instanceID = req.InstanceID
	}
	err := c.commit(req.Group, req.MemberID, instanceID, req.Generation, req.Version, commits, values)
	for i, rt := range req.Topics {
		st := kmsg.NewOffsetCommitResponseTopic()
		st.Topic = rt.Topic
		for j, rp := range rt.Partitions {
			sp := kmsg.NewOffsetCommitResponseTopicPartition()
			sp.Partition = rp.Partition
			sp.ErrorCode = codes[i][j]
			if sp.ErrorCode == -1 {
				sp.ErrorCode = errCode(err)
			}
			st.Partitions = append(st.Partitions, sp)
		}
		resp.Topics = append(resp.Topics, st)
	}
	return resp
}

// commit checks the committer's membership and stores the offsets.
func (c *Coordinator) commit(id, memberID string, instanceID *string, generation int32, version int16, tps []topicPartition, offs []offset) error {
	if len(tps) == 0 {
		// Nothing valid to commit; still check the coordinator as Kafka would.
		return c.checkGroupID(id)
	}
	// A commit with generation -1 comes from a client that manages its partitions
	// itself: it may create the group. Any other needs an existing group.
	g, err := c.lockGroup(id, generation < 0)
	if err != nil {
		return err
	}
	if g == nil {
		return kerr.IllegalGeneration
	}
	defer g.mu.Unlock()
	if g.typ == TypeConsumer && g.state != StateDead {
		// The generation is the member epoch of a consumer group member.
		if err := validateConsumerCommitLocked(g, memberID, generation, version, tps, c.topicID); err != nil {
			return err
		}
		return c.storeOffsetsLocked(g, tps, offs)
	}
	switch {
	case g.state == StateDead:
		return kerr.CoordinatorNotAvailable
	case g.isStaticMemberFenced(instanceID, memberID):
		return kerr.FencedInstanceID
	case generation < 0 && g.state == StateEmpty:
		// A simple (non-group) commit.
	case g.members[memberID] == nil:
		return kerr.UnknownMemberID
	case generation != g.generation:
		return kerr.IllegalGeneration
	case g.state == StateCompletingRebalance:
		return kerr.RebalanceInProgress
	default:
		// Stable or PreparingRebalance: a member of this generation commits what it
		// consumed before rejoining, as eager consumers do.
		c.heartbeatLocked(g, g.members[memberID])
	}
	return c.storeOffsetsLocked(g, tps, offs)
}

// storeOffsetsLocked writes committed offsets and applies them once stored.
func (c *Coordinator) storeOffsetsLocked(g *group, tps []topicPartition, offs []offset) error {
	id := g.id
	recs := make([]Record, len(tps))
	for i, tp := range tps {
		recs[i] = Record{Key: offsetKey(id, tp), Value: offsetValue(offs[i])}
	}
	if err := c.writeLocked(g, recs); err != nil {
		return storeError(err, true)
	}
	for i, tp := range tps {
		g.offsets[tp] = offs[i]
	}
	return nil
}

// OffsetFetch handles an OffsetFetch request (v8+: several groups). Requiring stable
// offsets (v7+) changes nothing: without transactions no offset is ever pending.
func (c *Coordinator) OffsetFetch(req *kmsg.OffsetFetchRequest) *kmsg.OffsetFetchResponse {
	resp := req.ResponseKind().(*kmsg.OffsetFetchResponse)
	if req.Version >= 8 {
		for _, rg := range req.Groups {
			var topics []kmsg.OffsetFetchRequestTopic
			if rg.Topics != nil {
				topics = make([]kmsg.OffsetFetchRequestTopic, 0, len(rg.Topics))
				for _, t := range rg.Topics {
					topics = append(topics, kmsg.OffsetFetchRequestTopic{Topic: t.Topic, Partitions: t.Partitions})
				}
			}
			var member *fetchingMember
			if req.Version >= 9 {
				member = &fetchingMember{id: rg.MemberID, epoch: rg.MemberEpoch}
			}
			fetched, err := c.fetchOffsets(rg.Group, topics, rg.Topics == nil, member)
			sg := kmsg.NewOffsetFetchResponseGroup()
			sg.Group = rg.Group
			sg.ErrorCode = errCode(err)
			for _, t := range fetched {
				st := kmsg.NewOffsetFetchResponseGroupTopic()
				st.Topic = t.Topic
				for _, p := range t.Partitions {
					sp := kmsg.NewOffsetFetchResponseGroupTopicPartition()
					sp.Partition, sp.Offset, sp.LeaderEpoch, sp.Metadata, sp.ErrorCode = p.Partition, p.Offset, p.LeaderEpoch, p.Metadata, p.ErrorCode
					st.Partitions = append(st.Partitions, sp)
				}
				sg.Topics = append(sg.Topics, st)
			}
			resp.Groups = append(resp.Groups, sg)
		}
		return resp
	}
	// Before v2 a null topic list was not allowed; an empty one means none.
	all := req.Topics == nil && req.Version >= 2
	fetched, err := c.fetchOffsets(req.Group, req.Topics, all, nil)
	resp.Topics = fetched
	if err != nil {
		if req.Version >= 2 {
			resp.ErrorCode = errCode(err)
		} else {
			// v0 and v1 have no top-level error: each partition carries it.
			for i := range resp.Topics {
				for j := range resp.Topics[i].Partitions {
					resp.Topics[i].Partitions[j].ErrorCode = errCode(err)
				}
			}
		}
	}
	return resp
}

// fetchingMember is the member an OffsetFetch v9+ names, checked in consumer groups.
type fetchingMember struct {
	id    *string
	epoch int32
}

// fetchOffsets returns the committed offsets of the requested partitions (all of the
// group's with all), -1 for those without one.
func (c *Coordinator) fetchOffsets(id string, topics []kmsg.OffsetFetchRequestTopic, all bool, member *fetchingMember) ([]kmsg.OffsetFetchResponseTopic, error) {
	missing := func() []kmsg.OffsetFetchResponseTopic {
		var out []kmsg.OffsetFetchResponseTopic
		for _, rt := range topics {
			st := kmsg.NewOffsetFetchResponseTopic()
			st.Topic = rt.Topic
			for _, p := range rt.Partitions {
				sp := kmsg.NewOffsetFetchResponseTopicPartition()
				sp.Partition, sp.Offset, sp.LeaderEpoch, sp.Metadata = p, -1, -1, kmsg.StringPtr("")
				st.Partitions = append(st.Partitions, sp)
			}
			out = append(out, st)
		}
		return out
	}
	g, err := c.lockGroup(id, false)
	if err != nil {
		return missing(), err
	}
	if g == nil {
		return missing(), nil
	}
	defer g.mu.Unlock()
	if member != nil && g.typ == TypeConsumer && g.state != StateDead {
		if err := validateConsumerFetchLocked(g, member.id, member.epoch); err != nil {
			return missing(), err
		}
	}
	if all {
		byTopic := make(map[string][]int32)
		for tp := range g.offsets {
			byTopic[tp.topic] = append(byTopic[tp.topic], tp.partition)
		}
		topics = topics[:0]
		for t, ps := range byTopic {
			sort.Slice(ps, func(i, j int) bool { return ps[i] < ps[j] })
			topics = append(topics, kmsg.OffsetFetchRequestTopic{Topic: t, Partitions: ps})
		}
		sort.Slice(topics, func(i, j int) bool { return topics[i].Topic < topics[j].Topic })
	}
	out := make([]kmsg.OffsetFetchResponseTopic, 0, len(topics))
	for _, rt := range topics {
		st := kmsg.NewOffsetFetchResponseTopic()
		st.Topic = rt.Topic
		for _, p := range rt.Partitions {
			sp := kmsg.NewOffsetFetchResponseTopicPartition()
			sp.Partition, sp.Offset, sp.LeaderEpoch, sp.Metadata = p, -1, -1, kmsg.StringPtr("")
			if o, ok := g.offsets[topicPartition{rt.Topic, p}]; ok {
				sp.Offset, sp.LeaderEpoch, sp.Metadata = o.offset, o.leaderEpoch, kmsg.StringPtr(o.metadata)
			}
			st.Partitions = append(st.Partitions, sp)
		}
		out = append(out, st)
	}
	return out, nil
}

// OffsetDelete handles an OffsetDelete request: offsets of topics no member consumes are
// deleted.
func (c *Coordinator) OffsetDelete(req *kmsg.OffsetDeleteRequest) *kmsg.OffsetDeleteResponse {
	resp := req.ResponseKind().(*kmsg.OffsetDeleteResponse)
	codes, err := c.deleteOffsets(req)
	if err != nil {
		resp.ErrorCode = errCode(err)
		return resp
	}
	for i, rt := range req.Topics {
		st := kmsg.NewOffsetDeleteResponseTopic()
		st.Topic = rt.Topic
		for j, rp := range rt.Partitions {
			sp := kmsg.NewOffsetDeleteResponseTopicPartition()
			sp.Partition = rp.Partition
			sp.ErrorCode = codes[i][j]
			st.Partitions = append(st.Partitions, sp)
		}
		resp.Topics = append(resp.Topics, st)
	}
	return resp
}

func (c *Coordinator) deleteOffsets(req *kmsg.OffsetDeleteRequest) ([][]int16, error) {
	g, err := c.lockGroup(req.Group, false)
	if err != nil {
		return nil, err
	}
	if g == nil {
		return nil, kerr.GroupIDNotFound
	}
	defer g.mu.Unlock()
	if g.state == StateDead {
		return nil, kerr.GroupIDNotFound
	}
	subscribed, known := g.subscribedTopics()
	if !known {
		// Members whose subscriptions we cannot read may consume anything.
		return nil, kerr.NonEmptyGroup
	}
	codes := make([][]int16, len(req.Topics))
	var recs []Record
	var del []topicPartition
	for i, rt := range req.Topics {
		codes[i] = make([]int16, len(rt.Partitions))
		for j, rp := range rt.Partitions {
			if subscribed[rt.Topic] {
				codes[i][j] = kerr.GroupSubscribedToTopic.Code
				continue
			}
			tp := topicPartition{rt.Topic, rp.Partition}
			if _, ok := g.offsets[tp]; ok {
				recs = append(recs, Record{Key: offsetKey(g.id, tp)})
				del = append(del, tp)
			}
		}
	}
	if err := c.writeLocked(g, recs); err != nil {
		return nil, storeError(err, true)
	}
	for _, tp := range del {
		delete(g.offsets, tp)
	}
	return codes, nil
}

// expireOffsets deletes offsets older than offsets.retention.minutes, as Kafka's
// cleanupGroupMetadata does: all offsets of a group empty for that long (counted from
// when it became empty, or from the commit for groups that never had members), and
// offsets of topics a consumer group no longer subscribes to. An empty group left
// without offsets is deleted.
func (c *Coordinator) expireOffsets() {
	groups, _ := c.allGroups()
	now := c.clock.Now()
	for _, g := range groups {
		g.mu.Lock()
		c.expireGroupLocked(g, now)
		g.mu.Unlock()
	}
}

func (c *Coordinator) expireGroupLocked(g *group, now time.Time) {
	if g.state == StateDead {
		return
	}
	retention := c.cfg.OffsetsRetention
	expired := func(o offset) bool {
		return time.UnixMilli(o.commitTime).Add(retention).Before(now) || time.UnixMilli(o.commitTime).Add(retention).Equal(now)
	}
	var del []topicPartition
	switch {
	case g.state == StateEmpty:
		for tp, o := range g.offsets {
			base := o
			if g.protocolType != "" && g.stateTime.UnixMilli() > o.commitTime {
				base.commitTime = g.stateTime.UnixMilli()
			}
			if expired(base) {
				del = append(del, tp)
			}
		}
	default:
		subscribed, known := g.subscribedTopics()
		if !known || g.state != StateStable {
			break
		}
		for tp, o := range g.offsets {
			if !subscribed[tp.topic] && expired(o) {
				del = append(del, tp)
			}
		}
	}
	recs := make([]Record, 0, len(del)+1)
	for _, tp := range del {
		recs = append(recs, Record{Key: offsetKey(g.id, tp)})
	}
	removeGroup := g.state == StateEmpty && len(g.offsets) == len(del) && len(g.pending) == 0
	if removeGroup {
		recs = append(recs, g.groupTombstonesLocked()...)
	}
	if len(del) == 0 && !removeGroup {
		return
	}
	if err := c.writeLocked(g, recs); err != nil {
		return
	}
	for _, tp := range del {
		delete(g.offsets, tp)
	}
	if len(del) > 0 {
		c.logger.Info("group: expired offsets", "group", g.id, "count", len(del))
	}
	if removeGroup {
		c.removeGroupLocked(g)
	}
}
