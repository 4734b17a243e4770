package metadata

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"slices"
	"sort"
)

// UUID is a Kafka topic id.
type UUID [16]byte

// String renders the id as Kafka does (URL-safe base64 without padding).
func (u UUID) String() string { return base64.RawURLEncoding.EncodeToString(u[:]) }

// MarshalText renders the id as String does, so ids are readable in JSON.
func (u UUID) MarshalText() ([]byte, error) { return []byte(u.String()), nil }

// UnmarshalText parses the form String produces.
func (u *UUID) UnmarshalText(b []byte) error {
	if len(b) != 22 { // base64 of 16 bytes without padding
		return fmt.Errorf("metadata: uuid %q: want 22 characters, got %d", b, len(b))
	}
	var out UUID
	n, err := base64.RawURLEncoding.Decode(out[:], b)
	if err != nil || n != 16 {
		return fmt.Errorf("metadata: uuid %q: not base64url", b)
	}
	*u = out
	return nil
}

// IsZero reports whether u is the zero id, which Kafka reserves for "no topic id".
func (u UUID) IsZero() bool { return u == UUID{} }

// RandomUUID returns a random id as Kafka's Uuid.randomUuid does: never the reserved
// zero or metadata-topic (0...01) ids, and never one whose string starts with '-' (it
// would read as a command-line flag).
func RandomUUID() UUID {
	for {
		var u UUID
		_, _ = rand.Read(u[:]) // crypto/rand.Read never fails on supported platforms
		if u.IsZero() || u == (UUID{15: 1}) || u.String()[0] == '-' {
			continue
		}
		return u
	}
}

// Partition is one partition's placement.
type Partition struct {
	ID             int32
	Replicas       []int32
	ISR            []int32
	Leader         int32
	LeaderEpoch    int32
	PartitionEpoch int32
	// AddingReplicas and RemovingReplicas are set while a reassignment is in progress
	// (nil otherwise): Replicas is then the target followed by the replicas being
	// removed, AddingReplicas the target replicas that were not replicas before, and
	// RemovingReplicas the old replicas that are not in the target.
	AddingReplicas   []int32
	RemovingReplicas []int32
}

// Reassigning reports whether a reassignment of the partition is in progress.
func (p *Partition) Reassigning() bool {
	return len(p.AddingReplicas) > 0 || len(p.RemovingReplicas) > 0
}

// HasLeader reports whether the partition has a leader (Leader is -1 when it has none).
func (p *Partition) HasLeader() bool { return p.Leader >= 0 }

// OfflineReplicas returns the replicas that are not registered brokers in img, in
// replica order, for the Metadata response's offline_replicas; nil when there are none.
func (p *Partition) OfflineReplicas(img *Image) []int32 {
	var out []int32
	for _, r := range p.Replicas {
		if _, ok := img.Brokers[r]; !ok {
			out = append(out, r)
		}
	}
	return out
}

// Topic is a topic and its partitions.
type Topic struct {
	Name       string
	ID         UUID
	Partitions []Partition       // indexed by partition id
	Configs    map[string]string // topic-level overrides only
}

// Partition returns partition id of the topic, or nil if it has no such partition.
func (t *Topic) Partition(id int32) *Partition {
	if t == nil || id < 0 || int(id) >= len(t.Partitions) {
		return nil
	}
	return &t.Partitions[id]
}

// ReplicationFactor is the replica count of partition 0 (Kafka reports a topic's
// replication factor that way); 0 for a topic without partitions.
func (t *Topic) ReplicationFactor() int16 {
	if t == nil || len(t.Partitions) == 0 {
		return 0
	}
	return int16(len(t.Partitions[0].Replicas))
}

