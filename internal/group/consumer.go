package group

import (
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// This file is KIP-848's consumer group protocol: ConsumerGroupHeartbeat with the
// assignment computed here (assignor.go) and reconciled member by member, following
// Kafka's GroupMetadataManager.consumerGroupHeartbeat and CurrentAssignmentBuilder.
// See the package doc for the protocol as a whole.

// TopicInfo is one topic as consumer groups see it.
type TopicInfo struct {
	Name       string
	ID         [16]byte
	Partitions int32
}

// TopicImage is the coordinator's view of the cluster's topics, for consumer groups
// (they subscribe by name or regex and are assigned partitions by topic id).
type TopicImage interface {
	TopicByName(name string) (TopicInfo, bool)
	TopicByID(id [16]byte) (TopicInfo, bool)
	// TopicNames lists every topic, for regex subscriptions.
	TopicNames() []string
}

type emptyImage struct{}

func (emptyImage) TopicByName(string) (TopicInfo, bool) { return TopicInfo{}, false }
func (emptyImage) TopicByID([16]byte) (TopicInfo, bool) { return TopicInfo{}, false }
func (emptyImage) TopicNames() []string                 { return nil }
func (c *Coordinator) image() TopicImage                { return c.topics() }
func msDuration(ms int32) time.Duration                 { return time.Duration(ms) * time.Millisecond }
func newConsumerMemberID() string                       { return base64.RawURLEncoding.EncodeToString(randomBytes16()) }
func randomBytes16() []byte                             { b := make([]byte, 16); _, _ = rand.Read(b); return b }
func (s memberState) String() string {
	return [...]string{"stable", "unrevoked", "unreleased"}[min(int(s), 2)]
}
func isLeaveEpoch(e int32) bool { return e == leaveEpoch || e == staticLeaveEpoch }

// Member epochs with a meaning of their own.
const (
	leaveEpoch       = -1 // the member leaves the group
	staticLeaveEpoch = -2 // a static member leaves for now and keeps its partitions
)

// memberState is a member's reconciliation state (Kafka's MemberState values).
type memberState int8

const (
	// memberStable: the member has the target assignment of its epoch.
	memberStable memberState = 0
	// memberUnrevoked: the member must first give up partitions (revoking); it stays
	// in its epoch until a heartbeat no longer lists them.
	memberUnrevoked memberState = 1
	// memberUnreleased: the member is in the target epoch but some of its target
	// partitions are still owned by others; it gets them once they are released.
	memberUnreleased memberState = 2
)

// Consumer group states, as Kafka names them.
const (
	StateAssigning   State = "Assigning"
	StateReconciling State = "Reconciling"
)

// topicMeta is a subscribed topic as of the last subscription metadata computation.
type topicMeta struct {
	id         uuid
	partitions int32
}

type topicPartitionID struct {
	topic     uuid
	partition int32
}

// consumerGroup is the state of a KIP-848 group; guarded by its group's mu.
type consumerGroup struct {
	epoch           int32 // group epoch: bumped by every membership or subscription change
	assignmentEpoch int32 // epoch of target
	metaHash        int64 // metadataHash of subscribed
	assignor        string
	members         map[string]*consumerMember
	static          map[string]string       // instance id -> member id
	target          map[string]partitionSet // member id -> target assignment
	// owners maps every partition a member holds (assigned or pending revocation) to
	// it: a partition is given to a new owner only once it is released.
	owners      map[topicPartitionID]string
	subscribed  map[string]topicMeta
	regexTopics map[string][]string // regex -> matching topic names
	compiled    map[string]*regexp.Regexp
}

// consumerMember is one member of a consumer group.
type consumerMember struct {
	id               string
	instanceID       *string
	rackID           *string
	clientID         string
	clientHost       string
	topics           []string
	regex            string
	serverAssignor   *string
	rebalanceTimeout time.Duration

	epoch, prevEpoch int32
	state            memberState
	assigned         partitionSet // with the epoch each partition was assigned at
	revoking         partitionSet

	// deadline is when the session expires; timer fires then and re-arms if
	// heartbeats moved it. revokeTimer bounds the revocation by the rebalance
	// timeout; revokeSeq tells a stale one apart.
	deadline    time.Time
	timer       Timer
	revokeTimer Timer
	revokeSeq   uint64
}

func newConsumerGroup() *consumerGroup {
	return &consumerGroup{
		members:     make(map[string]*consumerMember),
		static:      make(map[string]string),
		target:      make(map[string]partitionSet),
		owners:      make(map[topicPartitionID]string),
		subscribed:  make(map[string]topicMeta),
		regexTopics: make(map[string][]string),
		compiled:    make(map[string]*regexp.Regexp),
	}
}

func (cg *consumerGroup) stopTimers() {
	for _, m := range cg.members {
		stopTimer(m.timer)
		stopTimer(m.revokeTimer)
		m.timer, m.revokeTimer = nil, nil
	}
}

// state is the group state as Kafka derives it.
func (cg *consumerGroup) state() State {
	if len(cg.members) == 0 {
		return StateEmpty
	}
	if cg.epoch > cg.assignmentEpoch {
		return StateAssigning
	}
	for _, m := range cg.members {
		if m.state != memberStable || m.epoch != cg.assignmentEpoch {
			return StateReconciling
		}
	}
	return StateStable
}

func (c *Coordinator) updateConsumerStateLocked(g *group) {
	if s := g.cg.state(); s != g.state {
		g.transitionLocked(s, c.clock.Now())
	}
}

// clone copies the member's persisted state (not its timers' ownership: a clone is
// written back over the original with *orig = *clone, which keeps the timers).
func (m *consumerMember) clone() *consumerMember {
	c := *m
	c.topics = slices.Clone(m.topics)
	c.assigned = m.assigned.clone()
	c.revoking = m.revoking.clone()
	return &c
}

func (m *consumerMember) sameMetadata(o *consumerMember) bool {
	return eqStrPtr(m.instanceID, o.instanceID) && eqStrPtr(m.rackID, o.rackID) &&
		m.clientID == o.clientID && m.clientHost == o.clientHost && m.rebalanceTimeout == o.rebalanceTimeout &&
		m.sameSubscription(o)
}

func (m *consumerMember) sameSubscription(o *consumerMember) bool {
	return slices.Equal(m.topics, o.topics) && m.regex == o.regex && eqStrPtr(m.serverAssignor, o.serverAssignor)
}

func (m *consumerMember) sameAssignment(o *consumerMember) bool {
	return m.epoch == o.epoch && m.prevEpoch == o.prevEpoch && m.state == o.state &&
		sameEpochs(m.assigned, o.assigned) && sameEpochs(m.revoking, o.revoking)
}

func sameEpochs(a, b partitionSet) bool {
	if !samePartitions(a, b) {
		return false
	}
	for t, ps := range a {
		for p, e := range ps {
			if b[t][p] != e {
				return false
			}
		}
	}
	return true
}

func eqStrPtr(a, b *string) bool {
	if a == nil || b == nil {
		return a == b
	}
	return *a == *b
}

// ConsumerGroupHeartbeat handles a ConsumerGroupHeartbeat request (v0: the coordinator
// names new members; v1: members name themselves and may subscribe by regex).
func (c *Coordinator) ConsumerGroupHeartbeat(req *kmsg.ConsumerGroupHeartbeatRequest, clientID, clientHost string) *kmsg.ConsumerGroupHeartbeatResponse {
	resp := req.ResponseKind().(*kmsg.ConsumerGroupHeartbeatResponse)
	out, err := c.consumerHeartbeat(req, clientID, clientHost)
	if err != nil {
		resp.ErrorCode = errCode(err)
		if ke := asKerr(err); ke == nil || err.Error() != ke.Error() {
			resp.ErrorMessage = kmsg.StringPtr(err.Error())
		}
		return resp
	}
	resp.MemberID = kmsg.StringPtr(out.memberID)
	resp.MemberEpoch = out.epoch
	resp.HeartbeatIntervalMillis = int32(c.cfg.ConsumerHeartbeatInterval.Milliseconds())
	if out.assignment != nil {
		a := kmsg.NewConsumerGroupHeartbeatResponseAssignment()
		for _, t := range out.assignment.sortedTopics() {
			at := kmsg.NewConsumerGroupHeartbeatResponseAssignmentTopic()
			at.TopicID = t
			at.Partitions = out.assignment.sortedPartitions(t)
			a.Topics = append(a.Topics, at)
		}
		resp.Assignment = &a
	}
	return resp
}

type heartbeatResult struct {
	memberID   string
	epoch      int32
	assignment partitionSet // nil: not sent
}

// validateHeartbeat is Kafka's throwIfConsumerGroupHeartbeatRequestIsInvalid.
func (c *Coordinator) validateHeartbeat(req *kmsg.ConsumerGroupHeartbeatRequest) error {
	invalid := func(msg string) error { return fmt.Errorf("group: %s: %w", msg, kerr.InvalidRequest) }
	blank := func(s *string) bool { return s != nil && strings.TrimSpace(*s) == "" }
	if (req.Version >= 1 || req.MemberEpoch > 0 || req.MemberEpoch == leaveEpoch) && strings.TrimSpace(req.MemberID) == "" {
		return invalid("MemberId can't be empty")
	}
	switch {
	case strings.TrimSpace(req.Group) == "":
		return invalid("GroupId can't be empty")
	case blank(req.InstanceID):
		return invalid("InstanceId can't be empty")
	case blank(req.RackID):
		return invalid("RackId can't be empty")
	}
	switch {
	case req.MemberEpoch == 0:
		switch {
		case req.RebalanceTimeoutMillis == -1:
			return invalid("RebalanceTimeoutMs must be provided in first request")
		case req.RebalanceTimeoutMillis < 0:
			return invalid("RebalanceTimeoutMs is invalid")
		case req.Topics == nil || len(req.Topics) != 0:
			return invalid("TopicPartitions must be empty when (re-)joining")
		case req.SubscribedTopicNames == nil && req.SubscribedTopicRegex == nil:
			return invalid("Either SubscribedTopicNames or SubscribedTopicRegex must be non-null when (re-)joining")
		}
	case req.MemberEpoch == staticLeaveEpoch:
		if req.InstanceID == nil {
			return invalid("InstanceId can't be null")
		}
	case req.MemberEpoch < staticLeaveEpoch:
		return invalid("MemberEpoch is invalid")
	}
	if req.ServerAssignor != nil && !slices.Contains(c.cfg.ConsumerAssignors, *req.ServerAssignor) {
		return fmt.Errorf("group: ServerAssignor %s is not supported; supported assignors: %s: %w",
			*req.ServerAssignor, strings.Join(c.cfg.ConsumerAssignors, ", "), kerr.UnsupportedAssignor)
	}
	if req.SubscribedTopicRegex != nil && *req.SubscribedTopicRegex != "" {
		if _, err := compileRegex(*req.SubscribedTopicRegex); err != nil {
			return fmt.Errorf("group: SubscribedTopicRegex `%s` is not a valid regular expression: %v: %w",
				*req.SubscribedTopicRegex, err, kerr.InvalidRegularExpression)
		}
	}
	return nil
}

// compileRegex compiles a subscription regex; like Kafka (RE2J's matches) it must
// match a whole topic name.
func compileRegex(re string) (*regexp.Regexp, error) {
	return regexp.Compile("^(?:" + re + ")$")
}

func (c *Coordinator) consumerHeartbeat(req *kmsg.ConsumerGroupHeartbeatRequest, clientID, clientHost string) (heartbeatResult, error) {
	var none heartbeatResult
	if err := c.validateHeartbeat(req); err != nil {
		return none, err
	}
	if isLeaveEpoch(req.MemberEpoch) {
		return c.consumerLeave(req)
	}
	memberID := req.MemberID
	if memberID == "" { // v0 join: the coordinator names the member
		memberID = newConsumerMemberID()
	}
	joining := req.MemberEpoch == 0
	g, err := c.lockGroup(req.Group, joining)
	if err != nil {
		return none, err
	}
	if g == nil {
		return none, fmt.Errorf("group: consumer group %s not found: %w", req.Group, kerr.GroupIDNotFound)
	}
	defer g.mu.Unlock()
	if g.state == StateDead {
		return none, kerr.CoordinatorNotAvailable
	}
	var recs []Record
	cg := g.cg
	if g.typ != TypeConsumer {
		// Only an empty classic group (offsets only, or no members left) becomes a
		// consumer group, as Kafka does without online migration of members.
		if !joining || len(g.members) > 0 || len(g.pending) > 0 {
			return none, fmt.Errorf("group: group %s is not a consumer group: %w", g.id, kerr.GroupIDNotFound)
		}
		if g.protocolType != "" || g.generation > 0 {
			recs = append(recs, Record{Key: groupKey(g.id)})
		}
		cg = newConsumerGroup()
	}

	// Find the member (Kafka's getOrMaybeSubscribe{Dynamic,Static}ConsumerGroupMember).
	old := cg.members[memberID]
	var replaced *consumerMember // a static member that left and is taken over
	if req.InstanceID != nil {
		var holder *consumerMember
		if id, ok := cg.static[*req.InstanceID]; ok {
			holder = cg.members[id]
		}
		switch {
		case joining && holder != nil && holder.id != memberID:
			if holder.epoch != staticLeaveEpoch {
				return none, fmt.Errorf("group: static member %s of group %s is still held by member %s: %w",
					*req.InstanceID, g.id, holder.id, kerr.UnreleasedInstanceID)
			}
			replaced = holder
		case joining:
			// New static member, or the holder rejoining in place.
		case holder == nil:
			return none, fmt.Errorf("group: instance id %s is unknown: %w", *req.InstanceID, kerr.UnknownMemberID)
		case holder.id != memberID:
			return none, fmt.Errorf("group: instance id %s is held by another member: %w", *req.InstanceID, kerr.FencedInstanceID)
		}
	}
	if !joining {
		if old == nil {
			return none, fmt.Errorf("group: member %s is not in group %s: %w", memberID, g.id, kerr.UnknownMemberID)
		}
		if err := checkMemberEpoch(old, req.MemberEpoch, req.Topics); err != nil {
			return none, err
		}
	}
	if old == nil && replaced == nil {
		if max := c.cfg.ConsumerMaxSize; max > 0 && len(cg.members) >= max {
			return none, fmt.Errorf("group: consumer group %s has reached its maximum of %d members: %w", g.id, max, kerr.GroupMaxSizeReached)
		}
	}

	// 1. The member, created or updated.
	var m *consumerMember
	switch {
	case old != nil:
		m = old.clone()
	case replaced != nil:
		m = replaced.clone()
		m.id, m.timer, m.revokeTimer = memberID, nil, nil
	default:
		m = &consumerMember{id: memberID, topics: []string{}, assigned: make(partitionSet), revoking: make(partitionSet)}
	}
	if joining && m.epoch < 0 || replaced != nil {
		// A static member coming back: it starts from the partitions it kept.
		m.epoch, m.state, m.revoking = 0, memberStable, make(partitionSet)
	}
	before := m.clone()
	if req.InstanceID != nil {
		m.instanceID = req.InstanceID
	}
	if req.RackID != nil {
		m.rackID = req.RackID
	}
	if req.RebalanceTimeoutMillis >= 0 {
		m.rebalanceTimeout = msDuration(req.RebalanceTimeoutMillis)
	}
	if req.ServerAssignor != nil {
		m.serverAssignor = req.ServerAssignor
	}
	if req.SubscribedTopicNames != nil {
		m.topics = slices.Clone(req.SubscribedTopicNames)
		sort.Strings(m.topics)
		m.topics = slices.Compact(m.topics)
	}
	if req.SubscribedTopicRegex != nil {
		m.regex = *req.SubscribedTopicRegex
	}
	m.clientID, m.clientHost = clientID, clientHost
	isNew := old == nil && replaced == nil
	if isNew || replaced != nil || !m.sameMetadata(before) {
		recs = append(recs, Record{Key: cgKey(cgMemberMetadataKey, g.id, &m.id), Value: cgMemberMetadataValue(m)})
	}
	bump := cg.epoch == 0 || isNew || !m.sameSubscription(before)

	// The subscription metadata of the group with this member: a topic created,
	// deleted or grown bumps the epoch too.
	members := make(map[string]*consumerMember, len(cg.members)+1)
	for id, o := range cg.members {
		if o != replaced {
			members[id] = o
		}
	}
	members[m.id] = m
	sub := c.subscriptionLocked(cg, members)
	hash := metadataHash(sub.meta)
	bump = bump || hash != cg.metaHash
	epoch := cg.epoch
	if bump {
		epoch++
		recs = append(recs, Record{Key: cgKey(cgMetadataKey, g.id, nil), Value: cgMetadataValue(epoch, hash)})
	}

	// 2. The target assignment, when the group epoch moved past it.
	target, assignmentEpoch, assignorName := cg.target, cg.assignmentEpoch, cg.assignor
	if epoch > cg.assignmentEpoch {
		var trecs []Record
		target, assignorName, trecs = c.computeTarget(g.id, cg, members, sub, replaced, m)
		recs = append(recs, trecs...)
		recs = append(recs, Record{Key: cgKey(cgTargetMetadataKey, g.id, nil), Value: cgTargetMetadataValue(epoch)})
		assignmentEpoch = epoch
	} else if replaced != nil {
		// No new target: the replacing static member takes over the old one's.
		moved := make(map[string]partitionSet, len(target))
		for id, t := range target {
			moved[id] = t
		}
		moved[m.id] = moved[replaced.id]
		if moved[m.id] == nil {
			moved[m.id] = make(partitionSet)
		}
		delete(moved, replaced.id)
		target = moved
		recs = append(recs, Record{Key: cgKey(cgTargetMemberKey, g.id, &m.id), Value: cgTargetMemberValue(target[m.id])})
	}

	// 3. Reconcile the member towards its target.
	subscribedIDs := sub.memberTopics(m)
	ownedByOther := func(t uuid, p int32) bool {
		o, ok := cg.owners[topicPartitionID{t, p}]
		return ok && o != m.id && (replaced == nil || o != replaced.id)
	}
	if err := reconcile(m, assignmentEpoch, target[m.id], subscribedIDs, ownedFromRequest(req.Topics), ownedByOther); err != nil {
		return none, err
	}
	if isNew || replaced != nil || !m.sameAssignment(before) {
		recs = append(recs, Record{Key: cgKey(cgCurrentAssignmentKey, g.id, &m.id), Value: cgCurrentAssignmentValue(m)})
	}
	if replaced != nil {
		recs = append(recs, memberTombstones(g.id, replaced.id)...)
	}

	if err := c.writeLocked(g, recs); err != nil {
		return none, storeError(err, false)
	}

	// Apply: the records are stored.
	if g.typ != TypeConsumer {
		g.typ, g.cg, g.protocolType, g.protocol, g.leader = TypeConsumer, cg, "consumer", "", ""
	}
	if replaced != nil {
		c.dropMemberLocked(cg, replaced)
		delete(target, replaced.id)
	}
	cg.epoch, cg.metaHash, cg.subscribed, cg.regexTopics = epoch, hash, sub.meta, sub.regexTopics
	cg.target, cg.assignmentEpoch, cg.assignor = target, assignmentEpoch, assignorName
	prevState, prevEpoch := memberStable, int32(-3)
	if old != nil {
		prevState, prevEpoch = old.state, old.epoch
		c.setOwnersLocked(cg, old, nil)
		*old = *m
		m = old
	}
	cg.members[m.id] = m
	c.setOwnersLocked(cg, nil, m)
	if m.instanceID != nil {
		cg.static[*m.instanceID] = m.id
	}
	m.deadline = c.clock.Now().Add(c.cfg.ConsumerSessionTimeout)
	c.scheduleConsumerSessionLocked(g, m)
	if m.state == memberUnrevoked {
		if prevState != memberUnrevoked || prevEpoch != m.epoch || m.revokeTimer == nil {
			c.scheduleRevocationLocked(g, m)
		}
	} else {
		stopTimer(m.revokeTimer)
		m.revokeTimer = nil
	}
	c.updateConsumerStateLocked(g)

	out := heartbeatResult{memberID: m.id, epoch: m.epoch}
	full := joining || (req.RebalanceTimeoutMillis != -1 && (req.SubscribedTopicNames != nil || req.SubscribedTopicRegex != nil) && req.Topics != nil)
	if full || !samePartitions(before.assigned, m.assigned) || replaced != nil {
		out.assignment = m.assigned.clone()
	}
	return out, nil
}

// checkMemberEpoch is Kafka's throwIfConsumerGroupMemberEpochIsInvalid: a member ahead
// of the coordinator, or behind it, is fenced; except a member one epoch behind that
// owns no more than its current assignment (the response that moved it on was lost).
func checkMemberEpoch(m *consumerMember, epoch int32, owned []kmsg.ConsumerGroupHeartbeatRequestTopic) error {
	switch {
	case epoch > m.epoch:
		return fmt.Errorf("group: the member has a greater member epoch (%d) than the one known by the group coordinator (%d); it must abandon all its partitions and rejoin: %w",
			epoch, m.epoch, kerr.FencedMemberEpoch)
	case epoch < m.epoch:
		if epoch != m.prevEpoch || owned == nil || !ownedSubset(owned, m.assigned) {
			return fmt.Errorf("group: the member has a smaller member epoch (%d) than the one known by the group coordinator (%d); it must abandon all its partitions and rejoin: %w",
				epoch, m.epoch, kerr.FencedMemberEpoch)
		}
	}
	return nil
}

func ownedSubset(owned []kmsg.ConsumerGroupHeartbeatRequestTopic, s partitionSet) bool {
	for _, t := range owned {
		for _, p := range t.Partitions {
			if !s.has(t.TopicID, p) {
				return false
			}
		}
	}
	return true
}

// ownedFromRequest is the partitions a heartbeat says the member owns; nil when the
// request does not say (unchanged since the last one).
func ownedFromRequest(ts []kmsg.ConsumerGroupHeartbeatRequestTopic) partitionSet {
	if ts == nil {
		return nil
	}
	s := make(partitionSet)
	for _, t := range ts {
		for _, p := range t.Partitions {
			s.add(t.TopicID, p, 0)
		}
	}
	return s
}

// ownsAny reports whether owned includes any partition of s; not knowing what the
// member owns counts as owning them.
func ownsAny(owned, s partitionSet) bool {
	if owned == nil {
		return true
	}
	for t, ps := range s {
		for p := range ps {
			if owned.has(t, p) {
				return true
			}
		}
	}
	return false
}

// reconcile moves m towards its target assignment (Kafka's CurrentAssignmentBuilder):
// partitions leave a member first (it stays in its epoch until it stops reporting
// them), and come to it only once no other member holds them.
func reconcile(m *consumerMember, targetEpoch int32, target partitionSet, subscribed map[uuid]bool, owned partitionSet, ownedByOther func(uuid, int32) bool) error {
	switch m.state {
	case memberStable:
		if m.epoch == targetEpoch {
			return nil
		}
	case memberUnrevoked:
		if ownsAny(owned, m.revoking) {
			return nil
		}
	case memberUnreleased:
	default:
		// A state written by a newer coordinator: start the member over.
		if owned == nil || len(owned) > 0 {
			return fmt.Errorf("group: the member is in an unknown state; it must abandon all its partitions and rejoin: %w", kerr.FencedMemberEpoch)
		}
		m.epoch = targetEpoch
	}
	newAssigned, revoking, pending := make(partitionSet), make(partitionSet), make(partitionSet)
	unreleased := false
	topics := make(map[uuid]bool)
	for t := range target {
		topics[t] = true
	}
	for t := range m.assigned {
		topics[t] = true
	}
	for t := range topics {
		tgt := target[t]
		if !subscribed[t] {
			tgt = nil
		}
		for p, e := range m.assigned[t] {
			if _, ok := tgt[p]; ok {
				newAssigned.add(t, p, e)
			} else {
				revoking.add(t, p, e)
			}
		}
		for p := range tgt {
			if newAssigned.has(t, p) {
				continue
			}
			if ownedByOther(t, p) && !m.revoking.has(t, p) {
				unreleased = true
				continue
			}
			pending.add(t, p, targetEpoch)
		}
	}
	setEpoch := func(e int32) {
		if e != m.epoch {
			m.prevEpoch, m.epoch = m.epoch, e
		}
	}
	if len(revoking) > 0 && ownsAny(owned, revoking) {
		m.state, m.assigned, m.revoking = memberUnrevoked, newAssigned, revoking
		return nil
	}
	for t, ps := range pending {
		for p, e := range ps {
			newAssigned.add(t, p, e)
		}
	}
	m.assigned, m.revoking = newAssigned, make(partitionSet)
	m.state = memberStable
	if unreleased {
		m.state = memberUnreleased
	}
	setEpoch(targetEpoch)
	return nil
}

// subscription is the subscription metadata of a group: its subscribed topics that
// exist, and what each regex matches.
type subscription struct {
	meta        map[string]topicMeta
	regexTopics map[string][]string
}

// memberTopics is the ids of the existing topics m subscribes to.
func (s subscription) memberTopics(m *consumerMember) map[uuid]bool {
	out := make(map[uuid]bool)
	for _, t := range m.topics {
		if tm, ok := s.meta[t]; ok {
			out[tm.id] = true
		}
	}
	if m.regex != "" {
		for _, t := range s.regexTopics[m.regex] {
			if tm, ok := s.meta[t]; ok {
				out[tm.id] = true
			}
		}
	}
	return out
}

// subscriptionLocked computes the subscription metadata of members from the current
// topic image. Regexes are matched against every topic name at each heartbeat.
func (c *Coordinator) subscriptionLocked(cg *consumerGroup, members map[string]*consumerMember) subscription {
	img := c.image()
	s := subscription{meta: make(map[string]topicMeta), regexTopics: make(map[string][]string)}
	addTopic := func(name string) bool {
		if _, ok := s.meta[name]; ok {
			return true
		}
		ti, ok := img.TopicByName(name)
		if ok {
			s.meta[name] = topicMeta{id: ti.ID, partitions: ti.Partitions}
		}
		return ok
	}
	var names []string
	for _, m := range members {
		for _, t := range m.topics {
			addTopic(t)
		}
		if m.regex == "" {
			continue
		}
		if _, done := s.regexTopics[m.regex]; done {
			continue
		}
		re := cg.compiled[m.regex]
		if re == nil {
			var err error
			if re, err = compileRegex(m.regex); err != nil {
				s.regexTopics[m.regex] = nil
				continue
			}
			cg.compiled[m.regex] = re
		}
		if names == nil {
			names = img.TopicNames()
		}
		matched := []string{}
		for _, n := range names {
			if re.MatchString(n) && addTopic(n) {
				matched = append(matched, n)
			}
		}
		sort.Strings(matched)
		s.regexTopics[m.regex] = matched
	}
	return s
}

// groupAssignor is the assignor of the group: the one most members ask for, else the
// first of group.consumer.assignors.
func (c *Coordinator) groupAssignor(members map[string]*consumerMember) string {
	votes := make(map[string]int)
	for _, m := range members {
		if m.serverAssignor != nil {
			votes[*m.serverAssignor]++
		}
	}
	best := ""
	for _, name := range c.cfg.ConsumerAssignors {
		if votes[name] > votes[best] || (best == "" && votes[name] > 0) {
			best = name
		}
	}
	if best == "" {
		best = c.cfg.ConsumerAssignors[0]
	}
	return best
}

// computeTarget runs the group's assignor over members and returns the new target
// assignment with the records of the members' targets that changed. A static member
// replacing another (replaced, by m) inherits its target so it keeps its partitions.
func (c *Coordinator) computeTarget(groupID string, cg *consumerGroup, members map[string]*consumerMember, sub subscription, replaced, m *consumerMember) (map[string]partitionSet, string, []Record) {
	name := c.groupAssignor(members)
	partitions := make(map[uuid]int32, len(sub.meta))
	for _, tm := range sub.meta {
		partitions[tm.id] = tm.partitions
	}
	in := make([]assignorMember, 0, len(members))
	for _, id := range sortedKeys(members) {
		cur := cg.target[id]
		if replaced != nil && id == m.id && cg.target[id] == nil {
			cur = cg.target[replaced.id]
		}
		in = append(in, assignorMember{id: id, topics: sub.memberTopics(members[id]), current: cur})
	}
	out := assignors[name](in, partitions)
	var recs []Record
	for _, id := range sortedKeys(out) {
		prev, ok := cg.target[id]
		if replaced != nil && id == m.id {
			ok = false // a new member id: always written
		}
		if !ok || !samePartitions(prev, out[id]) {
			id := id
			recs = append(recs, Record{Key: cgKey(cgTargetMemberKey, groupID, &id), Value: cgTargetMemberValue(out[id])})
		}
	}
	return out, name, recs
}

// memberTombstones deletes a member's records, in Kafka's order.
func memberTombstones(groupID, memberID string) []Record {
	return []Record{
		{Key: cgKey(cgCurrentAssignmentKey, groupID, &memberID)},
		{Key: cgKey(cgTargetMemberKey, groupID, &memberID)},
		{Key: cgKey(cgMemberMetadataKey, groupID, &memberID)},
	}
}

// setOwnersLocked moves the ownership of partitions from was's holdings to now's.
func (c *Coordinator) setOwnersLocked(cg *consumerGroup, was, now *consumerMember) {
	if was != nil {
		for _, s := range []partitionSet{was.assigned, was.revoking} {
			for t, ps := range s {
				for p := range ps {
					if cg.owners[topicPartitionID{t, p}] == was.id {
						delete(cg.owners, topicPartitionID{t, p})
					}
				}
			}
		}
	}
	if now != nil {
		for _, s := range []partitionSet{now.assigned, now.revoking} {
			for t, ps := range s {
				for p := range ps {
					cg.owners[topicPartitionID{t, p}] = now.id
				}
			}
		}
	}
}

// dropMemberLocked forgets a member: its timers, partitions and static id.
func (c *Coordinator) dropMemberLocked(cg *consumerGroup, m *consumerMember) {
	stopTimer(m.timer)
	stopTimer(m.revokeTimer)
	m.timer, m.revokeTimer = nil, nil
	c.setOwnersLocked(cg, m, nil)
	delete(cg.members, m.id)
	if m.instanceID != nil && cg.static[*m.instanceID] == m.id {
		delete(cg.static, *m.instanceID)
	}
}

// consumerLeave handles a heartbeat with member epoch -1 (leave) or -2 (a static
// member leaving for now: it keeps its partitions until its session expires).
func (c *Coordinator) consumerLeave(req *kmsg.ConsumerGroupHeartbeatRequest) (heartbeatResult, error) {
	var none heartbeatResult
	g, err := c.lockGroup(req.Group, false)
	if err != nil {
		return none, err
	}
	if g == nil {
		return none, fmt.Errorf("group: consumer group %s not found: %w", req.Group, kerr.GroupIDNotFound)
	}
	defer g.mu.Unlock()
	if g.typ != TypeConsumer || g.state == StateDead {
		return none, fmt.Errorf("group: group %s is not a consumer group: %w", g.id, kerr.GroupIDNotFound)
	}
	cg := g.cg
	m := cg.members[req.MemberID]
	if req.InstanceID != nil {
		id, ok := cg.static[*req.InstanceID]
		switch {
		case !ok:
			return none, fmt.Errorf("group: instance id %s is unknown: %w", *req.InstanceID, kerr.UnknownMemberID)
		case id != req.MemberID:
			return none, fmt.Errorf("group: instance id %s is held by another member: %w", *req.InstanceID, kerr.FencedInstanceID)
		}
	}
	if m == nil {
		return none, fmt.Errorf("group: member %s is not in group %s: %w", req.MemberID, g.id, kerr.UnknownMemberID)
	}
	if req.MemberEpoch == staticLeaveEpoch {
		next := m.clone()
		next.epoch, next.revoking = staticLeaveEpoch, make(partitionSet)
		if err := c.writeLocked(g, []Record{{Key: cgKey(cgCurrentAssignmentKey, g.id, &m.id), Value: cgCurrentAssignmentValue(next)}}); err != nil {
			return none, storeError(err, false)
		}
		c.setOwnersLocked(cg, m, nil)
		m.epoch, m.revoking = staticLeaveEpoch, next.revoking
		c.setOwnersLocked(cg, nil, m)
		stopTimer(m.revokeTimer)
		m.revokeTimer = nil
		c.updateConsumerStateLocked(g)
		return heartbeatResult{memberID: m.id, epoch: staticLeaveEpoch}, nil
	}
	if err := c.removeConsumerMembersLocked(g, m); err != nil {
		return none, err
	}
	return heartbeatResult{memberID: req.MemberID, epoch: leaveEpoch}, nil
}

// removeConsumerMembersLocked removes members (left, expired or fenced): their records
// are deleted, the group epoch is bumped and the target assignment recomputed for the
// members that remain, whose partitions then move as they heartbeat.
func (c *Coordinator) removeConsumerMembersLocked(g *group, gone ...*consumerMember) error {
	cg := g.cg
	var recs []Record
	members := make(map[string]*consumerMember, len(cg.members))
	for id, m := range cg.members {
		members[id] = m
	}
	for _, m := range gone {
		recs = append(recs, memberTombstones(g.id, m.id)...)
		delete(members, m.id)
	}
	sub := c.subscriptionLocked(cg, members)
	hash := metadataHash(sub.meta)
	epoch := cg.epoch + 1
	recs = append(recs, Record{Key: cgKey(cgMetadataKey, g.id, nil), Value: cgMetadataValue(epoch, hash)})
	target, name := map[string]partitionSet{}, cg.assignor
	if len(members) > 0 {
		var trecs []Record
		target, name, trecs = c.computeTarget(g.id, cg, members, sub, nil, nil)
		recs = append(recs, trecs...)
	}
	recs = append(recs, Record{Key: cgKey(cgTargetMetadataKey, g.id, nil), Value: cgTargetMetadataValue(epoch)})
	if err := c.writeLocked(g, recs); err != nil {
		return storeError(err, false)
	}
	for _, m := range gone {
		c.dropMemberLocked(cg, m)
	}
	cg.epoch, cg.metaHash, cg.subscribed, cg.regexTopics = epoch, hash, sub.meta, sub.regexTopics
	cg.target, cg.assignmentEpoch, cg.assignor = target, epoch, name
	c.updateConsumerStateLocked(g)
	return nil
}

func (c *Coordinator) scheduleConsumerSessionLocked(g *group, m *consumerMember) {
	if m.timer != nil {
		return // it fires at the old deadline and re-arms for the new one
	}
	m.timer = c.after(m.deadline.Sub(c.clock.Now()), func() { c.onConsumerSession(g, m) })
}

// onConsumerSession removes m unless it heartbeated since the timer was armed.
func (c *Coordinator) onConsumerSession(g *group, m *consumerMember) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.state == StateDead || g.cg == nil || g.cg.members[m.id] != m {
		return
	}
	m.timer = nil
	now := c.clock.Now()
	if now.Before(m.deadline) {
		c.scheduleConsumerSessionLocked(g, m)
		return
	}
	c.logger.Info("group: consumer group member session expired", "group", g.id, "member", m.id)
	if err := c.removeConsumerMembersLocked(g, m); err != nil {
		// Try again after another session timeout.
		m.deadline = now.Add(c.cfg.ConsumerSessionTimeout)
		c.scheduleConsumerSessionLocked(g, m)
	}
}

