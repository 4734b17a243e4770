package cli

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/twmb/franz-go/pkg/kmsg"
)

const brokerAPIVersionsSummary = `Print the API versions each broker supports (kafka-broker-api-versions.sh).

"usable" is the highest version both the broker and this tool's client speak.`

// kafkaAPINames are the names Kafka's ApiKeys give the API keys it knows (the message
// name without "Request"), which kafka-broker-api-versions.sh prints.
var kafkaAPINames = []string{
	"Produce", "Fetch", "ListOffsets", "Metadata", "LeaderAndIsr", "StopReplica", "UpdateMetadata",
	"ControlledShutdown", "OffsetCommit", "OffsetFetch", "FindCoordinator", "JoinGroup", "Heartbeat",
	"LeaveGroup", "SyncGroup", "DescribeGroups", "ListGroups", "SaslHandshake", "ApiVersions",
	"CreateTopics", "DeleteTopics", "DeleteRecords", "InitProducerId", "OffsetForLeaderEpoch",
	"AddPartitionsToTxn", "AddOffsetsToTxn", "EndTxn", "WriteTxnMarkers", "TxnOffsetCommit",
	"DescribeAcls", "CreateAcls", "DeleteAcls", "DescribeConfigs", "AlterConfigs",
	"AlterReplicaLogDirs", "DescribeLogDirs", "SaslAuthenticate", "CreatePartitions",
	"CreateDelegationToken", "RenewDelegationToken", "ExpireDelegationToken",
	"DescribeDelegationToken", "DeleteGroups", "ElectLeaders", "IncrementalAlterConfigs",
	"AlterPartitionReassignments", "ListPartitionReassignments", "OffsetDelete",
	"DescribeClientQuotas", "AlterClientQuotas", "DescribeUserScramCredentials",
	"AlterUserScramCredentials", "Vote", "BeginQuorumEpoch", "EndQuorumEpoch", "DescribeQuorum",
	"AlterPartition", "UpdateFeatures", "Envelope", "FetchSnapshot", "DescribeCluster",
	"DescribeProducers", "BrokerRegistration", "BrokerHeartbeat", "UnregisterBroker",
	"DescribeTransactions", "ListTransactions", "AllocateProducerIds", "ConsumerGroupHeartbeat",
	"ConsumerGroupDescribe", "ControllerRegistration", "GetTelemetrySubscriptions", "PushTelemetry",
	"AssignReplicasToDirs", "ListClientMetricsResources", "DescribeTopicPartitions",
	"ShareGroupHeartbeat", "ShareGroupDescribe", "ShareFetch", "ShareAcknowledge", "AddRaftVoter",
	"RemoveRaftVoter", "UpdateRaftVoter", "InitializeShareGroupState", "ReadShareGroupState",
	"WriteShareGroupState", "DeleteShareGroupState", "ReadShareGroupStateSummary",
}

// kafkaClientAPIs are the keys of Kafka 4's ApiKeys.clientApis(), the APIs a broker
// listener serves: the tool prints "UNSUPPORTED" for those a broker does not list.
var kafkaClientAPIs = []int16{
	0, 1, 2, 3, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27,
	28, 29, 30, 31, 32, 33, 34, 35, 36, 37, 38, 39, 40, 41, 42, 43, 44, 45, 46, 47, 48, 49, 50,
	51, 55, 57, 60, 61, 64, 65, 66, 68, 69, 71, 72, 74, 75, 76, 77, 78, 79, 80, 81, 83, 84, 85,
	86, 87,
}

// apiVersion is one API key of a broker, for text and JSON output.
type apiVersion struct {
	Key         int16  `json:"key"`
	Name        string `json:"name"`
	Supported   bool   `json:"supported"`
	MinVersion  int16  `json:"min_version"`
	MaxVersion  int16  `json:"max_version"`
	Usable      *int16 `json:"usable,omitempty"`   // highest version both sides speak
	UnusableWhy string `json:"unusable,omitempty"` // "node too new" or "node too old"
}

// String is Kafka's NodeApiVersions.apiVersionToText.
func (a apiVersion) String() string {
	name := fmt.Sprintf("UNKNOWN(%d)", a.Key)
	if int(a.Key) < len(kafkaAPINames) && a.Key >= 0 {
		name = fmt.Sprintf("%s(%d)", kafkaAPINames[a.Key], a.Key)
	}
	if !a.Supported {
		return name + ": UNSUPPORTED"
	}
	s := name + ": " + strconv.Itoa(int(a.MinVersion))
	if a.MinVersion != a.MaxVersion {
		s += " to " + strconv.Itoa(int(a.MaxVersion))
	}
	switch {
	case a.UnusableWhy != "":
		s += " [unusable: " + a.UnusableWhy + "]"
	case a.Usable != nil:
		s += " [usable: " + strconv.Itoa(int(*a.Usable)) + "]"
	}
	return s
}

