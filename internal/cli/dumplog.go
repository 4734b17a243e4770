package cli

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/samsa-io/samsa/internal/commitlog"
	"github.com/samsa-io/samsa/internal/record"
)

const dumpLogSummary = `Decode segment (.log), offset index (.index) and time index (.timeindex) files
(kafka-dump-log.sh). Reads the files directly; stop the broker first for a
consistent view of an active segment.

  samsa dump-log --files data/t-0/00000000000000000000.log --print-data-log`

type dumpLogOptions struct {
	files          string
	printData      bool
	deep           bool
	maxBytes       int
	indexSanity    bool
	verifyOnly     bool
	offsetsDecoder bool
	skipMetadata   bool
	maxMessageSize int
}

// dumper dumps files and collects the problems it finds, which are reported on stderr
// at the end as Kafka's DumpLogSegments does.
type dumper struct {
	opts   dumpLogOptions
	out    *bufio.Writer
	stderr io.Writer

	indexMismatches map[string][][2]int64 // index file → (index offset, log offset)
	nonConsecutive  map[string][][2]int64 // log file → (offset, next offset)
	timeMismatches  map[string][][2]int64 // time index → (index ts, log ts)
	timeOutOfOrder  map[string][][2]int64 // time index → (index ts, previous ts)
	timeNotFound    map[string][][2]int64 // time index → (index offset, log offset)
	fileOrder       []string              // files with problems, in the order found
}

func runDumpLog(_ context.Context, e *env, args []string) error {
	fs := newFlagSet(e, "dump-log", dumpLogSummary)
	var o dumpLogOptions
	fs.StringVar(&o.files, "files", "", "REQUIRED: comma-separated list of .log, .index and .timeindex files")
	fs.BoolVar(&o.printData, "print-data-log", false, "print the records' keys and values (implies --deep-iteration)")
	fs.BoolVar(&o.deep, "deep-iteration", false, "print every record, not only the batches")
	fs.IntVar(&o.maxBytes, "max-bytes", math.MaxInt32, "read at most this many bytes of each .log file")
	fs.BoolVar(&o.indexSanity, "index-sanity-check", false, "only check the indexes' sanity, as the broker does at start-up")
	fs.BoolVar(&o.verifyOnly, "verify-index-only", false, "check the indexes against the log without printing them")
	fs.BoolVar(&o.offsetsDecoder, "offsets-decoder", false, "decode records as __consumer_offsets data (implies --print-data-log)")
	fs.BoolVar(&o.skipMetadata, "skip-record-metadata", false, "do not print each record's metadata")
	fs.IntVar(&o.maxMessageSize, "max-message-size", 5*1024*1024, "accepted for compatibility")
	if err := parseFlags(e, fs, args); err != nil {
		if errors.Is(err, errHelp) {
			return nil
		}
		return err
	}
	if o.files == "" {
		return usageErrorf("--files is required")
	}
	if o.maxBytes <= 0 {
		return usageErrorf("--max-bytes must be positive")
	}
	if o.offsetsDecoder {
		o.printData = true
	}
	if o.printData {
		o.deep = true
	}
	d := &dumper{
		opts:            o,
		out:             bufio.NewWriterSize(e.stdout, 64<<10),
		stderr:          e.stderr,
		indexMismatches: map[string][][2]int64{},
		nonConsecutive:  map[string][][2]int64{},
		timeMismatches:  map[string][][2]int64{},
		timeOutOfOrder:  map[string][][2]int64{},
		timeNotFound:    map[string][][2]int64{},
	}
	err := d.dumpAll(strings.Split(o.files, ","))
	if ferr := d.out.Flush(); err == nil {
		err = ferr
	}
	d.reportProblems()
	return err
}

func (d *dumper) dumpAll(files []string) error {
	for _, f := range files {
		fmt.Fprintf(d.out, "Dumping %s\n", f)
		var err error
		switch filepath.Ext(f) {
		case ".log":
			err = d.dumpLog(f)
		case ".index":
			err = d.dumpIndex(f)
		case ".timeindex":
			err = d.dumpTimeIndex(f)
		default:
			d.out.Flush()
			fmt.Fprintf(d.stderr, "Ignoring unknown file %s\n", f)
		}
		if err != nil {
			return fmt.Errorf("dump-log: %s: %w", f, err)
		}
	}
	return nil
}

