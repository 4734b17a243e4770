package config

import (
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/samsa-io/samsa/internal/commitlog"
)

// TopicConfig is one topic's configuration: the broker defaults overlaid with the
// topic's overrides.
type TopicConfig struct {
	Log                         commitlog.Config
	CleanupPolicy               []string      // cleanup.policy: "delete" and/or "compact"
	CompressionType             string        // compression.type
	DeleteRetention             time.Duration // delete.retention.ms
	FileDeleteDelay             time.Duration // file.delete.delay.ms
	MaxCompactionLag            time.Duration // max.compaction.lag.ms
	MinCompactionLag            time.Duration // min.compaction.lag.ms
	MinCleanableDirtyRatio      float64       // min.cleanable.dirty.ratio
	MinInsyncReplicas           int32         // min.insync.replicas
	Preallocate                 bool          // preallocate
	SegmentJitter               time.Duration // segment.jitter.ms
	UncleanLeaderElectionEnable bool          // unclean.leader.election.enable
	MessageDownconversionEnable bool          // message.downconversion.enable
}

// Compact reports whether cleanup.policy includes compact.
func (t *TopicConfig) Compact() bool { return contains(t.CleanupPolicy, "compact") }

// Delete reports whether cleanup.policy includes delete.
func (t *TopicConfig) Delete() bool { return contains(t.CleanupPolicy, "delete") }

// ConfigEntry is one config of a DescribeConfigs result.
type ConfigEntry struct {
	Name, Value         string // Value "" for a key with no value (Kafka's null)
	Source              int8   // Source* constant
	ReadOnly, Sensitive bool
	Type                int8 // Type* constant
	Doc                 string
	Synonyms            []Synonym // highest precedence first
}

// Synonym is a config that could supply an entry's value, with where it is set.
type Synonym struct {
	Name, Value string
	Source      int8
}

// topicKey describes one topic-level config.
type topicKey struct {
	name     string
	typ      int8
	synonyms []string // broker keys supplying the default, in Kafka's precedence order
	doc      string
	// set parses v, checks Kafka's range and stores it; errors name the key.
	set func(t *TopicConfig, v string) error
	// get formats the effective value as Kafka prints it.
	get func(t *TopicConfig) string
}

var compressionTypes = map[string]bool{"uncompressed": true, "zstd": true, "lz4": true, "snappy": true, "gzip": true, "producer": true}

const compressionTypeNames = "uncompressed, zstd, lz4, snappy, gzip, producer"

func validateCleanupPolicy(key string, policy []string) error {
	if len(policy) == 0 {
		return fmt.Errorf("config: %s: must be delete, compact or compact,delete", key)
	}
	for _, p := range policy {
		if p != "delete" && p != "compact" {
			return fmt.Errorf("config: %s: %q is not delete or compact", key, p)
		}
	}
	return nil
}

// Setter helpers: each parses, checks a minimum and stores through a field pointer.

func longSetter(name string, min int64, field func(*TopicConfig) *int64) func(*TopicConfig, string) error {
	return func(t *TopicConfig, v string) error {
		n, err := parseInt(name, v, 64)
		if err != nil {
			return err
		}
		if n < min {
			return fmt.Errorf("config: %s: must be at least %d, got %d", name, min, n)
		}
		*field(t) = n
		return nil
	}
}

func intSetter(name string, min int64, store func(*TopicConfig, int32)) func(*TopicConfig, string) error {
	return func(t *TopicConfig, v string) error {
		n, err := parseInt(name, v, 32)
		if err != nil {
			return err
		}
		if n < min {
			return fmt.Errorf("config: %s: must be at least %d, got %d", name, min, n)
		}
		store(t, int32(n))
		return nil
	}
}

func msSetter(name string, min int64, field func(*TopicConfig) *time.Duration) func(*TopicConfig, string) error {
	return func(t *TopicConfig, v string) error {
		n, err := parseInt(name, v, 64)
		if err != nil {
			return err
		}
		if n < min {
			return fmt.Errorf("config: %s: must be at least %d, got %d", name, min, n)
		}
		*field(t) = msToDuration(n)
		return nil
	}
}

func boolSetter(name string, field func(*TopicConfig) *bool) func(*TopicConfig, string) error {
	return func(t *TopicConfig, v string) error {
		b, err := parseBool(name, v)
		if err != nil {
			return err
		}
		*field(t) = b
		return nil
	}
}

