package config

import (
	"sort"
	"strings"
)

// ConfigType values of DescribeConfigs (Kafka's ConfigDef.Type as sent on the wire).
const (
	TypeBoolean  int8 = 1
	TypeString   int8 = 2
	TypeInt      int8 = 3
	TypeShort    int8 = 4
	TypeLong     int8 = 5
	TypeDouble   int8 = 6
	TypeList     int8 = 7
	TypeClass    int8 = 8
	TypePassword int8 = 9
)

// ConfigSource values of DescribeConfigs (Kafka's DescribeConfigsResponse.ConfigSource).
const (
	SourceTopicConfig                int8 = 1
	SourceDynamicBrokerConfig        int8 = 2
	SourceDynamicDefaultBrokerConfig int8 = 3
	SourceStaticBrokerConfig         int8 = 4
	SourceDefaultConfig              int8 = 5
)

// longMax is Long.MAX_VALUE as Kafka prints it, its "no limit" default for many keys.
const longMax = "9223372036854775807"

// brokerKey describes one server.properties key Samsa understands.
type brokerKey struct {
	name string
	typ  int8
	def  string // default as Kafka prints it; meaningless when null
	null bool   // no default (Kafka's null): the key is unset unless given
	doc  string
}

// brokerKeyList is every supported broker key. Defaults are Kafka's except the
// zero-config single-node ones: node.id, process.roles, listeners and log.dir(s).
var brokerKeyList = []brokerKey{
	{name: "node.id", typ: TypeInt, def: "1", doc: "The node ID of this server in the cluster (alias broker.id)."},
	{name: "broker.id", typ: TypeInt, def: "1", doc: "Alias of node.id; if both are set they must be equal."},
	{name: "process.roles", typ: TypeList, def: "broker,controller", doc: "The roles this node plays: broker, controller, or both."},
	{name: "listeners", typ: TypeList, def: "PLAINTEXT://:9092", doc: "Comma-separated NAME://host:port addresses to listen on; an empty host binds all interfaces."},
	{name: "advertised.listeners", typ: TypeList, null: true, doc: "Addresses published to clients and other brokers; defaults to listeners."},
	{name: "listener.security.protocol.map", typ: TypeString, def: "PLAINTEXT:PLAINTEXT,SSL:SSL,SASL_PLAINTEXT:SASL_PLAINTEXT,SASL_SSL:SASL_SSL", doc: "Map from listener name to security protocol, NAME:PROTOCOL pairs."},
	{name: "controller.listener.names", typ: TypeString, null: true, doc: "Comma-separated names of the listeners used by the controller."},
	{name: "inter.broker.listener.name", typ: TypeString, null: true, doc: "Name of the listener brokers use to talk to each other."},
	{name: "controller.quorum.voters", typ: TypeList, def: "", doc: "The metadata quorum voters as id@host:port; empty runs a single-node quorum of this node."},
	{name: "log.dirs", typ: TypeList, null: true, doc: "Directories holding the log data; defaults to log.dir."},
	{name: "log.dir", typ: TypeString, def: "./samsa-data", doc: "Directory holding the log data, used when log.dirs is not set."},
	{name: "num.partitions", typ: TypeInt, def: "1", doc: "Default number of partitions of an auto-created topic."},
	{name: "default.replication.factor", typ: TypeInt, def: "1", doc: "Default replication factor of an auto-created topic."},
	{name: "auto.create.topics.enable", typ: TypeBoolean, def: "true", doc: "Create a topic when a client asks for its metadata or produces to it."},
	{name: "delete.topic.enable", typ: TypeBoolean, def: "true", doc: "Allow deleting topics."},
	{name: "message.max.bytes", typ: TypeInt, def: "1048588", doc: "Largest record batch size allowed."},
	{name: "socket.request.max.bytes", typ: TypeInt, def: "104857600", doc: "Largest request size the server accepts."},
	{name: "connections.max.idle.ms", typ: TypeLong, def: "600000", doc: "Close connections that send no request for this long; -1 never closes."},
	{name: "log.retention.hours", typ: TypeInt, def: "168", doc: "Hours to keep a log segment before deleting it (lowest precedence)."},
	{name: "log.retention.minutes", typ: TypeInt, null: true, doc: "Minutes to keep a log segment; overrides log.retention.hours."},
	{name: "log.retention.ms", typ: TypeLong, null: true, doc: "Milliseconds to keep a log segment; overrides minutes and hours; -1 keeps forever."},
	{name: "log.retention.bytes", typ: TypeLong, def: "-1", doc: "Maximum size of a partition's log before old segments are deleted; -1 is unlimited."},
	{name: "log.segment.bytes", typ: TypeInt, def: "1073741824", doc: "Maximum size of a single log segment file."},
	{name: "log.roll.hours", typ: TypeInt, def: "168", doc: "Hours after which a new segment is rolled (lower precedence than log.roll.ms)."},
	{name: "log.roll.ms", typ: TypeLong, null: true, doc: "Milliseconds after which a new segment is rolled."},
	{name: "log.roll.jitter.hours", typ: TypeInt, def: "0", doc: "Maximum random jitter subtracted from the roll time, in hours."},
	{name: "log.roll.jitter.ms", typ: TypeLong, null: true, doc: "Maximum random jitter subtracted from the roll time, in milliseconds."},
	{name: "log.index.interval.bytes", typ: TypeInt, def: "4096", doc: "Bytes of log between two offset index entries."},
	{name: "log.index.size.max.bytes", typ: TypeInt, def: "10485760", doc: "Maximum size of an offset index file."},
	{name: "log.retention.check.interval.ms", typ: TypeLong, def: "300000", doc: "How often the retention policies are checked."},
	{name: "log.flush.interval.messages", typ: TypeLong, def: longMax, doc: "Messages accumulated on a partition before it is fsynced; 1 fsyncs before every acknowledgement."},
	{name: "log.flush.interval.ms", typ: TypeLong, null: true, doc: "Maximum time data stays unflushed; defaults to log.flush.scheduler.interval.ms."},
	{name: "log.flush.scheduler.interval.ms", typ: TypeLong, def: longMax, doc: "How often the flusher checks whether a log needs an fsync."},
	{name: "log.message.timestamp.type", typ: TypeString, def: "CreateTime", doc: "Whether a record's timestamp is the producer's (CreateTime) or the broker's (LogAppendTime)."},
	{name: "log.message.timestamp.before.max.ms", typ: TypeLong, def: longMax, doc: "How far in the past a CreateTime timestamp may be."},
	{name: "log.message.timestamp.after.max.ms", typ: TypeLong, def: "3600000", doc: "How far in the future a CreateTime timestamp may be."},
	{name: "log.message.downconversion.enable", typ: TypeBoolean, def: "true", doc: "Whether old-format fetch requests may be served by down-converting."},
	{name: "log.cleanup.policy", typ: TypeList, def: "delete", doc: "Default cleanup policy of a topic: delete, compact, or both."},
	{name: "log.cleaner.delete.retention.ms", typ: TypeLong, def: "86400000", doc: "How long tombstones are kept in compacted topics."},
	{name: "log.cleaner.min.compaction.lag.ms", typ: TypeLong, def: "0", doc: "Minimum time a record stays uncompacted."},
	{name: "log.cleaner.max.compaction.lag.ms", typ: TypeLong, def: longMax, doc: "Maximum time a record may stay uncompacted."},
	{name: "log.cleaner.min.cleanable.ratio", typ: TypeDouble, def: "0.5", doc: "Minimum ratio of dirty log to total log before a log is compacted."},
	{name: "log.segment.delete.delay.ms", typ: TypeLong, def: "60000", doc: "How long a deleted segment's files stay on disk."},
	{name: "log.preallocate", typ: TypeBoolean, def: "false", doc: "Preallocate segment files."},
	{name: "producer.id.expiration.ms", typ: TypeInt, def: "86400000", doc: "Time after which an idle producer's state is dropped."},
	{name: "broker.heartbeat.interval.ms", typ: TypeInt, def: "2000", doc: "How often a broker sends a heartbeat to the active controller."},
	{name: "broker.session.timeout.ms", typ: TypeInt, def: "9000", doc: "A broker whose heartbeats stop for this long is fenced and loses its leadership."},
	{name: "controlled.shutdown.enable", typ: TypeBoolean, def: "true", doc: "Move leadership away from a broker before it shuts down."},
	{name: "controlled.shutdown.timeout.ms", typ: TypeLong, def: "30000", doc: "How long a shutting-down broker waits for the controller to move its leadership away (Samsa-specific)."},
	{name: "replica.lag.time.max.ms", typ: TypeLong, def: "30000", doc: "A follower that has not caught up with the leader for this long leaves the ISR."},
	{name: "replica.fetch.wait.max.ms", typ: TypeInt, def: "500", doc: "Longest wait of a follower's fetch request for new data."},
	{name: "replica.fetch.min.bytes", typ: TypeInt, def: "1", doc: "Bytes a follower's fetch waits for before the leader answers."},
	{name: "replica.fetch.max.bytes", typ: TypeInt, def: "1048576", doc: "Bytes a follower fetches per partition per request."},
	{name: "replica.fetch.response.max.bytes", typ: TypeInt, def: "10485760", doc: "Bytes a follower fetches per request."},
	{name: "replica.fetch.backoff.ms", typ: TypeInt, def: "1000", doc: "Wait before a follower retries after a fetch error."},
	{name: "replica.high.watermark.checkpoint.interval.ms", typ: TypeLong, def: "5000", doc: "How often every partition's high watermark is written to replication-offset-checkpoint."},
	{name: "auto.leader.rebalance.enable", typ: TypeBoolean, def: "true", doc: "The active controller moves leadership back to preferred replicas when a broker's imbalance is too high."},
	{name: "leader.imbalance.per.broker.percentage", typ: TypeInt, def: "10", doc: "Percentage of a broker's preferred partitions it may not lead before a preferred election runs."},
	{name: "leader.imbalance.check.interval.seconds", typ: TypeLong, def: "300", doc: "How often the active controller checks the leader imbalance."},
	{name: "min.insync.replicas", typ: TypeInt, def: "1", doc: "Minimum in-sync replicas for an acks=all produce to succeed."},
	{name: "unclean.leader.election.enable", typ: TypeBoolean, def: "false", doc: "Allow an out-of-sync replica to become leader, at the cost of data loss."},
	{name: "compression.type", typ: TypeString, def: "producer", doc: "Compression of stored batches: producer keeps the producer's codec."},
	{name: "offsets.topic.num.partitions", typ: TypeInt, def: "50", doc: "Number of partitions of the __consumer_offsets topic."},
	{name: "offsets.topic.segment.bytes", typ: TypeInt, def: "104857600", doc: "Segment size of the __consumer_offsets topic (small segments let it be compacted sooner)."},
	{name: "offsets.topic.replication.factor", typ: TypeShort, def: "3", doc: "Replication factor of the __consumer_offsets topic."},
	{name: "group.initial.rebalance.delay.ms", typ: TypeInt, def: "3000", doc: "How long the coordinator waits for more members before the first rebalance of a new group."},
	{name: "group.min.session.timeout.ms", typ: TypeInt, def: "6000", doc: "Smallest session timeout a group member may ask for."},
	{name: "group.max.session.timeout.ms", typ: TypeInt, def: "1800000", doc: "Largest session timeout a group member may ask for."},
	{name: "group.max.size", typ: TypeInt, def: "2147483647", doc: "Most members a consumer group may have."},
	{name: "group.consumer.session.timeout.ms", typ: TypeInt, def: "45000", doc: "Session timeout of members of consumer-protocol (KIP-848) groups."},
	{name: "group.consumer.heartbeat.interval.ms", typ: TypeInt, def: "5000", doc: "Heartbeat interval given to members of consumer-protocol (KIP-848) groups."},
	{name: "group.consumer.max.size", typ: TypeInt, def: "2147483647", doc: "Most members a consumer-protocol (KIP-848) group may have."},
	{name: "group.consumer.assignors", typ: TypeList, def: "uniform,range", doc: "Server-side assignors of consumer-protocol groups, the first being the default."},
	{name: "offsets.retention.minutes", typ: TypeInt, def: "10080", doc: "How long the committed offsets of a group that has become empty are kept."},
	{name: "offsets.retention.check.interval.ms", typ: TypeLong, def: "600000", doc: "How often expired committed offsets are looked for."},
	{name: "offset.metadata.max.bytes", typ: TypeInt, def: "4096", doc: "Largest metadata string an offset commit may carry."},
	{name: "log.cleaner.enable", typ: TypeBoolean, def: "true", doc: "Run the log cleaner that compacts topics with cleanup.policy=compact."},
	{name: "log.cleaner.backoff.ms", typ: TypeLong, def: "15000", doc: "How long the log cleaner sleeps when it has no log to clean."},
	{name: "log.cleaner.dedupe.buffer.size", typ: TypeLong, def: "134217728", doc: "Memory the log cleaner may use for its key-to-offset map."},
	{name: "broker.rack", typ: TypeString, null: true, doc: "Rack of this broker, for rack-aware replica placement."},
	{name: "cluster.id", typ: TypeString, null: true, doc: "Samsa: the cluster ID (22-character base64 UUID) used when formatting new storage; generated when unset."},
}

