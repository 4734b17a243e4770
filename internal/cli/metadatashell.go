package cli

import (
	"bufio"
	"cmp"
	"context"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

const metadataShellSummary = `Browse the cluster metadata as zkCli.sh browses a ZooKeeper-based Kafka.

  samsa metadata --bootstrap-server host:port ls /brokers/ids
  samsa metadata --bootstrap-server host:port get /brokers/topics/t/partitions/0/state
  samsa metadata --bootstrap-server host:port          (a shell: one command a line)

Commands: ls <path>, get <path>, and in the shell also help and quit. Paths follow
Kafka's ZooKeeper layout: /brokers/ids/<id>, /brokers/topics/<topic>/partitions/<p>/state,
/controller, /cluster/id, /config/topics/<topic>, /config/brokers/<id>. Everything is
read from the cluster's metadata quorum through the Kafka protocol.`

// metadataPrompt is the shell's prompt, shown only when standard input is a terminal.
const metadataPrompt = "samsa-metadata> "

func runMetadataShell(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet(e, "metadata", metadataShellSummary)
	var client clientFlags
	client.register(fs)
	command, err := parseSubcommandFlags(e, fs, args)
	if err != nil {
		if isHelp(err) {
			return nil
		}
		return err
	}
	if len(command) > 0 {
		// Check the command before connecting, so mistakes are usage errors.
		if _, _, err := parseMetaCommand(command); err != nil {
			return err
		}
	}
	cl, err := client.newClient(ctx)
	if err != nil {
		return err
	}
	defer cl.Close()
	sh := &metaShell{cl: cl, out: e.stdout}
	if len(command) > 0 {
		return sh.exec(ctx, command)
	}
	return sh.interactive(ctx, e.stdin, e.stderr)
}

// metaShell answers ls and get over the cluster's metadata. Each command reads the
// metadata afresh, as zkCli.sh reads ZooKeeper live.
type metaShell struct {
	cl  *kgo.Client
	out io.Writer
}

// isTerminal reports whether r is a character device (a terminal), without a
// dependency: os.File's mode says so.
func isTerminal(r io.Reader) bool {
	f, ok := r.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// interactive reads commands from in, one a line, until quit or end of input. A failed
// command prints its error and the shell goes on, as zkCli.sh does; when the input is
// not a terminal (a script), the shell then ends with an error naming how many failed.
// Cancelling ctx (Ctrl-C) ends the shell at once, even while it waits for a line.
func (s *metaShell) interactive(ctx context.Context, in io.Reader, errOut io.Writer) error {
	prompt := isTerminal(in)
	// A reader goroutine, so that waiting for input does not hold off ctx. On a
	// terminal it may stay blocked in Read after Ctrl-C until the process exits.
	lines := make(chan string)
	readErr := make(chan error, 1)
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(in)
		for sc.Scan() {
			select {
			case lines <- sc.Text():
			case <-stop:
				return
			}
		}
		readErr <- sc.Err()
	}()
	failed := 0
	for {
		if prompt {
			fmt.Fprint(s.out, metadataPrompt)
		}
		var line string
		select {
		case <-ctx.Done():
			if prompt {
				fmt.Fprintln(s.out)
			}
			return nil
		case l, ok := <-lines:
			if !ok {
				if prompt {
					fmt.Fprintln(s.out)
				}
				return s.shellResult(prompt, failed, <-readErr)
			}
			line = l
		}
		fields := strings.Fields(line)
		if len(fields) == 0 {
			continue
		}
		switch fields[0] {
		case "quit", "exit":
			return s.shellResult(prompt, failed, nil)
		case "help":
			fmt.Fprint(s.out, "ls <path>\nget <path>\nquit\n")
			continue
		}
		if err := s.exec(ctx, fields); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			// zkCli.sh's wording alone, without the "usage: " of a command-line mistake.
			fmt.Fprintln(errOut, strings.TrimPrefix(describeErr(err), errUsage.Error()+": "))
			failed++
		}
	}
}

func (s *metaShell) shellResult(prompt bool, failed int, err error) error {
	if err != nil {
		return fmt.Errorf("metadata: reading commands: %w", err)
	}
	if failed > 0 && !prompt {
		return fmt.Errorf("metadata: %d command(s) failed", failed)
	}
	return nil
}

// parseMetaCommand checks a command line: ls or get and one absolute path.
func parseMetaCommand(fields []string) (verb, path string, err error) {
	verb = fields[0]
	if verb != "ls" && verb != "get" {
		return "", "", usageErrorf("unknown command %q: use ls <path> or get <path>", verb)
	}
	if len(fields) != 2 {
		return "", "", usageErrorf("%s takes one path, e.g. %s /brokers/ids", verb, verb)
	}
	path = fields[1]
	if !strings.HasPrefix(path, "/") {
		return "", "", usageErrorf("Path must start with / character")
	}
	if len(path) > 1 && strings.HasSuffix(path, "/") {
		return "", "", usageErrorf("Path must not end with / character")
	}
	return verb, path, nil
}

