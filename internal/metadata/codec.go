package metadata

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"sort"
)

// ErrCorrupt is wrapped by DecodeImage (and so by OpenLocalQuorum) when the metadata
// file cannot be decoded or describes an impossible image.
var ErrCorrupt = errors.New("metadata: corrupt metadata file")

// MaxMetadataFileSize bounds the metadata file read at open: far above any real cluster
// (a million partitions is about 100 MiB), low enough that a corrupt size cannot make us
// allocate without limit.
const MaxMetadataFileSize = 512 << 20

// fileFormat is the only format version written and read.
const fileFormat = 1

// The JSON shapes of the file; see the package doc.
type fileImage struct {
	Format         int                          `json:"format"`
	Offset         int64                        `json:"offset"`
	ClusterID      string                       `json:"clusterId"`
	ControllerID   int32                        `json:"controllerId"`
	NextProducerID int64                        `json:"nextProducerId"`
	ClusterSecret  string                       `json:"clusterSecret,omitempty"`
	Brokers        []fileBroker                 `json:"brokers"`
	BrokerConfigs  map[string]map[string]string `json:"brokerConfigs,omitempty"`
	Topics         []fileTopic                  `json:"topics"`
}

type fileBroker struct {
	ID                   int32  `json:"id"`
	Host                 string `json:"host"`
	Port                 int32  `json:"port"`
	Rack                 string `json:"rack"`
	Epoch                int64  `json:"epoch,omitempty"`
	Fenced               bool   `json:"fenced,omitempty"`
	InControlledShutdown bool   `json:"inControlledShutdown,omitempty"`
}

type fileTopic struct {
	Name       string            `json:"name"`
	ID         UUID              `json:"id"`
	Configs    map[string]string `json:"configs,omitempty"`
	Partitions []filePartition   `json:"partitions"`
}

type filePartition struct {
	ID             int32   `json:"id"`
	Replicas       []int32 `json:"replicas"`
	ISR            []int32 `json:"isr"`
	Leader         int32   `json:"leader"`
	LeaderEpoch    int32   `json:"leaderEpoch"`
	PartitionEpoch int32   `json:"partitionEpoch"`
	Adding         []int32 `json:"addingReplicas,omitempty"`
	Removing       []int32 `json:"removingReplicas,omitempty"`
}

// EncodeImage renders img in the metadata file format (see the package doc). The
// output is deterministic: brokers and topics are sorted.
func EncodeImage(img *Image) ([]byte, error) {
	f := fileImage{
		Format:         fileFormat,
		Offset:         img.Offset,
		ClusterID:      img.ClusterID,
		ControllerID:   img.ControllerID,
		NextProducerID: img.NextProducerID,
		ClusterSecret:  img.ClusterSecret,
		Brokers:        []fileBroker{},
		BrokerConfigs:  img.BrokerConfigs,
		Topics:         []fileTopic{},
	}
	for _, id := range img.BrokerIDs() {
		b := img.Brokers[id]
		f.Brokers = append(f.Brokers, fileBroker(b))
	}
	for _, name := range img.TopicNames() {
		t := img.Topics[name]
		ft := fileTopic{Name: t.Name, ID: t.ID, Configs: t.Configs, Partitions: []filePartition{}}
		for _, p := range t.Partitions {
			ft.Partitions = append(ft.Partitions, filePartition{
				ID: p.ID, Replicas: p.Replicas, ISR: nonNil(p.ISR), Leader: p.Leader,
				LeaderEpoch: p.LeaderEpoch, PartitionEpoch: p.PartitionEpoch,
				Adding: p.AddingReplicas, Removing: p.RemovingReplicas,
			})
		}
		f.Topics = append(f.Topics, ft)
	}
	b, err := json.MarshalIndent(f, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("metadata: encode image: %w", err)
	}
	return append(b, '\n'), nil
}

func nonNil(s []int32) []int32 {
	if s == nil {
		return []int32{}
	}
	return s
}

