package broker

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/samsa-io/samsa/internal/config"
	"github.com/samsa-io/samsa/internal/metadata"
)

func loopbackPort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// startRoleNode runs a cluster node with ov over the cluster settings the tests share.
func startRoleNode(t *testing.T, ov map[string]string) *node {
	t.Helper()
	props := map[string]string{
		"listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
		"controller.listener.names":      "CONTROLLER",
		"broker.heartbeat.interval.ms":   "200",
		"broker.session.timeout.ms":      "2000",
		"replica.fetch.backoff.ms":       "100",
		"log.dirs":                       t.TempDir(),
	}
	for k, v := range ov {
		props[k] = v
	}
	return runNode(t, props)
}

// TestSingleRoleNodes runs three controller-only nodes and two broker-only nodes: the
// brokers follow the metadata they fetch from the controllers, register, host replicas,
// and keep working when the active controller stops; DescribeQuorum lists them as
// observers; the controllers are never brokers.
func TestSingleRoleNodes(t *testing.T) {
	var voters []string
	ctlAddrs := map[int32]string{}
	for id := int32(1); id <= 3; id++ {
		ctlAddrs[id] = loopbackPort(t)
		voters = append(voters, fmt.Sprintf("%d@%s", id, ctlAddrs[id]))
	}
	nodes := map[int32]*node{}
	for id := int32(1); id <= 3; id++ {
		nodes[id] = startRoleNode(t, map[string]string{
			"process.roles":            "controller",
			"node.id":                  strconv.Itoa(int(id)),
			"listeners":                "CONTROLLER://" + ctlAddrs[id],
			"controller.quorum.voters": strings.Join(voters, ","),
		})
	}
	var seeds []string
	for id := int32(4); id <= 5; id++ {
		addr := loopbackPort(t)
		seeds = append(seeds, addr)
		nodes[id] = startRoleNode(t, map[string]string{
			"process.roles":            "broker",
			"node.id":                  strconv.Itoa(int(id)),
			"listeners":                "PLAINTEXT://" + addr,
			"controller.quorum.voters": strings.Join(voters, ","),
		})
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(seeds...), kgo.MetadataMinAge(100*time.Millisecond), kgo.RequiredAcks(kgo.AllISRAcks()), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	waitUntil(t, ctx, "both brokers registered and unfenced", func() bool {
		md, err := adm.Metadata(ctx)
		return err == nil && slices.Equal(md.Brokers.NodeIDs(), []int32{4, 5})
	})

	// A topic created through a broker (forwarded to the active controller) lands on
	// the brokers only, and records go through both replicas.
	res, err := adm.CreateTopic(ctx, 2, 2, nil, "roles")
	if err != nil || res.Err != nil {
		t.Fatalf("create topic: %v %v", err, res.Err)
	}
	produceAndCheck(t, ctx, cl, adm, "roles", 0)

	// DescribeQuorum (forwarded to the active controller) lists the voters and the
	// two brokers as observers.
	waitUntil(t, ctx, "DescribeQuorum to list the brokers as observers", func() bool {
		voters, observers := describeQuorum(ctx, cl)
		return slices.Equal(voters, []int32{1, 2, 3}) && slices.Equal(observers, []int32{4, 5})
	})

	// The active controller stops: another takes over, the brokers follow it, and
	// metadata changes go on.
	var active int32
	for id := int32(1); id <= 3; id++ {
		if nodes[id].b.cluster.raft.IsActive() {
			active = id
		}
	}
	if active == 0 {
		t.Fatal("no active controller")
	}
	nodes[active].stop(t)
	res, err = adm.CreateTopic(ctx, 1, 2, nil, "after-failover")
	if err != nil || res.Err != nil {
		t.Fatalf("create topic after the controller failover: %v %v", err, res.Err)
	}
	produceAndCheck(t, ctx, cl, adm, "after-failover", 0)
	for id := int32(4); id <= 5; id++ {
		f := nodes[id].b.cluster.follower
		if leader, ok := f.Leader(); !ok || leader == active {
			t.Errorf("broker %d follows controller %d (ok %v); %d stopped", id, leader, ok, active)
		}
	}

	// A broker that restarts empty fetches the metadata again and serves its replicas.
	nodes[5].stop(t)
	nodes[5] = startRoleNode(t, map[string]string{
		"process.roles":            "broker",
		"node.id":                  "5",
		"listeners":                "PLAINTEXT://" + seeds[1],
		"controller.quorum.voters": strings.Join(voters, ","),
	})
	waitUntil(t, ctx, "the restarted broker to hold the topics", func() bool {
		img := nodes[5].b.quorum.Image()
		return img.Topic("roles") != nil && img.Topic("after-failover") != nil
	})
	produceAndCheck(t, ctx, cl, adm, "roles", 1)
}

// produceAndCheck writes ten records with acks=all to partition p of topic and reads
// them back.
func produceAndCheck(t *testing.T, ctx context.Context, cl *kgo.Client, adm *kadm.Client, topic string, p int32) {
	t.Helper()
	for i := range 10 {
		r := &kgo.Record{Topic: topic, Partition: p, Value: []byte(fmt.Sprintf("%s-%d", topic, i))}
		if err := cl.ProduceSync(ctx, r).FirstErr(); err != nil {
			t.Fatalf("produce to %s: %v", topic, err)
		}
	}
	ends, err := adm.ListEndOffsets(ctx, topic)
	if err != nil {
		t.Fatal(err)
	}
	end, _ := ends.Lookup(topic, p)
	if end.Offset < 10 {
		t.Fatalf("%s-%d ends at %d after 10 acknowledged records", topic, p, end.Offset)
	}
	c, err := kgo.NewClient(kgo.SeedBrokers(cl.OptValue(kgo.SeedBrokers).([]string)...),
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: {p: kgo.NewOffset().At(end.Offset - 10)}}))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	var got [][]byte
	for len(got) < 10 {
		fs := c.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			t.Fatalf("consuming %s: %v after %d records", topic, err, len(got))
		}
		fs.EachRecord(func(r *kgo.Record) { got = append(got, r.Value) })
	}
	if !bytes.Equal(got[9], []byte(topic+"-9")) {
		t.Fatalf("last record read back from %s is %q", topic, got[9])
	}
}

