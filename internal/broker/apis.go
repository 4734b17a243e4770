package broker

import (
	"context"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// handler serves one decoded request. It returns the response to send (nil for none,
// as for acks=0 produce), or an error when the connection must be closed.
type handler func(ctx context.Context, c *conn, req kmsg.Request) (kmsg.Response, error)

// api is one supported API: the version range advertised in ApiVersions and its handler.
type api struct {
	key        kmsg.Key
	minVersion int16
	maxVersion int16
	handle     handler
}

// apis lists every API this broker implements, and only those: ApiVersions is built
// from this table, so what is advertised is what is served. The minimum versions are
// the first that carry v2 record batches (Produce 3, Fetch 4) or Kafka 4's floors.
func (b *Broker) apiTable() map[kmsg.Key]api {
	list := []api{
		{kmsg.Produce, 3, 11, b.handleProduce},
		{kmsg.Fetch, 4, 16, b.handleFetch},
		{kmsg.ListOffsets, 1, 9, b.handleListOffsets},
		{kmsg.Metadata, 0, 12, b.handleMetadata},
		{kmsg.ApiVersions, 0, 4, b.handleApiVersions},
		{kmsg.CreateTopics, 2, 7, b.handleCreateTopics},
		{kmsg.DeleteTopics, 1, 6, b.handleDeleteTopics},
		{kmsg.DeleteRecords, 0, 2, b.handleDeleteRecords},
		{kmsg.InitProducerID, 0, 5, b.handleInitProducerID},
		{kmsg.OffsetForLeaderEpoch, 2, 4, b.handleOffsetForLeaderEpoch},
		{kmsg.DescribeConfigs, 1, 4, b.handleDescribeConfigs},
		{kmsg.AlterConfigs, 0, 2, b.handleAlterConfigs},
		{kmsg.DescribeLogDirs, 1, 4, b.handleDescribeLogDirs},
		{kmsg.CreatePartitions, 0, 3, b.handleCreatePartitions},
		{kmsg.IncrementalAlterConfigs, 0, 1, b.handleIncrementalAlterConfigs},
		{kmsg.DescribeCluster, 0, 1, b.handleDescribeCluster},
		{kmsg.DescribeProducers, 0, 0, b.handleDescribeProducers},
		{kmsg.DescribeQuorum, 0, 2, b.handleDescribeQuorum},
		{kmsg.SASLHandshake, 1, 1, b.handleSaslHandshake},
		{kmsg.SASLAuthenticate, 0, 2, b.handleSaslAuthenticate},
		{kmsg.FindCoordinator, 0, 6, b.handleFindCoordinator},
		{kmsg.JoinGroup, 0, 9, b.handleJoinGroup},
		{kmsg.SyncGroup, 0, 5, b.handleSyncGroup},
		{kmsg.Heartbeat, 0, 4, b.handleHeartbeat},
		{kmsg.LeaveGroup, 0, 5, b.handleLeaveGroup},
		{kmsg.OffsetCommit, 0, 9, b.handleOffsetCommit},
		{kmsg.OffsetFetch, 0, 9, b.handleOffsetFetch},
		{kmsg.ListGroups, 0, 5, b.handleListGroups},
		{kmsg.DescribeGroups, 0, 5, b.handleDescribeGroups},
		{kmsg.DeleteGroups, 0, 2, b.handleDeleteGroups},
		{kmsg.OffsetDelete, 0, 0, b.handleOffsetDelete},
		{kmsg.ConsumerGroupHeartbeat, 0, 1, b.handleConsumerGroupHeartbeat},
		{kmsg.ConsumerGroupDescribe, 0, 1, b.handleConsumerGroupDescribe},
		{kmsg.ElectLeaders, 0, 2, b.handleElectLeaders},
		{kmsg.AlterPartitionAssignments, 0, 0, b.handleAlterPartitionReassignments},
		{kmsg.ListPartitionReassignments, 0, 0, b.handleListPartitionReassignments},
	}
	m := make(map[kmsg.Key]api, len(list))
	for _, a := range list {
		m[a.key] = a
	}
	return m
}
