package config

import (
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/samsa-io/samsa/internal/commitlog"
)

func TestDefault(t *testing.T) {
	c := Default()
	if err := c.Validate(); err != nil {
		t.Fatalf("Default().Validate(): %v", err)
	}
	if c.NodeID != 1 || !reflect.DeepEqual(c.ProcessRoles, []string{"broker", "controller"}) {
		t.Errorf("node.id/process.roles = %d/%v", c.NodeID, c.ProcessRoles)
	}
	want := []Listener{{Name: "PLAINTEXT", Port: 9092}}
	if !reflect.DeepEqual(c.Listeners, want) || !reflect.DeepEqual(c.AdvertisedListeners, want) {
		t.Errorf("listeners = %v advertised = %v", c.Listeners, c.AdvertisedListeners)
	}
	if !reflect.DeepEqual(c.LogDirs, []string{"./samsa-data"}) {
		t.Errorf("log.dirs = %v", c.LogDirs)
	}
	if c.Log != commitlog.DefaultConfig() {
		t.Errorf("Log = %+v, want commitlog.DefaultConfig() %+v", c.Log, commitlog.DefaultConfig())
	}
	checks := []struct {
		name      string
		got, want any
	}{
		{"num.partitions", c.NumPartitions, int32(1)},
		{"default.replication.factor", c.DefaultReplicationFactor, int16(1)},
		{"auto.create.topics.enable", c.AutoCreateTopicsEnable, true},
		{"delete.topic.enable", c.DeleteTopicEnable, true},
		{"message.max.bytes", c.MessageMaxBytes, int32(1048588)},
		{"socket.request.max.bytes", c.SocketRequestMaxBytes, int32(104857600)},
		{"connections.max.idle.ms", c.ConnectionsMaxIdle, 10 * time.Minute},
		{"group.min.session.timeout.ms", c.GroupMinSessionTimeout, 6 * time.Second},
		{"group.max.session.timeout.ms", c.GroupMaxSessionTimeout, 30 * time.Minute},
		{"group.max.size", c.GroupMaxSize, int32(math.MaxInt32)},
		{"offsets.retention.minutes", c.OffsetsRetention, 7 * 24 * time.Hour},
		{"offsets.retention.check.interval.ms", c.OffsetsRetentionCheckInterval, 10 * time.Minute},
		{"offset.metadata.max.bytes", c.OffsetMetadataMaxBytes, int32(4096)},
		{"offsets.topic.segment.bytes", c.OffsetsTopicSegmentBytes, int32(104857600)},
		{"group.consumer.session.timeout.ms", c.GroupConsumerSessionTimeout, 45 * time.Second},
		{"group.consumer.heartbeat.interval.ms", c.GroupConsumerHeartbeat, 5 * time.Second},
		{"group.consumer.max.size", c.GroupConsumerMaxSize, int32(math.MaxInt32)},
		{"group.consumer.assignors", strings.Join(c.GroupConsumerAssignors, ","), "uniform,range"},
		{"log.cleaner.enable", c.LogCleanerEnable, true},
		{"log.cleaner.backoff.ms", c.LogCleanerBackoff, 15 * time.Second},
		{"log.cleaner.dedupe.buffer.size", c.LogCleanerDedupeBuffer, int64(128 << 20)},
		{"log.retention.check.interval.ms", c.LogRetentionCheckInterval, 5 * time.Minute},
		{"inter.broker.listener.name", c.InterBrokerListenerName, "PLAINTEXT"},
		{"min.insync.replicas", c.MinInsyncReplicas, int32(1)},
		{"unclean.leader.election.enable", c.UncleanLeaderElectionEnable, false},
		{"auto.leader.rebalance.enable", c.AutoLeaderRebalanceEnable, true},
		{"leader.imbalance.per.broker.percentage", c.LeaderImbalancePerBrokerPercentage, int32(10)},
		{"leader.imbalance.check.interval.seconds", c.LeaderImbalanceCheckInterval, 300 * time.Second},
		{"compression.type", c.CompressionType, "producer"},
		{"log.cleanup.policy", c.LogCleanupPolicy, []string{"delete"}},
		{"offsets.topic.num.partitions", c.OffsetsTopicNumPartitions, int32(50)},
		{"offsets.topic.replication.factor", c.OffsetsTopicReplicationFactor, int16(3)},
		{"group.initial.rebalance.delay.ms", c.GroupInitialRebalanceDelay, 3 * time.Second},
		{"log.cleaner.delete.retention.ms", c.LogCleanerDeleteRetention, 24 * time.Hour},
		{"log.cleaner.min.cleanable.ratio", c.LogCleanerMinCleanableRatio, 0.5},
		{"controller.quorum.voters", len(c.ControllerQuorumVoters), 0},
		{"cluster.id", c.ClusterID, ""},
	}
	for _, ch := range checks {
		if !reflect.DeepEqual(ch.got, ch.want) {
			t.Errorf("%s = %v, want %v", ch.name, ch.got, ch.want)
		}
	}
}

