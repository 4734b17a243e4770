package metadata

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/twmb/franz-go/pkg/kerr"
)

// This file moves partitions and leadership, as Kafka's KRaft controller does
// (ReplicationControlManager, PartitionReassignmentReplicas, PartitionChangeBuilder):
//
//   - A reassignment to a target replica list makes the replicas the target followed by
//     the current replicas not in it; AddingReplicas are the target replicas that were not
//     replicas, RemovingReplicas the current replicas not in the target. The new replicas
//     join as followers (the replica manager hosts every replica) and the leader adds them
//     to the ISR once they caught up. When the ISR holds the whole target (checked when
//     the reassignment starts and whenever AlterPartition changes the ISR) the
//     reassignment completes in the same record: replicas = target, ISR = ISR ∩ target,
//     a leader being removed hands over to the first target replica, and the adding and
//     removing lists are cleared.
//   - Cancelling reverts: the replicas being added leave the replica list and the ISR.
//   - A preferred election makes the first replica the leader; an unclean one gives a
//     leaderless partition a leader, out of sync if need be. RebalanceLeaders runs
//     preferred elections for brokers that lead too few of their preferred partitions.

// ElectionType is Kafka's election_type of ElectLeaders.
type ElectionType int8

// The election types, with Kafka's values.
const (
	ElectPreferred ElectionType = 0
	ElectUnclean   ElectionType = 1
)

// String names the type as Kafka's ElectionType does.
func (e ElectionType) String() string {
	switch e {
	case ElectPreferred:
		return "PREFERRED"
	case ElectUnclean:
		return "UNCLEAN"
	}
	return fmt.Sprintf("ElectionType(%d)", int8(e))
}

// PartitionRef names one partition of a topic.
type PartitionRef struct {
	Topic     string
	Partition int32
}

// ElectionResult is the outcome of one partition's election: Err is nil when the
// partition got the leader it asked for, else a wrapped *kerr.Error
// (ElectionNotNeeded, PreferredLeaderNotAvailable, EligibleLeadersNotAvailable,
// UnknownTopicOrPartition).
type ElectionResult struct {
	PartitionRef
	Err error
}

// Reassignment is a partition's reassignment in progress.
type Reassignment struct {
	PartitionRef
	Replicas         []int32
	AddingReplicas   []int32
	RemovingReplicas []int32
}

// nilIfEmpty returns a copy of s, or nil when s is empty: the image keeps nil for "no
// reassignment".
func nilIfEmpty(s []int32) []int32 {
	if len(s) == 0 {
		return nil
	}
	return slices.Clone(s)
}

// minus returns the members of a not in b, in a's order.
func minus(a, b []int32) []int32 {
	var out []int32
	for _, x := range a {
		if !slices.Contains(b, x) {
			out = append(out, x)
		}
	}
	return out
}

// checkReassignment verifies the reassignment invariants of the package doc.
func checkReassignment(where string, replicas, adding, removing []int32) error {
	for i, r := range adding {
		switch {
		case slices.Contains(adding[:i], r):
			return fmt.Errorf("%s: adding replica %d listed twice: %w", where, r, kerr.InvalidRequest)
		case !slices.Contains(replicas, r):
			return fmt.Errorf("%s: adding replica %d is not a replica: %w", where, r, kerr.InvalidRequest)
		case slices.Contains(removing, r):
			return fmt.Errorf("%s: replica %d is both being added and removed: %w", where, r, kerr.InvalidRequest)
		}
	}
	for i, r := range removing {
		switch {
		case slices.Contains(removing[:i], r):
			return fmt.Errorf("%s: removing replica %d listed twice: %w", where, r, kerr.InvalidRequest)
		case !slices.Contains(replicas, r):
			return fmt.Errorf("%s: removing replica %d is not a replica: %w", where, r, kerr.InvalidRequest)
		}
	}
	if len(removing) > 0 && len(removing) >= len(replicas) {
		return fmt.Errorf("%s: every replica is being removed: %w", where, kerr.InvalidRequest)
	}
	return nil
}

// TargetReplicas returns the replicas the partition will have once its reassignment
// completes (its replicas when none is in progress).
func (p *Partition) TargetReplicas() []int32 {
	return minus(p.Replicas, p.RemovingReplicas)
}

