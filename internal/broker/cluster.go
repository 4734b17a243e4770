package broker

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/samsa-io/samsa/internal/metadata"
	"github.com/samsa-io/samsa/internal/raftquorum"
)

// cluster is this node's part in a multi-node cluster (controller.quorum.voters set),
// as in Kafka's KRaft mode:
//
//   - The controller listener (controller.listener.names) carries two protocols told
//     apart by the first byte of a connection: the Raft transport of the metadata quorum
//     (raftquorum.Magic) and Kafka frames for the controller APIs (BrokerRegistration,
//     BrokerHeartbeat, AlterPartition, AllocateProducerIds and the admin requests
//     brokers forward). Only the active controller (the Raft leader, once caught up)
//     serves the controller APIs; the others close such connections, and the caller
//     retries with the new leader.
//   - Every node with the controller role follows the metadata log as a Raft voter
//     (or, outside controller.quorum.voters, as an observer the active controller
//     added); a node with only the broker role fetches the committed records from a
//     controller (metadatafetch.go). Either way its Image is the cluster's, and its
//     replica manager reconciles from it.
//   - A node with only the controller role has no client listener and hosts no
//     partitions.
//   - The broker side registers with the active controller, heartbeats, and before
//     stopping asks for a controlled shutdown that moves its leadership away.
//   - Admin requests arriving on a broker listener (CreateTopics, DeleteTopics, ...) are
//     forwarded to the active controller and answered with its response once this
//     node's metadata shows the change.
type cluster struct {
	b *Broker
	// raft is the metadata quorum on a node with the controller role; follower fetches
	// the metadata on a node with only the broker role. Exactly one is set.
	raft        *raftquorum.Quorum
	follower    *metadataFollower
	changed     *changeSignal    // fired on every metadata change (controllers only)
	voters      map[int32]string // node id -> host:port of its controller listener
	raftConns   chan net.Conn
	ctlListener net.Listener
	ctlAPIs     map[kmsg.Key]api
	incarnation metadata.UUID

	epoch atomic.Int64 // broker epoch from the last registration; -1 before

	fetchersMu sync.Mutex // guards fetchers
	fetchers   map[int32]metadataFetcher

	snapMu     sync.Mutex // guards snap and snapOffset
	snap       []byte     // the image last offered to a broker, encoded
	snapOffset int64

	mu      sync.Mutex // guards clients and closed
	clients map[string]*peerClient
	closed  bool
}

// controllerRequestTimeout bounds one attempt of a request to the active controller.
const controllerRequestTimeout = 10 * time.Second

// newCluster opens the Raft quorum, on a node with the controller role; ctlLn is its
// bound controller listener. On a node with only the broker role ctlLn is nil and the
// metadata is fetched from the controllers.
func newCluster(b *Broker, dir string, ctlLn net.Listener) (*cluster, error) {
	cfg := b.cfg
	cl := &cluster{
		b:           b,
		voters:      make(map[int32]string),
		raftConns:   make(chan net.Conn),
		ctlListener: ctlLn,
		incarnation: metadata.RandomUUID(),
		clients:     make(map[string]*peerClient),
		fetchers:    make(map[int32]metadataFetcher),
		changed:     newChangeSignal(),
	}
	cl.epoch.Store(-1)
	for _, v := range cfg.ControllerQuorumVoters {
		cl.voters[v.ID] = net.JoinHostPort(v.Host, strconv.Itoa(int(v.Port)))
	}
	if ctlLn == nil {
		cl.follower = newMetadataFollower(b, cl.voters)
		return cl, nil
	}
	q, err := raftquorum.Open(raftquorum.Config{
		NodeID:    cfg.NodeID,
		Voters:    cl.voters,
		Dir:       dir,
		ClusterID: cfg.ClusterID,
		Conns:     cl.raftConns,
		Addr:      ctlLn.Addr(),
		Logger:    b.logger.With("component", "raft"),
	})
	if err != nil {
		return nil, err
	}
	cl.raft = q
	q.Subscribe(func(_, _ *metadata.Image) { cl.changed.fire() })
	cl.ctlAPIs = cl.controllerAPITable()
	return cl, nil
}

// quorum is the metadata this node follows.
func (cl *cluster) quorum() metadata.Quorum {
	if cl.raft != nil {
		return cl.raft
	}
	return cl.follower
}

