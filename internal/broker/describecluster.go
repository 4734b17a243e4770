package broker

import (
	"context"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// Endpoint types of DescribeCluster v1+.
const (
	endpointBrokers     = 1
	endpointControllers = 2
)

func (b *Broker) handleDescribeCluster(_ context.Context, _ *conn, kreq kmsg.Request) (kmsg.Response, error) {
	req := kreq.(*kmsg.DescribeClusterRequest)
	resp := req.ResponseKind().(*kmsg.DescribeClusterResponse)
	resp.EndpointType = req.EndpointType
	if req.Version >= 1 && req.EndpointType != endpointBrokers {
		// As Kafka: controllers are described by controllers, not on broker listeners.
		resp.ErrorCode = kerr.UnsupportedEndpointType.Code
		return resp, nil
	}
	img := b.quorum.Image()
	resp.ClusterID = img.ClusterID
	resp.ControllerID = b.controllerIDForClients(img)
	for _, br := range listedBrokers(img) {
		rb := kmsg.NewDescribeClusterResponseBroker()
		rb.NodeID = br.ID
		rb.Host = br.Host
		rb.Port = br.Port
		if br.Rack != "" {
			rb.Rack = kmsg.StringPtr(br.Rack)
		}
		resp.Brokers = append(resp.Brokers, rb)
	}
	return resp, nil
}
