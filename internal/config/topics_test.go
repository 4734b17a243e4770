package config

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/samsa-io/samsa/internal/commitlog"
)

func TestTopicRegistry(t *testing.T) {
	want := []string{
		"cleanup.policy", "compression.type", "delete.retention.ms", "file.delete.delay.ms", "flush.messages",
		"flush.ms", "index.interval.bytes", "max.compaction.lag.ms", "max.message.bytes",
		"message.downconversion.enable", "message.timestamp.after.max.ms", "message.timestamp.before.max.ms",
		"message.timestamp.type", "min.cleanable.dirty.ratio", "min.compaction.lag.ms", "min.insync.replicas",
		"preallocate", "retention.bytes", "retention.ms", "segment.bytes", "segment.index.bytes",
		"segment.jitter.ms", "segment.ms", "unclean.leader.election.enable",
	}
	if got := TopicConfigKeys(); !reflect.DeepEqual(got, want) {
		t.Fatalf("TopicConfigKeys() = %v", got)
	}
	for _, k := range topicKeyList {
		for _, s := range k.synonyms {
			if !IsBrokerKey(s) {
				t.Errorf("%s: synonym %s is not a broker key", k.name, s)
			}
		}
		if k.doc == "" || k.typ == 0 {
			t.Errorf("%s: missing doc or type", k.name)
		}
	}
	types := map[string]int8{
		"cleanup.policy": TypeList, "compression.type": TypeString, "retention.ms": TypeLong,
		"segment.bytes": TypeInt, "min.cleanable.dirty.ratio": TypeDouble, "preallocate": TypeBoolean,
	}
	for k, typ := range types {
		if topicKeys[k].typ != typ {
			t.Errorf("%s type = %d, want %d", k, topicKeys[k].typ, typ)
		}
	}
}

func TestIsListConfig(t *testing.T) {
	for key, want := range map[string]bool{
		"cleanup.policy": true, "log.cleanup.policy": true, "process.roles": true,
		"compression.type": false, "retention.ms": false, "no.such.key": false,
	} {
		if got := IsListConfig(key); got != want {
			t.Errorf("IsListConfig(%q) = %v, want %v", key, got, want)
		}
	}
}