func (d *dumper) noteProblem(m map[string][][2]int64, file string, a, b int64) {
	abs, err := filepath.Abs(file)
	if err != nil {
		abs = file
	}
	if !slices.Contains(d.fileOrder, abs) {
		d.fileOrder = append(d.fileOrder, abs)
	}
	m[abs] = append(m[abs], [2]int64{a, b})
}

// reportProblems prints what the dump found wrong, in Kafka's words and order: index
// mismatches, time index problems, then non-consecutive offsets.
func (d *dumper) reportProblems() {
	each := func(m map[string][][2]int64, header func(file string), line string) {
		for _, f := range d.fileOrder {
			l := m[f]
			if len(l) == 0 {
				continue
			}
			header(f)
			for _, p := range l {
				fmt.Fprintf(d.stderr, line, p[0], p[1])
			}
		}
	}
	each(d.indexMismatches, func(f string) { fmt.Fprintf(d.stderr, "Mismatches in :%s\n", f) },
		"  Index offset: %d, log offset: %d\n")
	each(d.timeMismatches, func(f string) { fmt.Fprintf(d.stderr, "Found timestamp mismatch in :%s\n", f) },
		"  Index timestamp: %d, log timestamp: %d\n")
	each(d.timeOutOfOrder, func(f string) { fmt.Fprintf(d.stderr, "Found out of order timestamp in :%s\n", f) },
		"  Index timestamp: %d, Previously indexed timestamp: %d\n")
	each(d.timeNotFound, func(string) { fmt.Fprintln(d.stderr, "The following indexed offsets are not found in the log.") },
		"Indexed offset: %d, found log offset: %d\n")
	each(d.nonConsecutive, func(f string) { fmt.Fprintf(d.stderr, "Non-consecutive offsets in %s\n", f) },
		"  %d is followed by %d\n")
}

// baseOffsetOf reads the base offset a segment file is named after.
func baseOffsetOf(path string) (int64, error) {
	name := filepath.Base(path)
	prefix, _, _ := strings.Cut(name, ".")
	off, err := strconv.ParseInt(prefix, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("file name %s does not start with a base offset", name)
	}
	return off, nil
}

// segmentLogPath is the .log file next to an index file.
func segmentLogPath(indexPath string) string {
	dir := filepath.Dir(indexPath)
	prefix, _, _ := strings.Cut(filepath.Base(indexPath), ".")
	return filepath.Join(dir, prefix+".log")
}

// batchReader reads whole batches from the start of a .log file, up to limit bytes.
type batchReader struct {
	r     *bufio.Reader
	pos   int64 // position of the next batch
	limit int64
}

// next returns the next whole batch, or nil at the end: when fewer bytes than a batch
// remain or the next batch's length is impossible. The length is bounded by the bytes
// left before it is allocated.
func (br *batchReader) next() ([]byte, error) {
	left := br.limit - br.pos
	if left < commitlog.BatchHeaderSize {
		return nil, nil
	}
	head, err := br.r.Peek(12)
	if err != nil {
		return nil, err
	}
	length := int64(int32(binary.BigEndian.Uint32(head[8:])))
	size := length + 12
	if size < commitlog.BatchHeaderSize || size > left {
		return nil, nil
	}
	buf := make([]byte, size)
	if _, err := io.ReadFull(br.r, buf); err != nil {
		return nil, err
	}
	br.pos += size
	return buf, nil
}

func openBatches(path string, limit int64) (*os.File, *batchReader, int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, 0, err
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, nil, 0, err
	}
	return f, &batchReader{r: bufio.NewReaderSize(f, 256<<10), limit: min(st.Size(), limit)}, st.Size(), nil
}