// scheduleRevocationLocked gives m its rebalance timeout to revoke partitions;
// a member still holding them then is removed from the group, as Kafka fences it.
func (c *Coordinator) scheduleRevocationLocked(g *group, m *consumerMember) {
	stopTimer(m.revokeTimer)
	m.revokeSeq++
	seq, epoch := m.revokeSeq, m.epoch
	m.revokeTimer = c.after(m.rebalanceTimeout, func() {
		g.mu.Lock()
		defer g.mu.Unlock()
		if g.state == StateDead || g.cg == nil || g.cg.members[m.id] != m || m.revokeSeq != seq || m.state != memberUnrevoked || m.epoch != epoch {
			return
		}
		m.revokeTimer = nil
		c.logger.Info("group: consumer group member did not revoke its partitions within the rebalance timeout", "group", g.id, "member", m.id)
		if err := c.removeConsumerMembersLocked(g, m); err != nil {
			c.scheduleRevocationLocked(g, m)
		}
	})
}

// consumerGroupTombstones deletes an empty consumer group's own records.
func consumerGroupTombstones(groupID string) []Record {
	return []Record{
		{Key: cgKey(cgTargetMetadataKey, groupID, nil)},
		{Key: cgKey(cgMetadataKey, groupID, nil)},
	}
}

