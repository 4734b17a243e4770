package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"regexp"
	"regexp/syntax"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

const consumerGroupsSummary = `List, describe and delete consumer groups, and reset or delete their offsets
(kafka-consumer-groups.sh).

Exactly one action: --list, --describe, --delete, --reset-offsets, --delete-offsets
or --validate-regex.

  --list [--state [s1,s2]] [--type [classic,consumer]]
  --describe (--group g ... | --all-groups) [--offsets | --members | --state] [--verbose]
  --reset-offsets (--group g | --all-groups) (--topic t[:p,...] ... | --all-topics)
      one of --to-earliest, --to-latest, --to-current, --to-offset N, --shift-by N,
      --to-datetime YYYY-MM-DDTHH:mm:SS.sss[Z|+hh|+hhmm|+hh:mm], --by-duration PnDTnHnMnS,
      --from-file plan.csv; then --dry-run (the default: print the plan) or --execute
  --delete (--group g ... | --all-groups)
  --delete-offsets --group g --topic t[:p,...] ...

Offsets can only be reset while the group has no active members.`

// consumerGroupsOptions are kafka-consumer-groups.sh's flags.
type consumerGroupsOptions struct {
	client clientFlags
	output outputFlag

	list, describe, delete, resetOffsets, deleteOffsets bool
	validateRegex                                       string

	groups, topics       multiFlag
	allGroups, allTopics bool
	timeoutMs            int64
	state, groupType     string
	members, verbose     bool
	offsets              bool

	dryRun, execute, export      bool
	toOffset, shiftBy            int64
	fromFile                     string
	toDatetime, byDuration       string
	toEarliest, toLatest, toCurr bool

	set map[string]bool // flags given

	// Worked out by prepare.
	timeout    time.Duration
	states     []string // canonical state names for --list --state
	types      []string // canonical type names for --list --type
	timestamp  int64    // ms, for --to-datetime and --by-duration
	resetPlan  map[string]map[topicPartition]int64
	topicSpecs []topicSpec
}

// topicPartition names one partition.
type topicPartition struct {
	Topic     string
	Partition int32
}

func (tp topicPartition) String() string { return topicPartitionString(tp.Topic, tp.Partition) }

func sortTPs(tps []topicPartition) {
	sort.Slice(tps, func(i, j int) bool {
		if tps[i].Topic != tps[j].Topic {
			return tps[i].Topic < tps[j].Topic
		}
		return tps[i].Partition < tps[j].Partition
	})
}

// topicSpec is one --topic: a topic and, when given as "t:0,1", its partitions.
type topicSpec struct {
	topic      string
	partitions []int32 // nil: every partition
}

// resetScenarios are the --reset-offsets specifications, in the order Kafka checks
// that no two are combined.
var resetScenarios = []string{"to-offset", "to-datetime", "by-duration", "to-earliest", "to-latest", "to-current", "shift-by", "from-file"}

func runConsumerGroups(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet(e, "consumer-groups", consumerGroupsSummary)
	var o consumerGroupsOptions
	o.register(fs)
	zk := registerZookeeper(fs)
	// --state and --type take an optional value, as in Kafka ("--describe --state").
	args = optionalFlagValue(optionalFlagValue(args, "state", ""), "type", "")
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
	if o.set["validate-regex"] {
		validateGroupRegex(e.stdout, o.validateRegex)
		return nil
	}
	if err := o.prepare(); err != nil {
		return err
	}
	if o.resetOffsets && !o.dryRun && !o.execute {
		fmt.Fprintln(e.stderr, "WARN: No action will be performed as the --execute option is missing. "+
			"In a future major release, the default behavior of this command will be to prompt the user before "+
			"executing the reset rather than doing a dry run. You should add the --dry-run option explicitly "+
			"if you are scripting this command and want to keep the current default behavior without prompting.")
	}

	adm, cl, err := o.client.newAdmin(ctx)
	if err != nil {
		return err
	}
	defer cl.Close()
	s := &groupService{e: e, adm: adm, cl: cl, o: &o}
	switch {
	case o.list:
		err = s.list(ctx)
	case o.describe:
		err = s.describeGroups(ctx)
	case o.delete:
		err = s.deleteGroups(ctx)
	case o.resetOffsets:
		err = s.resetOffsets(ctx)
	case o.deleteOffsets:
		err = s.deleteOffsets(ctx)
	}
	var fe *finalError
	if err != nil && !errors.Is(err, errUsage) && !errors.As(err, &fe) {
		return fmt.Errorf("Error: Executing consumer group command failed due to %s", describeErr(err))
	}
	return err
}

func (o *consumerGroupsOptions) register(fs *flag.FlagSet) {
	o.client.register(fs)
	o.output.register(fs)
	fs.BoolVar(&o.list, "list", false, "list all consumer groups")
	fs.BoolVar(&o.describe, "describe", false, "describe consumer groups and list offset lag (number of messages not yet processed)")
	fs.BoolVar(&o.delete, "delete", false, "delete consumer groups with their offsets; the groups must have no active members")
	fs.BoolVar(&o.resetOffsets, "reset-offsets", false, "reset the offsets of inactive consumer groups (see above)")
	fs.BoolVar(&o.deleteOffsets, "delete-offsets", false, "delete the offsets of one group for the given topics")
	fs.StringVar(&o.validateRegex, "validate-regex", "", "check that a regular expression (for a KIP-848 subscription) compiles")
	fs.Var(&o.groups, "group", "the consumer group to act on (repeatable)")
	fs.BoolVar(&o.allGroups, "all-groups", false, "apply to all consumer groups")
	fs.Var(&o.topics, "topic", "a topic, or topic:0,1,2 for some partitions, for --reset-offsets and --delete-offsets (repeatable)")
	fs.BoolVar(&o.allTopics, "all-topics", false, "with --reset-offsets, every topic the group has committed offsets for")
	fs.Int64Var(&o.timeoutMs, "timeout", 5000, "how long each request to the cluster may take, in ms")
	fs.StringVar(&o.state, "state", "", "with --describe, show the group's state; with --list, show states or keep only groups in these states (stable,empty,...)")
	fs.StringVar(&o.groupType, "type", "", "with --list, show group types or keep only these types (classic,consumer)")
	fs.BoolVar(&o.members, "members", false, "with --describe, list the group's members")
	fs.BoolVar(&o.verbose, "verbose", false, "with --describe, more columns (leader epochs, member assignments, epochs)")
	fs.BoolVar(&o.offsets, "offsets", false, "with --describe, list partitions with offsets and lag (the default)")
	fs.BoolVar(&o.dryRun, "dry-run", false, "with --reset-offsets, only print the new offsets (the default)")
	fs.BoolVar(&o.execute, "execute", false, "with --reset-offsets, commit the new offsets")
	fs.BoolVar(&o.export, "export", false, "with --reset-offsets, print the plan as CSV for a later --from-file")
	fs.Int64Var(&o.toOffset, "to-offset", 0, "reset to this offset")
	fs.Int64Var(&o.shiftBy, "shift-by", 0, "reset to the committed offset plus n (n may be negative)")
	fs.StringVar(&o.fromFile, "from-file", "", "reset to the offsets in this CSV file (topic,partition,offset or group,topic,partition,offset lines)")
	fs.StringVar(&o.toDatetime, "to-datetime", "", "reset to the first offset at or after this time: YYYY-MM-DDTHH:mm:SS.sss, UTC unless a zone (Z, +hh, +hhmm, +hh:mm) follows")
	fs.StringVar(&o.byDuration, "by-duration", "", "reset to the first offset at or after now minus this duration: PnDTnHnMnS")
	fs.BoolVar(&o.toEarliest, "to-earliest", false, "reset to the log start offset")
	fs.BoolVar(&o.toLatest, "to-latest", false, "reset to the log end offset")
	fs.BoolVar(&o.toCurr, "to-current", false, "reset to the committed offset (the log end where there is none)")
}

