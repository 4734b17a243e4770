package group

import (
	"fmt"
	"testing"
)

var (
	topicA = uuid{1}
	topicB = uuid{2}
)

func subs(ts ...uuid) map[uuid]bool {
	m := map[uuid]bool{}
	for _, t := range ts {
		m[t] = true
	}
	return m
}

func set(t uuid, ps ...int32) partitionSet {
	s := partitionSet{}
	for _, p := range ps {
		s.add(t, p, 0)
	}
	return s
}

// checkComplete fails unless every partition of partitions is assigned exactly once,
// to a member subscribing to its topic.
func checkComplete(t *testing.T, ms []assignorMember, partitions map[uuid]int32, out map[string]partitionSet) {
	t.Helper()
	seen := map[topicPartitionID]string{}
	for _, m := range ms {
		for tp, ps := range out[m.id] {
			if !m.topics[tp] {
				t.Errorf("member %s got topic %v it does not subscribe to", m.id, tp)
			}
			for p := range ps {
				k := topicPartitionID{tp, p}
				if o, dup := seen[k]; dup {
					t.Errorf("partition %v assigned to %s and %s", k, o, m.id)
				}
				seen[k] = m.id
			}
		}
	}
	n := 0
	for _, c := range partitions {
		n += int(c)
	}
	if len(seen) != n {
		t.Errorf("%d partitions assigned, want %d", len(seen), n)
	}
}

func TestUniformAssignorBalance(t *testing.T) {
	for _, tc := range []struct {
		members, partitions int
	}{{1, 6}, {3, 6}, {4, 6}, {5, 3}, {7, 100}} {
		t.Run(fmt.Sprintf("%dx%d", tc.members, tc.partitions), func(t *testing.T) {
			var ms []assignorMember
			for i := 0; i < tc.members; i++ {
				ms = append(ms, assignorMember{id: fmt.Sprint("m", i), topics: subs(topicA)})
			}
			parts := map[uuid]int32{topicA: int32(tc.partitions)}
			out := uniformAssign(ms, parts)
			checkComplete(t, ms, parts, out)
			lo, hi := tc.partitions, 0
			for _, m := range ms {
				n := out[m.id].count()
				lo, hi = min(lo, n), max(hi, n)
			}
			if hi-lo > 1 {
				t.Errorf("unbalanced: min %d max %d", lo, hi)
			}
		})
	}
}

// TestUniformAssignorSticky: a member joining takes only what balance needs; the
// others keep the rest.
func TestUniformAssignorSticky(t *testing.T) {
	parts := map[uuid]int32{topicA: 6}
	ms := []assignorMember{
		{id: "a", topics: subs(topicA), current: set(topicA, 0, 1, 2)},
		{id: "b", topics: subs(topicA), current: set(topicA, 3, 4, 5)},
		{id: "c", topics: subs(topicA)},
	}
	out := uniformAssign(ms, parts)
	checkComplete(t, ms, parts, out)
	for _, m := range ms {
		if n := out[m.id].count(); n != 2 {
			t.Errorf("member %s has %d partitions, want 2", m.id, n)
		}
	}
	moved := 0
	for _, m := range ms[:2] {
		for p := range m.current[topicA] {
			if !out[m.id].has(topicA, p) {
				moved++
			}
		}
	}
	if moved != 2 {
		t.Errorf("%d partitions moved, want 2", moved)
	}
	// A member leaving: only its partitions move.
	ms2 := []assignorMember{
		{id: "a", topics: subs(topicA), current: out["a"]},
		{id: "b", topics: subs(topicA), current: out["b"]},
	}
	out2 := uniformAssign(ms2, parts)
	checkComplete(t, ms2, parts, out2)
	for _, m := range ms2 {
		for p := range m.current[topicA] {
			if !out2[m.id].has(topicA, p) {
				t.Errorf("member %s lost partition %d it kept", m.id, p)
			}
		}
	}
}

func TestUniformAssignorHeterogeneous(t *testing.T) {
	parts := map[uuid]int32{topicA: 4, topicB: 2}
	ms := []assignorMember{
		{id: "a", topics: subs(topicA)},
		{id: "b", topics: subs(topicA, topicB)},
		{id: "c", topics: subs(topicB)},
	}
	out := uniformAssign(ms, parts)
	checkComplete(t, ms, parts, out)
	for _, m := range ms {
		if n := out[m.id].count(); n != 2 {
			t.Errorf("member %s has %d partitions, want 2: %v", m.id, n, out)
		}
	}
}

func TestRangeAssignorPerTopic(t *testing.T) {
	parts := map[uuid]int32{topicA: 5, topicB: 5}
	ms := []assignorMember{
		{id: "b", topics: subs(topicA, topicB)},
		{id: "a", topics: subs(topicA, topicB)},
	}
	out := rangeAssign(ms, parts)
	checkComplete(t, ms, parts, out)
	for _, tp := range []uuid{topicA, topicB} {
		if got := out["a"].sortedPartitions(tp); fmt.Sprint(got) != "[0 1 2]" {
			t.Errorf("a: %v", got)
		}
		if got := out["b"].sortedPartitions(tp); fmt.Sprint(got) != "[3 4]" {
			t.Errorf("b: %v", got)
		}
	}
	// Only subscribers of a topic share it.
	ms = []assignorMember{{id: "a", topics: subs(topicA)}, {id: "b", topics: subs(topicB)}}
	out = rangeAssign(ms, parts)
	checkComplete(t, ms, parts, out)
	if out["a"].count() != 5 || out["b"].count() != 5 {
		t.Errorf("disjoint subscriptions: %v", out)
	}
}
