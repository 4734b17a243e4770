package broker

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net"
	"slices"
	"strconv"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/samsa-io/samsa/internal/metadata"
	"github.com/samsa-io/samsa/internal/replica"
)

// The controller's side of the broker lifecycle: thin handlers over metadata.Controller.

func (cl *cluster) handleBrokerRegistration(ctx context.Context, _ *conn, kreq kmsg.Request) (kmsg.Response, error) {
	req := kreq.(*kmsg.BrokerRegistrationRequest)
	resp := req.ResponseKind().(*kmsg.BrokerRegistrationResponse)
	reg := metadata.BrokerRegistration{
		ID:          req.BrokerID,
		ClusterID:   req.ClusterID,
		Incarnation: metadata.UUID(req.IncarnationID),
	}
	if req.Rack != nil {
		reg.Rack = *req.Rack
	}
	// The image keeps one endpoint per broker: the first listener registered, which a
	// Samsa broker sends as its inter-broker (and client) listener.
	if len(req.Listeners) > 0 {
		reg.Host, reg.Port = req.Listeners[0].Host, int32(req.Listeners[0].Port)
	}
	epoch, err := cl.b.ctl.RegisterBroker(ctx, reg)
	resp.ErrorCode, resp.BrokerEpoch = errorCode(err), epoch
	if err != nil {
		cl.b.logger.Info("broker registration refused", "broker", req.BrokerID, "err", err)
	}
	return resp, nil
}

func (cl *cluster) handleBrokerHeartbeat(ctx context.Context, _ *conn, kreq kmsg.Request) (kmsg.Response, error) {
	req := kreq.(*kmsg.BrokerHeartbeatRequest)
	resp := req.ResponseKind().(*kmsg.BrokerHeartbeatResponse)
	res, err := cl.b.ctl.Heartbeat(ctx, metadata.BrokerHeartbeat{
		ID:             req.BrokerID,
		Epoch:          req.BrokerEpoch,
		MetadataOffset: req.CurrentMetadataOffset,
		WantFence:      req.WantFence,
		WantShutdown:   req.WantShutdown,
	})
	resp.ErrorCode = errorCode(err)
	resp.IsCaughtUp, resp.IsFenced, resp.ShouldShutdown = res.CaughtUp, res.Fenced || err != nil, res.ShouldShutdown
	return resp, nil
}

func (cl *cluster) handleAlterPartition(ctx context.Context, _ *conn, kreq kmsg.Request) (kmsg.Response, error) {
	req := kreq.(*kmsg.AlterPartitionRequest)
	resp := req.ResponseKind().(*kmsg.AlterPartitionResponse)
	img := cl.b.quorum.Image()
	for _, rt := range req.Topics {
		st := kmsg.NewAlterPartitionResponseTopic()
		st.Topic, st.TopidID = rt.Topic, rt.TopicID // sic: kmsg spells it TopidID
		id := metadata.UUID(rt.TopicID)
		if req.Version < 2 {
			if t := img.Topic(rt.Topic); t != nil {
				id = t.ID
			}
		}
		for _, rp := range rt.Partitions {
			sp := kmsg.NewAlterPartitionResponseTopicPartition()
			sp.Partition = rp.Partition
			isr := rp.NewISR
			if req.Version >= 3 {
				isr = nil
				for _, e := range rp.NewEpochISR {
					isr = append(isr, e.BrokerID)
				}
			}
			p, err := cl.b.ctl.AlterPartition(ctx, metadata.AlterPartitionRequest{
				BrokerID: req.BrokerID, BrokerEpoch: req.BrokerEpoch, TopicID: id, Partition: rp.Partition,
				LeaderEpoch: rp.LeaderEpoch, PartitionEpoch: rp.PartitionEpoch, ISR: isr,
			})
			sp.ErrorCode = errorCode(err)
			if err == nil {
				sp.LeaderID, sp.LeaderEpoch, sp.ISR, sp.PartitionEpoch = p.Leader, p.LeaderEpoch, p.ISR, p.PartitionEpoch
			}
			st.Partitions = append(st.Partitions, sp)
		}
		resp.Topics = append(resp.Topics, st)
	}
	return resp, nil
}

