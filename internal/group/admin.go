package group

import (
	"sort"
	"strings"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// ListGroups handles a ListGroups request: every group this node coordinates, filtered
// by state (v4+) and type (v5+), both case-insensitive as in Kafka.
func (c *Coordinator) ListGroups(req *kmsg.ListGroupsRequest) *kmsg.ListGroupsResponse {
	resp := req.ResponseKind().(*kmsg.ListGroupsResponse)
	groups, err := c.allGroups()
	resp.ErrorCode = errCode(err)
	match := func(filter []string, v string) bool {
		if len(filter) == 0 {
			return true
		}
		for _, f := range filter {
			if strings.EqualFold(f, v) {
				return true
			}
		}
		return false
	}
	for _, g := range groups {
		g.mu.Lock()
		state, typ, protocolType := g.state, g.typ, g.protocolType
		g.mu.Unlock()
		if state == StateDead || !match(req.StatesFilter, string(state)) || !match(req.TypesFilter, string(typ)) {
			continue
		}
		lg := kmsg.NewListGroupsResponseGroup()
		lg.Group = g.id
		lg.ProtocolType = protocolType
		lg.GroupState = string(state)
		lg.GroupType = string(typ)
		resp.Groups = append(resp.Groups, lg)
	}
	sort.Slice(resp.Groups, func(i, j int) bool { return resp.Groups[i].Group < resp.Groups[j].Group })
	return resp
}

// DescribeGroups handles a DescribeGroups request. An unknown group is described as
// Dead without error, as Kafka does before v6.
func (c *Coordinator) DescribeGroups(req *kmsg.DescribeGroupsRequest) *kmsg.DescribeGroupsResponse {
	resp := req.ResponseKind().(*kmsg.DescribeGroupsResponse)
	for _, id := range req.Groups {
		dg := kmsg.NewDescribeGroupsResponseGroup()
		dg.Group = id
		dg.State = string(StateDead)
		g, err := c.lockGroup(id, false)
		if err != nil {
			dg.ErrorCode = errCode(err)
			dg.State = ""
			resp.Groups = append(resp.Groups, dg)
			continue
		}
		if g != nil && g.typ == TypeConsumer {
			c.describeConsumerLocked(g, &dg)
			g.mu.Unlock()
		} else if g != nil {
			dg.State = string(g.state)
			dg.ProtocolType = g.protocolType
			stable := g.state == StateStable
			if stable {
				dg.Protocol = g.protocol
			}
			for _, m := range g.sortedMembers() {
				dm := kmsg.NewDescribeGroupsResponseGroupMember()
				dm.MemberID = m.id
				dm.InstanceID = m.instanceID
				dm.ClientID = m.clientID
				dm.ClientHost = m.clientHost
				dm.ProtocolMetadata = []byte{}
				dm.MemberAssignment = []byte{}
				if stable {
					// Kafka shows metadata and assignment only for a stable group.
					if md := m.metadataFor(g.protocol); md != nil {
						dm.ProtocolMetadata = md
					}
					if m.assignment != nil {
						dm.MemberAssignment = m.assignment
					}
				}
				dg.Members = append(dg.Members, dm)
			}
			g.mu.Unlock()
		}
		resp.Groups = append(resp.Groups, dg)
	}
	return resp
}

// DeleteGroups handles a DeleteGroups request: an empty group and its offsets are
// deleted (tombstones for each); a group with members gets NON_EMPTY_GROUP.
func (c *Coordinator) DeleteGroups(req *kmsg.DeleteGroupsRequest) *kmsg.DeleteGroupsResponse {
	resp := req.ResponseKind().(*kmsg.DeleteGroupsResponse)
	for _, id := range req.Groups {
		dg := kmsg.NewDeleteGroupsResponseGroup()
		dg.Group = id
		dg.ErrorCode = errCode(c.deleteGroup(id))
		resp.Groups = append(resp.Groups, dg)
	}
	return resp
}

func (c *Coordinator) deleteGroup(id string) error {
	g, err := c.lockGroup(id, false)
	if err != nil {
		return err
	}
	if g == nil {
		return kerr.GroupIDNotFound
	}
	defer g.mu.Unlock()
	switch g.state {
	case StateDead:
		return kerr.GroupIDNotFound
	case StateEmpty:
	default:
		return kerr.NonEmptyGroup
	}
	recs := make([]Record, 0, len(g.offsets)+1)
	for tp := range g.offsets {
		recs = append(recs, Record{Key: offsetKey(id, tp)})
	}
	recs = append(recs, g.groupTombstonesLocked()...)
	if err := c.writeLocked(g, recs); err != nil {
		return storeError(err, false)
	}
	for id, t := range g.pending {
		stopTimer(t)
		delete(g.pending, id)
	}
	g.offsets = make(map[topicPartition]offset)
	c.removeGroupLocked(g)
	return nil
}
