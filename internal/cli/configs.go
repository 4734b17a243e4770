package cli

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kmsg"
)

const configsSummary = `Describe and change the configs of topics and brokers (kafka-configs.sh).

  samsa configs --describe --entity-type topics --entity-name t
  samsa configs --alter --topic t --add-config retention.ms=60000,cleanup.policy=[compact,delete]
  samsa configs --alter --topic t --delete-config retention.ms
  samsa configs --describe --broker 1 --all

Changes use IncrementalAlterConfigs. Entity types other than topics and brokers
(clients, users, ips, ...) are not supported yet.`

// configsOptions are kafka-configs.sh's flags that Samsa supports.
type configsOptions struct {
	client          clientFlags
	output          outputFlag
	alter, describe bool
	all             bool
	entityTypes     multiFlag
	entityNames     multiFlag
	entityDefault   bool
	addConfig       string
	addConfigFile   string
	deleteConfigs   multiFlag
	topic, broker   string
	brokerDefaults  bool
	set             map[string]bool

	// resolved by validate
	entityType string // "topics" or "brokers"
	entityName string // "" with entityDefault: the cluster-wide broker default
	named      bool   // whether an entity name (or the default) was given
}

func runConfigs(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet(e, "configs", configsSummary)
	var o configsOptions
	o.client.register(fs)
	o.output.register(fs)
	zk := registerZookeeper(fs)
	fs.BoolVar(&o.alter, "alter", false, "alter the configuration of the entity")
	fs.BoolVar(&o.describe, "describe", false, "list the configs of the given entity")
	fs.BoolVar(&o.all, "all", false, "with --describe, list all configs, including static and default ones")
	fs.Var(&o.entityTypes, "entity-type", "type of entity: topics or brokers")
	fs.Var(&o.entityNames, "entity-name", "name of the entity: a topic name or a broker id")
	fs.BoolVar(&o.entityDefault, "entity-default", false, "the cluster-wide default of the entity type (brokers)")
	fs.StringVar(&o.addConfig, "add-config", "", "configs to set, k1=v1,k2=[v1,v2],k3=v3 (square brackets group values that contain commas)")
	fs.StringVar(&o.addConfigFile, "add-config-file", "", "properties file with configs to set")
	fs.Var(&o.deleteConfigs, "delete-config", "config keys to remove: k1,k2 (repeatable)")
	fs.StringVar(&o.topic, "topic", "", "the topic's name (same as --entity-type topics --entity-name)")
	fs.StringVar(&o.broker, "broker", "", "the broker's id (same as --entity-type brokers --entity-name)")
	fs.BoolVar(&o.brokerDefaults, "broker-defaults", false, "the config defaults for all brokers")
	fs.Bool("force", false, "accepted for compatibility")
	if err := parseAdminFlags(e, fs, args, zk); err != nil {
		if errors.Is(err, errHelp) {
			return nil
		}
		return err
	}
	o.set = givenFlags(fs)
	if err := o.validate(); err != nil {
		return err
	}
	adm, cl, err := o.client.newAdmin(ctx)
	if err != nil {
		return err
	}
	defer cl.Close()
	if o.describe {
		err = describeConfigs(ctx, e, adm, &o)
	} else {
		err = alterConfigs(ctx, e, adm, &o)
	}
	if err != nil && !errors.Is(err, errUsage) {
		return fmt.Errorf("Error while executing config command : %s", describeErr(err))
	}
	return err
}