func (cl *cluster) handleAllocateProducerIDs(ctx context.Context, _ *conn, kreq kmsg.Request) (kmsg.Response, error) {
	req := kreq.(*kmsg.AllocateProducerIDsRequest)
	resp := req.ResponseKind().(*kmsg.AllocateProducerIDsResponse)
	if b, ok := cl.b.quorum.Image().Broker(req.BrokerID); !ok || (req.BrokerEpoch >= 0 && b.Epoch != req.BrokerEpoch) {
		resp.ErrorCode = kerr.StaleBrokerEpoch.Code
		return resp, nil
	}
	first, err := cl.b.ctl.AllocateProducerIDs(ctx, producerIDBlock)
	resp.ErrorCode = errorCode(err)
	if err == nil {
		resp.ProducerIDStart, resp.ProducerIDLen = first, producerIDBlock
	}
	return resp, nil
}

// runControllerDuties follows this node's Raft leadership: while it is the active
// controller it fences brokers whose heartbeats stopped and, with
// auto.leader.rebalance.enable, moves leadership back to preferred replicas every
// leader.imbalance.check.interval.seconds.
func (cl *cluster) runControllerDuties(ctx context.Context) {
	tick := time.NewTicker(max(cl.b.cfg.BrokerSessionTimeout/8, 50*time.Millisecond))
	defer tick.Stop()
	var rebalance <-chan time.Time
	if cl.b.cfg.AutoLeaderRebalanceEnable {
		rt := time.NewTicker(max(cl.b.cfg.LeaderImbalanceCheckInterval, time.Second))
		defer rt.Stop()
		rebalance = rt.C
	}
	active := false
	for {
		select {
		case <-ctx.Done():
			return
		case <-rebalance:
			if !active || !cl.raft.IsActive() {
				continue
			}
			moved, err := cl.b.ctl.RebalanceLeaders(ctx)
			if err != nil && ctx.Err() == nil {
				cl.b.logger.Warn("rebalancing partition leaders", "err", err)
			}
			if len(moved) > 0 {
				cl.b.logger.Info("moved leadership back to preferred replicas", "partitions", len(moved))
			}
		case a, ok := <-cl.raft.ActiveCh():
			if !ok {
				return
			}
			if a && !active {
				cl.b.ctl.Activate()
				cl.b.logger.Info("this node is the active controller")
				if err := cl.b.ctl.EnsureClusterSecret(ctx); err != nil && ctx.Err() == nil {
					cl.b.logger.Warn("setting the cluster secret", "err", err)
				}
			}
			active = a
		case <-tick.C:
			if !active || !cl.raft.IsActive() {
				continue
			}
			fenced, err := cl.b.ctl.FenceExpired(ctx)
			if err != nil && ctx.Err() == nil {
				cl.b.logger.Warn("fencing expired brokers", "err", err)
			}
			if len(fenced) > 0 {
				cl.b.logger.Info("fenced brokers whose heartbeats stopped", "brokers", fenced)
			}
		}
	}
}

