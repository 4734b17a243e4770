package group

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// This file is the classic rebalance protocol: JoinGroup, SyncGroup, Heartbeat and
// LeaveGroup, with the timers that drive a rebalance and expire sessions. It follows
// Kafka's GroupCoordinator; comments name the Kafka behaviour where it is not obvious.

// JoinGroup handles a JoinGroup request. It waits, as Kafka delays the response, until
// the rebalance the member joins completes, and returns early when ctx ends or the
// coordinator closes.
func (c *Coordinator) JoinGroup(ctx context.Context, req *kmsg.JoinGroupRequest, clientID, clientHost string) *kmsg.JoinGroupResponse {
	res, ch := c.join(req, clientID, clientHost)
	if ch != nil {
		select {
		case res = <-ch:
		case <-ctx.Done():
			res = joinResult{err: kerr.RebalanceInProgress}
		case <-c.done:
			res = joinResult{err: kerr.CoordinatorNotAvailable}
		}
	}
	resp := req.ResponseKind().(*kmsg.JoinGroupResponse)
	resp.ErrorCode = errCode(res.err)
	resp.Generation = -1
	if res.err == nil {
		resp.Generation = res.generation
		resp.ProtocolType = kmsg.StringPtr(res.protocolType)
		resp.Protocol = kmsg.StringPtr(res.protocol)
		resp.LeaderID = res.leader
		resp.SkipAssignment = res.skipAssignment && req.Version >= 9
		resp.Members = res.members
	} else if req.Version >= 7 {
		// Nulls, as Kafka sends with an error from v7 on.
		resp.ProtocolType, resp.Protocol = nil, nil
	}
	if req.Version < 7 && resp.Protocol == nil {
		resp.Protocol = kmsg.StringPtr("")
	}
	resp.MemberID = res.memberID
	if res.memberID == "" && res.err != nil {
		resp.MemberID = req.MemberID
	}
	return resp
}

// join does the synchronous part of JoinGroup: either an immediate result or a
// channel the result will arrive on.
func (c *Coordinator) join(req *kmsg.JoinGroupRequest, clientID, clientHost string) (joinResult, chan joinResult) {
	fail := func(err error) (joinResult, chan joinResult) { return joinResult{err: err}, nil }
	if req.Group == "" {
		return fail(kerr.InvalidGroupID)
	}
	session := time.Duration(req.SessionTimeoutMillis) * time.Millisecond
	rebalance := time.Duration(req.RebalanceTimeoutMillis) * time.Millisecond
	if req.Version == 0 {
		rebalance = session
	}
	if err := c.checkGroupID(req.Group); err != nil {
		return fail(err)
	}
	if session < c.cfg.MinSessionTimeout || session > c.cfg.MaxSessionTimeout {
		return fail(fmt.Errorf("group: session timeout %v outside [%v, %v]: %w", session, c.cfg.MinSessionTimeout, c.cfg.MaxSessionTimeout, kerr.InvalidSessionTimeout))
	}
	rebalance = max(rebalance, 0)
	var instanceID *string
	if req.Version >= 5 {
		instanceID = req.InstanceID
	}
	newMember := req.MemberID == ""
	g, err := c.lockGroup(req.Group, newMember)
	if err != nil {
		return fail(err)
	}
	if g == nil {
		return fail(kerr.UnknownMemberID)
	}
	defer g.mu.Unlock()
	if g.state == StateDead {
		// Removed meanwhile (DeleteGroups); the client finds the coordinator again.
		return fail(kerr.CoordinatorNotAvailable)
	}
	if g.typ == TypeConsumer {
		if err := c.consumerToClassicLocked(g); err != nil {
			return fail(err)
		}
	}
	if !c.acceptJoiningLocked(g, req.MemberID) {
		return fail(kerr.GroupMaxSizeReached)
	}
	if !g.supportsProtocols(req.ProtocolType, req.Protocols) {
		return fail(kerr.InconsistentGroupProtocol)
	}
	j := joinRequest{
		memberID: req.MemberID, instanceID: instanceID, clientID: clientID, clientHost: clientHost,
		session: session, rebalance: rebalance, protocolType: req.ProtocolType, protocols: req.Protocols,
	}
	if newMember {
		return c.joinNewLocked(g, j, req.Version >= 4)
	}
	return c.joinExistingLocked(g, j)
}

