package group

import (
	"fmt"
	"strings"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// This file is the admin side of consumer groups: ConsumerGroupDescribe, their view in
// DescribeGroups, and turning an empty consumer group back into a classic one.

// ConsumerGroupDescribe handles a ConsumerGroupDescribe request.
func (c *Coordinator) ConsumerGroupDescribe(req *kmsg.ConsumerGroupDescribeRequest) *kmsg.ConsumerGroupDescribeResponse {
	resp := req.ResponseKind().(*kmsg.ConsumerGroupDescribeResponse)
	for _, id := range req.Groups {
		dg := kmsg.NewConsumerGroupDescribeResponseGroup()
		dg.Group = id
		if err := c.describeConsumerGroup(id, req.Version, &dg); err != nil {
			dg.ErrorCode = errCode(err)
			dg.ErrorMessage = kmsg.StringPtr(err.Error())
		}
		resp.Groups = append(resp.Groups, dg)
	}
	return resp
}

func (c *Coordinator) describeConsumerGroup(id string, version int16, dg *kmsg.ConsumerGroupDescribeResponseGroup) error {
	if strings.TrimSpace(id) == "" {
		return fmt.Errorf("group: group id can't be empty: %w", kerr.InvalidGroupID)
	}
	g, err := c.lockGroup(id, false)
	if err != nil {
		return err
	}
	if g == nil {
		return fmt.Errorf("group: group %s not found: %w", id, kerr.GroupIDNotFound)
	}
	defer g.mu.Unlock()
	if g.state == StateDead {
		return fmt.Errorf("group: group %s not found: %w", id, kerr.GroupIDNotFound)
	}
	if g.typ != TypeConsumer {
		return fmt.Errorf("group: group %s is not a consumer group: %w", id, kerr.GroupIDNotFound)
	}
	cg := g.cg
	img := c.image()
	dg.State = string(g.state)
	dg.Epoch = cg.epoch
	dg.AssignmentEpoch = cg.assignmentEpoch
	dg.AssignorName = cg.assignor
	for _, mid := range sortedKeys(cg.members) {
		m := cg.members[mid]
		dm := kmsg.NewConsumerGroupDescribeResponseGroupMember()
		dm.MemberID = m.id
		dm.InstanceID = m.instanceID
		dm.RackID = m.rackID
		dm.MemberEpoch = m.epoch
		dm.ClientID = m.clientID
		dm.ClientHost = m.clientHost
		dm.SubscribedTopics = append([]string{}, m.topics...)
		if m.regex != "" {
			dm.SubscribedTopicRegex = kmsg.StringPtr(m.regex)
		}
		dm.Assignment = describeAssignment(img, m.assigned)
		dm.TargetAssignment = describeAssignment(img, cg.target[m.id])
		if version >= 1 {
			dm.MemberType = 1 // a consumer-protocol member
		}
		dg.Members = append(dg.Members, dm)
	}
	return nil
}

func describeAssignment(img TopicImage, s partitionSet) kmsg.Assignment {
	a := kmsg.NewAssignment()
	a.TopicPartitions = []kmsg.AssignmentTopicPartition{}
	for _, t := range s.sortedTopics() {
		tp := kmsg.NewAssignmentTopicPartition()
		tp.TopicID = t
		if ti, ok := img.TopicByID(t); ok {
			tp.Topic = ti.Name
		}
		tp.Partitions = s.sortedPartitions(t)
		a.TopicPartitions = append(a.TopicPartitions, tp)
	}
	return a
}

// describeConsumerLocked fills a DescribeGroups entry for a consumer group as Kafka
// does: protocol type "consumer", the assignor as the protocol, and each member's
// subscription and assignment in the classic consumer protocol's encoding, so tools
// that only know DescribeGroups can read them.
func (c *Coordinator) describeConsumerLocked(g *group, dg *kmsg.DescribeGroupsResponseGroup) {
	cg := g.cg
	img := c.image()
	dg.State = string(g.state)
	dg.ProtocolType = "consumer"
	dg.Protocol = cg.assignor
	for _, mid := range sortedKeys(cg.members) {
		m := cg.members[mid]
		dm := kmsg.NewDescribeGroupsResponseGroupMember()
		dm.MemberID = m.id
		dm.InstanceID = m.instanceID
		dm.ClientID = m.clientID
		dm.ClientHost = m.clientHost
		md := kmsg.NewConsumerMemberMetadata()
		md.Version = 3
		md.Topics = append([]string{}, m.topics...)
		md.Topics = append(md.Topics, cg.regexTopics[m.regex]...)
		md.Rack = m.rackID
		dm.ProtocolMetadata = md.AppendTo(nil)
		as := kmsg.NewConsumerMemberAssignment()
		as.Version = 3
		for _, t := range m.assigned.sortedTopics() {
			ti, ok := img.TopicByID(t)
			if !ok {
				continue
			}
			at := kmsg.NewConsumerMemberAssignmentTopic()
			at.Topic = ti.Name
			at.Partitions = m.assigned.sortedPartitions(t)
			as.Topics = append(as.Topics, at)
		}
		dm.MemberAssignment = as.AppendTo(nil)
		dg.Members = append(dg.Members, dm)
	}
}

// consumerToClassicLocked lets a classic member join a consumer group's id: an empty
// consumer group (only offsets left) becomes a classic group, its records deleted, as
// Kafka does; one with members answers INCONSISTENT_GROUP_PROTOCOL (Samsa does not
// run classic members inside consumer groups).
func (c *Coordinator) consumerToClassicLocked(g *group) error {
	if len(g.cg.members) > 0 {
		return fmt.Errorf("group: %s is a consumer group with members: %w", g.id, kerr.InconsistentGroupProtocol)
	}
	if err := c.writeLocked(g, consumerGroupTombstones(g.id)); err != nil {
		return storeError(err, false)
	}
	g.cg.stopTimers()
	g.typ, g.cg, g.protocolType, g.protocol, g.leader, g.generation = TypeClassic, nil, "", "", "", 0
	g.transitionLocked(StateEmpty, c.clock.Now())
	return nil
}

// topicID resolves a topic name to its id in the current image.
func (c *Coordinator) topicID(name string) (uuid, bool) {
	ti, ok := c.image().TopicByName(name)
	return ti.ID, ok
}