// groupTombstonesLocked returns the records deleting g's metadata (not its offsets).
func (g *group) groupTombstonesLocked() []Record {
	if g.typ == TypeConsumer {
		return consumerGroupTombstones(g.id)
	}
	return []Record{{Key: groupKey(g.id)}}
}

// validateConsumerCommitLocked is Kafka's ConsumerGroup.validateOffsetCommit: a commit
// with a negative epoch and no member id is an admin commit, allowed only while the group
// is empty; any other must come from a member at its current epoch, or at an older
// epoch for partitions it was assigned at or before that epoch (KIP-1251), else
// STALE_MEMBER_EPOCH.
func validateConsumerCommitLocked(g *group, memberID string, epoch int32, version int16, tps []topicPartition, ids func(string) (uuid, bool)) error {
	cg := g.cg
	if epoch < 0 && len(cg.members) == 0 {
		return nil
	}
	m := cg.members[memberID]
	if m == nil {
		return fmt.Errorf("group: member %s is not in group %s: %w", memberID, g.id, kerr.UnknownMemberID)
	}
	if version < 9 {
		return fmt.Errorf("group: OffsetCommit version 9 or above must be used by members using the consumer group protocol: %w", kerr.UnsupportedVersion)
	}
	if epoch == m.epoch {
		return nil
	}
	if epoch > m.epoch || epoch < 0 {
		return fmt.Errorf("group: commit at member epoch %d, the member is at %d: %w", epoch, m.epoch, kerr.StaleMemberEpoch)
	}
	for _, tp := range tps {
		id, ok := ids(tp.topic)
		if !ok {
			return kerr.StaleMemberEpoch
		}
		e, held := m.assigned[id][tp.partition]
		if !held {
			e, held = m.revoking[id][tp.partition]
		}
		if !held || e > epoch {
			return fmt.Errorf("group: commit of %s-%d at member epoch %d, the member is at %d: %w", tp.topic, tp.partition, epoch, m.epoch, kerr.StaleMemberEpoch)
		}
	}
	return nil
}