var brokerKeys = func() map[string]*brokerKey {
	m := make(map[string]*brokerKey, len(brokerKeyList))
	for i := range brokerKeyList {
		m[brokerKeyList[i].name] = &brokerKeyList[i]
	}
	return m
}()

// sortedBrokerKeys is brokerKeyList's names in alphabetical order, for DescribeConfigs.
var sortedBrokerKeys = func() []string {
	names := make([]string, 0, len(brokerKeyList))
	for _, k := range brokerKeyList {
		names = append(names, k.name)
	}
	sort.Strings(names)
	return names
}()

// ignoredKeys are Kafka server settings Samsa accepts without error but does not use,
// with the reason given in the warning.
var ignoredKeys = map[string]string{
	"num.network.threads":                              "Samsa serves each connection on its own goroutine",
	"num.io.threads":                                   "Samsa serves each connection on its own goroutine",
	"background.threads":                               "Samsa sizes its background work itself",
	"queued.max.requests":                              "Samsa does not queue requests between threads",
	"socket.send.buffer.bytes":                         "Samsa uses the operating system's socket buffer sizes",
	"socket.receive.buffer.bytes":                      "Samsa uses the operating system's socket buffer sizes",
	"socket.listen.backlog.size":                       "Samsa uses the operating system's listen backlog",
	"num.recovery.threads.per.data.dir":                "Samsa sizes log recovery itself",
	"num.replica.fetchers":                             "Samsa runs one fetcher per leader broker",
	"log.cleaner.threads":                              "Samsa sizes the log cleaner itself",
	"transaction.state.log.replication.factor":         "not used by Samsa yet",
	"transaction.state.log.min.isr":                    "not used by Samsa yet",
	"transaction.state.log.num.partitions":             "not used by Samsa yet",
	"share.coordinator.state.topic.replication.factor": "Samsa has no share groups",
	"share.coordinator.state.topic.min.isr":            "Samsa has no share groups",
	"controller.quorum.bootstrap.servers":              "Samsa's metadata quorum is configured with controller.quorum.voters",
	"metadata.log.dir":                                 "Samsa keeps the metadata log under log.dirs",
}