func TestValidateTopicConfig(t *testing.T) {
	tests := []struct {
		name    string
		configs map[string]string
		want    string // "" means valid
	}{
		{"empty", nil, ""},
		{"all valid", map[string]string{
			"cleanup.policy": "compact,delete", "compression.type": "zstd", "delete.retention.ms": "0",
			"file.delete.delay.ms": "0", "flush.messages": "1", "flush.ms": "0", "index.interval.bytes": "0",
			"max.compaction.lag.ms": "1", "max.message.bytes": "0", "message.timestamp.type": "LogAppendTime",
			"message.timestamp.before.max.ms": "0", "message.timestamp.after.max.ms": "0",
			"min.cleanable.dirty.ratio": "1", "min.compaction.lag.ms": "0", "min.insync.replicas": "1",
			"preallocate": "true", "retention.bytes": "-1", "retention.ms": "-1", "segment.bytes": "14",
			"segment.index.bytes": "4", "segment.jitter.ms": "0", "segment.ms": "1",
			"unclean.leader.election.enable": "false", "message.downconversion.enable": "false",
		}, ""},
		{"unknown key", map[string]string{"retention.hours": "1"}, "config: retention.hours: unknown topic config"},
		{"cleanup policy", map[string]string{"cleanup.policy": "delete,compress"}, "config: cleanup.policy:"},
		{"cleanup policy empty", map[string]string{"cleanup.policy": ""}, "config: cleanup.policy:"},
		{"compression", map[string]string{"compression.type": "none"}, "config: compression.type:"},
		{"delete retention", map[string]string{"delete.retention.ms": "-1"}, "config: delete.retention.ms:"},
		{"file delete delay", map[string]string{"file.delete.delay.ms": "x"}, "config: file.delete.delay.ms:"},
		{"flush messages", map[string]string{"flush.messages": "0"}, "config: flush.messages:"},
		{"flush ms", map[string]string{"flush.ms": "-1"}, "config: flush.ms:"},
		{"index interval", map[string]string{"index.interval.bytes": "-1"}, "config: index.interval.bytes:"},
		{"max compaction lag", map[string]string{"max.compaction.lag.ms": "0"}, "config: max.compaction.lag.ms:"},
		{"max message bytes", map[string]string{"max.message.bytes": "-1"}, "config: max.message.bytes:"},
		{"max message bytes range", map[string]string{"max.message.bytes": "4294967296"}, "config: max.message.bytes:"},
		{"timestamp type", map[string]string{"message.timestamp.type": "Now"}, "config: message.timestamp.type:"},
		{"timestamp before", map[string]string{"message.timestamp.before.max.ms": "-1"}, "config: message.timestamp.before.max.ms:"},
		{"timestamp after", map[string]string{"message.timestamp.after.max.ms": "-1"}, "config: message.timestamp.after.max.ms:"},
		{"dirty ratio", map[string]string{"min.cleanable.dirty.ratio": "1.01"}, "config: min.cleanable.dirty.ratio:"},
		{"dirty ratio not a number", map[string]string{"min.cleanable.dirty.ratio": "half"}, "config: min.cleanable.dirty.ratio:"},
		{"min compaction lag", map[string]string{"min.compaction.lag.ms": "-1"}, "config: min.compaction.lag.ms:"},
		{"compaction lag conflict", map[string]string{"min.compaction.lag.ms": "10", "max.compaction.lag.ms": "5"}, "config: min.compaction.lag.ms: must not exceed"},
		{"min isr", map[string]string{"min.insync.replicas": "0"}, "config: min.insync.replicas:"},
		{"preallocate", map[string]string{"preallocate": "1"}, "config: preallocate:"},
		{"retention bytes", map[string]string{"retention.bytes": "1GB"}, "config: retention.bytes:"},
		{"retention ms", map[string]string{"retention.ms": "-2"}, "config: retention.ms:"},
		{"segment bytes", map[string]string{"segment.bytes": "13"}, "config: segment.bytes:"},
		{"segment bytes not int", map[string]string{"segment.bytes": "abc"}, `config: segment.bytes: "abc" is not an integer`},
		{"segment index bytes", map[string]string{"segment.index.bytes": "3"}, "config: segment.index.bytes:"},
		{"segment jitter", map[string]string{"segment.jitter.ms": "-1"}, "config: segment.jitter.ms:"},
		{"segment ms", map[string]string{"segment.ms": "0"}, "config: segment.ms:"},
		{"unclean", map[string]string{"unclean.leader.election.enable": "maybe"}, "config: unclean.leader.election.enable:"},
		{"downconversion", map[string]string{"message.downconversion.enable": "no"}, "config: message.downconversion.enable:"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := ValidateTopicConfig(tt.configs)
			if tt.want == "" {
				if err != nil {
					t.Fatalf("ValidateTopicConfig: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("ValidateTopicConfig = %v, want an error containing %q", err, tt.want)
			}
			var ke *kerr.Error
			if !errors.As(err, &ke) || ke != kerr.InvalidConfig {
				t.Errorf("error %v does not wrap kerr.InvalidConfig", err)
			}
		})
	}
}

func TestLogConfig(t *testing.T) {
	c, _, err := Load("", nil, map[string]string{
		"log.retention.hours":         "1",
		"log.segment.bytes":           "1000",
		"message.max.bytes":           "5000",
		"log.flush.interval.messages": "1",
		"log.message.timestamp.type":  "LogAppendTime",
	})
	if err != nil {
		t.Fatal(err)
	}
	base := commitlog.DefaultConfig()
	base.RetentionTime = time.Hour
	base.SegmentBytes = 1000
	base.MaxMessageBytes = 5000
	base.FlushMessages = 1
	base.TimestampType = commitlog.LogAppendTime

	tests := []struct {
		name      string
		overrides map[string]string
		modify    func(*commitlog.Config)
	}{
		{"broker defaults", nil, func(*commitlog.Config) {}},
		{"retention", map[string]string{"retention.ms": "60000"}, func(l *commitlog.Config) { l.RetentionTime = time.Minute }},
		{"retention forever", map[string]string{"retention.ms": "-1"}, func(l *commitlog.Config) { l.RetentionTime = -time.Millisecond }},
		{"retention long max", map[string]string{"retention.ms": longMax}, func(l *commitlog.Config) { l.RetentionTime = 1<<63 - 1 }},
		{"segment", map[string]string{"segment.bytes": "2048", "segment.ms": "10", "segment.index.bytes": "100", "index.interval.bytes": "1"},
			func(l *commitlog.Config) {
				l.SegmentBytes, l.SegmentAge, l.SegmentIndexBytes, l.IndexIntervalBytes = 2048, 10*time.Millisecond, 100, 1
			}},
		{"max message and retention bytes", map[string]string{"max.message.bytes": "77", "retention.bytes": "1000"},
			func(l *commitlog.Config) { l.MaxMessageBytes, l.RetentionBytes = 77, 1000 }},
		{"timestamps", map[string]string{"message.timestamp.type": "CreateTime", "message.timestamp.before.max.ms": "1000", "message.timestamp.after.max.ms": longMax},
			func(l *commitlog.Config) {
				l.TimestampType, l.TimestampBeforeMax, l.TimestampAfterMax = commitlog.CreateTime, time.Second, -1
			}},
		{"flush", map[string]string{"flush.messages": "100", "flush.ms": "1000"},
			func(l *commitlog.Config) { l.FlushMessages, l.FlushInterval = 100, time.Second }},
		{"compact", map[string]string{"cleanup.policy": "compact"},
			func(l *commitlog.Config) { l.Compact, l.Delete = true, false }},
		{"compact and delete", map[string]string{"cleanup.policy": "compact,delete"},
			func(l *commitlog.Config) { l.Compact, l.Delete = true, true }},
		{"compaction settings", map[string]string{
			"cleanup.policy": "compact", "delete.retention.ms": "1000", "min.compaction.lag.ms": "2000",
			"max.compaction.lag.ms": "3000", "min.cleanable.dirty.ratio": "0.25",
		}, func(l *commitlog.Config) {
			l.Compact, l.Delete = true, false
			l.DeleteRetention, l.MinCompactionLag, l.MaxCompactionLag = time.Second, 2*time.Second, 3*time.Second
			l.MinCleanableDirtyRatio = 0.25
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			want := base
			tt.modify(&want)
			got, err := c.LogConfig(tt.overrides)
			if err != nil {
				t.Fatalf("LogConfig: %v", err)
			}
			if got != want {
				t.Errorf("LogConfig(%v) =\n%+v\nwant\n%+v", tt.overrides, got, want)
			}
		})
	}
	// The broker's log.cleaner.* and log.cleanup.policy keys supply the defaults.
	bc, _, err := Load("", nil, map[string]string{
		"log.cleanup.policy": "compact", "log.cleaner.delete.retention.ms": "5000",
		"log.cleaner.min.compaction.lag.ms": "6000", "log.cleaner.max.compaction.lag.ms": "7000",
		"log.cleaner.min.cleanable.ratio": "0.75",
	})
	if err != nil {
		t.Fatal(err)
	}
	lc, err := bc.LogConfig(nil)
	if err != nil {
		t.Fatal(err)
	}
	if !lc.Compact || lc.Delete || lc.DeleteRetention != 5*time.Second || lc.MinCompactionLag != 6*time.Second ||
		lc.MaxCompactionLag != 7*time.Second || lc.MinCleanableDirtyRatio != 0.75 {
		t.Errorf("LogConfig from broker keys = %+v", lc)
	}
	if _, err := c.LogConfig(map[string]string{"segment.bytes": "1"}); err == nil || !strings.Contains(err.Error(), "segment.bytes") {
		t.Errorf("LogConfig with a bad override: %v", err)
	}
}

func TestTopicConfigResolution(t *testing.T) {
	c, _, err := Load("", nil, map[string]string{"log.cleanup.policy": "compact", "min.insync.replicas": "2", "log.cleaner.max.compaction.lag.ms": "1000"})
	if err != nil {
		t.Fatal(err)
	}
	tc, err := c.TopicConfig(nil)
	if err != nil {
		t.Fatal(err)
	}
	if !tc.Compact() || tc.Delete() || tc.MinInsyncReplicas != 2 || tc.CompressionType != "producer" {
		t.Errorf("defaults: %+v", tc)
	}
	tc, err = c.TopicConfig(map[string]string{"cleanup.policy": "delete,compact,delete", "min.insync.replicas": "3"})
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(tc.CleanupPolicy, []string{"delete", "compact"}) || tc.MinInsyncReplicas != 3 {
		t.Errorf("overrides: %+v", tc)
	}
	// The cross-check uses the broker's max.compaction.lag.ms when only min is overridden.
	if _, err := c.TopicConfig(map[string]string{"min.compaction.lag.ms": "2000"}); err == nil {
		t.Error("min.compaction.lag.ms above the broker's max was accepted")
	}
}

func findEntry(t *testing.T, entries []ConfigEntry, name string) ConfigEntry {
	t.Helper()
	for _, e := range entries {
		if e.Name == name {
			return e
		}
	}
	t.Fatalf("no entry %s", name)
	return ConfigEntry{}
}

func TestDescribeTopicConfigs(t *testing.T) {
	c, _, err := Load("", nil, map[string]string{"log.retention.hours": "1", "log.segment.bytes": "1000", "log.cleanup.policy": "compact,delete"})
	if err != nil {
		t.Fatal(err)
	}
	entries := c.DescribeTopicConfigs(map[string]string{"retention.ms": " 60000 ", "max.message.bytes": "100"})
	if len(entries) != len(topicKeyList) {
		t.Fatalf("%d entries, want %d", len(entries), len(topicKeyList))
	}
	for i := 1; i < len(entries); i++ {
		if entries[i-1].Name >= entries[i].Name {
			t.Fatalf("entries not sorted: %s before %s", entries[i-1].Name, entries[i].Name)
		}
	}
	tests := []struct {
		name   string
		value  string
		source int8
		typ    int8
		syn    []Synonym
	}{
		{"retention.ms", "60000", SourceTopicConfig, TypeLong, []Synonym{
			{"retention.ms", "60000", SourceTopicConfig},
			{"log.retention.hours", "1", SourceStaticBrokerConfig},
			{"log.retention.hours", "168", SourceDefaultConfig},
		}},
		{"segment.bytes", "1000", SourceStaticBrokerConfig, TypeInt, []Synonym{
			{"log.segment.bytes", "1000", SourceStaticBrokerConfig},
			{"log.segment.bytes", "1073741824", SourceDefaultConfig},
		}},
		{"segment.ms", "604800000", SourceDefaultConfig, TypeLong, []Synonym{
			{"log.roll.hours", "168", SourceDefaultConfig},
		}},
		{"max.message.bytes", "100", SourceTopicConfig, TypeInt, []Synonym{
			{"max.message.bytes", "100", SourceTopicConfig},
			{"message.max.bytes", "1048588", SourceDefaultConfig},
		}},
		{"cleanup.policy", "compact,delete", SourceStaticBrokerConfig, TypeList, []Synonym{
			{"log.cleanup.policy", "compact,delete", SourceStaticBrokerConfig},
			{"log.cleanup.policy", "delete", SourceDefaultConfig},
		}},
		{"flush.ms", longMax, SourceDefaultConfig, TypeLong, []Synonym{
			{"log.flush.scheduler.interval.ms", longMax, SourceDefaultConfig},
		}},
		{"message.timestamp.before.max.ms", longMax, SourceDefaultConfig, TypeLong, []Synonym{
			{"log.message.timestamp.before.max.ms", longMax, SourceDefaultConfig},
		}},
		{"min.cleanable.dirty.ratio", "0.5", SourceDefaultConfig, TypeDouble, []Synonym{
			{"log.cleaner.min.cleanable.ratio", "0.5", SourceDefaultConfig},
		}},
		{"segment.jitter.ms", "0", SourceDefaultConfig, TypeLong, []Synonym{
			{"log.roll.jitter.hours", "0", SourceDefaultConfig},
		}},
	}
	for _, tt := range tests {
		e := findEntry(t, entries, tt.name)
		if e.Value != tt.value || e.Source != tt.source || e.Type != tt.typ || e.ReadOnly || e.Sensitive || e.Doc == "" {
			t.Errorf("%s = %+v, want value %q source %d type %d", tt.name, e, tt.value, tt.source, tt.typ)
		}
		if !reflect.DeepEqual(e.Synonyms, tt.syn) {
			t.Errorf("%s synonyms = %+v, want %+v", tt.name, e.Synonyms, tt.syn)
		}
	}
}

func TestDescribeBrokerConfigs(t *testing.T) {
	c, _, err := Load("", nil, map[string]string{"log.retention.ms": "5000", "broker.id": "4", "num.partitions": "3"})
	if err != nil {
		t.Fatal(err)
	}
	entries := c.DescribeBrokerConfigs()
	if len(entries) != len(brokerKeyList) {
		t.Fatalf("%d entries, want %d", len(entries), len(brokerKeyList))
	}
	tests := []struct {
		name   string
		value  string
		source int8
		syn    []Synonym
	}{
		{"num.partitions", "3", SourceStaticBrokerConfig, []Synonym{{"num.partitions", "3", SourceStaticBrokerConfig}, {"num.partitions", "1", SourceDefaultConfig}}},
		{"log.retention.ms", "5000", SourceStaticBrokerConfig, []Synonym{{"log.retention.ms", "5000", SourceStaticBrokerConfig}, {"log.retention.hours", "168", SourceDefaultConfig}}},
		// Kafka drops the higher-precedence log.retention.ms listed before the key itself.
		{"log.retention.hours", "168", SourceDefaultConfig, []Synonym{{"log.retention.hours", "168", SourceDefaultConfig}}},
		{"log.retention.minutes", "", SourceDefaultConfig, nil},
		{"node.id", "4", SourceDefaultConfig, []Synonym{{"node.id", "1", SourceDefaultConfig}}},
		{"broker.id", "4", SourceStaticBrokerConfig, []Synonym{{"broker.id", "4", SourceStaticBrokerConfig}, {"broker.id", "1", SourceDefaultConfig}}},
		{"listeners", "PLAINTEXT://:9092", SourceDefaultConfig, []Synonym{{"listeners", "PLAINTEXT://:9092", SourceDefaultConfig}}},
	}
	for _, tt := range tests {
		e := findEntry(t, entries, tt.name)
		if e.Value != tt.value || e.Source != tt.source || !e.ReadOnly || e.Doc == "" {
			t.Errorf("%s = %+v, want value %q source %d", tt.name, e, tt.value, tt.source)
		}
		if !reflect.DeepEqual(e.Synonyms, tt.syn) {
			t.Errorf("%s synonyms = %+v, want %+v", tt.name, e.Synonyms, tt.syn)
		}
	}
}
