// Command bench measures Samsa side by side with the other Kafka-protocol brokers that
// build here — franz-go's kfake with a data directory — and with this machine's limits
// (loopback TCP, sequential disk write, fsync), in one run, and prints one table.
//
//	cd bench && go run .            # the full run
//	cd bench && go run . -quick     # a smoke run with small sizes
//
// Every broker runs as its own process on a fresh data directory and is driven by the
// same franz-go load generator from this process. Broker CPU time and peak memory come
// from /proc.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"
)

type options struct {
	quick       bool
	produceOnly bool
	reps        int
	brokers     []string
	records1K   int
	records100  int
	latencyRate int
	latencyTime time.Duration
	scale       []int
	scaleRecs   int
	idleConns   int
	recoveryGB  float64
}

func main() {
	var o options
	var brokers string
	flag.BoolVar(&o.quick, "quick", false, "small sizes: a smoke run of every measurement")
	flag.BoolVar(&o.produceOnly, "produce-only", false, "measure only the produce rows (and their CPU per GB)")
	flag.IntVar(&o.reps, "reps", 3, "runs of each produce measurement per broker (the median is reported)")
	flag.StringVar(&brokers, "brokers", "samsa,kfake", "brokers to measure")
	flag.Float64Var(&o.recoveryGB, "recovery-gb", 10, "log size for the recovery-after-kill measurement, in GB")
	flag.Parse()
	o.brokers = strings.Split(brokers, ",")
	o.records1K, o.records100, o.latencyRate, o.latencyTime = 300_000, 1_000_000, 2000, 10*time.Second
	o.scale, o.scaleRecs, o.idleConns = []int{1000, 10000}, 100_000, 1000
	if o.quick {
		o.records1K, o.records100, o.latencyRate, o.latencyTime = 20_000, 50_000, 500, 2*time.Second
		o.scale, o.scaleRecs, o.idleConns, o.recoveryGB = []int{1000}, 10_000, 100, 0.1
		o.reps = 1
	}
	if err := run(o); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

func run(o options) error {
	work, err := os.MkdirTemp("", "samsa-bench")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)
	bins, err := build(work)
	if err != nil {
		return err
	}

	fmt.Fprintln(os.Stderr, "measuring machine limits")
	lim := map[string]float64{}
	if lim["loopback MB/s"], err = loopbackGBps(4 << 30); err != nil {
		return err
	}
	lim["loopback MB/s"] *= 1000
	if lim["disk write MB/s"], err = diskWriteMBps(work, 2<<30); err != nil {
		return err
	}
	p50, err := fsyncP50(work, 200)
	if err != nil {
		return err
	}
	lim["4KiB fsync p50 ms"] = float64(p50.Microseconds()) / 1000

	var brokers []*broker
	for _, name := range o.brokers {
		b := &broker{name: name, dir: filepath.Join(work, name, "data")}
		switch name {
		case "samsa":
			b.bin = bins["samsa"]
			b.args = []string{"server", "--override", "log.dirs={dir}", "--override", "listeners=PLAINTEXT://127.0.0.1:{port}", "--log-level", "warn"}
		case "kfake":
			b.bin = bins["kfake"]
			b.args = []string{"-data-dir", "{dir}", "-port", "{port}"}
		default:
			return fmt.Errorf("unknown broker %q", name)
		}
		os.MkdirAll(filepath.Dir(b.dir), 0o755)
		if err := b.start(); err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		defer b.stop()
		brokers = append(brokers, b)
	}

	fmt.Fprintln(os.Stderr, "measuring produce")
	results, rows, consumeTopics, err := measureProduce(o, brokers)
	if err != nil {
		return err
	}
	if !o.produceOnly {
		for _, b := range brokers {
			fmt.Fprintln(os.Stderr, "measuring", b.name)
			res, order, err := measure(o, b, consumeTopics[b.name])
			b.stop()
			if err != nil {
				return fmt.Errorf("%s: %w", b.name, err)
			}
			for k, v := range res {
				results[b.name][k] = v
			}
			for _, r := range order {
				if !slices.Contains(rows, r) {
					rows = append(rows, r)
				}
			}
			os.RemoveAll(filepath.Join(work, b.name))
		}
	}
	printTable(o, rows, results, lim)
	return nil
}

// build compiles samsa and the kfake runner into dir.
func build(dir string) (map[string]string, error) {
	bins := map[string]string{"samsa": filepath.Join(dir, "bin", "samsa"), "kfake": filepath.Join(dir, "bin", "kfakebroker")}
	for _, c := range [][]string{
		{"go", "build", "-C", "..", "-o", bins["samsa"], "./cmd/samsa"},
		{"go", "build", "-o", bins["kfake"], "./kfakebroker"},
	} {
		cmd := exec.Command(c[0], c[1:]...)
		cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
		if err := cmd.Run(); err != nil {
			return nil, fmt.Errorf("%s: %w", strings.Join(c, " "), err)
		}
	}
	return bins, nil
}

