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

const usage = `Samsa: a Kafka-compatible streaming platform in one binary.

Usage:
  samsa server [-c server.properties] [--override key=value ...]
  samsa version
  samsa help

Run 'samsa <command> --help' for a command's flags.
`

// Run runs the samsa command line with args (without the program name).
func Run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return errors.New("no command given")
	}
	switch args[0] {
	case "server":
		return runServer(ctx, args[1:], stderr)
	case "version", "--version":
		fmt.Fprintln(stdout, "samsa", Version)
		return nil
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return nil
	default:
		fmt.Fprint(stderr, usage)
		return fmt.Errorf("unknown command %q", args[0])
	}
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

func runServer(ctx context.Context, args []string, stderr io.Writer) error {
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
