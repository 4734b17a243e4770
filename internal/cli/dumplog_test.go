package cli

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/samsa-io/samsa/internal/brokertest"
	"github.com/samsa-io/samsa/internal/record"
)

// encodeBatch encodes b and fails the test on error.
func encodeBatch(t *testing.T, b *record.Batch) []byte {
	t.Helper()
	raw, err := b.Encode()
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

// batchLine is the line dump-log prints for an uncompressed batch without producer.
func batchLine(raw []byte, base, last int64, count int, leaderEpoch int32, pos int, maxTs int64) string {
	crc := binary.BigEndian.Uint32(raw[17:])
	return fmt.Sprintf("baseOffset: %d lastOffset: %d count: %d baseSequence: -1 lastSequence: -1 producerId: -1 producerEpoch: -1 partitionLeaderEpoch: %d isTransactional: false isControl: false deleteHorizonMs: OptionalLong.empty position: %d CreateTime: %d size: %d magic: 2 compresscodec: none crc: %d isvalid: true",
		base, last, count, leaderEpoch, pos, maxTs, len(raw), crc)
}

// TestDumpLogBrokerFiles dumps the files a broker (on a cluster, the partition's leader)
// wrote for two produced batches of keyed records; the broker's indexes must pass
// dump-log's checks (nothing on stderr).
func TestDumpLogBrokerFiles(t *testing.T) {
	tb := startBroker(t, nil)
	ctx := brokertest.Ctx(t)
	tb.CreateTopic("dump", 1, map[string]*string{"index.interval.bytes": kmsg.StringPtr("1")})
	ts := time.Now().UnixMilli()
	b1 := record.NewBatch(0,
		record.Record{Timestamp: ts, Key: []byte("k0"), Value: []byte("v0"), Headers: []record.Header{{Key: "h1", Value: []byte("x")}, {Key: "h2"}}},
		record.Record{Timestamp: ts + 1, Key: []byte("k1"), Value: []byte("value-1")},
		record.Record{Timestamp: ts + 2, Key: []byte("k2"), Value: nil},
	)
	b2 := record.NewBatch(0, record.Record{Timestamp: ts + 5, Value: []byte("solo")})
	raw1, raw2 := encodeBatch(t, b1), encodeBatch(t, b2)
	// On a cluster the files to read are the leader's, the node the batches are sent to.
	leader := topicLayout(t, tb, "dump", len(nodeIDs(tb)))[0].Leader
	node := tb.Nodes()[leader-1]
	cl := tb.Client()
	if _, err := kmsg.NewPtrMetadataRequest().RequestWith(ctx, cl); err != nil { // so cl knows every node's id
		t.Fatal(err)
	}
	for _, raw := range [][]byte{raw1, raw2} {
		req := kmsg.NewPtrProduceRequest()
		req.Acks = -1
		req.TimeoutMillis = 10000
		rt := kmsg.NewProduceRequestTopic()
		rt.Topic = "dump"
		rp := kmsg.NewProduceRequestTopicPartition()
		rp.Records = raw
		rt.Partitions = append(rt.Partitions, rp)
		req.Topics = append(req.Topics, rt)
		kresp, err := cl.Broker(int(leader)).Request(ctx, req)
		if err != nil {
			t.Fatal(err)
		}
		resp := kresp.(*kmsg.ProduceResponse)
		if err := kerr.ErrorForCode(resp.Topics[0].Partitions[0].ErrorCode); err != nil {
			t.Fatal(err)
		}
	}
	node.Stop() // for a clean read: the final time index entry is written at close
	dir := filepath.Join(node.Dir, "dump-0")
	logFile := filepath.Join(dir, "00000000000000000000.log")
	idxFile := filepath.Join(dir, "00000000000000000000.index")
	timeFile := filepath.Join(dir, "00000000000000000000.timeindex")

	data, err := os.ReadFile(logFile)
	if err != nil {
		t.Fatal(err)
	}
	// The broker sets the base offset and the leader epoch; both lie outside the CRC.
	epoch := int32(binary.BigEndian.Uint32(data[12:]))
	want := strings.Join([]string{
		"Dumping " + logFile,
		"Log starting offset: 0",
		batchLine(raw1, 0, 2, 3, epoch, 0, ts+2),
		fmt.Sprintf("| offset: 0 CreateTime: %d keySize: 2 valueSize: 2 sequence: -1 headerKeys: [h1,h2] key: k0 payload: v0", ts),
		fmt.Sprintf("| offset: 1 CreateTime: %d keySize: 2 valueSize: 7 sequence: -1 headerKeys: [] key: k1 payload: value-1", ts+1),
		fmt.Sprintf("| offset: 2 CreateTime: %d keySize: 2 valueSize: -1 sequence: -1 headerKeys: [] key: k2", ts+2),
		batchLine(raw2, 3, 3, 1, epoch, len(raw1), ts+5),
		fmt.Sprintf("| offset: 3 CreateTime: %d keySize: -1 valueSize: 4 sequence: -1 headerKeys: [] payload: solo", ts+5),
		"Dumping " + idxFile,
		fmt.Sprintf("offset: 3 position: %d", len(raw1)), // index.interval.bytes=1: an entry for the second batch
		"Dumping " + timeFile,
		fmt.Sprintf("timestamp: %d offset: 3", ts+5),
		"",
	}, "\n")
	out, stderr, err := admRun(ctx, "dump-log", "--files", logFile+","+idxFile+","+timeFile, "--print-data-log")
	if err != nil {
		t.Fatal(err)
	}
	if out != want {
		t.Errorf("dump-log printed\n%s\nwant\n%s", out, want)
	}
	if stderr != "" {
		t.Errorf("stderr: %q", stderr)
	}

	// Without --print-data-log / --deep-iteration only the batches are listed;
	// --deep-iteration adds records without keys and values.
	out, _, err = admRun(ctx, "dump-log", "--files", logFile)
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Count(out, "\n"); got != 4 || strings.Contains(out, "| offset") {
		t.Errorf("shallow dump:\n%s", out)
	}
	out, _, err = admRun(ctx, "dump-log", "--files", logFile, "--deep-iteration")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, "\n| offset: 0 CreateTime: ") || strings.Contains(out, "payload") {
		t.Errorf("deep dump:\n%s", out)
	}
	// --max-bytes cuts the dump at the first batch.
	out, _, err = admRun(ctx, "dump-log", "--files", logFile, "--max-bytes", fmt.Sprint(len(raw1)+10))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Count(out, "baseOffset:") != 1 || strings.Contains(out, "invalid bytes") {
		t.Errorf("--max-bytes dump:\n%s", out)
	}
}