// Broker is a registered broker.
type Broker struct {
	ID   int32
	Host string
	Port int32
	Rack string
	// Epoch is the broker epoch: the metadata offset of its latest registration. A
	// request carrying an older epoch comes from a previous incarnation of the broker.
	Epoch int64
	// Fenced brokers lead no partition, join no ISR and are not listed to clients: a
	// registered broker is fenced until it has caught up with the metadata, and again when
	// its heartbeats stop.
	Fenced bool
	// InControlledShutdown is set while the broker moves its leadership away before
	// stopping.
	InControlledShutdown bool
}

// Usable reports whether the broker may lead partitions and be added to ISRs.
func (b Broker) Usable() bool { return !b.Fenced && !b.InControlledShutdown }

// Image is a read-only view of all metadata at one point of the record log. Never
// modify an Image or what it points to: it is shared between goroutines.
type Image struct {
	ClusterID      string
	ControllerID   int32
	Brokers        map[int32]Broker
	Topics         map[string]*Topic
	TopicsByID     map[UUID]*Topic
	NextProducerID int64
	// BrokerConfigs holds dynamic broker configs by resource name: "" is the cluster-wide
	// default, a decimal broker id is that broker's override.
	BrokerConfigs map[string]map[string]string
	// Offset is the number of records applied to reach this image.
	Offset int64
	// ClusterSecret is what nodes derive their inter-node credentials from ("" on a
	// single node, which has no peers). Never send it to a client.
	ClusterSecret string
}

// NewImage returns the empty image records are applied to: no cluster id, no
// controller (-1), no brokers, no topics.
func NewImage() *Image {
	return &Image{ControllerID: -1}
}

// Topic returns the named topic, or nil.
func (img *Image) Topic(name string) *Topic { return img.Topics[name] }

// TopicByID returns the topic with id, or nil.
func (img *Image) TopicByID(id UUID) *Topic { return img.TopicsByID[id] }

// TopicNames returns all topic names, sorted.
func (img *Image) TopicNames() []string {
	names := make([]string, 0, len(img.Topics))
	for n := range img.Topics {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Partition returns a partition of the named topic, or nil if either is unknown.
func (img *Image) Partition(topic string, partition int32) *Partition {
	return img.Topics[topic].Partition(partition)
}

// UsableBrokerIDs returns the ids of the brokers that may host new replicas and lead
// partitions (not fenced, not shutting down), sorted.
func (img *Image) UsableBrokerIDs() []int32 {
	ids := make([]int32, 0, len(img.Brokers))
	for id, b := range img.Brokers {
		if b.Usable() {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	return ids
}

// Broker returns a registered broker.
func (img *Image) Broker(id int32) (Broker, bool) {
	b, ok := img.Brokers[id]
	return b, ok
}

// BrokerIDs returns the ids of all registered brokers, sorted.
func (img *Image) BrokerIDs() []int32 {
	ids := make([]int32, 0, len(img.Brokers))
	for id := range img.Brokers {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return ids
}

// Quorum orders and persists records.
type Quorum interface {
	// Propose appends recs atomically; it returns once they are durable and applied.
	Propose(ctx context.Context, recs []Record) (*Image, error)
	// Image is the latest applied image.
	Image() *Image
	// Subscribe calls fn after every applied change, in order, from the applying goroutine.
	Subscribe(fn func(prev, next *Image))
	Close() error
}

// RegisterBroker makes b's registration in q's image current: it proposes a
// RegisterBroker record unless the image already holds exactly b. A broker calls it at
// start to publish its advertised host, port and rack.
func RegisterBroker(ctx context.Context, q Quorum, b Broker) error {
	if cur, ok := q.Image().Brokers[b.ID]; ok && cur.Host == b.Host && cur.Port == b.Port && cur.Rack == b.Rack && cur.Usable() {
		return nil
	}
	_, err := q.Propose(ctx, []Record{{
		Type:           RecordRegisterBroker,
		RegisterBroker: &RegisterBrokerRecord{ID: b.ID, Host: b.Host, Port: b.Port, Rack: b.Rack},
	}})
	return err
}
