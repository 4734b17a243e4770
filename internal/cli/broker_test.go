package cli

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/samsa-io/samsa/internal/brokertest"
)

// startBroker is brokertest.Start for the tools' tests: one node, or node 1 of a cluster
// with SAMSA_TEST_CLUSTER. A cluster's nodes stop without a controlled shutdown: the
// test's end stops all of them together, and the last to stop would otherwise wait
// seconds for a quorum that has already gone. No test here is about shutting down.
func startBroker(t *testing.T, overrides map[string]string) *brokertest.Broker {
	t.Helper()
	if brokertest.ClusterSize() > 0 {
		ov := map[string]string{"controlled.shutdown.enable": "false"}
		for k, v := range overrides {
			ov[k] = v
		}
		overrides = ov
	}
	return brokertest.Start(t, "", overrides)
}

// nodeIDs are the ids of the broker's nodes: [1] alone, [1 2 3] in a three-node cluster.
func nodeIDs(tb *brokertest.Broker) []int32 {
	var ids []int32
	for i := range tb.Nodes() {
		ids = append(ids, int32(i+1))
	}
	return ids
}

// joinIDs prints ids as Kafka's tools do in their tables: "1,2,3".
func joinIDs(ids []int32) string {
	s := make([]string, len(ids))
	for i, id := range ids {
		s[i] = fmt.Sprint(id)
	}
	return strings.Join(s, ",")
}

// topicLayout returns topic's partitions in order, as the broker's metadata lists them
// once every node knows the topic, after checking that each is laid out as a new
// topic's partition with rf replicas must be: rf distinct replicas among the nodes, the
// first (the preferred replica) leading, all in sync. The tools' output is then checked
// against it: which node got which replica is the controller's choice.
func topicLayout(t *testing.T, tb *brokertest.Broker, topic string, rf int) []kadm.PartitionDetail {
	t.Helper()
	tb.WaitTopic(topic)
	md, err := tb.Admin().Metadata(brokertest.Ctx(t), topic)
	if err == nil {
		err = md.Topics[topic].Err
	}
	if err != nil {
		t.Fatalf("metadata of %s: %v", topic, err)
	}
	parts := md.Topics[topic].Partitions.Sorted()
	nodes := nodeIDs(tb)
	for _, p := range parts {
		reps := slices.Sorted(slices.Values(p.Replicas))
		isr := slices.Sorted(slices.Values(p.ISR))
		ok := len(reps) == rf && len(slices.Compact(slices.Clone(reps))) == rf && slices.Equal(reps, isr) && p.Leader == p.Replicas[0]
		for _, r := range reps {
			ok = ok && slices.Contains(nodes, r)
		}
		if !ok {
			t.Fatalf("%s-%d: leader %d, replicas %v, isr %v; want %d distinct replicas of nodes %v, all in sync, the first leading",
				topic, p.Partition, p.Leader, p.Replicas, p.ISR, rf, nodes)
		}
	}
	return parts
}

// quorumLeader asks the broker (DescribeQuorum) which node leads the metadata quorum, in
// which epoch.
func quorumLeader(t *testing.T, tb *brokertest.Broker) (id, epoch int32) {
	t.Helper()
	req := kmsg.NewPtrDescribeQuorumRequest()
	rt := kmsg.NewDescribeQuorumRequestTopic()
	rt.Topic = "__cluster_metadata"
	rt.Partitions = append(rt.Partitions, kmsg.NewDescribeQuorumRequestTopicPartition())
	req.Topics = append(req.Topics, rt)
	resp, err := req.RequestWith(brokertest.Ctx(t), tb.Client())
	if err == nil {
		err = kerr.ErrorForCode(resp.ErrorCode)
	}
	if err == nil && (len(resp.Topics) != 1 || len(resp.Topics[0].Partitions) != 1) {
		err = fmt.Errorf("answer names %d topics", len(resp.Topics))
	}
	if err == nil {
		err = kerr.ErrorForCode(resp.Topics[0].Partitions[0].ErrorCode)
	}
	if err != nil {
		t.Fatalf("DescribeQuorum: %v", err)
	}
	p := resp.Topics[0].Partitions[0]
	if !slices.Contains(nodeIDs(tb), p.LeaderID) {
		t.Fatalf("DescribeQuorum: leader %d is not a node of the cluster", p.LeaderID)
	}
	return p.LeaderID, p.LeaderEpoch
}
