package metadata

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"slices"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
)

// This file is the active controller's side of the broker lifecycle (KIP-631): brokers
// register, heartbeat, are unfenced once they have caught up with the metadata, are
// fenced when their heartbeats stop, and move their leadership away before a controlled
// shutdown. Fencing or shutting down a broker elects new leaders for the partitions it
// led and removes it from ISRs, so clients move to the remaining replicas.
//
// Heartbeat times live only in the active controller's memory, as in Kafka: a newly
// elected controller (Activate) gives every broker a full session timeout before fencing.

// BrokerRegistration is a broker's registration request.
type BrokerRegistration struct {
	ID        int32
	Host      string
	Port      int32
	Rack      string
	ClusterID string // "" skips the check
	// Incarnation identifies one run of the broker process: a second process registering
	// with the same id while the first still heartbeats is refused.
	Incarnation UUID
}

// BrokerHeartbeat is one heartbeat of a registered broker.
type BrokerHeartbeat struct {
	ID             int32
	Epoch          int64 // the epoch RegisterBroker returned
	MetadataOffset int64 // the offset of the broker's metadata image
	WantFence      bool
	WantShutdown   bool
}

// HeartbeatResult is the controller's answer to a heartbeat.
type HeartbeatResult struct {
	CaughtUp       bool // the broker's metadata includes its own registration
	Fenced         bool
	ShouldShutdown bool // controlled shutdown may proceed: the broker leads nothing
}

// session is what the active controller knows of a broker between heartbeats.
type session struct {
	lastSeen    time.Time
	incarnation UUID
}

// Activate starts the controller's duties after this node became the active
// controller: every registered broker gets a fresh session, so none is fenced for
// heartbeats it sent to the previous controller.
func (c *Controller) Activate() {
	c.sessMu.Lock()
	defer c.sessMu.Unlock()
	now := c.now()
	c.sessions = make(map[int32]*session)
	for id := range c.q.Image().Brokers {
		c.sessions[id] = &session{lastSeen: now}
	}
}

func (c *Controller) now() time.Time {
	if c.cfg.Now != nil {
		return c.cfg.Now()
	}
	return time.Now()
}

// touch records a sign of life from broker id and returns its session.
func (c *Controller) touch(id int32) *session {
	c.sessMu.Lock()
	defer c.sessMu.Unlock()
	if c.sessions == nil {
		c.sessions = make(map[int32]*session)
	}
	s := c.sessions[id]
	if s == nil {
		s = &session{}
		c.sessions[id] = s
	}
	s.lastSeen = c.now()
	return s
}

// alive reports whether broker id heartbeated within the session timeout.
func (c *Controller) alive(id int32) bool {
	c.sessMu.Lock()
	defer c.sessMu.Unlock()
	s := c.sessions[id]
	return s != nil && c.now().Sub(s.lastSeen) < c.cfg.BrokerSessionTimeout
}

// RegisterBroker registers (or re-registers) a broker, fenced, and returns its new
// broker epoch. A re-registering broker restarted: it loses the leadership and ISR
// memberships it had, since its log may be behind what it acknowledged before
// (Kafka's handling of an unclean shutdown).
func (c *Controller) RegisterBroker(ctx context.Context, reg BrokerRegistration) (int64, error) {
	if err := c.lock(ctx); err != nil {
		return -1, err
	}
	defer c.unlock()
	img := c.q.Image()
	if reg.ClusterID != "" && reg.ClusterID != img.ClusterID {
		return -1, fmt.Errorf("metadata: broker %d belongs to cluster %q, not %q: %w", reg.ID, reg.ClusterID, img.ClusterID, kerr.InconsistentClusterID)
	}
	if reg.ID < 0 {
		return -1, fmt.Errorf("metadata: broker id %d is negative: %w", reg.ID, kerr.InvalidRequest)
	}
	c.sessMu.Lock()
	s := c.sessions[reg.ID]
	dup := s != nil && !s.incarnation.IsZero() && s.incarnation != reg.Incarnation &&
		c.now().Sub(s.lastSeen) < c.cfg.BrokerSessionTimeout && img.Brokers[reg.ID].Usable()
	c.sessMu.Unlock()
	if dup {
		return -1, fmt.Errorf("metadata: broker %d is already registered by another live process: %w", reg.ID, kerr.DuplicateBrokerRegistration)
	}
	var recs []Record
	if _, ok := img.Brokers[reg.ID]; ok {
		recs = c.removeBrokerRecords(img, reg.ID)
	}
	epoch := img.Offset + int64(len(recs))
	recs = append(recs, Record{Type: RecordRegisterBroker, RegisterBroker: &RegisterBrokerRecord{
		ID: reg.ID, Host: reg.Host, Port: reg.Port, Rack: reg.Rack, Epoch: epoch, Fenced: true,
	}})
	if _, err := c.q.Propose(ctx, recs); err != nil {
		return -1, fmt.Errorf("metadata: register broker %d: %w", reg.ID, err)
	}
	s = c.touch(reg.ID)
	c.sessMu.Lock()
	s.incarnation = reg.Incarnation
	c.sessMu.Unlock()
	return epoch, nil
}

