package cli

import (
	"encoding/base64"
	"errors"
	"flag"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/twmb/franz-go/pkg/kerr"
)

// This file holds what the admin tools (topics, configs, get-offsets, delete-records,
// broker-api-versions) share: Kafka's topic filters, its internal topic names, the
// --zookeeper refusal, and turning Kafka error codes into the messages Kafka's tools
// print.

// internalTopics are the names Kafka's Topic.isInternal knows: the tools hide them when
// asked to exclude internal topics, whatever the broker's metadata says.
var internalTopics = map[string]bool{
	"__consumer_offsets":  true,
	"__transaction_state": true,
	"__share_group_state": true,
}

func isInternalTopic(name string) bool { return internalTopics[name] }

// topicFilter is Kafka's TopicFilter.IncludeList: a Java regular expression, matched
// against the whole topic name, in which ',' separates alternatives and quotes and
// spaces are dropped (properties files and shells bring them along).
type topicFilter struct {
	regex string
	re    *regexp.Regexp
}

// newTopicFilter compiles raw as Kafka does. An empty raw matches every topic.
func newTopicFilter(raw string) (*topicFilter, error) {
	if raw == "" {
		raw = ".*"
	}
	r := strings.TrimSpace(raw)
	r = strings.ReplaceAll(r, ",", "|")
	r = strings.ReplaceAll(r, " ", "")
	r = strings.TrimLeft(r, `"'`)
	r = strings.TrimRight(r, `"'`)
	re, err := regexp.Compile(`^(?:` + r + `)$`)
	if err != nil {
		return nil, usageErrorf("%s is an invalid regex.", r)
	}
	return &topicFilter{regex: r, re: re}, nil
}

// allowed reports whether topic matches and is not an internal topic being excluded.
func (f *topicFilter) allowed(topic string, excludeInternal bool) bool {
	if excludeInternal && isInternalTopic(topic) {
		return false
	}
	return f.re.MatchString(topic)
}

// filterTopics returns the names in all that f allows, sorted.
func (f *topicFilter) filter(all []string, excludeInternal bool) []string {
	var out []string
	for _, t := range all {
		if f.allowed(t, excludeInternal) {
			out = append(out, t)
		}
	}
	sort.Strings(out)
	return out
}

// givenFlags returns the names of the flags set on the command line.
func givenFlags(fs *flag.FlagSet) map[string]bool {
	set := make(map[string]bool)
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	return set
}

// registerZookeeper adds --zookeeper, which Kafka's older tools took, so that using it
// gets a clear answer instead of "flag provided but not defined".
func registerZookeeper(fs *flag.FlagSet) *string {
	return fs.String("zookeeper", "", "not supported: Samsa has a built-in metadata quorum; use --bootstrap-server")
}

// errZookeeper answers --zookeeper.
var errZookeeper = usageErrorf("--zookeeper is not supported: Samsa has a built-in metadata quorum (KRaft) instead of ZooKeeper; use --bootstrap-server host:port to reach the cluster")

// parseAdminFlags parses args for an admin tool and refuses --zookeeper. It returns
// errHelp (which the caller turns into a nil error) after printing help.
func parseAdminFlags(e *env, fs *flag.FlagSet, args []string, zk *string) error {
	if err := parseFlags(e, fs, args); err != nil {
		return err
	}
	if *zk != "" {
		return errZookeeper
	}
	return nil
}

// kafkaError is a Kafka error code from a response with the message Kafka's tools print
// for it: the broker's error message when it sent one, else the code's description.
type kafkaError struct {
	err *kerr.Error
	msg string
}

func (e *kafkaError) Error() string { return e.msg }
func (e *kafkaError) Unwrap() error { return e.err }

// responseError returns nil for code 0, else a *kafkaError; msg is the response's
// error message, if any.
func responseError(code int16, msg *string) error {
	err := kerr.ErrorForCode(code)
	if err == nil {
		return nil
	}
	return errorWithMessage(err, msg)
}

// errorWithMessage wraps err (usually a *kerr.Error) with the response's message.
func errorWithMessage(err error, msg *string) error {
	var ke *kerr.Error
	if !errors.As(err, &ke) {
		return err
	}
	text := ke.Description
	if msg != nil && strings.TrimSpace(*msg) != "" {
		text = *msg
	}
	return &kafkaError{err: ke, msg: text}
}

// describeErr returns the text Kafka prints for an error: a Kafka error code's
// description (or the broker's message), anything else as is.
func describeErr(err error) string {
	var kfe *kafkaError
	if errors.As(err, &kfe) {
		return kfe.msg
	}
	var ke *kerr.Error
	if errors.As(err, &ke) && errors.Is(err, ke) && err.Error() == ke.Error() {
		return ke.Description
	}
	return err.Error()
}

// kafkaUUID prints a 16-byte id as Kafka's Uuid.toString: URL-safe base64 without
// padding.
func kafkaUUID(id [16]byte) string { return base64.RawURLEncoding.EncodeToString(id[:]) }

// joinInt32s prints ids as Kafka's tools join them: "1,2,3".
func joinInt32s(ids []int32) string {
	s := make([]string, len(ids))
	for i, id := range ids {
		s[i] = strconv.Itoa(int(id))
	}
	return strings.Join(s, ",")
}

// topicPartitionString is Kafka's TopicPartition.toString: "topic-partition".
func topicPartitionString(topic string, partition int32) string {
	return topic + "-" + strconv.Itoa(int(partition))
}