// TestDumpLogIndexes dumps hand-written index files, with and without their log.
func TestDumpLogIndexes(t *testing.T) {
	dir := t.TempDir()
	write := func(name string, data []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	be := binary.BigEndian
	var idx []byte
	for _, e := range [][2]uint32{{10, 4096}, {20, 8192}, {0, 0}} { // a zero entry ends it
		idx = be.AppendUint32(idx, e[0])
		idx = be.AppendUint32(idx, e[1])
	}
	index := write("00000000000000000100.index", idx)
	var tidx []byte
	tidx = be.AppendUint64(tidx, 5000)
	tidx = be.AppendUint32(tidx, 10)
	timeIndex := write("00000000000000000100.timeindex", tidx)
	corrupt := write("00000000000000000000.index", make([]byte, 7+8))
	backwards := write("00000000000000000200.index", append(be.AppendUint32(be.AppendUint32(nil, 5), 100), be.AppendUint32(be.AppendUint32(nil, 4), 200)...))

	tests := []struct {
		name    string
		args    []string
		want    string
		wantErr string
	}{
		{"index", []string{"--files", index}, "Dumping " + index + "\noffset: 110 position: 4096\noffset: 120 position: 8192\n", ""},
		{"verify only", []string{"--files", index, "--verify-index-only"}, "Dumping " + index + "\n", ""},
		{"time index", []string{"--files", timeIndex}, "Dumping " + timeIndex + "\ntimestamp: 5000 offset: 110\n", ""},
		{"sanity", []string{"--files", index + "," + timeIndex, "--index-sanity-check"},
			"Dumping " + index + "\n" + index + " passed sanity check.\nDumping " + timeIndex + "\n" + timeIndex + " passed sanity check.\n", ""},
		{"sanity size", []string{"--files", corrupt, "--index-sanity-check"}, "Dumping " + corrupt + "\n", "found 15 bytes which is neither positive nor a multiple of 8"},
		{"sanity order", []string{"--files", backwards, "--index-sanity-check"}, "Dumping " + backwards + "\n", "Corrupt index found"},
		{"unknown file", []string{"--files", filepath.Join(dir, "x.txt")}, "Dumping " + filepath.Join(dir, "x.txt") + "\n", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, _, err := admRun(t.Context(), append([]string{"dump-log"}, tt.args...)...)
			if tt.wantErr == "" && err != nil {
				t.Fatal(err)
			}
			if tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)) {
				t.Fatalf("error %v, want one containing %q", err, tt.wantErr)
			}
			if out != tt.want {
				t.Errorf("printed\n%q\nwant\n%q", out, tt.want)
			}
		})
	}
}

