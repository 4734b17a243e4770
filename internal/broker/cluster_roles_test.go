package broker

import (
	"io"
	"log/slog"
	"strings"
	"testing"

	"github.com/samsa-io/samsa/internal/config"
)

// TestSingleRoleNodesRefused: in a cluster every node is a broker and a controller
// for now; a node configured with one role stops at start with a message saying so,
// before it joins anything.
func TestSingleRoleNodesRefused(t *testing.T) {
	for _, tc := range []struct {
		roles, listeners string
	}{
		{"controller", "CONTROLLER://127.0.0.1:0"},
		{"broker", "PLAINTEXT://127.0.0.1:0"},
	} {
		ov := map[string]string{
			"process.roles":                  tc.roles,
			"node.id":                        "1",
			"listeners":                      tc.listeners,
			"listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
			"controller.listener.names":      "CONTROLLER",
			"controller.quorum.voters":       "1@127.0.0.1:1",
			"log.dirs":                       t.TempDir(),
		}
		if tc.roles == "broker" {
			ov["controller.quorum.voters"] = "2@127.0.0.1:1"
		}
		cfg, _, err := config.Load("", nil, ov)
		if err != nil {
			t.Fatalf("%s: config: %v", tc.roles, err)
		}
		b, err := New(cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
		if err == nil {
			b.closeAll()
			t.Fatalf("process.roles=%s started", tc.roles)
		}
		if !strings.Contains(err.Error(), "nodes with one role are not supported yet") {
			t.Errorf("process.roles=%s: %v", tc.roles, err)
		}
	}
}
