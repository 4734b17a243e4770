package broker

import (
	"context"
	"path/filepath"
	"sort"
	"syscall"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/samsa-io/samsa/internal/replica"
)

// handleDescribeLogDirs reports the data directory and the size of each partition in it.
func (b *Broker) handleDescribeLogDirs(_ context.Context, _ *conn, kreq kmsg.Request) (kmsg.Response, error) {
	req := kreq.(*kmsg.DescribeLogDirsRequest)
	resp := req.ResponseKind().(*kmsg.DescribeLogDirsResponse)

	dir := kmsg.NewDescribeLogDirsResponseDir()
	dir.Dir, _ = filepath.Abs(b.logs.Dir())
	dir.TotalBytes, dir.UsableBytes = -1, -1
	var st syscall.Statfs_t
	if err := syscall.Statfs(b.logs.Dir(), &st); err == nil {
		dir.TotalBytes = int64(st.Blocks) * st.Bsize
		dir.UsableBytes = int64(st.Bavail) * st.Bsize
	}

	// nil Topics means every partition; otherwise only those asked for.
	var wanted map[string]map[int32]bool
	if req.Topics != nil {
		wanted = make(map[string]map[int32]bool)
		for _, rt := range req.Topics {
			if wanted[rt.Topic] == nil {
				wanted[rt.Topic] = make(map[int32]bool)
			}
			for _, p := range rt.Partitions {
				wanted[rt.Topic][p] = true
			}
		}
	}
	byTopic := make(map[string][]*replica.Partition)
	for _, p := range b.replicas.All() {
		if wanted != nil && !wanted[p.TP.Topic][p.TP.Partition] {
			continue
		}
		byTopic[p.TP.Topic] = append(byTopic[p.TP.Topic], p)
	}
	names := make([]string, 0, len(byTopic))
	for n := range byTopic {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		parts := byTopic[n]
		sort.Slice(parts, func(i, j int) bool { return parts[i].TP.Partition < parts[j].TP.Partition })
		t := kmsg.NewDescribeLogDirsResponseDirTopic()
		t.Topic = n
		for _, p := range parts {
			sp := kmsg.NewDescribeLogDirsResponseDirTopicPartition()
			sp.Partition = p.TP.Partition
			sp.Size = p.Log.Size()
			t.Partitions = append(t.Partitions, sp)
		}
		dir.Topics = append(dir.Topics, t)
	}
	resp.Dirs = append(resp.Dirs, dir)
	return resp, nil
}