// measure runs every workload against one broker. It returns the figures by row name
// and the row order.
// produceRow is one produce measurement: record size, partitions, acks.
type produceRow struct {
	size    int
	parts   int32
	acksAll bool
}

func (r produceRow) label() string {
	acks := "1"
	if r.acksAll {
		acks = "all"
	}
	return fmt.Sprintf("produce %dB x%d acks=%s", r.size, r.parts, acks)
}

// consumeSource is the topic a broker's consume measurements read, and its length.
type consumeSource struct {
	topic string
	n     int
}

// measureProduce runs every produce row o.reps times on every broker, the brokers
// taking turns (in a different order each repetition) so that a change in the machine's
// state over the run (page cache, writeback, a noisy neighbour) falls on all of them
// alike, and reports each row's median. CPU per GB is over all the runs.
func measureProduce(o options, brokers []*broker) (map[string]map[string]float64, []string, map[string]consumeSource, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
	defer cancel()
	results := map[string]map[string]float64{}
	cpu, bytes := map[string]float64{}, map[string]float64{}
	consumeTopics := map[string]consumeSource{}
	for _, b := range brokers {
		results[b.name] = map[string]float64{}
	}
	var rows []string
	for _, size := range []int{1024, 100} {
		n := o.records1K
		if size == 100 {
			n = o.records100
		}
		for _, parts := range []int32{1, 16} {
			for _, acksAll := range []bool{false, true} {
				row := produceRow{size, parts, acksAll}
				recs, mbs := map[string][]float64{}, map[string][]float64{}
				for rep := range o.reps {
					for i := range brokers {
						b := brokers[(i+rep)%len(brokers)]
						topic := fmt.Sprintf("p-%d-%d-%v-%d", size, parts, acksAll, rep)
						if err := createTopic(ctx, b.addr, topic, parts); err != nil {
							return nil, nil, nil, fmt.Errorf("%s: %w", b.name, err)
						}
						// Start every run from the same memory state: no dirty pages left
						// by the previous run (their writeback would compete with this
						// one) and the page cache dropped, so each run's writes get pages
						// of the same kind. On a virtual machine a write into memory
						// never used before can cost far more than into memory freed by
						// an earlier run's deleted files. Needs root; else only syncs.
						dropCaches()
						t, err := produce(ctx, b, topic, n, size, acksAll)
						if err != nil {
							return nil, nil, nil, fmt.Errorf("%s: produce %s: %w", b.name, topic, err)
						}
						recs[b.name] = append(recs[b.name], t.recordsPerSec())
						mbs[b.name] = append(mbs[b.name], t.mbPerSec())
						cpu[b.name] += t.cpu
						bytes[b.name] += float64(t.bytes)
						if size == 1024 && parts == 16 && !acksAll && rep == o.reps-1 {
							consumeTopics[b.name] = consumeSource{topic, n}
						} else if err := deleteTopic(ctx, b.addr, topic); err != nil {
							// Only the consume topic stays: the rest would be log that the
							// later measurements (recovery after kill -9) also go through.
							return nil, nil, nil, fmt.Errorf("%s: delete %s: %w", b.name, topic, err)
						}
					}
				}
				for _, b := range brokers {
					results[b.name][row.label()+" rec/s"] = median(recs[b.name])
					results[b.name][row.label()+" MB/s"] = median(mbs[b.name])
				}
				rows = append(rows, row.label()+" rec/s", row.label()+" MB/s")
			}
		}
	}
	for _, b := range brokers {
		results[b.name]["CPU s per GB produced"] = cpu[b.name] / (bytes[b.name] / 1e9)
	}
	rows = append(rows, "CPU s per GB produced")
	return results, rows, consumeTopics, nil
}

func median(v []float64) float64 {
	v = slices.Clone(v)
	slices.Sort(v)
	return v[len(v)/2]
}