// TestDumpLogChecks covers what dump-log reports about a damaged or unusual log: a bad
// CRC, a codec it cannot decode, trailing garbage, non-consecutive offsets and an index
// that does not match.
func TestDumpLogChecks(t *testing.T) {
	dir := t.TempDir()
	b1 := encodeBatch(t, record.NewBatch(0, record.Record{Timestamp: 7, Value: []byte("a")}))
	b2 := encodeBatch(t, record.NewBatch(5, record.Record{Timestamp: 8, Value: []byte("b")})) // offsets 1-4 missing
	bad := append([]byte(nil), b2...)
	bad[len(bad)-1] ^= 0xff // flips a value byte: the CRC no longer matches
	binary.BigEndian.PutUint64(bad, 6)
	codec := encodeBatch(t, record.NewBatch(7, record.Record{Timestamp: 9, Value: []byte("c")}))
	binary.BigEndian.PutUint16(codec[21:], 5) // an unknown compression codec, CRC fixed below
	binary.BigEndian.PutUint32(codec[17:], crc32.Checksum(codec[21:], crc32.MakeTable(crc32.Castagnoli)))
	var log []byte
	for _, b := range [][]byte{b1, b2, bad, codec} {
		log = append(log, b...)
	}
	log = append(log, 1, 2, 3) // a torn tail
	logFile := filepath.Join(dir, "00000000000000000000.log")
	if err := os.WriteFile(logFile, log, 0o644); err != nil {
		t.Fatal(err)
	}
	var idx []byte
	idx = binary.BigEndian.AppendUint32(idx, 4) // points at the batch of offset 5
	idx = binary.BigEndian.AppendUint32(idx, uint32(len(b1)))
	idxFile := filepath.Join(dir, "00000000000000000000.index")
	if err := os.WriteFile(idxFile, idx, 0o644); err != nil {
		t.Fatal(err)
	}

	out, stderr, err := admRun(t.Context(), "dump-log", "--files", logFile+","+idxFile, "--deep-iteration")
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(out, "\n")
	checks := []struct {
		line int
		want string
	}{
		{2, "baseOffset: 0 lastOffset: 0 "},
		{3, "| offset: 0 CreateTime: 7 keySize: -1 valueSize: 1 sequence: -1 headerKeys: []"},
		{4, "baseOffset: 5 lastOffset: 5 "},
		{6, "baseOffset: 6 lastOffset: 6 "},
		{7, "| records not shown: "},
		{8, "baseOffset: 7 lastOffset: 7 "},
		{9, "| compressed records not shown (compresscodec: unknown(5))"},
		{10, "Found 3 invalid bytes at the end of 00000000000000000000.log"},
		{11, "Dumping " + idxFile},
		{12, "offset: 4 position: " + fmt.Sprint(len(b1))},
	}
	for _, c := range checks {
		if c.line >= len(lines) || !strings.HasPrefix(lines[c.line], c.want) {
			t.Errorf("line %d: want prefix %q; output:\n%s", c.line, c.want, out)
		}
	}
	if !strings.HasSuffix(lines[6], " isvalid: false") || !strings.HasSuffix(lines[4], " isvalid: true") {
		t.Errorf("isvalid flags wrong:\n%s", out)
	}
	abs, _ := filepath.Abs(idxFile)
	absLog, _ := filepath.Abs(logFile)
	wantErr := "Mismatches in :" + abs + "\n  Index offset: 4, log offset: 5\n" +
		"Non-consecutive offsets in " + absLog + "\n  0 is followed by 5\n"
	if stderr != wantErr {
		t.Errorf("stderr\n%q\nwant\n%q", stderr, wantErr)
	}
}