// checkGroupID returns the coordinator-level error for a group, if any.
func (c *Coordinator) checkGroupID(id string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.checkLocked(id)
}

type joinRequest struct {
	memberID     string
	instanceID   *string
	clientID     string
	clientHost   string
	session      time.Duration
	rebalance    time.Duration
	protocolType string
	protocols    []kmsg.JoinGroupRequestProtocol
}

// acceptJoiningLocked is Kafka's group.max.size check: existing members and members
// already waiting are accepted; new ones only while the group has room.
func (c *Coordinator) acceptJoiningLocked(g *group, memberID string) bool {
	if c.cfg.MaxSize <= 0 {
		return true
	}
	m := g.members[memberID]
	_, pending := g.pending[memberID]
	switch g.state {
	case StateEmpty, StateDead:
		return true
	case StatePreparingRebalance:
		if (m != nil && m.awaitingJoin()) || pending {
			return true
		}
		waiting := len(g.pending)
		for _, o := range g.members {
			if o.awaitingJoin() {
				waiting++
			}
		}
		return waiting < c.cfg.MaxSize
	default:
		return m != nil || pending || len(g.members)+len(g.pending) < c.cfg.MaxSize
	}
}

func newMemberID(clientID string) string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return clientID + "-" + hex.EncodeToString(b[:4]) + "-" + hex.EncodeToString(b[4:6]) + "-" + hex.EncodeToString(b[6:8]) + "-" + hex.EncodeToString(b[8:10]) + "-" + hex.EncodeToString(b[10:])
}

// joinNewLocked handles a join with an empty member id.
func (c *Coordinator) joinNewLocked(g *group, j joinRequest, requireKnownID bool) (joinResult, chan joinResult) {
	id := newMemberID(j.clientID)
	if j.instanceID != nil {
		if old, ok := g.static[*j.instanceID]; ok && g.members[old] != nil {
			return c.replaceStaticLocked(g, g.members[old], id, j)
		}
		return c.addMemberLocked(g, id, j)
	}
	if requireKnownID {
		// KIP-394: hand out the id and let the member join again with it, so a member
		// whose first response is lost does not leave a ghost behind.
		g.pending[id] = c.after(j.session, func() { c.expirePending(g, id) })
		return joinResult{err: kerr.MemberIDRequired, memberID: id}, nil
	}
	return c.addMemberLocked(g, id, j)
}

func (c *Coordinator) expirePending(g *group, id string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if _, ok := g.pending[id]; !ok || g.state == StateDead {
		return
	}
	delete(g.pending, id)
	if g.state == StatePreparingRebalance {
		c.maybeCompleteJoinLocked(g)
	}
}

// joinExistingLocked handles a join by a member id the group handed out.
func (c *Coordinator) joinExistingLocked(g *group, j joinRequest) (joinResult, chan joinResult) {
	if t, ok := g.pending[j.memberID]; ok {
		stopTimer(t)
		delete(g.pending, j.memberID)
		return c.addMemberLocked(g, j.memberID, j)
	}
	m := g.members[j.memberID]
	switch {
	case g.isStaticMemberFenced(j.instanceID, j.memberID):
		return joinResult{err: kerr.FencedInstanceID}, nil
	case m == nil:
		return joinResult{err: kerr.UnknownMemberID}, nil
	case j.instanceID != nil && g.static[*j.instanceID] == "":
		return joinResult{err: kerr.UnknownMemberID}, nil
	}
	switch g.state {
	case StatePreparingRebalance:
		return c.updateMemberLocked(g, m, j)
	case StateCompletingRebalance:
		if m.sameProtocols(j.protocolType, j.protocols) {
			// A resent join (its response was lost): answer with this generation.
			return c.currentGenerationLocked(g, m, false), nil
		}
		return c.updateMemberLocked(g, m, j)
	case StateStable:
		if g.leader == m.id || !m.sameProtocols(j.protocolType, j.protocols) {
			return c.updateMemberLocked(g, m, j)
		}
		return c.currentGenerationLocked(g, m, false), nil
	default:
		return joinResult{err: kerr.UnknownMemberID}, nil
	}
}

