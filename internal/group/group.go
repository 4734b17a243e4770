package group

import (
	"bytes"
	"errors"
	"slices"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// State is a group's state, named as Kafka names it in DescribeGroups and ListGroups.
type State string

// Group states.
const (
	StateEmpty               State = "Empty"
	StatePreparingRebalance  State = "PreparingRebalance"
	StateCompletingRebalance State = "CompletingRebalance"
	StateStable              State = "Stable"
	StateDead                State = "Dead"
)

// Type is a group's protocol family: classic groups and KIP-848's consumer groups,
// which share the offsets part of group.
type Type string

// Group types, as ListGroups v5 names them.
const (
	TypeClassic  Type = "classic"
	TypeConsumer Type = "consumer"
)

// group is one group: the committed offsets every group type has, and the membership
// of a classic group. Everything is guarded by mu (see the package doc).
type group struct {
	id        string
	partition int32 // of __consumer_offsets

	mu    sync.Mutex
	typ   Type
	state State
	// unloaded is set, with state Dead, when the group's partition was unloaded: a
	// request that finds it so looks the group up again (and gets NOT_COORDINATOR).
	unloaded  bool
	stateTime time.Time // when state last changed (GroupMetadataValue.CurrentStateTimestamp)
	offsets   map[topicPartition]offset

	// Classic membership.
	protocolType string // "" until the first member joins
	protocol     string // selected protocol of this generation; "" when none
	generation   int32
	leader       string
	members      map[string]*member
	static       map[string]string // group.instance.id -> member id
	// pending are member ids handed out with MEMBER_ID_REQUIRED (KIP-394), expiring
	// after the session timeout unless the member joins with it.
	pending map[string]Timer
	// rebalanceSeq numbers rebalances, so a timer of an earlier one does nothing.
	rebalanceSeq int
	joinTimer    Timer
	syncTimer    Timer
	// initialDelay is set while the first rebalance of an empty group waits for
	// group.initial.rebalance.delay.ms; newMemberAdded and delayRemaining drive it.
	initialDelay   bool
	newMemberAdded bool
	delayRemaining time.Duration

	// cg is the state of a KIP-848 consumer group (typ TypeConsumer), nil otherwise.
	cg *consumerGroup
}

// member is one classic group member.
type member struct {
	id               string
	instanceID       *string
	clientID         string
	clientHost       string
	seq              uint64 // join order: the leader is the earliest member
	sessionTimeout   time.Duration
	rebalanceTimeout time.Duration
	protocolType     string
	protocols        []kmsg.JoinGroupRequestProtocol
	assignment       []byte

	// joinCh is set while the member waits in JoinGroup; syncCh while it waits in
	// SyncGroup. Both have a buffer of one, so answering never blocks.
	joinCh chan joinResult
	syncCh chan syncResult
	// synced is set when the member sent SyncGroup in this generation.
	synced bool
	// deadline is when the session expires without a heartbeat; timer fires then.
	deadline time.Time
	timer    Timer
}

type joinResult struct {
	err            error
	memberID       string
	generation     int32
	protocolType   string
	protocol       string
	leader         string
	skipAssignment bool
	members        []kmsg.JoinGroupResponseMember
}

type syncResult struct {
	err        error
	assignment []byte
	// protocolType and protocol are the group's, for SyncGroup v5.
	protocolType, protocol string
}

func newGroup(id string, partition int32, now time.Time) *group {
	return &group{
		id:        id,
		partition: partition,
		typ:       TypeClassic,
		state:     StateEmpty,
		stateTime: now,
		offsets:   make(map[topicPartition]offset),
		members:   make(map[string]*member),
		static:    make(map[string]string),
		pending:   make(map[string]Timer),
	}
}

func (g *group) transitionLocked(s State, now time.Time) {
	g.state = s
	g.stateTime = now
}

func (g *group) stopTimersLocked() {
	stopTimer(g.joinTimer)
	stopTimer(g.syncTimer)
	g.joinTimer, g.syncTimer = nil, nil
	for id, t := range g.pending {
		stopTimer(t)
		g.pending[id] = nil
	}
	for _, m := range g.members {
		stopTimer(m.timer)
		m.timer = nil
	}
	if g.cg != nil {
		g.cg.stopTimers()
	}
}

// sortedMembers returns the members in join order.
func (g *group) sortedMembers() []*member {
	out := make([]*member, 0, len(g.members))
	for _, m := range g.members {
		out = append(out, m)
	}
	slices.SortFunc(out, func(a, b *member) int {
		switch {
		case a.seq < b.seq:
			return -1
		case a.seq > b.seq:
			return 1
		}
		return 0
	})
	return out
}

// isStaticMemberFenced reports a known instance id used with another member id.
func (g *group) isStaticMemberFenced(instanceID *string, memberID string) bool {
	if instanceID == nil {
		return false
	}
	id, ok := g.static[*instanceID]
	return ok && id != memberID
}

// supportsProtocols is Kafka's check that a joining member can be in the group: an
// empty group takes any non-empty protocol list, a non-empty one needs the same
// protocol type and a protocol every member supports.
func (g *group) supportsProtocols(protocolType string, protocols []kmsg.JoinGroupRequestProtocol) bool {
	if len(g.members) == 0 {
		return protocolType != "" && len(protocols) > 0
	}
	if protocolType != g.protocolType {
		return false
	}
	for _, p := range protocols {
		if g.allSupport(p.Name, nil) {
			return true
		}
	}
	return false
}

// allSupport reports whether every member except skip supports protocol name.
func (g *group) allSupport(name string, skip *member) bool {
	for _, m := range g.members {
		if m == skip {
			continue
		}
		if !slices.ContainsFunc(m.protocols, func(p kmsg.JoinGroupRequestProtocol) bool { return p.Name == name }) {
			return false
		}
	}
	return true
}

// selectProtocol picks the protocol of the next generation as Kafka does: among those
// every member supports, each member votes for the first of its own list, and the most
// votes win (ties go to the earliest member's preference).
func (g *group) selectProtocol() string {
	ms := g.sortedMembers()
	if len(ms) == 0 {
		return ""
	}
	var candidates []string
	for _, p := range ms[0].protocols {
		if g.allSupport(p.Name, nil) && !slices.Contains(candidates, p.Name) {
			candidates = append(candidates, p.Name)
		}
	}
	votes := make(map[string]int)
	for _, m := range ms {
		for _, p := range m.protocols {
			if slices.Contains(candidates, p.Name) {
				votes[p.Name]++
				break
			}
		}
	}
	best := ""
	for _, name := range candidates {
		if best == "" || votes[name] > votes[best] {
			best = name
		}
	}
	return best
}

// metadataFor is the member's metadata for protocol name.
func (m *member) metadataFor(name string) []byte {
	for _, p := range m.protocols {
		if p.Name == name {
			return p.Metadata
		}
	}
	return nil
}

// sameProtocols reports whether a rejoin changes nothing the assignment depends on.
func (m *member) sameProtocols(protocolType string, ps []kmsg.JoinGroupRequestProtocol) bool {
	if protocolType != m.protocolType || len(ps) != len(m.protocols) {
		return false
	}
	for i := range ps {
		if ps[i].Name != m.protocols[i].Name || !bytes.Equal(ps[i].Metadata, m.protocols[i].Metadata) {
			return false
		}
	}
	return true
}

func (m *member) awaitingJoin() bool { return m.joinCh != nil }
func (m *member) awaitingSync() bool { return m.syncCh != nil }

// answerJoin completes a waiting JoinGroup.
func (m *member) answerJoin(r joinResult) {
	if m.joinCh != nil {
		m.joinCh <- r
		m.joinCh = nil
	}
}

func (m *member) answerSync(r syncResult) {
	if m.syncCh != nil {
		m.syncCh <- r
		m.syncCh = nil
	}
}

// subscribedTopics is the set of topics the members subscribe to, parsed from their
// consumer-protocol metadata; ok is false when the group does not use the consumer
// protocol (its subscriptions are unknown).
func (g *group) subscribedTopics() (topics map[string]bool, ok bool) {
	if g.typ == TypeConsumer {
		return g.cg.subscribedTopicNames(), true
	}
	if g.protocolType != "consumer" || len(g.members) == 0 {
		return nil, len(g.members) == 0
	}
	topics = make(map[string]bool)
	for _, m := range g.members {
		md := m.metadataFor(g.protocol)
		if g.protocol == "" && len(m.protocols) > 0 {
			md = m.protocols[0].Metadata
		}
		var cm kmsg.ConsumerMemberMetadata
		if err := cm.ReadFrom(md); err != nil {
			return nil, false
		}
		for _, t := range cm.Topics {
			topics[t] = true
		}
	}
	return topics, true
}

// asKerr returns the *kerr.Error err wraps, or nil.
func asKerr(err error) *kerr.Error {
	var ke *kerr.Error
	if errors.As(err, &ke) {
		return ke
	}
	return nil
}