// Heartbeat handles a broker's heartbeat: it keeps the broker's session alive, unfences
// it once its metadata has caught up, and runs a controlled shutdown it asks for.
func (c *Controller) Heartbeat(ctx context.Context, hb BrokerHeartbeat) (HeartbeatResult, error) {
	if err := c.lock(ctx); err != nil {
		return HeartbeatResult{}, err
	}
	defer c.unlock()
	img := c.q.Image()
	b, ok := img.Brokers[hb.ID]
	switch {
	case !ok:
		return HeartbeatResult{}, fmt.Errorf("metadata: heartbeat of broker %d, which is not registered: %w", hb.ID, kerr.BrokerIDNotRegistered)
	case hb.Epoch != b.Epoch:
		return HeartbeatResult{}, fmt.Errorf("metadata: heartbeat of broker %d with epoch %d, current is %d: %w", hb.ID, hb.Epoch, b.Epoch, kerr.StaleBrokerEpoch)
	}
	c.touch(hb.ID)
	// The registration record is at offset Epoch, so an image holding it has applied
	// more than Epoch records.
	caughtUp := hb.MetadataOffset > b.Epoch
	var recs []Record
	switch {
	case hb.WantShutdown && !b.InControlledShutdown:
		recs = c.removeBrokerRecords(img, hb.ID)
		recs = append(recs, Record{Type: RecordBrokerChange, BrokerChange: &BrokerChangeRecord{ID: hb.ID, InControlledShutdown: ptr(true)}})
	case hb.WantShutdown:
		// Already shutting down: nothing new to do.
	case hb.WantFence && !b.Fenced:
		recs = c.removeBrokerRecords(img, hb.ID)
		recs = append(recs, Record{Type: RecordBrokerChange, BrokerChange: &BrokerChangeRecord{ID: hb.ID, Fenced: ptr(true)}})
	case b.Fenced && !hb.WantFence && caughtUp:
		unfence := []Record{{Type: RecordBrokerChange, BrokerChange: &BrokerChangeRecord{ID: hb.ID, Fenced: ptr(false)}}}
		after, err := img.Apply(unfence)
		if err != nil {
			return HeartbeatResult{}, fmt.Errorf("metadata: unfence broker %d: %w", hb.ID, err)
		}
		recs = append(unfence, c.electLeaderlessRecords(after)...)
	}
	if len(recs) > 0 {
		next, err := c.q.Propose(ctx, recs)
		if err != nil {
			return HeartbeatResult{}, fmt.Errorf("metadata: heartbeat of broker %d: %w", hb.ID, err)
		}
		img = next
	}
	b = img.Brokers[hb.ID]
	return HeartbeatResult{
		CaughtUp:       caughtUp,
		Fenced:         b.Fenced,
		ShouldShutdown: b.InControlledShutdown && !leadsAny(img, hb.ID),
	}, nil
}

// FenceExpired fences every unfenced broker whose session has expired, electing new
// leaders for its partitions. The active controller calls it periodically. It returns
// the ids fenced.
func (c *Controller) FenceExpired(ctx context.Context) ([]int32, error) {
	if err := c.lock(ctx); err != nil {
		return nil, err
	}
	defer c.unlock()
	img := c.q.Image()
	var fenced []int32
	var recs []Record
	for _, id := range img.BrokerIDs() {
		if img.Brokers[id].Fenced || c.alive(id) {
			continue
		}
		fenced = append(fenced, id)
		// Each broker's records are computed on the image with the previous ones applied,
		// so a partition losing two replicas at once gets a leader neither of them.
		more := c.removeBrokerRecords(img, id)
		more = append(more, Record{Type: RecordBrokerChange, BrokerChange: &BrokerChangeRecord{ID: id, Fenced: ptr(true)}})
		next, err := img.Apply(more)
		if err != nil {
			return nil, fmt.Errorf("metadata: fence broker %d: %w", id, err)
		}
		img, recs = next, append(recs, more...)
	}
	if len(recs) == 0 {
		return nil, nil
	}
	if _, err := c.q.Propose(ctx, recs); err != nil {
		return nil, fmt.Errorf("metadata: fence brokers %v: %w", fenced, err)
	}
	return fenced, nil
}