// validate applies kafka-consumer-groups.sh's checks of which flags go together, with
// its messages (joptsimple names options as [name]).
func (o *consumerGroupsOptions) validate() error {
	actions := 0
	for _, a := range []string{"list", "describe", "delete", "reset-offsets", "delete-offsets", "validate-regex"} {
		if o.set[a] {
			actions++
		}
	}
	if actions != 1 {
		return usageErrorf("Command must include exactly one action: --list, --describe, --delete, --reset-offsets, --delete-offsets, --validate-regex")
	}
	if err := o.output.validate(); err != nil {
		return err
	}
	if o.output.json() && !o.list && !o.describe {
		return usageErrorf("--output json is for --list and --describe")
	}
	for _, f := range []string{"members", "verbose", "offsets"} {
		if o.set[f] && !o.describe {
			return usageErrorf("Option(s) [%s] are unavailable given other options on the command line", f)
		}
	}
	if o.set["state"] && !o.describe && !o.list {
		return usageErrorf("Option(s) [state] are unavailable given other options on the command line")
	}
	if o.set["type"] && !o.list {
		return usageErrorf("Option(s) [type] are unavailable given other options on the command line")
	}
	hasScope := len(o.groups) > 0 || o.allGroups
	if o.describe {
		if !hasScope {
			return usageErrorf("Option [describe] takes one of these options: [all-groups], [group]")
		}
		n := 0
		for _, f := range []string{"members", "offsets", "state"} {
			if o.set[f] {
				n++
			}
		}
		if n > 1 {
			return usageErrorf("Option [describe] takes at most one of these options: [members], [offsets], [state]")
		}
		if o.set["state"] && o.state != "" {
			return usageErrorf("Option [describe] does not take a value for [state]")
		}
	}
	if o.delete {
		if !hasScope {
			return usageErrorf("Option [delete] takes one of these options: [all-groups], [group]")
		}
		if len(o.topics) > 0 {
			return usageErrorf("The consumer does not support topic-specific offset deletion from a consumer group.")
		}
	}
	if o.deleteOffsets {
		if len(o.groups) == 0 || len(o.topics) == 0 {
			return usageErrorf("Option [delete-offsets] takes the following options: [group], [topic]")
		}
		if len(o.groups) > 1 {
			return usageErrorf("Option [delete-offsets] supports one consumer group at a time, not %d", len(o.groups))
		}
	}
	if o.resetOffsets {
		if o.dryRun && o.execute {
			return usageErrorf("Option [reset-offsets] only accepts one of [execute] and [dry-run]")
		}
		if !hasScope {
			return usageErrorf("Option [reset-offsets] takes one of these options: [all-groups], [group]")
		}
		var given []string
		for _, sc := range resetScenarios {
			if o.set[sc] {
				given = append(given, sc)
			}
		}
		if len(given) > 1 {
			return usageErrorf("Option \"[%s]\" can't be used with option \"[%s]\"", given[0], given[1])
		}
		if len(given) == 0 {
			return usageErrorf("Option '[reset-offsets]' requires one of the following scenarios: [[to-offset], [to-datetime], [by-duration], [to-earliest], [to-latest], [to-current], [shift-by], [from-file]]")
		}
		if !o.allTopics && len(o.topics) == 0 && !o.set["from-file"] {
			return usageErrorf("One of the reset scopes should be defined: --all-topics, --topic.")
		}
	}
	if len(o.groups) > 0 && o.allGroups {
		return usageErrorf("Option \"[group]\" can't be used with option \"[all-groups]\"")
	}
	if len(o.groups) > 0 && o.list {
		return usageErrorf("Option \"[group]\" can't be used with option \"[list]\"")
	}
	if len(o.topics) > 0 && (o.list || o.describe) {
		return usageErrorf("Option \"[topic]\" can't be used with option \"[%s]\"", map[bool]string{true: "list", false: "describe"}[o.list])
	}
	if o.timeoutMs <= 0 {
		return usageErrorf("--timeout must be a positive number of milliseconds, not %d", o.timeoutMs)
	}
	return nil
}

// prepare parses the flag values that need it, so that mistakes are reported before
// anything is sent.
func (o *consumerGroupsOptions) prepare() error {
	o.timeout = time.Duration(o.timeoutMs) * time.Millisecond
	var err error
	if o.list {
		if o.states, err = parseGroupStates(o.state); err != nil {
			return err
		}
		if o.types, err = parseGroupTypes(o.groupType); err != nil {
			return err
		}
	}
	for _, t := range o.topics {
		spec, err := parseTopicSpec(t)
		if err != nil {
			return err
		}
		o.topicSpecs = append(o.topicSpecs, spec)
	}
	switch {
	case o.set["to-datetime"]:
		if o.timestamp, err = parseKafkaDateTime(o.toDatetime); err != nil {
			return err
		}
	case o.set["by-duration"]:
		d, err := parseJavaDuration(o.byDuration)
		if err != nil {
			return err
		}
		o.timestamp = time.Now().Add(-d).UnixMilli()
	}
	if o.timestamp < 0 {
		// Negative timestamps mean "latest" and "earliest" to ListOffsets; a time
		// before 1970 is before every record.
		o.timestamp = 0
	}
	if o.set["from-file"] {
		data, err := os.ReadFile(o.fromFile)
		if err != nil {
			return fmt.Errorf("--from-file: %w", err)
		}
		single := ""
		if len(o.groups) == 1 {
			single = o.groups[0]
		}
		if o.resetPlan, err = parseResetPlan(string(data), single); err != nil {
			return err
		}
	}
	return nil
}

// finalError is an error whose text is already what Kafka's tool prints; it is not
// wrapped in "Executing consumer group command failed".
type finalError struct{ msg string }

func (e *finalError) Error() string { return e.msg }

func finalErrorf(format string, args ...any) error {
	return &finalError{msg: fmt.Sprintf(format, args...)}
}

// groupStates are Kafka's GroupState names for consumer groups (classic and KIP-848).
var groupStates = []string{"PreparingRebalance", "CompletingRebalance", "Stable", "Dead", "Empty", "Assigning", "Reconciling"}

// canonicalState returns Kafka's spelling of a state name, matched without regard to
// case, or "Unknown".
func canonicalState(s string) string {
	for _, st := range groupStates {
		if strings.EqualFold(st, s) {
			return st
		}
	}
	return "Unknown"
}

func parseGroupStates(s string) ([]string, error) {
	if s == "" {
		return nil, nil
	}
	var out []string
	for _, part := range strings.Split(s, ",") {
		st := canonicalState(strings.TrimSpace(part))
		if st == "Unknown" {
			return nil, usageErrorf("Invalid state list '%s'. Valid states are: %s", s, strings.Join(groupStates, ", "))
		}
		out = append(out, st)
	}
	return out, nil
}

// groupTypes are the GroupType names --list --type accepts.
var groupTypes = []string{"Classic", "Consumer"}

func canonicalType(s string) string {
	for _, t := range append(groupTypes, "Share", "Streams") {
		if strings.EqualFold(t, s) {
			return t
		}
	}
	return "Unknown"
}

func parseGroupTypes(s string) ([]string, error) {
	if s == "" {
		return nil, nil
	}
	var out []string
	for _, part := range strings.Split(s, ",") {
		t := canonicalType(strings.TrimSpace(part))
		if t != "Classic" && t != "Consumer" {
			return nil, usageErrorf("Invalid types list '%s'. Valid types are: %s", s, strings.Join(groupTypes, ", "))
		}
		out = append(out, t)
	}
	return out, nil
}

// parseTopicSpec reads one --topic: "t" or "t:0,1,2".
func parseTopicSpec(arg string) (topicSpec, error) {
	if !strings.Contains(arg, ":") {
		return topicSpec{topic: arg}, nil
	}
	parts := strings.Split(arg, ":")
	if len(parts) != 2 || parts[0] == "" || parts[1] == "" {
		return topicSpec{}, usageErrorf("Invalid topic arg '%s', expected topic name and partitions", arg)
	}
	spec := topicSpec{topic: parts[0]}
	for _, p := range strings.Split(parts[1], ",") {
		n, err := strconv.ParseInt(p, 10, 32)
		if err != nil || n < 0 {
			return topicSpec{}, usageErrorf("Invalid partition '%s' specified in topic arg '%s'", p, arg)
		}
		spec.partitions = append(spec.partitions, int32(n))
	}
	return spec, nil
}

// kafkaDateTimeRe is Utils.getDateTime's yyyy-MM-dd'T'HH:mm:ss.SSS with its zone forms.
var kafkaDateTimeRe = regexp.MustCompile(`^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})\.(\d{1,3})(Z|[+-]\d{2}(?::?\d{2})?)?$`)

// parseKafkaDateTime reads --to-datetime as Kafka's Utils.getDateTime: a time without
// a zone is UTC; Z, +hh, +hhmm and +hh:mm zones are accepted. The milliseconds are
// required, as in Kafka.
func parseKafkaDateTime(s string) (int64, error) {
	if !strings.Contains(s, "T") {
		return 0, usageErrorf("--to-datetime: Error parsing timestamp. It does not contain a 'T' according to ISO8601 format")
	}
	m := kafkaDateTimeRe.FindStringSubmatch(s)
	bad := usageErrorf("--to-datetime: Unparseable date: %q (the format is YYYY-MM-DDTHH:mm:SS.sss, optionally followed by Z, +hh, +hhmm or +hh:mm)", s)
	if m == nil {
		return 0, bad
	}
	num := func(i int) int { n, _ := strconv.Atoi(m[i]); return n }
	year, month, day, hour, minute, sec, ms := num(1), num(2), num(3), num(4), num(5), num(6), num(7)
	offset := 0
	if z := m[8]; z != "" && z != "Z" {
		digits := strings.ReplaceAll(z[1:], ":", "")
		h, _ := strconv.Atoi(digits[:2])
		mm := 0
		if len(digits) == 4 {
			mm, _ = strconv.Atoi(digits[2:])
		}
		if h > 23 || mm > 59 {
			return 0, bad
		}
		offset = h*3600 + mm*60
		if z[0] == '-' {
			offset = -offset
		}
	}
	t := time.Date(year, time.Month(month), day, hour, minute, sec, ms*int(time.Millisecond), time.FixedZone("", offset))
	// Kafka parses strictly: 2023-02-30 is an error, not March 2nd.
	if t.Year() != year || int(t.Month()) != month || t.Day() != day || t.Hour() != hour || t.Minute() != minute || t.Second() != sec {
		return 0, bad
	}
	return t.UnixMilli(), nil
}

