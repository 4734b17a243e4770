package metadata

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
)

// MaxPartitionsPerRequest bounds the partitions one CreateTopic or CreatePartitions may
// add, so that a request cannot make the controller build millions of records.
const MaxPartitionsPerRequest = 10000

// Controller validates metadata requests and proposes the records that carry them out.
//
// Every request is a read-validate-propose sequence on the quorum's image; sem makes
// those sequences run one at a time, so two requests cannot both validate against the
// same image and then both propose (two creations of one topic name, two producer-id
// blocks starting at the same id).
type Controller struct {
	q   Quorum
	cfg ControllerConfig
	sem chan struct{} // holds a token while a sequence runs; a channel so waiting honours ctx

	// intn picks the random starting broker of replica placement; tests replace it.
	intn func(n int) int

	sessMu   sync.Mutex // guards sessions
	sessions map[int32]*session
}

// ControllerConfig holds the broker defaults the controller applies.
type ControllerConfig struct {
	NodeID                   int32
	NumPartitions            int32 // num.partitions; 0 means Kafka's default, 1
	DefaultReplicationFactor int16 // default.replication.factor; 0 means Kafka's default, 1
	// ValidateTopicConfig checks a topic's full set of overrides; it returns an error
	// naming the bad key (answered as INVALID_CONFIG). Nil accepts everything.
	ValidateTopicConfig func(configs map[string]string) error
	// IsListConfig reports whether a topic config key is list-typed, which is what
	// IncrementalAlterConfigs' APPEND and SUBTRACT require. Nil means no key is.
	IsListConfig func(key string) bool
	// DefaultTopicConfig returns the broker-level value of a topic config key; APPEND and
	// SUBTRACT start from it when the topic has no override, as Kafka does. Nil means
	// they start from an empty list.
	DefaultTopicConfig func(key string) (string, bool)
	// BrokerSessionTimeout is broker.session.timeout.ms: a broker that sends no heartbeat
	// for that long is fenced. 0 means Kafka's default, 9 s.
	BrokerSessionTimeout time.Duration
	// UncleanLeaderElection reports whether a topic with these overrides allows electing
	// an out-of-sync replica (unclean.leader.election.enable). Nil means never.
	UncleanLeaderElection func(topicConfigs map[string]string) bool
	// Now is the clock of broker sessions; nil is time.Now. Tests replace it.
	Now func() time.Time
	// LeaderImbalancePerBrokerPercentage is leader.imbalance.per.broker.percentage, the
	// imbalance RebalanceLeaders tolerates. 0 means Kafka's default, 10; a negative
	// value means none (any imbalance triggers a preferred election).
	LeaderImbalancePerBrokerPercentage int32
}

// NewController returns a controller proposing to q.
func NewController(q Quorum, cfg ControllerConfig) *Controller {
	if cfg.NumPartitions == 0 {
		cfg.NumPartitions = 1
	}
	if cfg.DefaultReplicationFactor == 0 {
		cfg.DefaultReplicationFactor = 1
	}
	if cfg.BrokerSessionTimeout == 0 {
		cfg.BrokerSessionTimeout = 9 * time.Second
	}
	switch {
	case cfg.LeaderImbalancePerBrokerPercentage == 0:
		cfg.LeaderImbalancePerBrokerPercentage = 10
	case cfg.LeaderImbalancePerBrokerPercentage < 0:
		cfg.LeaderImbalancePerBrokerPercentage = 0
	}
	return &Controller{q: q, cfg: cfg, sem: make(chan struct{}, 1), intn: rand.IntN}
}

// lock starts a read-validate-propose sequence; unlock ends it.
func (c *Controller) lock(ctx context.Context) error {
	select {
	case c.sem <- struct{}{}:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("metadata: waiting for the controller: %w: %w", ctx.Err(), kerr.RequestTimedOut)
	}
}