// runBrokerLifecycle registers this broker with the active controller and heartbeats
// until ctx ends, registering again whenever the controller no longer knows the epoch.
func (cl *cluster) runBrokerLifecycle(ctx context.Context) {
	b := cl.b
	if cl.raft != nil && cl.raft.IsObserver() && !cl.joinAsObserver(ctx) {
		return
	}
	// Registration names the cluster: wait for the first metadata.
	if !b.waitForImage(ctx, func(img *metadata.Image) bool { return img.ClusterID != "" }) {
		return
	}
	for ctx.Err() == nil {
		epoch, err := cl.register(ctx)
		if err != nil {
			if ctx.Err() == nil {
				b.logger.Warn("broker registration", "err", err)
				sleepCtx(ctx, time.Second)
			}
			continue
		}
		cl.epoch.Store(epoch)
		b.logger.Info("registered with the controller", "brokerEpoch", epoch)
		if !b.replicasReady.Load() {
			// Host partitions once this node's metadata holds its registration (and so
			// the leadership changes the controller made for it).
			if !b.waitForImage(ctx, func(img *metadata.Image) bool { return img.Offset > epoch }) {
				return
			}
			b.markReady()
		}
		fenced := true
		for ctx.Err() == nil {
			res, err := cl.heartbeat(ctx, false)
			var ke *kerr.Error
			if errors.As(err, &ke) && (ke == kerr.StaleBrokerEpoch || ke == kerr.BrokerIDNotRegistered) {
				b.logger.Warn("the controller lost this broker's registration; registering again", "err", err)
				break
			}
			if err == nil && res.IsFenced != fenced {
				fenced = res.IsFenced
				b.logger.Info("broker state changed", "fenced", fenced)
			}
			sleepCtx(ctx, b.cfg.BrokerHeartbeatInterval)
		}
	}
}

func (cl *cluster) register(ctx context.Context) (int64, error) {
	b := cl.b
	req := kmsg.NewPtrBrokerRegistrationRequest()
	req.Version = 3
	req.BrokerID = b.cfg.NodeID
	req.ClusterID = b.quorum.Image().ClusterID
	req.IncarnationID = cl.incarnation
	req.PreviousBrokerEpoch = cl.epoch.Load()
	l := kmsg.NewBrokerRegistrationRequestListener()
	l.Name, l.Host, l.Port, l.SecurityProtocol = b.cfg.InterBrokerListenerName, b.advertisedHost, uint16(b.advertisedPort), 0
	req.Listeners = append(req.Listeners, l)
	if b.cfg.BrokerRack != "" {
		req.Rack = kmsg.StringPtr(b.cfg.BrokerRack)
	}
	rctx, cancel := context.WithTimeout(ctx, controllerRequestTimeout)
	defer cancel()
	resp, err := cl.controllerRequest(rctx, req)
	if err != nil {
		return -1, err
	}
	r := resp.(*kmsg.BrokerRegistrationResponse)
	if err := codeError(r.ErrorCode, nil); err != nil {
		return -1, err
	}
	return r.BrokerEpoch, nil
}

func (cl *cluster) heartbeat(ctx context.Context, wantShutdown bool) (*kmsg.BrokerHeartbeatResponse, error) {
	req := kmsg.NewPtrBrokerHeartbeatRequest()
	req.Version = 1
	req.BrokerID = cl.b.cfg.NodeID
	req.BrokerEpoch = cl.epoch.Load()
	req.CurrentMetadataOffset = cl.b.quorum.Image().Offset
	req.WantShutdown = wantShutdown
	hctx, cancel := context.WithTimeout(ctx, max(cl.b.cfg.BrokerHeartbeatInterval, time.Second))
	defer cancel()
	resp, err := cl.controllerRequest(hctx, req)
	if err != nil {
		return nil, err
	}
	r := resp.(*kmsg.BrokerHeartbeatResponse)
	return r, codeError(r.ErrorCode, nil)
}

// controlledShutdownNoQuorum is how long a stopping broker waits for a controller to
// appear before it gives up its controlled shutdown.
const controlledShutdownNoQuorum = 3 * time.Second