func msGetter(field func(*TopicConfig) *time.Duration) func(*TopicConfig) string {
	return func(t *TopicConfig) string { return strconv.FormatInt(durationToMs(*field(t)), 10) }
}

func boolGetter(field func(*TopicConfig) *bool) func(*TopicConfig) string {
	return func(t *TopicConfig) string { return strconv.FormatBool(*field(t)) }
}

// topicKeyList is Kafka's topic-level configs Samsa knows, in alphabetical order.
var topicKeyList = []topicKey{
	{
		name: "cleanup.policy", typ: TypeList, synonyms: []string{"log.cleanup.policy"},
		doc: "How old segments are cleaned: delete by retention, compact by key, or both.",
		set: func(t *TopicConfig, v string) error {
			p := parseList(v)
			if err := validateCleanupPolicy("cleanup.policy", p); err != nil {
				return err
			}
			t.CleanupPolicy = dedupe(p)
			return nil
		},
		get: func(t *TopicConfig) string { return strings.Join(t.CleanupPolicy, ",") },
	},
	{
		name: "compression.type", typ: TypeString, synonyms: []string{"compression.type"},
		doc: "Codec of stored batches; producer keeps the producer's codec.",
		set: func(t *TopicConfig, v string) error {
			v = strings.ToLower(strings.TrimSpace(v))
			if !compressionTypes[v] {
				return fmt.Errorf("config: compression.type: %q is not one of %s", v, compressionTypeNames)
			}
			t.CompressionType = v
			return nil
		},
		get: func(t *TopicConfig) string { return t.CompressionType },
	},
	{
		name: "delete.retention.ms", typ: TypeLong, synonyms: []string{"log.cleaner.delete.retention.ms"},
		doc: "How long tombstones stay in a compacted topic.",
		set: msSetter("delete.retention.ms", 0, func(t *TopicConfig) *time.Duration { return &t.DeleteRetention }),
		get: msGetter(func(t *TopicConfig) *time.Duration { return &t.DeleteRetention }),
	},
	{
		name: "file.delete.delay.ms", typ: TypeLong, synonyms: []string{"log.segment.delete.delay.ms"},
		doc: "How long a deleted segment's files stay on disk.",
		set: msSetter("file.delete.delay.ms", 0, func(t *TopicConfig) *time.Duration { return &t.FileDeleteDelay }),
		get: msGetter(func(t *TopicConfig) *time.Duration { return &t.FileDeleteDelay }),
	},
	{
		name: "flush.messages", typ: TypeLong, synonyms: []string{"log.flush.interval.messages"},
		doc: "Messages written before an fsync; 1 fsyncs before every acknowledgement.",
		set: longSetter("flush.messages", 1, func(t *TopicConfig) *int64 { return &t.Log.FlushMessages }),
		get: func(t *TopicConfig) string { return strconv.FormatInt(t.Log.FlushMessages, 10) },
	},
	{
		name: "flush.ms", typ: TypeLong, synonyms: []string{"log.flush.interval.ms", "log.flush.scheduler.interval.ms"},
		doc: "Maximum time data stays written but not fsynced.",
		set: msSetter("flush.ms", 0, func(t *TopicConfig) *time.Duration { return &t.Log.FlushInterval }),
		get: msGetter(func(t *TopicConfig) *time.Duration { return &t.Log.FlushInterval }),
	},
	{
		name: "index.interval.bytes", typ: TypeInt, synonyms: []string{"log.index.interval.bytes"},
		doc: "Bytes of log between two offset index entries.",
		set: intSetter("index.interval.bytes", 0, func(t *TopicConfig, n int32) { t.Log.IndexIntervalBytes = int(n) }),
		get: func(t *TopicConfig) string { return strconv.Itoa(t.Log.IndexIntervalBytes) },
	},
	{
		name: "max.compaction.lag.ms", typ: TypeLong, synonyms: []string{"log.cleaner.max.compaction.lag.ms"},
		doc: "Maximum time a record may stay uncompacted.",
		set: msSetter("max.compaction.lag.ms", 1, func(t *TopicConfig) *time.Duration { return &t.MaxCompactionLag }),
		get: msGetter(func(t *TopicConfig) *time.Duration { return &t.MaxCompactionLag }),
	},
	{
		name: "max.message.bytes", typ: TypeInt, synonyms: []string{"message.max.bytes"},
		doc: "Largest record batch size allowed.",
		set: intSetter("max.message.bytes", 0, func(t *TopicConfig, n int32) { t.Log.MaxMessageBytes = n }),
		get: func(t *TopicConfig) string { return strconv.FormatInt(int64(t.Log.MaxMessageBytes), 10) },
	},
	{
		name: "message.downconversion.enable", typ: TypeBoolean, synonyms: []string{"log.message.downconversion.enable"},
		doc: "Whether old-format fetch requests may be served by down-converting.",
		set: boolSetter("message.downconversion.enable", func(t *TopicConfig) *bool { return &t.MessageDownconversionEnable }),
		get: boolGetter(func(t *TopicConfig) *bool { return &t.MessageDownconversionEnable }),
	},
	{
		name: "message.timestamp.after.max.ms", typ: TypeLong, synonyms: []string{"log.message.timestamp.after.max.ms"},
		doc: "How far in the future a CreateTime timestamp may be.",
		set: tsMaxSetter("message.timestamp.after.max.ms", func(t *TopicConfig) *time.Duration { return &t.Log.TimestampAfterMax }),
		get: func(t *TopicConfig) string { return strconv.FormatInt(timestampMaxMs(t.Log.TimestampAfterMax), 10) },
	},
	{
		name: "message.timestamp.before.max.ms", typ: TypeLong, synonyms: []string{"log.message.timestamp.before.max.ms"},
		doc: "How far in the past a CreateTime timestamp may be.",
		set: tsMaxSetter("message.timestamp.before.max.ms", func(t *TopicConfig) *time.Duration { return &t.Log.TimestampBeforeMax }),
		get: func(t *TopicConfig) string { return strconv.FormatInt(timestampMaxMs(t.Log.TimestampBeforeMax), 10) },
	},
	{
		name: "message.timestamp.type", typ: TypeString, synonyms: []string{"log.message.timestamp.type"},
		doc: "Whether record timestamps are the producer's (CreateTime) or the broker's (LogAppendTime).",
		set: func(t *TopicConfig, v string) error {
			tt, err := parseTimestampType("message.timestamp.type", v)
			if err != nil {
				return err
			}
			t.Log.TimestampType = tt
			return nil
		},
		get: func(t *TopicConfig) string { return timestampTypeName(t.Log.TimestampType) },
	},
	{
		name: "min.cleanable.dirty.ratio", typ: TypeDouble, synonyms: []string{"log.cleaner.min.cleanable.ratio"},
		doc: "Minimum ratio of dirty log to total log before the log is compacted.",
		set: func(t *TopicConfig, v string) error {
			f, err := parseDouble("min.cleanable.dirty.ratio", v)
			if err != nil {
				return err
			}
			if f < 0 || f > 1 {
				return fmt.Errorf("config: min.cleanable.dirty.ratio: must be between 0 and 1, got %v", f)
			}
			t.MinCleanableDirtyRatio = f
			return nil
		},
		get: func(t *TopicConfig) string { return formatDouble(t.MinCleanableDirtyRatio) },
	},
	{
		name: "min.compaction.lag.ms", typ: TypeLong, synonyms: []string{"log.cleaner.min.compaction.lag.ms"},
		doc: "Minimum time a record stays uncompacted.",
		set: msSetter("min.compaction.lag.ms", 0, func(t *TopicConfig) *time.Duration { return &t.MinCompactionLag }),
		get: msGetter(func(t *TopicConfig) *time.Duration { return &t.MinCompactionLag }),
	},
	{
		name: "min.insync.replicas", typ: TypeInt, synonyms: []string{"min.insync.replicas"},
		doc: "Minimum in-sync replicas for an acks=all produce to succeed.",
		set: intSetter("min.insync.replicas", 1, func(t *TopicConfig, n int32) { t.MinInsyncReplicas = n }),
		get: func(t *TopicConfig) string { return strconv.FormatInt(int64(t.MinInsyncReplicas), 10) },
	},
	{
		name: "preallocate", typ: TypeBoolean, synonyms: []string{"log.preallocate"},
		doc: "Preallocate segment files.",
		set: boolSetter("preallocate", func(t *TopicConfig) *bool { return &t.Preallocate }),
		get: boolGetter(func(t *TopicConfig) *bool { return &t.Preallocate }),
	},
	{
		name: "retention.bytes", typ: TypeLong, synonyms: []string{"log.retention.bytes"},
		doc: "Maximum size of a partition's log before old segments are deleted; -1 is unlimited.",
		set: longSetter("retention.bytes", math.MinInt64, func(t *TopicConfig) *int64 { return &t.Log.RetentionBytes }),
		get: func(t *TopicConfig) string { return strconv.FormatInt(t.Log.RetentionBytes, 10) },
	},
	{
		name: "retention.ms", typ: TypeLong, synonyms: []string{"log.retention.ms", "log.retention.minutes", "log.retention.hours"},
		doc: "How long a segment is kept before deletion; -1 keeps forever.",
		set: msSetter("retention.ms", -1, func(t *TopicConfig) *time.Duration { return &t.Log.RetentionTime }),
		get: msGetter(func(t *TopicConfig) *time.Duration { return &t.Log.RetentionTime }),
	},
	{
		name: "segment.bytes", typ: TypeInt, synonyms: []string{"log.segment.bytes"},
		doc: "Maximum size of a single segment file.",
		set: intSetter("segment.bytes", minSegmentBytes, func(t *TopicConfig, n int32) { t.Log.SegmentBytes = int64(n) }),
		get: func(t *TopicConfig) string { return strconv.FormatInt(t.Log.SegmentBytes, 10) },
	},
	{
		name: "segment.index.bytes", typ: TypeInt, synonyms: []string{"log.index.size.max.bytes"},
		doc: "Maximum size of an offset index file.",
		set: intSetter("segment.index.bytes", 4, func(t *TopicConfig, n int32) { t.Log.SegmentIndexBytes = int(n) }),
		get: func(t *TopicConfig) string { return strconv.Itoa(t.Log.SegmentIndexBytes) },
	},
	{
		name: "segment.jitter.ms", typ: TypeLong, synonyms: []string{"log.roll.jitter.ms", "log.roll.jitter.hours"},
		doc: "Maximum random jitter subtracted from segment.ms.",
		set: msSetter("segment.jitter.ms", 0, func(t *TopicConfig) *time.Duration { return &t.SegmentJitter }),
		get: msGetter(func(t *TopicConfig) *time.Duration { return &t.SegmentJitter }),
	},
	{
		name: "segment.ms", typ: TypeLong, synonyms: []string{"log.roll.ms", "log.roll.hours"},
		doc: "Time after which a new segment is rolled even if the current one is not full.",
		set: msSetter("segment.ms", 1, func(t *TopicConfig) *time.Duration { return &t.Log.SegmentAge }),
		get: msGetter(func(t *TopicConfig) *time.Duration { return &t.Log.SegmentAge }),
	},
	{
		name: "unclean.leader.election.enable", typ: TypeBoolean, synonyms: []string{"unclean.leader.election.enable"},
		doc: "Allow an out-of-sync replica to become leader, at the cost of data loss.",
		set: boolSetter("unclean.leader.election.enable", func(t *TopicConfig) *bool { return &t.UncleanLeaderElectionEnable }),
		get: boolGetter(func(t *TopicConfig) *bool { return &t.UncleanLeaderElectionEnable }),
	},
}