func (d *dumper) dumpLog(path string) error {
	base, err := baseOffsetOf(path)
	if err != nil {
		return err
	}
	fmt.Fprintf(d.out, "Log starting offset: %d\n", base)
	f, br, size, err := openBatches(path, int64(d.opts.maxBytes))
	if err != nil {
		return err
	}
	defer f.Close()
	lastOffset := int64(-1)
	for {
		pos := br.pos
		b, err := br.next()
		if err != nil {
			return err
		}
		if b == nil {
			break
		}
		h, err := commitlog.ParseBatchHeader(b)
		if err != nil {
			// Not a v2 batch: Samsa never writes one; treat the rest as invalid.
			br.pos = pos
			break
		}
		_, crcErr := commitlog.ReadBatch(b)
		d.printBatch(&h, pos, crcErr == nil)
		if d.opts.deep {
			d.printRecords(path, b, &h, &lastOffset)
		}
	}
	if trailing := size - br.pos; trailing > 0 && d.opts.maxBytes == math.MaxInt32 {
		fmt.Fprintf(d.out, "Found %d invalid bytes at the end of %s\n", trailing, filepath.Base(path))
	}
	return nil
}

var codecNames = []string{"none", "gzip", "snappy", "lz4", "zstd"}

func codecName(c int8) string {
	if int(c) < len(codecNames) && c >= 0 {
		return codecNames[c]
	}
	return fmt.Sprintf("unknown(%d)", c)
}

func timestampTypeName(h *commitlog.BatchHeader) string {
	if h.TimestampType() == commitlog.LogAppendTime {
		return "LogAppendTime"
	}
	return "CreateTime"
}

// printBatch prints Kafka's batch line (DumpLogSegments.printBatchLevel).
func (d *dumper) printBatch(h *commitlog.BatchHeader, pos int64, valid bool) {
	deleteHorizon := "OptionalLong.empty"
	if h.Attributes&record.DeleteHorizonBit != 0 {
		deleteHorizon = fmt.Sprintf("OptionalLong[%d]", h.FirstTimestamp)
	}
	fmt.Fprintf(d.out, "baseOffset: %d lastOffset: %d count: %d baseSequence: %d lastSequence: %d producerId: %d producerEpoch: %d partitionLeaderEpoch: %d isTransactional: %t isControl: %t deleteHorizonMs: %s position: %d %s: %d size: %d magic: %d compresscodec: %s crc: %d isvalid: %t\n",
		h.BaseOffset, h.LastOffset(), h.RecordCount, h.BaseSequence, h.LastSequence(), h.ProducerID, h.ProducerEpoch,
		h.PartitionLeaderEpoch, h.IsTransactional(), h.IsControl(), deleteHorizon,
		pos, timestampTypeName(h), h.MaxTimestamp, h.Size(), h.Magic, codecName(h.Compression()), h.CRC, valid)
}

// recordSequence is Kafka's DefaultRecord.sequence: the batch's base sequence plus the
// record's offset delta, wrapping at MaxInt32, or -1 without a producer.
func recordSequence(h *commitlog.BatchHeader, offset int64) int64 {
	if h.BaseSequence < 0 {
		return -1
	}
	seq := int64(h.BaseSequence) + (offset - h.BaseOffset)
	if seq > math.MaxInt32 {
		seq -= math.MaxInt32 + 1
	}
	return seq
}

// controlTypeNames are Kafka's ControlRecordType names by type id.
var controlTypeNames = []string{"ABORT", "COMMIT", "LEADER_CHANGE", "SNAPSHOT_HEADER", "SNAPSHOT_FOOTER", "KRAFT_VERSION", "KRAFT_VOTERS"}

// controlText describes a control record: the end transaction marker as Kafka prints
// it, the other types by name.
func controlText(r *record.Record) string {
	if len(r.Key) < 4 {
		return " controlType: UNKNOWN(-1)"
	}
	typ := int16(binary.BigEndian.Uint16(r.Key[2:]))
	if typ == 0 || typ == 1 {
		// EndTransactionMarker value: version int16, coordinatorEpoch int32.
		if len(r.Value) >= 6 {
			return fmt.Sprintf(" endTxnMarker: %s coordinatorEpoch: %d", controlTypeNames[typ], int32(binary.BigEndian.Uint32(r.Value[2:])))
		}
	}
	if typ >= 0 && int(typ) < len(controlTypeNames) {
		return fmt.Sprintf(" controlType: %s(%d)", controlTypeNames[typ], typ)
	}
	return fmt.Sprintf(" controlType: UNKNOWN(%d)", typ)
}