// validate applies kafka-configs.sh's checks and resolves the entity.
func (o *configsOptions) validate() error {
	if err := o.output.validate(); err != nil {
		return err
	}
	if o.alter == o.describe {
		return usageErrorf("command must include exactly one action: --describe, --alter")
	}
	if o.describe && (o.addConfig != "" || o.addConfigFile != "" || len(o.deleteConfigs) > 0) {
		return usageErrorf("--add-config, --add-config-file and --delete-config can only be used with --alter")
	}
	if o.output.json() && !o.describe {
		return usageErrorf("--output json is for --describe")
	}
	generic := o.set["entity-type"] || o.set["entity-name"] || o.entityDefault
	specific := o.set["topic"] || o.set["broker"] || o.brokerDefaults
	if generic && specific {
		return usageErrorf("--entity-{type,name,default} should not be used in conjunction with specific entity flags")
	}
	var types, names []string
	switch {
	case specific:
		if o.set["topic"] {
			types, names = append(types, "topics"), append(names, o.topic)
		}
		if o.set["broker"] {
			types, names = append(types, "brokers"), append(names, o.broker)
		}
		if o.brokerDefaults {
			types, names = append(types, "brokers"), append(names, "")
		}
	default:
		types = o.entityTypes
		names = o.entityNames
		if o.entityDefault {
			names = append(names, "")
		}
	}
	if len(types) == 0 {
		return usageErrorf("at least one entity type must be specified (--entity-type topics|brokers, --topic or --broker)")
	}
	if len(types) > 1 {
		return usageErrorf("only one entity type may be given, not %s", strings.Join(types, ","))
	}
	if len(names) > 1 {
		return usageErrorf("only one entity name may be given, not %d", len(names))
	}
	o.entityType = types[0]
	switch o.entityType {
	case "topics", "brokers":
	case "clients", "users", "ips", "broker-loggers", "client-metrics", "groups":
		return usageErrorf("entity type %s is not supported by Samsa yet: use topics or brokers", o.entityType)
	default:
		return usageErrorf("Invalid entity type %s, the entity type must be one of topics, brokers", o.entityType)
	}
	if len(names) == 1 {
		o.named = true
		o.entityName = names[0]
	}
	if o.entityType == "brokers" && o.named && o.entityName != "" {
		if _, err := strconv.ParseInt(o.entityName, 10, 32); err != nil {
			return usageErrorf("The entity name for brokers must be a valid integer broker id, but it is: %s", o.entityName)
		}
	}
	if o.entityType == "topics" && o.named && o.entityName == "" {
		return usageErrorf("--entity-default must not be specified with topics")
	}
	if o.alter {
		if !o.named {
			if o.entityType == "brokers" {
				return usageErrorf("An entity-name or default entity must be specified with --alter of users, clients, brokers or ips")
			}
			return usageErrorf("An entity name must be specified with --alter of %s", o.entityType)
		}
		if o.addConfig != "" && o.addConfigFile != "" {
			return usageErrorf("Only one of --add-config or --add-config-file must be specified")
		}
		if o.addConfig == "" && o.addConfigFile == "" && len(o.deleteConfigs) == 0 {
			return usageErrorf("At least one of --add-config, --add-config-file, or --delete-config must be specified with --alter")
		}
	}
	return nil
}

// configKeyRe is the set of characters Kafka accepts in a config key.
var configKeyRe = regexp.MustCompile(`^[a-zA-Z0-9._-]*$`)

// parseAddConfig reads kafka-configs.sh's --add-config: comma-separated key=value pairs
// where square brackets group a value holding commas ("k=[a,b]" sets k to "a,b").
func parseAddConfig(s string) (map[string]string, error) {
	out := make(map[string]string)
	for _, item := range splitOutsideBrackets(s, ',') {
		if item == "" {
			continue // Java's split drops trailing empty strings
		}
		kv := splitOutsideBrackets(item, '=')
		if len(kv) != 2 {
			return nil, usageErrorf("Invalid entity config: all configs to be added must be in the format \"key=val\".")
		}
		k := strings.TrimSpace(kv[0])
		v := strings.TrimSpace(strings.NewReplacer("[", "", "]", "").Replace(kv[1]))
		out[k] = v
	}
	return out, nil
}

// splitOutsideBrackets splits s at sep where sep is not inside [...].
func splitOutsideBrackets(s string, sep byte) []string {
	var parts []string
	depth, start := 0, 0
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '[':
			depth++
		case ']':
			if depth > 0 {
				depth--
			}
		case sep:
			if depth == 0 {
				parts = append(parts, s[start:i])
				start = i + 1
			}
		}
	}
	return append(parts, s[start:])
}

// configsToAdd merges --add-config and --add-config-file and checks the keys.
func (o *configsOptions) configsToAdd() (map[string]string, error) {
	add := make(map[string]string)
	if o.addConfigFile != "" {
		props, err := readProperties(o.addConfigFile, "--add-config-file")
		if err != nil {
			return nil, err
		}
		for k, v := range props {
			add[k] = v
		}
	}
	if o.addConfig != "" {
		m, err := parseAddConfig(o.addConfig)
		if err != nil {
			return nil, err
		}
		for k, v := range m {
			add[k] = v
		}
	}
	for k := range add {
		if !configKeyRe.MatchString(k) {
			return nil, usageErrorf("Invalid character found for config key: %s", k)
		}
	}
	return add, nil
}

