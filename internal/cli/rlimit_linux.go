package cli

import (
	"log/slog"
	"syscall"
)

// wantOpenFiles is the open-file limit a server asks for: every segment of every
// partition holds its .log open, besides one descriptor per connection, so a node with
// many partitions and clients needs tens of thousands.
const wantOpenFiles = 1 << 20

// raiseOpenFileLimit lifts RLIMIT_NOFILE as far as this process may (root may raise the
// hard limit; anyone may raise the soft limit to the hard one) and logs the result.
func raiseOpenFileLimit(logger *slog.Logger) {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return
	}
	if lim.Cur >= wantOpenFiles {
		return
	}
	want := syscall.Rlimit{Cur: wantOpenFiles, Max: max(lim.Max, wantOpenFiles)}
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &want); err != nil {
		// Not allowed to raise the hard limit: settle for it.
		want = syscall.Rlimit{Cur: lim.Max, Max: lim.Max}
		if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &want); err != nil {
			return
		}
	}
	if want.Cur < 100_000 {
		logger.Warn("the open-file limit is low for many partitions (each segment holds its .log open); raise it with ulimit -n", "limit", want.Cur)
	} else {
		logger.Debug("open-file limit", "limit", want.Cur)
	}
}