// validateConsumerFetchLocked is Kafka's ConsumerGroup.validateOffsetFetch (OffsetFetch
// v9+ names the member): the member must exist and be at its current epoch.
func validateConsumerFetchLocked(g *group, memberID *string, epoch int32) error {
	if memberID == nil && epoch < 0 {
		return nil
	}
	id := ""
	if memberID != nil {
		id = *memberID
	}
	m := g.cg.members[id]
	if m == nil {
		return fmt.Errorf("group: member %s is not in group %s: %w", id, g.id, kerr.UnknownMemberID)
	}
	if epoch != m.epoch {
		return fmt.Errorf("group: fetch at member epoch %d, the member is at %d: %w", epoch, m.epoch, kerr.StaleMemberEpoch)
	}
	return nil
}

// restoreConsumer rebuilds a consumer group from its records. Members keep their
// epochs and assignments and must heartbeat within the session timeout; those in the
// middle of a revocation get a fresh rebalance timeout.
func (c *Coordinator) restoreConsumer(g *group, r *replayedConsumerGroup, now time.Time) {
	cg := newConsumerGroup()
	cg.epoch, cg.metaHash = *r.epoch, r.hash
	if r.targetEpoch != nil {
		cg.assignmentEpoch = *r.targetEpoch
	}
	for id, meta := range r.meta {
		m := meta
		cur := r.current[id]
		if cur == nil {
			m.assigned, m.revoking = make(partitionSet), make(partitionSet)
		} else {
			m.epoch, m.prevEpoch, m.state, m.assigned, m.revoking = cur.epoch, cur.prevEpoch, cur.state, cur.assigned, cur.revoking
		}
		if m.topics == nil {
			m.topics = []string{}
		}
		m.deadline = now.Add(c.cfg.ConsumerSessionTimeout)
		cg.members[id] = m
		if m.instanceID != nil {
			cg.static[*m.instanceID] = id
		}
		c.setOwnersLocked(cg, nil, m)
	}
	for id, t := range r.target {
		if cg.members[id] != nil {
			cg.target[id] = t
		}
	}
	cg.assignor = c.groupAssignor(cg.members)
	// Records of a classic group of the same id, if any, are older: a group becomes a
	// consumer group only when its classic metadata is deleted.
	g.members, g.static = make(map[string]*member), make(map[string]string)
	g.protocol, g.leader, g.generation = "", "", 0
	g.typ, g.cg, g.protocolType = TypeConsumer, cg, "consumer"
	g.state = cg.state()
}

// startConsumerTimersLocked arms the timers of a loaded consumer group.
func (c *Coordinator) startConsumerTimersLocked(g *group) {
	for _, m := range g.cg.members {
		c.scheduleConsumerSessionLocked(g, m)
		if m.state == memberUnrevoked {
			c.scheduleRevocationLocked(g, m)
		}
	}
}

// subscribedTopicNames is the topics a consumer group's members consume (names and
// regex matches as of the last heartbeat).
func (cg *consumerGroup) subscribedTopicNames() map[string]bool {
	out := make(map[string]bool)
	for _, m := range cg.members {
		for _, t := range m.topics {
			out[t] = true
		}
		for _, t := range cg.regexTopics[m.regex] {
			out[t] = true
		}
	}
	return out
}
