package config

import (
	"encoding/base64"
	"fmt"
	"math"
	"net"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/samsa-io/samsa/internal/commitlog"
)

// Listener is one entry of listeners / advertised.listeners: NAME://host:port.
type Listener struct {
	Name string // listener name, e.g. PLAINTEXT
	Host string // may be empty: all interfaces (listeners) / the machine's hostname (advertised)
	Port int32
}

// String formats l as Kafka writes it, bracketing IPv6 hosts.
func (l Listener) String() string {
	return l.Name + "://" + net.JoinHostPort(l.Host, strconv.Itoa(int(l.Port)))
}

// QuorumVoter is one entry of controller.quorum.voters: id@host:port.
type QuorumVoter struct {
	ID   int32
	Host string
	Port int32
}

// Security protocols of listener.security.protocol.map.
var securityProtocols = map[string]bool{"PLAINTEXT": true, "SSL": true, "SASL_PLAINTEXT": true, "SASL_SSL": true}

// Config is the whole server configuration.
type Config struct {
	NodeID                   int32      // node.id (alias broker.id); default 1
	ProcessRoles             []string   // process.roles; default broker,controller
	Listeners                []Listener // listeners; default PLAINTEXT://:9092
	AdvertisedListeners      []Listener // advertised.listeners; default: listeners
	LogDirs                  []string   // log.dirs (alias log.dir); default ./samsa-data
	NumPartitions            int32      // num.partitions; default 1
	DefaultReplicationFactor int16      // default.replication.factor; default 1
	AutoCreateTopicsEnable   bool       // auto.create.topics.enable; default true
	DeleteTopicEnable        bool       // delete.topic.enable; default true
	MessageMaxBytes          int32      // message.max.bytes; default 1048588
	SocketRequestMaxBytes    int32      // socket.request.max.bytes; default 104857600
	// ConnectionsMaxIdle is connections.max.idle.ms (default 10 minutes); <= 0 never
	// closes idle connections.
	ConnectionsMaxIdle time.Duration
	// Log defaults for every topic (log.* keys); topic overrides are resolved by LogConfig.
	Log commitlog.Config
	// LogRetentionCheckInterval is log.retention.check.interval.ms.
	LogRetentionCheckInterval time.Duration
	// LogFlushSchedulerInterval is log.flush.scheduler.interval.ms.
	LogFlushSchedulerInterval time.Duration
	// Raw holds every key as given (file, environment, overrides), for DescribeConfigs.
	// Keys of an alias group replaced by a later source are not in it.
	Raw map[string]string

	// ListenerSecurityProtocolMap is listener.security.protocol.map: listener name →
	// PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL. When the key is not given, controller
	// listeners missing from it map to PLAINTEXT, as in Kafka's KRaft mode.
	ListenerSecurityProtocolMap map[string]string
	ControllerListenerNames     []string // controller.listener.names; default none
	// InterBrokerListenerName is inter.broker.listener.name. When unset it is PLAINTEXT if
	// such a listener exists, otherwise the first listener that is not a controller one.
	InterBrokerListenerName string
	// ControllerQuorumVoters is controller.quorum.voters; empty means a single-node quorum
	// made of this node (zero-config), which needs the controller role.
	ControllerQuorumVoters []QuorumVoter
	BrokerRack             string // broker.rack
	ClusterID              string // cluster.id (Samsa-specific): base64url UUID, or "" to generate

	// Cluster mode.
	BrokerHeartbeatInterval      time.Duration // broker.heartbeat.interval.ms; default 2 s
	BrokerSessionTimeout         time.Duration // broker.session.timeout.ms; default 9 s
	ControlledShutdownEnable     bool          // controlled.shutdown.enable; default true
	ControlledShutdownTimeout    time.Duration // controlled.shutdown.timeout.ms; default 30 s
	ReplicaLagTimeMax            time.Duration // replica.lag.time.max.ms; default 30 s
	ReplicaFetchWaitMax          time.Duration // replica.fetch.wait.max.ms; default 500 ms
	ReplicaFetchMinBytes         int32         // replica.fetch.min.bytes; default 1
	ReplicaFetchMaxBytes         int32         // replica.fetch.max.bytes; default 1 MiB
	ReplicaFetchResponseMaxBytes int32         // replica.fetch.response.max.bytes; default 10 MiB
	ReplicaFetchBackoff          time.Duration // replica.fetch.backoff.ms; default 1 s
	// HighWatermarkCheckpointInterval is replica.high.watermark.checkpoint.interval.ms;
	// default 5 s.
	HighWatermarkCheckpointInterval time.Duration
	// Preferred-leader rebalancing by the active controller.
	AutoLeaderRebalanceEnable          bool          // auto.leader.rebalance.enable; default true
	LeaderImbalancePerBrokerPercentage int32         // leader.imbalance.per.broker.percentage; default 10
	LeaderImbalanceCheckInterval       time.Duration // leader.imbalance.check.interval.seconds; default 300 s

	// Broker defaults of topic-level configs that commitlog.Config does not carry.
	MinInsyncReplicas              int32         // min.insync.replicas; default 1
	UncleanLeaderElectionEnable    bool          // unclean.leader.election.enable; default false
	CompressionType                string        // compression.type; default producer
	LogCleanupPolicy               []string      // log.cleanup.policy; default [delete]
	LogCleanerDeleteRetention      time.Duration // log.cleaner.delete.retention.ms; default 1 day
	LogCleanerMinCompactionLag     time.Duration // log.cleaner.min.compaction.lag.ms; default 0
	LogCleanerMaxCompactionLag     time.Duration // log.cleaner.max.compaction.lag.ms; default unlimited
	LogCleanerMinCleanableRatio    float64       // log.cleaner.min.cleanable.ratio; default 0.5
	LogSegmentDeleteDelay          time.Duration // log.segment.delete.delay.ms; default 1 minute
	LogPreallocate                 bool          // log.preallocate; default false
	LogRollJitter                  time.Duration // log.roll.jitter.ms (alias log.roll.jitter.hours); default 0
	LogMessageDownconversionEnable bool          // log.message.downconversion.enable; default true

	OffsetsTopicNumPartitions     int32         // offsets.topic.num.partitions; default 50
	OffsetsTopicSegmentBytes      int32         // offsets.topic.segment.bytes; default 100 MiB
	OffsetsTopicReplicationFactor int16         // offsets.topic.replication.factor; default 3 (Kafka's)
	GroupInitialRebalanceDelay    time.Duration // group.initial.rebalance.delay.ms; default 3s
	GroupMinSessionTimeout        time.Duration // group.min.session.timeout.ms; default 6s
	GroupMaxSessionTimeout        time.Duration // group.max.session.timeout.ms; default 30 min
	GroupMaxSize                  int32         // group.max.size; default unlimited (MaxInt32)
	GroupConsumerSessionTimeout   time.Duration // group.consumer.session.timeout.ms; default 45 s
	GroupConsumerHeartbeat        time.Duration // group.consumer.heartbeat.interval.ms; default 5 s
	GroupConsumerMaxSize          int32         // group.consumer.max.size; default unlimited
	GroupConsumerAssignors        []string      // group.consumer.assignors; default uniform,range
	OffsetsRetention              time.Duration // offsets.retention.minutes; default 7 days
	OffsetsRetentionCheckInterval time.Duration // offsets.retention.check.interval.ms; default 10 min
	OffsetMetadataMaxBytes        int32         // offset.metadata.max.bytes; default 4096

	LogCleanerEnable       bool          // log.cleaner.enable; default true
	LogCleanerBackoff      time.Duration // log.cleaner.backoff.ms; default 15 s
	LogCleanerDedupeBuffer int64         // log.cleaner.dedupe.buffer.size; default 128 MiB
}

