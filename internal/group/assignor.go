package group

import (
	"bytes"
	"slices"
	"sort"
)

// This file holds the server-side assignors of KIP-848 consumer groups: "uniform" (the
// default, sticky and balanced) and "range" (contiguous ranges per topic). Both are
// pure functions of their input, so they are tested on their own.

// uuid is a Kafka topic id.
type uuid [16]byte

// partitionSet maps topic id -> partition -> the epoch at which the partition was
// assigned (members' current assignments; target assignments leave it 0).
type partitionSet map[uuid]map[int32]int32

func (s partitionSet) add(t uuid, p int32, epoch int32) {
	ps := s[t]
	if ps == nil {
		ps = make(map[int32]int32)
		s[t] = ps
	}
	ps[p] = epoch
}

func (s partitionSet) has(t uuid, p int32) bool {
	_, ok := s[t][p]
	return ok
}

func (s partitionSet) count() int {
	n := 0
	for _, ps := range s {
		n += len(ps)
	}
	return n
}

func (s partitionSet) clone() partitionSet {
	out := make(partitionSet, len(s))
	for t, ps := range s {
		c := make(map[int32]int32, len(ps))
		for p, e := range ps {
			c[p] = e
		}
		out[t] = c
	}
	return out
}

// samePartitions reports whether a and b hold the same partitions (epochs ignored).
func samePartitions(a, b partitionSet) bool {
	if a.count() != b.count() {
		return false
	}
	for t, ps := range a {
		for p := range ps {
			if !b.has(t, p) {
				return false
			}
		}
	}
	return true
}

// sortedTopics returns the topic ids of s in byte order, for deterministic output.
func (s partitionSet) sortedTopics() []uuid {
	out := make([]uuid, 0, len(s))
	for t, ps := range s {
		if len(ps) > 0 {
			out = append(out, t)
		}
	}
	slices.SortFunc(out, func(a, b uuid) int { return bytes.Compare(a[:], b[:]) })
	return out
}

// sortedPartitions returns the partitions of topic t in order.
func (s partitionSet) sortedPartitions(t uuid) []int32 {
	out := make([]int32, 0, len(s[t]))
	for p := range s[t] {
		out = append(out, p)
	}
	slices.Sort(out)
	return out
}

// assignorMember is one member as an assignor sees it.
type assignorMember struct {
	id     string
	topics map[uuid]bool // subscribed topics that exist
	// current is the member's previous target assignment, which the uniform assignor
	// keeps where it can.
	current partitionSet
}

// assignor computes a target assignment: member id -> partitions. partitions gives the
// partition count of every subscribed topic.
type assignor func(members []assignorMember, partitions map[uuid]int32) map[string]partitionSet

// assignors are the server-side assignors by name (group.consumer.assignors).
var assignors = map[string]assignor{
	"uniform": uniformAssign,
	"range":   rangeAssign,
}

// rangeAssign gives each topic's partitions to the members subscribing to it in
// contiguous ranges, in member id order, the first (partitions % members) members
// getting one more: members subscribing to the same topics get the same partition
// numbers of each, which is what co-partitioned joins need.
func rangeAssign(members []assignorMember, partitions map[uuid]int32) map[string]partitionSet {
	out := make(map[string]partitionSet, len(members))
	for _, m := range members {
		out[m.id] = make(partitionSet)
	}
	topics := make([]uuid, 0, len(partitions))
	for t := range partitions {
		topics = append(topics, t)
	}
	for _, t := range topics {
		var subs []string
		for _, m := range members {
			if m.topics[t] {
				subs = append(subs, m.id)
			}
		}
		if len(subs) == 0 {
			continue
		}
		sort.Strings(subs)
		n := partitions[t]
		per, extra := n/int32(len(subs)), n%int32(len(subs))
		next := int32(0)
		for i, id := range subs {
			k := per
			if int32(i) < extra {
				k++
			}
			for p := next; p < next+k; p++ {
				out[id].add(t, p, 0)
			}
			next += k
		}
	}
	return out
}