// javaDurationRe is java.time.Duration.parse's grammar: PnDTnHnMn.nS.
var javaDurationRe = regexp.MustCompile(`^(?i)([-+]?)P(?:([-+]?[0-9]+)D)?(T(?:([-+]?[0-9]+)H)?(?:([-+]?[0-9]+)M)?(?:([-+]?[0-9]+)(?:[.,]([0-9]{0,9}))?S)?)?$`)

// parseJavaDuration reads --by-duration as java.time.Duration.parse.
func parseJavaDuration(s string) (time.Duration, error) {
	bad := usageErrorf("--by-duration: Text cannot be parsed to a Duration: %q (the format is PnDTnHnMnS, as P1DT2H30M)", s)
	m := javaDurationRe.FindStringSubmatch(s)
	if m == nil || (m[2] == "" && m[4] == "" && m[5] == "" && m[6] == "") || (m[3] != "" && m[4] == "" && m[5] == "" && m[6] == "") {
		return 0, bad
	}
	total := time.Duration(0)
	add := func(v string, unit time.Duration) bool {
		if v == "" {
			return true
		}
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n > int64(1<<62)/int64(unit) || n < -int64(1<<62)/int64(unit) {
			return false
		}
		total += time.Duration(n) * unit
		return true
	}
	if !add(m[2], 24*time.Hour) || !add(m[4], time.Hour) || !add(m[5], time.Minute) || !add(m[6], time.Second) {
		return 0, bad
	}
	if frac := m[7]; frac != "" {
		ns, _ := strconv.ParseInt((frac + "000000000")[:9], 10, 64)
		if strings.HasPrefix(m[6], "-") {
			ns = -ns
		}
		total += time.Duration(ns)
	}
	if m[1] == "-" {
		total = -total
	}
	return total, nil
}

// parseResetPlan reads a --from-file CSV as Kafka does: "topic,partition,offset" lines
// for the one --group, else "group,topic,partition,offset" lines.
func parseResetPlan(csv, singleGroup string) (map[string]map[topicPartition]int64, error) {
	var lines []string
	for _, l := range strings.Split(strings.ReplaceAll(csv, "\r\n", "\n"), "\n") {
		if strings.TrimSpace(l) != "" {
			lines = append(lines, l)
		}
	}
	oldFormat := len(lines) > 0 && len(strings.Split(lines[0], ",")) == 3
	plan := make(map[string]map[topicPartition]int64)
	for i, l := range lines {
		f := strings.Split(l, ",")
		group := singleGroup
		if !(singleGroup != "" && oldFormat) {
			if len(f) != 4 {
				return nil, usageErrorf("--from-file: line %d %q is not group,topic,partition,offset", i+1, l)
			}
			group, f = f[0], f[1:]
		} else if len(f) != 3 {
			return nil, usageErrorf("--from-file: line %d %q is not topic,partition,offset", i+1, l)
		}
		p, err1 := strconv.ParseInt(strings.TrimSpace(f[1]), 10, 32)
		off, err2 := strconv.ParseInt(strings.TrimSpace(f[2]), 10, 64)
		if err1 != nil || err2 != nil || p < 0 {
			return nil, usageErrorf("--from-file: line %d %q: bad partition or offset", i+1, l)
		}
		if plan[group] == nil {
			plan[group] = make(map[topicPartition]int64)
		}
		plan[group][topicPartition{f[0], int32(p)}] = off
	}
	return plan, nil
}

func validateGroupRegex(w io.Writer, re string) {
	if _, err := regexp.Compile(re); err != nil {
		var se *syntax.Error
		msg := err.Error()
		if errors.As(err, &se) {
			msg = string(se.Code)
		}
		fmt.Fprintf(w, "The regular expression `%s` is invalid: %s.\n", re, msg)
		return
	}
	fmt.Fprintf(w, "The regular expression `%s` is valid.\n", re)
}

// groupService runs the actions against the cluster.
type groupService struct {
	e   *env
	adm *kadm.Client
	cl  *kgo.Client
	o   *consumerGroupsOptions
}

// rctx bounds one request by --timeout.
func (s *groupService) rctx(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, s.o.timeout)
}

// listedGroup is one group of a ListGroups answer.
type listedGroup struct {
	Group string `json:"group"`
	Type  string `json:"type"`
	State string `json:"state"`
}

// listConsumerGroups is Kafka's listGroups(ListGroupsOptions.forConsumerGroups()):
// classic groups of the consumer protocol (or of none: groups that only commit
// offsets) and KIP-848 groups, filtered by states and types when given.
func (s *groupService) listConsumerGroups(ctx context.Context, states, types []string) ([]listedGroup, error) {
	if len(types) == 0 {
		types = groupTypes
	}
	req := kmsg.NewPtrListGroupsRequest()
	req.StatesFilter = append(req.StatesFilter, states...)
	for _, t := range types {
		req.TypesFilter = append(req.TypesFilter, strings.ToLower(t))
	}
	rctx, cancel := s.rctx(ctx)
	defer cancel()
	var out []listedGroup
	for _, shard := range s.cl.RequestSharded(rctx, req) {
		if shard.Err != nil {
			return nil, shard.Err
		}
		resp := shard.Resp.(*kmsg.ListGroupsResponse)
		if err := responseError(resp.ErrorCode, nil); err != nil {
			return nil, err
		}
		for _, g := range resp.Groups {
			lg := listedGroup{Group: g.Group, Type: canonicalType(g.GroupType), State: canonicalState(g.GroupState)}
			if g.GroupType == "" {
				lg.Type = "Classic" // ListGroups before v5 knows only classic groups
			}
			if g.ProtocolType != "consumer" && g.ProtocolType != "" {
				continue
			}
			if !containsFold(types, lg.Type) || (len(states) > 0 && !containsFold(states, lg.State)) {
				continue
			}
			out = append(out, lg)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Group < out[j].Group })
	return out, nil
}

func containsFold(list []string, s string) bool {
	for _, l := range list {
		if strings.EqualFold(l, s) {
			return true
		}
	}
	return false
}

// groupIDs returns the --group values, or every consumer group with --all-groups.
func (s *groupService) groupIDs(ctx context.Context) ([]string, error) {
	if !s.o.allGroups {
		return s.o.groups, nil
	}
	listed, err := s.listConsumerGroups(ctx, nil, nil)
	if err != nil {
		return nil, err
	}
	ids := make([]string, len(listed))
	for i, g := range listed {
		ids[i] = g.Group
	}
	return ids, nil
}

func (s *groupService) list(ctx context.Context) error {
	groups, err := s.listConsumerGroups(ctx, s.o.states, s.o.types)
	if err != nil {
		return err
	}
	if s.o.output.json() {
		if groups == nil {
			groups = []listedGroup{}
		}
		return writeJSON(s.e.stdout, groups)
	}
	withType, withState := s.o.set["type"], s.o.set["state"]
	if !withType && !withState {
		for _, g := range groups {
			fmt.Fprintln(s.e.stdout, g.Group)
		}
		return nil
	}
	width := 15
	for _, g := range groups {
		width = max(width, len(g.Group))
	}
	width += 10
	row := func(group, typ, state string) {
		line := fmt.Sprintf("%-*s", width, group)
		if withType {
			line += fmt.Sprintf(" %-20s", typ)
		}
		if withState {
			line += fmt.Sprintf(" %-20s", state)
		}
		fmt.Fprintln(s.e.stdout, line)
	}
	row("GROUP", "TYPE", "STATE")
	for _, g := range groups {
		row(g.Group, g.Type, g.State)
	}
	return nil
}

// groupDesc is what describing a group tells, from DescribeGroups (classic groups) or
// ConsumerGroupDescribe (KIP-848 groups).
type groupDesc struct {
	group       string
	coordinator kadm.BrokerDetail
	state       string // Kafka's GroupState name; "Dead" for a group that does not exist
	assignor    string
	members     []memberDesc
	// KIP-848 groups only.
	groupEpoch, targetEpoch *int32
}