// leader returns the active controller as this node knows it.
func (cl *cluster) leader() (int32, bool) {
	if cl.raft != nil {
		return cl.raft.Leader()
	}
	return cl.follower.Leader()
}

// controllerAPITable lists what the controller listener serves.
func (cl *cluster) controllerAPITable() map[kmsg.Key]api {
	b := cl.b
	list := []api{
		{kmsg.ApiVersions, 0, 4, b.handleApiVersions},
		{kmsg.DescribeQuorum, 0, 2, b.handleDescribeQuorum}, // answers NOT_LEADER itself
		// Brokers without the controller role follow the metadata with these; see
		// metadatafetch.go for why they need no authentication.
		{kmsg.Fetch, 12, 12, cl.handleMetadataFetch},
		{kmsg.FetchSnapshot, 0, 0, cl.handleFetchSnapshot},
		{kmsg.SASLHandshake, 1, 1, b.handleSaslHandshake},
		{kmsg.SASLAuthenticate, 0, 2, b.handleSaslAuthenticate},
		{kmsg.BrokerRegistration, 0, 4, cl.activeOnly(cl.handleBrokerRegistration)},
		// A joining node has no credential yet: it learns the cluster secret from the log
		// it is being added to. See the note on the controller listener in sasl.go.
		{kmsg.AddRaftVoter, 0, 1, cl.activeOnlyAnyPeer(cl.handleAddRaftVoter)},
		{kmsg.BrokerHeartbeat, 0, 2, cl.activeOnly(cl.handleBrokerHeartbeat)},
		{kmsg.AlterPartition, 0, 3, cl.activeOnly(cl.handleAlterPartition)},
		{kmsg.AllocateProducerIDs, 0, 0, cl.activeOnly(cl.handleAllocateProducerIDs)},
		{kmsg.CreateTopics, 2, 7, cl.activeOnly(b.handleCreateTopics)},
		{kmsg.DeleteTopics, 1, 6, cl.activeOnly(b.handleDeleteTopics)},
		{kmsg.CreatePartitions, 0, 3, cl.activeOnly(b.handleCreatePartitions)},
		{kmsg.AlterConfigs, 0, 2, cl.activeOnly(b.handleAlterConfigs)},
		{kmsg.IncrementalAlterConfigs, 0, 1, cl.activeOnly(b.handleIncrementalAlterConfigs)},
		{kmsg.ElectLeaders, 0, 2, cl.activeOnly(b.handleElectLeaders)},
		{kmsg.AlterPartitionAssignments, 0, 0, cl.activeOnly(b.handleAlterPartitionReassignments)},
		{kmsg.ListPartitionReassignments, 0, 0, cl.activeOnly(b.handleListPartitionReassignments)},
	}
	m := make(map[kmsg.Key]api, len(list))
	for _, a := range list {
		m[a.key] = a
	}
	return m
}

// forwardedKeys are the admin APIs a broker listener forwards to the active controller.
var forwardedKeys = []kmsg.Key{kmsg.CreateTopics, kmsg.DeleteTopics, kmsg.CreatePartitions, kmsg.AlterConfigs, kmsg.IncrementalAlterConfigs, kmsg.DescribeQuorum,
	kmsg.ElectLeaders, kmsg.AlterPartitionAssignments, kmsg.ListPartitionReassignments}

// errNotActive closes a controller connection on a node that is not the active
// controller: the peer looks the leader up again and retries there.
var errNotActive = fmt.Errorf("broker: not the active controller: %w", errClose)

// errNotBroker closes a controller connection whose peer did not authenticate as a
// node of the cluster (sasl.go): only brokers may register, heartbeat, change ISRs or
// forward admin requests.
var errNotBroker = fmt.Errorf("broker: controller request from a peer that did not authenticate as a broker: %w", errClose)

// activeOnlyAnyPeer is activeOnly without the broker authentication.
func (cl *cluster) activeOnlyAnyPeer(h handler) handler {
	return func(ctx context.Context, c *conn, req kmsg.Request) (kmsg.Response, error) {
		if !cl.raft.IsActive() {
			return nil, errNotActive
		}
		return h(ctx, c, req)
	}
}

func (cl *cluster) activeOnly(h handler) handler {
	return func(ctx context.Context, c *conn, req kmsg.Request) (kmsg.Response, error) {
		if !c.fromBroker() {
			return nil, errNotBroker
		}
		if !cl.raft.IsActive() {
			return nil, errNotActive
		}
		return h(ctx, c, req)
	}
}