func tsMaxSetter(name string, field func(*TopicConfig) *time.Duration) func(*TopicConfig, string) error {
	return func(t *TopicConfig, v string) error {
		n, err := parseInt(name, v, 64)
		if err != nil {
			return err
		}
		if n < 0 {
			return fmt.Errorf("config: %s: must be at least 0, got %d", name, n)
		}
		*field(t) = timestampMax(n)
		return nil
	}
}

var topicKeys = func() map[string]*topicKey {
	m := make(map[string]*topicKey, len(topicKeyList))
	for i := range topicKeyList {
		m[topicKeyList[i].name] = &topicKeyList[i]
	}
	return m
}()

func dedupe(s []string) []string {
	var out []string
	for _, x := range s {
		if !contains(out, x) {
			out = append(out, x)
		}
	}
	return out
}

// formatDouble prints a DOUBLE as Java's Double.toString does for ordinary values
// (always with a fractional part: 0.5, 1.0).
func formatDouble(f float64) string {
	s := strconv.FormatFloat(f, 'f', -1, 64)
	if !strings.ContainsAny(s, ".eE") {
		s += ".0"
	}
	return s
}

// IsTopicKey reports whether key is a topic-level config Samsa knows.
func IsTopicKey(key string) bool {
	_, ok := topicKeys[key]
	return ok
}

