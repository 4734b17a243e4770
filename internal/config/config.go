// Package config is the server configuration: Kafka's server.properties keys, their
// defaults, parsing from a properties file, the environment and flags, and validation.
package config

import (
	"time"

	"github.com/samsa-io/samsa/internal/commitlog"
)

// Listener is one entry of listeners / advertised.listeners: NAME://host:port.
type Listener struct {
	Name string // listener name, e.g. PLAINTEXT
	Host string // may be empty: all interfaces (listeners) / the machine's hostname (advertised)
	Port int32
}

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
	// Log defaults for every topic (log.* keys); topic overrides are resolved by LogConfig.
	Log commitlog.Config
	// LogRetentionCheckInterval is log.retention.check.interval.ms.
	LogRetentionCheckInterval time.Duration
	// LogFlushSchedulerInterval is log.flush.scheduler.interval.ms.
	LogFlushSchedulerInterval time.Duration
	// Raw holds every key as given (file, environment, overrides), for DescribeConfigs.
	Raw map[string]string
}