type memberDesc struct {
	id, instanceID, host, clientID string
	assignment, target             []topicPartition
	memberEpoch                    *int32
	upgraded                       *bool // KIP-848 groups: whether the member speaks the new protocol
}

func setToTPs(s kadm.TopicsSet) []topicPartition {
	var out []topicPartition
	for t, ps := range s {
		for p := range ps {
			out = append(out, topicPartition{t, p})
		}
	}
	sortTPs(out)
	return out
}

// describe describes groups as Kafka 4's admin client does: ConsumerGroupDescribe
// first, for KIP-848 groups, then DescribeGroups for the rest. A group that does not
// exist is described as Dead.
func (s *groupService) describe(ctx context.Context, ids []string) (map[string]*groupDesc, error) {
	out := make(map[string]*groupDesc, len(ids))
	if len(ids) == 0 {
		return out, nil
	}
	// A broker without ConsumerGroupDescribe fails this; every group is then asked
	// about with DescribeGroups.
	cctx, cancel := s.rctx(ctx)
	cgs, _ := s.adm.DescribeConsumerGroups(cctx, ids...)
	cancel()
	var classic []string
	for _, id := range ids {
		cg, ok := cgs[id]
		if !ok || cg.Err != nil || strings.EqualFold(cg.State, "Dead") {
			classic = append(classic, id)
			continue
		}
		ge, te := cg.Epoch, cg.AssignmentEpoch
		d := &groupDesc{group: id, coordinator: cg.Coordinator, state: canonicalState(cg.State), assignor: cg.AssignorName,
			groupEpoch: &ge, targetEpoch: &te}
		for _, m := range cg.Members {
			me := m.MemberEpoch
			md := memberDesc{id: m.MemberID, host: m.ClientHost, clientID: m.ClientID, memberEpoch: &me,
				assignment: setToTPs(m.Assignment), target: setToTPs(m.TargetAssignment)}
			if m.InstanceID != nil {
				md.instanceID = *m.InstanceID
			}
			if m.MemberType >= 0 {
				up := m.MemberType == 1
				md.upgraded = &up
			}
			d.members = append(d.members, md)
		}
		out[id] = d
	}
	if len(classic) == 0 {
		return out, nil
	}
	rctx, cancel := s.rctx(ctx)
	defer cancel()
	described, err := s.adm.DescribeGroups(rctx, classic...)
	if err != nil {
		return nil, err
	}
	for _, id := range classic {
		dg, ok := described[id]
		if !ok || errors.Is(dg.Err, kerr.GroupIDNotFound) || (dg.Err == nil && strings.EqualFold(dg.State, "Dead")) {
			out[id] = &groupDesc{group: id, state: "Dead", coordinator: dg.Coordinator}
			continue
		}
		if dg.Err != nil {
			return nil, fmt.Errorf("describing group %s: %w", id, errorWithMessage(dg.Err, &dg.ErrMessage))
		}
		if dg.ProtocolType != "consumer" && dg.ProtocolType != "" {
			return nil, finalErrorf("Error: Group '%s' is not a consumer group (its protocol type is %s).", id, dg.ProtocolType)
		}
		d := &groupDesc{group: id, coordinator: dg.Coordinator, state: canonicalState(dg.State), assignor: dg.Protocol}
		for _, m := range dg.Members {
			md := memberDesc{id: m.MemberID, host: m.ClientHost, clientID: m.ClientID}
			if m.InstanceID != nil {
				md.instanceID = *m.InstanceID
			}
			if a, ok := m.Assigned.AsConsumer(); ok {
				for _, t := range a.Topics {
					for _, p := range t.Partitions {
						md.assignment = append(md.assignment, topicPartition{t.Topic, p})
					}
				}
				sortTPs(md.assignment)
			}
			d.members = append(d.members, md)
		}
		out[id] = d
	}
	return out, nil
}

// committedOffset is a group's committed offset for a partition.
type committedOffset struct {
	offset      int64
	leaderEpoch int32
}

// committed returns the group's committed offsets; partitions without one are absent.
func (s *groupService) committed(ctx context.Context, group string) (map[topicPartition]committedOffset, error) {
	rctx, cancel := s.rctx(ctx)
	defer cancel()
	resps, err := s.adm.FetchOffsets(rctx, group)
	if err != nil {
		if errors.Is(err, kerr.GroupIDNotFound) {
			return map[topicPartition]committedOffset{}, nil
		}
		return nil, fmt.Errorf("fetching the offsets of group %s: %w", group, err)
	}
	out := make(map[topicPartition]committedOffset)
	for t, ps := range resps {
		for p, r := range ps {
			if r.Err != nil || r.At < 0 {
				continue
			}
			out[topicPartition{t, p}] = committedOffset{offset: r.At, leaderEpoch: r.LeaderEpoch}
		}
	}
	return out, nil
}

// listOffsets asks the partitions' leaders for the offset at timestamp (-1 latest, -2
// earliest, else the first at or after that time). Partitions that fail are missing
// from the answer; -1 is "no such offset".
func (s *groupService) listOffsets(ctx context.Context, tps []topicPartition, timestamp int64) (map[topicPartition]int64, error) {
	out := make(map[topicPartition]int64, len(tps))
	if len(tps) == 0 {
		return out, nil
	}
	req := kmsg.NewPtrListOffsetsRequest()
	req.ReplicaID = -1
	byTopic := make(map[string]int)
	for _, tp := range tps {
		i, ok := byTopic[tp.Topic]
		if !ok {
			i = len(req.Topics)
			byTopic[tp.Topic] = i
			rt := kmsg.NewListOffsetsRequestTopic()
			rt.Topic = tp.Topic
			req.Topics = append(req.Topics, rt)
		}
		rp := kmsg.NewListOffsetsRequestTopicPartition()
		rp.Partition = tp.Partition
		rp.Timestamp = timestamp
		rp.CurrentLeaderEpoch = -1
		req.Topics[i].Partitions = append(req.Topics[i].Partitions, rp)
	}
	rctx, cancel := s.rctx(ctx)
	defer cancel()
	for _, shard := range s.cl.RequestSharded(rctx, req) {
		if shard.Err != nil {
			if errors.Is(shard.Err, context.DeadlineExceeded) || errors.Is(shard.Err, context.Canceled) {
				return nil, shard.Err
			}
			continue // e.g. a topic that no longer exists: its offsets stay unknown
		}
		resp := shard.Resp.(*kmsg.ListOffsetsResponse)
		for _, t := range resp.Topics {
			for _, p := range t.Partitions {
				if p.ErrorCode == 0 {
					out[topicPartition{t.Topic, p.Partition}] = p.Offset
				}
			}
		}
	}
	return out, nil
}

// partitionRow is one line of --describe --offsets.
type partitionRow struct {
	Topic         *string `json:"topic"`
	Partition     *int32  `json:"partition"`
	LeaderEpoch   *int32  `json:"leader_epoch"`
	CurrentOffset *int64  `json:"current_offset"`
	LogEndOffset  *int64  `json:"log_end_offset"`
	Lag           *int64  `json:"lag"`
	ConsumerID    *string `json:"consumer_id"`
	Host          *string `json:"host"`
	ClientID      *string `json:"client_id"`
}

type groupOffsetsJSON struct {
	Group      string         `json:"group"`
	State      string         `json:"state"`
	Partitions []partitionRow `json:"partitions"`
}

type groupMembersJSON struct {
	Group   string       `json:"group"`
	State   string       `json:"state"`
	Members []memberJSON `json:"members"`
}

type memberJSON struct {
	ConsumerID       string            `json:"consumer_id"`
	GroupInstanceID  *string           `json:"group_instance_id"`
	Host             string            `json:"host"`
	ClientID         string            `json:"client_id"`
	Partitions       int               `json:"partitions"`
	Assignment       []topicPartitions `json:"assignment"`
	MemberEpoch      *int32            `json:"member_epoch"`
	TargetAssignment []topicPartitions `json:"target_assignment"`
}

type topicPartitions struct {
	Topic      string  `json:"topic"`
	Partitions []int32 `json:"partitions"`
}

type groupStateJSON struct {
	Group                 string          `json:"group"`
	Coordinator           coordinatorJSON `json:"coordinator"`
	AssignmentStrategy    string          `json:"assignment_strategy"`
	State                 string          `json:"state"`
	GroupEpoch            *int32          `json:"group_epoch"`
	TargetAssignmentEpoch *int32          `json:"target_assignment_epoch"`
	Members               int             `json:"members"`
}

type coordinatorJSON struct {
	ID   int32  `json:"id"`
	Host string `json:"host"`
	Port int32  `json:"port"`
}

