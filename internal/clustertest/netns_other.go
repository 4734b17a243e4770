//go:build !linux

package clustertest

import (
	"errors"
	"net"
	"syscall"
	"time"
)

var errNotLinux = errors.New("clustertest: network namespaces need Linux")

// Dial connects from inside node id's namespace; it needs Linux.
func (nw *Network) Dial(id int32, network, addr string, timeout time.Duration) (net.Conn, error) {
	return nil, errNotLinux
}

// Listen listens inside node id's namespace; it needs Linux.
func (nw *Network) Listen(id int32, network, addr string) (net.Listener, error) {
	return nil, errNotLinux
}

func nodeProcAttr() *syscall.SysProcAttr { return nil }