// brokerVersions is one broker's answer.
type brokerVersions struct {
	ID    int32        `json:"id"`
	Host  string       `json:"host"`
	Port  int32        `json:"port"`
	Rack  *string      `json:"rack"`
	Error string       `json:"error,omitempty"`
	APIs  []apiVersion `json:"apis,omitempty"`
}

// apiVersions lists a broker's API keys plus the client APIs it lacks, by key. The
// client side of "usable" is franz-go's kmsg, which this tool speaks.
func apiVersions(resp *kmsg.ApiVersionsResponse) []apiVersion {
	byKey := make(map[int16]apiVersion)
	for _, k := range resp.ApiKeys {
		a := apiVersion{Key: k.ApiKey, Supported: true, MinVersion: k.MinVersion, MaxVersion: k.MaxVersion}
		if int(k.ApiKey) < len(kafkaAPINames) && k.ApiKey >= 0 {
			a.Name = kafkaAPINames[k.ApiKey]
		}
		if req := kmsg.RequestForKey(k.ApiKey); req != nil {
			if req.MaxVersion() < k.MinVersion {
				a.UnusableWhy = "node too new"
			} else {
				u := min(req.MaxVersion(), k.MaxVersion)
				a.Usable = &u
			}
		}
		byKey[k.ApiKey] = a
	}
	for _, k := range kafkaClientAPIs {
		if _, ok := byKey[k]; !ok {
			byKey[k] = apiVersion{Key: k, Name: kafkaAPINames[k]}
		}
	}
	out := make([]apiVersion, 0, len(byKey))
	for _, a := range byKey {
		out = append(out, a)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Key < out[j].Key })
	return out
}

func runBrokerAPIVersions(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet(e, "broker-api-versions", brokerAPIVersionsSummary)
	var cf clientFlags
	var out outputFlag
	cf.register(fs)
	out.register(fs)
	zk := registerZookeeper(fs)
	if err := parseAdminFlags(e, fs, args, zk); err != nil {
		if errors.Is(err, errHelp) {
			return nil
		}
		return err
	}
	if err := out.validate(); err != nil {
		return err
	}
	adm, cl, err := cf.newAdmin(ctx)
	if err != nil {
		return err
	}
	defer cl.Close()
	md, err := adm.BrokerMetadata(ctx)
	if err != nil {
		return err
	}
	var brokers []brokerVersions
	failed := 0
	for _, b := range md.Brokers {
		bv := brokerVersions{ID: b.NodeID, Host: b.Host, Port: b.Port, Rack: b.Rack}
		req := kmsg.NewPtrApiVersionsRequest()
		req.ClientSoftwareName = "samsa-cli"
		req.ClientSoftwareVersion = "0"
		resp, err := req.RequestWith(ctx, cl.Broker(int(b.NodeID)))
		if err == nil {
			err = responseError(resp.ErrorCode, nil)
		}
		if err != nil {
			bv.Error = describeErr(err)
			failed++
		} else {
			bv.APIs = apiVersions(resp)
		}
		brokers = append(brokers, bv)
	}
	if out.json() {
		if brokers == nil {
			brokers = []brokerVersions{}
		}
		if err := writeJSON(e.stdout, brokers); err != nil {
			return err
		}
	} else {
		for _, b := range brokers {
			// Kafka's Node.toString.
			node := fmt.Sprintf("%s:%d (id: %d rack: %s)", b.Host, b.Port, b.ID, strOrNull(b.Rack))
			if b.Error != "" {
				fmt.Fprintf(e.stdout, "%s -> ERROR: %s\n", node, b.Error)
				continue
			}
			lines := make([]string, len(b.APIs))
			for i, a := range b.APIs {
				lines[i] = a.String()
			}
			fmt.Fprintf(e.stdout, "%s -> (\n\t%s\n)\n", node, strings.Join(lines, ",\n\t"))
		}
	}
	if failed > 0 {
		return fmt.Errorf("broker-api-versions: %d of %d brokers did not answer", failed, len(brokers))
	}
	return nil
}
