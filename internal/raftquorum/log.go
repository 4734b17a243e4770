package raftquorum

import (
	"bytes"
	"context"
	"log/slog"

	"github.com/hashicorp/go-hclog"
)

// newHCLogger returns an hclog.Logger for hashicorp/raft that forwards its Warn and
// Error lines to l. Raft logs every election and heartbeat at Info and Debug; only
// trouble is worth the broker's log.
func newHCLogger(l *slog.Logger) hclog.Logger {
	return hclog.New(&hclog.LoggerOptions{
		Name:        "raft",
		Level:       hclog.Warn,
		Output:      slogWriter{l},
		DisableTime: true, // slog adds its own
	})
}

// slogWriter turns hclog's text lines ("[WARN]  raft: message: key=value") into slog
// records: an "[ERROR]" line at Error level, anything else at Warn.
type slogWriter struct{ l *slog.Logger }

func (w slogWriter) Write(p []byte) (int, error) {
	for _, line := range bytes.Split(bytes.TrimRight(p, "\n"), []byte("\n")) {
		line = bytes.TrimSpace(line)
		if len(line) == 0 {
			continue
		}
		level := slog.LevelWarn
		if rest, ok := bytes.CutPrefix(line, []byte("[ERROR]")); ok {
			level, line = slog.LevelError, bytes.TrimSpace(rest)
		} else if rest, ok := bytes.CutPrefix(line, []byte("[WARN]")); ok {
			line = bytes.TrimSpace(rest)
		}
		w.l.Log(context.Background(), level, string(line))
	}
	return len(p), nil
}
