// Package cli implements the samsa command line: `samsa server` and, as they are added,
// the Kafka tools (topics, console producer and consumer, ...) as subcommands.
package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"

	"github.com/samsa-io/samsa/internal/broker"
	"github.com/samsa-io/samsa/internal/config"
)

// Version is the samsa version, set at link time.
var Version = "dev"

// env is what a command may touch of the outside world.
type env struct {
	stdin          io.Reader
	stdout, stderr io.Writer
}

// command is one samsa subcommand.
type command struct {
	name    string
	summary string
	run     func(ctx context.Context, e *env, args []string) error
}

// commands lists every subcommand, in the order help shows them. The Kafka tools keep
// the names of Kafka's scripts without the "kafka-" prefix and ".sh" suffix.
var commands = []command{
	{"server", "start a Samsa node (broker and controller)", runServer},
	{"topics", "create, list, describe, alter and delete topics (kafka-topics.sh)", runTopics},
	{"console-producer", "produce lines from standard input (kafka-console-producer.sh)", runConsoleProducer},
	{"console-consumer", "print records to standard output (kafka-console-consumer.sh)", runConsoleConsumer},
	{"consumer-groups", "list, describe and delete consumer groups; reset their offsets (kafka-consumer-groups.sh)", runConsumerGroups},
	{"configs", "describe and alter topic and broker configs (kafka-configs.sh)", runConfigs},
	{"get-offsets", "print partition offsets (kafka-get-offsets.sh)", runGetOffsets},
	{"delete-records", "delete records up to an offset (kafka-delete-records.sh)", runDeleteRecords},
	{"reassign-partitions", "move partition replicas between brokers (kafka-reassign-partitions.sh)", runReassignPartitions},
	{"leader-election", "elect preferred or unclean partition leaders (kafka-leader-election.sh)", runLeaderElection},
	{"broker-api-versions", "print the API versions each broker supports (kafka-broker-api-versions.sh)", runBrokerAPIVersions},
	{"metadata-quorum", "describe the metadata quorum: leader, voters, replication (kafka-metadata-quorum.sh)", runMetadataQuorum},
	{"metadata", "browse the cluster metadata like zkCli.sh: ls /brokers/ids, get /controller, ...", runMetadataShell},
	{"dump-log", "decode segment, index and time-index files (kafka-dump-log.sh)", runDumpLog},
	{"producer-perf-test", "measure produce throughput and latency (kafka-producer-perf-test.sh)", runProducerPerfTest},
	{"consumer-perf-test", "measure consume throughput (kafka-consumer-perf-test.sh)", runConsumerPerfTest},
	{"e2e-latency", "measure produce-to-consume latency (kafka-e2e-latency.sh)", runE2ELatency},
	{"version", "print the version", runVersion},
}

func usage(w io.Writer) {
	fmt.Fprint(w, "Samsa: a Kafka-compatible streaming platform in one binary.\n\nUsage: samsa <command> [flags]\n\nCommands:\n")
	for _, c := range commands {
		fmt.Fprintf(w, "  %-20s %s\n", c.name, c.summary)
	}
	fmt.Fprint(w, "\nRun 'samsa <command> --help' for a command's flags.\n")
}

// Run runs the samsa command line with args (without the program name).
func Run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	e := &env{stdin: stdin, stdout: stdout, stderr: stderr}
	if len(args) == 0 {
		usage(stderr)
		return errors.New("no command given")
	}
	switch args[0] {
	case "help", "-h", "--help":
		usage(stdout)
		return nil
	case "--version":
		return runVersion(ctx, e, nil)
	}
	for _, c := range commands {
		if c.name == args[0] {
			return c.run(ctx, e, args[1:])
		}
	}
	usage(stderr)
	return fmt.Errorf("unknown command %q", args[0])
}

func runVersion(_ context.Context, e *env, _ []string) error {
	fmt.Fprintln(e.stdout, "samsa", Version)
	return nil
}

// overrides collects repeated --override key=value flags.
type overrides map[string]string

func (o overrides) String() string { return fmt.Sprint(map[string]string(o)) }

func (o overrides) Set(s string) error {
	k, v, ok := strings.Cut(s, "=")
	if !ok || strings.TrimSpace(k) == "" {
		return fmt.Errorf("%q is not key=value", s)
	}
	o[strings.TrimSpace(k)] = strings.TrimSpace(v)
	return nil
}

func runServer(ctx context.Context, e *env, args []string) error {
	stderr := e.stderr
	fs := flag.NewFlagSet("server", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var (
		path      string
		ov        = overrides{}
		logLevel  string
		logFormat string
	)
	fs.StringVar(&path, "c", "", "server.properties file (Kafka's key names)")
	fs.StringVar(&path, "config", "", "same as -c")
	fs.Var(ov, "override", "set a config key, overriding the file and environment (repeatable): --override log.dirs=/data")
	fs.StringVar(&logLevel, "log-level", "info", "log level: debug, info, warn, error")
	fs.StringVar(&logFormat, "log-format", "text", "log format: text or json")
	fs.Usage = func() {
		fmt.Fprint(stderr, `Usage: samsa server [-c server.properties] [--override key=value ...]

Starts a Samsa node (broker and controller). With no arguments it listens on
port 9092 and keeps its data in ./samsa-data. Config keys are Kafka's
(node.id, listeners, advertised.listeners, log.dirs, num.partitions, ...); they are
read from the file, then from SAMSA_<KEY> environment variables (SAMSA_LOG_DIRS for
log.dirs), then from --override flags.

Flags:
`)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	if fs.NArg() > 0 {
		// kafka-server-start.sh takes the properties file as its argument; so do we.
		if path != "" || fs.NArg() > 1 {
			return fmt.Errorf("server: unexpected arguments %q", fs.Args())
		}
		path = fs.Arg(0)
	}

	logger, err := newLogger(stderr, logLevel, logFormat)
	if err != nil {
		return err
	}
	cfg, warnings, err := config.Load(path, os.Environ(), ov)
	if err != nil {
		return err
	}
	for _, w := range warnings {
		logger.Warn(w)
	}
	raiseOpenFileLimit(logger)
	b, err := broker.New(cfg, logger)
	if err != nil {
		return err
	}
	return b.Run(ctx)
}

func newLogger(w io.Writer, level, format string) (*slog.Logger, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("--log-level: %w", err)
	}
	opts := &slog.HandlerOptions{Level: l}
	switch format {
	case "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	default:
		return nil, fmt.Errorf("--log-format: %q is not text or json", format)
	}
}