// printRecords prints a batch's records (DumpLogSegments.dumpLog's deep iteration).
func (d *dumper) printRecords(path string, b []byte, h *commitlog.BatchHeader, lastOffset *int64) {
	batch, err := record.Decode(b)
	if err != nil {
		if errors.Is(err, record.ErrCompressed) {
			fmt.Fprintf(d.out, "| compressed records not shown (compresscodec: %s)\n", codecName(h.Compression()))
		} else {
			fmt.Fprintf(d.out, "| records not shown: %v\n", err)
		}
		return
	}
	tsType := timestampTypeName(h)
	for i := range batch.Records {
		r := &batch.Records[i]
		if *lastOffset != -1 && r.Offset != *lastOffset+1 {
			d.noteProblem(d.nonConsecutive, path, *lastOffset, r.Offset)
		}
		*lastOffset = r.Offset
		ts := r.Timestamp
		if h.TimestampType() == commitlog.LogAppendTime {
			ts = h.MaxTimestamp // Kafka reports the batch's append time for every record
		}
		var line strings.Builder
		prefix := "| "
		if !d.opts.skipMetadata {
			keys := make([]string, len(r.Headers))
			for j, hd := range r.Headers {
				keys[j] = hd.Key
			}
			fmt.Fprintf(&line, "%soffset: %d %s: %d keySize: %d valueSize: %d sequence: %d headerKeys: [%s]",
				prefix, r.Offset, tsType, ts, nullableLen(r.Key), nullableLen(r.Value), recordSequence(h, r.Offset), strings.Join(keys, ","))
			prefix = " "
			if h.IsControl() {
				line.WriteString(controlText(r))
			}
		}
		if d.opts.printData && !h.IsControl() {
			key, payload, hasKey, hasPayload := d.parseRecord(r)
			if hasKey {
				line.WriteString(prefix + "key: " + key)
				prefix = " "
			}
			if hasPayload {
				line.WriteString(" payload: " + payload)
			}
		}
		line.WriteByte('\n')
		d.out.WriteString(line.String())
	}
}

func nullableLen(b []byte) int {
	if b == nil {
		return -1
	}
	return len(b)
}

// javaString is what Kafka's StringDecoder makes of bytes: UTF-8 with malformed
// sequences replaced.
func javaString(b []byte) string {
	if utf8.Valid(b) {
		return string(b)
	}
	return strings.ToValidUTF8(string(b), "\uFFFD")
}

// parseRecord returns the key and payload to print, as Kafka's message parsers do.
func (d *dumper) parseRecord(r *record.Record) (key, payload string, hasKey, hasPayload bool) {
	if !d.opts.offsetsDecoder {
		if r.Key != nil {
			key, hasKey = javaString(r.Key), true
		}
		if r.Value != nil {
			payload, hasPayload = javaString(r.Value), true
		}
		return key, payload, hasKey, hasPayload
	}
	return decodeOffsetsRecord(r)
}

// decodeOffsetsRecord decodes a __consumer_offsets record as Kafka's
// OffsetsMessageParser: key and value as JSON of the coordinator's record schemas.
func decodeOffsetsRecord(r *record.Record) (key, payload string, hasKey, hasPayload bool) {
	if r.Key == nil {
		return fmt.Sprintf("Error at offset %d, skipping. Failed to decode message using offset topic decoder (message had a missing key)", r.Offset), "", true, false
	}
	if len(r.Key) < 2 {
		return fmt.Sprintf("Error at offset %d, skipping. key of %d bytes", r.Offset, len(r.Key)), "", true, false
	}
	version := int16(binary.BigEndian.Uint16(r.Key))
	var keyJSON, valueJSON jsonObject
	var err error
	switch version {
	case 0, 1:
		var k kmsg.OffsetCommitKey
		if err = k.ReadFrom(r.Key); err == nil {
			keyJSON = jsonObject{{"group", k.Group}, {"topic", k.Topic}, {"partition", k.Partition}}
			if r.Value != nil {
				valueJSON, err = offsetCommitValueJSON(r.Value)
			}
		}
	case 2:
		var k kmsg.GroupMetadataKey
		if err = k.ReadFrom(r.Key); err == nil {
			keyJSON = jsonObject{{"group", k.Group}}
			if r.Value != nil {
				valueJSON, err = groupMetadataValueJSON(r.Value)
			}
		}
	default:
		return fmt.Sprintf("Unknown record type %d at offset %d, skipping.", version, r.Offset), "", true, false
	}
	if err != nil {
		return fmt.Sprintf("Error at offset %d, skipping. %v", r.Offset, err), "", true, false
	}
	key = jsonObject{{"type", strconv.Itoa(int(version))}, {"data", keyJSON}}.String()
	if r.Value == nil {
		return key, "<DELETE>", true, true
	}
	valueVersion := int16(binary.BigEndian.Uint16(r.Value))
	return key, jsonObject{{"version", strconv.Itoa(int(valueVersion))}, {"data", valueJSON}}.String(), true, true
}