// TestDumpLogOffsetsDecoder decodes __consumer_offsets records: an offset commit, a
// group's metadata with a consumer-protocol member, and a tombstone.
func TestDumpLogOffsetsDecoder(t *testing.T) {
	commitKey := kmsg.NewOffsetCommitKey()
	commitKey.Version = 1
	commitKey.Group, commitKey.Topic, commitKey.Partition = "g", "t", 2
	commitValue := kmsg.NewOffsetCommitValue()
	commitValue.Version = 3
	commitValue.Offset, commitValue.LeaderEpoch, commitValue.Metadata, commitValue.CommitTimestamp = 42, 1, "m", 1700000000000

	groupKey := kmsg.NewGroupMetadataKey()
	groupKey.Version = 2
	groupKey.Group = "g"
	sub := kmsg.NewConsumerMemberMetadata()
	sub.Version = 1
	sub.Topics = []string{"t"}
	owned := kmsg.NewConsumerMemberMetadataOwnedPartition()
	owned.Topic, owned.Partitions = "t", []int32{0, 2}
	sub.OwnedPartitions = append(sub.OwnedPartitions, owned)
	asg := kmsg.NewConsumerMemberAssignment()
	asg.Version = 0
	at := kmsg.NewConsumerMemberAssignmentTopic()
	at.Topic, at.Partitions = "t", []int32{0, 1, 2}
	asg.Topics = append(asg.Topics, at)
	groupValue := kmsg.NewGroupMetadataValue()
	groupValue.Version = 3
	groupValue.ProtocolType, groupValue.Generation = "consumer", 4
	groupValue.Protocol, groupValue.Leader = kmsg.StringPtr("range"), kmsg.StringPtr("m1")
	groupValue.CurrentStateTimestamp = 1700000000001
	member := kmsg.NewGroupMetadataValueMember()
	member.MemberID, member.ClientID, member.ClientHost = "m1", "c<1>", "/127.0.0.1"
	member.RebalanceTimeoutMillis, member.SessionTimeoutMillis = 300000, 45000
	member.Subscription, member.Assignment = sub.AppendTo(nil), asg.AppendTo(nil)
	groupValue.Members = append(groupValue.Members, member)

	raw := encodeBatch(t, record.NewBatch(0,
		record.Record{Timestamp: 1, Key: commitKey.AppendTo(nil), Value: commitValue.AppendTo(nil)},
		record.Record{Timestamp: 2, Key: groupKey.AppendTo(nil), Value: groupValue.AppendTo(nil)},
		record.Record{Timestamp: 3, Key: commitKey.AppendTo(nil)},
		record.Record{Timestamp: 4, Key: []byte{0, 9, 1}, Value: []byte("x")},
	))
	logFile := filepath.Join(t.TempDir(), "00000000000000000000.log")
	if err := os.WriteFile(logFile, raw, 0o644); err != nil {
		t.Fatal(err)
	}
	out, _, err := admRun(t.Context(), "dump-log", "--files", logFile, "--offsets-decoder", "--skip-record-metadata")
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(out, "\n")
	want := []string{
		`| key: {"type":"1","data":{"group":"g","topic":"t","partition":2}} payload: {"version":"3","data":{"offset":42,"leaderEpoch":1,"metadata":"m","commitTimestamp":1700000000000}}`,
		`| key: {"type":"2","data":{"group":"g"}} payload: {"version":"3","data":{"protocolType":"consumer","generation":4,"protocol":"range","leader":"m1","currentStateTimestamp":1700000000001,"members":[{"memberId":"m1","groupInstanceId":null,"clientId":"c<1>","clientHost":"/127.0.0.1","rebalanceTimeout":300000,"sessionTimeout":45000,"subscription":{"topics":["t"],"userData":null,"ownedPartitions":[{"topic":"t","partitions":[0,2]}]},"assignment":{"assignedPartitions":[{"topic":"t","partitions":[0,1,2]}],"userData":null}}]}}`,
		`| key: {"type":"1","data":{"group":"g","topic":"t","partition":2}} payload: <DELETE>`,
		`| key: Unknown record type 9 at offset 3, skipping.`,
	}
	if len(lines) < 3+len(want) {
		t.Fatalf("output:\n%s", out)
	}
	for i, w := range want {
		if got := lines[3+i]; got != w {
			t.Errorf("record %d:\n got %s\nwant %s", i, got, w)
		}
	}
}