// OriginalReplicas returns the replicas the partition had before its reassignment
// started (its replicas when none is in progress).
func (p *Partition) OriginalReplicas() []int32 {
	return minus(p.Replicas, p.AddingReplicas)
}

// AlterPartitionReassignments starts, changes or (target nil) cancels the reassignment
// of one partition. Errors wrap UnknownTopicOrPartition, InvalidReplicaAssignment (an
// empty target, duplicates, unregistered brokers, a cancel that would need an unclean
// election the topic does not allow) and NoReassignmentInProgress.
func (c *Controller) AlterPartitionReassignments(ctx context.Context, topic string, partition int32, target []int32) error {
	if err := c.lock(ctx); err != nil {
		return err
	}
	defer c.unlock()
	img := c.q.Image()
	t := img.Topic(topic)
	p := t.Partition(partition)
	if p == nil {
		return fmt.Errorf("metadata: reassign %s-%d: no such partition: %w", topic, partition, kerr.UnknownTopicOrPartition)
	}
	usable := func(r int32) bool { return img.Brokers[r].Usable() }
	var next Partition
	if target == nil {
		if !p.Reassigning() {
			return fmt.Errorf("metadata: cancel reassignment of %s-%d: %w", topic, partition, kerr.NoReassignmentInProgress)
		}
		var err error
		if next, err = c.revert(t, p, usable); err != nil {
			return err
		}
	} else {
		if err := checkAssignment(img, topic, partition, target); err != nil {
			return err
		}
		next = *p
		next.Replicas = append(slices.Clone(target), minus(p.Replicas, target)...)
		next.AddingReplicas = minus(target, p.Replicas)
		next.RemovingReplicas = minus(p.Replicas, target)
		next, _ = completeReassignment(next, usable)
	}
	recs := changeRecords(t.ID, p, next)
	if len(recs) == 0 {
		return nil
	}
	if _, err := c.q.Propose(ctx, recs); err != nil {
		return fmt.Errorf("metadata: reassign %s-%d: %w", topic, partition, err)
	}
	return nil
}

// revert is the partition after cancelling its reassignment (Kafka's
// PartitionReassignmentRevert): the replicas being added leave the replicas and the ISR.
// Should no ISR member remain, only an unclean election (if the topic allows it) could
// give the partition a leader.
func (c *Controller) revert(t *Topic, p *Partition, usable func(int32) bool) (Partition, error) {
	next := *p
	next.Replicas = p.OriginalReplicas()
	next.ISR = minus(p.ISR, p.AddingReplicas)
	next.AddingReplicas, next.RemovingReplicas = nil, nil
	if len(next.ISR) == 0 {
		if c.cfg.UncleanLeaderElection == nil || !c.cfg.UncleanLeaderElection(t.Configs) {
			return Partition{}, fmt.Errorf("metadata: cancel reassignment of %s-%d: no replica of %v is in sync, so reverting would need an unclean leader election: %w", t.Name, p.ID, next.Replicas, kerr.InvalidReplicaAssignment)
		}
	}
	if !slices.Contains(next.ISR, next.Leader) {
		next.Leader = -1
	}
	next.Leader, next.ISR = c.elect(t, &next, next.ISR, usable)
	return next, nil
}

// completeReassignment finishes p's reassignment if the ISR holds every target replica
// (Kafka's maybeCompleteReassignment): replicas = target, ISR = ISR ∩ target, and a
// leader outside the target hands over to the first usable target replica. It reports
// whether it completed; a partition with nothing in progress, or whose target has no
// usable member to lead, is returned unchanged.
func completeReassignment(p Partition, usable func(int32) bool) (Partition, bool) {
	if !p.Reassigning() {
		return p, false
	}
	target := p.TargetReplicas()
	for _, r := range target {
		if !slices.Contains(p.ISR, r) {
			return p, false
		}
	}
	next := p
	next.Replicas = target
	next.ISR = slices.DeleteFunc(slices.Clone(p.ISR), func(r int32) bool { return !slices.Contains(target, r) })
	next.AddingReplicas, next.RemovingReplicas = nil, nil
	if !slices.Contains(target, p.Leader) || !usable(p.Leader) {
		next.Leader = -1
		for _, r := range target {
			if usable(r) {
				next.Leader = r
				break
			}
		}
		if next.Leader < 0 && p.HasLeader() {
			// Keep the current leader until a target replica can take over.
			return p, false
		}
	}
	return next, true
}