func offsetCommitValueJSON(b []byte) (jsonObject, error) {
	var v kmsg.OffsetCommitValue
	if err := v.ReadFrom(b); err != nil {
		return nil, fmt.Errorf("offset commit value: %w", err)
	}
	if v.Version < 0 || v.Version > 4 {
		return nil, fmt.Errorf("unknown offset commit value version %d", v.Version)
	}
	o := jsonObject{{"offset", v.Offset}}
	if v.Version >= 3 {
		o = append(o, jsonField{"leaderEpoch", v.LeaderEpoch})
	}
	o = append(o, jsonField{"metadata", v.Metadata}, jsonField{"commitTimestamp", v.CommitTimestamp})
	if v.Version == 1 {
		o = append(o, jsonField{"expireTimestamp", v.ExpireTimestamp})
	}
	return o, nil
}

func groupMetadataValueJSON(b []byte) (jsonObject, error) {
	var v kmsg.GroupMetadataValue
	if err := v.ReadFrom(b); err != nil {
		return nil, fmt.Errorf("group metadata value: %w", err)
	}
	if v.Version < 0 || v.Version > 4 {
		return nil, fmt.Errorf("unknown group metadata value version %d", v.Version)
	}
	o := jsonObject{{"protocolType", v.ProtocolType}, {"generation", v.Generation}, {"protocol", v.Protocol}, {"leader", v.Leader}}
	if v.Version >= 2 {
		o = append(o, jsonField{"currentStateTimestamp", v.CurrentStateTimestamp})
	}
	members := make([]any, 0, len(v.Members))
	for _, m := range v.Members {
		mo := jsonObject{{"memberId", m.MemberID}}
		if v.Version >= 3 {
			mo = append(mo, jsonField{"groupInstanceId", m.InstanceID})
		}
		mo = append(mo, jsonField{"clientId", m.ClientID}, jsonField{"clientHost", m.ClientHost})
		if v.Version >= 1 {
			mo = append(mo, jsonField{"rebalanceTimeout", m.RebalanceTimeoutMillis})
		}
		mo = append(mo, jsonField{"sessionTimeout", m.SessionTimeoutMillis})
		// As Kafka, the consumer protocol's subscription and assignment are shown
		// decoded; anything else, or bytes that do not decode, as base64.
		var sub, asg any = m.Subscription, m.Assignment
		if v.ProtocolType == "consumer" {
			if s, ok := consumerSubscriptionJSON(m.Subscription); ok {
				sub = s
			}
			if a, ok := consumerAssignmentJSON(m.Assignment); ok {
				asg = a
			}
		}
		mo = append(mo, jsonField{"subscription", sub}, jsonField{"assignment", asg})
		members = append(members, mo)
	}
	return append(o, jsonField{"members", members}), nil
}

func consumerSubscriptionJSON(b []byte) (jsonObject, bool) {
	var s kmsg.ConsumerMemberMetadata
	if err := s.ReadFrom(b); err != nil || s.Version < 0 || s.Version > 3 {
		return nil, false
	}
	topics := make([]any, len(s.Topics))
	for i, t := range s.Topics {
		topics[i] = t
	}
	o := jsonObject{{"topics", topics}, {"userData", s.UserData}}
	if s.Version >= 1 {
		owned := make([]any, len(s.OwnedPartitions))
		for i, p := range s.OwnedPartitions {
			owned[i] = jsonObject{{"topic", p.Topic}, {"partitions", int32sAny(p.Partitions)}}
		}
		o = append(o, jsonField{"ownedPartitions", owned})
	}
	if s.Version >= 2 {
		o = append(o, jsonField{"generationId", s.Generation})
	}
	if s.Version >= 3 {
		o = append(o, jsonField{"rackId", s.Rack})
	}
	return o, true
}

