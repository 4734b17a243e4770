package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

const metadataQuorumSummary = `Describe the metadata quorum (kafka-metadata-quorum.sh).

  samsa metadata-quorum --bootstrap-server host:port describe --status
  samsa metadata-quorum --bootstrap-server host:port describe --replication [--human-readable]

--status prints a summary of the quorum (leader, epoch, high watermark, voters);
--replication prints each voter's log end offset, lag and last fetch. The flags may
come before or after "describe". --bootstrap-controller host:port is accepted instead
of --bootstrap-server: every Samsa node answers for its quorum on its client listener.`

// clusterMetadataTopic is the metadata log as KRaft names it in DescribeQuorum.
const clusterMetadataTopic = "__cluster_metadata"

func runMetadataQuorum(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet(e, "metadata-quorum", metadataQuorumSummary)
	var (
		client              clientFlags
		bootstrapController string
		status, replication bool
		humanReadable       bool
	)
	client.register(fs)
	fs.StringVar(&bootstrapController, "bootstrap-controller", "", "comma-separated host:port list of controllers to connect to (instead of --bootstrap-server)")
	fs.BoolVar(&status, "status", false, "describe: a short summary of the quorum status")
	fs.BoolVar(&replication, "replication", false, "describe: detailed information about the status of replication")
	fs.BoolVar(&humanReadable, "human-readable", false, "describe --replication: print timestamps as \"N ms ago\"")
	command, err := parseSubcommandFlags(e, fs, args)
	if err != nil {
		if isHelp(err) {
			return nil
		}
		return err
	}
	if bootstrapController != "" {
		if flagSet(fs, "bootstrap-server") {
			return usageErrorf("argument --bootstrap-controller: not allowed with argument --bootstrap-server")
		}
		client.bootstrap = bootstrapController
	}
	switch {
	case len(command) == 0:
		return usageErrorf("a command is required: describe")
	case command[0] == "add-controller" || command[0] == "remove-controller":
		return usageErrorf("%s is not supported: Samsa's voters are fixed by controller.quorum.voters", command[0])
	case command[0] != "describe":
		return usageErrorf("invalid choice: '%s' (choose from 'describe')", command[0])
	case len(command) > 1:
		return usageErrorf("unexpected argument %q", command[1])
	case status && replication:
		return usageErrorf("Only one of --status or --replication should be specified with describe sub-command")
	case !status && !replication:
		return usageErrorf("One of --status or --replication must be specified with describe sub-command")
	case status && humanReadable:
		return usageErrorf("The option --human-readable is only supported along with --replication")
	}

	cl, err := client.newClient(ctx)
	if err != nil {
		return err
	}
	defer cl.Close()
	q, err := describeQuorum(ctx, cl)
	if err != nil {
		return fmt.Errorf("metadata-quorum: %w", err)
	}
	if replication {
		return printQuorumReplication(e.stdout, q, humanReadable, time.Now())
	}
	clusterID, err := clusterID(ctx, cl)
	if err != nil {
		return fmt.Errorf("metadata-quorum: %w", err)
	}
	return printQuorumStatus(e.stdout, clusterID, q)
}

// parseSubcommandFlags parses args that mix flags with a command and its arguments, as
// Kafka's argparse tools take them ("--bootstrap-server b describe --status"), and
// returns the arguments that are not flags, in order. It returns errHelp after printing
// help for -h or --help.
func parseSubcommandFlags(e *env, fs *flag.FlagSet, args []string) ([]string, error) {
	for _, a := range args {
		if a == "-h" || a == "--help" || a == "-help" {
			fs.SetOutput(e.stdout)
			fs.Usage()
			return nil, errHelp
		}
	}
	var positional []string
	rest := args
	for {
		if err := fs.Parse(rest); err != nil {
			return nil, usageErrorf("%v", err)
		}
		if fs.NArg() == 0 {
			return positional, nil
		}
		if len(rest) > fs.NArg() && rest[len(rest)-fs.NArg()-1] == "--" {
			// Everything after "--" is an argument, even when it looks like a flag.
			return append(positional, fs.Args()...), nil
		}
		positional = append(positional, fs.Arg(0))
		rest = fs.Args()[1:]
	}
}