func TestParseAddConfig(t *testing.T) {
	tests := []struct {
		in      string
		want    map[string]string
		wantErr bool
	}{
		{"a=1", map[string]string{"a": "1"}, false},
		{"a=1,b=2", map[string]string{"a": "1", "b": "2"}, false},
		{"cleanup.policy=[compact,delete],retention.ms=5", map[string]string{"cleanup.policy": "compact,delete", "retention.ms": "5"}, false},
		{" a = x ,b=", map[string]string{"a": "x", "b": ""}, false},
		{"k=[a=b,c]", map[string]string{"k": "a=b,c"}, false},
		{"a=1,", map[string]string{"a": "1"}, false},
		{"a", nil, true},
		{"a=b=c", nil, true},
	}
	for _, tt := range tests {
		got, err := parseAddConfig(tt.in)
		if (err != nil) != tt.wantErr {
			t.Errorf("parseAddConfig(%q) error %v, wantErr %v", tt.in, err, tt.wantErr)
			continue
		}
		if fmt.Sprint(got) != fmt.Sprint(tt.want) && !tt.wantErr {
			t.Errorf("parseAddConfig(%q) = %v, want %v", tt.in, got, tt.want)
		}
	}
}

func TestTopicFilter(t *testing.T) {
	tests := []struct {
		regex           string
		topic           string
		excludeInternal bool
		want            bool
	}{
		{"", "anything", false, true},
		{"walk", "walk", false, true},
		{"walk", "walker", false, false}, // whole-name match, as Java's String.matches
		{"wa.*", "walker", false, true},
		{"a,b", "b", false, true}, // ',' separates alternatives
		{`"quoted"`, "quoted", false, true},
		{"test\\.topic", "test_topic", false, false},
		{"test.topic", "test_topic", false, true},
		{".*", "__consumer_offsets", false, true},
		{".*", "__consumer_offsets", true, false},
	}
	for _, tt := range tests {
		f, err := newTopicFilter(tt.regex)
		if err != nil {
			t.Fatal(err)
		}
		if got := f.allowed(tt.topic, tt.excludeInternal); got != tt.want {
			t.Errorf("filter %q allowed(%q, %v) = %v, want %v", tt.regex, tt.topic, tt.excludeInternal, got, tt.want)
		}
	}
}