func (c *Controller) unlock() { <-c.sem }

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
//
// With validateOnly nothing is proposed, and the returned topic is the one that would
// have been created.
func (c *Controller) CreateTopic(ctx context.Context, spec CreateTopicSpec, validateOnly bool) (*Topic, error) {
	if err := c.lock(ctx); err != nil {
		return nil, err
	}
	defer c.unlock()
	img := c.q.Image()
	recs, err := c.createTopicRecords(img, spec)
	if err != nil {
		return nil, err
	}
	next, err := c.commit(ctx, img, recs, validateOnly)
	if err != nil {
		return nil, fmt.Errorf("metadata: create topic %q: %w", spec.Name, err)
	}
	return next.Topic(spec.Name), nil
}

// commit proposes recs, or with validateOnly only checks that they apply to img.
func (c *Controller) commit(ctx context.Context, img *Image, recs []Record, validateOnly bool) (*Image, error) {
	if validateOnly {
		return img.Apply(recs)
	}
	return c.q.Propose(ctx, recs)
}

func (c *Controller) createTopicRecords(img *Image, spec CreateTopicSpec) ([]Record, error) {
	name := spec.Name
	if err := ValidateTopicName(name); err != nil {
		return nil, err
	}
	if img.Topic(name) != nil {
		return nil, fmt.Errorf("metadata: topic %q already exists: %w", name, kerr.TopicAlreadyExists)
	}
	// '.' and '_' map to the same metric name, so Kafka refuses names that differ only
	// in them.
	if other := collidingTopic(img, name); other != "" {
		return nil, fmt.Errorf("metadata: topic %q collides with existing topic %q ('.' and '_' are interchangeable in metric names): %w", name, other, kerr.InvalidTopicException)
	}

	brokers := img.UsableBrokerIDs()
	var placement [][]int32
	if len(spec.Assignments) > 0 {
		if spec.NumPartitions != -1 || spec.ReplicationFactor != -1 {
			return nil, fmt.Errorf("metadata: topic %q: both replica assignments and numPartitions (%d) or replicationFactor (%d) were set: %w", name, spec.NumPartitions, spec.ReplicationFactor, kerr.InvalidRequest)
		}
		n := len(spec.Assignments)
		if n > MaxPartitionsPerRequest {
			return nil, fmt.Errorf("metadata: topic %q: %d partitions exceed the limit of %d per request: %w", name, n, MaxPartitionsPerRequest, kerr.InvalidPartitions)
		}
		for p := range int32(n) {
			replicas, ok := spec.Assignments[p]
			if !ok {
				return nil, fmt.Errorf("metadata: topic %q: the replica assignment of %d partitions has no partition %d; partitions must be 0..%d: %w", name, n, p, n-1, kerr.InvalidReplicaAssignment)
			}
			if err := checkAssignment(img, name, p, replicas); err != nil {
				return nil, err
			}
			placement = append(placement, replicas)
		}
	} else {
		np, rf := spec.NumPartitions, spec.ReplicationFactor
		if np == -1 {
			np = c.cfg.NumPartitions
		}
		if rf == -1 {
			rf = c.cfg.DefaultReplicationFactor
		}
		switch {
		case np < 1:
			return nil, fmt.Errorf("metadata: topic %q: number of partitions %d must be at least 1: %w", name, np, kerr.InvalidPartitions)
		case np > MaxPartitionsPerRequest:
			return nil, fmt.Errorf("metadata: topic %q: %d partitions exceed the limit of %d per request: %w", name, np, MaxPartitionsPerRequest, kerr.InvalidPartitions)
		case rf < 1:
			return nil, fmt.Errorf("metadata: topic %q: replication factor %d must be at least 1: %w", name, rf, kerr.InvalidReplicationFactor)
		case int(rf) > len(brokers):
			return nil, fmt.Errorf("metadata: topic %q: replication factor %d is larger than the %d available broker(s): %w", name, rf, len(brokers), kerr.InvalidReplicationFactor)
		}
		start := c.intn(len(brokers))
		placement = c.place(img, brokers, int(np), int(rf), start, start, 0)
	}
	if err := c.validateConfigs(name, spec.Configs); err != nil {
		return nil, err
	}

	id := RandomUUID()
	for img.TopicByID(id) != nil {
		id = RandomUUID()
	}
	recs := make([]Record, 0, 1+len(placement)+len(spec.Configs))
	recs = append(recs, Record{Type: RecordTopic, Topic: &TopicRecord{Name: name, ID: id}})
	recs, err := appendNewPartitions(recs, img, name, id, 0, placement)
	if err != nil {
		return nil, err
	}
	recs = appendConfigRecords(recs, ConfigResourceTopic, name, spec.Configs)
	return recs, nil
}

