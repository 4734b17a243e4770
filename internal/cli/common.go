package cli

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/samsa-io/samsa/internal/config"
)

// errUsage marks a command-line mistake; the message says what is wrong.
var errUsage = errors.New("usage")

// usageErrorf reports a bad or missing flag, naming it.
func usageErrorf(format string, args ...any) error {
	return fmt.Errorf("%w: %s", errUsage, fmt.Sprintf(format, args...))
}

// newFlagSet returns a flag set whose --help prints summary, then the flags, to stdout.
// Go's flag package accepts both -flag and --flag, so Kafka's spellings work.
func newFlagSet(e *env, name, summary string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: samsa %s [flags]\n\n%s\n\nFlags:\n", name, summary)
		fs.PrintDefaults()
	}
	return fs
}

// parseFlags parses args. It returns errHelp (answered by the caller with a nil
// error, exit code 0) when --help was asked for; help then goes to stdout.
func parseFlags(e *env, fs *flag.FlagSet, args []string) error {
	for _, a := range args {
		if a == "-h" || a == "--help" || a == "-help" {
			fs.SetOutput(e.stdout)
			fs.Usage()
			return errHelp
		}
	}
	if err := fs.Parse(args); err != nil {
		return usageErrorf("%v", err)
	}
	if fs.NArg() > 0 {
		return usageErrorf("unexpected argument %q", fs.Arg(0))
	}
	return nil
}

// errHelp is returned by parseFlags after printing help; commands return nil for it.
var errHelp = errors.New("help requested")

// multiFlag is a repeatable flag: --property a=1 --property b=2.
type multiFlag []string

func (m *multiFlag) String() string     { return strings.Join(*m, ",") }
func (m *multiFlag) Set(v string) error { *m = append(*m, v); return nil }

// keyValues parses "k=v" items (each may itself be a comma-separated list when
// splitCommas is set, as kafka-configs.sh's --add-config) into a map, naming the flag
// in errors.
func keyValues(flagName string, items []string, splitCommas bool) (map[string]string, error) {
	out := make(map[string]string)
	for _, item := range items {
		parts := []string{item}
		if splitCommas {
			parts = strings.Split(item, ",")
		}
		for _, p := range parts {
			k, v, ok := strings.Cut(p, "=")
			k = strings.TrimSpace(k)
			if !ok || k == "" {
				return nil, usageErrorf("--%s: %q is not key=value", flagName, p)
			}
			out[k] = v
		}
	}
	return out, nil
}

// clientFlags are the connection flags every client tool has, as Kafka's tools do.
type clientFlags struct {
	bootstrap     string
	commandConfig string
}

func (c *clientFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&c.bootstrap, "bootstrap-server", "localhost:9092", "comma-separated host:port list of brokers to connect to")
	fs.StringVar(&c.commandConfig, "command-config", "", "properties file with client settings (client.id, security.protocol)")
}

// options returns the franz-go options for the flags: the seed brokers and what the
// --command-config file sets. Security settings other than PLAINTEXT are refused until
// Samsa has TLS and SASL listeners.
func (c *clientFlags) options() ([]kgo.Opt, error) {
	var seeds []string
	for _, s := range strings.Split(c.bootstrap, ",") {
		if s = strings.TrimSpace(s); s != "" {
			seeds = append(seeds, s)
		}
	}
	if len(seeds) == 0 {
		return nil, usageErrorf("--bootstrap-server is empty")
	}
	opts := []kgo.Opt{kgo.SeedBrokers(seeds...), kgo.ClientID("samsa-cli")}
	if c.commandConfig == "" {
		return opts, nil
	}
	props, err := readProperties(c.commandConfig, "--command-config")
	if err != nil {
		return nil, err
	}
	more, err := clientProperties(props, "--command-config")
	if err != nil {
		return nil, err
	}
	return append(opts, more...), nil
}

// readProperties reads a Java properties file, naming the flag that gave it in errors.
func readProperties(path, flagName string) (map[string]string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", flagName, err)
	}
	props, err := config.ParseProperties(string(data))
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", flagName, path, err)
	}
	return props, nil
}

// clientProperties turns the client settings every tool shares into franz-go options.
// Keys it does not know are left to the caller (the producer and consumer tools read
// their own); security keys other than PLAINTEXT are errors.
func clientProperties(props map[string]string, source string) ([]kgo.Opt, error) {
	var opts []kgo.Opt
	for k, v := range props {
		switch k {
		case "client.id":
			opts = append(opts, kgo.ClientID(v))
		case "security.protocol":
			if !strings.EqualFold(v, "PLAINTEXT") {
				return nil, fmt.Errorf("%s: security.protocol=%s is not supported yet: Samsa listeners are PLAINTEXT", source, v)
			}
		case "sasl.mechanism", "sasl.jaas.config", "ssl.truststore.location", "ssl.keystore.location":
			return nil, fmt.Errorf("%s: %s is not supported yet: Samsa listeners are PLAINTEXT", source, k)
		}
	}
	return opts, nil
}

// newClient connects to the cluster: it fails fast, with a one-line error naming the
// address, when no broker answers within ten seconds instead of retrying forever.
func (c *clientFlags) newClient(ctx context.Context, extra ...kgo.Opt) (*kgo.Client, error) {
	opts, err := c.options()
	if err != nil {
		return nil, err
	}
	cl, err := kgo.NewClient(append(opts, extra...)...)
	if err != nil {
		return nil, err
	}
	pingCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := cl.Ping(pingCtx); err != nil {
		cl.Close()
		return nil, fmt.Errorf("cannot reach a broker at %s: %w", c.bootstrap, err)
	}
	return cl, nil
}

// newAdmin is newClient wrapped for admin requests.
func (c *clientFlags) newAdmin(ctx context.Context) (*kadm.Client, *kgo.Client, error) {
	cl, err := c.newClient(ctx)
	if err != nil {
		return nil, nil, err
	}
	return kadm.NewClient(cl), cl, nil
}

// outputFlag is --output text|json for commands that print tables.
type outputFlag struct{ format string }

func (o *outputFlag) register(fs *flag.FlagSet) {
	fs.StringVar(&o.format, "output", "text", "output format: text (Kafka's layout) or json (for scripts)")
}

func (o *outputFlag) validate() error {
	if o.format != "text" && o.format != "json" {
		return usageErrorf("--output must be text or json, not %q", o.format)
	}
	return nil
}

func (o *outputFlag) json() bool { return o.format == "json" }

// writeJSON prints v as indented JSON.
func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}
