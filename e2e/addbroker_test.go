package e2e

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/samsa-io/samsa/internal/clustertest"
)

// TestClusterAddBroker adds a fourth node to a running three-node cluster: with the
// same properties as the others (it is not among controller.quorum.voters) it joins the
// metadata quorum as an observer, registers as a broker, and takes over a partition
// moved to it with a reassignment.
func TestClusterAddBroker(t *testing.T) {
	c := clustertest.Start(t, clustertest.Options{Nodes: 4, Voters: 3, Later: 1, Binary: samsaBin, Props: clusterProps})
	c.WaitForBrokers(t, 3)
	adm := c.Admin(t)
	const topic = "grow"
	createClusterTopic(t, adm, topic, 1, 3, nil)
	waitTopic(t, c, topic, 1)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	prod := c.Client(t, kgo.DefaultProduceTopic(topic))
	for i := range 200 {
		if err := prod.ProduceSync(ctx, kgo.StringRecord("r"+strconv.Itoa(i))).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}

	c.Node(4).Start()
	c.WaitForBrokers(t, 4)

	var req kadm.AlterPartitionAssignmentsReq
	req.Assign(topic, 0, []int32{4, 2, 3})
	resp, err := adm.AlterPartitionAssignments(ctx, req)
	if err == nil {
		err = resp.Error()
	}
	if err != nil {
		t.Fatalf("reassign to the new broker: %v", err)
	}
	c.WaitFor(t, 60*time.Second, "the reassignment onto broker 4", func() (bool, string) {
		replicas, isr, _, err := partitionState(t, c, topic, 0)
		if err != nil {
			return false, err.Error()
		}
		slices.Sort(replicas)
		slices.Sort(isr)
		return slices.Equal(replicas, []int32{2, 3, 4}) && slices.Equal(isr, []int32{2, 3, 4}), fmt.Sprintf("replicas %v isr %v", replicas, isr)
	})
	if _, err := adm.ElectLeaders(ctx, kadm.ElectPreferredReplica, kadm.TopicsSet{topic: {0: {}}}); err != nil {
		t.Fatal(err)
	}
	c.WaitFor(t, 30*time.Second, "broker 4 leading", func() (bool, string) {
		_, _, leader, err := partitionState(t, c, topic, 0)
		return err == nil && leader == 4, fmt.Sprintf("leader %d %v", leader, err)
	})
	// Everything produced before the move is readable from the new leader.
	cons := c.Client(t, kgo.SeedBrokers(c.Node(4).Addr()), kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	seen := 0
	for seen < 200 {
		fs := cons.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("read %d of 200 records", seen)
		}
		seen += fs.NumRecords()
	}
	if err := prod.ProduceSync(ctx, kgo.StringRecord("after")).FirstErr(); err != nil {
		t.Fatalf("produce with broker 4 leading: %v", err)
	}
}