// collidingTopic returns an existing topic whose name equals name once '.' is read as
// '_', or "".
func collidingTopic(img *Image, name string) string {
	if !strings.ContainsAny(name, "._") {
		return ""
	}
	norm := strings.ReplaceAll(name, ".", "_")
	for other := range img.Topics {
		if other != name && strings.ReplaceAll(other, ".", "_") == norm {
			return other
		}
	}
	return ""
}

// appendNewPartitions appends Partition records for a fresh placement starting at
// partition first: the usable replicas (not fenced, not shutting down) are in sync, the
// first of them leads, epochs start at 0. A partition none of whose replicas is usable
// is refused, as Kafka does.
func appendNewPartitions(recs []Record, img *Image, topic string, topicID UUID, first int32, placement [][]int32) ([]Record, error) {
	for i, replicas := range placement {
		isr := slices.DeleteFunc(slices.Clone(replicas), func(id int32) bool { return !img.Brokers[id].Usable() })
		if len(isr) == 0 {
			return nil, fmt.Errorf("metadata: topic %q partition %d: every broker of the assignment %v is fenced or shutting down: %w", topic, first+int32(i), replicas, kerr.InvalidReplicaAssignment)
		}
		recs = append(recs, Record{Type: RecordPartition, Partition: &PartitionRecord{
			TopicID:     topicID,
			PartitionID: first + int32(i),
			Replicas:    slices.Clone(replicas),
			ISR:         isr,
			Leader:      isr[0],
		}})
	}
	return recs, nil
}

// checkAssignment validates one manually assigned partition as Kafka does.
func checkAssignment(img *Image, topic string, partition int32, replicas []int32) error {
	if len(replicas) == 0 {
		return fmt.Errorf("metadata: topic %q partition %d: the replica assignment is empty: %w", topic, partition, kerr.InvalidReplicaAssignment)
	}
	for i, r := range replicas {
		if slices.Contains(replicas[:i], r) {
			return fmt.Errorf("metadata: topic %q partition %d: the replica assignment %v lists broker %d twice: %w", topic, partition, replicas, r, kerr.InvalidReplicaAssignment)
		}
		if _, ok := img.Brokers[r]; !ok {
			return fmt.Errorf("metadata: topic %q partition %d: the replica assignment %v names broker %d, which is not registered: %w", topic, partition, replicas, r, kerr.InvalidReplicaAssignment)
		}
	}
	return nil
}

// placeReplicas spreads nPartitions partitions of rf replicas over brokers (sorted ids)
// the way Kafka's rack-unaware AdminUtils.assignReplicasToBrokers does: the first
// replica of partition p goes to broker (p+startIndex) mod n, and the followers are at a
// shift from it that grows by one every n partitions, so that replicas of consecutive
// partitions do not always pair the same brokers. startPartition is the id of the first
// partition placed (non-zero when adding partitions), rf <= len(brokers).
func placeReplicas(brokers []int32, nPartitions, rf, startIndex, nextReplicaShift, startPartition int) [][]int32 {
	n := len(brokers)
	out := make([][]int32, 0, nPartitions)
	p := startPartition
	for range nPartitions {
		if p > 0 && p%n == 0 {
			nextReplicaShift++
		}
		first := (p + startIndex) % n
		replicas := make([]int32, 0, rf)
		replicas = append(replicas, brokers[first])
		for j := range rf - 1 {
			shift := 1 + (nextReplicaShift+j)%(n-1)
			replicas = append(replicas, brokers[(first+shift)%n])
		}
		out = append(out, replicas)
		p++
	}
	return out
}