// currentGenerationLocked is the join response describing the current generation; the
// leader gets the members' metadata.
func (c *Coordinator) currentGenerationLocked(g *group, m *member, skipAssignment bool) joinResult {
	r := joinResult{
		memberID: m.id, generation: g.generation, protocolType: g.protocolType,
		protocol: g.protocol, leader: g.leader, skipAssignment: skipAssignment,
	}
	if g.leader == m.id {
		r.members = g.memberMetadataLocked()
	}
	c.heartbeatLocked(g, m)
	return r
}

func (g *group) memberMetadataLocked() []kmsg.JoinGroupResponseMember {
	var out []kmsg.JoinGroupResponseMember
	for _, o := range g.sortedMembers() {
		jm := kmsg.NewJoinGroupResponseMember()
		jm.MemberID = o.id
		jm.InstanceID = o.instanceID
		jm.ProtocolMetadata = o.metadataFor(g.protocol)
		out = append(out, jm)
	}
	return out
}

// addMemberLocked adds a member waiting for the rebalance it starts or joins.
func (c *Coordinator) addMemberLocked(g *group, id string, j joinRequest) (joinResult, chan joinResult) {
	m := &member{
		id: id, instanceID: j.instanceID, clientID: j.clientID, clientHost: j.clientHost,
		seq: c.nextMemberSeq(), sessionTimeout: j.session, rebalanceTimeout: j.rebalance,
		protocolType: j.protocolType, protocols: j.protocols,
		joinCh: make(chan joinResult, 1),
	}
	if len(g.members) == 0 {
		g.protocolType = j.protocolType
	}
	if g.state == StatePreparingRebalance && g.initialDelay {
		g.newMemberAdded = true
	}
	g.members[id] = m
	if m.instanceID != nil {
		g.static[*m.instanceID] = id
	}
	if g.leader == "" {
		g.leader = id
	}
	ch := m.joinCh
	c.heartbeatLocked(g, m)
	c.maybePrepareRebalanceLocked(g)
	return joinResult{}, ch
}

// updateMemberLocked records a known member's rejoin and waits for the rebalance.
func (c *Coordinator) updateMemberLocked(g *group, m *member, j joinRequest) (joinResult, chan joinResult) {
	m.sessionTimeout, m.rebalanceTimeout = j.session, j.rebalance
	m.protocolType, m.protocols = j.protocolType, j.protocols
	m.clientID, m.clientHost = j.clientID, j.clientHost
	if m.joinCh != nil {
		// The earlier join of this member is superseded; its connection is gone.
		m.answerJoin(joinResult{err: kerr.RebalanceInProgress, memberID: m.id})
	}
	m.joinCh = make(chan joinResult, 1)
	ch := m.joinCh
	c.heartbeatLocked(g, m)
	c.maybePrepareRebalanceLocked(g)
	return joinResult{}, ch
}

// replaceStaticLocked gives a rejoining static member (KIP-345) a new member id; the
// old id is fenced. In a stable group the member rejoins the current generation without
// a rebalance, unless its protocols change the protocol the group would select (as
// Kafka, metadata changes alone do not count: a restarted cooperative member's metadata
// no longer lists what it owned).
func (c *Coordinator) replaceStaticLocked(g *group, old *member, newID string, j joinRequest) (joinResult, chan joinResult) {
	old.answerJoin(joinResult{err: kerr.FencedInstanceID, memberID: old.id})
	old.answerSync(syncResult{err: kerr.FencedInstanceID})
	stopTimer(old.timer)
	old.timer = nil
	m := old // keep the assignment and join order
	oldID, oldLeader := m.id, g.leader
	saved := *m
	delete(g.members, oldID)
	m.id = newID
	g.members[newID] = m
	g.static[*j.instanceID] = newID
	if g.leader == oldID || g.leader == "" {
		g.leader = newID
	}
	if g.state != StateStable {
		return c.updateMemberLocked(g, m, j)
	}
	m.sessionTimeout, m.rebalanceTimeout = j.session, j.rebalance
	m.clientID, m.clientHost = j.clientID, j.clientHost
	m.protocolType, m.protocols = j.protocolType, j.protocols
	if g.selectProtocol() != g.protocol {
		return c.updateMemberLocked(g, m, j)
	}
	if err := c.storeGroupLocked(g); err != nil {
		// Undo, as Kafka does when the write fails.
		delete(g.members, newID)
		*m = saved
		g.members[oldID] = m
		g.static[*j.instanceID] = oldID
		g.leader = oldLeader
		c.scheduleSessionLocked(g, m)
		return joinResult{err: err}, nil
	}
	return c.currentGenerationLocked(g, m, true), nil
}