// errNoNode is zkCli.sh's answer for a path that does not exist.
type errNoNode string

func (e errNoNode) Error() string { return "Node does not exist: " + string(e) }

// exec runs one ls or get and prints its answer.
func (s *metaShell) exec(ctx context.Context, fields []string) error {
	verb, path, err := parseMetaCommand(fields)
	if err != nil {
		return err
	}
	n, err := s.resolve(ctx, path)
	if err != nil {
		return err
	}
	if verb == "ls" {
		children := n.children
		if children == nil {
			children = []string{}
		}
		_, err := fmt.Fprintf(s.out, "[%s]\n", strings.Join(children, ", "))
		return err
	}
	data := "null"
	if n.data != nil {
		if data, err = n.data(ctx); err != nil {
			return err
		}
	}
	_, err = fmt.Fprintln(s.out, data)
	return err
}

// metaNode is one node of the ZooKeeper-shaped tree: its children's names and, for
// nodes that hold data, how to read it (nil: the node holds none, printed as null).
type metaNode struct {
	children []string
	data     func(context.Context) (string, error)
}

// snapshot is the cluster metadata one command looks at.
type snapshot struct {
	clusterID    string
	controllerID int32
	brokers      []kmsg.MetadataResponseBroker // sorted by id
	topics       map[string]kmsg.MetadataResponseTopic
}

func (s *metaShell) snapshot(ctx context.Context) (*snapshot, error) {
	req := kmsg.NewPtrMetadataRequest() // Topics nil: all topics
	resp, err := req.RequestWith(ctx, s.cl)
	if err != nil {
		return nil, fmt.Errorf("metadata: Metadata: %w", err)
	}
	snap := &snapshot{controllerID: resp.ControllerID, brokers: resp.Brokers, topics: make(map[string]kmsg.MetadataResponseTopic)}
	if resp.ClusterID != nil {
		snap.clusterID = *resp.ClusterID
	}
	slices.SortFunc(snap.brokers, func(a, b kmsg.MetadataResponseBroker) int { return cmp.Compare(a.NodeID, b.NodeID) })
	for _, t := range resp.Topics {
		if t.Topic == nil || t.ErrorCode != 0 {
			continue
		}
		slices.SortFunc(t.Partitions, func(a, b kmsg.MetadataResponseTopicPartition) int { return cmp.Compare(a.Partition, b.Partition) })
		snap.topics[*t.Topic] = t
	}
	return snap, nil
}