// TopicConfigKeys returns the names of every topic-level config, sorted.
func TopicConfigKeys() []string {
	names := make([]string, len(topicKeyList))
	for i, k := range topicKeyList {
		names[i] = k.name
	}
	return names
}

// IsListConfig reports whether key (topic or broker) has type LIST, the only type
// IncrementalAlterConfigs' APPEND and SUBTRACT apply to.
func IsListConfig(key string) bool {
	if k, ok := topicKeys[key]; ok {
		return k.typ == TypeList
	}
	if k, ok := brokerKeys[key]; ok {
		return k.typ == TypeList
	}
	return false
}

// ValidateTopicConfig checks topic overrides (CreateTopics, AlterConfigs): an unknown
// key or a bad value is an error naming the key that wraps kerr.InvalidConfig.
func ValidateTopicConfig(configs map[string]string) error {
	var t TopicConfig
	t.MaxCompactionLag = math.MaxInt64
	if err := applyTopicOverrides(&t, configs); err != nil {
		return err
	}
	return nil
}

// applyTopicOverrides overlays configs on t in sorted key order (so the error reported
// is deterministic) and checks the one cross-key rule Kafka has.
func applyTopicOverrides(t *TopicConfig, configs map[string]string) error {
	keys := make([]string, 0, len(configs))
	for k := range configs {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		tk, ok := topicKeys[k]
		if !ok {
			return fmt.Errorf("config: %s: unknown topic config: %w", k, kerr.InvalidConfig)
		}
		if err := tk.set(t, configs[k]); err != nil {
			return fmt.Errorf("%w: %w", err, kerr.InvalidConfig)
		}
	}
	_, hasMin := configs["min.compaction.lag.ms"]
	_, hasMax := configs["max.compaction.lag.ms"]
	if (hasMin || hasMax) && t.MinCompactionLag > t.MaxCompactionLag {
		return fmt.Errorf("config: min.compaction.lag.ms: must not exceed max.compaction.lag.ms: %w", kerr.InvalidConfig)
	}
	return nil
}