// zookeeperKeys are the ZooKeeper settings recognised in the environment; in a file every
// zookeeper.* key is recognised.
var zookeeperKeys = []string{
	"zookeeper.connect",
	"zookeeper.connection.timeout.ms",
	"zookeeper.session.timeout.ms",
	"zookeeper.set.acl",
	"zookeeper.max.in.flight.requests",
}

const zookeeperReason = "Samsa has a built-in metadata quorum (KRaft mode) and never uses ZooKeeper"

// ignoredReason reports whether key is a Kafka setting Samsa ignores, and why.
func ignoredReason(key string) (string, bool) {
	if r, ok := ignoredKeys[key]; ok {
		return r, true
	}
	if strings.HasPrefix(key, "zookeeper.") {
		return zookeeperReason, true
	}
	return "", false
}

// aliasGroups are keys that set the same thing; a source setting any of them replaces
// the whole group from earlier sources. Within a group the first key has precedence.
var aliasGroups = [][]string{
	{"node.id", "broker.id"},
	{"log.dirs", "log.dir"},
	{"log.retention.ms", "log.retention.minutes", "log.retention.hours"},
	{"log.roll.ms", "log.roll.hours"},
	{"log.roll.jitter.ms", "log.roll.jitter.hours"},
}

func aliasGroup(key string) []string {
	for _, g := range aliasGroups {
		for _, k := range g {
			if k == key {
				return g
			}
		}
	}
	return nil
}

// envKeys maps SAMSA_<KEY> environment variable names to the keys they set.
var envKeys = func() map[string]string {
	m := make(map[string]string)
	add := func(key string) { m[EnvName(key)] = key }
	for _, k := range brokerKeyList {
		add(k.name)
	}
	for k := range ignoredKeys {
		add(k)
	}
	for _, k := range zookeeperKeys {
		add(k)
	}
	return m
}()

// EnvName is the environment variable that sets key: SAMSA_ then the key upper-cased
// with '.' replaced by '_' (log.dirs → SAMSA_LOG_DIRS).
func EnvName(key string) string {
	return "SAMSA_" + strings.ToUpper(strings.ReplaceAll(key, ".", "_"))
}

// IsBrokerKey reports whether key is a server setting Samsa understands (not counting
// the Kafka settings it accepts and ignores).
func IsBrokerKey(key string) bool {
	_, ok := brokerKeys[key]
	return ok
}
