package broker

import (
	"context"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/samsa-io/samsa/internal/batchtest"
)

// startInternal runs a single-node broker (runInternal) with the topics "t" and
// "minisr" (min.insync.replicas=2), for tests that call handlers directly.
func startInternal(t *testing.T) *Broker {
	t.Helper()
	b, cl := runInternal(t)
	tctx, tcancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer tcancel()
	minISR2 := "2"
	for name, cfgs := range map[string]map[string]*string{"t": nil, "minisr": {"min.insync.replicas": &minISR2}} {
		resp, err := kadm.NewClient(cl).CreateTopic(tctx, 1, 1, cfgs, name)
		if err == nil {
			err = resp.Err
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	return b
}

func fetchRequest(version int16, replicaID int32) *kmsg.FetchRequest {
	req := kmsg.NewPtrFetchRequest()
	req.Version = version
	req.ReplicaID = -1
	if version >= 15 {
		req.ReplicaState.ID = replicaID
	} else {
		req.ReplicaID = replicaID
	}
	req.MaxBytes = 1 << 20
	rt := kmsg.NewFetchRequestTopic()
	rt.Topic = "t"
	rp := kmsg.NewFetchRequestTopicPartition()
	rp.PartitionMaxBytes = 1 << 20
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	return req
}

func TestReplicaFetchNeedsBroker(t *testing.T) {
	b := startInternal(t)
	tests := []struct {
		name      string
		version   int16
		replicaID int32
		principal string
		want      *kerr.Error
	}{
		{"replica fetch from a client", 12, 2, "", kerr.TopicAuthorizationFailed},
		{"replica state from a client", 15, 2, "", kerr.TopicAuthorizationFailed},
		{"replica fetch from another user", 12, 2, "mallory", kerr.TopicAuthorizationFailed},
		{"broker that is no replica", 12, 2, brokerUser, kerr.NotLeaderForPartition},
		{"consumer", 12, -1, "", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := &conn{b: b, principal: tt.principal}
			kresp, err := b.handleFetch(context.Background(), c, fetchRequest(tt.version, tt.replicaID))
			if err != nil {
				t.Fatal(err)
			}
			resp, ok := kresp.(*kmsg.FetchResponse)
			if !ok {
				resp = kresp.(*fetchResponse).FetchResponse
			}
			if len(resp.Topics) != 1 || len(resp.Topics[0].Partitions) != 1 {
				t.Fatalf("response has %d topics", len(resp.Topics))
			}
			got := kerr.ErrorForCode(resp.Topics[0].Partitions[0].ErrorCode)
			if tt.want == nil && got != nil || tt.want != nil && got != tt.want {
				t.Fatalf("error %v, want %v", got, tt.want)
			}
		})
	}
}

func TestProduceAcksAllMinInsync(t *testing.T) {
	b := startInternal(t)
	for _, tt := range []struct {
		topic string
		acks  int16
		want  *kerr.Error
	}{
		{"t", -1, nil},
		{"minisr", 1, nil},
		{"minisr", -1, kerr.NotEnoughReplicas},
	} {
		req := kmsg.NewPtrProduceRequest()
		req.Version = 9
		req.Acks = tt.acks
		req.TimeoutMillis = 5000
		rt := kmsg.NewProduceRequestTopic()
		rt.Topic = tt.topic
		rp := kmsg.NewProduceRequestTopicPartition()
		rp.Records = batchtest.Values(time.Now().UnixMilli(), "v").Encode()
		rt.Partitions = append(rt.Partitions, rp)
		req.Topics = append(req.Topics, rt)
		kresp, err := b.handleProduce(context.Background(), &conn{b: b}, req)
		if err != nil {
			t.Fatal(err)
		}
		sp := kresp.(*kmsg.ProduceResponse).Topics[0].Partitions[0]
		if got := kerr.ErrorForCode(sp.ErrorCode); got != tt.want && !(got == nil && tt.want == nil) {
			t.Errorf("%s acks=%d: error %v, want %v", tt.topic, tt.acks, got, tt.want)
		}
		if tt.want == nil && sp.BaseOffset < 0 {
			t.Errorf("%s acks=%d: base offset %d", tt.topic, tt.acks, sp.BaseOffset)
		}
	}
}