func consumerAssignmentJSON(b []byte) (jsonObject, bool) {
	var a kmsg.ConsumerMemberAssignment
	if err := a.ReadFrom(b); err != nil || a.Version < 0 || a.Version > 3 {
		return nil, false
	}
	assigned := make([]any, len(a.Topics))
	for i, t := range a.Topics {
		assigned[i] = jsonObject{{"topic", t.Topic}, {"partitions", int32sAny(t.Partitions)}}
	}
	return jsonObject{{"assignedPartitions", assigned}, {"userData", a.UserData}}, true
}

func int32sAny(s []int32) []any {
	out := make([]any, len(s))
	for i, v := range s {
		out[i] = v
	}
	return out
}

// jsonObject is a JSON object whose fields keep their order, printed compactly as
// Jackson's ObjectNode.toString does (no HTML escaping, bytes as base64).
type jsonObject []jsonField

type jsonField struct {
	name  string
	value any
}

func (o jsonObject) String() string {
	var b bytes.Buffer
	writeJSONValue(&b, o)
	return b.String()
}

func writeJSONValue(b *bytes.Buffer, v any) {
	switch v := v.(type) {
	case jsonObject:
		b.WriteByte('{')
		for i, f := range v {
			if i > 0 {
				b.WriteByte(',')
			}
			writeJSONString(b, f.name)
			b.WriteByte(':')
			writeJSONValue(b, f.value)
		}
		b.WriteByte('}')
	case []any:
		b.WriteByte('[')
		for i, e := range v {
			if i > 0 {
				b.WriteByte(',')
			}
			writeJSONValue(b, e)
		}
		b.WriteByte(']')
	case string:
		writeJSONString(b, v)
	case *string:
		if v == nil {
			b.WriteString("null")
		} else {
			writeJSONString(b, *v)
		}
	case []byte:
		if v == nil {
			b.WriteString("null")
		} else {
			writeJSONString(b, base64.StdEncoding.EncodeToString(v))
		}
	case int16:
		b.WriteString(strconv.Itoa(int(v)))
	case int32:
		b.WriteString(strconv.Itoa(int(v)))
	case int64:
		b.WriteString(strconv.FormatInt(v, 10))
	case bool:
		b.WriteString(strconv.FormatBool(v))
	case nil:
		b.WriteString("null")
	default:
		writeJSONString(b, fmt.Sprint(v))
	}
}

func writeJSONString(b *bytes.Buffer, s string) {
	var tmp bytes.Buffer
	enc := json.NewEncoder(&tmp)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(s) // a string always encodes
	b.Write(bytes.TrimSuffix(tmp.Bytes(), []byte("\n")))
}

// readIndexFile reads an index file whole: index files are small (at most
// segment.index.bytes, 10 MiB by default).
func readIndexFile(path string) ([]byte, error) {
	return os.ReadFile(path)
}

func (d *dumper) dumpIndex(path string) error {
	base, err := baseOffsetOf(path)
	if err != nil {
		return err
	}
	data, err := readIndexFile(path)
	if err != nil {
		return err
	}
	const entrySize = 8
	n := len(data) / entrySize
	if n == 0 {
		fmt.Fprintf(d.out, "%s is empty.\n", path)
		return nil
	}
	if d.opts.indexSanity {
		if len(data)%entrySize != 0 {
			return fmt.Errorf("Index file %s is corrupt, found %d bytes which is neither positive nor a multiple of %d.", path, len(data), entrySize)
		}
		prevOff, prevPos := int64(-1), int64(-1)
		for i := 0; i < n; i++ {
			off := base + int64(binary.BigEndian.Uint32(data[i*entrySize:]))
			pos := int64(binary.BigEndian.Uint32(data[i*entrySize+4:]))
			if off == base && pos == 0 && i > 0 {
				break // a preallocated index's unused tail, as in the dump below
			}
			if off <= prevOff || pos <= prevPos {
				return fmt.Errorf("Corrupt index found, index file (%s) entry %d (offset %d, position %d) does not follow offset %d position %d", path, i, off, pos, prevOff, prevPos)
			}
			prevOff, prevPos = off, pos
		}
		fmt.Fprintf(d.out, "%s passed sanity check.\n", path)
		return nil
	}
	log, err := os.Open(segmentLogPath(path))
	if err != nil {
		log = nil // without its .log the index is printed unchecked
	} else {
		defer log.Close()
	}
	for i := 0; i < n; i++ {
		off := base + int64(binary.BigEndian.Uint32(data[i*entrySize:]))
		pos := int64(binary.BigEndian.Uint32(data[i*entrySize+4:]))
		// As Kafka: a zero entry after the first ends a (preallocated) index.
		if off == base && i > 0 {
			break
		}
		if log != nil {
			hdr := make([]byte, commitlog.BatchHeaderSize)
			logOffset := int64(-1)
			if _, err := log.ReadAt(hdr, pos); err == nil {
				if h, err := commitlog.ParseBatchHeader(hdr); err == nil {
					logOffset = h.LastOffset()
				}
			}
			if logOffset != off {
				d.noteProblem(d.indexMismatches, path, off, logOffset)
			}
		}
		if !d.opts.verifyOnly {
			fmt.Fprintf(d.out, "offset: %d position: %d\n", off, pos)
		}
	}
	return nil
}

