package main

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// broker is one broker process under test.
type broker struct {
	name string
	bin  string   // binary to run
	args []string // arguments; "{dir}" and "{port}" are replaced
	dir  string   // data directory
	port int
	addr string
	cmd  *exec.Cmd
	log  *os.File
}

func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// start runs the broker and waits until it answers a Metadata request.
func (b *broker) start() error {
	if b.port == 0 {
		p, err := freePort()
		if err != nil {
			return err
		}
		b.port = p
		b.addr = fmt.Sprintf("127.0.0.1:%d", p)
	}
	var args []string
	for _, a := range b.args {
		a = strings.ReplaceAll(a, "{dir}", b.dir)
		a = strings.ReplaceAll(a, "{port}", strconv.Itoa(b.port))
		args = append(args, a)
	}
	logf, err := os.OpenFile(filepath.Join(filepath.Dir(b.dir), b.name+".log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	b.log = logf
	b.cmd = exec.Command(b.bin, args...)
	b.cmd.Stdout, b.cmd.Stderr = logf, logf
	if err := b.cmd.Start(); err != nil {
		return err
	}
	return b.waitReady(60 * time.Second)
}

// waitReady polls with a Metadata request until the broker answers.
func (b *broker) waitReady(limit time.Duration) error {
	deadline := time.Now().Add(limit)
	for time.Now().Before(deadline) {
		cl, err := kgo.NewClient(kgo.SeedBrokers(b.addr))
		if err == nil {
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			err = cl.Ping(ctx)
			cancel()
			cl.Close()
			if err == nil {
				return nil
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	return fmt.Errorf("%s did not become ready within %v (log: %s)", b.name, limit, b.log.Name())
}

// stop sends SIGTERM and waits.
func (b *broker) stop() {
	if b.cmd == nil {
		return
	}
	b.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan struct{})
	go func() { b.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		b.cmd.Process.Kill()
		<-done
	}
	b.cmd = nil
	b.log.Close()
}

// kill sends SIGKILL.
func (b *broker) kill() {
	if b.cmd == nil {
		return
	}
	b.cmd.Process.Kill()
	b.cmd.Wait()
	b.cmd = nil
	b.log.Close()
}

// cpuSeconds is the broker's user+system CPU time so far.
func (b *broker) cpuSeconds() float64 {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", b.cmd.Process.Pid))
	if err != nil {
		return 0
	}
	// Fields after the command name (which may contain spaces) start after ")".
	s := string(data)
	fields := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
	utime, _ := strconv.ParseFloat(fields[11], 64)
	stime, _ := strconv.ParseFloat(fields[12], 64)
	return (utime + stime) / 100 // USER_HZ is 100 on Linux
}

// status reads a kB field of /proc/pid/status (VmHWM for peak RSS, VmRSS for now).
func (b *broker) status(field string) int64 {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", b.cmd.Process.Pid))
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), field+":"); ok {
			n, _ := strconv.ParseInt(strings.Fields(v)[0], 10, 64)
			return n * 1024
		}
	}
	return 0
}

// openFiles counts the broker's file descriptors.
func (b *broker) openFiles() int {
	ents, _ := os.ReadDir(fmt.Sprintf("/proc/%d/fd", b.cmd.Process.Pid))
	return len(ents)
}

// dropCaches empties the page cache so the next read is cold; it needs root and
// reports whether it worked.
func dropCaches() bool {
	syscall.Sync()
	return os.WriteFile("/proc/sys/vm/drop_caches", []byte("3\n"), 0o200) == nil
}
