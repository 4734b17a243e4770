package metadata

import (
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
)

var (
	idA = UUID{1, 2, 3}
	idB = UUID{4, 5, 6}
	idC = UUID{7, 8, 9}
)

func baseImage(t *testing.T) *Image {
	t.Helper()
	return mustApply(t, NewImage(),
		Record{Type: RecordClusterID, ClusterID: &ClusterIDRecord{ClusterID: "c1"}},
		brokerRec(1), brokerRec(2), brokerRec(3),
		topicRec("a", idA), partRec(idA, 0, 1, 2), partRec(idA, 1, 2, 3),
		topicCfgRec("a", "retention.ms", ptr("1000")),
		topicRec("b", idB), partRec(idB, 0, 3),
	)
}

func encode(t *testing.T, img *Image) string {
	t.Helper()
	b, err := EncodeImage(img)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestApplyCopyOnWrite(t *testing.T) {
	old := baseImage(t)
	before := encode(t, old)
	oldA, oldB := old.Topics["a"], old.Topics["b"]
	oldAParts := oldA.Partitions

	next := mustApply(t, old,
		Record{Type: RecordPartitionChange, PartitionChange: &PartitionChangeRecord{TopicID: idA, PartitionID: 0, Leader: ptr[int32](2)}},
		partRec(idA, 2, 3, 1),
		topicCfgRec("a", "retention.ms", nil),
		topicCfgRec("a", "cleanup.policy", ptr("compact")),
		topicRec("c", idC), partRec(idC, 0, 1),
		brokerRec(4),
		Record{Type: RecordConfig, Config: &ConfigRecord{ResourceType: ConfigResourceBroker, ResourceName: "1", Key: "k", Value: ptr("v")}},
		Record{Type: RecordProducerIDs, ProducerIDs: &ProducerIDsRecord{NextProducerID: 1000}},
	)

	if got := encode(t, old); got != before {
		t.Fatalf("old image changed:\nbefore %s\nafter %s", before, got)
	}
	if old.Topics["a"] != oldA || &old.Topics["a"].Partitions[0] != &oldAParts[0] {
		t.Fatal("old image's topic a was replaced")
	}
	if old.Topics["c"] != nil || len(old.Brokers) != 3 || old.BrokerConfigs != nil || old.NextProducerID != 0 {
		t.Fatal("old image maps were written to")
	}
	if next.Topics["b"] != oldB || next.TopicsByID[idB] != oldB {
		t.Fatal("untouched topic b was copied, want it shared")
	}
	a := next.Topic("a")
	if a == oldA || next.TopicByID(idA) != a {
		t.Fatal("changed topic a not copied consistently in both maps")
	}
	if p := a.Partition(0); p.Leader != 2 || p.LeaderEpoch != 1 || p.PartitionEpoch != 1 {
		t.Fatalf("partition a-0 = %+v, want leader 2 epochs 1/1", *p)
	}
	if len(a.Partitions) != 3 || !reflect.DeepEqual(a.Configs, map[string]string{"cleanup.policy": "compact"}) {
		t.Fatalf("topic a = %+v", *a)
	}
	if next.Offset != old.Offset+9 {
		t.Fatalf("offset %d, want %d", next.Offset, old.Offset+9)
	}
	if got := next.TopicNames(); !reflect.DeepEqual(got, []string{"a", "b", "c"}) {
		t.Fatalf("TopicNames = %v", got)
	}
	if got := next.BrokerIDs(); !reflect.DeepEqual(got, []int32{1, 2, 3, 4}) {
		t.Fatalf("BrokerIDs = %v", got)
	}
	if next.BrokerConfigs["1"]["k"] != "v" || next.NextProducerID != 1000 {
		t.Fatal("broker config or producer id not applied")
	}

	// Removing a topic leaves the previous image intact too.
	before = encode(t, next)
	gone := mustApply(t, next, Record{Type: RecordRemoveTopic, RemoveTopic: &RemoveTopicRecord{TopicID: idA}})
	if gone.Topic("a") != nil || gone.TopicByID(idA) != nil || next.Topic("a") == nil || encode(t, next) != before {
		t.Fatal("RemoveTopic did not copy on write")
	}
}

func TestApplyDoesNotAliasRecords(t *testing.T) {
	replicas := []int32{1, 2}
	img := mustApply(t, baseImage(t), partRec(idB, 1, replicas...))
	replicas[0] = 3
	if got := img.Topic("b").Partitions[1].Replicas[0]; got != 1 {
		t.Fatalf("image shares the record's slice: replica 0 = %d", got)
	}
}

func TestPartitionChangeEpochs(t *testing.T) {
	img := baseImage(t)
	change := func(pc PartitionChangeRecord) *Partition {
		pc.TopicID = idA
		img = mustApply(t, img, Record{Type: RecordPartitionChange, PartitionChange: &pc})
		return img.Topic("a").Partition(0)
	}
	if p := change(PartitionChangeRecord{ISR: []int32{1}}); p.LeaderEpoch != 0 || p.PartitionEpoch != 1 {
		t.Fatalf("isr shrink: %+v, want leader epoch 0, partition epoch 1", *p)
	}
	if p := change(PartitionChangeRecord{ISR: []int32{1, 2}, Leader: ptr[int32](2)}); p.LeaderEpoch != 1 || p.PartitionEpoch != 2 {
		t.Fatalf("leader change: %+v, want epochs 1/2", *p)
	}
	if p := change(PartitionChangeRecord{Leader: ptr[int32](-1)}); p.LeaderEpoch != 2 || p.PartitionEpoch != 3 || p.HasLeader() {
		t.Fatalf("leader lost: %+v", *p)
	}
	if p := change(PartitionChangeRecord{Replicas: []int32{1, 2, 3}}); p.LeaderEpoch != 2 || p.PartitionEpoch != 4 || len(p.Replicas) != 3 {
		t.Fatalf("reassignment: %+v", *p)
	}
}

func TestApplyRejects(t *testing.T) {
	cfg := func(typ ConfigResourceType, name, key string) Record {
		return Record{Type: RecordConfig, Config: &ConfigRecord{ResourceType: typ, ResourceName: name, Key: key, Value: ptr("v")}}
	}
	pc := func(p int32, leader *int32, isr []int32) Record {
		return Record{Type: RecordPartitionChange, PartitionChange: &PartitionChangeRecord{TopicID: idA, PartitionID: p, Leader: leader, ISR: isr}}
	}
	part := func(p PartitionRecord) Record { return Record{Type: RecordPartition, Partition: &p} }
	tests := []struct {
		name string
		rec  Record
		want *kerr.Error
	}{
		{"unknown type", Record{Type: "Nope"}, kerr.InvalidRequest},
		{"type without its field", Record{Type: RecordTopic, RemoveTopic: &RemoveTopicRecord{TopicID: idA}}, kerr.InvalidRequest},
		{"two fields", Record{Type: RecordTopic, Topic: &TopicRecord{Name: "x", ID: idC}, RemoveTopic: &RemoveTopicRecord{}}, kerr.InvalidRequest},
		{"empty cluster id", Record{Type: RecordClusterID, ClusterID: &ClusterIDRecord{}}, kerr.InvalidRequest},
		{"cluster id change", Record{Type: RecordClusterID, ClusterID: &ClusterIDRecord{ClusterID: "other"}}, kerr.InconsistentClusterID},
		{"negative controller", Record{Type: RecordControllerChange, ControllerChange: &ControllerChangeRecord{ControllerID: -1}}, kerr.InvalidRequest},
		{"negative broker", brokerRec(-1), kerr.InvalidRequest},
		{"broker port", Record{Type: RecordRegisterBroker, RegisterBroker: &RegisterBrokerRecord{ID: 9, Port: 70000}}, kerr.InvalidRequest},
		{"bad topic name", topicRec("a b", idC), kerr.InvalidTopicException},
		{"zero topic id", topicRec("c", UUID{}), kerr.InvalidRequest},
		{"duplicate topic name", topicRec("a", idC), kerr.TopicAlreadyExists},
		{"duplicate topic id", topicRec("c", idA), kerr.TopicAlreadyExists},
		{"partition of unknown topic", partRec(idC, 0, 1), kerr.UnknownTopicID},
		{"partition gap", partRec(idA, 3, 1), kerr.InvalidPartitions},
		{"negative partition", partRec(idA, -1, 1), kerr.InvalidPartitions},
		{"no replicas", part(PartitionRecord{TopicID: idA, PartitionID: 2, Leader: -1}), kerr.InvalidReplicaAssignment},
		{"duplicate replica", partRec(idA, 2, 1, 1), kerr.InvalidReplicaAssignment},
		{"unregistered replica", partRec(idA, 2, 1, 9), kerr.InvalidReplicaAssignment},
		{"isr not replica", part(PartitionRecord{TopicID: idA, PartitionID: 2, Replicas: []int32{1}, ISR: []int32{1, 2}, Leader: 1}), kerr.InvalidRequest},
		{"duplicate isr", part(PartitionRecord{TopicID: idA, PartitionID: 2, Replicas: []int32{1, 2}, ISR: []int32{1, 1}, Leader: 1}), kerr.InvalidRequest},
		{"leader not in isr", part(PartitionRecord{TopicID: idA, PartitionID: 2, Replicas: []int32{1, 2}, ISR: []int32{1}, Leader: 2}), kerr.InvalidRequest},
		{"leader with empty isr", part(PartitionRecord{TopicID: idA, PartitionID: 2, Replicas: []int32{1}, Leader: 1}), kerr.InvalidRequest},
		{"leader below -1", part(PartitionRecord{TopicID: idA, PartitionID: 2, Replicas: []int32{1}, Leader: -2}), kerr.InvalidRequest},
		{"negative epoch", part(PartitionRecord{TopicID: idA, PartitionID: 2, Replicas: []int32{1}, ISR: []int32{1}, Leader: 1, LeaderEpoch: -1}), kerr.InvalidRequest},
		{"change of unknown topic", Record{Type: RecordPartitionChange, PartitionChange: &PartitionChangeRecord{TopicID: idC}}, kerr.UnknownTopicID},
		{"change of unknown partition", pc(5, ptr[int32](1), nil), kerr.UnknownTopicOrPartition},
		{"change to leader outside isr", pc(0, ptr[int32](3), nil), kerr.InvalidRequest},
		{"change isr outside replicas", pc(0, nil, []int32{1, 3}), kerr.InvalidRequest},
		{"remove unknown topic", Record{Type: RecordRemoveTopic, RemoveTopic: &RemoveTopicRecord{TopicID: idC}}, kerr.UnknownTopicID},
		{"config of unknown topic", cfg(ConfigResourceTopic, "zz", "k"), kerr.UnknownTopicOrPartition},
		{"config with empty key", cfg(ConfigResourceTopic, "a", ""), kerr.InvalidConfig},
		{"config of bad broker name", cfg(ConfigResourceBroker, "x1", "k"), kerr.InvalidRequest},
		{"config of non-canonical broker id", cfg(ConfigResourceBroker, "01", "k"), kerr.InvalidRequest},
		{"config of unknown resource type", cfg("group", "g", "k"), kerr.InvalidRequest},
		{"producer ids backwards", Record{Type: RecordProducerIDs, ProducerIDs: &ProducerIDsRecord{NextProducerID: -1}}, kerr.InvalidRequest},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			img := baseImage(t)
			before := encode(t, img)
			// A valid record first: a failing batch must not apply it either.
			next, err := img.Apply([]Record{brokerRec(7), tt.rec})
			if next != nil {
				t.Fatal("Apply returned an image with an error")
			}
			wantKerr(t, err, tt.want)
			if !strings.HasPrefix(err.Error(), "metadata: ") {
				t.Fatalf("error %q does not start with the package name", err)
			}
			if encode(t, img) != before {
				t.Fatal("failed Apply changed the image")
			}
		})
	}
}