func TestParseReplicaAssignment(t *testing.T) {
	got, err := parseReplicaAssignment("1:2, 2:3,3:1")
	if err != nil || fmt.Sprint(got) != "[[1 2] [2 3] [3 1]]" {
		t.Errorf("got %v, %v", got, err)
	}
	for in, wantErr := range map[string]string{
		"1:1":     "may not contain duplicate entries: 1",
		"1:2,3":   "Partition 1 has different replication factor: [3]",
		"1:x":     `"x" is not a broker id`,
		"1:2,3:4": "",
	} {
		_, err := parseReplicaAssignment(in)
		if wantErr == "" && err != nil || wantErr != "" && (err == nil || !strings.Contains(err.Error(), wantErr)) {
			t.Errorf("parseReplicaAssignment(%q) error %v, want %q", in, err, wantErr)
		}
	}
}

func TestParseOffsetJSON(t *testing.T) {
	tests := []struct {
		in      string
		want    string
		wantErr string
	}{
		{`{"partitions":[{"topic":"t","partition":1,"offset":3},{"topic":"a","partition":0,"offset":-1}],"version":1}`, "[{a 0 -1} {t 1 3}]", ""},
		{`{"partitions":[{"topic":"t","partition":1,"offset":3}]}`, "[{t 1 3}]", ""},
		{`{"partitions":[]}`, "[]", ""},
		{`{"version":1}`, "", "Missing partitions field"},
		{`{"partitions":[],"version":2}`, "", "Not supported version field value 2"},
		{`not json`, "", "The input string is not a valid JSON"},
		{`{"partitions":[{"topic":"t","partition":1,"offset":3},{"topic":"t","partition":1,"offset":4}]}`, "", "duplicate topic partitions: t-1"},
		{`{"partitions":[{"topic":"t","offset":3}]}`, "", "needs topic, partition and offset"},
	}
	for _, tt := range tests {
		got, err := parseOffsetJSON([]byte(tt.in))
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("parseOffsetJSON(%s) error %v, want %q", tt.in, err, tt.wantErr)
			}
			continue
		}
		if err != nil {
			t.Errorf("parseOffsetJSON(%s): %v", tt.in, err)
			continue
		}
		if s := fmt.Sprint(got); s != tt.want && !(len(got) == 0 && tt.want == "[]") {
			t.Errorf("parseOffsetJSON(%s) = %s, want %s", tt.in, s, tt.want)
		}
	}
}

func TestParseOffsetTime(t *testing.T) {
	for in, want := range map[string]int64{"latest": -1, "-1": -1, "earliest": -2, "-2": -2, "max-timestamp": -3, "-3": -3, "1700000000000": 1700000000000, "earliest-local": -4, "-5": -5} {
		if got, err := parseOffsetTime(in); err != nil || got != want {
			t.Errorf("parseOffsetTime(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "now", "-6", "1.5"} {
		if _, err := parseOffsetTime(in); err == nil {
			t.Errorf("parseOffsetTime(%q) accepted", in)
		}
	}
}

// FuzzDumpLog feeds arbitrary bytes to dump-log as a segment and as its indexes, with
// every decoder on: it must never panic, whatever the files hold.
func FuzzDumpLog(f *testing.F) {
	valid, err := record.NewBatch(0, record.Record{Timestamp: 1, Key: []byte{0, 1, 0, 1, 'g', 0, 1, 't', 0, 0, 0, 0}, Value: []byte{0, 3}}).Encode()
	if err != nil {
		f.Fatal(err)
	}
	f.Add(valid)
	f.Add(append(append([]byte(nil), valid...), valid[:20]...))
	f.Add([]byte{})
	f.Add(make([]byte, 61))
	f.Fuzz(func(t *testing.T, data []byte) {
		dir := t.TempDir()
		var files []string
		for _, ext := range []string{".log", ".index", ".timeindex"} {
			p := filepath.Join(dir, "00000000000000000000"+ext)
			if err := os.WriteFile(p, data, 0o644); err != nil {
				t.Fatal(err)
			}
			files = append(files, p)
		}
		list := strings.Join(files, ",")
		for _, extra := range [][]string{{"--offsets-decoder"}, {"--print-data-log"}, {"--index-sanity-check"}} {
			_, _, _ = admRun(t.Context(), append([]string{"dump-log", "--files", list}, extra...)...)
		}
	})
}