func writeFile(t *testing.T, text string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "server.properties")
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestLoadKafkaServerProperties(t *testing.T) {
	c, warnings, err := Load(writeFile(t, kafkaSample), nil, nil)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	if !reflect.DeepEqual(c.Listeners, []Listener{{"PLAINTEXT", "", 9092}, {"CONTROLLER", "", 9093}}) {
		t.Errorf("listeners = %v", c.Listeners)
	}
	if !reflect.DeepEqual(c.AdvertisedListeners, []Listener{{"PLAINTEXT", "localhost", 9092}}) {
		t.Errorf("advertised.listeners = %v", c.AdvertisedListeners)
	}
	if !reflect.DeepEqual(c.ControllerQuorumVoters, []QuorumVoter{{1, "localhost", 9093}}) {
		t.Errorf("controller.quorum.voters = %v", c.ControllerQuorumVoters)
	}
	if !reflect.DeepEqual(c.ControllerListenerNames, []string{"CONTROLLER"}) || c.ListenerSecurityProtocolMap["CONTROLLER"] != "PLAINTEXT" {
		t.Errorf("controller listener %v map %v", c.ControllerListenerNames, c.ListenerSecurityProtocolMap)
	}
	if !reflect.DeepEqual(c.LogDirs, []string{"/tmp/kraft-combined-logs"}) || c.OffsetsTopicReplicationFactor != 1 {
		t.Errorf("log.dirs %v offsets rf %d", c.LogDirs, c.OffsetsTopicReplicationFactor)
	}
	wantWarned := []string{"num.io.threads", "num.network.threads", "num.recovery.threads.per.data.dir",
		"socket.receive.buffer.bytes", "socket.send.buffer.bytes", "transaction.state.log.min.isr",
		"transaction.state.log.replication.factor"}
	if len(warnings) != len(wantWarned) {
		t.Fatalf("warnings = %q, want one for each of %v", warnings, wantWarned)
	}
	for i, k := range wantWarned {
		if !strings.Contains(warnings[i], k) || !strings.Contains(warnings[i], "ignored") {
			t.Errorf("warning %d = %q, want it to name %s", i, warnings[i], k)
		}
	}
}

func TestWarnings(t *testing.T) {
	_, warnings, err := Load("", nil, map[string]string{
		"zookeeper.connect": "localhost:2181",
		"no.such.key":       "1",
		"num.io.threads":    "8",
		"log.dirs":          "/data",
	})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"no.such.key", "num.io.threads", "zookeeper.connect"}
	if len(warnings) != len(want) {
		t.Fatalf("warnings = %q", warnings)
	}
	for i, k := range want {
		if !strings.Contains(warnings[i], k) {
			t.Errorf("warning %q does not name %s", warnings[i], k)
		}
	}
	if !strings.Contains(warnings[0], "unknown") {
		t.Errorf("unknown-key warning = %q", warnings[0])
	}
	if !strings.Contains(warnings[2], "built-in metadata quorum") {
		t.Errorf("zookeeper warning = %q", warnings[2])
	}
}