// quorumInfo is the metadata quorum as DescribeQuorum describes it.
type quorumInfo struct {
	leaderID      int32
	leaderEpoch   int32
	highWatermark int64
	voters        []kmsg.DescribeQuorumResponseTopicPartitionReplicaState
	observers     []kmsg.DescribeQuorumResponseTopicPartitionReplicaState
	// endpoints are each node's listeners as Kafka prints a RaftVoterEndpoint:
	// NAME://host:port.
	endpoints map[int32][]string
}

// describeQuorum asks the cluster for the state of its metadata quorum. The request is
// an admin request: the client sends it to the controller Metadata names, which
// answers or forwards it to the quorum leader.
func describeQuorum(ctx context.Context, cl *kgo.Client) (*quorumInfo, error) {
	req := kmsg.NewPtrDescribeQuorumRequest()
	rt := kmsg.NewDescribeQuorumRequestTopic()
	rt.Topic = clusterMetadataTopic
	rt.Partitions = append(rt.Partitions, kmsg.NewDescribeQuorumRequestTopicPartition())
	req.Topics = append(req.Topics, rt)
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		return nil, fmt.Errorf("DescribeQuorum: %w", err)
	}
	if err := responseError(resp.ErrorCode, resp.ErrorMessage); err != nil {
		return nil, fmt.Errorf("DescribeQuorum: %w", err)
	}
	for _, t := range resp.Topics {
		for _, p := range t.Partitions {
			if t.Topic != clusterMetadataTopic || p.Partition != 0 {
				continue
			}
			if err := responseError(p.ErrorCode, p.ErrorMessage); err != nil {
				return nil, fmt.Errorf("DescribeQuorum: %w", err)
			}
			q := &quorumInfo{
				leaderID:      p.LeaderID,
				leaderEpoch:   p.LeaderEpoch,
				highWatermark: p.HighWatermark,
				voters:        p.CurrentVoters,
				observers:     p.Observers,
				endpoints:     make(map[int32][]string),
			}
			for _, n := range resp.Nodes {
				for _, l := range n.Listeners {
					host := l.Host
					if strings.Contains(host, ":") {
						host = "[" + host + "]"
					}
					q.endpoints[n.NodeID] = append(q.endpoints[n.NodeID], l.Name+"://"+host+":"+strconv.Itoa(int(l.Port)))
				}
			}
			return q, nil
		}
	}
	return nil, errors.New("DescribeQuorum: the response does not describe " + clusterMetadataTopic + "-0")
}

// leader returns the index of the leader in voters.
func (q *quorumInfo) leader() (int, error) {
	for i, v := range q.voters {
		if v.ReplicaID == q.leaderID {
			return i, nil
		}
	}
	return 0, fmt.Errorf("the metadata quorum has no leader among its voters (LeaderId %d)", q.leaderID)
}

// clusterID asks the cluster for its id.
func clusterID(ctx context.Context, cl *kgo.Client) (string, error) {
	req := kmsg.NewPtrMetadataRequest()
	req.Topics = []kmsg.MetadataRequestTopic{} // none: only the brokers and the cluster id
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		return "", fmt.Errorf("Metadata: %w", err)
	}
	if resp.ClusterID == nil {
		return "", nil
	}
	return *resp.ClusterID, nil
}

// printQuorumStatus prints describe --status as Kafka 4's MetadataQuorumCommand does.
func printQuorumStatus(w io.Writer, clusterID string, q *quorumInfo) error {
	li, err := q.leader()
	if err != nil {
		return fmt.Errorf("metadata-quorum: %w", err)
	}
	leader := q.voters[li]
	// The voter furthest behind; the first of equals, as Java's Stream.min picks it.
	mi := 0
	for i, v := range q.voters {
		if v.LogEndOffset < q.voters[mi].LogEndOffset {
			mi = i
		}
	}
	maxLag := leader.LogEndOffset - q.voters[mi].LogEndOffset
	var maxLagTimeMs int64
	switch {
	case mi == li:
		maxLagTimeMs = 0
	case leader.LastCaughtUpTimestamp >= 0 && q.voters[mi].LastCaughtUpTimestamp >= 0:
		maxLagTimeMs = leader.LastCaughtUpTimestamp - q.voters[mi].LastCaughtUpTimestamp
	default:
		maxLagTimeMs = -1
	}
	_, err = fmt.Fprintf(w, "ClusterId:              %s\n"+
		"LeaderId:               %d\n"+
		"LeaderEpoch:            %d\n"+
		"HighWatermark:          %d\n"+
		"MaxFollowerLag:         %d\n"+
		"MaxFollowerLagTimeMs:   %d\n"+
		"CurrentVoters:          %s\n"+
		"CurrentObservers:       %s\n",
		clusterID, q.leaderID, q.leaderEpoch, q.highWatermark, maxLag, maxLagTimeMs,
		q.replicaList(q.voters), q.replicaList(q.observers))
	return err
}