// validateConfigs runs ValidateTopicConfig on a topic's complete overrides. Its error is
// answered as INVALID_CONFIG unless it already carries a Kafka error code.
func (c *Controller) validateConfigs(topic string, configs map[string]string) error {
	if c.cfg.ValidateTopicConfig == nil {
		return nil
	}
	err := c.cfg.ValidateTopicConfig(configs)
	if err == nil {
		return nil
	}
	var ke *kerr.Error
	if errors.As(err, &ke) {
		return fmt.Errorf("metadata: topic %q: %w", topic, err)
	}
	return fmt.Errorf("metadata: topic %q: %v: %w", topic, err, kerr.InvalidConfig)
}

// DeleteTopic deletes a topic by name (or by id when name is empty):
// UnknownTopicOrPartition / UnknownTopicID when missing. It returns the deleted topic.
func (c *Controller) DeleteTopic(ctx context.Context, name string, id UUID) (*Topic, error) {
	if err := c.lock(ctx); err != nil {
		return nil, err
	}
	defer c.unlock()
	img := c.q.Image()
	var t *Topic
	if name != "" {
		if t = img.Topic(name); t == nil {
			return nil, fmt.Errorf("metadata: delete topic %q: no such topic: %w", name, kerr.UnknownTopicOrPartition)
		}
	} else if t = img.TopicByID(id); t == nil {
		return nil, fmt.Errorf("metadata: delete topic id %s: no such topic: %w", id, kerr.UnknownTopicID)
	}
	if _, err := c.q.Propose(ctx, []Record{{Type: RecordRemoveTopic, RemoveTopic: &RemoveTopicRecord{TopicID: t.ID}}}); err != nil {
		return nil, fmt.Errorf("metadata: delete topic %q: %w", t.Name, err)
	}
	return t, nil
}

