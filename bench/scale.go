package main

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// partitionScale is what a broker costs with many partitions.
type partitionScale struct {
	partitions int
	createTime time.Duration
	produce    throughput
	rss        int64
	openFiles  int
}

func scalePartitions(ctx context.Context, b *broker, partitions, records int) (partitionScale, error) {
	topic := fmt.Sprintf("scale-%d", partitions)
	start := time.Now()
	if err := createTopic(ctx, b.addr, topic, int32(partitions)); err != nil {
		return partitionScale{}, err
	}
	s := partitionScale{partitions: partitions, createTime: time.Since(start)}
	t, err := produce(ctx, b, topic, records, 1024, false)
	if err != nil {
		deleteTopic(ctx, b.addr, topic)
		return s, err
	}
	s.produce = t
	s.rss = b.status("VmRSS")
	s.openFiles = b.openFiles()
	return s, deleteTopic(ctx, b.addr, topic)
}

// deleteTopic removes a scale topic so the measurements after it start clean.
func deleteTopic(ctx context.Context, addr, topic string) error {
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr))
	if err != nil {
		return err
	}
	defer cl.Close()
	resp, err := kadm.NewClient(cl).DeleteTopics(ctx, topic)
	if err == nil {
		err = resp.Error()
	}
	// The client retries a delete that outlasts its request timeout; the retry then
	// finds the topic gone.
	if errors.Is(err, kerr.UnknownTopicOrPartition) {
		err = nil
	}
	return err
}

// idleConnections opens n connections that each make one ApiVersions request and then
// stay idle, and reports the broker's resident memory growth per connection.
func idleConnections(b *broker, n int) (bytesPerConn int64, err error) {
	before := b.status("VmRSS")
	var conns []net.Conn
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	req := kmsg.NewPtrApiVersionsRequest()
	req.SetVersion(3)
	req.ClientSoftwareName, req.ClientSoftwareVersion = "bench", "1"
	frame := kmsg.NewRequestFormatter().AppendRequest(nil, req, 1)
	for i := 0; i < n; i++ {
		c, err := net.Dial("tcp", b.addr)
		if err != nil {
			return 0, err
		}
		conns = append(conns, c)
		if _, err := c.Write(frame); err != nil {
			return 0, err
		}
		var sz [4]byte
		if _, err := io.ReadFull(c, sz[:]); err != nil {
			return 0, err
		}
		if _, err := io.CopyN(io.Discard, c, int64(binary.BigEndian.Uint32(sz[:]))); err != nil {
			return 0, err
		}
	}
	time.Sleep(500 * time.Millisecond) // let the broker settle
	return (b.status("VmRSS") - before) / int64(n), nil
}

// recoveryTime fills a log with about bytes of data, kills the broker with SIGKILL and
// measures how long the restart takes until it serves the log again.
func recoveryTime(ctx context.Context, b *broker, bytes int64) (time.Duration, error) {
	if err := createTopic(ctx, b.addr, "recovery", 4); err != nil {
		return 0, err
	}
	n := int(bytes / (64 << 10))
	if _, err := produce(ctx, b, "recovery", n, 64<<10, false); err != nil {
		return 0, err
	}
	b.kill()
	start := time.Now()
	if err := b.start(); err != nil {
		return 0, err
	}
	// Ready means it answers a fetch of the last record.
	cl, err := kgo.NewClient(kgo.SeedBrokers(b.addr), kgo.ConsumeTopics("recovery"), kgo.ConsumeResetOffset(kgo.NewOffset().AtEnd().Relative(-1)))
	if err != nil {
		return 0, err
	}
	defer cl.Close()
	for got := 0; got == 0; {
		fs := cl.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			return 0, err
		}
		got = fs.NumRecords()
	}
	return time.Since(start), nil
}
