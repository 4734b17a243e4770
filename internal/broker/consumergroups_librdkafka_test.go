//go:build cgo

package broker_test

import (
	"testing"

	"github.com/confluentinc/confluent-kafka-go/v2/kafka"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// TestLibrdkafkaConsumerProtocol: two librdkafka consumers with group.protocol=consumer
// (KIP-848) share a topic: every record reaches one of them, and the group is a
// consumer group with both members.
func TestLibrdkafkaConsumerProtocol(t *testing.T) {
	tb := startBroker(t, "", groupOverrides)
	const topic = "rdk-848"
	createTopic(t, tb, topic, 4, nil)
	const n = 200

	g := startRdkafkaGroup(t, tb, topic, "rdk-848", 2, kafka.ConfigMap{"group.protocol": "consumer"})
	waitFor(t, "both members reconciled", func() bool {
		req := kmsg.NewPtrConsumerGroupDescribeRequest()
		req.Groups = []string{"rdk-848"}
		resp, err := req.RequestWith(testCtx(t), tb.client())
		if err != nil || resp.Groups[0].ErrorCode != 0 || resp.Groups[0].State != "Stable" || len(resp.Groups[0].Members) != 2 {
			return false
		}
		for _, m := range resp.Groups[0].Members {
			if len(m.Assignment.TopicPartitions) == 0 {
				return false
			}
		}
		return true
	})
	produceValues(t, tb, topic, "v", n)
	waitFor(t, "every record", func() bool { return g.distinct() == n })
	g.checkExactlyOnce(t)
}