// groupOutcome collects the groups a command could not handle: one group's failure is
// the command's error; with several, each is printed on stderr and the error counts.
type groupOutcome struct {
	stderr io.Writer
	total  int
	errs   []error
}

func (g *groupOutcome) fail(err error) {
	if g.total > 1 {
		fmt.Fprintf(g.stderr, "\n%v\n", err)
	}
	g.errs = append(g.errs, err)
}

func (g *groupOutcome) err(what string) error {
	switch {
	case len(g.errs) == 0:
		return nil
	case g.total == 1:
		return g.errs[0]
	default:
		return finalErrorf("Error: %d of %d consumer groups could not be %s", len(g.errs), g.total, what)
	}
}

// checkGroupState is Kafka's shouldPrintMemberState: it reports a missing group and
// warns about an empty or rebalancing one, and says whether there is anything to print.
func (s *groupService) checkGroupState(d *groupDesc, rows int, outcome *groupOutcome) bool {
	switch d.state {
	case "Dead":
		outcome.fail(finalErrorf("Error: Consumer group '%s' does not exist.", d.group))
		return false
	case "Empty":
		fmt.Fprintf(s.e.stderr, "\nConsumer group '%s' has no active members.\n", d.group)
	case "PreparingRebalance", "CompletingRebalance", "Assigning", "Reconciling":
		fmt.Fprintf(s.e.stderr, "\nWarning: Consumer group '%s' is rebalancing.\n", d.group)
	}
	return rows > 0
}

func (s *groupService) describeGroups(ctx context.Context) error {
	ids, err := s.groupIDs(ctx)
	if err != nil {
		return err
	}
	descs, err := s.describe(ctx, ids)
	if err != nil {
		return err
	}
	sorted := append([]string(nil), ids...)
	sort.Strings(sorted)
	sorted = dedupSorted(sorted)
	outcome := &groupOutcome{stderr: s.e.stderr, total: len(sorted)}
	switch {
	case s.o.members:
		err = s.printMembers(sorted, descs, outcome)
	case s.o.set["state"]:
		err = s.printStates(sorted, descs, outcome)
	default:
		err = s.printOffsets(ctx, sorted, descs, outcome)
	}
	if err != nil {
		return err
	}
	return outcome.err("described")
}

func dedupSorted(s []string) []string {
	out := s[:0]
	for i, v := range s {
		if i == 0 || v != s[i-1] {
			out = append(out, v)
		}
	}
	return out
}

func ptr[T any](v T) *T { return &v }

// offsetRows builds the rows of --describe --offsets as Kafka's collectGroupsOffsets:
// members with partitions, the most partitions first, then committed partitions no
// member has.
func (s *groupService) offsetRows(ctx context.Context, d *groupDesc) ([]partitionRow, error) {
	committed, err := s.committed(ctx, d.group)
	if err != nil {
		return nil, err
	}
	type owned struct {
		tp topicPartition
		m  *memberDesc
	}
	var rows []owned
	assigned := make(map[topicPartition]bool)
	members := make([]*memberDesc, 0, len(d.members))
	for i := range d.members {
		if len(d.members[i].assignment) > 0 {
			members = append(members, &d.members[i])
		}
	}
	sort.SliceStable(members, func(i, j int) bool { return len(members[i].assignment) > len(members[j].assignment) })
	for _, m := range members {
		for _, tp := range m.assignment {
			rows = append(rows, owned{tp, m})
			assigned[tp] = true
		}
	}
	var rest []topicPartition
	for tp := range committed {
		if !assigned[tp] {
			rest = append(rest, tp)
		}
	}
	sortTPs(rest)
	for _, tp := range rest {
		rows = append(rows, owned{tp: tp})
	}
	all := make([]topicPartition, len(rows))
	for i, r := range rows {
		all[i] = r.tp
	}
	ends, err := s.listOffsets(ctx, all, -1)
	if err != nil {
		return nil, err
	}
	out := make([]partitionRow, 0, len(rows))
	for _, r := range rows {
		pr := partitionRow{Topic: ptr(r.tp.Topic), Partition: ptr(r.tp.Partition)}
		if c, ok := committed[r.tp]; ok {
			pr.CurrentOffset = ptr(c.offset)
			if c.leaderEpoch >= 0 {
				pr.LeaderEpoch = ptr(c.leaderEpoch)
			}
		}
		if end, ok := ends[r.tp]; ok && end >= 0 {
			pr.LogEndOffset = ptr(end)
			if pr.CurrentOffset != nil {
				pr.Lag = ptr(end - *pr.CurrentOffset)
			}
		}
		if r.m != nil {
			pr.ConsumerID, pr.Host, pr.ClientID = ptr(r.m.id), ptr(r.m.host), ptr(r.m.clientID)
		} else {
			pr.ConsumerID, pr.Host, pr.ClientID = ptr("-"), ptr("-"), ptr("-")
		}
		out = append(out, pr)
	}
	return out, nil
}

func orMissing[T any](v *T) string {
	if v == nil {
		return "-"
	}
	return fmt.Sprint(*v)
}

func (s *groupService) printOffsets(ctx context.Context, ids []string, descs map[string]*groupDesc, outcome *groupOutcome) error {
	var js []groupOffsetsJSON
	for _, id := range ids {
		d := descs[id]
		var rows []partitionRow
		if d.state != "Dead" {
			var err error
			if rows, err = s.offsetRows(ctx, d); err != nil {
				return err
			}
		}
		if !s.checkGroupState(d, len(rows), outcome) {
			if d.state != "Dead" && s.o.output.json() {
				js = append(js, groupOffsetsJSON{Group: id, State: d.state, Partitions: []partitionRow{}})
			}
			continue
		}
		if s.o.output.json() {
			js = append(js, groupOffsetsJSON{Group: id, State: d.state, Partitions: rows})
			continue
		}
		gw, tw, cw, hw := 15, 15, 15, 15
		for _, r := range rows {
			gw = max(gw, len(id))
			tw = max(tw, len(orMissing(r.Topic)))
			cw = max(cw, len(orMissing(r.ConsumerID)))
			hw = max(hw, len(orMissing(r.Host)))
		}
		line := func(group, topic, partition, epoch, current, end, lag, consumer, host, client string) {
			if s.o.verbose {
				fmt.Fprintf(s.e.stdout, "\n%-*s %-*s %-10s %-15s %-15s %-15s %-15s %-*s %-*s %s",
					gw, group, tw, topic, partition, epoch, current, end, lag, cw, consumer, hw, host, client)
			} else {
				fmt.Fprintf(s.e.stdout, "\n%-*s %-*s %-10s %-15s %-15s %-15s %-*s %-*s %s",
					gw, group, tw, topic, partition, current, end, lag, cw, consumer, hw, host, client)
			}
		}
		line("GROUP", "TOPIC", "PARTITION", "LEADER-EPOCH", "CURRENT-OFFSET", "LOG-END-OFFSET", "LAG", "CONSUMER-ID", "HOST", "CLIENT-ID")
		for _, r := range rows {
			line(id, orMissing(r.Topic), orMissing(r.Partition), orMissing(r.LeaderEpoch), orMissing(r.CurrentOffset),
				orMissing(r.LogEndOffset), orMissing(r.Lag), orMissing(r.ConsumerID), orMissing(r.Host), orMissing(r.ClientID))
		}
		fmt.Fprintln(s.e.stdout)
	}
	if s.o.output.json() {
		if js == nil {
			js = []groupOffsetsJSON{}
		}
		return writeJSON(s.e.stdout, js)
	}
	return nil
}

// assignmentString is Kafka's getAssignmentString: "t1:0,1;t2:0", topics sorted.
func assignmentString(tps []topicPartition) string {
	if len(tps) == 0 {
		return "-"
	}
	by := make(map[string][]int32)
	for _, tp := range tps {
		by[tp.Topic] = append(by[tp.Topic], tp.Partition)
	}
	var parts []string
	for t, ps := range by {
		sort.Slice(ps, func(i, j int) bool { return ps[i] < ps[j] })
		parts = append(parts, t+":"+joinInt32s(ps))
	}
	sort.Strings(parts)
	return strings.Join(parts, ";")
}

func assignmentJSON(tps []topicPartition) []topicPartitions {
	out := []topicPartitions{}
	for _, tp := range tps {
		if len(out) == 0 || out[len(out)-1].Topic != tp.Topic {
			out = append(out, topicPartitions{Topic: tp.Topic, Partitions: []int32{}})
		}
		out[len(out)-1].Partitions = append(out[len(out)-1].Partitions, tp.Partition)
	}
	return out
}