// acceptController serves the controller listener: Raft connections go to the quorum,
// Kafka connections to the controller APIs.
func (cl *cluster) acceptController(ctx context.Context) {
	b := cl.b
	for {
		nc, err := cl.ctlListener.Accept()
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, net.ErrClosed) {
				return
			}
			b.logger.Warn("accept on the controller listener", "err", err)
			select {
			case <-ctx.Done():
				return
			case <-time.After(50 * time.Millisecond):
			}
			continue
		}
		b.wg.Add(1)
		go func() {
			defer b.wg.Done()
			cl.route(ctx, nc)
		}()
	}
}

// route reads the first byte of a controller-listener connection and hands it on.
func (cl *cluster) route(ctx context.Context, nc net.Conn) {
	b := cl.b
	nc.SetReadDeadline(time.Now().Add(10 * time.Second))
	first := make([]byte, 1)
	if _, err := io.ReadFull(nc, first); err != nil {
		nc.Close()
		return
	}
	if first[0] == raftquorum.Magic[0] {
		rest := make([]byte, len(raftquorum.Magic)-1)
		if _, err := io.ReadFull(nc, rest); err != nil || string(first)+string(rest) != raftquorum.Magic {
			nc.Close()
			return
		}
		nc.SetReadDeadline(time.Time{})
		select {
		case cl.raftConns <- nc:
		case <-ctx.Done():
			nc.Close()
		}
		return
	}
	nc.SetReadDeadline(time.Time{})
	pc := &prefixConn{Conn: nc, r: io.MultiReader(bytes.NewReader(first), nc)}
	if !b.trackConn(ctx, nc) {
		return
	}
	defer b.untrackConn(nc)
	c := newConn(b, pc, cl.ctlAPIs)
	c.serve(ctx)
}

// prefixConn is a connection whose first bytes were already read.
type prefixConn struct {
	net.Conn
	r io.Reader
}

func (p *prefixConn) Read(buf []byte) (int, error) { return p.r.Read(buf) }

// client returns the client of a peer node at addr (a controller listener or a broker
// listener).
func (cl *cluster) client(addr string) (*peerClient, error) {
	cl.mu.Lock()
	defer cl.mu.Unlock()
	if cl.closed {
		return nil, errPeerClosed
	}
	c := cl.clients[addr]
	if c == nil {
		c = newPeerClient(addr, "samsa-node-"+strconv.Itoa(int(cl.b.cfg.NodeID)), cl.b.brokerAuth)
		cl.clients[addr] = c
	}
	return c, nil
}

// controllerRequest sends req to the active controller, following leadership changes
// until ctx ends.
func (cl *cluster) controllerRequest(ctx context.Context, req kmsg.Request) (kmsg.Response, error) {
	backoff := 50 * time.Millisecond
	for {
		err := ctx.Err()
		if err != nil {
			return nil, fmt.Errorf("broker: no answer from the active controller: %w", kerr.RequestTimedOut)
		}
		if id, ok := cl.leader(); ok {
			var c *peerClient
			if c, err = cl.client(cl.voters[id]); err != nil {
				return nil, err
			}
			actx, cancel := context.WithTimeout(ctx, controllerRequestTimeout)
			var resp kmsg.Response
			resp, err = c.request(actx, req)
			cancel()
			if err == nil {
				return resp, nil
			}
		}
		select {
		case <-ctx.Done():
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, time.Second)
	}
}

// forward answers an admin request with the active controller's response, once this
// node's metadata shows its effect (so the client's next Metadata request sees it).
func (cl *cluster) forward(ctx context.Context, _ *conn, req kmsg.Request) (kmsg.Response, error) {
	fctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	resp, err := cl.controllerRequest(fctx, req)
	if err != nil {
		return errorResponse(req, err), nil
	}
	cl.waitForEffect(fctx, req, resp)
	return resp, nil
}