// maybePrepareRebalanceLocked starts a rebalance unless one is under way, in which case
// it checks whether the rebalance can complete.
func (c *Coordinator) maybePrepareRebalanceLocked(g *group) {
	switch g.state {
	case StateStable, StateCompletingRebalance, StateEmpty:
		c.prepareRebalanceLocked(g)
	case StatePreparingRebalance:
		c.maybeCompleteJoinLocked(g)
	}
}

// prepareRebalanceLocked moves the group to PreparingRebalance: members must rejoin
// within the rebalance timeout. A new group waits group.initial.rebalance.delay.ms.
func (c *Coordinator) prepareRebalanceLocked(g *group) {
	if g.state == StateCompletingRebalance {
		for _, m := range g.members {
			m.assignment = nil
			m.answerSync(syncResult{err: kerr.RebalanceInProgress})
		}
	}
	stopTimer(g.syncTimer)
	stopTimer(g.joinTimer)
	g.syncTimer, g.joinTimer = nil, nil
	g.rebalanceSeq++
	seq := g.rebalanceSeq
	timeout := g.rebalanceTimeoutLocked()
	wasEmpty := g.state == StateEmpty
	g.transitionLocked(StatePreparingRebalance, c.clock.Now())
	if wasEmpty {
		delay := min(c.cfg.InitialRebalanceDelay, timeout)
		g.initialDelay, g.newMemberAdded = true, false
		g.delayRemaining = max(timeout-delay, 0)
		g.joinTimer = c.after(delay, func() { c.onInitialDelay(g, seq) })
		return
	}
	g.initialDelay = false
	g.joinTimer = c.after(timeout, func() { c.onJoinTimeout(g, seq) })
	c.maybeCompleteJoinLocked(g)
}

func (g *group) rebalanceTimeoutLocked() time.Duration {
	var d time.Duration
	for _, m := range g.members {
		d = max(d, m.rebalanceTimeout)
	}
	return d
}

// onInitialDelay ends one step of the initial delay: while new members keep coming
// the wait is extended, up to the rebalance timeout.
func (c *Coordinator) onInitialDelay(g *group, seq int) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.rebalanceSeq != seq || g.state != StatePreparingRebalance {
		return
	}
	if g.newMemberAdded && g.delayRemaining > 0 {
		g.newMemberAdded = false
		delay := min(c.cfg.InitialRebalanceDelay, g.delayRemaining)
		g.delayRemaining = max(g.delayRemaining-delay, 0)
		g.joinTimer = c.after(delay, func() { c.onInitialDelay(g, seq) })
		return
	}
	c.completeJoinLocked(g)
}

func (c *Coordinator) onJoinTimeout(g *group, seq int) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.rebalanceSeq != seq || g.state != StatePreparingRebalance {
		return
	}
	c.completeJoinLocked(g)
}

// maybeCompleteJoinLocked completes the rebalance once every member has rejoined and
// no member id handed out is still expected (never during the initial delay).
func (c *Coordinator) maybeCompleteJoinLocked(g *group) {
	if g.state != StatePreparingRebalance || g.initialDelay || len(g.pending) > 0 {
		return
	}
	for _, m := range g.members {
		if !m.awaitingJoin() {
			return
		}
	}
	c.completeJoinLocked(g)
}

