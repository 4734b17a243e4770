// Package config is the server configuration: Kafka's server.properties keys, their
// defaults, parsing from a properties file, the environment and flags, and validation;
// and the registry of Kafka's topic-level configs (their types, broker synonyms and
// validators) used by CreateTopics, DescribeConfigs and IncrementalAlterConfigs.
//
// Sources are layered: Kafka's defaults (with Samsa's zero-config single-node
// exceptions), then the properties file, then SAMSA_* environment variables, then
// command-line overrides. A later source that sets any key of an alias group (for
// example log.retention.hours) replaces every key of that group set by an earlier source
// (log.retention.ms from the file), so "flags win" holds for aliases too; within one
// source Kafka's precedence among aliases applies (log.retention.ms > log.retention.minutes
// > log.retention.hours).
package config