func (s *groupService) printMembers(ids []string, descs map[string]*groupDesc, outcome *groupOutcome) error {
	var js []groupMembersJSON
	for _, id := range ids {
		d := descs[id]
		show := s.checkGroupState(d, len(d.members), outcome)
		if d.state == "Dead" {
			continue
		}
		if s.o.output.json() {
			g := groupMembersJSON{Group: id, State: d.state, Members: []memberJSON{}}
			for _, m := range d.members {
				mj := memberJSON{ConsumerID: m.id, Host: m.host, ClientID: m.clientID, Partitions: len(m.assignment),
					Assignment: assignmentJSON(m.assignment), MemberEpoch: m.memberEpoch, TargetAssignment: assignmentJSON(m.target)}
				if m.instanceID != "" {
					mj.GroupInstanceID = ptr(m.instanceID)
				}
				g.Members = append(g.Members, mj)
			}
			js = append(js, g)
			continue
		}
		gw, cw, iw, hw, clw, caw, taw := 15, 15, 17, 15, 15, 20, 20
		withInstance, hasClassic, hasConsumer := false, false, false
		if show {
			for _, m := range d.members {
				gw, cw, iw = max(gw, len(id)), max(cw, len(m.id)), max(iw, len(m.instanceID))
				hw, clw = max(hw, len(m.host)), max(clw, len(m.clientID))
				caw, taw = max(caw, len(assignmentString(m.assignment))), max(taw, len(assignmentString(m.target)))
				withInstance = withInstance || m.instanceID != ""
				hasClassic = hasClassic || (m.upgraded != nil && !*m.upgraded)
				hasConsumer = hasConsumer || (m.upgraded != nil && *m.upgraded)
			}
		}
		migrating := hasClassic && hasConsumer
		head := func(group, consumer, instance, host, client, parts string) {
			if withInstance {
				fmt.Fprintf(s.e.stdout, "%-*s %-*s %-*s %-*s %-*s %-15s ", gw, group, cw, consumer, iw, instance, hw, host, clw, client, parts)
			} else {
				fmt.Fprintf(s.e.stdout, "%-*s %-*s %-*s %-*s %-15s ", gw, group, cw, consumer, hw, host, clw, client, parts)
			}
		}
		tail := func(curEpoch, cur, targetEpoch, target, upgraded string) {
			if !s.o.verbose {
				return
			}
			if migrating {
				fmt.Fprintf(s.e.stdout, "%-15s %-*s %-15s %-*s %s", curEpoch, caw, cur, targetEpoch, taw, target, upgraded)
			} else {
				fmt.Fprintf(s.e.stdout, "%-15s %-*s %-15s %-*s", curEpoch, caw, cur, targetEpoch, taw, target)
			}
		}
		fmt.Fprintln(s.e.stdout)
		head("GROUP", "CONSUMER-ID", "GROUP-INSTANCE-ID", "HOST", "CLIENT-ID", "#PARTITIONS")
		tail("CURRENT-EPOCH", "CURRENT-ASSIGNMENT", "TARGET-EPOCH", "TARGET-ASSIGNMENT", "UPGRADED")
		fmt.Fprintln(s.e.stdout)
		for _, m := range d.members {
			head(id, m.id, m.instanceID, m.host, m.clientID, strconv.Itoa(len(m.assignment)))
			tail(orMissing(m.memberEpoch), assignmentString(m.assignment), orMissing(d.targetEpoch), assignmentString(m.target), orMissing(m.upgraded))
			fmt.Fprintln(s.e.stdout)
		}
	}
	if s.o.output.json() {
		if js == nil {
			js = []groupMembersJSON{}
		}
		return writeJSON(s.e.stdout, js)
	}
	return nil
}

func (s *groupService) printStates(ids []string, descs map[string]*groupDesc, outcome *groupOutcome) error {
	var js []groupStateJSON
	for _, id := range ids {
		d := descs[id]
		if !s.checkGroupState(d, 1, outcome) {
			continue
		}
		if s.o.output.json() {
			js = append(js, groupStateJSON{Group: id, State: d.state, AssignmentStrategy: d.assignor, Members: len(d.members),
				Coordinator: coordinatorJSON{ID: d.coordinator.NodeID, Host: d.coordinator.Host, Port: d.coordinator.Port},
				GroupEpoch:  d.groupEpoch, TargetAssignmentEpoch: d.targetEpoch})
			continue
		}
		coord := fmt.Sprintf("%s:%d  (%d)", d.coordinator.Host, d.coordinator.Port, d.coordinator.NodeID)
		cw, gw := max(25, len(coord)), max(15, len(id))
		strategy := d.assignor
		if strategy == "" {
			strategy = "-"
		}
		if s.o.verbose {
			format := "\n%-*s %-*s %-20s %-20s %-15s %-25s %s"
			fmt.Fprintf(s.e.stdout, format, gw, "GROUP", cw, "COORDINATOR (ID)", "ASSIGNMENT-STRATEGY", "STATE", "GROUP-EPOCH", "TARGET-ASSIGNMENT-EPOCH", "#MEMBERS")
			fmt.Fprintf(s.e.stdout, format, gw, id, cw, coord, strategy, d.state, orMissing(d.groupEpoch), orMissing(d.targetEpoch), strconv.Itoa(len(d.members)))
		} else {
			format := "\n%-*s %-*s %-20s %-20s %s"
			fmt.Fprintf(s.e.stdout, format, gw, "GROUP", cw, "COORDINATOR (ID)", "ASSIGNMENT-STRATEGY", "STATE", "#MEMBERS")
			fmt.Fprintf(s.e.stdout, format, gw, id, cw, coord, strategy, d.state, strconv.Itoa(len(d.members)))
		}
		fmt.Fprintln(s.e.stdout)
	}
	if s.o.output.json() {
		if js == nil {
			js = []groupStateJSON{}
		}
		return writeJSON(s.e.stdout, js)
	}
	return nil
}

// javaExceptions names the Java exception Kafka's admin client raises for an error
// code; its tools print them, and scripts match on them.
var javaExceptions = map[int16]string{
	kerr.NonEmptyGroup.Code:              "GroupNotEmptyException",
	kerr.GroupIDNotFound.Code:            "GroupIdNotFoundException",
	kerr.InvalidGroupID.Code:             "InvalidGroupIdException",
	kerr.GroupAuthorizationFailed.Code:   "GroupAuthorizationException",
	kerr.CoordinatorNotAvailable.Code:    "CoordinatorNotAvailableException",
	kerr.NotCoordinator.Code:             "NotCoordinatorException",
	kerr.GroupSubscribedToTopic.Code:     "GroupSubscribedToTopicException",
	kerr.UnknownTopicOrPartition.Code:    "UnknownTopicOrPartitionException",
	kerr.TopicAuthorizationFailed.Code:   "TopicAuthorizationException",
	kerr.UnknownMemberID.Code:            "UnknownMemberIdException",
	kerr.IllegalGeneration.Code:          "IllegalGenerationException",
	kerr.RebalanceInProgress.Code:        "RebalanceInProgressException",
	kerr.CoordinatorLoadInProgress.Code:  "CoordinatorLoadInProgressException",
	kerr.OffsetMetadataTooLarge.Code:     "OffsetMetadataTooLarge",
	kerr.InvalidCommitOffsetSize.Code:    "InvalidCommitOffsetSizeException",
	kerr.UnstableOffsetCommit.Code:       "UnstableOffsetCommitException",
	kerr.StaleMemberEpoch.Code:           "StaleMemberEpochException",
	kerr.FencedInstanceID.Code:           "FencedInstanceIdException",
	kerr.UnknownServerError.Code:         "UnknownServerException",
	kerr.LeaderNotAvailable.Code:         "LeaderNotAvailableException",
	kerr.NotLeaderForPartition.Code:      "NotLeaderOrFollowerException",
	kerr.RequestTimedOut.Code:            "TimeoutException",
	kerr.InvalidRequest.Code:             "InvalidRequestException",
	kerr.UnsupportedVersion.Code:         "UnsupportedVersionException",
	kerr.ClusterAuthorizationFailed.Code: "ClusterAuthorizationException",
}

// javaErrorString is a Kafka error as Java's Throwable.toString prints it:
// "org.apache.kafka.common.errors.GroupNotEmptyException: The group is not empty."
func javaErrorString(err error) string {
	var ke *kerr.Error
	if errors.As(err, &ke) {
		if name, ok := javaExceptions[ke.Code]; ok {
			return "org.apache.kafka.common.errors." + name + ": " + describeErr(err)
		}
	}
	return describeErr(err)
}

func quotedList(ids []string) string {
	q := make([]string, len(ids))
	for i, id := range ids {
		q[i] = "'" + id + "'"
	}
	return strings.Join(q, ", ")
}