// topicDefaults is the broker's defaults for every topic.
func (c *Config) topicDefaults() TopicConfig {
	return TopicConfig{
		Log:                         c.Log,
		CleanupPolicy:               append([]string(nil), c.LogCleanupPolicy...),
		CompressionType:             c.CompressionType,
		DeleteRetention:             c.LogCleanerDeleteRetention,
		FileDeleteDelay:             c.LogSegmentDeleteDelay,
		MaxCompactionLag:            c.LogCleanerMaxCompactionLag,
		MinCompactionLag:            c.LogCleanerMinCompactionLag,
		MinCleanableDirtyRatio:      c.LogCleanerMinCleanableRatio,
		MinInsyncReplicas:           c.MinInsyncReplicas,
		Preallocate:                 c.LogPreallocate,
		SegmentJitter:               c.LogRollJitter,
		UncleanLeaderElectionEnable: c.UncleanLeaderElectionEnable,
		MessageDownconversionEnable: c.LogMessageDownconversionEnable,
	}
}

// TopicConfig resolves a topic's configuration: broker defaults overlaid with
// topicOverrides. Errors name the key and wrap kerr.InvalidConfig.
func (c *Config) TopicConfig(topicOverrides map[string]string) (TopicConfig, error) {
	t := c.topicDefaults()
	if err := applyTopicOverrides(&t, topicOverrides); err != nil {
		return TopicConfig{}, err
	}
	return t, nil
}

// LogConfig resolves the log settings of a topic: broker defaults overlaid with
// topicOverrides, including the compaction settings (cleanup.policy,
// delete.retention.ms, min/max.compaction.lag.ms, min.cleanable.dirty.ratio and their
// log.cleaner.* broker synonyms). Errors name the key and wrap kerr.InvalidConfig.
func (c *Config) LogConfig(topicOverrides map[string]string) (commitlog.Config, error) {
	t, err := c.TopicConfig(topicOverrides)
	if err != nil {
		return commitlog.Config{}, err
	}
	l := t.Log
	l.Compact = t.Compact()
	l.Delete = t.Delete()
	l.DeleteRetention = t.DeleteRetention
	l.MinCompactionLag = t.MinCompactionLag
	l.MaxCompactionLag = t.MaxCompactionLag
	l.MinCleanableDirtyRatio = t.MinCleanableDirtyRatio
	l.MinInsyncReplicas = t.MinInsyncReplicas
	return l, nil
}