// DecodeImage parses the metadata file format. The file is turned into the records that
// build it, which are applied to an empty image, so every invariant Apply enforces holds
// for a decoded image. Errors wrap ErrCorrupt.
func DecodeImage(data []byte) (*Image, error) {
	if len(data) > MaxMetadataFileSize {
		return nil, fmt.Errorf("%w: %d bytes is more than the %d allowed", ErrCorrupt, len(data), MaxMetadataFileSize)
	}
	var f fileImage
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&f); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrCorrupt, err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, fmt.Errorf("%w: data after the image", ErrCorrupt)
	}
	switch {
	case f.Format != fileFormat:
		return nil, fmt.Errorf("%w: format %d, want %d", ErrCorrupt, f.Format, fileFormat)
	case f.Offset < 0:
		return nil, fmt.Errorf("%w: negative offset %d", ErrCorrupt, f.Offset)
	case f.ClusterID == "":
		return nil, fmt.Errorf("%w: no cluster id", ErrCorrupt)
	}

	recs := []Record{
		{Type: RecordClusterID, ClusterID: &ClusterIDRecord{ClusterID: f.ClusterID}},
		{Type: RecordControllerChange, ControllerChange: &ControllerChangeRecord{ControllerID: f.ControllerID}},
		{Type: RecordProducerIDs, ProducerIDs: &ProducerIDsRecord{NextProducerID: f.NextProducerID}},
	}
	if f.ClusterSecret != "" {
		recs = append(recs, Record{Type: RecordClusterSecret, ClusterSecret: &ClusterSecretRecord{Secret: f.ClusterSecret}})
	}
	seenBroker := make(map[int32]bool, len(f.Brokers))
	for _, b := range f.Brokers {
		if seenBroker[b.ID] {
			return nil, fmt.Errorf("%w: broker %d listed twice", ErrCorrupt, b.ID)
		}
		seenBroker[b.ID] = true
		recs = append(recs, Record{Type: RecordRegisterBroker, RegisterBroker: &RegisterBrokerRecord{ID: b.ID, Host: b.Host, Port: b.Port, Rack: b.Rack, Epoch: b.Epoch, Fenced: b.Fenced}})
		if b.InControlledShutdown {
			yes := true
			recs = append(recs, Record{Type: RecordBrokerChange, BrokerChange: &BrokerChangeRecord{ID: b.ID, InControlledShutdown: &yes}})
		}
	}
	for _, name := range slices.Sorted(maps.Keys(f.BrokerConfigs)) {
		recs = appendConfigRecords(recs, ConfigResourceBroker, name, f.BrokerConfigs[name])
	}
	for _, t := range f.Topics {
		recs = append(recs, Record{Type: RecordTopic, Topic: &TopicRecord{Name: t.Name, ID: t.ID}})
		for i, p := range t.Partitions {
			if p.ID != int32(i) {
				return nil, fmt.Errorf("%w: topic %q: partition %d at index %d", ErrCorrupt, t.Name, p.ID, i)
			}
			recs = append(recs, Record{Type: RecordPartition, Partition: &PartitionRecord{
				TopicID: t.ID, PartitionID: p.ID, Replicas: p.Replicas, ISR: p.ISR, Leader: p.Leader,
				LeaderEpoch: p.LeaderEpoch, PartitionEpoch: p.PartitionEpoch,
				AddingReplicas: p.Adding, RemovingReplicas: p.Removing,
			}})
		}
		recs = appendConfigRecords(recs, ConfigResourceTopic, t.Name, t.Configs)
	}
	img, err := NewImage().Apply(recs)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrCorrupt, err)
	}
	img.Offset = f.Offset
	return img, nil
}

// appendConfigRecords appends one set-record per entry of configs, in key order.
func appendConfigRecords(recs []Record, typ ConfigResourceType, name string, configs map[string]string) []Record {
	keys := make([]string, 0, len(configs))
	for k := range configs {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		v := configs[k]
		recs = append(recs, Record{Type: RecordConfig, Config: &ConfigRecord{ResourceType: typ, ResourceName: name, Key: k, Value: &v}})
	}
	return recs
}