func TestAliasPrecedence(t *testing.T) {
	tests := []struct {
		name string
		set  map[string]string
		get  func(*Config) any
		want any
	}{
		{"retention default", nil, func(c *Config) any { return c.Log.RetentionTime }, 168 * time.Hour},
		{"retention hours", map[string]string{"log.retention.hours": "1"}, func(c *Config) any { return c.Log.RetentionTime }, time.Hour},
		{"retention minutes over hours", map[string]string{"log.retention.minutes": "30", "log.retention.hours": "1"}, func(c *Config) any { return c.Log.RetentionTime }, 30 * time.Minute},
		{"retention ms over minutes and hours", map[string]string{"log.retention.ms": "5000", "log.retention.minutes": "30", "log.retention.hours": "1"}, func(c *Config) any { return c.Log.RetentionTime }, 5 * time.Second},
		{"retention ms over hours", map[string]string{"log.retention.ms": "5000", "log.retention.hours": "1"}, func(c *Config) any { return c.Log.RetentionTime }, 5 * time.Second},
		{"retention negative hours is forever", map[string]string{"log.retention.hours": "-1"}, func(c *Config) any { return c.Log.RetentionTime }, -time.Millisecond},
		{"retention negative ms is -1", map[string]string{"log.retention.ms": "-7"}, func(c *Config) any { return c.Log.RetentionTime }, -time.Millisecond},
		{"roll hours", map[string]string{"log.roll.hours": "2"}, func(c *Config) any { return c.Log.SegmentAge }, 2 * time.Hour},
		{"roll ms over hours", map[string]string{"log.roll.ms": "100", "log.roll.hours": "2"}, func(c *Config) any { return c.Log.SegmentAge }, 100 * time.Millisecond},
		{"jitter hours", map[string]string{"log.roll.jitter.hours": "1"}, func(c *Config) any { return c.LogRollJitter }, time.Hour},
		{"jitter ms over hours", map[string]string{"log.roll.jitter.ms": "10", "log.roll.jitter.hours": "1"}, func(c *Config) any { return c.LogRollJitter }, 10 * time.Millisecond},
		{"broker.id alone", map[string]string{"broker.id": "5"}, func(c *Config) any { return c.NodeID }, int32(5)},
		{"node.id alone", map[string]string{"node.id": "3"}, func(c *Config) any { return c.NodeID }, int32(3)},
		{"node.id equal to broker.id", map[string]string{"node.id": "3", "broker.id": "3"}, func(c *Config) any { return c.NodeID }, int32(3)},
		{"log.dir alone", map[string]string{"log.dir": "/a"}, func(c *Config) any { return c.LogDirs }, []string{"/a"}},
		{"log.dirs over log.dir", map[string]string{"log.dirs": " /b , /c ,", "log.dir": "/a"}, func(c *Config) any { return c.LogDirs }, []string{"/b", "/c"}},
		{"flush.ms falls back to scheduler", map[string]string{"log.flush.scheduler.interval.ms": "500"}, func(c *Config) any { return c.Log.FlushInterval }, 500 * time.Millisecond},
		{"flush.interval.ms over scheduler", map[string]string{"log.flush.interval.ms": "100", "log.flush.scheduler.interval.ms": "500"}, func(c *Config) any { return []time.Duration{c.Log.FlushInterval, c.LogFlushSchedulerInterval} }, []time.Duration{100 * time.Millisecond, 500 * time.Millisecond}},
		{"message.max.bytes sets the log default", map[string]string{"message.max.bytes": "2000"}, func(c *Config) any { return []int32{c.MessageMaxBytes, c.Log.MaxMessageBytes} }, []int32{2000, 2000}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, _, err := Load("", nil, tt.set)
			if err != nil {
				t.Fatalf("Load: %v", err)
			}
			if got := tt.get(c); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}
}

func TestSourcePrecedence(t *testing.T) {
	path := writeFile(t, "num.partitions=2\nlog.retention.ms=1000\nbroker.id=1\nlog.segment.bytes=1000\n")
	env := []string{
		"SAMSA_NUM_PARTITIONS=3",
		"SAMSA_NODE_ID=2",
		"SAMSA_LOG_SEGMENT_BYTES=2000",
		"SAMSA_NOT_A_KEY=1", // ignored: not a known key
		"NUM_PARTITIONS=9",  // ignored: no prefix
		"SAMSA_BROKER_RACK=rack=a",
		"MALFORMED",
	}
	c, warnings, err := Load(path, env, map[string]string{
		"log.segment.bytes":   "3000",
		"log.retention.hours": "2",
	})
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	if len(warnings) != 0 {
		t.Errorf("warnings = %q", warnings)
	}
	if c.NumPartitions != 3 {
		t.Errorf("num.partitions = %d, want 3 (environment over file)", c.NumPartitions)
	}
	if c.Log.SegmentBytes != 3000 {
		t.Errorf("log.segment.bytes = %d, want 3000 (override over environment and file)", c.Log.SegmentBytes)
	}
	if c.NodeID != 2 {
		t.Errorf("node.id = %d, want 2: the environment's node.id replaces the file's broker.id", c.NodeID)
	}
	if c.Log.RetentionTime != 2*time.Hour {
		t.Errorf("retention = %v, want 2h: the override's log.retention.hours replaces the file's log.retention.ms", c.Log.RetentionTime)
	}
	if _, ok := c.Raw["log.retention.ms"]; ok {
		t.Errorf("Raw still holds the replaced log.retention.ms: %v", c.Raw)
	}
	if c.BrokerRack != "rack=a" {
		t.Errorf("broker.rack = %q", c.BrokerRack)
	}
	if c.Raw["num.partitions"] != "3" || c.Raw["log.segment.bytes"] != "3000" {
		t.Errorf("Raw = %v", c.Raw)
	}
}

func TestLoadMissingFile(t *testing.T) {
	if _, _, err := Load(filepath.Join(t.TempDir(), "nope.properties"), nil, nil); err == nil {
		t.Fatal("Load of a missing file succeeded")
	}
}

func TestLoadBadPropertiesFile(t *testing.T) {
	_, _, err := Load(writeFile(t, "a=\\uXYZW\n"), nil, nil)
	if err == nil || !strings.Contains(err.Error(), "line 1") {
		t.Fatalf("err = %v", err)
	}
}

func TestLoadRejects(t *testing.T) {
	voters := "1@localhost:9093"
	tests := []struct {
		name string
		set  map[string]string
		want string
	}{
		{"segment bytes not an integer", map[string]string{"log.segment.bytes": "abc"}, `config: log.segment.bytes: "abc" is not an integer`},
		{"segment bytes too small", map[string]string{"log.segment.bytes": "13"}, "config: log.segment.bytes: must be at least 14"},
		{"segment bytes out of int range", map[string]string{"log.segment.bytes": "3000000000"}, "config: log.segment.bytes: \"3000000000\" is out of range"},
		{"message.max.bytes negative", map[string]string{"message.max.bytes": "-1"}, "config: message.max.bytes:"},
		{"num.partitions zero", map[string]string{"num.partitions": "0"}, "config: num.partitions:"},
		{"replication factor zero", map[string]string{"default.replication.factor": "0"}, "config: default.replication.factor:"},
		{"replication factor huge", map[string]string{"default.replication.factor": "40000"}, "config: default.replication.factor:"},
		{"offsets rf zero", map[string]string{"offsets.topic.replication.factor": "0"}, "config: offsets.topic.replication.factor:"},
		{"offsets partitions zero", map[string]string{"offsets.topic.num.partitions": "0"}, "config: offsets.topic.num.partitions:"},
		{"node.id negative", map[string]string{"node.id": "-1"}, "config: node.id:"},
		{"broker.id negative", map[string]string{"broker.id": "-1"}, "config: broker.id:"},
		{"node.id and broker.id differ", map[string]string{"node.id": "1", "broker.id": "2"}, "config: broker.id:"},
		{"node.id not an integer", map[string]string{"node.id": "one"}, `config: node.id: "one" is not an integer`},
		{"bool", map[string]string{"auto.create.topics.enable": "yes"}, `config: auto.create.topics.enable: "yes" is not a boolean`},
		{"listener without scheme", map[string]string{"listeners": "localhost:9092"}, "config: listeners:"},
		{"listener without port", map[string]string{"listeners": "PLAINTEXT://localhost"}, "config: listeners:"},
		{"listener bad port", map[string]string{"listeners": "PLAINTEXT://:x"}, "config: listeners:"},
		{"listener port too large", map[string]string{"listeners": "PLAINTEXT://:70000"}, "config: listeners: PLAINTEXT: port 70000"},
		{"listener port negative", map[string]string{"listeners": "PLAINTEXT://:-1"}, "config: listeners: PLAINTEXT: port -1"},
		{"listener unbracketed ipv6", map[string]string{"listeners": "PLAINTEXT://::1:9092"}, "config: listeners:"},
		{"listener names repeat", map[string]string{"listeners": "PLAINTEXT://:9092,plaintext://:9093"}, "config: listeners: listener name PLAINTEXT is used twice"},
		{"listeners share a port", map[string]string{"listeners": "PLAINTEXT://:9092,OTHER://:9092", "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,OTHER:PLAINTEXT"}, "config: listeners: PLAINTEXT and OTHER both bind"},
		{"no listeners", map[string]string{"listeners": ""}, "config: listeners: at least one"},
		{"advertised not in listeners", map[string]string{"advertised.listeners": "OTHER://host:9092"}, "config: advertised.listeners: listener OTHER is not in listeners"},
		{"advertised unspecified address", map[string]string{"advertised.listeners": "PLAINTEXT://0.0.0.0:9092"}, "config: advertised.listeners:"},
		{"advertised malformed", map[string]string{"advertised.listeners": "PLAINTEXT//h:1"}, "config: advertised.listeners:"},
		{"listener without protocol", map[string]string{"listeners": "INTERNAL://:9092"}, "config: listener.security.protocol.map: no security protocol for listener INTERNAL"},
		{"bad protocol", map[string]string{"listener.security.protocol.map": "PLAINTEXT:TLS"}, "config: listener.security.protocol.map: PLAINTEXT:"},
		{"protocol map malformed", map[string]string{"listener.security.protocol.map": "PLAINTEXT"}, "config: listener.security.protocol.map:"},
		{"controller listener missing", map[string]string{"controller.listener.names": "CONTROLLER"}, "config: controller.listener.names: CONTROLLER is not in listeners"},
		{"inter broker listener missing", map[string]string{"inter.broker.listener.name": "INTERNAL"}, "config: inter.broker.listener.name: INTERNAL is not in advertised.listeners"},
		{"inter broker listener is controller's", map[string]string{
			"listeners": "PLAINTEXT://:9092,CONTROLLER://:9093", "controller.listener.names": "CONTROLLER",
			"advertised.listeners": "PLAINTEXT://h:9092,CONTROLLER://h:9093", "inter.broker.listener.name": "CONTROLLER",
		}, "config: inter.broker.listener.name: CONTROLLER is a controller listener"},
		{"empty roles", map[string]string{"process.roles": ""}, "config: process.roles:"},
		{"bad role", map[string]string{"process.roles": "broker,zookeeper"}, `config: process.roles: "zookeeper"`},
		{"duplicate role", map[string]string{"process.roles": "broker,broker", "controller.quorum.voters": voters}, "config: process.roles:"},
		{"broker-only without voters", map[string]string{"process.roles": "broker"}, "config: controller.quorum.voters: required"},
		{"controller without its listener", map[string]string{"controller.quorum.voters": "2@h:9093"}, "config: controller.listener.names: required"},
		{"broker-only is a voter", map[string]string{"process.roles": "broker", "controller.quorum.voters": voters}, "config: controller.quorum.voters: node.id 1 is a voter"},
		{"voters malformed", map[string]string{"controller.quorum.voters": "localhost:9093"}, "config: controller.quorum.voters:"},
		{"voters duplicate", map[string]string{"controller.quorum.voters": "1@a:1,1@b:1"}, "config: controller.quorum.voters: voter id 1 is listed twice"},
		{"voter port zero", map[string]string{"controller.quorum.voters": "1@a:0"}, "config: controller.quorum.voters:"},
		{"no log dirs", map[string]string{"log.dirs": " , "}, "config: log.dirs:"},
		{"duplicate log dirs", map[string]string{"log.dirs": "/a,/a"}, "config: log.dirs:"},
		{"timestamp type", map[string]string{"log.message.timestamp.type": "createtime"}, "config: log.message.timestamp.type:"},
		{"timestamp before negative", map[string]string{"log.message.timestamp.before.max.ms": "-1"}, "config: log.message.timestamp.before.max.ms:"},
		{"timestamp after negative", map[string]string{"log.message.timestamp.after.max.ms": "-1"}, "config: log.message.timestamp.after.max.ms:"},
		{"cleanup policy", map[string]string{"log.cleanup.policy": "delete,archive"}, `config: log.cleanup.policy: "archive"`},
		{"cleanup policy empty", map[string]string{"log.cleanup.policy": ""}, "config: log.cleanup.policy:"},
		{"compression type", map[string]string{"compression.type": "brotli"}, "config: compression.type:"},
		{"retention zero", map[string]string{"log.retention.ms": "0"}, "config: log.retention.ms: must be -1"},
		{"retention hours zero", map[string]string{"log.retention.hours": "0"}, "config: log.retention.hours: must be -1"},
		{"retention minutes zero", map[string]string{"log.retention.minutes": "0"}, "config: log.retention.minutes: must be -1"},
		{"retention minutes not int", map[string]string{"log.retention.minutes": "1.5"}, "config: log.retention.minutes:"},
		{"roll hours zero", map[string]string{"log.roll.hours": "0"}, "config: log.roll.hours:"},
		{"roll ms zero", map[string]string{"log.roll.ms": "0"}, "config: log.roll.ms:"},
		{"jitter negative", map[string]string{"log.roll.jitter.ms": "-1"}, "config: log.roll.jitter.ms:"},
		{"index size", map[string]string{"log.index.size.max.bytes": "3"}, "config: log.index.size.max.bytes:"},
		{"index interval", map[string]string{"log.index.interval.bytes": "-1"}, "config: log.index.interval.bytes:"},
		{"flush messages", map[string]string{"log.flush.interval.messages": "0"}, "config: log.flush.interval.messages:"},
		{"flush ms", map[string]string{"log.flush.interval.ms": "-1"}, "config: log.flush.interval.ms:"},
		{"flush scheduler", map[string]string{"log.flush.scheduler.interval.ms": "0"}, "config: log.flush.scheduler.interval.ms:"},
		{"retention check", map[string]string{"log.retention.check.interval.ms": "0"}, "config: log.retention.check.interval.ms:"},
		{"retention bytes", map[string]string{"log.retention.bytes": "lots"}, "config: log.retention.bytes:"},
		{"producer id expiration", map[string]string{"producer.id.expiration.ms": "0"}, "config: producer.id.expiration.ms:"},
		{"min isr", map[string]string{"min.insync.replicas": "0"}, "config: min.insync.replicas:"},
		{"socket request max", map[string]string{"socket.request.max.bytes": "0"}, "config: socket.request.max.bytes:"},
		{"group delay", map[string]string{"group.initial.rebalance.delay.ms": "-1"}, "config: group.initial.rebalance.delay.ms:"},
		{"cleanable ratio", map[string]string{"log.cleaner.min.cleanable.ratio": "1.5"}, "config: log.cleaner.min.cleanable.ratio:"},
		{"cleanable ratio nan", map[string]string{"log.cleaner.min.cleanable.ratio": "NaN"}, "config: log.cleaner.min.cleanable.ratio:"},
		{"compaction lags", map[string]string{"log.cleaner.min.compaction.lag.ms": "10", "log.cleaner.max.compaction.lag.ms": "5"}, "config: log.cleaner.min.compaction.lag.ms:"},
		{"delete retention", map[string]string{"log.cleaner.delete.retention.ms": "-1"}, "config: log.cleaner.delete.retention.ms:"},
		{"segment delete delay", map[string]string{"log.segment.delete.delay.ms": "-1"}, "config: log.segment.delete.delay.ms:"},
		{"cluster id", map[string]string{"cluster.id": "not-a-uuid"}, "config: cluster.id:"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, _, err := Load("", nil, tt.set)
			if err == nil {
				t.Fatalf("Load(%v) succeeded: %+v", tt.set, c)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Load(%v) error = %q, want it to contain %q", tt.set, err, tt.want)
			}
		})
	}
}

