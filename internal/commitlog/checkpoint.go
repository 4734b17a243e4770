package commitlog

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/samsa-io/samsa/internal/atomicfile"
)

// maxCheckpointEntries bounds what a checkpoint file may claim before we allocate.
const maxCheckpointEntries = 1 << 24

// parseCheckpoint parses Kafka's checkpoint text format: a line with the version (0),
// a line with the number of entries, then one entry per line whose fields are
// separated by single spaces. It returns the fields of each entry, each of want fields.
func parseCheckpoint(data []byte, want int) ([][]string, error) {
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 4096), 1<<20)
	line := func() (string, bool) {
		if !sc.Scan() {
			return "", false
		}
		return sc.Text(), true
	}
	v, ok := line()
	if !ok || v != "0" {
		return nil, fmt.Errorf("commitlog: checkpoint version %q, want 0", v)
	}
	c, ok := line()
	n, err := strconv.Atoi(c)
	if !ok || err != nil || n < 0 || n > maxCheckpointEntries {
		return nil, fmt.Errorf("commitlog: checkpoint entry count %q", c)
	}
	out := make([][]string, 0, min(n, 1024))
	for i := 0; i < n; i++ {
		l, ok := line()
		if !ok {
			return nil, fmt.Errorf("commitlog: checkpoint has %d of %d entries", i, n)
		}
		fs := strings.Split(l, " ")
		if len(fs) != want {
			return nil, fmt.Errorf("commitlog: checkpoint entry %q has %d fields, want %d", l, len(fs), want)
		}
		out = append(out, fs)
	}
	if l, ok := line(); ok && strings.TrimSpace(l) != "" {
		return nil, fmt.Errorf("commitlog: checkpoint has more than %d entries", n)
	}
	return out, sc.Err()
}

// formatCheckpoint renders entries (already joined by spaces) in the checkpoint format.
func formatCheckpoint(lines []string) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "0\n%d\n", len(lines))
	for _, l := range lines {
		b.WriteString(l)
		b.WriteByte('\n')
	}
	return b.Bytes()
}

// readOffsetCheckpoint reads a dir-level "topic partition offset" checkpoint. A
// missing file is an empty map.
func readOffsetCheckpoint(path string) (map[TopicPartition]int64, error) {
	data, err := os.ReadFile(path)
	if os.IsNotExist(err) {
		return map[TopicPartition]int64{}, nil
	}
	if err != nil {
		return nil, err
	}
	entries, err := parseCheckpoint(data, 3)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	m := make(map[TopicPartition]int64, len(entries))
	for _, e := range entries {
		p, err1 := strconv.ParseInt(e[1], 10, 32)
		off, err2 := strconv.ParseInt(e[2], 10, 64)
		if err1 != nil || err2 != nil || e[0] == "" {
			return nil, fmt.Errorf("commitlog: %s: bad entry %q", path, strings.Join(e, " "))
		}
		m[TopicPartition{Topic: e[0], Partition: int32(p)}] = off
	}
	return m, nil
}

func writeOffsetCheckpoint(path string, m map[TopicPartition]int64) error {
	lines := make([]string, 0, len(m))
	for tp, off := range m {
		lines = append(lines, fmt.Sprintf("%s %d %d", tp.Topic, tp.Partition, off))
	}
	return atomicfile.WriteFile(path, formatCheckpoint(lines))
}