func (o *configsOptions) configsToDelete() []string {
	var del []string
	for _, item := range o.deleteConfigs {
		for _, k := range strings.Split(item, ",") {
			if k = strings.TrimSpace(k); k != "" {
				del = append(del, k)
			}
		}
	}
	return del
}

// configSourceName is Kafka's ConfigEntry.ConfigSource name for a wire value.
func configSourceName(s kmsg.ConfigSource) string {
	switch s {
	case kmsg.ConfigSourceDynamicTopicConfig:
		return "DYNAMIC_TOPIC_CONFIG"
	case kmsg.ConfigSourceDynamicBrokerConfig:
		return "DYNAMIC_BROKER_CONFIG"
	case kmsg.ConfigSourceDynamicDefaultBrokerConfig:
		return "DYNAMIC_DEFAULT_BROKER_CONFIG"
	case kmsg.ConfigSourceStaticBrokerConfig:
		return "STATIC_BROKER_CONFIG"
	case kmsg.ConfigSourceDefaultConfig:
		return "DEFAULT_CONFIG"
	case kmsg.ConfigSourceDynamicBrokerLoggerConfig:
		return "DYNAMIC_BROKER_LOGGER_CONFIG"
	case 7:
		return "DYNAMIC_CLIENT_METRICS_CONFIG"
	case 8:
		return "DYNAMIC_GROUP_CONFIG"
	default:
		return "UNKNOWN"
	}
}

// describedEntity is one entity of configs --describe, for text and JSON output.
type describedEntity struct {
	EntityType string          `json:"entity_type"`
	EntityName string          `json:"entity_name"` // "" for the brokers' cluster default
	Configs    []describedConf `json:"configs"`
}

type describedConf struct {
	Name      string        `json:"name"`
	Value     *string       `json:"value"` // null when sensitive
	Sensitive bool          `json:"sensitive"`
	Source    string        `json:"source"`
	Synonyms  []describedSy `json:"synonyms"`
}

type describedSy struct {
	Name   string  `json:"name"`
	Value  *string `json:"value"`
	Source string  `json:"source"`
}

// resourceConfigs describes one topic or broker ("" is the brokers' cluster default),
// keeping, unless all, only the entries set dynamically at that level, sorted by name.
func resourceConfigs(ctx context.Context, adm *kadm.Client, entityType, name string, all bool) ([]kadm.Config, error) {
	var (
		rcs    kadm.ResourceConfigs
		err    error
		source kmsg.ConfigSource
	)
	switch {
	case entityType == "topics":
		source = kmsg.ConfigSourceDynamicTopicConfig
		rcs, err = adm.DescribeTopicConfigs(ctx, name)
	case name == "":
		source = kmsg.ConfigSourceDynamicDefaultBrokerConfig
		rcs, err = adm.DescribeBrokerConfigs(ctx)
	default:
		source = kmsg.ConfigSourceDynamicBrokerConfig
		id, perr := strconv.ParseInt(name, 10, 32)
		if perr != nil {
			return nil, usageErrorf("The entity name for brokers must be a valid integer broker id, but it is: %s", name)
		}
		rcs, err = adm.DescribeBrokerConfigs(ctx, int32(id))
	}
	if err != nil {
		return nil, err
	}
	if len(rcs) != 1 {
		return nil, fmt.Errorf("describing %s %q: expected one resource in the answer, got %d", entityType, name, len(rcs))
	}
	rc := rcs[0]
	if rc.Err != nil {
		return nil, errorWithMessage(rc.Err, &rc.ErrMessage)
	}
	var out []kadm.Config
	for _, c := range rc.Configs {
		if all || c.Source == source {
			out = append(out, c)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Key < out[j].Key })
	return out, nil
}

