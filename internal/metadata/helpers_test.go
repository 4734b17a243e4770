package metadata

import (
	"errors"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
)

func brokerRec(id int32) Record {
	return Record{Type: RecordRegisterBroker, RegisterBroker: &RegisterBrokerRecord{ID: id, Host: "h", Port: 9092}}
}

func topicRec(name string, id UUID) Record {
	return Record{Type: RecordTopic, Topic: &TopicRecord{Name: name, ID: id}}
}

func partRec(id UUID, p int32, replicas ...int32) Record {
	return Record{Type: RecordPartition, Partition: &PartitionRecord{TopicID: id, PartitionID: p, Replicas: replicas, ISR: replicas, Leader: replicas[0]}}
}

func topicCfgRec(topic, key string, value *string) Record {
	return Record{Type: RecordConfig, Config: &ConfigRecord{ResourceType: ConfigResourceTopic, ResourceName: topic, Key: key, Value: value}}
}

// mustApply applies recs to img, failing the test on error.
func mustApply(t *testing.T, img *Image, recs ...Record) *Image {
	t.Helper()
	next, err := img.Apply(recs)
	if err != nil {
		t.Fatalf("Apply: %v", err)
	}
	return next
}

// wantKerr fails unless err wraps the Kafka error want.
func wantKerr(t *testing.T, err error, want *kerr.Error) {
	t.Helper()
	var ke *kerr.Error
	if !errors.As(err, &ke) || ke != want {
		t.Fatalf("error %v: want %s", err, want.Message)
	}
}

// newMemQuorum is a local quorum that persists nothing, starting from an image with a
// cluster id and the given brokers; node 1 is the controller.
func newMemQuorum(t *testing.T, brokers ...int32) *localQuorum {
	t.Helper()
	recs := []Record{
		{Type: RecordClusterID, ClusterID: &ClusterIDRecord{ClusterID: "test-cluster"}},
		{Type: RecordControllerChange, ControllerChange: &ControllerChangeRecord{ControllerID: 1}},
	}
	for _, b := range brokers {
		recs = append(recs, brokerRec(b))
	}
	q := &localQuorum{persist: func(*Image) error { return nil }}
	q.img.Store(mustApply(t, NewImage(), recs...))
	return q
}