func TestRecordJSONRoundTrip(t *testing.T) {
	recs := []Record{
		{Type: RecordClusterID, ClusterID: &ClusterIDRecord{ClusterID: "c"}},
		{Type: RecordControllerChange, ControllerChange: &ControllerChangeRecord{ControllerID: 3}},
		{Type: RecordRegisterBroker, RegisterBroker: &RegisterBrokerRecord{ID: 1, Host: "h", Port: 1, Rack: "r"}},
		topicRec("t", idA),
		partRec(idA, 0, 1),
		{Type: RecordPartitionChange, PartitionChange: &PartitionChangeRecord{TopicID: idA, Leader: ptr[int32](-1), ISR: []int32{1}, Replicas: []int32{1}}},
		{Type: RecordRemoveTopic, RemoveTopic: &RemoveTopicRecord{TopicID: idA}},
		topicCfgRec("t", "k", nil),
		topicCfgRec("t", "k", ptr("")),
		{Type: RecordProducerIDs, ProducerIDs: &ProducerIDsRecord{NextProducerID: 5}},
	}
	b, err := json.Marshal(recs)
	if err != nil {
		t.Fatal(err)
	}
	var got []Record
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, recs) {
		t.Fatalf("round trip changed records:\n%s", b)
	}
	if !strings.Contains(string(b), `"id":"`+idA.String()+`"`) {
		t.Fatalf("topic id not in base64 form: %s", b)
	}
}