// waitForEffect waits (bounded by ctx) until the local image reflects a forwarded
// request's successful changes.
func (cl *cluster) waitForEffect(ctx context.Context, req kmsg.Request, resp kmsg.Response) {
	var done func(img *metadata.Image) bool
	switch r := resp.(type) {
	case *kmsg.CreateTopicsResponse:
		if req.(*kmsg.CreateTopicsRequest).ValidateOnly {
			return
		}
		done = func(img *metadata.Image) bool {
			for _, t := range r.Topics {
				if t.ErrorCode == 0 && img.Topic(t.Topic) == nil {
					return false
				}
			}
			return true
		}
	case *kmsg.DeleteTopicsResponse:
		done = func(img *metadata.Image) bool {
			for _, t := range r.Topics {
				if t.ErrorCode == 0 && t.Topic != nil && img.Topic(*t.Topic) != nil {
					return false
				}
			}
			return true
		}
	case *kmsg.CreatePartitionsResponse:
		cr := req.(*kmsg.CreatePartitionsRequest)
		if cr.ValidateOnly {
			return
		}
		want := make(map[string]int32)
		for _, t := range cr.Topics {
			want[t.Topic] = t.Count
		}
		done = func(img *metadata.Image) bool {
			for _, t := range r.Topics {
				if t.ErrorCode == 0 && len(img.Topic(t.Topic).Partitions) < int(want[t.Topic]) {
					return false
				}
			}
			return true
		}
	default:
		return
	}
	cl.b.waitForImage(ctx, done)
}

// waitForImage polls the metadata until done holds or ctx ends.
func (b *Broker) waitForImage(ctx context.Context, done func(*metadata.Image) bool) bool {
	for !done(b.quorum.Image()) {
		select {
		case <-ctx.Done():
			return false
		case <-time.After(10 * time.Millisecond):
		}
	}
	return true
}

// errorResponse is req's response with every error code set from err.
func errorResponse(req kmsg.Request, err error) kmsg.Response {
	code, msg := errorCode(err), errorMessage(err)
	switch r := req.(type) {
	case *kmsg.CreateTopicsRequest:
		resp := r.ResponseKind().(*kmsg.CreateTopicsResponse)
		for _, t := range r.Topics {
			st := kmsg.NewCreateTopicsResponseTopic()
			st.Topic, st.ErrorCode, st.ErrorMessage = t.Topic, code, msg
			resp.Topics = append(resp.Topics, st)
		}
		return resp
	case *kmsg.DeleteTopicsRequest:
		resp := r.ResponseKind().(*kmsg.DeleteTopicsResponse)
		for _, name := range r.TopicNames {
			st := kmsg.NewDeleteTopicsResponseTopic()
			st.Topic, st.ErrorCode, st.ErrorMessage = kmsg.StringPtr(name), code, msg
			resp.Topics = append(resp.Topics, st)
		}
		for _, t := range r.Topics {
			st := kmsg.NewDeleteTopicsResponseTopic()
			st.Topic, st.TopicID, st.ErrorCode, st.ErrorMessage = t.Topic, t.TopicID, code, msg
			resp.Topics = append(resp.Topics, st)
		}
		return resp
	case *kmsg.CreatePartitionsRequest:
		resp := r.ResponseKind().(*kmsg.CreatePartitionsResponse)
		for _, t := range r.Topics {
			st := kmsg.NewCreatePartitionsResponseTopic()
			st.Topic, st.ErrorCode, st.ErrorMessage = t.Topic, code, msg
			resp.Topics = append(resp.Topics, st)
		}
		return resp
	case *kmsg.AlterConfigsRequest:
		resp := r.ResponseKind().(*kmsg.AlterConfigsResponse)
		for _, res := range r.Resources {
			sr := kmsg.NewAlterConfigsResponseResource()
			sr.ResourceType, sr.ResourceName, sr.ErrorCode, sr.ErrorMessage = res.ResourceType, res.ResourceName, code, msg
			resp.Resources = append(resp.Resources, sr)
		}
		return resp
	case *kmsg.DescribeQuorumRequest:
		return describeQuorumErrorResponse(r, err)
	case *kmsg.ElectLeadersRequest:
		return electLeadersErrorResponse(r, err)
	case *kmsg.AlterPartitionAssignmentsRequest:
		resp := r.ResponseKind().(*kmsg.AlterPartitionAssignmentsResponse)
		resp.ErrorCode, resp.ErrorMessage = code, msg
		for _, t := range r.Topics {
			st := kmsg.NewAlterPartitionAssignmentsResponseTopic()
			st.Topic = t.Topic
			for _, p := range t.Partitions {
				sp := kmsg.NewAlterPartitionAssignmentsResponseTopicPartition()
				sp.Partition, sp.ErrorCode, sp.ErrorMessage = p.Partition, code, msg
				st.Partitions = append(st.Partitions, sp)
			}
			resp.Topics = append(resp.Topics, st)
		}
		return resp
	case *kmsg.ListPartitionReassignmentsRequest:
		resp := r.ResponseKind().(*kmsg.ListPartitionReassignmentsResponse)
		resp.ErrorCode, resp.ErrorMessage = code, msg
		return resp
	case *kmsg.IncrementalAlterConfigsRequest:
		resp := r.ResponseKind().(*kmsg.IncrementalAlterConfigsResponse)
		for _, res := range r.Resources {
			sr := kmsg.NewIncrementalAlterConfigsResponseResource()
			sr.ResourceType, sr.ResourceName, sr.ErrorCode, sr.ErrorMessage = res.ResourceType, res.ResourceName, code, msg
			resp.Resources = append(resp.Resources, sr)
		}
		return resp
	}
	return nil
}