// CreatePartitions grows a topic to total partitions (InvalidPartitions if not larger).
// assignments, if not nil, places the new partitions (one entry per new partition, each
// with as many replicas as the existing partitions); otherwise they are placed as Kafka
// does, continuing the topic's placement.
func (c *Controller) CreatePartitions(ctx context.Context, topic string, total int32, assignments [][]int32, validateOnly bool) error {
	if err := c.lock(ctx); err != nil {
		return err
	}
	defer c.unlock()
	img := c.q.Image()
	t := img.Topic(topic)
	if t == nil {
		return fmt.Errorf("metadata: create partitions of %q: no such topic: %w", topic, kerr.UnknownTopicOrPartition)
	}
	cur := int32(len(t.Partitions))
	switch {
	case total < cur:
		return fmt.Errorf("metadata: create partitions of %q: topic currently has %d partitions, which is higher than the requested %d: %w", topic, cur, total, kerr.InvalidPartitions)
	case total == cur:
		return fmt.Errorf("metadata: create partitions of %q: topic already has %d partitions: %w", topic, cur, kerr.InvalidPartitions)
	case total-cur > MaxPartitionsPerRequest:
		return fmt.Errorf("metadata: create partitions of %q: adding %d partitions exceeds the limit of %d per request: %w", topic, total-cur, MaxPartitionsPerRequest, kerr.InvalidPartitions)
	}
	add := int(total - cur)
	rf := int(c.cfg.DefaultReplicationFactor)
	if cur > 0 {
		rf = len(t.Partitions[0].Replicas)
	}
	brokers := img.UsableBrokerIDs()
	var placement [][]int32
	if assignments != nil {
		if len(assignments) != add {
			return fmt.Errorf("metadata: create partitions of %q: adding %d partitions but %d assignments were given: %w", topic, add, len(assignments), kerr.InvalidReplicaAssignment)
		}
		for i, replicas := range assignments {
			p := cur + int32(i)
			if len(replicas) != rf {
				return fmt.Errorf("metadata: create partitions of %q: partition %d has %d replicas, but the existing partitions have %d: %w", topic, p, len(replicas), rf, kerr.InvalidReplicaAssignment)
			}
			if err := checkAssignment(img, topic, p, replicas); err != nil {
				return err
			}
		}
		placement = assignments
	} else {
		if rf > len(brokers) {
			return fmt.Errorf("metadata: create partitions of %q: replication factor %d is larger than the %d available broker(s): %w", topic, rf, len(brokers), kerr.InvalidReplicationFactor)
		}
		// Continue from the broker that leads partition 0, as Kafka does, so the new
		// partitions extend the existing round robin instead of restarting it.
		start := -1
		if cur > 0 {
			first := t.Partitions[0].Replicas[0]
			start = slices.IndexFunc(brokers, func(b int32) bool { return b >= first })
		}
		if start < 0 {
			start = c.intn(len(brokers))
		}
		placement = c.place(img, brokers, add, rf, start, start, int(cur))
	}
	recs, err := appendNewPartitions(nil, img, topic, t.ID, cur, placement)
	if err != nil {
		return err
	}
	if _, err := c.commit(ctx, img, recs, validateOnly); err != nil {
		return fmt.Errorf("metadata: create partitions of %q: %w", topic, err)
	}
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

// String names the op as Kafka's AlterConfigOp.OpType does.
func (o ConfigOpType) String() string {
	switch o {
	case OpSet:
		return "SET"
	case OpDelete:
		return "DELETE"
	case OpAppend:
		return "APPEND"
	case OpSubtract:
		return "SUBTRACT"
	}
	return fmt.Sprintf("ConfigOpType(%d)", int8(o))
}

// IncrementalAlterTopicConfigs applies ops to a topic's overrides. APPEND and SUBTRACT
// work on list-typed keys only (ControllerConfig.IsListConfig) and treat the value as a
// comma-separated list. The resulting overrides are validated as a whole.
func (c *Controller) IncrementalAlterTopicConfigs(ctx context.Context, topic string, ops []ConfigOp, validateOnly bool) error {
	if err := c.lock(ctx); err != nil {
		return err
	}
	defer c.unlock()
	img := c.q.Image()
	t := img.Topic(topic)
	if t == nil {
		return fmt.Errorf("metadata: alter configs of topic %q: no such topic: %w", topic, kerr.UnknownTopicOrPartition)
	}
	configs := maps.Clone(t.Configs)
	if configs == nil {
		configs = make(map[string]string)
	}
	seen := make(map[string]bool, len(ops))
	for _, op := range ops {
		if seen[op.Key] {
			return fmt.Errorf("metadata: alter configs of topic %q: key %q appears in more than one operation: %w", topic, op.Key, kerr.InvalidRequest)
		}
		seen[op.Key] = true
		if op.Key == "" {
			return fmt.Errorf("metadata: alter configs of topic %q: empty config key: %w", topic, kerr.InvalidConfig)
		}
		switch op.Op {
		case OpSet:
			if op.Value == nil {
				return fmt.Errorf("metadata: alter configs of topic %q: SET of %q without a value: %w", topic, op.Key, kerr.InvalidRequest)
			}
			configs[op.Key] = *op.Value
		case OpDelete:
			delete(configs, op.Key)
		case OpAppend, OpSubtract:
			if c.cfg.IsListConfig == nil || !c.cfg.IsListConfig(op.Key) {
				return fmt.Errorf("metadata: alter configs of topic %q: cannot %s to key %q because its type is not LIST: %w", topic, op.Op, op.Key, kerr.InvalidConfig)
			}
			list := c.currentList(configs, op.Key)
			var elems []string
			if op.Value != nil {
				elems = splitList(*op.Value)
			}
			if op.Op == OpAppend {
				for _, e := range elems {
					if !slices.Contains(list, e) {
						list = append(list, e)
					}
				}
			} else {
				list = slices.DeleteFunc(list, func(e string) bool { return slices.Contains(elems, e) })
			}
			configs[op.Key] = strings.Join(list, ",")
		default:
			return fmt.Errorf("metadata: alter configs of topic %q: unknown operation %d on %q: %w", topic, op.Op, op.Key, kerr.InvalidRequest)
		}
	}
	return c.replaceConfigsLocked(ctx, img, t, configs, validateOnly)
}

// currentList is the list APPEND and SUBTRACT start from: the override if there is one,
// else the broker default.
func (c *Controller) currentList(configs map[string]string, key string) []string {
	if v, ok := configs[key]; ok {
		return splitList(v)
	}
	if c.cfg.DefaultTopicConfig != nil {
		if v, ok := c.cfg.DefaultTopicConfig(key); ok {
			return splitList(v)
		}
	}
	return nil
}

// splitList splits a comma-separated list value; the empty string is the empty list.
func splitList(v string) []string {
	if v == "" {
		return nil
	}
	return strings.Split(v, ",")
}

// ReplaceTopicConfigs sets a topic's overrides to exactly configs (legacy AlterConfigs).
func (c *Controller) ReplaceTopicConfigs(ctx context.Context, topic string, configs map[string]string, validateOnly bool) error {
	if err := c.lock(ctx); err != nil {
		return err
	}
	defer c.unlock()
	img := c.q.Image()
	t := img.Topic(topic)
	if t == nil {
		return fmt.Errorf("metadata: alter configs of topic %q: no such topic: %w", topic, kerr.UnknownTopicOrPartition)
	}
	for k := range configs {
		if k == "" {
			return fmt.Errorf("metadata: alter configs of topic %q: empty config key: %w", topic, kerr.InvalidConfig)
		}
	}
	return c.replaceConfigsLocked(ctx, img, t, configs, validateOnly)
}

// replaceConfigsLocked validates configs as t's complete overrides and proposes the
// records that turn t's overrides into configs. The caller holds sem.
func (c *Controller) replaceConfigsLocked(ctx context.Context, img *Image, t *Topic, configs map[string]string, validateOnly bool) error {
	if err := c.validateConfigs(t.Name, configs); err != nil {
		return err
	}
	var recs []Record
	for _, k := range slices.Sorted(maps.Keys(t.Configs)) {
		if _, ok := configs[k]; !ok {
			recs = append(recs, Record{Type: RecordConfig, Config: &ConfigRecord{ResourceType: ConfigResourceTopic, ResourceName: t.Name, Key: k}})
		}
	}
	for _, k := range slices.Sorted(maps.Keys(configs)) {
		if old, ok := t.Configs[k]; ok && old == configs[k] {
			continue
		}
		v := configs[k]
		recs = append(recs, Record{Type: RecordConfig, Config: &ConfigRecord{ResourceType: ConfigResourceTopic, ResourceName: t.Name, Key: k, Value: &v}})
	}
	if len(recs) == 0 {
		return nil
	}
	if _, err := c.commit(ctx, img, recs, validateOnly); err != nil {
		return fmt.Errorf("metadata: alter configs of topic %q: %w", t.Name, err)
	}
	return nil
}

// AllocateProducerIDs reserves count producer ids and returns the first. The block is
// durable before it is returned, so no id is handed out twice, across restarts too.
func (c *Controller) AllocateProducerIDs(ctx context.Context, count int64) (int64, error) {
	if count < 1 {
		return 0, fmt.Errorf("metadata: allocate %d producer ids: count must be positive: %w", count, kerr.InvalidRequest)
	}
	if err := c.lock(ctx); err != nil {
		return 0, err
	}
	defer c.unlock()
	first := c.q.Image().NextProducerID
	if first > math.MaxInt64-count {
		return 0, fmt.Errorf("metadata: allocate %d producer ids: ids exhausted at %d: %w", count, first, kerr.UnknownServerError)
	}
	rec := Record{Type: RecordProducerIDs, ProducerIDs: &ProducerIDsRecord{NextProducerID: first + count}}
	if _, err := c.q.Propose(ctx, []Record{rec}); err != nil {
		return 0, fmt.Errorf("metadata: allocate %d producer ids: %w", count, err)
	}
	return first, nil
}

// maxTopicNameLength is Kafka's limit: 255 minus room for a partition suffix in
// directory names.
const maxTopicNameLength = 249

// ValidateTopicName checks a topic name as Kafka does; it returns a wrapped
// kerr.InvalidTopicException naming the problem.
func ValidateTopicName(name string) error {
	switch {
	case name == "":
		return fmt.Errorf("metadata: topic name is illegal, it can't be empty: %w", kerr.InvalidTopicException)
	case name == "." || name == "..":
		return fmt.Errorf("metadata: topic name cannot be \".\" or \"..\": %w", kerr.InvalidTopicException)
	case len(name) > maxTopicNameLength:
		return fmt.Errorf("metadata: topic name %.20q... is %d characters, longer than the max allowed length %d: %w", name, len(name), maxTopicNameLength, kerr.InvalidTopicException)
	}
	for i := 0; i < len(name); i++ {
		b := name[i]
		if 'a' <= b && b <= 'z' || 'A' <= b && b <= 'Z' || '0' <= b && b <= '9' || b == '.' || b == '_' || b == '-' {
			continue
		}
		return fmt.Errorf("metadata: topic name %q is illegal, it contains %q; only ASCII alphanumerics, '.', '_' and '-' are allowed: %w", name, b, kerr.InvalidTopicException)
	}
	return nil
}

// place picks replicas for new partitions: rack-aware when any broker has a rack
// (broker.rack), as Kafka does, and otherwise placeReplicas.
func (c *Controller) place(img *Image, brokers []int32, nPartitions, rf, startIndex, nextReplicaShift, startPartition int) [][]int32 {
	racked := false
	for _, id := range brokers {
		if img.Brokers[id].Rack != "" {
			racked = true
		}
	}
	if !racked {
		return placeReplicas(brokers, nPartitions, rf, startIndex, nextReplicaShift, startPartition)
	}
	return placeReplicasRackAware(img, brokers, nPartitions, rf, startIndex, nextReplicaShift, startPartition)
}

// placeReplicasRackAware is Kafka's rack-aware assignReplicasToBrokers: brokers are
// listed alternating between racks, leaders go round robin over that list, and each
// further replica is the next broker (at a shifting distance) on a rack that holds no
// replica of the partition yet, until every rack has one; only then may racks repeat.
// Brokers without a rack count as one rack named "".
func placeReplicasRackAware(img *Image, brokers []int32, nPartitions, rf, startIndex, nextReplicaShift, startPartition int) [][]int32 {
	// Group brokers by rack (racks sorted, brokers sorted within) and interleave them.
	byRack := make(map[string][]int32)
	for _, id := range brokers {
		r := img.Brokers[id].Rack
		byRack[r] = append(byRack[r], id)
	}
	racks := slices.Sorted(maps.Keys(byRack))
	var list []int32
	for i := 0; len(list) < len(brokers); i++ {
		for _, r := range racks {
			if i < len(byRack[r]) {
				list = append(list, byRack[r][i])
			}
		}
	}
	n, numRacks := len(list), len(racks)
	out := make([][]int32, 0, nPartitions)
	p := startPartition
	for range nPartitions {
		if p > 0 && p%n == 0 {
			nextReplicaShift++
		}
		first := (p + startIndex) % n
		replicas := []int32{list[first]}
		usedRacks := map[string]bool{img.Brokers[list[first]].Rack: true}
		for k := 0; len(replicas) < rf; k++ {
			shift := nextReplicaShift * numRacks
			b := list[(first+1+(shift+k)%(n-1))%n]
			rack := img.Brokers[b].Rack
			if slices.Contains(replicas, b) || usedRacks[rack] && len(usedRacks) < numRacks {
				continue
			}
			replicas = append(replicas, b)
			usedRacks[rack] = true
		}
		out = append(out, replicas)
		p++
	}
	return out
}