// Default returns Kafka's defaults, except for a zero-config single node: node.id 1,
// process.roles broker,controller, listeners PLAINTEXT://:9092, log.dirs ./samsa-data.
func Default() *Config {
	c, err := resolve(nil)
	if err != nil {
		// The defaults are constants of this package; a failure is a bug here.
		panic("config: defaults do not parse: " + err.Error())
	}
	return c
}

// Load builds the configuration from the defaults, then the properties file at path
// (skipped when path is ""), then environ entries SAMSA_<KEY>=value for known keys,
// then overrides (command-line flags). It returns warnings for unknown keys and for
// Kafka keys Samsa ignores, and an error naming the key for any bad value.
func Load(path string, environ []string, overrides map[string]string) (*Config, []string, error) {
	var layers []map[string]string
	if path != "" {
		data, err := os.ReadFile(path)
		if err != nil {
			return nil, nil, fmt.Errorf("config: %w", err)
		}
		props, err := ParseProperties(string(data))
		if err != nil {
			return nil, nil, fmt.Errorf("%w (in %s)", err, path)
		}
		layers = append(layers, props)
	}
	env := make(map[string]string)
	for _, kv := range environ {
		name, value, ok := strings.Cut(kv, "=")
		if !ok {
			continue
		}
		if key, ok := envKeys[name]; ok {
			env[key] = value
		}
	}
	layers = append(layers, env, overrides)

	raw := make(map[string]string)
	for _, layer := range layers {
		// A source that sets one key of an alias group takes the whole group over.
		for key := range layer {
			for _, alias := range aliasGroup(key) {
				if _, mine := layer[alias]; !mine {
					delete(raw, alias)
				}
			}
		}
		for key, value := range layer {
			raw[key] = value
		}
	}
	warnings := warningsFor(raw)
	c, err := resolve(raw)
	if err != nil {
		return nil, warnings, err
	}
	if err := c.Validate(); err != nil {
		return nil, warnings, err
	}
	return c, warnings, nil
}

func warningsFor(raw map[string]string) []string {
	keys := make([]string, 0, len(raw))
	for k := range raw {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var warnings []string
	for _, k := range keys {
		if IsBrokerKey(k) {
			continue
		}
		if reason, ok := ignoredReason(k); ok {
			warnings = append(warnings, fmt.Sprintf("config: %s is accepted but ignored: %s", k, reason))
		} else {
			warnings = append(warnings, fmt.Sprintf("config: unknown key %q is ignored", k))
		}
	}
	return warnings
}

// props reads keys from the raw map, falling back to the registry's defaults, and
// parses them with errors that name the key.
type props struct{ raw map[string]string }

func (p props) isSet(key string) bool {
	_, ok := p.raw[key]
	return ok
}

// value returns the key's trimmed value (Kafka trims every value it parses) or default.
func (p props) value(key string) string {
	if v, ok := p.raw[key]; ok {
		return strings.TrimSpace(v)
	}
	return brokerKeys[key].def
}

func (p props) int(key string, bits int) (int64, error) { return parseInt(key, p.value(key), bits) }
func (p props) bool(key string) (bool, error)           { return parseBool(key, p.value(key)) }
func (p props) list(key string) []string                { return parseList(p.value(key)) }

func parseInt(key, v string, bits int) (int64, error) {
	v = strings.TrimSpace(v)
	n, err := strconv.ParseInt(v, 10, bits)
	if err != nil {
		if ne, ok := err.(*strconv.NumError); ok && ne.Err == strconv.ErrRange {
			return 0, fmt.Errorf("config: %s: %q is out of range", key, v)
		}
		return 0, fmt.Errorf("config: %s: %q is not an integer", key, v)
	}
	return n, nil
}

func parseBool(key, v string) (bool, error) {
	v = strings.TrimSpace(v)
	switch {
	case strings.EqualFold(v, "true"):
		return true, nil
	case strings.EqualFold(v, "false"):
		return false, nil
	}
	return false, fmt.Errorf("config: %s: %q is not a boolean (true or false)", key, v)
}

func parseDouble(key, v string) (float64, error) {
	v = strings.TrimSpace(v)
	f, err := strconv.ParseFloat(v, 64)
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
		return 0, fmt.Errorf("config: %s: %q is not a number", key, v)
	}
	return f, nil
}