// changeRecords returns the record that turns old into next (replicas, ISR, leader and
// reassignment state), or none when they are the same. Adding and removing lists that
// become empty are written as empty, non-nil slices, which clears them.
func changeRecords(topicID UUID, old *Partition, next Partition) []Record {
	ch := &PartitionChangeRecord{TopicID: topicID, PartitionID: old.ID}
	changed := false
	if !slices.Equal(next.Replicas, old.Replicas) {
		ch.Replicas, changed = slices.Clone(next.Replicas), true
	}
	if !slices.Equal(next.ISR, old.ISR) {
		ch.ISR, changed = slices.Clone(nonNil(next.ISR)), true
	}
	if next.Leader != old.Leader {
		ch.Leader, changed = ptr(next.Leader), true
	}
	if !slices.Equal(next.AddingReplicas, old.AddingReplicas) {
		ch.AddingReplicas, changed = append([]int32{}, next.AddingReplicas...), true
	}
	if !slices.Equal(next.RemovingReplicas, old.RemovingReplicas) {
		ch.RemovingReplicas, changed = append([]int32{}, next.RemovingReplicas...), true
	}
	if !changed {
		return nil
	}
	return []Record{{Type: RecordPartitionChange, PartitionChange: ch}}
}

// ListPartitionReassignments returns the reassignments in progress, sorted by topic and
// partition. A nil filter lists all; otherwise only the listed partitions of the listed
// topics are considered (unknown ones are skipped, as Kafka does).
func (c *Controller) ListPartitionReassignments(filter map[string][]int32) []Reassignment {
	img := c.q.Image()
	var out []Reassignment
	add := func(t *Topic, p *Partition) {
		if p == nil || !p.Reassigning() {
			return
		}
		out = append(out, Reassignment{
			PartitionRef:     PartitionRef{Topic: t.Name, Partition: p.ID},
			Replicas:         slices.Clone(p.Replicas),
			AddingReplicas:   slices.Clone(p.AddingReplicas),
			RemovingReplicas: slices.Clone(p.RemovingReplicas),
		})
	}
	for _, name := range img.TopicNames() {
		t := img.Topics[name]
		if filter == nil {
			for i := range t.Partitions {
				add(t, &t.Partitions[i])
			}
			continue
		}
		parts, ok := filter[name]
		if !ok {
			continue
		}
		parts = slices.Clone(parts)
		slices.Sort(parts)
		for _, id := range slices.Compact(parts) {
			add(t, t.Partition(id))
		}
	}
	return out
}

// ElectLeaders runs an election of typ for each of parts, or for every partition when
// parts is nil (then, as Kafka, partitions that need no election are left out of the
// results). All the changes are proposed together; the error is for a failure to
// propose them, per-partition outcomes are in the results.
func (c *Controller) ElectLeaders(ctx context.Context, typ ElectionType, parts []PartitionRef) ([]ElectionResult, error) {
	if typ != ElectPreferred && typ != ElectUnclean {
		return nil, fmt.Errorf("metadata: elect leaders: unknown election type %d: %w", typ, kerr.InvalidRequest)
	}
	if err := c.lock(ctx); err != nil {
		return nil, err
	}
	defer c.unlock()
	img := c.q.Image()
	all := parts == nil
	if all {
		for _, name := range img.TopicNames() {
			for i := range img.Topics[name].Partitions {
				parts = append(parts, PartitionRef{Topic: name, Partition: int32(i)})
			}
		}
	}
	var recs []Record
	var results []ElectionResult
	seen := make(map[PartitionRef]bool, len(parts))
	for _, ref := range parts {
		if seen[ref] {
			continue
		}
		seen[ref] = true
		rec, err := electRecord(img, ref, typ)
		if all && isKerr(err, kerr.ElectionNotNeeded) {
			continue
		}
		recs = append(recs, rec...)
		results = append(results, ElectionResult{PartitionRef: ref, Err: err})
	}
	if len(recs) > 0 {
		if _, err := c.q.Propose(ctx, recs); err != nil {
			return nil, fmt.Errorf("metadata: elect leaders (%s): %w", typ, err)
		}
	}
	return results, nil
}

