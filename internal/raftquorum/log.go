package raftquorum

import (
	"bytes"
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"
)

// newHCLogger returns an hclog.Logger for hashicorp/raft that forwards its Warn and
// Error lines to l. Raft logs every election and heartbeat at Info and Debug; only
// trouble is worth the broker's log.
func newHCLogger(l *slog.Logger) hclog.Logger {
	return hclog.New(&hclog.LoggerOptions{
		Name:        "raft",
		Level:       hclog.Warn,
		Output:      &slogWriter{l: l, last: make(map[string]time.Time)},
		DisableTime: true, // slog adds its own
	})
}

// slogWriter turns hclog's text lines ("[WARN]  raft: message: key=value") into slog
// records: an "[ERROR]" line at Error level, anything else at Warn. While a voter is
// down raft reports every failed heartbeat and append (several a second): those lines
// are logged at Warn and at most once per repeatEvery for each kind of message.
type slogWriter struct {
	l    *slog.Logger
	mu   sync.Mutex
	last map[string]time.Time // repeated message kind -> when it was last logged
}

// repeatEvery is how often a repeated peer-contact failure is logged.
const repeatEvery = 30 * time.Second

// repeatedPrefixes start the messages raft repeats while a peer is unreachable.
var repeatedPrefixes = []string{
	"raft: failed to heartbeat to",
	"raft: failed to appendEntries to",
	"raft: failed to contact",
	"raft: failed to make requestVote RPC",
}

// suppress reports whether line repeats a peer-contact failure logged recently.
func (w *slogWriter) suppress(line []byte) bool {
	for _, p := range repeatedPrefixes {
		if bytes.HasPrefix(line, []byte(p)) {
			w.mu.Lock()
			defer w.mu.Unlock()
			now := time.Now()
			if now.Sub(w.last[p]) < repeatEvery {
				return true
			}
			w.last[p] = now
			return false
		}
	}
	return false
}

func (w *slogWriter) Write(p []byte) (int, error) {
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
		if w.suppress(line) {
			continue
		}
		if bytes.HasPrefix(line, []byte("raft: failed to")) {
			level = slog.LevelWarn // a peer being down is expected; the cluster copes
		}
		w.l.Log(context.Background(), level, string(line))
	}
	return len(p), nil
}