func (snap *snapshot) topicNames() []string {
	names := make([]string, 0, len(snap.topics))
	for n := range snap.topics {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

func (snap *snapshot) brokerIDs() []string {
	ids := make([]string, len(snap.brokers))
	for i, b := range snap.brokers {
		ids[i] = strconv.Itoa(int(b.NodeID))
	}
	return ids
}

// resolve finds the node at path.
func (s *metaShell) resolve(ctx context.Context, path string) (*metaNode, error) {
	var parts []string
	if path != "/" {
		parts = strings.Split(strings.TrimPrefix(path, "/"), "/")
	}
	noNode := errNoNode(path)
	leaf := func(data func(context.Context) (string, error)) *metaNode { return &metaNode{data: data} }
	switch {
	case len(parts) == 0:
		return &metaNode{children: []string{"brokers", "cluster", "config", "controller"}}, nil
	case parts[0] == "cluster":
		switch {
		case len(parts) == 1:
			return &metaNode{children: []string{"id"}}, nil
		case len(parts) == 2 && parts[1] == "id":
			return leaf(func(ctx context.Context) (string, error) {
				snap, err := s.snapshot(ctx)
				if err != nil {
					return "", err
				}
				return jsonObject{{"version", "1"}, {"id", snap.clusterID}}.String(), nil
			}), nil
		}
		return nil, noNode
	case parts[0] == "controller":
		if len(parts) > 1 {
			return nil, noNode
		}
		return leaf(s.controllerData), nil
	case parts[0] == "brokers" || parts[0] == "config":
		snap, err := s.snapshot(ctx)
		if err != nil {
			return nil, err
		}
		if parts[0] == "brokers" {
			return s.resolveBrokers(snap, parts[1:], noNode)
		}
		return s.resolveConfig(ctx, snap, parts[1:], noNode)
	}
	return nil, noNode
}

// resolveBrokers resolves the paths under /brokers.
func (s *metaShell) resolveBrokers(snap *snapshot, parts []string, noNode error) (*metaNode, error) {
	if len(parts) == 0 {
		return &metaNode{children: []string{"ids", "topics"}}, nil
	}
	switch parts[0] {
	case "ids":
		if len(parts) == 1 {
			return &metaNode{children: snap.brokerIDs()}, nil
		}
		if len(parts) > 2 {
			return nil, noNode
		}
		for _, b := range snap.brokers {
			if strconv.Itoa(int(b.NodeID)) == parts[1] {
				return &metaNode{data: func(context.Context) (string, error) { return brokerZNode(b), nil }}, nil
			}
		}
		return nil, noNode
	case "topics":
		if len(parts) == 1 {
			return &metaNode{children: snap.topicNames()}, nil
		}
		t, ok := snap.topics[parts[1]]
		if !ok {
			return nil, noNode
		}
		switch {
		case len(parts) == 2:
			return &metaNode{children: []string{"partitions"}, data: func(context.Context) (string, error) { return topicZNode(t), nil }}, nil
		case parts[2] != "partitions":
			return nil, noNode
		case len(parts) == 3:
			ids := make([]string, len(t.Partitions))
			for i, p := range t.Partitions {
				ids[i] = strconv.Itoa(int(p.Partition))
			}
			return &metaNode{children: ids}, nil
		}
		var part *kmsg.MetadataResponseTopicPartition
		for i := range t.Partitions {
			if strconv.Itoa(int(t.Partitions[i].Partition)) == parts[3] {
				part = &t.Partitions[i]
			}
		}
		switch {
		case part == nil || len(parts) > 5:
			return nil, noNode
		case len(parts) == 4:
			return &metaNode{children: []string{"state"}}, nil
		case parts[4] != "state":
			return nil, noNode
		}
		p := *part
		return &metaNode{data: func(ctx context.Context) (string, error) {
			_, epoch := s.controller(ctx, snap)
			return jsonObject{{"controller_epoch", epoch}, {"leader", p.Leader}, {"version", int32(1)},
				{"leader_epoch", p.LeaderEpoch}, {"isr", int32sAny(p.ISR)}}.String(), nil
		}}, nil
	}
	return nil, noNode
}

// resolveConfig resolves the paths under /config.
func (s *metaShell) resolveConfig(ctx context.Context, snap *snapshot, parts []string, noNode error) (*metaNode, error) {
	if len(parts) == 0 {
		return &metaNode{children: []string{"brokers", "topics"}}, nil
	}
	switch parts[0] {
	case "topics":
		if len(parts) == 1 {
			return &metaNode{children: snap.topicNames()}, nil
		}
		if _, ok := snap.topics[parts[1]]; !ok || len(parts) > 2 {
			return nil, noNode
		}
		name := parts[1]
		return &metaNode{data: func(ctx context.Context) (string, error) {
			return s.configZNode(ctx, kmsg.ConfigResourceTypeTopic, name, kmsg.ConfigSourceDynamicTopicConfig)
		}}, nil
	case "brokers":
		// As in ZooKeeper, only entities with dynamic overrides have a node.
		overridden, err := s.brokersWithOverrides(ctx, snap)
		if err != nil {
			return nil, err
		}
		if len(parts) == 1 {
			return &metaNode{children: overridden}, nil
		}
		if !slices.Contains(overridden, parts[1]) || len(parts) > 2 {
			return nil, noNode
		}
		name, source := parts[1], kmsg.ConfigSourceDynamicBrokerConfig
		if name == "<default>" {
			name, source = "", kmsg.ConfigSourceDynamicDefaultBrokerConfig
		}
		return &metaNode{data: func(ctx context.Context) (string, error) {
			return s.configZNode(ctx, kmsg.ConfigResourceTypeBroker, name, source)
		}}, nil
	}
	return nil, noNode
}

// describeConfigs returns a resource's configs that come from source, by name.
func (s *metaShell) describeConfigs(ctx context.Context, typ kmsg.ConfigResourceType, name string, source kmsg.ConfigSource) (map[string]string, error) {
	req := kmsg.NewPtrDescribeConfigsRequest()
	rr := kmsg.NewDescribeConfigsRequestResource()
	rr.ResourceType, rr.ResourceName = typ, name
	req.Resources = append(req.Resources, rr)
	resp, err := req.RequestWith(ctx, s.cl)
	if err != nil {
		return nil, fmt.Errorf("metadata: DescribeConfigs: %w", err)
	}
	if len(resp.Resources) != 1 {
		return nil, fmt.Errorf("metadata: DescribeConfigs answered with %d resources", len(resp.Resources))
	}
	res := resp.Resources[0]
	if err := responseError(res.ErrorCode, res.ErrorMessage); err != nil {
		return nil, err
	}
	out := make(map[string]string)
	for _, c := range res.Configs {
		if c.Source != source {
			continue
		}
		v := ""
		if c.Value != nil {
			v = *c.Value
		}
		out[c.Name] = v
	}
	return out, nil
}

// configZNode is Kafka's config znode: {"version":1,"config":{...overrides...}}.
func (s *metaShell) configZNode(ctx context.Context, typ kmsg.ConfigResourceType, name string, source kmsg.ConfigSource) (string, error) {
	cfg, err := s.describeConfigs(ctx, typ, name, source)
	if err != nil {
		return "", err
	}
	return jsonObject{{"version", int32(1)}, {"config", sortedJSONObject(cfg)}}.String(), nil
}

// brokersWithOverrides lists the brokers with dynamic configs, then "<default>" when
// cluster-wide defaults are set. A broker's DescribeConfigs shows both.
func (s *metaShell) brokersWithOverrides(ctx context.Context, snap *snapshot) ([]string, error) {
	out := []string{}
	hasDefault := false
	for _, id := range snap.brokerIDs() {
		own, err := s.describeConfigs(ctx, kmsg.ConfigResourceTypeBroker, id, kmsg.ConfigSourceDynamicBrokerConfig)
		if err != nil {
			return nil, err
		}
		if len(own) > 0 {
			out = append(out, id)
		}
		if !hasDefault {
			def, err := s.describeConfigs(ctx, kmsg.ConfigResourceTypeBroker, id, kmsg.ConfigSourceDynamicDefaultBrokerConfig)
			if err != nil {
				return nil, err
			}
			hasDefault = len(def) > 0
		}
	}
	if hasDefault {
		out = append(out, "<default>")
	}
	return out, nil
}

// controller returns the active controller and its epoch: the metadata quorum's leader
// and epoch from DescribeQuorum, else (a cluster that does not answer it) the
// controller Metadata names, with epoch 1.
func (s *metaShell) controller(ctx context.Context, snap *snapshot) (id, epoch int32) {
	if q, err := describeQuorum(ctx, s.cl); err == nil && q.leaderID >= 0 {
		return q.leaderID, q.leaderEpoch
	}
	return snap.controllerID, 1
}

// controllerData is the /controller znode: {"version":2,"brokerid":N,"timestamp":"ms"}.
// The timestamp is when the answer was read: the quorum does not record when its leader
// was elected.
func (s *metaShell) controllerData(ctx context.Context) (string, error) {
	snap, err := s.snapshot(ctx)
	if err != nil {
		return "", err
	}
	id, _ := s.controller(ctx, snap)
	if id < 0 {
		return "", fmt.Errorf("metadata: the cluster has no active controller: %w", kerr.NotController)
	}
	return jsonObject{{"version", int32(2)}, {"brokerid", id}, {"timestamp", strconv.FormatInt(time.Now().UnixMilli(), 10)}}.String(), nil
}

// brokerZNode is Kafka's /brokers/ids/<id> JSON (version 5) for a live broker. Metadata
// gives the address of the listener the tool connected through, which is PLAINTEXT
// (the only protocol these tools speak); jmx_port is -1 (no JMX) and the registration
// timestamp, which Metadata does not carry, is left out.
func brokerZNode(b kmsg.MetadataResponseBroker) string {
	host := b.Host
	if strings.Contains(host, ":") {
		host = "[" + host + "]"
	}
	return jsonObject{
		{"features", jsonObject{}},
		{"listener_security_protocol_map", jsonObject{{"PLAINTEXT", "PLAINTEXT"}}},
		{"endpoints", []any{"PLAINTEXT://" + host + ":" + strconv.Itoa(int(b.Port))}},
		{"jmx_port", int32(-1)},
		{"rack", b.Rack}, // null when the broker has none
		{"host", b.Host},
		{"port", b.Port},
		{"version", int32(5)},
	}.String()
}

// topicZNode is Kafka's /brokers/topics/<t> JSON (version 3): replicas by partition,
// in partition order.
func topicZNode(t kmsg.MetadataResponseTopic) string {
	parts := jsonObject{}
	for _, p := range t.Partitions {
		parts = append(parts, jsonField{strconv.Itoa(int(p.Partition)), int32sAny(p.Replicas)})
	}
	return jsonObject{
		{"partitions", parts},
		{"topic_id", kafkaUUID(t.TopicID)},
		{"adding_replicas", jsonObject{}},
		{"removing_replicas", jsonObject{}},
		{"version", int32(3)},
	}.String()
}

// sortedJSONObject is m as a JSON object with its keys in order.
func sortedJSONObject(m map[string]string) jsonObject {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	o := jsonObject{}
	for _, k := range keys {
		o = append(o, jsonField{k, m[k]})
	}
	return o
}