// replicaList formats replicas as Kafka 4 does:
// [{"id": 1, "directoryId": "...", "endpoints": ["CONTROLLER://host:9093"]}, ...], the
// directory id left out when it is zero and the endpoints when there are none.
func (q *quorumInfo) replicaList(replicas []kmsg.DescribeQuorumResponseTopicPartitionReplicaState) string {
	var sb strings.Builder
	sb.WriteByte('[')
	for i, r := range replicas {
		if i > 0 {
			sb.WriteString(", ")
		}
		fmt.Fprintf(&sb, `{"id": %d`, r.ReplicaID)
		if r.ReplicaDirectoryID != ([16]byte{}) {
			fmt.Fprintf(&sb, `, "directoryId": "%s"`, kafkaUUID(r.ReplicaDirectoryID))
		}
		if eps := q.endpoints[r.ReplicaID]; len(eps) > 0 {
			sb.WriteString(`, "endpoints": [`)
			for j, ep := range eps {
				if j > 0 {
					sb.WriteString(", ")
				}
				sb.WriteString(`"` + ep + `"`)
			}
			sb.WriteByte(']')
		}
		sb.WriteByte('}')
	}
	sb.WriteByte(']')
	return sb.String()
}

// printQuorumReplication prints describe --replication as Kafka's MetadataQuorumCommand
// does: the leader, then the other voters, then the observers.
func printQuorumReplication(w io.Writer, q *quorumInfo, humanReadable bool, now time.Time) error {
	li, err := q.leader()
	if err != nil {
		return fmt.Errorf("metadata-quorum: %w", err)
	}
	leader := q.voters[li]
	var rows [][]string
	add := func(r kmsg.DescribeQuorumResponseTopicPartitionReplicaState, status string) {
		ts := func(ms int64) string {
			if ms < 0 {
				return "-1"
			}
			if humanReadable {
				return fmt.Sprintf("%d ms ago", max(0, now.UnixMilli()-ms))
			}
			return strconv.FormatInt(ms, 10)
		}
		rows = append(rows, []string{
			strconv.Itoa(int(r.ReplicaID)),
			kafkaUUID(r.ReplicaDirectoryID),
			strconv.FormatInt(r.LogEndOffset, 10),
			strconv.FormatInt(leader.LogEndOffset-r.LogEndOffset, 10),
			ts(r.LastFetchTimestamp),
			ts(r.LastCaughtUpTimestamp),
			status,
		})
	}
	add(leader, "Leader")
	for i, v := range q.voters {
		if i != li {
			add(v, "Follower")
		}
	}
	for _, o := range q.observers {
		add(o, "Observer")
	}
	return printPrettyTable(w, []string{"NodeId", "DirectoryId", "LogEndOffset", "Lag", "LastFetchTimestamp", "LastCaughtUpTimestamp", "Status"}, rows)
}

// printPrettyTable prints a table as Kafka's ToolsUtils.prettyPrintTable: each cell
// padded with spaces to its column's width, then a tab (the last one too).
func printPrettyTable(w io.Writer, headers []string, rows [][]string) error {
	widths := make([]int, len(headers))
	for i, h := range headers {
		widths[i] = len(h)
	}
	for _, r := range rows {
		for i := range headers {
			widths[i] = max(widths[i], len(r[i]))
		}
	}
	var sb strings.Builder
	line := func(cells []string) {
		for i, c := range cells {
			sb.WriteString(c)
			sb.WriteString(strings.Repeat(" ", widths[i]-len(c)))
			sb.WriteByte('\t')
		}
		sb.WriteByte('\n')
	}
	line(headers)
	for _, r := range rows {
		line(r)
	}
	_, err := io.WriteString(w, sb.String())
	return err
}
