package broker_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/IBM/sarama"
	"github.com/twmb/franz-go/pkg/kadm"
)

// saramaHandler records the values a sarama group member consumes and marks them.
type saramaHandler struct {
	mu    sync.Mutex
	got   map[string]int
	setup chan struct{}
}

func (h *saramaHandler) Setup(sarama.ConsumerGroupSession) error {
	select {
	case h.setup <- struct{}{}:
	default:
	}
	return nil
}
func (h *saramaHandler) Cleanup(sarama.ConsumerGroupSession) error { return nil }
func (h *saramaHandler) ConsumeClaim(s sarama.ConsumerGroupSession, c sarama.ConsumerGroupClaim) error {
	for m := range c.Messages() {
		h.mu.Lock()
		h.got[string(m.Value)]++
		h.mu.Unlock()
		s.MarkMessage(m, "")
	}
	return nil
}

// TestSaramaConsumerGroup: two sarama group members share a topic, every record going
// to one of them, and their commits reach the coordinator.
func TestSaramaConsumerGroup(t *testing.T) {
	tb := startBroker(t, "", groupOverrides)
	const topic = "sarama-group"
	createTopic(t, tb, topic, 4, nil)

	cfg := sarama.NewConfig()
	cfg.Version = sarama.V3_6_0_0
	cfg.Consumer.Offsets.Initial = sarama.OffsetOldest
	cfg.Consumer.Offsets.AutoCommit.Interval = 100 * time.Millisecond
	cfg.Metadata.Retry.Backoff = 50 * time.Millisecond

	h := &saramaHandler{got: map[string]int{}, setup: make(chan struct{}, 2)}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	var groups []sarama.ConsumerGroup
	for i := 0; i < 2; i++ {
		cg, err := sarama.NewConsumerGroup([]string{tb.Addr}, "sarama-g", cfg)
		if err != nil {
			t.Fatal(err)
		}
		groups = append(groups, cg)
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				if err := cg.Consume(ctx, []string{topic}, h); err != nil && ctx.Err() == nil {
					t.Errorf("consume: %v", err)
					return
				}
			}
		}()
	}
	defer func() {
		cancel()
		wg.Wait()
		for _, cg := range groups {
			cg.Close()
		}
	}()
	waitFor(t, "both sarama members in the group", func() bool {
		d, err := tb.admin().DescribeGroups(testCtx(t), "sarama-g")
		return err == nil && d["sarama-g"].State == "Stable" && len(d["sarama-g"].Members) == 2
	})
	const n = 200
	produceValues(t, tb, topic, "s", n)
	waitFor(t, "all records", func() bool { h.mu.Lock(); defer h.mu.Unlock(); return len(h.got) == n })
	h.mu.Lock()
	for v, c := range h.got {
		if c != 1 {
			t.Errorf("%s consumed %d times", v, c)
		}
	}
	h.mu.Unlock()
	waitFor(t, "sarama's commits", func() bool {
		offs, err := tb.admin().FetchOffsets(testCtx(t), "sarama-g")
		if err != nil {
			return false
		}
		total := int64(0)
		offs.Each(func(o kadm.OffsetResponse) { total += o.At })
		return total == n
	})
}
