// Package metadata is the cluster's metadata: topics, topic ids, partitions, leaders,
// configs and producer-id blocks, as an immutable Image changed only by applying Records.
// Records are ordered and persisted by a Quorum (a local file on a single node, a Raft log
// in a cluster); the Controller validates requests and turns them into records.
package metadata

import (
	"context"
	"encoding/base64"
)

// UUID is a Kafka topic id.
type UUID [16]byte

// String renders the id as Kafka does (URL-safe base64 without padding).
func (u UUID) String() string { return base64.RawURLEncoding.EncodeToString(u[:]) }

// Partition is one partition's placement.
type Partition struct {
	ID             int32
	Replicas       []int32
	ISR            []int32
	Leader         int32
	LeaderEpoch    int32
	PartitionEpoch int32
}

// Topic is a topic and its partitions.
type Topic struct {
	Name       string
	ID         UUID
	Partitions []Partition       // indexed by partition id
	Configs    map[string]string // topic-level overrides only
}

// Broker is a registered broker.
type Broker struct {
	ID   int32
	Host string
	Port int32
	Rack string
}

// Image is a read-only view of all metadata at one point of the record log. Never
// modify an Image or what it points to: it is shared between goroutines.
type Image struct {
	ClusterID      string
	ControllerID   int32
	Brokers        map[int32]Broker
	Topics         map[string]*Topic
	TopicsByID     map[UUID]*Topic
	NextProducerID int64
	// Offset is the number of records applied to reach this image.
	Offset int64
}

// Record is one metadata change.
type Record struct{}

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

// Controller validates metadata requests and proposes the records that carry them out.
type Controller struct{}

// ControllerConfig holds the broker defaults the controller applies.
type ControllerConfig struct {
	NodeID                   int32
	NumPartitions            int32 // num.partitions
	DefaultReplicationFactor int16 // default.replication.factor
	// ValidateTopicConfig checks a topic's full set of overrides; it returns an error
	// naming the bad key (answered as INVALID_CONFIG).
	ValidateTopicConfig func(configs map[string]string) error
}

// NewController returns a controller proposing to q.
func NewController(q Quorum, cfg ControllerConfig) *Controller { return &Controller{} }

// CreateTopicSpec is one topic of a CreateTopics request. NumPartitions and
// ReplicationFactor of -1 mean the broker default; Assignments, if set, fixes the replicas.
type CreateTopicSpec struct {
	Name              string
	NumPartitions     int32
	ReplicationFactor int16
	Assignments       map[int32][]int32
	Configs           map[string]string
}

// CreateTopic creates a topic. Errors are *kerr.Error values wrapped with context:
// TopicAlreadyExists, InvalidTopicException, InvalidPartitions, InvalidReplicationFactor,
// InvalidReplicaAssignment, InvalidConfig.
func (c *Controller) CreateTopic(ctx context.Context, spec CreateTopicSpec, validateOnly bool) (*Topic, error) {
	return nil, nil
}

// DeleteTopic deletes a topic by name (or by id when name is empty):
// UnknownTopicOrPartition / UnknownTopicID when missing.
func (c *Controller) DeleteTopic(ctx context.Context, name string, id UUID) (*Topic, error) {
	return nil, nil
}

// CreatePartitions grows a topic to total partitions (InvalidPartitions if not larger).
func (c *Controller) CreatePartitions(ctx context.Context, topic string, total int32, assignments [][]int32, validateOnly bool) error {
	return nil
}

// ConfigOp is one IncrementalAlterConfigs operation.
type ConfigOp struct {
	Key   string
	Op    ConfigOpType
	Value *string
}

// ConfigOpType is Kafka's IncrementalAlterConfigs op.
type ConfigOpType int8

const (
	OpSet      ConfigOpType = 0
	OpDelete   ConfigOpType = 1
	OpAppend   ConfigOpType = 2
	OpSubtract ConfigOpType = 3
)

// IncrementalAlterTopicConfigs applies ops to a topic's overrides.
func (c *Controller) IncrementalAlterTopicConfigs(ctx context.Context, topic string, ops []ConfigOp, validateOnly bool) error {
	return nil
}

// ReplaceTopicConfigs sets a topic's overrides to exactly configs (legacy AlterConfigs).
func (c *Controller) ReplaceTopicConfigs(ctx context.Context, topic string, configs map[string]string, validateOnly bool) error {
	return nil
}

// AllocateProducerIDs reserves count producer ids and returns the first.
func (c *Controller) AllocateProducerIDs(ctx context.Context, count int64) (int64, error) {
	return 0, nil
}

// ValidateTopicName checks a topic name as Kafka does; it returns a wrapped
// kerr.InvalidTopicException naming the problem.
func ValidateTopicName(name string) error { return nil }

// OpenLocalQuorum opens the single-node quorum persisted in dir.
func OpenLocalQuorum(dir string, clusterID string, nodeID int32) (Quorum, error) { return nil, nil }