// controlledShutdown asks the controller to move this broker's leadership away and
// waits, up to controlled.shutdown.timeout.ms, until it says the broker may stop. If
// this node is the active controller it then hands the Raft leadership over, so the
// cluster does not wait for an election timeout.
func (cl *cluster) controlledShutdown() {
	b := cl.b
	if b.cfg.ControlledShutdownEnable && cl.epoch.Load() >= 0 {
		ctx, cancel := context.WithTimeout(context.Background(), b.cfg.ControlledShutdownTimeout)
		defer cancel()
		// When the whole cluster stops at once the quorum goes away under the last
		// nodes: nobody can move their leadership, so they stop without waiting out the
		// timeout once no controller has been known for a while.
		leaderless := time.Time{}
		for {
			hctx, hcancel := context.WithTimeout(ctx, time.Second)
			res, err := cl.heartbeat(hctx, true)
			hcancel()
			if err == nil && res.ShouldShutdown {
				b.logger.Info("controlled shutdown: leadership moved away")
				break
			}
			if ctx.Err() != nil {
				b.logger.Warn("controlled shutdown timed out; stopping anyway", "err", err)
				break
			}
			if _, ok := cl.leader(); ok {
				leaderless = time.Time{}
			} else if leaderless.IsZero() {
				leaderless = time.Now()
			} else if time.Since(leaderless) > controlledShutdownNoQuorum {
				b.logger.Warn("controlled shutdown: no active controller (the quorum is gone); stopping anyway")
				break
			}
			sleepCtx(ctx, 100*time.Millisecond)
		}
	}
	cl.handOverController()
}

// handOverController hands the Raft leadership to another voter when this node is the
// active controller, so the cluster does not wait for an election timeout.
func (cl *cluster) handOverController() {
	b := cl.b
	if cl.raft == nil {
		return
	}
	if id, ok := cl.raft.Leader(); ok && id == b.cfg.NodeID {
		if err := cl.raft.TransferLeadership(); err != nil {
			b.logger.Info("handing over the controller role", "err", err)
		}
	}
}

// alterPartition sends a partition leader's ISR change to the active controller.
func (cl *cluster) alterPartition(ctx context.Context, r replica.AlterPartitionRequest) error {
	req := kmsg.NewPtrAlterPartitionRequest()
	req.Version = 2
	req.BrokerID, req.BrokerEpoch = cl.b.cfg.NodeID, cl.epoch.Load()
	rt := kmsg.NewAlterPartitionRequestTopic()
	rt.Topic, rt.TopicID = r.Topic, r.TopicID
	rp := kmsg.NewAlterPartitionRequestTopicPartition()
	rp.Partition, rp.LeaderEpoch, rp.PartitionEpoch, rp.NewISR = r.Partition, r.LeaderEpoch, r.PartitionEpoch, r.ISR
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	resp, err := cl.controllerRequest(ctx, req)
	if err != nil {
		return err
	}
	res := resp.(*kmsg.AlterPartitionResponse)
	if err := codeError(res.ErrorCode, nil); err != nil {
		return fmt.Errorf("broker: alter partition %s-%d: %w", r.Topic, r.Partition, err)
	}
	if len(res.Topics) != 1 || len(res.Topics[0].Partitions) != 1 {
		return fmt.Errorf("broker: alter partition %s-%d: malformed answer: %w", r.Topic, r.Partition, kerr.UnknownServerError)
	}
	if err := codeError(res.Topics[0].Partitions[0].ErrorCode, nil); err != nil {
		return fmt.Errorf("broker: alter partition %s-%d: %w", r.Topic, r.Partition, err)
	}
	return nil
}

// fetchFromLeader sends a follower's fetch to the partition leader's broker listener.
func (cl *cluster) fetchFromLeader(ctx context.Context, leader metadata.Broker, req *kmsg.FetchRequest) (*kmsg.FetchResponse, error) {
	c, err := cl.client(fmt.Sprintf("%s:%d", leader.Host, leader.Port))
	if err != nil {
		return nil, err
	}
	req.Version = 13
	resp, err := c.request(ctx, req)
	if err != nil {
		return nil, err
	}
	return resp.(*kmsg.FetchResponse), nil
}

func sleepCtx(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}