// completeJoinLocked ends PreparingRebalance: members that did not rejoin are removed,
// the generation advances, and every waiting member gets its JoinGroup response (the
// leader with everyone's metadata). The group then waits in CompletingRebalance for the
// leader's assignment, at most the rebalance timeout.
func (c *Coordinator) completeJoinLocked(g *group) {
	stopTimer(g.joinTimer)
	g.joinTimer = nil
	g.initialDelay = false
	for _, m := range g.sortedMembers() {
		if !m.awaitingJoin() {
			c.removeMemberLocked(g, m)
		}
	}
	if limit := c.cfg.MaxSize; limit > 0 && len(g.members) > limit {
		// Members admitted through KIP-394 ids handed out while there was room can
		// overshoot group.max.size; as Kafka, the latest joiners are sent away.
		for _, m := range g.sortedMembers()[limit:] {
			m.answerJoin(joinResult{err: kerr.GroupMaxSizeReached, memberID: m.id})
			c.removeMemberLocked(g, m)
		}
	}
	now := c.clock.Now()
	g.generation++
	if len(g.members) == 0 {
		g.protocol = ""
		g.leader = ""
		g.transitionLocked(StateEmpty, now)
		_ = c.storeGroupLocked(g)
		return
	}
	if g.members[g.leader] == nil {
		g.leader = g.sortedMembers()[0].id
	}
	g.protocol = g.selectProtocol()
	g.transitionLocked(StateCompletingRebalance, now)
	for _, m := range g.sortedMembers() {
		m.synced = false
		r := joinResult{
			memberID: m.id, generation: g.generation, protocolType: g.protocolType,
			protocol: g.protocol, leader: g.leader,
		}
		if m.id == g.leader {
			r.members = g.memberMetadataLocked()
		}
		m.answerJoin(r)
		c.heartbeatLocked(g, m)
	}
	seq, gen := g.rebalanceSeq, g.generation
	g.syncTimer = c.after(g.rebalanceTimeoutLocked(), func() { c.onSyncTimeout(g, seq, gen) })
}

// onSyncTimeout removes the members that did not send SyncGroup within the rebalance
// timeout (Kafka's pending-sync expiry), which starts another rebalance.
func (c *Coordinator) onSyncTimeout(g *group, seq int, gen int32) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.rebalanceSeq != seq || g.generation != gen || g.state != StateCompletingRebalance {
		return
	}
	g.syncTimer = nil
	removed := false
	for _, m := range g.sortedMembers() {
		if !m.synced {
			c.removeMemberLocked(g, m)
			removed = true
		}
	}
	if removed {
		c.memberRemovedLocked(g)
	}
}

// removeMemberLocked drops a member; a waiting JoinGroup or SyncGroup of it is answered
// UNKNOWN_MEMBER_ID. The caller updates the group's state (memberRemovedLocked).
func (c *Coordinator) removeMemberLocked(g *group, m *member) {
	m.answerJoin(joinResult{err: kerr.UnknownMemberID, memberID: m.id})
	m.answerSync(syncResult{err: kerr.UnknownMemberID})
	stopTimer(m.timer)
	m.timer = nil
	delete(g.members, m.id)
	if m.instanceID != nil && g.static[*m.instanceID] == m.id {
		delete(g.static, *m.instanceID)
	}
	if g.leader == m.id {
		g.leader = ""
		if ms := g.sortedMembers(); len(ms) > 0 {
			g.leader = ms[0].id
		}
	}
}

// memberRemovedLocked reacts to a member leaving: a stable group rebalances, a
// rebalancing one may now be complete.
func (c *Coordinator) memberRemovedLocked(g *group) {
	switch g.state {
	case StateStable, StateCompletingRebalance:
		c.prepareRebalanceLocked(g)
	case StatePreparingRebalance:
		c.maybeCompleteJoinLocked(g)
	}
}

// heartbeatLocked extends m's session by its session timeout.
func (c *Coordinator) heartbeatLocked(g *group, m *member) {
	m.deadline = c.clock.Now().Add(m.sessionTimeout)
	c.scheduleSessionLocked(g, m)
}