func TestUUID(t *testing.T) {
	for range 100 {
		u := RandomUUID()
		if u.IsZero() || u == (UUID{15: 1}) || strings.HasPrefix(u.String(), "-") {
			t.Fatalf("RandomUUID returned reserved id %s", u)
		}
		var back UUID
		if err := back.UnmarshalText([]byte(u.String())); err != nil || back != u {
			t.Fatalf("UnmarshalText(%s) = %v, %v", u, back, err)
		}
	}
	for _, bad := range []string{"", "short", strings.Repeat("A", 23), strings.Repeat("*", 22)} {
		var u UUID
		if err := u.UnmarshalText([]byte(bad)); err == nil {
			t.Errorf("UnmarshalText(%q) succeeded", bad)
		}
	}
}

func TestEncodeDecodeRoundTrip(t *testing.T) {
	img := mustApply(t, baseImage(t),
		Record{Type: RecordConfig, Config: &ConfigRecord{ResourceType: ConfigResourceBroker, ResourceName: "", Key: "k", Value: ptr("v")}},
		Record{Type: RecordProducerIDs, ProducerIDs: &ProducerIDsRecord{NextProducerID: 42}},
		Record{Type: RecordControllerChange, ControllerChange: &ControllerChangeRecord{ControllerID: 2}},
		Record{Type: RecordPartitionChange, PartitionChange: &PartitionChangeRecord{TopicID: idA, Leader: ptr[int32](-1)}},
	)
	data := encode(t, img)
	back, err := DecodeImage([]byte(data))
	if err != nil {
		t.Fatalf("DecodeImage: %v\n%s", err, data)
	}
	if !reflect.DeepEqual(back, img) {
		t.Fatalf("decoded image differs:\n got %+v\nwant %+v", back, img)
	}
}

