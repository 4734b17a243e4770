package e2e

import (
	"context"
	"fmt"
	"regexp"
	"slices"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/samsa-io/samsa/internal/clustertest"
)

// TestClusterSeparateRoles runs Kafka's production layout: three nodes with only the
// controller role and three with only the broker role. The brokers follow the metadata
// they fetch from the controllers; an idempotent acks=all producer keeps writing while
// a partition leader and then the active controller are killed -9 and restarted; every
// acknowledged record must be in the log once, and the replicas' logs identical.
func TestClusterSeparateRoles(t *testing.T) {
	c := clustertest.Start(t, clustertest.Options{Nodes: 6, Controllers: 3, Binary: samsaBin, Props: clusterProps})
	c.WaitForBrokers(t, 3)
	adm := c.Admin(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()

	md, err := adm.Metadata(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if ids := md.Brokers.NodeIDs(); !slices.Equal(ids, []int32{4, 5, 6}) {
		t.Fatalf("brokers %v; want only the broker-role nodes 4, 5, 6", ids)
	}
	qcl := c.Client(t, kgo.RetryTimeout(5*time.Second))
	c.WaitFor(t, 30*time.Second, "DescribeQuorum to list voters 1-3 and observers 4-6", func() (bool, string) {
		voters, observers, err := quorumMembers(ctx, qcl)
		return err == nil && slices.Equal(voters, []int32{1, 2, 3}) && slices.Equal(observers, []int32{4, 5, 6}),
			fmt.Sprintf("voters %v observers %v err %v", voters, observers, err)
	})

	// The tool shows the same, with Kafka's row per replica.
	out, err := samsaTool(t, c, "metadata-quorum", "describe", "--replication")
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"4", "5", "6"} {
		if !regexp.MustCompile(`(?m)^` + id + `\s.*\sObserver\s*$`).MatchString(out) {
			t.Errorf("metadata-quorum describe --replication has no Observer row for broker %s:\n%s", id, out)
		}
	}

	const topic = "split"
	createClusterTopic(t, adm, topic, 1, 3, map[string]*string{"min.insync.replicas": kmsg.StringPtr("2")})
	run := startLedger(t, c, topic)
	waitProgress := run.waitProgress
	waitProgress("start")

	leader := c.WaitForLeader(t, topic, 0)
	t.Logf("killing partition leader %d", leader)
	killed := time.Now()
	c.Node(leader).Kill()
	waitProgress("killing the leader")
	t.Logf("writes acknowledged again %v after killing the leader", time.Since(killed).Round(10*time.Millisecond))
	c.Node(leader).Start()
	waitProgress("restarting the old leader")

	ctrl := c.ActiveController(t)
	if !c.Node(ctrl).ControllerOnly() {
		t.Fatalf("the active controller is node %d, which is not a controller-only node", ctrl)
	}
	t.Logf("killing active controller %d", ctrl)
	c.Node(ctrl).Kill()
	waitProgress("killing the controller")
	// Metadata changes still reach the brokers through the new controller.
	createClusterTopic(t, adm, "after-controller-loss", 3, 3, nil)
	waitTopic(t, c, "after-controller-loss", 3)
	c.Node(ctrl).Start()
	waitProgress("restarting the controller")

	run.finish()
	waitFullISR(t, c, topic, 1, 3)
	run.ck.verify(t, readTopic(t, c, topic, 1))
	compareReplicaLogs(t, c, topic, 1)
}

// quorumMembers asks a broker for DescribeQuorum (forwarded to the active controller).
func quorumMembers(ctx context.Context, cl *kgo.Client) (voters, observers []int32, err error) {
	req := kmsg.NewPtrDescribeQuorumRequest()
	rt := kmsg.NewDescribeQuorumRequestTopic()
	rt.Topic = "__cluster_metadata"
	rt.Partitions = append(rt.Partitions, kmsg.NewDescribeQuorumRequestTopicPartition())
	req.Topics = append(req.Topics, rt)
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		return nil, nil, err
	}
	if len(resp.Topics) != 1 || len(resp.Topics[0].Partitions) != 1 {
		return nil, nil, fmt.Errorf("%d topics in the answer", len(resp.Topics))
	}
	p := resp.Topics[0].Partitions[0]
	for _, v := range p.CurrentVoters {
		voters = append(voters, v.ReplicaID)
	}
	for _, o := range p.Observers {
		observers = append(observers, o.ReplicaID)
	}
	return voters, observers, nil
}