// electRecord returns the record of one partition's election, or the error that says
// why there is none.
func electRecord(img *Image, ref PartitionRef, typ ElectionType) ([]Record, error) {
	t := img.Topic(ref.Topic)
	p := t.Partition(ref.Partition)
	where := fmt.Sprintf("%s-%d", ref.Topic, ref.Partition)
	if p == nil {
		return nil, fmt.Errorf("metadata: elect leader of %s: no such partition: %w", where, kerr.UnknownTopicOrPartition)
	}
	usable := func(r int32) bool { return img.Brokers[r].Usable() }
	next := *p
	switch typ {
	case ElectPreferred:
		preferred := p.Replicas[0]
		if p.Leader == preferred {
			return nil, fmt.Errorf("metadata: elect leader of %s: the preferred replica %d already leads: %w", where, preferred, kerr.ElectionNotNeeded)
		}
		if !slices.Contains(p.ISR, preferred) || !usable(preferred) {
			return nil, fmt.Errorf("metadata: elect leader of %s: the preferred replica %d is not in the ISR %v or not usable: %w", where, preferred, p.ISR, kerr.PreferredLeaderNotAvailable)
		}
		next.Leader = preferred
	case ElectUnclean:
		if p.HasLeader() {
			return nil, fmt.Errorf("metadata: elect leader of %s: replica %d already leads: %w", where, p.Leader, kerr.ElectionNotNeeded)
		}
		next.Leader = -1
		for _, r := range p.Replicas {
			if slices.Contains(p.ISR, r) && usable(r) {
				next.Leader = r
				break
			}
		}
		if next.Leader < 0 {
			for _, r := range p.Replicas {
				if usable(r) {
					// Records the ISR had and this replica lacks are lost: the price
					// of an unclean election.
					next.Leader, next.ISR = r, []int32{r}
					break
				}
			}
		}
		if next.Leader < 0 {
			return nil, fmt.Errorf("metadata: elect leader of %s: no replica of %v is usable: %w", where, p.Replicas, kerr.EligibleLeadersNotAvailable)
		}
	}
	return changeRecords(t.ID, p, next), nil
}

func isKerr(err error, want *kerr.Error) bool {
	var ke *kerr.Error
	return errors.As(err, &ke) && ke == want
}

// RebalanceLeaders is auto.leader.rebalance.enable's periodic check, as Kafka's
// checkAndTriggerAutoLeaderRebalance: for each broker, the imbalance ratio is the share
// of the partitions whose preferred (first) replica it is that it does not lead; when
// it exceeds leader.imbalance.per.broker.percentage, a preferred election runs for
// those partitions whose preferred replica is in the ISR and usable. Partitions being
// reassigned are left alone. It returns the partitions whose leader moved.
func (c *Controller) RebalanceLeaders(ctx context.Context) ([]PartitionRef, error) {
	if err := c.lock(ctx); err != nil {
		return nil, err
	}
	defer c.unlock()
	img := c.q.Image()
	preferred := make(map[int32]int)         // broker -> partitions it is preferred for
	notLed := make(map[int32][]PartitionRef) // broker -> those of them it does not lead
	for _, name := range img.TopicNames() {
		t := img.Topics[name]
		for i := range t.Partitions {
			p := &t.Partitions[i]
			if len(p.Replicas) == 0 || p.Reassigning() {
				continue
			}
			b := p.Replicas[0]
			preferred[b]++
			if p.Leader != b {
				notLed[b] = append(notLed[b], PartitionRef{Topic: name, Partition: p.ID})
			}
		}
	}
	var recs []Record
	var moved []PartitionRef
	for _, b := range img.BrokerIDs() {
		if preferred[b] == 0 || !img.Brokers[b].Usable() {
			continue
		}
		// Integer form of notLed/preferred > pct/100.
		if len(notLed[b])*100 <= int(c.cfg.LeaderImbalancePerBrokerPercentage)*preferred[b] {
			continue
		}
		for _, ref := range notLed[b] {
			rec, err := electRecord(img, ref, ElectPreferred)
			if err != nil {
				continue // not in sync yet: a later check retries
			}
			recs = append(recs, rec...)
			moved = append(moved, ref)
		}
	}
	if len(recs) == 0 {
		return nil, nil
	}
	if _, err := c.q.Propose(ctx, recs); err != nil {
		return nil, fmt.Errorf("metadata: rebalance leaders: %w", err)
	}
	return moved, nil
}