func (c *Coordinator) scheduleSessionLocked(g *group, m *member) {
	if m.deadline.IsZero() {
		m.deadline = c.clock.Now().Add(m.sessionTimeout)
	}
	if m.timer != nil {
		return // it fires at the old deadline and re-arms for the new one
	}
	m.timer = c.after(m.deadline.Sub(c.clock.Now()), func() { c.onSessionTimer(g, m) })
}

// onSessionTimer expires m unless it heartbeated meanwhile or is waiting in JoinGroup
// or SyncGroup (those waits are bounded by the rebalance timeout instead).
func (c *Coordinator) onSessionTimer(g *group, m *member) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.members[m.id] != m || g.state == StateDead {
		// Dead: unloaded (members stay in the retired group) or deleted.
		return
	}
	m.timer = nil
	now := c.clock.Now()
	if m.awaitingJoin() || m.awaitingSync() {
		m.deadline = now.Add(m.sessionTimeout)
	}
	if now.Before(m.deadline) {
		c.scheduleSessionLocked(g, m)
		return
	}
	c.logger.Info("group: member session expired", "group", g.id, "member", m.id)
	c.removeMemberLocked(g, m)
	c.memberRemovedLocked(g)
}

// SyncGroup handles a SyncGroup request: the leader's assignment is stored and handed
// to every member; followers wait for it (until ctx ends or the coordinator closes).
func (c *Coordinator) SyncGroup(ctx context.Context, req *kmsg.SyncGroupRequest) *kmsg.SyncGroupResponse {
	res, ch := c.sync(req)
	if ch != nil {
		select {
		case res = <-ch:
		case <-ctx.Done():
			res = syncResult{err: kerr.RebalanceInProgress}
		case <-c.done:
			res = syncResult{err: kerr.CoordinatorNotAvailable}
		}
	}
	resp := req.ResponseKind().(*kmsg.SyncGroupResponse)
	resp.ErrorCode = errCode(res.err)
	if res.err == nil {
		resp.MemberAssignment = res.assignment
		resp.ProtocolType, resp.Protocol = kmsg.StringPtr(res.protocolType), kmsg.StringPtr(res.protocol)
	}
	if resp.MemberAssignment == nil {
		resp.MemberAssignment = []byte{}
	}
	return resp
}

func (c *Coordinator) sync(req *kmsg.SyncGroupRequest) (syncResult, chan syncResult) {
	fail := func(err error) (syncResult, chan syncResult) { return syncResult{err: err}, nil }
	if req.Group == "" {
		return fail(kerr.InvalidGroupID)
	}
	g, err := c.lockGroup(req.Group, false)
	if err != nil {
		return fail(err)
	}
	if g == nil {
		return fail(kerr.UnknownMemberID)
	}
	defer g.mu.Unlock()
	m := g.members[req.MemberID]
	switch {
	case g.state == StateDead:
		return fail(kerr.CoordinatorNotAvailable)
	case g.isStaticMemberFenced(req.InstanceID, req.MemberID):
		return fail(kerr.FencedInstanceID)
	case m == nil:
		return fail(kerr.UnknownMemberID)
	case req.Generation != g.generation:
		return fail(kerr.IllegalGeneration)
	case req.ProtocolType != nil && *req.ProtocolType != g.protocolType:
		return fail(kerr.InconsistentGroupProtocol)
	case req.Protocol != nil && *req.Protocol != g.protocol:
		return fail(kerr.InconsistentGroupProtocol)
	}
	switch g.state {
	case StatePreparingRebalance:
		return fail(kerr.RebalanceInProgress)
	case StateStable:
		c.heartbeatLocked(g, m)
		return syncResult{assignment: m.assignment, protocolType: g.protocolType, protocol: g.protocol}, nil
	case StateCompletingRebalance:
	default:
		return fail(kerr.UnknownMemberID)
	}
	if m.syncCh != nil {
		m.answerSync(syncResult{err: kerr.RebalanceInProgress})
	}
	m.syncCh = make(chan syncResult, 1)
	m.synced = true
	ch := m.syncCh
	c.heartbeatLocked(g, m)
	if m.id != g.leader {
		return syncResult{}, ch
	}
	assignments := make(map[string][]byte, len(req.GroupAssignment))
	for _, a := range req.GroupAssignment {
		assignments[a.MemberID] = a.MemberAssignment
	}
	for _, o := range g.members {
		o.assignment = assignments[o.id]
		if o.assignment == nil {
			o.assignment = []byte{}
		}
	}
	if err := c.storeGroupLocked(g); err != nil {
		for _, o := range g.members {
			o.assignment = nil
			o.answerSync(syncResult{err: err})
		}
		c.prepareRebalanceLocked(g)
		return syncResult{err: err}, nil
	}
	stopTimer(g.syncTimer)
	g.syncTimer = nil
	g.transitionLocked(StateStable, c.clock.Now())
	for _, o := range g.members {
		o.answerSync(syncResult{assignment: o.assignment, protocolType: g.protocolType, protocol: g.protocol})
	}
	return syncResult{assignment: m.assignment, protocolType: g.protocolType, protocol: g.protocol}, nil
}