// createTopic creates a topic through the active controller and returns it as this
// node's metadata shows it.
func (cl *cluster) createTopic(ctx context.Context, spec metadata.CreateTopicSpec) (*metadata.Topic, error) {
	req := kmsg.NewPtrCreateTopicsRequest()
	req.Version = 7
	req.TimeoutMillis = 30000
	rt := kmsg.NewCreateTopicsRequestTopic()
	rt.Topic, rt.NumPartitions, rt.ReplicationFactor = spec.Name, spec.NumPartitions, spec.ReplicationFactor
	for p, replicas := range spec.Assignments {
		a := kmsg.NewCreateTopicsRequestTopicReplicaAssignment()
		a.Partition, a.Replicas = p, replicas
		rt.ReplicaAssignment = append(rt.ReplicaAssignment, a)
	}
	for k, v := range spec.Configs {
		c := kmsg.NewCreateTopicsRequestTopicConfig()
		c.Name, c.Value = k, kmsg.StringPtr(v)
		rt.Configs = append(rt.Configs, c)
	}
	req.Topics = append(req.Topics, rt)
	resp, err := cl.controllerRequest(ctx, req)
	if err != nil {
		return nil, err
	}
	topics := resp.(*kmsg.CreateTopicsResponse).Topics
	if len(topics) != 1 {
		return nil, fmt.Errorf("broker: controller answered CreateTopics with %d topics: %w", len(topics), kerr.UnknownServerError)
	}
	if err := codeError(topics[0].ErrorCode, topics[0].ErrorMessage); err != nil {
		return nil, fmt.Errorf("broker: create topic %q: %w", spec.Name, err)
	}
	if !cl.b.waitForImage(ctx, func(img *metadata.Image) bool { return img.Topic(spec.Name) != nil }) {
		return nil, fmt.Errorf("broker: topic %q created but not yet in this node's metadata: %w", spec.Name, kerr.LeaderNotAvailable)
	}
	return cl.b.quorum.Image().Topic(spec.Name), nil
}

// allocateProducerIDs reserves a block of producer ids through the active controller.
func (cl *cluster) allocateProducerIDs(ctx context.Context) (first, n int64, err error) {
	req := kmsg.NewPtrAllocateProducerIDsRequest()
	req.BrokerID, req.BrokerEpoch = cl.b.cfg.NodeID, cl.epoch.Load()
	resp, err := cl.controllerRequest(ctx, req)
	if err != nil {
		return 0, 0, err
	}
	r := resp.(*kmsg.AllocateProducerIDsResponse)
	if err := codeError(r.ErrorCode, nil); err != nil {
		return 0, 0, fmt.Errorf("broker: allocate producer ids: %w", err)
	}
	return r.ProducerIDStart, int64(r.ProducerIDLen), nil
}

// codeError turns a response's error code and message back into an error wrapping the
// *kerr.Error, so it is answered with the same code.
func codeError(code int16, msg *string) error {
	if code == 0 {
		return nil
	}
	ke := kerr.TypedErrorForCode(code)
	if ke == nil {
		return fmt.Errorf("error code %d: %w", code, kerr.UnknownServerError)
	}
	if msg != nil && *msg != "" {
		return fmt.Errorf("%s: %w", *msg, ke)
	}
	return ke
}

// close stops the clients and the quorum.
func (cl *cluster) close() error {
	cl.mu.Lock()
	cl.closed = true
	clients := cl.clients
	cl.clients = nil
	cl.mu.Unlock()
	for _, c := range clients {
		c.close()
	}
	return nil
}