// parseList splits a comma-separated list, trimming entries and dropping empty ones.
func parseList(v string) []string {
	var out []string
	for _, s := range strings.Split(v, ",") {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}

// msToDuration converts milliseconds, saturating instead of overflowing: Kafka's
// Long.MAX_VALUE "forever" becomes the largest Duration.
func msToDuration(ms int64) time.Duration {
	const limit = math.MaxInt64 / int64(time.Millisecond)
	switch {
	case ms > limit:
		return math.MaxInt64
	case ms < -limit:
		return math.MinInt64
	}
	return time.Duration(ms) * time.Millisecond
}

// durationToMs is msToDuration's inverse, mapping the saturated Duration back to
// Long.MAX_VALUE.
func durationToMs(d time.Duration) int64 {
	if d == math.MaxInt64 {
		return math.MaxInt64
	}
	return d.Milliseconds()
}

// timestampMax converts message.timestamp.{before,after}.max.ms to commitlog's form, in
// which a negative value disables the check: a limit too large for a Duration (Kafka's
// Long.MAX_VALUE default) can never be reached, so it disables the check too.
func timestampMax(ms int64) time.Duration {
	if d := msToDuration(ms); d != math.MaxInt64 {
		return d
	}
	return -1
}

// timestampMaxMs is timestampMax's inverse for display.
func timestampMaxMs(d time.Duration) int64 {
	if d < 0 {
		return math.MaxInt64
	}
	return durationToMs(d)
}

func parseTimestampType(key, v string) (commitlog.TimestampType, error) {
	switch strings.TrimSpace(v) {
	case "CreateTime":
		return commitlog.CreateTime, nil
	case "LogAppendTime":
		return commitlog.LogAppendTime, nil
	}
	return 0, fmt.Errorf("config: %s: %q is not CreateTime or LogAppendTime", key, strings.TrimSpace(v))
}

func timestampTypeName(t commitlog.TimestampType) string {
	if t == commitlog.LogAppendTime {
		return "LogAppendTime"
	}
	return "CreateTime"
}

// ParseListener parses NAME://host:port; the name is upper-cased as Kafka normalises
// listener names, and an IPv6 host is written in brackets.
func ParseListener(s string) (Listener, error) {
	s = strings.TrimSpace(s)
	name, addr, ok := strings.Cut(s, "://")
	if !ok || name == "" || strings.ContainsAny(name, " \t,:/") {
		return Listener{}, fmt.Errorf("%q is not NAME://host:port", s)
	}
	host, port, err := splitHostPort(addr)
	if err != nil {
		return Listener{}, fmt.Errorf("%q is not NAME://host:port: %v", s, err)
	}
	return Listener{Name: strings.ToUpper(name), Host: host, Port: port}, nil
}

// splitHostPort splits host:port, allowing an empty host and a bracketed IPv6 host; the
// port must be a number (its range is checked by Validate).
func splitHostPort(addr string) (string, int32, error) {
	i := strings.LastIndexByte(addr, ':')
	if i < 0 {
		return "", 0, fmt.Errorf("missing port")
	}
	host, portStr := addr[:i], addr[i+1:]
	if strings.HasPrefix(host, "[") {
		if !strings.HasSuffix(host, "]") {
			return "", 0, fmt.Errorf("unclosed bracket in host")
		}
		host = host[1 : len(host)-1]
	} else if strings.ContainsAny(host, ":[]") {
		return "", 0, fmt.Errorf("an IPv6 host must be in brackets")
	}
	if strings.ContainsAny(host, " \t/@,") {
		return "", 0, fmt.Errorf("bad host %q", host)
	}
	port, err := strconv.ParseInt(portStr, 10, 32)
	if err != nil {
		return "", 0, fmt.Errorf("bad port %q", portStr)
	}
	return host, int32(port), nil
}

func parseListeners(key, v string) ([]Listener, error) {
	var out []Listener
	for _, s := range parseList(v) {
		l, err := ParseListener(s)
		if err != nil {
			return nil, fmt.Errorf("config: %s: %v", key, err)
		}
		out = append(out, l)
	}
	return out, nil
}

func parseVoters(key, v string) ([]QuorumVoter, error) {
	var out []QuorumVoter
	for _, s := range parseList(v) {
		idStr, addr, ok := strings.Cut(s, "@")
		if !ok {
			return nil, fmt.Errorf("config: %s: %q is not id@host:port", key, s)
		}
		id, err := strconv.ParseInt(strings.TrimSpace(idStr), 10, 32)
		if err != nil {
			return nil, fmt.Errorf("config: %s: %q is not id@host:port: bad id %q", key, s, idStr)
		}
		host, port, err := splitHostPort(addr)
		if err != nil {
			return nil, fmt.Errorf("config: %s: %q is not id@host:port: %v", key, s, err)
		}
		out = append(out, QuorumVoter{ID: int32(id), Host: host, Port: port})
	}
	return out, nil
}

func parseProtocolMap(key, v string) (map[string]string, error) {
	m := make(map[string]string)
	for _, s := range parseList(v) {
		name, proto, ok := strings.Cut(s, ":")
		name, proto = strings.ToUpper(strings.TrimSpace(name)), strings.ToUpper(strings.TrimSpace(proto))
		if !ok || name == "" || proto == "" {
			return nil, fmt.Errorf("config: %s: %q is not LISTENER_NAME:PROTOCOL", key, s)
		}
		if _, dup := m[name]; dup {
			return nil, fmt.Errorf("config: %s: listener %s is mapped twice", key, name)
		}
		m[name] = proto
	}
	return m, nil
}

// resolve turns raw keys (nil for none) into a Config, applying Kafka's precedence among
// aliases. It reports values that do not parse; ranges and contradictions are Validate's.
func resolve(raw map[string]string) (*Config, error) {
	p := props{raw: raw}
	c := &Config{Raw: make(map[string]string, len(raw)), Log: commitlog.DefaultConfig()}
	for k, v := range raw {
		c.Raw[k] = v
	}
	var firstErr error
	check := func(err error) bool {
		if err != nil && firstErr == nil {
			firstErr = err
		}
		return err == nil
	}

	// node.id and broker.id: either may be given; both must agree.
	nodeKey := "node.id"
	if !p.isSet("node.id") && p.isSet("broker.id") {
		nodeKey = "broker.id"
	}
	if n, err := p.int(nodeKey, 32); check(err) {
		c.NodeID = int32(n)
	}
	if p.isSet("node.id") && p.isSet("broker.id") {
		b, err := p.int("broker.id", 32)
		if check(err) && int32(b) != c.NodeID {
			check(fmt.Errorf("config: broker.id: %d differs from node.id %d; set only node.id", b, c.NodeID))
		}
	}

	c.ProcessRoles = p.list("process.roles")
	if l, err := parseListeners("listeners", p.value("listeners")); check(err) {
		c.Listeners = l
	}
	if m, err := parseProtocolMap("listener.security.protocol.map", p.value("listener.security.protocol.map")); check(err) {
		c.ListenerSecurityProtocolMap = m
	}
	c.ControllerListenerNames = upperAll(p.list("controller.listener.names"))
	if p.isSet("inter.broker.listener.name") {
		c.InterBrokerListenerName = strings.ToUpper(p.value("inter.broker.listener.name"))
	}
	if p.isSet("advertised.listeners") {
		if l, err := parseListeners("advertised.listeners", p.value("advertised.listeners")); check(err) {
			c.AdvertisedListeners = l
		}
	} else {
		// Kafka advertises every listener except the controller's.
		for _, l := range c.Listeners {
			if !contains(c.ControllerListenerNames, l.Name) {
				c.AdvertisedListeners = append(c.AdvertisedListeners, l)
			}
		}
	}
	if !p.isSet("listener.security.protocol.map") && c.ListenerSecurityProtocolMap != nil {
		for _, name := range c.ControllerListenerNames {
			if _, ok := c.ListenerSecurityProtocolMap[name]; !ok {
				c.ListenerSecurityProtocolMap[name] = "PLAINTEXT"
			}
		}
	}
	if c.InterBrokerListenerName == "" {
		c.InterBrokerListenerName = defaultInterBrokerListener(c)
	}
	if v, err := parseVoters("controller.quorum.voters", p.value("controller.quorum.voters")); check(err) {
		c.ControllerQuorumVoters = v
	}

	if p.isSet("log.dirs") {
		c.LogDirs = p.list("log.dirs")
	} else {
		c.LogDirs = parseList(p.value("log.dir"))
	}

	if n, err := p.int("num.partitions", 32); check(err) {
		c.NumPartitions = int32(n)
	}
	// Kafka's default.replication.factor is an INT; the wire carries an int16.
	if n, err := p.int("default.replication.factor", 32); check(err) {
		if n > math.MaxInt16 {
			check(fmt.Errorf("config: default.replication.factor: %d is out of range", n))
		}
		c.DefaultReplicationFactor = int16(n)
	}
	if b, err := p.bool("auto.create.topics.enable"); check(err) {
		c.AutoCreateTopicsEnable = b
	}
	if b, err := p.bool("delete.topic.enable"); check(err) {
		c.DeleteTopicEnable = b
	}
	if n, err := p.int("message.max.bytes", 32); check(err) {
		c.MessageMaxBytes = int32(n)
		c.Log.MaxMessageBytes = int32(n)
	}
	if n, err := p.int("socket.request.max.bytes", 32); check(err) {
		c.SocketRequestMaxBytes = int32(n)
	}
	if n, err := p.int("connections.max.idle.ms", 64); check(err) {
		c.ConnectionsMaxIdle = msToDuration(n)
	}
	for key, dst := range map[string]*time.Duration{
		"broker.heartbeat.interval.ms":                  &c.BrokerHeartbeatInterval,
		"broker.session.timeout.ms":                     &c.BrokerSessionTimeout,
		"controlled.shutdown.timeout.ms":                &c.ControlledShutdownTimeout,
		"replica.lag.time.max.ms":                       &c.ReplicaLagTimeMax,
		"replica.fetch.wait.max.ms":                     &c.ReplicaFetchWaitMax,
		"replica.fetch.backoff.ms":                      &c.ReplicaFetchBackoff,
		"replica.high.watermark.checkpoint.interval.ms": &c.HighWatermarkCheckpointInterval,
	} {
		if n, err := p.int(key, 64); check(err) {
			*dst = msToDuration(n)
		}
	}
	for key, dst := range map[string]*int32{
		"replica.fetch.min.bytes":          &c.ReplicaFetchMinBytes,
		"replica.fetch.max.bytes":          &c.ReplicaFetchMaxBytes,
		"replica.fetch.response.max.bytes": &c.ReplicaFetchResponseMaxBytes,
	} {
		if n, err := p.int(key, 32); check(err) {
			*dst = int32(n)
		}
	}
	if b, err := p.bool("controlled.shutdown.enable"); check(err) {
		c.ControlledShutdownEnable = b
	}
	if b, err := p.bool("auto.leader.rebalance.enable"); check(err) {
		c.AutoLeaderRebalanceEnable = b
	}
	if n, err := p.int("leader.imbalance.per.broker.percentage", 32); check(err) {
		c.LeaderImbalancePerBrokerPercentage = int32(n)
	}
	if n, err := p.int("leader.imbalance.check.interval.seconds", 64); check(err) {
		c.LeaderImbalanceCheckInterval = time.Duration(n) * time.Second
	}

	// log.retention.ms > log.retention.minutes > log.retention.hours; any negative
	// result means "keep forever" (-1), as Kafka normalises it.
	var retentionMs int64
	var err error
	switch {
	case p.isSet("log.retention.ms"):
		retentionMs, err = p.int("log.retention.ms", 64)
	case p.isSet("log.retention.minutes"):
		var m int64
		if m, err = p.int("log.retention.minutes", 32); err == nil {
			retentionMs = m * 60 * 1000
		}
	default:
		var h int64
		if h, err = p.int("log.retention.hours", 32); err == nil {
			retentionMs = h * 60 * 60 * 1000
		}
	}
	if check(err) {
		if retentionMs < 0 {
			retentionMs = -1
		}
		c.Log.RetentionTime = msToDuration(retentionMs)
	}
	if n, err := p.int("log.retention.bytes", 64); check(err) {
		c.Log.RetentionBytes = n
	}
	if n, err := p.int("log.segment.bytes", 32); check(err) {
		c.Log.SegmentBytes = n
	}
	// log.roll.ms > log.roll.hours.
	if p.isSet("log.roll.ms") {
		if n, err := p.int("log.roll.ms", 64); check(err) {
			c.Log.SegmentAge = msToDuration(n)
		}
	} else if n, err := p.int("log.roll.hours", 32); check(err) {
		if n < 1 {
			check(fmt.Errorf("config: log.roll.hours: must be at least 1, got %d", n))
		}
		c.Log.SegmentAge = msToDuration(n * 60 * 60 * 1000)
	}
	if p.isSet("log.roll.jitter.ms") {
		if n, err := p.int("log.roll.jitter.ms", 64); check(err) {
			c.LogRollJitter = msToDuration(n)
		}
	} else if n, err := p.int("log.roll.jitter.hours", 32); check(err) {
		if n < 0 {
			check(fmt.Errorf("config: log.roll.jitter.hours: must be at least 0, got %d", n))
		}
		c.LogRollJitter = msToDuration(n * 60 * 60 * 1000)
	}
	if n, err := p.int("log.index.interval.bytes", 32); check(err) {
		c.Log.IndexIntervalBytes = int(n)
	}
	if n, err := p.int("log.index.size.max.bytes", 32); check(err) {
		c.Log.SegmentIndexBytes = int(n)
	}
	if n, err := p.int("log.retention.check.interval.ms", 64); check(err) {
		c.LogRetentionCheckInterval = msToDuration(n)
	}
	if n, err := p.int("log.flush.interval.messages", 64); check(err) {
		c.Log.FlushMessages = n
	}
	if n, err := p.int("log.flush.scheduler.interval.ms", 64); check(err) {
		c.LogFlushSchedulerInterval = msToDuration(n)
		c.Log.FlushInterval = c.LogFlushSchedulerInterval
	}
	// log.flush.interval.ms falls back to log.flush.scheduler.interval.ms, as in Kafka.
	if p.isSet("log.flush.interval.ms") {
		if n, err := p.int("log.flush.interval.ms", 64); check(err) {
			c.Log.FlushInterval = msToDuration(n)
		}
	}
	if t, err := parseTimestampType("log.message.timestamp.type", p.value("log.message.timestamp.type")); check(err) {
		c.Log.TimestampType = t
	}
	if n, err := p.int("log.message.timestamp.before.max.ms", 64); check(err) {
		if n < 0 {
			check(fmt.Errorf("config: log.message.timestamp.before.max.ms: must be at least 0, got %d", n))
		}
		c.Log.TimestampBeforeMax = timestampMax(n)
	}
	if n, err := p.int("log.message.timestamp.after.max.ms", 64); check(err) {
		if n < 0 {
			check(fmt.Errorf("config: log.message.timestamp.after.max.ms: must be at least 0, got %d", n))
		}
		c.Log.TimestampAfterMax = timestampMax(n)
	}
	if b, err := p.bool("log.message.downconversion.enable"); check(err) {
		c.LogMessageDownconversionEnable = b
	}
	c.LogCleanupPolicy = p.list("log.cleanup.policy")
	if n, err := p.int("log.cleaner.delete.retention.ms", 64); check(err) {
		c.LogCleanerDeleteRetention = msToDuration(n)
	}
	if n, err := p.int("log.cleaner.min.compaction.lag.ms", 64); check(err) {
		c.LogCleanerMinCompactionLag = msToDuration(n)
	}
	if n, err := p.int("log.cleaner.max.compaction.lag.ms", 64); check(err) {
		c.LogCleanerMaxCompactionLag = msToDuration(n)
	}
	if f, err := parseDouble("log.cleaner.min.cleanable.ratio", p.value("log.cleaner.min.cleanable.ratio")); check(err) {
		c.LogCleanerMinCleanableRatio = f
	}
	if n, err := p.int("log.segment.delete.delay.ms", 64); check(err) {
		c.LogSegmentDeleteDelay = msToDuration(n)
	}
	if b, err := p.bool("log.preallocate"); check(err) {
		c.LogPreallocate = b
	}
	if n, err := p.int("producer.id.expiration.ms", 32); check(err) {
		c.Log.ProducerIDExpiration = msToDuration(n)
	}
	if n, err := p.int("min.insync.replicas", 32); check(err) {
		c.MinInsyncReplicas = int32(n)
	}
	if b, err := p.bool("unclean.leader.election.enable"); check(err) {
		c.UncleanLeaderElectionEnable = b
	}
	c.CompressionType = strings.ToLower(p.value("compression.type"))
	if n, err := p.int("offsets.topic.segment.bytes", 32); check(err) {
		c.OffsetsTopicSegmentBytes = int32(n)
	}
	if n, err := p.int("offsets.topic.num.partitions", 32); check(err) {
		c.OffsetsTopicNumPartitions = int32(n)
	}
	if n, err := p.int("offsets.topic.replication.factor", 16); check(err) {
		c.OffsetsTopicReplicationFactor = int16(n)
	}
	if n, err := p.int("group.initial.rebalance.delay.ms", 32); check(err) {
		c.GroupInitialRebalanceDelay = msToDuration(n)
	}
	if n, err := p.int("group.min.session.timeout.ms", 32); check(err) {
		c.GroupMinSessionTimeout = msToDuration(n)
	}
	if n, err := p.int("group.max.session.timeout.ms", 32); check(err) {
		c.GroupMaxSessionTimeout = msToDuration(n)
	}
	if n, err := p.int("group.max.size", 32); check(err) {
		c.GroupMaxSize = int32(n)
	}
	if n, err := p.int("group.consumer.session.timeout.ms", 32); check(err) {
		c.GroupConsumerSessionTimeout = msToDuration(n)
	}
	if n, err := p.int("group.consumer.heartbeat.interval.ms", 32); check(err) {
		c.GroupConsumerHeartbeat = msToDuration(n)
	}
	if n, err := p.int("group.consumer.max.size", 32); check(err) {
		c.GroupConsumerMaxSize = int32(n)
	}
	c.GroupConsumerAssignors = p.list("group.consumer.assignors")
	if n, err := p.int("offsets.retention.minutes", 32); check(err) {
		c.OffsetsRetention = time.Duration(n) * time.Minute
	}
	if n, err := p.int("offsets.retention.check.interval.ms", 64); check(err) {
		c.OffsetsRetentionCheckInterval = msToDuration(n)
	}
	if n, err := p.int("offset.metadata.max.bytes", 32); check(err) {
		c.OffsetMetadataMaxBytes = int32(n)
	}
	if b, err := p.bool("log.cleaner.enable"); check(err) {
		c.LogCleanerEnable = b
	}
	if n, err := p.int("log.cleaner.backoff.ms", 64); check(err) {
		c.LogCleanerBackoff = msToDuration(n)
	}
	if n, err := p.int("log.cleaner.dedupe.buffer.size", 64); check(err) {
		c.LogCleanerDedupeBuffer = n
	}
	if p.isSet("broker.rack") {
		c.BrokerRack = p.value("broker.rack")
	}
	if p.isSet("cluster.id") {
		c.ClusterID = p.value("cluster.id")
	}
	if firstErr != nil {
		return nil, firstErr
	}
	return c, nil
}

// defaultInterBrokerListener picks the listener brokers use when
// inter.broker.listener.name is unset: Kafka's PLAINTEXT if it exists, else the first
// advertised listener (Kafka would refuse to start; one obvious choice is friendlier).
func defaultInterBrokerListener(c *Config) string {
	for _, l := range c.AdvertisedListeners {
		if l.Name == "PLAINTEXT" {
			return l.Name
		}
	}
	for _, l := range c.AdvertisedListeners {
		if !contains(c.ControllerListenerNames, l.Name) {
			return l.Name
		}
	}
	return ""
}

func upperAll(s []string) []string {
	for i := range s {
		s[i] = strings.ToUpper(s[i])
	}
	return s
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// HasRole reports whether process.roles includes role ("broker" or "controller").
func (c *Config) HasRole(role string) bool { return contains(c.ProcessRoles, role) }

// keyFor names the key a setting came from: the first of keys given explicitly, else
// the first (the canonical one).
func (c *Config) keyFor(keys ...string) string {
	for _, k := range keys {
		if _, ok := c.Raw[k]; ok {
			return k
		}
	}
	return keys[0]
}

// Validate rejects out-of-range values and contradictions, naming the key.
func (c *Config) Validate() error {
	errf := func(key, format string, args ...any) error {
		return fmt.Errorf("config: %s: %s", key, fmt.Sprintf(format, args...))
	}
	atLeast := func(key string, v, min int64) error {
		if v < min {
			return errf(key, "must be at least %d, got %d", min, v)
		}
		return nil
	}
	nodeKey := c.keyFor("node.id", "broker.id")
	retentionKey := c.keyFor("log.retention.ms", "log.retention.minutes", "log.retention.hours")
	rollKey := c.keyFor("log.roll.ms", "log.roll.hours")
	jitterKey := c.keyFor("log.roll.jitter.ms", "log.roll.jitter.hours")
	dirsKey := c.keyFor("log.dirs", "log.dir")
	ms := durationToMs

	checks := []error{
		atLeast(nodeKey, int64(c.NodeID), 0),
		c.validateRoles(),
		c.validateListeners(),
		c.validateQuorum(),
		atLeast("num.partitions", int64(c.NumPartitions), 1),
		atLeast("default.replication.factor", int64(c.DefaultReplicationFactor), 1),
		atLeast("message.max.bytes", int64(c.MessageMaxBytes), 0),
		atLeast("socket.request.max.bytes", int64(c.SocketRequestMaxBytes), 1),
		atLeast("log.segment.bytes", c.Log.SegmentBytes, minSegmentBytes),
		atMost("log.segment.bytes", c.Log.SegmentBytes, math.MaxInt32),
		atLeast(rollKey, ms(c.Log.SegmentAge), 1),
		atLeast(jitterKey, ms(c.LogRollJitter), 0),
		atLeast("log.index.size.max.bytes", int64(c.Log.SegmentIndexBytes), 4),
		atLeast("log.index.interval.bytes", int64(c.Log.IndexIntervalBytes), 0),
		atLeast("log.retention.check.interval.ms", ms(c.LogRetentionCheckInterval), 1),
		atLeast("log.flush.interval.messages", c.Log.FlushMessages, 1),
		atLeast(c.keyFor("log.flush.interval.ms", "log.flush.scheduler.interval.ms"), ms(c.Log.FlushInterval), 0),
		// A zero interval would make the flusher's ticker spin (and time.NewTicker panic).
		atLeast("log.flush.scheduler.interval.ms", ms(c.LogFlushSchedulerInterval), 1),
		atLeast("producer.id.expiration.ms", ms(c.Log.ProducerIDExpiration), 1),
		atLeast("min.insync.replicas", int64(c.MinInsyncReplicas), 1),
		atLeast("broker.heartbeat.interval.ms", ms(c.BrokerHeartbeatInterval), 1),
		atLeast("broker.session.timeout.ms", ms(c.BrokerSessionTimeout), ms(c.BrokerHeartbeatInterval)+1),
		atLeast("controlled.shutdown.timeout.ms", ms(c.ControlledShutdownTimeout), 0),
		atLeast("replica.lag.time.max.ms", ms(c.ReplicaLagTimeMax), 1),
		atLeast("replica.fetch.wait.max.ms", ms(c.ReplicaFetchWaitMax), 0),
		atLeast("replica.fetch.min.bytes", int64(c.ReplicaFetchMinBytes), 1),
		atLeast("replica.fetch.max.bytes", int64(c.ReplicaFetchMaxBytes), 1),
		atLeast("replica.fetch.response.max.bytes", int64(c.ReplicaFetchResponseMaxBytes), 1),
		atLeast("replica.fetch.backoff.ms", ms(c.ReplicaFetchBackoff), 0),
		// A zero interval would make the checkpoint ticker panic.
		atLeast("replica.high.watermark.checkpoint.interval.ms", ms(c.HighWatermarkCheckpointInterval), 1),
		atLeast("leader.imbalance.per.broker.percentage", int64(c.LeaderImbalancePerBrokerPercentage), 0),
		atMost("leader.imbalance.per.broker.percentage", int64(c.LeaderImbalancePerBrokerPercentage), 100),
		// A zero interval would make the controller's ticker panic.
		atLeast("leader.imbalance.check.interval.seconds", int64(c.LeaderImbalanceCheckInterval/time.Second), 1),
		atLeast("offsets.topic.num.partitions", int64(c.OffsetsTopicNumPartitions), 1),
		atLeast("offsets.topic.replication.factor", int64(c.OffsetsTopicReplicationFactor), 1),
		atLeast("offsets.topic.segment.bytes", int64(c.OffsetsTopicSegmentBytes), minSegmentBytes),
		atLeast("group.min.session.timeout.ms", ms(c.GroupMinSessionTimeout), 0),
		atLeast("group.max.session.timeout.ms", ms(c.GroupMaxSessionTimeout), ms(c.GroupMinSessionTimeout)),
		atLeast("group.max.size", int64(c.GroupMaxSize), 1),
		atLeast("group.consumer.session.timeout.ms", ms(c.GroupConsumerSessionTimeout), 1),
		atLeast("group.consumer.heartbeat.interval.ms", ms(c.GroupConsumerHeartbeat), 1),
		atLeast("group.consumer.max.size", int64(c.GroupConsumerMaxSize), 1),
		c.validateAssignors(),
		atLeast("offsets.retention.minutes", int64(c.OffsetsRetention/time.Minute), 1),
		atLeast("offsets.retention.check.interval.ms", ms(c.OffsetsRetentionCheckInterval), 1),
		atLeast("offset.metadata.max.bytes", int64(c.OffsetMetadataMaxBytes), 0),
		atLeast("log.cleaner.backoff.ms", ms(c.LogCleanerBackoff), 1),
		atLeast("log.cleaner.dedupe.buffer.size", c.LogCleanerDedupeBuffer, 1<<20),
		atLeast("group.initial.rebalance.delay.ms", ms(c.GroupInitialRebalanceDelay), 0),
		atLeast("log.cleaner.delete.retention.ms", ms(c.LogCleanerDeleteRetention), 0),
		atLeast("log.cleaner.min.compaction.lag.ms", ms(c.LogCleanerMinCompactionLag), 0),
		atLeast("log.cleaner.max.compaction.lag.ms", ms(c.LogCleanerMaxCompactionLag), 1),
		atLeast("log.segment.delete.delay.ms", ms(c.LogSegmentDeleteDelay), 0),
	}
	for _, err := range checks {
		if err != nil {
			return err
		}
	}
	// Kafka: "log.retention.ms must be unlimited (-1) or, equal or greater than 1".
	if c.Log.RetentionTime >= 0 && c.Log.RetentionTime < time.Millisecond {
		return errf(retentionKey, "must be -1 (unlimited) or at least 1 ms")
	}
	if c.Log.MaxMessageBytes < 0 {
		return errf("message.max.bytes", "must be at least 0, got %d", c.Log.MaxMessageBytes)
	}
	if c.Log.TimestampType != commitlog.CreateTime && c.Log.TimestampType != commitlog.LogAppendTime {
		return errf("log.message.timestamp.type", "must be CreateTime or LogAppendTime")
	}
	if len(c.LogDirs) == 0 {
		return errf(dirsKey, "at least one directory is required")
	}
	seen := make(map[string]bool)
	for _, d := range c.LogDirs {
		if seen[d] {
			return errf(dirsKey, "directory %q is listed twice", d)
		}
		seen[d] = true
	}
	if err := validateCleanupPolicy("log.cleanup.policy", c.LogCleanupPolicy); err != nil {
		return err
	}
	if !compressionTypes[c.CompressionType] {
		return errf("compression.type", "%q is not one of %s", c.CompressionType, compressionTypeNames)
	}
	if r := c.LogCleanerMinCleanableRatio; r < 0 || r > 1 || math.IsNaN(r) {
		return errf("log.cleaner.min.cleanable.ratio", "must be between 0 and 1, got %v", r)
	}
	if c.LogCleanerMinCompactionLag > c.LogCleanerMaxCompactionLag {
		return errf("log.cleaner.min.compaction.lag.ms", "must not exceed log.cleaner.max.compaction.lag.ms")
	}
	if c.ClusterID != "" {
		if err := validateClusterID(c.ClusterID); err != nil {
			return errf("cluster.id", "%v", err)
		}
	}
	return nil
}

func atMost(key string, v, max int64) error {
	if v > max {
		return fmt.Errorf("config: %s: must be at most %d, got %d", key, max, v)
	}
	return nil
}

// minSegmentBytes is Kafka's smallest segment.bytes: one legacy v0 record's overhead.
const minSegmentBytes = 14

// validateAssignors accepts the server-side assignors Samsa has.
func (c *Config) validateAssignors() error {
	if len(c.GroupConsumerAssignors) == 0 {
		return fmt.Errorf("config: group.consumer.assignors: at least one assignor is needed")
	}
	for _, a := range c.GroupConsumerAssignors {
		switch a {
		case "uniform", "range", "org.apache.kafka.coordinator.group.assignor.UniformAssignor", "org.apache.kafka.coordinator.group.assignor.RangeAssignor":
		default:
			return fmt.Errorf("config: group.consumer.assignors: %q is not uniform or range", a)
		}
	}
	return nil
}

func (c *Config) validateRoles() error {
	if len(c.ProcessRoles) == 0 {
		return fmt.Errorf("config: process.roles: must name broker, controller or both (Samsa has no ZooKeeper mode)")
	}
	seen := make(map[string]bool)
	for _, r := range c.ProcessRoles {
		if r != "broker" && r != "controller" {
			return fmt.Errorf("config: process.roles: %q is not broker or controller", r)
		}
		if seen[r] {
			return fmt.Errorf("config: process.roles: %q is listed twice", r)
		}
		seen[r] = true
	}
	return nil
}

func (c *Config) validateListeners() error {
	if len(c.Listeners) == 0 {
		return fmt.Errorf("config: listeners: at least one listener is required")
	}
	names, err := checkListenerList("listeners", c.Listeners, false)
	if err != nil {
		return err
	}
	advertised, err := checkListenerList("advertised.listeners", c.AdvertisedListeners, true)
	if err != nil {
		return err
	}
	for name := range advertised {
		if !names[name] {
			return fmt.Errorf("config: advertised.listeners: listener %s is not in listeners", name)
		}
	}
	for name := range names {
		if _, ok := c.ListenerSecurityProtocolMap[name]; !ok {
			return fmt.Errorf("config: listener.security.protocol.map: no security protocol for listener %s", name)
		}
	}
	for name, proto := range c.ListenerSecurityProtocolMap {
		if !securityProtocols[proto] {
			return fmt.Errorf("config: listener.security.protocol.map: %s: %q is not PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL", name, proto)
		}
	}
	for _, name := range c.ControllerListenerNames {
		switch {
		case c.HasRole("controller") && !names[name]:
			return fmt.Errorf("config: controller.listener.names: %s is not in listeners", name)
		case !c.HasRole("controller") && names[name]:
			return fmt.Errorf("config: controller.listener.names: %s must not be in listeners of a broker-only node", name)
		}
	}
	if c.HasRole("broker") {
		ib := c.InterBrokerListenerName
		switch {
		case ib == "":
			return fmt.Errorf("config: inter.broker.listener.name: no listener available for brokers")
		case !advertised[ib]:
			return fmt.Errorf("config: inter.broker.listener.name: %s is not in advertised.listeners", ib)
		case contains(c.ControllerListenerNames, ib):
			return fmt.Errorf("config: inter.broker.listener.name: %s is a controller listener", ib)
		}
	}
	return nil
}

// checkListenerList checks names are non-empty and unique and ports in range; it returns
// the set of names.
func checkListenerList(key string, ls []Listener, advertised bool) (map[string]bool, error) {
	names := make(map[string]bool)
	ports := make(map[string]string) // host:port → listener name, to catch two binds of one address
	for _, l := range ls {
		if l.Name == "" {
			return nil, fmt.Errorf("config: %s: listener with an empty name", key)
		}
		if names[l.Name] {
			return nil, fmt.Errorf("config: %s: listener name %s is used twice", key, l.Name)
		}
		names[l.Name] = true
		if l.Port < 0 || l.Port > 65535 {
			return nil, fmt.Errorf("config: %s: %s: port %d is not in 0..65535", key, l.Name, l.Port)
		}
		if advertised {
			if ip := net.ParseIP(l.Host); ip != nil && ip.IsUnspecified() {
				return nil, fmt.Errorf("config: %s: %s: cannot advertise the unspecified address %s", key, l.Name, l.Host)
			}
			continue
		}
		if l.Port != 0 {
			addr := net.JoinHostPort(l.Host, strconv.Itoa(int(l.Port)))
			if other, dup := ports[addr]; dup {
				return nil, fmt.Errorf("config: %s: %s and %s both bind %s", key, other, l.Name, addr)
			}
			ports[addr] = l.Name
		}
	}
	return names, nil
}

func (c *Config) validateQuorum() error {
	const key = "controller.quorum.voters"
	if len(c.ControllerQuorumVoters) == 0 {
		if !c.HasRole("controller") {
			return fmt.Errorf("config: %s: required when process.roles does not include controller", key)
		}
		return nil // a single-node quorum of this node
	}
	ids := make(map[int32]bool)
	for _, v := range c.ControllerQuorumVoters {
		if v.ID < 0 {
			return fmt.Errorf("config: %s: voter id %d is negative", key, v.ID)
		}
		if ids[v.ID] {
			return fmt.Errorf("config: %s: voter id %d is listed twice", key, v.ID)
		}
		ids[v.ID] = true
		if v.Host == "" || v.Port < 1 || v.Port > 65535 {
			return fmt.Errorf("config: %s: voter %d needs a host and a port in 1..65535", key, v.ID)
		}
	}
	switch {
	case !c.HasRole("controller") && ids[c.NodeID]:
		return fmt.Errorf("config: %s: node.id %d is a voter but process.roles lacks controller", key, c.NodeID)
	case c.HasRole("controller") && len(c.ControllerListenerNames) == 0:
		return fmt.Errorf("config: controller.listener.names: required when %s is set: the voters talk on that listener", key)
	}
	return nil
}

// validateClusterID checks Kafka's cluster ID form: a UUID in unpadded base64url.
func validateClusterID(id string) error {
	b, err := base64.RawURLEncoding.DecodeString(id)
	if err != nil || len(b) != 16 {
		return fmt.Errorf("%q is not a 22-character base64url UUID", id)
	}
	return nil
}