func TestLoadAccepts(t *testing.T) {
	tests := []struct {
		name string
		set  map[string]string
	}{
		{"listener ports 0 and 65535", map[string]string{"listeners": "PLAINTEXT://:0,SSL://:65535"}},
		{"ipv6 listener", map[string]string{"listeners": "PLAINTEXT://[::1]:9092"}},
		{"broker-only with voters", map[string]string{"process.roles": "broker", "controller.quorum.voters": "2@c:9093"}},
		{"observer (controller, not a voter)", map[string]string{"controller.quorum.voters": "2@h:9093", "controller.listener.names": "CONTROLLER", "listeners": "PLAINTEXT://:9092,CONTROLLER://:9093"}},
		{"controller-only", map[string]string{"process.roles": "controller", "node.id": "2", "controller.quorum.voters": "2@c:9093", "controller.listener.names": "CONTROLLER", "listeners": "CONTROLLER://:9093"}},
		{"cleanup compact,delete", map[string]string{"log.cleanup.policy": "compact, delete"}},
		{"retention unlimited", map[string]string{"log.retention.ms": "-1"}},
		{"segment bytes 14", map[string]string{"log.segment.bytes": "14"}},
		{"values are trimmed", map[string]string{"num.partitions": " 4 ", "auto.create.topics.enable": "FALSE"}},
		{"cluster id", map[string]string{"cluster.id": "MkU3OEVBNTcwNTJENDM2Qg"}},
		{"inter broker listener without PLAINTEXT", map[string]string{"listeners": "INTERNAL://:9092", "listener.security.protocol.map": "INTERNAL:PLAINTEXT"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, _, err := Load("", nil, tt.set); err != nil {
				t.Fatalf("Load(%v): %v", tt.set, err)
			}
		})
	}
}