// uniformAssign spreads the partitions as evenly as the subscriptions allow while
// moving as few as possible: every partition a member already had and still
// subscribes to stays, up to the member's fair share; the rest go to the least loaded
// subscribers; then partitions move from the most to the least loaded member that can
// take them until no two members that could trade differ by more than one.
func uniformAssign(members []assignorMember, partitions map[uuid]int32) map[string]partitionSet {
	out := make(map[string]partitionSet, len(members))
	load := make(map[string]int, len(members))
	ms := make([]assignorMember, len(members))
	copy(ms, members)
	sort.Slice(ms, func(i, j int) bool { return ms[i].id < ms[j].id })
	for _, m := range ms {
		out[m.id] = make(partitionSet)
	}
	byID := make(map[string]*assignorMember, len(ms))
	for i := range ms {
		byID[ms[i].id] = &ms[i]
	}
	// Fair share of a member: the partitions of its topics over the members sharing
	// them, rounded up. Exact for identical subscriptions; an upper bound otherwise,
	// which the balancing pass below refines.
	subscribers := make(map[uuid]int)
	for _, m := range ms {
		for t := range m.topics {
			if _, ok := partitions[t]; ok {
				subscribers[t]++
			}
		}
	}
	quota := make(map[string]int, len(ms))
	for _, m := range ms {
		q := 0.0
		for t := range m.topics {
			if n, ok := partitions[t]; ok {
				q += float64(n) / float64(subscribers[t])
			}
		}
		quota[m.id] = int(q + 0.999999)
	}

	type tp struct {
		t uuid
		p int32
	}
	var unassigned []tp
	topics := make([]uuid, 0, len(partitions))
	for t := range partitions {
		topics = append(topics, t)
	}
	slices.SortFunc(topics, func(a, b uuid) int { return bytes.Compare(a[:], b[:]) })
	// Previous owners, in member order so the result does not depend on map order.
	prev := make(map[tp]string)
	for _, m := range ms {
		for _, t := range m.current.sortedTopics() {
			for _, p := range m.current.sortedPartitions(t) {
				if _, taken := prev[tp{t, p}]; !taken {
					prev[tp{t, p}] = m.id
				}
			}
		}
	}
	for _, t := range topics {
		for p := int32(0); p < partitions[t]; p++ {
			owner, ok := prev[tp{t, p}]
			if ok && byID[owner].topics[t] && load[owner] < quota[owner] {
				out[owner].add(t, p, 0)
				load[owner]++
				continue
			}
			unassigned = append(unassigned, tp{t, p})
		}
	}
	for _, x := range unassigned {
		best := ""
		for _, m := range ms {
			if m.topics[x.t] && (best == "" || load[m.id] < load[best]) {
				best = m.id
			}
		}
		if best == "" {
			continue // nobody subscribes
		}
		out[best].add(x.t, x.p, 0)
		load[best]++
	}
	// Balance: move one partition at a time from a member to one holding at least two
	// fewer that subscribes to its topic. Every move lowers the sum of squared loads,
	// so the loop ends; the bound only guards against a mistake.
	for iter := 0; iter < 1+len(ms)*len(unassigned)+len(prev)+len(ms)*len(ms); iter++ {
		order := make([]string, len(ms))
		for i, m := range ms {
			order[i] = m.id
		}
		sort.SliceStable(order, func(i, j int) bool { return load[order[i]] > load[order[j]] })
		moved := false
	search:
		for _, from := range order {
			for i := len(order) - 1; i >= 0; i-- {
				to := order[i]
				if load[from]-load[to] < 2 {
					break
				}
				for _, t := range out[from].sortedTopics() {
					if !byID[to].topics[t] {
						continue
					}
					ps := out[from].sortedPartitions(t)
					p := ps[len(ps)-1]
					delete(out[from][t], p)
					if len(out[from][t]) == 0 {
						delete(out[from], t)
					}
					out[to].add(t, p, 0)
					load[from]--
					load[to]++
					moved = true
					break search
				}
			}
		}
		if !moved {
			break
		}
	}
	return out
}