// AlterPartitionRequest is a partition leader's request to change the ISR.
type AlterPartitionRequest struct {
	BrokerID       int32
	BrokerEpoch    int64 // -1 skips the check
	TopicID        UUID
	Partition      int32
	LeaderEpoch    int32
	PartitionEpoch int32
	ISR            []int32
}

// AlterPartition changes a partition's ISR at the request of its leader, as Kafka's
// AlterPartition: the request must come from the current leader, based on the current
// leader and partition epochs, keep the leader in the ISR, and add only usable brokers.
func (c *Controller) AlterPartition(ctx context.Context, req AlterPartitionRequest) (Partition, error) {
	if err := c.lock(ctx); err != nil {
		return Partition{}, err
	}
	defer c.unlock()
	img := c.q.Image()
	b, ok := img.Brokers[req.BrokerID]
	switch {
	case !ok:
		return Partition{}, fmt.Errorf("metadata: alter partition from unregistered broker %d: %w", req.BrokerID, kerr.BrokerIDNotRegistered)
	case req.BrokerEpoch >= 0 && req.BrokerEpoch != b.Epoch:
		return Partition{}, fmt.Errorf("metadata: alter partition from broker %d with epoch %d, current is %d: %w", req.BrokerID, req.BrokerEpoch, b.Epoch, kerr.StaleBrokerEpoch)
	}
	t := img.TopicByID(req.TopicID)
	if t == nil {
		return Partition{}, fmt.Errorf("metadata: alter partition of unknown topic id %s: %w", req.TopicID, kerr.UnknownTopicID)
	}
	p := t.Partition(req.Partition)
	where := fmt.Sprintf("%s-%d", t.Name, req.Partition)
	switch {
	case p == nil:
		return Partition{}, fmt.Errorf("metadata: alter partition %s: no such partition: %w", where, kerr.UnknownTopicOrPartition)
	case p.Leader != req.BrokerID:
		return Partition{}, fmt.Errorf("metadata: alter partition %s from broker %d, but %d leads it: %w", where, req.BrokerID, p.Leader, kerr.NotLeaderForPartition)
	case req.LeaderEpoch != p.LeaderEpoch:
		return Partition{}, fmt.Errorf("metadata: alter partition %s at leader epoch %d, current is %d: %w", where, req.LeaderEpoch, p.LeaderEpoch, kerr.FencedLeaderEpoch)
	case req.PartitionEpoch != p.PartitionEpoch:
		return Partition{}, fmt.Errorf("metadata: alter partition %s at partition epoch %d, current is %d: %w", where, req.PartitionEpoch, p.PartitionEpoch, kerr.InvalidUpdateVersion)
	case !slices.Contains(req.ISR, req.BrokerID):
		return Partition{}, fmt.Errorf("metadata: alter partition %s: the new ISR %v leaves out the leader %d: %w", where, req.ISR, req.BrokerID, kerr.InvalidRequest)
	}
	for i, r := range req.ISR {
		switch {
		case slices.Contains(req.ISR[:i], r) || !slices.Contains(p.Replicas, r):
			return Partition{}, fmt.Errorf("metadata: alter partition %s: the new ISR %v is not a set of replicas of %v: %w", where, req.ISR, p.Replicas, kerr.InvalidRequest)
		case !slices.Contains(p.ISR, r) && !img.Brokers[r].Usable():
			return Partition{}, fmt.Errorf("metadata: alter partition %s: broker %d is fenced or shutting down and cannot join the ISR: %w", where, r, kerr.IneligibleReplica)
		}
	}
	if sameMembers(req.ISR, p.ISR) {
		return *p, nil
	}
	// A reassignment completes as soon as the ISR holds its whole target.
	want := *p
	want.ISR = slices.Clone(req.ISR)
	want, _ = completeReassignment(want, func(r int32) bool { return img.Brokers[r].Usable() })
	next, err := c.q.Propose(ctx, changeRecords(t.ID, p, want))
	if err != nil {
		return Partition{}, fmt.Errorf("metadata: alter partition %s: %w", where, err)
	}
	return *next.TopicByID(t.ID).Partition(p.ID), nil
}