func TestValidateTypedFields(t *testing.T) {
	tests := []struct {
		name   string
		modify func(*Config)
		want   string
	}{
		{"node id", func(c *Config) { c.NodeID = -1 }, "config: node.id:"},
		{"segment bytes", func(c *Config) { c.Log.SegmentBytes = 0 }, "config: log.segment.bytes:"},
		{"segment ms", func(c *Config) { c.Log.SegmentAge = 0 }, "config: log.roll.ms:"},
		{"timestamp type", func(c *Config) { c.Log.TimestampType = 7 }, "config: log.message.timestamp.type:"},
		{"log max message", func(c *Config) { c.Log.MaxMessageBytes = -1 }, "config: message.max.bytes:"},
		{"roles", func(c *Config) { c.ProcessRoles = nil }, "config: process.roles:"},
		{"listener name", func(c *Config) { c.Listeners = []Listener{{Port: 1}} }, "config: listeners:"},
		{"advertised port", func(c *Config) { c.AdvertisedListeners = []Listener{{Name: "PLAINTEXT", Port: 65536}} }, "config: advertised.listeners:"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := Default()
			tt.modify(c)
			err := c.Validate()
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Validate() = %v, want an error containing %q", err, tt.want)
			}
		})
	}
}

func TestParseListener(t *testing.T) {
	tests := []struct {
		in      string
		want    Listener
		wantErr bool
	}{
		{in: "PLAINTEXT://:9092", want: Listener{"PLAINTEXT", "", 9092}},
		{in: "plaintext://localhost:9092", want: Listener{"PLAINTEXT", "localhost", 9092}},
		{in: " SSL://0.0.0.0:9093 ", want: Listener{"SSL", "0.0.0.0", 9093}},
		{in: "INTERNAL://[::1]:9094", want: Listener{"INTERNAL", "::1", 9094}},
		{in: "INTERNAL://[fe80::1%eth0]:9094", want: Listener{"INTERNAL", "fe80::1%eth0", 9094}},
		{in: "X://h:0", want: Listener{"X", "h", 0}},
		{in: "://h:1", wantErr: true},
		{in: "h:1", wantErr: true},
		{in: "X://h", wantErr: true},
		{in: "X://h:", wantErr: true},
		{in: "X://h:99999999999", wantErr: true},
		{in: "X://::1:9092", wantErr: true},
		{in: "X://[::1:9092", wantErr: true},
		{in: "X://a b:1", wantErr: true},
		{in: "A:B://h:1", wantErr: true},
	}
	for _, tt := range tests {
		got, err := ParseListener(tt.in)
		if (err != nil) != tt.wantErr {
			t.Errorf("ParseListener(%q) error = %v, wantErr %v", tt.in, err, tt.wantErr)
			continue
		}
		if !tt.wantErr && got != tt.want {
			t.Errorf("ParseListener(%q) = %+v, want %+v", tt.in, got, tt.want)
		}
	}
	if s := (Listener{"INTERNAL", "::1", 9094}).String(); s != "INTERNAL://[::1]:9094" {
		t.Errorf("String() = %q", s)
	}
}

func TestEnvName(t *testing.T) {
	if got := EnvName("log.dirs"); got != "SAMSA_LOG_DIRS" {
		t.Errorf("EnvName = %q", got)
	}
	c, _, err := Load("", []string{"SAMSA_LOG_DIRS=/x,/y", "SAMSA_LOG_RETENTION_HOURS=5"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(c.LogDirs, []string{"/x", "/y"}) || c.Log.RetentionTime != 5*time.Hour {
		t.Errorf("log.dirs %v retention %v", c.LogDirs, c.Log.RetentionTime)
	}
}
