package broker

import (
	"fmt"
	"net"
	"os"
	"syscall"
)

// maxSendfileChunk bounds one sendfile(2) call; Linux moves at most about 2 GiB.
const maxSendfileChunk = 1 << 30

// sendfile sends n bytes of f from pos to the socket with sendfile(2), passing the
// position explicitly: f's shared offset is never read or moved, as concurrent fetches
// of one segment share the *os.File. It returns the bytes sent, and
// errSendfileUnsupported when the kernel refuses (the caller copies the rest).
//
// The file's descriptor is held through File.SyscallConn().Control, which takes a
// reference (internal/poll) without the read lock: sends from one segment run in
// parallel, and a segment closed meanwhile (retention, the cleaner) keeps its
// descriptor until the send returns. A send that starts after the close fails. The
// socket side goes through the RawConn's Write, so EAGAIN parks the goroutine in the
// network poller until the socket is writable, like any other write.
func sendfile(tc *net.TCPConn, f *os.File, pos, n int64) (int64, error) {
	fc, err := f.SyscallConn()
	if err != nil {
		return 0, fmt.Errorf("broker: sendfile: %w", err)
	}
	sc, err := tc.SyscallConn()
	if err != nil {
		return 0, fmt.Errorf("broker: sendfile: %w", err)
	}
	var sent int64
	var opErr error
	cerr := fc.Control(func(ffd uintptr) {
		werr := sc.Write(func(sfd uintptr) bool {
			for sent < n {
				off := pos + sent
				m, err := syscall.Sendfile(int(sfd), int(ffd), &off, int(min(n-sent, maxSendfileChunk)))
				if m > 0 {
					sent += int64(m)
				}
				switch err {
				case nil:
					if m == 0 {
						// End of file before the range's end: the segment was truncated.
						opErr = fmt.Errorf("broker: sendfile: segment file ends before %d", pos+n)
						return true
					}
				case syscall.EINTR:
				case syscall.EAGAIN:
					return false // wait until the socket is writable
				case syscall.ENOSYS, syscall.EINVAL:
					opErr = fmt.Errorf("%w: %w", errSendfileUnsupported, err)
					return true
				default:
					opErr = os.NewSyscallError("sendfile", err)
					return true
				}
			}
			return true
		})
		if opErr == nil && werr != nil {
			opErr = fmt.Errorf("broker: sendfile: %w", werr)
		}
	})
	if cerr != nil {
		// The file was closed before the send began (a deleted segment).
		return 0, fmt.Errorf("broker: sendfile: %w", cerr)
	}
	if opErr == nil {
		sendfileCalls.Add(1)
	}
	return sent, opErr
}
