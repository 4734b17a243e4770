package broker_test

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/samsa-io/samsa/internal/brokertest"
)

// TestTopicLifecycle creates, grows, describes, deletes and re-creates a topic through
// kadm, checking the partition directories on disk follow.
func TestTopicLifecycle(t *testing.T) {
	brokertest.SingleNodeOnly(t, "it checks the partition directories of the one node")
	tb := startBroker(t, "", nil)
	adm := tb.admin()
	ctx := testCtx(t)
	createTopic(t, tb, "life", 2, nil)

	td, err := adm.ListTopics(ctx, "life")
	if err != nil {
		t.Fatal(err)
	}
	first := td["life"]
	if first.Err != nil || len(first.Partitions) != 2 || first.ID == [16]byte{} {
		t.Fatalf("described %+v", first)
	}
	for _, p := range first.Partitions {
		if p.Leader != 1 || len(p.Replicas) != 1 || len(p.ISR) != 1 {
			t.Errorf("partition %d: leader %d replicas %v isr %v", p.Partition, p.Leader, p.Replicas, p.ISR)
		}
	}

	// Grow to 5 partitions; shrinking is refused.
	if res, err := adm.CreatePartitions(ctx, 3, "life"); err != nil || res["life"].Err != nil {
		t.Fatalf("create partitions: %v %v", err, res["life"].Err)
	}
	if res, _ := adm.UpdatePartitions(ctx, 4, "life"); res["life"].Err != kerr.InvalidPartitions {
		t.Errorf("shrink to 4: %v, want INVALID_PARTITIONS", res["life"].Err)
	}
	cl := tb.client(kgo.DefaultProduceTopic("life"), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err := cl.ProduceSync(ctx, &kgo.Record{Partition: 4, Value: []byte("p4")}).FirstErr(); err != nil {
		t.Fatalf("produce to a new partition: %v", err)
	}
	if _, err := os.Stat(filepath.Join(tb.Dir, "life-4", "00000000000000000000.log")); err != nil {
		t.Errorf("no segment for the new partition: %v", err)
	}

	// Metadata by topic id (v10+) finds it.
	mreq := kmsg.NewPtrMetadataRequest()
	mt := kmsg.NewMetadataRequestTopic()
	mt.TopicID = first.ID
	mreq.Topics = append(mreq.Topics, mt)
	mresp, err := mreq.RequestWith(ctx, cl)
	if err != nil {
		t.Fatal(err)
	}
	if len(mresp.Topics) != 1 || mresp.Topics[0].Topic == nil || *mresp.Topics[0].Topic != "life" || len(mresp.Topics[0].Partitions) != 5 {
		t.Fatalf("metadata by id: %+v", mresp.Topics)
	}

	// Delete: the directories go, and the name can be used again with a new id.
	if res, err := adm.DeleteTopics(ctx, "life"); err != nil || res["life"].Err != nil {
		t.Fatalf("delete: %v %v", err, res["life"].Err)
	}
	for p := 0; p < 5; p++ {
		if _, err := os.Stat(filepath.Join(tb.Dir, fmt.Sprintf("life-%d", p))); !os.IsNotExist(err) {
			t.Errorf("partition directory %d still there after delete: %v", p, err)
		}
	}
	if res, _ := adm.DeleteTopics(ctx, "life"); res["life"].Err != kerr.UnknownTopicOrPartition {
		t.Errorf("delete twice: %v", res["life"].Err)
	}
	createTopic(t, tb, "life", 1, nil)
	td, err = adm.ListTopics(ctx, "life")
	if err != nil {
		t.Fatal(err)
	}
	if td["life"].ID == first.ID {
		t.Errorf("re-created topic kept the old id")
	}
	lo, err := adm.ListEndOffsets(ctx, "life")
	if err != nil {
		t.Fatal(err)
	}
	if o, _ := lo.Lookup("life", 0); o.Offset != 0 {
		t.Errorf("re-created topic starts at offset %d", o.Offset)
	}
}

// TestAutoCreate checks auto.create.topics.enable with a producing client, and that
// it is off when disabled.
func TestAutoCreate(t *testing.T) {
	tb := startBroker(t, "", map[string]string{"num.partitions": "4"})
	cl := tb.client(kgo.DefaultProduceTopic("auto"), kgo.AllowAutoTopicCreation())
	if err := cl.ProduceSync(testCtx(t), &kgo.Record{Value: []byte("x")}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	td, err := tb.admin().ListTopics(testCtx(t), "auto")
	if err != nil {
		t.Fatal(err)
	}
	if n := len(td["auto"].Partitions); n != 4 {
		t.Errorf("auto-created topic has %d partitions, want num.partitions=4", n)
	}

	off := startBroker(t, "", map[string]string{"auto.create.topics.enable": "false"})
	ctx := testCtx(t)
	mreq := kmsg.NewPtrMetadataRequest()
	mt := kmsg.NewMetadataRequestTopic()
	mt.Topic = kmsg.StringPtr("never")
	mreq.Topics = append(mreq.Topics, mt)
	mreq.AllowAutoTopicCreation = true
	mresp, err := mreq.RequestWith(ctx, off.client())
	if err != nil {
		t.Fatal(err)
	}
	if mresp.Topics[0].ErrorCode != kerr.UnknownTopicOrPartition.Code {
		t.Errorf("metadata for a missing topic with auto-create off: %d", mresp.Topics[0].ErrorCode)
	}
}

// TestDescribeClusterAndEpochs covers DescribeCluster, DescribeLogDirs and
// OffsetForLeaderEpoch.
func TestDescribeClusterAndEpochs(t *testing.T) {
	brokertest.SingleNodeOnly(t, "it checks one node's id, rack and log dirs")
	tb := startBroker(t, "", map[string]string{"node.id": "7", "broker.rack": "r1"})
	adm := tb.admin()
	ctx := testCtx(t)
	createTopic(t, tb, "ep", 1, nil)
	cl := tb.client(kgo.DefaultProduceTopic("ep"))
	for i := 0; i < 5; i++ {
		if err := cl.ProduceSync(ctx, &kgo.Record{Value: []byte{byte(i)}}).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	meta, err := adm.BrokerMetadata(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if meta.Controller != 7 || len(meta.Brokers) != 1 || meta.Brokers[0].NodeID != 7 || meta.Brokers[0].Rack == nil || *meta.Brokers[0].Rack != "r1" || meta.Cluster == "" {
		t.Errorf("metadata: %+v", meta)
	}
	dreq := kmsg.NewPtrDescribeClusterRequest()
	dresp, err := dreq.RequestWith(ctx, cl)
	if err != nil {
		t.Fatal(err)
	}
	if dresp.ErrorCode != 0 || dresp.ClusterID != meta.Cluster || dresp.ControllerID != 7 || len(dresp.Brokers) != 1 {
		t.Errorf("describe cluster: %+v", dresp)
	}

	req := kmsg.NewPtrOffsetForLeaderEpochRequest()
	req.ReplicaID = -1
	rt := kmsg.NewOffsetForLeaderEpochRequestTopic()
	rt.Topic = "ep"
	rp := kmsg.NewOffsetForLeaderEpochRequestTopicPartition()
	rp.Partition, rp.LeaderEpoch, rp.CurrentLeaderEpoch = 0, 0, -1
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		t.Fatal(err)
	}
	if p := resp.Topics[0].Partitions[0]; p.ErrorCode != 0 || p.LeaderEpoch != 0 || p.EndOffset != 5 {
		t.Errorf("OffsetForLeaderEpoch(0): error %d epoch %d end %d, want 0 0 5", p.ErrorCode, p.LeaderEpoch, p.EndOffset)
	}
	// A client claiming a newer leader epoch than ours gets UNKNOWN_LEADER_EPOCH.
	req.Topics[0].Partitions[0].CurrentLeaderEpoch = 3
	if resp, err = req.RequestWith(ctx, cl); err != nil {
		t.Fatal(err)
	}
	if p := resp.Topics[0].Partitions[0]; p.ErrorCode != kerr.UnknownLeaderEpoch.Code {
		t.Errorf("newer current epoch: error %d, want UNKNOWN_LEADER_EPOCH", p.ErrorCode)
	}
}

// TestInternalTopicProtected: clients can neither produce to __consumer_offsets nor add
// partitions to it (groups map to its partitions by their count).
func TestInternalTopicProtected(t *testing.T) {
	tb := startBroker(t, "", nil)
	cl := tb.client()
	req := kmsg.NewPtrFindCoordinatorRequest()
	req.CoordinatorKey = "g"
	if _, err := req.RequestWith(testCtx(t), cl); err != nil {
		t.Fatal(err)
	}
	tb.WaitTopic("__consumer_offsets")
	res, err := tb.admin().CreatePartitions(testCtx(t), 1, "__consumer_offsets")
	if err != nil {
		t.Fatal(err)
	}
	if res["__consumer_offsets"].Err != kerr.InvalidRequest {
		t.Errorf("adding a partition to __consumer_offsets: %v, want INVALID_REQUEST", res["__consumer_offsets"].Err)
	}
	td, err := tb.admin().ListTopics(testCtx(t), "__consumer_offsets")
	if err != nil {
		t.Fatal(err)
	}
	if n := len(td["__consumer_offsets"].Partitions); n != 50 || !td["__consumer_offsets"].IsInternal {
		t.Errorf("__consumer_offsets has %d partitions (internal %v), want 50 and internal", n, td["__consumer_offsets"].IsInternal)
	}
}