// Heartbeat handles a Heartbeat request; REBALANCE_IN_PROGRESS tells the member to
// rejoin.
func (c *Coordinator) Heartbeat(req *kmsg.HeartbeatRequest) *kmsg.HeartbeatResponse {
	resp := req.ResponseKind().(*kmsg.HeartbeatResponse)
	resp.ErrorCode = errCode(c.heartbeat(req))
	return resp
}

func (c *Coordinator) heartbeat(req *kmsg.HeartbeatRequest) error {
	if req.Group == "" {
		return kerr.InvalidGroupID
	}
	g, err := c.lockGroup(req.Group, false)
	if err != nil {
		return err
	}
	if g == nil {
		return kerr.UnknownMemberID
	}
	defer g.mu.Unlock()
	m := g.members[req.MemberID]
	switch {
	case g.state == StateDead:
		return kerr.CoordinatorNotAvailable
	case g.isStaticMemberFenced(req.InstanceID, req.MemberID):
		return kerr.FencedInstanceID
	case m == nil:
		return kerr.UnknownMemberID
	case req.Generation != g.generation:
		return kerr.IllegalGeneration
	}
	c.heartbeatLocked(g, m)
	if g.state == StatePreparingRebalance {
		return kerr.RebalanceInProgress
	}
	return nil
}

// LeaveGroup removes members (v3+: several, by member id or group.instance.id).
func (c *Coordinator) LeaveGroup(req *kmsg.LeaveGroupRequest) *kmsg.LeaveGroupResponse {
	resp := req.ResponseKind().(*kmsg.LeaveGroupResponse)
	leaving := req.Members
	if req.Version < 3 {
		lm := kmsg.NewLeaveGroupRequestMember()
		lm.MemberID = req.MemberID
		leaving = []kmsg.LeaveGroupRequestMember{lm}
	}
	codes, err := c.leave(req.Group, leaving)
	if err != nil {
		resp.ErrorCode = errCode(err)
		return resp
	}
	if req.Version < 3 {
		resp.ErrorCode = codes[0]
		return resp
	}
	for i, lm := range leaving {
		rm := kmsg.NewLeaveGroupResponseMember()
		rm.MemberID = lm.MemberID
		rm.InstanceID = lm.InstanceID
		rm.ErrorCode = codes[i]
		resp.Members = append(resp.Members, rm)
	}
	return resp
}

func (c *Coordinator) leave(id string, leaving []kmsg.LeaveGroupRequestMember) ([]int16, error) {
	if id == "" {
		return nil, kerr.InvalidGroupID
	}
	g, err := c.lockGroup(id, false)
	if err != nil {
		return nil, err
	}
	codes := make([]int16, len(leaving))
	if g == nil {
		for i := range codes {
			codes[i] = kerr.UnknownMemberID.Code
		}
		return codes, nil
	}
	defer g.mu.Unlock()
	if g.state == StateDead {
		return nil, kerr.CoordinatorNotAvailable
	}
	removed := false
	for i, lm := range leaving {
		memberID := lm.MemberID
		if lm.InstanceID != nil {
			sid, ok := g.static[*lm.InstanceID]
			switch {
			case !ok:
				codes[i] = kerr.UnknownMemberID.Code
				continue
			case memberID != "" && memberID != sid:
				codes[i] = kerr.FencedInstanceID.Code
				continue
			}
			memberID = sid
		}
		if t, ok := g.pending[memberID]; ok {
			stopTimer(t)
			delete(g.pending, memberID)
			removed = true
			continue
		}
		m := g.members[memberID]
		if m == nil {
			codes[i] = kerr.UnknownMemberID.Code
			continue
		}
		c.removeMemberLocked(g, m)
		removed = true
	}
	if removed {
		c.memberRemovedLocked(g)
	}
	return codes, nil
}

