package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// TestBadConfigStopsStartup: an invalid value stops `samsa server` with an error that
// names the key, before anything is written.
func TestBadConfigStopsStartup(t *testing.T) {
	for _, c := range []struct{ args []string }{
		{[]string{"--override", "log.segment.bytes=abc"}},
		{[]string{"--override", "num.partitions=0"}},
		{[]string{"--override", "listeners=PLAINTEXT://127.0.0.1:99999"}},
		{[]string{"--override", "log.message.timestamp.type=Yesterday"}},
	} {
		key, _, _ := strings.Cut(c.args[1], "=")
		dir := t.TempDir()
		cmd := exec.Command(samsaBin, append([]string{"server", "--override", "log.dirs=" + filepath.Join(dir, "data")}, c.args...)...)
		out, err := cmd.CombinedOutput()
		if err == nil {
			t.Fatalf("%s: samsa server started with a bad value", key)
		}
		if !strings.Contains(string(out), key) {
			t.Errorf("%s: the error does not name the key:\n%s", key, out)
		}
		if _, err := os.Stat(filepath.Join(dir, "data")); !os.IsNotExist(err) {
			t.Errorf("%s: the data directory was created despite the bad config", key)
		}
	}
}

// TestServerProperties starts from a server.properties written the way the Kafka
// tutorials write it (ZooKeeper keys included): Samsa starts, warns about what it
// ignores, and applies what it knows.
func TestServerProperties(t *testing.T) {
	dir := t.TempDir()
	ln := freeAddr(t)
	props := fmt.Sprintf(`# Kafka tutorial style config
broker.id=0
listeners=PLAINTEXT://%s
log.dirs=%s
num.partitions=3
num.network.threads=3
log.retention.hours=168
log.segment.bytes=1073741824
zookeeper.connect=localhost:2181
zookeeper.connection.timeout.ms=18000
no.such.key=1
`, ln, filepath.Join(dir, "kafka-logs"))
	path := filepath.Join(dir, "server.properties")
	if err := os.WriteFile(path, []byte(props), 0o644); err != nil {
		t.Fatal(err)
	}
	p := &proc{t: t, dir: dir, addr: ln, args: []string{"server", "-c", path}}
	p.start()
	t.Cleanup(p.kill)

	cl := p.client(t, kgo.DefaultProduceTopic("tutorial"), kgo.AllowAutoTopicCreation())
	if err := cl.ProduceSync(ctxFor(t, 30*time.Second), &kgo.Record{Value: []byte("hi")}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	td, err := kadm.NewClient(cl).ListTopics(ctxFor(t, 30*time.Second), "tutorial")
	if err != nil {
		t.Fatal(err)
	}
	if n := len(td["tutorial"].Partitions); n != 3 {
		t.Errorf("auto-created topic has %d partitions, want num.partitions=3", n)
	}
	meta, err := kadm.NewClient(cl).BrokerMetadata(ctxFor(t, 30*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	if len(meta.Brokers) != 1 || meta.Brokers[0].NodeID != 0 {
		t.Errorf("brokers %+v, want broker.id 0", meta.Brokers)
	}
	p.stop()
	log := p.logText()
	for _, want := range []string{"zookeeper.connect", "no.such.key", "num.network.threads"} {
		if !strings.Contains(log, want) {
			t.Errorf("no warning names %s:\n%s", want, log)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "kafka-logs", "tutorial-2")); err != nil {
		t.Errorf("data not under log.dirs: %v", err)
	}
}