// measure takes every measurement but produce from one running broker, reading the
// topic src for the consume rows.
func measure(o options, b *broker, src consumeSource) (map[string]float64, []string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
	defer cancel()
	res := map[string]float64{}
	var order []string
	set := func(k string, v float64) {
		if _, ok := res[k]; !ok {
			order = append(order, k)
		}
		res[k] = v
	}
	consumeTopic, consumeN := src.topic, src.n

	// Warm: the produce runs after this topic's dropped the page cache, so one pass
	// first brings it back in; the second pass is measured.
	if _, err := consume(ctx, b, consumeTopic, consumeN); err != nil {
		return nil, nil, err
	}
	warm, err := consume(ctx, b, consumeTopic, consumeN)
	if err != nil {
		return nil, nil, err
	}
	set("consume warm MB/s", warm.mbPerSec())
	set("CPU s per GB consumed", warm.cpuPerGB())
	set("peak RSS MB (after produce+consume)", float64(b.status("VmHWM"))/1e6)

	if err := createTopic(ctx, b.addr, "latency", 1); err != nil {
		return nil, nil, err
	}
	lat, err := e2eLatency(ctx, b, "latency", o.latencyRate, o.latencyTime)
	if err != nil {
		return nil, nil, err
	}
	set(fmt.Sprintf("e2e latency p50 ms (%d rec/s, acks=all)", o.latencyRate), ms(lat.p50))
	set("e2e latency p99 ms", ms(lat.p99))
	set("e2e latency p99.9 ms", ms(lat.p999))

	perConn, err := idleConnections(b, o.idleConns)
	if err != nil {
		return nil, nil, err
	}
	set(fmt.Sprintf("memory per idle connection KB (%d conns)", o.idleConns), float64(perConn)/1e3)

	for _, p := range o.scale {
		s, err := scalePartitions(ctx, b, p, o.scaleRecs)
		if err != nil {
			set(fmt.Sprintf("%d partitions: failed", p), 0)
			fmt.Fprintf(os.Stderr, "%s: %d partitions: %v\n", b.name, p, err)
			continue
		}
		set(fmt.Sprintf("%d partitions: create s", p), s.createTime.Seconds())
		set(fmt.Sprintf("%d partitions: produce 1KiB MB/s", p), s.produce.mbPerSec())
		set(fmt.Sprintf("%d partitions: RSS MB", p), float64(s.rss)/1e6)
		set(fmt.Sprintf("%d partitions: open files", p), float64(s.openFiles))
	}

	// A cold read: restart and drop the page cache first (needs root).
	b.stop()
	cold := dropCaches()
	if err := b.start(); err != nil {
		return nil, nil, err
	}
	ct, err := consume(ctx, b, consumeTopic, consumeN)
	if err != nil {
		return nil, nil, err
	}
	label := "consume cold MB/s"
	if !cold {
		label = "consume after restart MB/s (page cache not dropped: not root)"
	}
	set(label, ct.mbPerSec())

	rt, err := recoveryTime(ctx, b, int64(o.recoveryGB*1e9))
	if err != nil {
		return nil, nil, err
	}
	set(fmt.Sprintf("restart after kill -9 with %.1f GB s", o.recoveryGB), rt.Seconds())
	return res, order, nil
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// limitFor names the machine limit a row is compared with.
func limitFor(row string) string {
	switch {
	case strings.HasPrefix(row, "produce") && strings.HasSuffix(row, "MB/s"):
		return "disk write MB/s"
	case strings.HasPrefix(row, "consume"):
		return "loopback MB/s"
	}
	return ""
}

func printTable(o options, rows []string, results map[string]map[string]float64, lim map[string]float64) {
	w := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	var nofile syscall.Rlimit
	syscall.Getrlimit(syscall.RLIMIT_NOFILE, &nofile)
	fmt.Fprintf(w, "machine\tloopback %.0f MB/s\tdisk write %.0f MB/s\t4KiB fsync p50 %.3f ms\topen-file limit %d\t\n", lim["loopback MB/s"], lim["disk write MB/s"], lim["4KiB fsync p50 ms"], nofile.Max)
	fmt.Fprintln(w, "\t\t\t\t")
	header := "metric\t"
	for _, b := range o.brokers {
		header += b + "\t"
	}
	if len(o.brokers) > 1 {
		header += o.brokers[0] + "/" + o.brokers[1] + "\t"
	}
	header += o.brokers[0] + "/limit\t"
	fmt.Fprintln(w, header)
	for _, row := range rows {
		line := row + "\t"
		for _, b := range o.brokers {
			line += fmt.Sprintf("%.2f\t", results[b][row])
		}
		first := results[o.brokers[0]][row]
		if len(o.brokers) > 1 {
			if other := results[o.brokers[1]][row]; other != 0 {
				line += fmt.Sprintf("%.2fx\t", first/other)
			} else {
				line += "-\t"
			}
		}
		if l := limitFor(row); l != "" && lim[l] > 0 {
			line += fmt.Sprintf("%.0f%%\t", 100*first/lim[l])
		} else {
			line += "\t"
		}
		fmt.Fprintln(w, line)
	}
	w.Flush()
}