// batchSummary is what the time index check needs of a batch.
type batchSummary struct{ lastOffset, maxTimestamp int64 }

// scanBatchSummaries reads the headers of every batch of a .log.
func scanBatchSummaries(path string) ([]batchSummary, error) {
	f, br, _, err := openBatches(path, math.MaxInt64)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []batchSummary
	for {
		b, err := br.next()
		if err != nil {
			return nil, err
		}
		if b == nil {
			return out, nil
		}
		h, err := commitlog.ParseBatchHeader(b)
		if err != nil {
			return out, nil
		}
		out = append(out, batchSummary{h.LastOffset(), h.MaxTimestamp})
	}
}

func (d *dumper) dumpTimeIndex(path string) error {
	base, err := baseOffsetOf(path)
	if err != nil {
		return err
	}
	data, err := readIndexFile(path)
	if err != nil {
		return err
	}
	const entrySize = 12
	n := len(data) / entrySize
	if d.opts.indexSanity {
		if len(data)%entrySize != 0 {
			return fmt.Errorf("Time index file %s is corrupt, found %d bytes which is neither positive nor a multiple of %d.", path, len(data), entrySize)
		}
		prevTs, prevOff := int64(math.MinInt64), int64(-1)
		for i := 0; i < n; i++ {
			ts := int64(binary.BigEndian.Uint64(data[i*entrySize:]))
			off := base + int64(binary.BigEndian.Uint32(data[i*entrySize+8:]))
			if off == base && ts == 0 && i > 0 {
				break
			}
			if ts < prevTs || off < prevOff {
				return fmt.Errorf("Corrupt time index found, time index file (%s) entry %d (timestamp %d, offset %d) goes back from timestamp %d offset %d", path, i, ts, off, prevTs, prevOff)
			}
			prevTs, prevOff = ts, off
		}
		fmt.Fprintf(d.out, "%s passed sanity check.\n", path)
		return nil
	}
	batches, err := scanBatchSummaries(segmentLogPath(path))
	checkLog := err == nil // without its .log the index is printed unchecked
	prevTs := int64(-1)    // Kafka's RecordBatch.NO_TIMESTAMP
	for i := 0; i < n; i++ {
		ts := int64(binary.BigEndian.Uint64(data[i*entrySize:]))
		off := base + int64(binary.BigEndian.Uint32(data[i*entrySize+8:]))
		if off == base && i > 0 {
			break
		}
		if checkLog {
			j := sort.Search(len(batches), func(j int) bool { return batches[j].lastOffset >= off })
			switch {
			case j == len(batches):
				d.noteProblem(d.timeNotFound, path, off, -1)
			case batches[j].lastOffset != off:
				d.noteProblem(d.timeNotFound, path, off, batches[j].lastOffset)
			default:
				if batches[j].maxTimestamp != ts {
					d.noteProblem(d.timeMismatches, path, ts, batches[j].maxTimestamp)
				}
				if prevTs >= ts {
					d.noteProblem(d.timeOutOfOrder, path, ts, prevTs)
				}
			}
		}
		if !d.opts.verifyOnly {
			fmt.Fprintf(d.out, "timestamp: %d offset: %d\n", ts, off)
		}
		prevTs = ts
	}
	return nil
}