// describeQuorum returns the voters and observers DescribeQuorum reports.
func describeQuorum(ctx context.Context, cl *kgo.Client) (voters, observers []int32) {
	req := kmsg.NewPtrDescribeQuorumRequest()
	rt := kmsg.NewDescribeQuorumRequestTopic()
	rt.Topic = metadataDirName
	rt.Partitions = append(rt.Partitions, kmsg.NewDescribeQuorumRequestTopicPartition())
	req.Topics = append(req.Topics, rt)
	resp, err := req.RequestWith(ctx, cl)
	if err != nil || len(resp.Topics) != 1 || len(resp.Topics[0].Partitions) != 1 {
		return nil, nil
	}
	p := resp.Topics[0].Partitions[0]
	for _, v := range p.CurrentVoters {
		voters = append(voters, v.ReplicaID)
	}
	for _, o := range p.Observers {
		observers = append(observers, o.ReplicaID)
	}
	return voters, observers
}

func waitUntil(t *testing.T, ctx context.Context, what string, cond func() bool) {
	t.Helper()
	for !cond() {
		select {
		case <-ctx.Done():
			t.Fatalf("timed out waiting for %s", what)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// TestMetadataSnapshotFetch: a broker whose offset the controller no longer holds gets
// the image through FetchSnapshot, in chunks, equal to the controller's.
func TestMetadataSnapshotFetch(t *testing.T) {
	addr := loopbackPort(t)
	ctl := startRoleNode(t, map[string]string{
		"process.roles":            "broker,controller",
		"node.id":                  "1",
		"listeners":                "PLAINTEXT://127.0.0.1:0,CONTROLLER://" + addr,
		"controller.quorum.voters": "1@" + addr,
	})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	waitUntil(t, ctx, "the node to register", func() bool {
		_, ok := ctl.b.quorum.Image().Brokers[1]
		return ok
	})

	pc := newPeerClient(addr, "test", nil)
	defer pc.close()
	req := kmsg.NewPtrFetchRequest()
	req.Version, req.ReplicaID, req.MaxBytes = 12, 9, 1<<20
	rt := kmsg.NewFetchRequestTopic()
	rt.Topic = metadataDirName
	rp := kmsg.NewFetchRequestTopicPartition()
	rp.FetchOffset = -1 // never held: the answer must be a snapshot id
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	kresp, err := pc.request(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	sp := kresp.(*kmsg.FetchResponse).Topics[0].Partitions[0]
	if sp.SnapshotID.EndOffset < 0 || len(sp.RecordBatches) != 0 {
		t.Fatalf("fetch from -1: snapshot id %+v, %d bytes of records", sp.SnapshotID, len(sp.RecordBatches))
	}

	f := newMetadataFollower(ctl.b, nil)
	f.b = &Broker{cfg: &config.Config{NodeID: 9}}
	f.snapshotChunk = 100
	img, err := f.fetchSnapshot(ctx, pc, sp.SnapshotID.EndOffset, sp.SnapshotID.Epoch)
	if err != nil {
		t.Fatal(err)
	}
	want, _ := metadata.EncodeImage(ctl.b.quorum.Image())
	got, _ := metadata.EncodeImage(img)
	if img.Offset != sp.SnapshotID.EndOffset || ctl.b.quorum.Image().Offset == img.Offset && !bytes.Equal(got, want) {
		t.Fatalf("snapshot at %d differs from the controller's image at %d", img.Offset, ctl.b.quorum.Image().Offset)
	}
	// A snapshot id the controller does not hold is SNAPSHOT_NOT_FOUND.
	if _, err := f.fetchSnapshot(ctx, pc, sp.SnapshotID.EndOffset+100, sp.SnapshotID.Epoch); err == nil || !strings.Contains(err.Error(), "SNAPSHOT_NOT_FOUND") {
		t.Fatalf("unknown snapshot: %v", err)
	}
}

// TestControllerOnlyListeners: a controller-only node with a client listener, and a lone
// single-role node, are refused at start with a message naming the problem.
func TestSingleRoleConfigRefused(t *testing.T) {
	for _, tc := range []struct {
		roles, listeners, voters, want string
	}{
		{"controller", "PLAINTEXT://127.0.0.1:0,CONTROLLER://127.0.0.1:0", "1@127.0.0.1:1", "serves no clients"},
	} {
		cfg, _, err := config.Load("", nil, map[string]string{
			"process.roles":                  tc.roles,
			"node.id":                        "1",
			"listeners":                      tc.listeners,
			"listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
			"controller.listener.names":      "CONTROLLER",
			"controller.quorum.voters":       tc.voters,
			"log.dirs":                       t.TempDir(),
		})
		if err == nil {
			var b *Broker
			b, err = New(cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
			if err == nil {
				b.closeAll()
			}
		}
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("process.roles=%s listeners=%s: %v; want an error saying %q", tc.roles, tc.listeners, err, tc.want)
		}
	}
}