func (s *groupService) deleteGroups(ctx context.Context) error {
	ids, err := s.groupIDs(ctx)
	if err != nil {
		return err
	}
	var ok, failed []string
	reasons := make(map[string]error)
	if len(ids) > 0 {
		rctx, cancel := s.rctx(ctx)
		defer cancel()
		resps, err := s.adm.DeleteGroups(rctx, ids...)
		if err != nil && len(resps) == 0 {
			return err
		}
		for _, id := range dedupSorted(sortedCopy(ids)) {
			r, found := resps[id]
			switch {
			case !found:
				failed = append(failed, id)
				reasons[id] = err
				if reasons[id] == nil {
					reasons[id] = errors.New("the broker did not answer for this group")
				}
			case r.Err != nil:
				failed = append(failed, id)
				reasons[id] = errorWithMessage(r.Err, &r.ErrMessage)
			default:
				ok = append(ok, id)
			}
		}
	}
	if len(failed) == 0 {
		fmt.Fprintf(s.e.stdout, "Deletion of requested consumer groups (%s) was successful.\n", quotedList(ok))
		return nil
	}
	fmt.Fprintln(s.e.stdout, "\nError: Deletion of some consumer groups failed:")
	for _, id := range failed {
		fmt.Fprintf(s.e.stdout, "* Group '%s' could not be deleted due to: %s\n", id, javaErrorString(reasons[id]))
	}
	if len(ok) > 0 {
		fmt.Fprintf(s.e.stdout, "\nThese consumer groups were deleted successfully: %s\n", quotedList(ok))
	}
	if len(failed) == 1 && len(ok) == 0 {
		return finalErrorf("Error: consumer group '%s' could not be deleted: %s", failed[0], describeErr(reasons[failed[0]]))
	}
	return finalErrorf("Error: %d of %d consumer groups could not be deleted", len(failed), len(failed)+len(ok))
}

func sortedCopy(s []string) []string {
	out := append([]string(nil), s...)
	sort.Strings(out)
	return out
}

// topicPartitionsOf expands the --topic specs to partitions: a bare topic to all its
// partitions. Unknown topics are returned separately.
func (s *groupService) topicPartitionsOf(ctx context.Context, specs []topicSpec) (tps []topicPartition, unknown []string, err error) {
	var bare []string
	for _, spec := range specs {
		if spec.partitions == nil {
			bare = append(bare, spec.topic)
			continue
		}
		for _, p := range spec.partitions {
			tps = append(tps, topicPartition{spec.topic, p})
		}
	}
	if len(bare) > 0 {
		rctx, cancel := s.rctx(ctx)
		defer cancel()
		md, err := s.adm.Metadata(rctx, bare...)
		if err != nil {
			return nil, nil, err
		}
		for _, t := range bare {
			td, ok := md.Topics[t]
			if !ok || td.Err != nil {
				unknown = append(unknown, t)
				continue
			}
			for _, p := range td.Partitions.Numbers() {
				tps = append(tps, topicPartition{t, p})
			}
		}
	}
	return dedupTPs(tps), unknown, nil
}

func dedupTPs(tps []topicPartition) []topicPartition {
	seen := make(map[topicPartition]bool, len(tps))
	out := tps[:0]
	for _, tp := range tps {
		if !seen[tp] {
			seen[tp] = true
			out = append(out, tp)
		}
	}
	return out
}

func (s *groupService) deleteOffsets(ctx context.Context) error {
	group := s.o.groups[0]
	tps, unknown, err := s.topicPartitionsOf(ctx, s.o.topicSpecs)
	if err != nil {
		return err
	}
	results := make(map[topicPartition]error)
	for _, t := range unknown {
		results[topicPartition{t, -1}] = kerr.UnknownTopicOrPartition
	}
	var topLevel error
	if len(tps) > 0 {
		set := make(kadm.TopicsSet)
		for _, tp := range tps {
			set.Add(tp.Topic, tp.Partition)
		}
		rctx, cancel := s.rctx(ctx)
		defer cancel()
		resps, err := s.adm.DeleteOffsets(rctx, group, set)
		var ke *kerr.Error
		if err != nil && !errors.As(err, &ke) {
			return err
		}
		topLevel = err
		for _, tp := range tps {
			perr := topLevel
			if topLevel == nil {
				var found bool
				perr, found = resps[tp.Topic][tp.Partition]
				if !found {
					perr = kerr.UnknownTopicOrPartition
				}
			}
			results[tp] = perr
		}
		if topLevel == nil {
			for _, tp := range tps {
				if results[tp] != nil {
					topLevel = results[tp]
					break
				}
			}
		}
	}
	var ke *kerr.Error
	errors.As(topLevel, &ke)
	switch {
	case topLevel == nil:
		fmt.Fprintf(s.e.stdout, "Request succeeded for deleting offsets from group %s.\n", group)
	case ke != nil && (ke == kerr.InvalidGroupID || ke == kerr.GroupIDNotFound || ke == kerr.GroupAuthorizationFailed || ke == kerr.NonEmptyGroup):
		fmt.Fprintf(s.e.stdout, "\nError: %s\n", ke.Description)
	case ke != nil && (ke == kerr.GroupSubscribedToTopic || ke == kerr.TopicAuthorizationFailed || ke == kerr.UnknownTopicOrPartition):
		fmt.Fprintln(s.e.stdout, "\nError: Encountered some partition-level error, see the follow-up details.")
	default:
		fmt.Fprintf(s.e.stdout, "\nError: Encountered some unknown error: %s\n", describeErr(topLevel))
	}
	keys := make([]topicPartition, 0, len(results))
	tw := 15
	for tp := range results {
		keys = append(keys, tp)
		tw = max(tw, len(tp.Topic))
	}
	// Kafka sorts by topic and partition concatenated, so "t10" comes before "t2".
	sort.Slice(keys, func(i, j int) bool {
		return keys[i].Topic+strconv.Itoa(int(keys[i].Partition)) < keys[j].Topic+strconv.Itoa(int(keys[j].Partition))
	})
	format := "\n%-*s %-10s %-15s"
	fmt.Fprintf(s.e.stdout, format, tw, "TOPIC", "PARTITION", "STATUS")
	failed := 0
	for _, tp := range keys {
		part, status := "-", "Successful"
		if tp.Partition >= 0 {
			part = strconv.Itoa(int(tp.Partition))
		}
		if err := results[tp]; err != nil {
			status = "Error: " + javaErrorString(err)
			failed++
		}
		fmt.Fprintf(s.e.stdout, format, tw, tp.Topic, part, status)
	}
	fmt.Fprintln(s.e.stdout)
	if topLevel != nil || failed > 0 {
		if ke != nil && topLevel != nil && failed == len(keys) {
			return finalErrorf("Error: deleting offsets from group %s failed: %s", group, ke.Description)
		}
		return finalErrorf("Error: deleting offsets from group %s failed for %d of %d partitions", group, failed, len(keys))
	}
	return nil
}

// resetOffsets is Kafka's resetOffsets: each inactive group gets a plan (committed
// with --execute); an active group is refused.
func (s *groupService) resetOffsets(ctx context.Context) error {
	ids, err := s.groupIDs(ctx)
	if err != nil {
		return err
	}
	ids = dedupSorted(sortedCopy(ids))
	descs, err := s.describe(ctx, ids)
	if err != nil {
		return err
	}
	outcome := &groupOutcome{stderr: s.e.stderr, total: len(ids)}
	plans := make(map[string]map[topicPartition]int64)
	for _, id := range ids {
		switch st := descs[id].state; st {
		case "Empty", "Dead":
			plan, err := s.planReset(ctx, id)
			if err != nil {
				var fe *finalError
				if errors.As(err, &fe) {
					outcome.fail(err)
					continue
				}
				return err
			}
			if s.o.execute && len(plan) > 0 {
				if err := s.commit(ctx, id, plan); err != nil {
					return err
				}
			}
			plans[id] = plan
		default:
			outcome.fail(finalErrorf("Error: Assignments can only be reset if the group '%s' is inactive, but the current state is %s.", id, st))
		}
	}
	if len(plans) > 0 {
		if s.o.export {
			s.printResetCSV(plans)
		} else {
			s.printResetPlan(plans)
		}
	}
	return outcome.err("reset")
}