func TestPartitionHelpers(t *testing.T) {
	img := baseImage(t)
	if img.Partition("a", 1) == nil || img.Partition("a", 2) != nil || img.Partition("a", -1) != nil || img.Partition("zz", 0) != nil {
		t.Fatal("Image.Partition lookup wrong")
	}
	if rf := img.Topic("a").ReplicationFactor(); rf != 2 {
		t.Fatalf("replication factor %d, want 2", rf)
	}
	p := &Partition{Replicas: []int32{1, 8, 2, 9}}
	if got := p.OfflineReplicas(img); !reflect.DeepEqual(got, []int32{8, 9}) {
		t.Fatalf("OfflineReplicas = %v", got)
	}
}

func TestDecodeImageRejects(t *testing.T) {
	const topics = `"topics":[{"name":"t","id":"AQIDAAAAAAAAAAAAAAAAAA","partitions":[{"id":0,"replicas":[1],"isr":[1],"leader":1}]}]`
	ok := `{"format":1,"offset":3,"clusterId":"c","controllerId":1,"brokers":[{"id":1,"host":"h","port":1,"rack":""}],` + topics + `}`
	if img, err := DecodeImage([]byte(ok)); err != nil || img.Offset != 3 || img.Topic("t").Partitions[0].Leader != 1 {
		t.Fatalf("valid file: %v", err)
	}
	tests := map[string]string{
		"empty":              ``,
		"not json":           `hello`,
		"truncated":          ok[:len(ok)-5],
		"trailing data":      ok + `{}`,
		"unknown field":      strings.Replace(ok, `"offset":3`, `"offset":3,"extra":1`, 1),
		"format 2":           strings.Replace(ok, `"format":1`, `"format":2`, 1),
		"negative offset":    strings.Replace(ok, `"offset":3`, `"offset":-3`, 1),
		"no cluster id":      strings.Replace(ok, `"clusterId":"c"`, `"clusterId":""`, 1),
		"duplicate broker":   strings.Replace(ok, `"brokers":[{"id":1,"host":"h","port":1,"rack":""}]`, `"brokers":[{"id":1},{"id":1}]`, 1),
		"partition index":    strings.Replace(ok, `{"id":0,"replicas"`, `{"id":1,"replicas"`, 1),
		"unknown replica":    strings.Replace(ok, `"replicas":[1]`, `"replicas":[1,5]`, 1),
		"bad topic id":       strings.Replace(ok, `AQIDAAAAAAAAAAAAAAAAAA`, `AQID`, 1),
		"bad topic name":     strings.Replace(ok, `"name":"t"`, `"name":".."`, 1),
		"negative producers": strings.Replace(ok, `"offset":3`, `"offset":3,"nextProducerId":-1`, 1),
		"wrong types":        strings.Replace(ok, `"controllerId":1`, `"controllerId":"1"`, 1),
	}
	for name, data := range tests {
		if _, err := DecodeImage([]byte(data)); !errors.Is(err, ErrCorrupt) {
			t.Errorf("%s: error %v, want ErrCorrupt", name, err)
		}
	}
}
