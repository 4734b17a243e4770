//go:build !linux

package broker

import (
	"net"
	"os"
)

// sendfile is Linux-only for now; elsewhere the caller copies the range.
func sendfile(_ *net.TCPConn, _ *os.File, _, _ int64) (int64, error) {
	return 0, errSendfileUnsupported
}
