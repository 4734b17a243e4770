package broker

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"sync"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/xdg-go/scram"
)

// Inter-node authentication. The nodes of a cluster authenticate to each other with
// SASL SCRAM-SHA-512 as the reserved user brokerUser, whose password is derived from
// the cluster secret in the metadata (written once by the first active controller and
// replicated by the metadata quorum). A connection that completed it is a broker
// connection: only those may fetch as a replica (CVE-2018-1288) or use the controller
// APIs. A single node has no secret and no peers, so nothing authenticates as a broker.
//
// The Raft transport and the metadata fetch (metadatafetch.go) on the controller
// listener are not authenticated (nodes need the log before they know the secret): as
// with a Kafka controller listener in PLAINTEXT, that listener must be reachable only by
// the cluster's nodes.

const (
	// brokerUser is the SCRAM user nodes authenticate as.
	brokerUser = "samsa-broker"
	// scramMechanism is the one SASL mechanism served.
	scramMechanism = "SCRAM-SHA-512"
	// scramIterations is the PBKDF2 iteration count of the broker credential.
	scramIterations = 4096
)

// brokerPassword derives the broker user's password from the cluster secret.
func brokerPassword(secret string) string {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte("samsa inter-broker password"))
	return hex.EncodeToString(mac.Sum(nil))
}

// brokerSalt derives the credential's salt from the cluster secret, so every node
// computes the same stored credential without exchanging it.
func brokerSalt(secret string) string {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte("samsa inter-broker salt"))
	return string(mac.Sum(nil))
}

// brokerCreds caches the stored SCRAM credential for a secret: PBKDF2 is deliberately
// slow, and every inter-node connection would otherwise pay it.
var brokerCreds struct {
	mu     sync.Mutex
	secret string
	creds  scram.StoredCredentials
}

func storedBrokerCredentials(secret string) (scram.StoredCredentials, error) {
	brokerCreds.mu.Lock()
	defer brokerCreds.mu.Unlock()
	if brokerCreds.secret == secret {
		return brokerCreds.creds, nil
	}
	client, err := scram.SHA512.NewClient(brokerUser, brokerPassword(secret), "")
	if err != nil {
		return scram.StoredCredentials{}, err
	}
	creds, err := client.GetStoredCredentialsWithError(scram.KeyFactors{Salt: brokerSalt(secret), Iters: scramIterations})
	if err != nil {
		return scram.StoredCredentials{}, err
	}
	brokerCreds.secret, brokerCreds.creds = secret, creds
	return creds, nil
}

// brokerAuth returns the broker credential of this cluster, or ok false when there is
// no cluster secret (yet).
func (b *Broker) brokerAuth() (user, password string, ok bool) {
	secret := b.quorum.Image().ClusterSecret
	if secret == "" {
		return "", "", false
	}
	return brokerUser, brokerPassword(secret), true
}

// handleSaslHandshake starts a SASL exchange (v1: the tokens then travel in
// SaslAuthenticate requests). Only SCRAM-SHA-512 is offered, and only once the cluster
// has a secret.
func (b *Broker) handleSaslHandshake(_ context.Context, c *conn, kreq kmsg.Request) (kmsg.Response, error) {
	req := kreq.(*kmsg.SASLHandshakeRequest)
	resp := req.ResponseKind().(*kmsg.SASLHandshakeResponse)
	secret := b.quorum.Image().ClusterSecret
	if secret != "" {
		resp.SupportedMechanisms = []string{scramMechanism}
	}
	switch {
	case c.sasl != nil || c.principal != "":
		resp.ErrorCode = kerr.IllegalSaslState.Code
		c.closeAfter = true
	case secret == "" || req.Mechanism != scramMechanism:
		resp.ErrorCode = kerr.UnsupportedSaslMechanism.Code
	default:
		srv, err := scram.SHA512.NewServer(func(user string) (scram.StoredCredentials, error) {
			if user != brokerUser {
				return scram.StoredCredentials{}, fmt.Errorf("unknown user %q", user)
			}
			return storedBrokerCredentials(secret)
		})
		if err != nil {
			return nil, fmt.Errorf("broker: scram server: %w", err)
		}
		c.sasl = srv.NewConversation()
	}
	return resp, nil
}

// handleSaslAuthenticate steps the SCRAM exchange. A failed exchange is answered and
// the connection closed, as Kafka does.
func (b *Broker) handleSaslAuthenticate(_ context.Context, c *conn, kreq kmsg.Request) (kmsg.Response, error) {
	req := kreq.(*kmsg.SASLAuthenticateRequest)
	resp := req.ResponseKind().(*kmsg.SASLAuthenticateResponse)
	if c.sasl == nil {
		resp.ErrorCode = kerr.IllegalSaslState.Code
		resp.ErrorMessage = kmsg.StringPtr("SaslAuthenticate without a SaslHandshake")
		c.closeAfter = true
		return resp, nil
	}
	out, err := c.sasl.Step(string(req.SASLAuthBytes))
	if err != nil {
		resp.ErrorCode = kerr.SaslAuthenticationFailed.Code
		resp.ErrorMessage = kmsg.StringPtr("Authentication failed: invalid credentials")
		c.logger.Info("SASL authentication failed", "err", err)
		c.closeAfter = true
		return resp, nil
	}
	resp.SASLAuthBytes = []byte(out)
	if c.sasl.Done() {
		if c.sasl.Valid() {
			c.principal = c.sasl.Username()
		}
		c.sasl = nil
	}
	return resp, nil
}

// fromBroker reports whether the peer authenticated as a node of this cluster, which
// a fetch claiming a replica id and the controller APIs require (CVE-2018-1288).
func (c *conn) fromBroker() bool { return c.principal == brokerUser }