func describeConfigs(ctx context.Context, e *env, adm *kadm.Client, o *configsOptions) error {
	var names []string
	switch {
	case o.named:
		names = []string{o.entityName}
	case o.entityType == "topics":
		md, err := adm.Metadata(ctx)
		if err != nil {
			return err
		}
		for name, td := range md.Topics {
			if td.Err == nil {
				names = append(names, name)
			}
		}
		sort.Strings(names)
	default:
		md, err := adm.BrokerMetadata(ctx)
		if err != nil {
			return err
		}
		for _, id := range md.Brokers.NodeIDs() {
			names = append(names, strconv.Itoa(int(id)))
		}
		names = append(names, "") // and the cluster default, as Kafka
	}

	var entities []describedEntity
	for _, name := range names {
		cfgs, err := resourceConfigs(ctx, adm, o.entityType, name, o.all)
		if err != nil {
			return err
		}
		de := describedEntity{EntityType: o.entityType, EntityName: name, Configs: []describedConf{}}
		for _, c := range cfgs {
			dc := describedConf{Name: c.Key, Value: c.Value, Sensitive: c.Sensitive, Source: configSourceName(c.Source), Synonyms: []describedSy{}}
			for _, s := range c.Synonyms {
				dc.Synonyms = append(dc.Synonyms, describedSy{Name: s.Key, Value: s.Value, Source: configSourceName(s.Source)})
			}
			de.Configs = append(de.Configs, dc)
		}
		entities = append(entities, de)
		if o.output.json() {
			continue
		}
		// Kafka prints as it goes, so a later failure leaves the earlier entities shown.
		singular := strings.TrimSuffix(o.entityType, "s")
		switch {
		case name == "" && o.entityType == "brokers":
			fmt.Fprintf(e.stdout, "Default configs for %s in the cluster are:\n", o.entityType)
		case o.all:
			fmt.Fprintf(e.stdout, "All configs for %s %s are:\n", singular, name)
		default:
			fmt.Fprintf(e.stdout, "Dynamic configs for %s %s are:\n", singular, name)
		}
		for _, c := range de.Configs {
			syn := make([]string, len(c.Synonyms))
			for i, s := range c.Synonyms {
				syn[i] = fmt.Sprintf("%s:%s=%s", s.Source, s.Name, strOrNull(s.Value))
			}
			fmt.Fprintf(e.stdout, "  %s=%s sensitive=%t synonyms={%s}\n", c.Name, strOrNull(c.Value), c.Sensitive, strings.Join(syn, ", "))
		}
	}
	if o.output.json() {
		if entities == nil {
			entities = []describedEntity{}
		}
		return writeJSON(e.stdout, entities)
	}
	return nil
}

// strOrNull prints a nullable string as Java prints a null reference.
func strOrNull(s *string) string {
	if s == nil {
		return "null"
	}
	return *s
}

func alterConfigs(ctx context.Context, e *env, adm *kadm.Client, o *configsOptions) error {
	add, err := o.configsToAdd()
	if err != nil {
		return err
	}
	del := o.configsToDelete()
	if len(del) > 0 {
		// As Kafka: deleting a key that is not set at this level is an error, before
		// anything changes.
		current, err := resourceConfigs(ctx, adm, o.entityType, o.entityName, false)
		if err != nil {
			return err
		}
		have := make(map[string]bool, len(current))
		for _, c := range current {
			have[c.Key] = true
		}
		var invalid []string
		for _, k := range del {
			if !have[k] {
				invalid = append(invalid, k)
			}
		}
		if len(invalid) > 0 {
			return fmt.Errorf("Invalid config(s): %s", strings.Join(invalid, ","))
		}
	}
	var ops []kadm.AlterConfig
	for _, k := range sortedStringKeys(add) {
		ops = append(ops, kadm.AlterConfig{Op: kadm.SetConfig, Name: k, Value: kmsg.StringPtr(add[k])})
	}
	for _, k := range del {
		ops = append(ops, kadm.AlterConfig{Op: kadm.DeleteConfig, Name: k})
	}
	var resps kadm.AlterConfigsResponses
	switch {
	case o.entityType == "topics":
		resps, err = adm.AlterTopicConfigs(ctx, ops, o.entityName)
	case o.entityName == "":
		resps, err = adm.AlterBrokerConfigs(ctx, ops)
	default:
		id, _ := strconv.ParseInt(o.entityName, 10, 32) // checked by validate
		resps, err = adm.AlterBrokerConfigs(ctx, ops, int32(id))
	}
	if err != nil {
		return err
	}
	for _, r := range resps {
		if r.Err != nil {
			return errorWithMessage(r.Err, &r.ErrMessage)
		}
	}
	if o.entityName != "" {
		fmt.Fprintf(e.stdout, "Completed updating config for %s %s.\n", strings.TrimSuffix(o.entityType, "s"), o.entityName)
	} else {
		fmt.Fprintf(e.stdout, "Completed updating default config for %s in the cluster.\n", o.entityType)
	}
	return nil
}