// storeGroupLocked writes the group's metadata (GroupMetadataValue v3) to
// __consumer_offsets.
func (c *Coordinator) storeGroupLocked(g *group) error {
	v := kmsg.NewGroupMetadataValue()
	v.Version = groupValueVersion
	v.ProtocolType = g.protocolType
	v.Generation = g.generation
	if g.protocol != "" {
		v.Protocol = kmsg.StringPtr(g.protocol)
	}
	if g.leader != "" {
		v.Leader = kmsg.StringPtr(g.leader)
	}
	v.CurrentStateTimestamp = g.stateTime.UnixMilli()
	for _, m := range g.sortedMembers() {
		vm := kmsg.NewGroupMetadataValueMember()
		vm.MemberID = m.id
		vm.InstanceID = m.instanceID
		vm.ClientID = m.clientID
		vm.ClientHost = m.clientHost
		vm.RebalanceTimeoutMillis = int32(m.rebalanceTimeout / time.Millisecond)
		vm.SessionTimeoutMillis = int32(m.sessionTimeout / time.Millisecond)
		vm.Subscription = m.metadataFor(g.protocol)
		if vm.Subscription == nil {
			vm.Subscription = []byte{}
		}
		vm.Assignment = m.assignment
		if vm.Assignment == nil {
			vm.Assignment = []byte{}
		}
		v.Members = append(v.Members, vm)
	}
	if err := c.writeLocked(g, []Record{{Key: groupKey(g.id), Value: v.AppendTo(nil)}}); err != nil {
		return storeError(err, false)
	}
	return nil
}

// restoreClassic rebuilds a group from its stored metadata: with members it is Stable
// in its generation (members must heartbeat within their session timeout), without it
// is Empty.
func (c *Coordinator) restoreClassic(g *group, v *kmsg.GroupMetadataValue, now time.Time) {
	g.protocolType = v.ProtocolType
	g.generation = v.Generation
	if v.Protocol != nil {
		g.protocol = *v.Protocol
	}
	if v.Leader != nil {
		g.leader = *v.Leader
	}
	if v.CurrentStateTimestamp > 0 {
		g.stateTime = time.UnixMilli(v.CurrentStateTimestamp)
	}
	for _, vm := range v.Members {
		m := &member{
			id: vm.MemberID, instanceID: vm.InstanceID, clientID: vm.ClientID, clientHost: vm.ClientHost,
			seq: c.nextMemberSeq(), sessionTimeout: time.Duration(vm.SessionTimeoutMillis) * time.Millisecond,
			rebalanceTimeout: time.Duration(vm.RebalanceTimeoutMillis) * time.Millisecond,
			protocolType:     v.ProtocolType,
			protocols:        []kmsg.JoinGroupRequestProtocol{{Name: g.protocol, Metadata: vm.Subscription}},
			assignment:       vm.Assignment,
			deadline:         now.Add(time.Duration(vm.SessionTimeoutMillis) * time.Millisecond),
		}
		if v.Version < 1 {
			m.rebalanceTimeout = m.sessionTimeout
		}
		g.members[m.id] = m
		if m.instanceID != nil {
			g.static[*m.instanceID] = m.id
		}
	}
	if len(g.members) > 0 {
		g.state = StateStable
		if g.members[g.leader] == nil {
			g.leader = g.sortedMembers()[0].id
		}
	} else {
		g.state = StateEmpty
		g.leader = ""
	}
}
