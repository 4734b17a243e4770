package clustertest

import (
	"fmt"
	"net"
	"os"
	"runtime"
	"syscall"
	"time"
)

// Dial connects from inside node id's namespace, as a process on that node would. A
// socket stays in the namespace it was created in, so the connection can be used from
// any goroutine afterwards.
func (nw *Network) Dial(id int32, network, addr string, timeout time.Duration) (net.Conn, error) {
	var c net.Conn
	err := inNetns("/run/netns/"+nw.NS(id), func() error {
		var err error
		c, err = net.DialTimeout(network, addr, timeout)
		return err
	})
	return c, err
}

// Listen listens inside node id's namespace.
func (nw *Network) Listen(id int32, network, addr string) (net.Listener, error) {
	var l net.Listener
	err := inNetns("/run/netns/"+nw.NS(id), func() error {
		var err error
		l, err = net.Listen(network, addr)
		return err
	})
	return l, err
}

// inNetns runs fn on an OS thread switched into the network namespace at path. The
// thread is switched back afterwards; if that fails it is left locked, so that the Go
// runtime ends it with the goroutine instead of reusing a thread in the wrong
// namespace. (The runtime starts new threads from a clean template thread, never by
// cloning a locked one, so nothing else inherits the namespace.)
func inNetns(path string, fn func() error) error {
	target, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("clustertest: %w", err)
	}
	defer target.Close()
	runtime.LockOSThread()
	orig, err := os.Open(fmt.Sprintf("/proc/self/task/%d/ns/net", syscall.Gettid()))
	if err != nil {
		runtime.UnlockOSThread()
		return fmt.Errorf("clustertest: %w", err)
	}
	defer orig.Close()
	if err := setns(target); err != nil {
		runtime.UnlockOSThread()
		return fmt.Errorf("clustertest: entering %s: %w", path, err)
	}
	fnErr := fn()
	if err := setns(orig); err != nil {
		return fmt.Errorf("clustertest: leaving %s: %w", path, err)
	}
	runtime.UnlockOSThread()
	return fnErr
}

// setnsTrap is setns(2)'s system call number, which package syscall does not export.
var setnsTrap = map[string]uintptr{"amd64": 308, "386": 346, "arm64": 268, "riscv64": 268, "loong64": 268, "arm": 375, "ppc64le": 350, "s390x": 339}

func setns(f *os.File) error {
	trap, ok := setnsTrap[runtime.GOARCH]
	if !ok {
		return fmt.Errorf("setns: system call number unknown on %s", runtime.GOARCH)
	}
	if _, _, errno := syscall.Syscall(trap, f.Fd(), syscall.CLONE_NEWNET, 0); errno != 0 {
		return errno
	}
	return nil
}

// nodeProcAttr makes a node die with the test binary (a go test timeout, say) rather
// than linger in a namespace that nobody deletes until the next run.
func nodeProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