// handleAddRaftVoter adds a node that is not in controller.quorum.voters to the
// metadata quorum as an observer (a non-voting member that follows the log): how a
// broker joins a running cluster. Samsa does not change the voters of a formed quorum.
func (cl *cluster) handleAddRaftVoter(ctx context.Context, _ *conn, kreq kmsg.Request) (kmsg.Response, error) {
	req := kreq.(*kmsg.AddRaftVoterRequest)
	resp := req.ResponseKind().(*kmsg.AddRaftVoterResponse)
	var err error
	switch {
	case req.ClusterID != nil && *req.ClusterID != "" && *req.ClusterID != cl.b.quorum.Image().ClusterID:
		err = fmt.Errorf("broker: node %d belongs to cluster %q, not %q: %w", req.VoterID, *req.ClusterID, cl.b.quorum.Image().ClusterID, kerr.InconsistentClusterID)
	case len(req.Listeners) == 0:
		err = fmt.Errorf("broker: node %d named no controller listener: %w", req.VoterID, kerr.InvalidRequest)
	default:
		l := req.Listeners[0]
		err = cl.raft.AddObserver(ctx, req.VoterID, net.JoinHostPort(l.Host, strconv.Itoa(int(l.Port))))
	}
	resp.ErrorCode = errorCode(err)
	if err != nil {
		resp.ErrorMessage = kmsg.StringPtr(err.Error())
	}
	return resp, nil
}

// joinAsObserver, on a node with the controller role that is not a voter, asks the
// voters until the active controller adds it to the quorum, then waits until the log
// has reached it (the cluster secret it authenticates with is in it).
func (cl *cluster) joinAsObserver(ctx context.Context) bool {
	b := cl.b
	host, port := cl.controllerEndpoint()
	b.logger.Info("not in controller.quorum.voters: joining the metadata quorum as an observer", "controllerListener", net.JoinHostPort(host, strconv.Itoa(port)))
	for ctx.Err() == nil && b.quorum.Image().ClusterSecret == "" {
		for _, id := range slices.Sorted(maps.Keys(cl.voters)) {
			req := kmsg.NewPtrAddRaftVoterRequest()
			req.Version, req.VoterID, req.TimeoutMillis = 0, b.cfg.NodeID, 10000
			if cid := b.cfg.ClusterID; cid != "" {
				req.ClusterID = kmsg.StringPtr(cid)
			}
			l := kmsg.NewAddRaftVoterRequestListener()
			l.Name, l.Host, l.Port = b.cfg.ControllerListenerNames[0], host, uint16(port)
			req.Listeners = append(req.Listeners, l)
			p := newPeerClient(cl.voters[id], "samsa-node-"+strconv.Itoa(int(b.cfg.NodeID)), nil)
			rctx, cancel := context.WithTimeout(ctx, 5*time.Second)
			resp, err := p.request(rctx, req)
			cancel()
			p.close()
			if err != nil {
				continue // not the active controller, or down
			}
			if err := codeError(resp.(*kmsg.AddRaftVoterResponse).ErrorCode, resp.(*kmsg.AddRaftVoterResponse).ErrorMessage); err != nil {
				b.logger.Warn("joining the metadata quorum", "err", err)
				continue
			}
			break
		}
		// The log (with the cluster secret) arrives once the leader has added us; ask
		// again if it does not.
		wctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		b.waitForImage(wctx, func(img *metadata.Image) bool { return img.ClusterSecret != "" })
		cancel()
	}
	return ctx.Err() == nil
}

// controllerEndpoint is the address voters reach this node's controller listener at:
// its configured host, or the advertised host when it binds every interface.
func (cl *cluster) controllerEndpoint() (string, int) {
	addr := cl.ctlListener.Addr().(*net.TCPAddr)
	host := ""
	for _, l := range cl.b.cfg.Listeners {
		if l.Name == cl.b.cfg.ControllerListenerNames[0] {
			host = l.Host
		}
	}
	if ip := net.ParseIP(host); host == "" || ip != nil && ip.IsUnspecified() {
		host = cl.b.advertisedHost
	}
	return host, addr.Port
}