// DescribeTopicConfigs lists every topic config for DescribeConfigs with its effective
// value, sorted by name. Synonyms follow Kafka's order: the topic override
// (TOPIC_CONFIG), then each broker synonym set in the file, environment or flags
// (STATIC_BROKER_CONFIG), then each broker synonym's default (DEFAULT_CONFIG). The
// entry's source is its first synonym's. Unlike Kafka, a default supplied by a
// lower-precedence broker synonym (log.retention.hours for retention.ms) is listed rather
// than dropped. Overrides that do not apply are shown as given but do not change other
// values.
func (c *Config) DescribeTopicConfigs(overrides map[string]string) []ConfigEntry {
	eff := c.topicDefaults()
	entries := make([]ConfigEntry, 0, len(topicKeyList))
	for i := range topicKeyList {
		tk := &topicKeyList[i]
		var syn []Synonym
		value := ""
		if v, ok := overrides[tk.name]; ok {
			value = strings.TrimSpace(v)
			probe := eff
			if tk.set(&probe, v) == nil {
				value = tk.get(&probe)
			}
			syn = append(syn, Synonym{Name: tk.name, Value: value, Source: SourceTopicConfig})
		} else {
			value = tk.get(&eff)
		}
		syn = append(syn, c.brokerSynonyms(tk.synonyms)...)
		entries = append(entries, ConfigEntry{
			Name:     tk.name,
			Value:    value,
			Source:   sourceOf(syn),
			Type:     tk.typ,
			Doc:      tk.doc,
			Synonyms: syn,
		})
	}
	return entries
}

// brokerSynonyms lists keys as Kafka's configSynonyms does: every key set statically,
// then every key with a default, each group in the given order.
func (c *Config) brokerSynonyms(keys []string) []Synonym {
	var syn []Synonym
	for _, k := range keys {
		if v, ok := c.Raw[k]; ok {
			syn = append(syn, Synonym{Name: k, Value: strings.TrimSpace(v), Source: SourceStaticBrokerConfig})
		}
	}
	for _, k := range keys {
		if bk := brokerKeys[k]; bk != nil && !bk.null {
			syn = append(syn, Synonym{Name: k, Value: bk.def, Source: SourceDefaultConfig})
		}
	}
	return syn
}

func sourceOf(syn []Synonym) int8 {
	if len(syn) == 0 {
		return SourceDefaultConfig
	}
	return syn[0].Source
}

// brokerSynonymGroup is Kafka's DynamicBrokerConfig.brokerConfigSynonyms: the keys that
// can supply a broker key's value, highest precedence first.
func brokerSynonymGroup(key string) []string {
	switch key {
	case "log.roll.ms", "log.roll.hours":
		return []string{"log.roll.ms", "log.roll.hours"}
	case "log.roll.jitter.ms", "log.roll.jitter.hours":
		return []string{"log.roll.jitter.ms", "log.roll.jitter.hours"}
	case "log.retention.ms", "log.retention.minutes", "log.retention.hours":
		return []string{"log.retention.ms", "log.retention.minutes", "log.retention.hours"}
	case "log.flush.interval.ms":
		return []string{"log.flush.interval.ms", "log.flush.scheduler.interval.ms"}
	}
	return []string{key}
}

// DescribeBrokerConfigs lists every broker config for DescribeConfigs on this node,
// sorted by name. Values are as given in the file, environment or flags, else the
// default ("" for keys without one); node.id and broker.id both show the node's ID.
// Samsa has no dynamic broker configs, so every entry is read-only.
func (c *Config) DescribeBrokerConfigs() []ConfigEntry {
	entries := make([]ConfigEntry, 0, len(sortedBrokerKeys))
	for _, name := range sortedBrokerKeys {
		bk := brokerKeys[name]
		value := bk.def
		if v, ok := c.Raw[name]; ok {
			value = strings.TrimSpace(v)
		} else if bk.null {
			value = ""
		}
		if name == "node.id" || name == "broker.id" {
			value = strconv.FormatInt(int64(c.NodeID), 10)
		}
		syn := c.brokerSynonyms(brokerSynonymGroup(name))
		// As Kafka: drop higher-precedence synonyms listed before the key itself.
		for len(syn) > 0 && syn[0].Name != name {
			syn = syn[1:]
		}
		if len(syn) == 0 {
			syn = nil
		}
		entries = append(entries, ConfigEntry{
			Name:     name,
			Value:    value,
			Source:   sourceOf(syn),
			ReadOnly: true,
			Type:     bk.typ,
			Doc:      bk.doc,
			Synonyms: syn,
		})
	}
	return entries
}