// planReset works out the new offsets of one inactive group.
func (s *groupService) planReset(ctx context.Context, group string) (map[topicPartition]int64, error) {
	o := s.o
	if o.set["from-file"] {
		plan, ok := o.resetPlan[group]
		if !ok {
			return nil, finalErrorf("Error: No reset plan for group %s found.", group)
		}
		return s.clamp(ctx, plan)
	}
	var tps []topicPartition
	var committed map[topicPartition]committedOffset
	var err error
	if o.allTopics || o.set["shift-by"] || o.set["to-current"] {
		if committed, err = s.committed(ctx, group); err != nil {
			return nil, err
		}
	}
	if o.allTopics {
		for tp := range committed {
			tps = append(tps, tp)
		}
	} else {
		var unknown []string
		if tps, unknown, err = s.topicPartitionsOf(ctx, o.topicSpecs); err != nil {
			return nil, err
		}
		if len(unknown) > 0 {
			return nil, finalErrorf("Error: Executing consumer group command failed due to Topic %s not found.", unknown[0])
		}
	}
	sortTPs(tps)
	if err := s.checkPartitionsExist(ctx, tps); err != nil {
		return nil, err
	}
	plan := make(map[topicPartition]int64, len(tps))
	switch {
	case o.set["to-offset"]:
		for _, tp := range tps {
			plan[tp] = o.toOffset
		}
		return s.clamp(ctx, plan)
	case o.toEarliest, o.toLatest:
		ts := int64(-2)
		if o.toLatest {
			ts = -1
		}
		offs, err := s.listOffsets(ctx, tps, ts)
		if err != nil {
			return nil, err
		}
		for _, tp := range tps {
			off, ok := offs[tp]
			if !ok || off < 0 {
				which := map[bool]string{true: "ending", false: "starting"}[o.toLatest]
				return nil, usageErrorf("Error getting %s offset of topic partition: %s", which, tp)
			}
			plan[tp] = off
		}
		return plan, nil
	case o.set["shift-by"]:
		for _, tp := range tps {
			c, ok := committed[tp]
			if !ok {
				return nil, usageErrorf("Cannot shift offset for partition %s since there is no current committed offset", tp)
			}
			plan[tp] = c.offset + o.shiftBy
		}
		return s.clamp(ctx, plan)
	case o.set["to-datetime"], o.set["by-duration"]:
		offs, err := s.listOffsets(ctx, tps, o.timestamp)
		if err != nil {
			return nil, err
		}
		var empty []topicPartition
		for _, tp := range tps {
			off, ok := offs[tp]
			if !ok {
				return nil, usageErrorf("Error getting offset by timestamp of topic partition: %s", tp)
			}
			if off < 0 {
				fmt.Fprintf(s.e.stdout, "\nWarn: Partition %d from topic %s is empty. Falling back to latest known offset.\n", tp.Partition, tp.Topic)
				empty = append(empty, tp)
				continue
			}
			plan[tp] = off
		}
		ends, err := s.listOffsets(ctx, empty, -1)
		if err != nil {
			return nil, err
		}
		for _, tp := range empty {
			end, ok := ends[tp]
			if !ok || end < 0 {
				return nil, usageErrorf("Error getting offset by timestamp of topic partition: %s", tp)
			}
			plan[tp] = end
		}
		return plan, nil
	case o.toCurr:
		var none []topicPartition
		for _, tp := range tps {
			if c, ok := committed[tp]; ok {
				plan[tp] = c.offset
			} else {
				none = append(none, tp)
			}
		}
		ends, err := s.listOffsets(ctx, none, -1)
		if err != nil {
			return nil, err
		}
		for _, tp := range none {
			end, ok := ends[tp]
			if !ok || end < 0 {
				return nil, fmt.Errorf("Error getting ending offset of topic partition: %s", tp)
			}
			plan[tp] = end
		}
		return plan, nil
	}
	return nil, usageErrorf("no reset scenario") // validate makes this unreachable
}

// checkPartitionsExist is Kafka's checkAllTopicPartitionsValid.
func (s *groupService) checkPartitionsExist(ctx context.Context, tps []topicPartition) error {
	if len(tps) == 0 {
		return nil
	}
	topics := make(map[string]bool)
	var names []string
	for _, tp := range tps {
		if !topics[tp.Topic] {
			topics[tp.Topic] = true
			names = append(names, tp.Topic)
		}
	}
	rctx, cancel := s.rctx(ctx)
	defer cancel()
	md, err := s.adm.Metadata(rctx, names...)
	if err != nil {
		return err
	}
	var missing, leaderless []string
	for _, tp := range tps {
		td, ok := md.Topics[tp.Topic]
		if !ok || td.Err != nil {
			missing = append(missing, tp.String())
			continue
		}
		pd, ok := td.Partitions[tp.Partition]
		switch {
		case !ok:
			missing = append(missing, tp.String())
		case pd.Leader < 0:
			leaderless = append(leaderless, tp.String())
		}
	}
	if len(missing) > 0 {
		return finalErrorf("Error: Executing consumer group command failed due to The partitions \"%s\" do not exist", strings.Join(missing, ","))
	}
	if len(leaderless) > 0 {
		return finalErrorf("Error: Executing consumer group command failed due to The partitions \"%s\" have no leader", strings.Join(leaderless, ","))
	}
	return nil
}

// clamp is Kafka's checkOffsetsRange: an offset past the log end becomes the log end,
// one before the log start becomes the log start, each with a warning.
func (s *groupService) clamp(ctx context.Context, plan map[topicPartition]int64) (map[topicPartition]int64, error) {
	tps := make([]topicPartition, 0, len(plan))
	for tp := range plan {
		tps = append(tps, tp)
	}
	sortTPs(tps)
	starts, err := s.listOffsets(ctx, tps, -2)
	if err != nil {
		return nil, err
	}
	ends, err := s.listOffsets(ctx, tps, -1)
	if err != nil {
		return nil, err
	}
	out := make(map[topicPartition]int64, len(plan))
	for _, tp := range tps {
		off := plan[tp]
		end, okEnd := ends[tp]
		if !okEnd {
			return nil, fmt.Errorf("Unexpected non-existing offset value for topic partition %s", tp)
		}
		if start, ok := starts[tp]; off > end {
			fmt.Fprintf(s.e.stderr, "WARN New offset (%d) is higher than latest offset for topic partition %s. Value will be set to %d.\n", off, tp, end)
			off = end
		} else if ok && off < start {
			fmt.Fprintf(s.e.stderr, "WARN New offset (%d) is lower than earliest offset for topic partition %s. Value will be set to %d.\n", off, tp, start)
			off = start
		}
		out[tp] = off
	}
	return out, nil
}

// commit stores the plan as the group's committed offsets (an OffsetCommit outside
// any generation, as Kafka's alterConsumerGroupOffsets).
func (s *groupService) commit(ctx context.Context, group string, plan map[topicPartition]int64) error {
	offsets := make(kadm.Offsets)
	for tp, off := range plan {
		offsets.Add(kadm.Offset{Topic: tp.Topic, Partition: tp.Partition, At: off, LeaderEpoch: -1})
	}
	rctx, cancel := s.rctx(ctx)
	defer cancel()
	resps, err := s.adm.CommitOffsets(rctx, group, offsets)
	if err != nil {
		return fmt.Errorf("committing the offsets of group %s: %w", group, err)
	}
	if err := resps.Error(); err != nil {
		return fmt.Errorf("committing the offsets of group %s: %w", group, err)
	}
	return nil
}

func (s *groupService) printResetPlan(plans map[string]map[topicPartition]int64) {
	gw, tw := 15, 15
	groups := make([]string, 0, len(plans))
	for g, plan := range plans {
		groups = append(groups, g)
		gw = max(gw, len(g))
		for tp := range plan {
			tw = max(tw, len(tp.Topic))
		}
	}
	sort.Strings(groups)
	format := "\n%-*s %-*s %-10s %s"
	fmt.Fprintf(s.e.stdout, format, gw, "GROUP", tw, "TOPIC", "PARTITION", "NEW-OFFSET")
	for _, g := range groups {
		for _, tp := range sortedPlanKeys(plans[g]) {
			fmt.Fprintf(s.e.stdout, format, gw, g, tw, tp.Topic, strconv.Itoa(int(tp.Partition)), strconv.FormatInt(plans[g][tp], 10))
		}
	}
	fmt.Fprintln(s.e.stdout)
}

func sortedPlanKeys(plan map[topicPartition]int64) []topicPartition {
	tps := make([]topicPartition, 0, len(plan))
	for tp := range plan {
		tps = append(tps, tp)
	}
	sortTPs(tps)
	return tps
}

// printResetCSV is --export: the plan as --from-file reads it back.
func (s *groupService) printResetCSV(plans map[string]map[topicPartition]int64) {
	single := len(s.o.groups) == 1
	groups := make([]string, 0, len(plans))
	for g := range plans {
		groups = append(groups, g)
	}
	sort.Strings(groups)
	var b strings.Builder
	for _, g := range groups {
		for _, tp := range sortedPlanKeys(plans[g]) {
			if !single {
				b.WriteString(csvField(g) + ",")
			}
			fmt.Fprintf(&b, "%s,%d,%d\n", csvField(tp.Topic), tp.Partition, plans[g][tp])
		}
	}
	fmt.Fprintln(s.e.stdout, b.String())
}

// csvField quotes a field as Jackson's CSV writer does when it must.
func csvField(f string) string {
	if strings.ContainsAny(f, ",\"\n\r") {
		return `"` + strings.ReplaceAll(f, `"`, `""`) + `"`
	}
	return f
}
