package broker

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func describeQuorumRequest(version int16, topic string, partitions ...int32) *kmsg.DescribeQuorumRequest {
	req := kmsg.NewPtrDescribeQuorumRequest()
	req.Version = version
	rt := kmsg.NewDescribeQuorumRequestTopic()
	rt.Topic = topic
	for _, p := range partitions {
		rp := kmsg.NewDescribeQuorumRequestTopicPartition()
		rp.Partition = p
		rt.Partitions = append(rt.Partitions, rp)
	}
	req.Topics = append(req.Topics, rt)
	return req
}

// TestDescribeQuorumSingleNode: one node is the whole quorum, its leader with epoch 1,
// and its log end offset and high watermark follow the metadata image.
func TestDescribeQuorumSingleNode(t *testing.T) {
	b, cl := runInternal(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	describe := func(version int16) kmsg.DescribeQuorumResponse {
		t.Helper()
		before := time.Now().UnixMilli()
		resp, err := describeQuorumRequest(version, clusterMetadataTopic, 0).RequestWith(ctx, cl)
		if err != nil {
			t.Fatalf("v%d: %v", version, err)
		}
		if resp.ErrorCode != 0 || len(resp.Topics) != 1 || len(resp.Topics[0].Partitions) != 1 {
			t.Fatalf("v%d: response %+v", version, resp)
		}
		if resp.Topics[0].Topic != clusterMetadataTopic {
			t.Errorf("v%d: topic %q", version, resp.Topics[0].Topic)
		}
		p := resp.Topics[0].Partitions[0]
		if p.ErrorCode != 0 || p.Partition != 0 || p.LeaderID != 1 || p.LeaderEpoch != 1 {
			t.Errorf("v%d: partition %+v, want leader 1 epoch 1 and no error", version, p)
		}
		off := b.quorum.Image().Offset
		if p.HighWatermark != off {
			t.Errorf("v%d: high watermark %d, want the image offset %d", version, p.HighWatermark, off)
		}
		if len(p.CurrentVoters) != 1 || len(p.Observers) != 0 {
			t.Fatalf("v%d: voters %+v observers %+v, want one voter", version, p.CurrentVoters, p.Observers)
		}
		v := p.CurrentVoters[0]
		if v.ReplicaID != 1 || v.LogEndOffset != off {
			t.Errorf("v%d: voter %+v, want id 1 log end offset %d", version, v, off)
		}
		if version >= 1 && (v.LastFetchTimestamp < before || v.LastCaughtUpTimestamp < before) {
			t.Errorf("v%d: voter timestamps %d/%d, want now (>= %d)", version, v.LastFetchTimestamp, v.LastCaughtUpTimestamp, before)
		}
		return *resp
	}

	for v := int16(0); v <= 2; v++ {
		describe(v)
	}
	resp := describe(2)
	if len(resp.Nodes) != 1 || resp.Nodes[0].NodeID != 1 || len(resp.Nodes[0].Listeners) != 1 {
		t.Fatalf("nodes %+v, want node 1 with one listener", resp.Nodes)
	}
	l := resp.Nodes[0].Listeners[0]
	if l.Name != "PLAINTEXT" || l.Host != b.advertisedHost || int32(l.Port) != b.advertisedPort {
		t.Errorf("listener %+v, want PLAINTEXT://%s:%d", l, b.advertisedHost, b.advertisedPort)
	}

	// A metadata change moves the log end offset and the high watermark on.
	before := resp.Topics[0].Partitions[0].HighWatermark
	create := kmsg.NewPtrCreateTopicsRequest()
	rt := kmsg.NewCreateTopicsRequestTopic()
	rt.Topic, rt.NumPartitions, rt.ReplicationFactor = "quorum-moves", 1, 1
	create.Topics = append(create.Topics, rt)
	if cresp, err := create.RequestWith(ctx, cl); err != nil || cresp.Topics[0].ErrorCode != 0 {
		t.Fatalf("create topic: %v %+v", err, cresp)
	}
	after := describe(2).Topics[0].Partitions[0].HighWatermark
	if after <= before {
		t.Errorf("high watermark %d after creating a topic, want more than %d", after, before)
	}
}

// TestDescribeQuorumUnknownPartition: only __cluster_metadata-0 is described; anything
// else gets UNKNOWN_TOPIC_OR_PARTITION at the partition level, beside a valid answer.
func TestDescribeQuorumUnknownPartition(t *testing.T) {
	_, cl := runInternal(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	req := describeQuorumRequest(2, clusterMetadataTopic, 0, 1)
	other := kmsg.NewDescribeQuorumRequestTopic()
	other.Topic = "orders"
	other.Partitions = append(other.Partitions, kmsg.NewDescribeQuorumRequestTopicPartition())
	req.Topics = append(req.Topics, other)
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		t.Fatal(err)
	}
	if resp.ErrorCode != 0 {
		t.Fatalf("top-level error %d", resp.ErrorCode)
	}
	type result struct {
		topic     string
		partition int32
		code      int16
	}
	var got []result
	for _, rt := range resp.Topics {
		for _, p := range rt.Partitions {
			got = append(got, result{rt.Topic, p.Partition, p.ErrorCode})
			if p.ErrorCode != 0 && len(p.CurrentVoters) != 0 {
				t.Errorf("%s-%d: voters in an error answer", rt.Topic, p.Partition)
			}
		}
	}
	want := []result{
		{clusterMetadataTopic, 0, 0},
		{clusterMetadataTopic, 1, kerr.UnknownTopicOrPartition.Code},
		{"orders", 0, kerr.UnknownTopicOrPartition.Code},
	}
	if len(got) != len(want) {
		t.Fatalf("partitions %+v, want %+v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("partition %d: %+v, want %+v", i, got[i], want[i])
		}
	}

	// Asking only about the wrong partition describes no nodes.
	resp, err = describeQuorumRequest(2, "orders", 0).RequestWith(ctx, cl)
	if err != nil {
		t.Fatal(err)
	}
	if code := resp.Topics[0].Partitions[0].ErrorCode; code != kerr.UnknownTopicOrPartition.Code || len(resp.Nodes) != 0 {
		t.Errorf("orders-0: code %d nodes %+v, want UNKNOWN_TOPIC_OR_PARTITION and no nodes", code, resp.Nodes)
	}
}

func TestDescribeQuorumErrorResponse(t *testing.T) {
	req := describeQuorumRequest(2, clusterMetadataTopic, 0)
	resp := describeQuorumErrorResponse(req, errors.Join(errors.New("broker: no answer from the active controller"), kerr.RequestTimedOut))
	if resp.ErrorCode != kerr.RequestTimedOut.Code || resp.Version != 2 {
		t.Errorf("top level: code %d version %d", resp.ErrorCode, resp.Version)
	}
	if len(resp.Topics) != 1 || len(resp.Topics[0].Partitions) != 1 {
		t.Fatalf("topics %+v", resp.Topics)
	}
	p := resp.Topics[0].Partitions[0]
	if p.ErrorCode != kerr.RequestTimedOut.Code || p.LeaderID != -1 || p.ErrorMessage == nil {
		t.Errorf("partition %+v", p)
	}
}