// removeBrokerRecords returns the partition changes that take broker id out of service:
// it leaves every ISR (unless it is the last member, which stays so that the partition
// can recover when it returns, as Kafka does without unclean election) and every
// partition it leads gets a new leader from the rest of the ISR, or none.
func (c *Controller) removeBrokerRecords(img *Image, id int32) []Record {
	usable := func(r int32) bool { return r != id && img.Brokers[r].Usable() }
	var recs []Record
	for _, name := range img.TopicNames() {
		t := img.Topics[name]
		for i := range t.Partitions {
			p := &t.Partitions[i]
			if p.Leader != id && !slices.Contains(p.ISR, id) {
				continue
			}
			isr := slices.DeleteFunc(slices.Clone(p.ISR), func(r int32) bool { return r == id })
			if len(isr) == 0 {
				isr = slices.Clone(p.ISR)
			}
			leader, isr := c.elect(t, p, isr, usable)
			recs = append(recs, partitionChange(t.ID, p, leader, isr)...)
		}
	}
	return recs
}

// electLeaderlessRecords elects leaders, among the usable brokers of img, for the
// partitions that have none.
func (c *Controller) electLeaderlessRecords(img *Image) []Record {
	usable := func(r int32) bool { return img.Brokers[r].Usable() }
	var recs []Record
	for _, name := range img.TopicNames() {
		t := img.Topics[name]
		for i := range t.Partitions {
			p := &t.Partitions[i]
			if p.HasLeader() {
				continue
			}
			leader, isr := c.elect(t, p, p.ISR, usable)
			recs = append(recs, partitionChange(t.ID, p, leader, isr)...)
		}
	}
	return recs
}

// elect picks a partition's leader from isr: the current leader if it may stay, else
// the first usable ISR member in replica order (the preferred replica first). With no
// such member and unclean.leader.election.enable set for the topic, the first usable
// replica leads with an ISR of itself, and records it lacks are lost; otherwise the
// partition has no leader (-1) and keeps its ISR until a member returns.
func (c *Controller) elect(t *Topic, p *Partition, isr []int32, usable func(int32) bool) (int32, []int32) {
	if p.HasLeader() && usable(p.Leader) && slices.Contains(isr, p.Leader) {
		return p.Leader, isr
	}
	for _, r := range p.Replicas {
		if slices.Contains(isr, r) && usable(r) {
			return r, isr
		}
	}
	if c.cfg.UncleanLeaderElection != nil && c.cfg.UncleanLeaderElection(t.Configs) {
		for _, r := range p.Replicas {
			if usable(r) {
				return r, []int32{r}
			}
		}
	}
	return -1, isr
}

// partitionChange returns the record that moves p to leader and isr, or none if
// nothing changes.
func partitionChange(topicID UUID, p *Partition, leader int32, isr []int32) []Record {
	if leader == p.Leader && sameMembers(isr, p.ISR) {
		return nil
	}
	ch := &PartitionChangeRecord{TopicID: topicID, PartitionID: p.ID}
	if leader != p.Leader {
		ch.Leader = ptr(leader)
	}
	if !sameMembers(isr, p.ISR) {
		ch.ISR = slices.Clone(isr)
	}
	return []Record{{Type: RecordPartitionChange, PartitionChange: ch}}
}

// leadsAny reports whether broker id leads any partition in img.
func leadsAny(img *Image, id int32) bool {
	for _, t := range img.Topics {
		for i := range t.Partitions {
			if t.Partitions[i].Leader == id {
				return true
			}
		}
	}
	return false
}

// sameMembers reports whether a and b hold the same ids, in any order.
func sameMembers(a, b []int32) bool {
	if len(a) != len(b) {
		return false
	}
	for _, x := range a {
		if !slices.Contains(b, x) {
			return false
		}
	}
	return true
}

func ptr[T any](v T) *T { return &v }

// EnsureClusterSecret gives the cluster its inter-node secret if it has none: the
// first active controller calls it. The secret is 32 random bytes in hex.
func (c *Controller) EnsureClusterSecret(ctx context.Context) error {
	if err := c.lock(ctx); err != nil {
		return err
	}
	defer c.unlock()
	if c.q.Image().ClusterSecret != "" {
		return nil
	}
	var b [32]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails on supported platforms
	_, err := c.q.Propose(ctx, []Record{{Type: RecordClusterSecret, ClusterSecret: &ClusterSecretRecord{Secret: hex.EncodeToString(b[:])}}})
	if err != nil {
		return fmt.Errorf("metadata: set the cluster secret: %w", err)
	}
	return nil
}
