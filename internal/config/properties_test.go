package config

import (
	"reflect"
	"strings"
	"testing"
)

func TestParseProperties(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want map[string]string
	}{
		{"empty", "", map[string]string{}},
		{"equals", "a=b", map[string]string{"a": "b"}},
		{"colon", "a:b", map[string]string{"a": "b"}},
		{"space separator", "a b", map[string]string{"a": "b"}},
		{"tab separator", "a\tb", map[string]string{"a": "b"}},
		{"spaces around equals", "  a  =  b  ", map[string]string{"a": "b"}},
		{"space then colon", "a   :b", map[string]string{"a": "b"}},
		{"only first separator", "a==b", map[string]string{"a": "=b"}},
		{"colon in value", "listeners=PLAINTEXT://:9092", map[string]string{"listeners": "PLAINTEXT://:9092"}},
		{"key without value", "a", map[string]string{"a": ""}},
		{"key with separator only", "a=", map[string]string{"a": ""}},
		{"empty key", "=b", map[string]string{"": "b"}},
		{"hash comment", "# a=b\nc=d", map[string]string{"c": "d"}},
		{"bang comment", "! a=b\nc=d", map[string]string{"c": "d"}},
		{"indented comment", "   # a=b", map[string]string{}},
		{"hash inside value", "a=b#c", map[string]string{"a": "b#c"}},
		{"comment does not continue", "# x \\\na=b", map[string]string{"a": "b"}},
		{"blank lines", "\n\n  \na=b\n\n", map[string]string{"a": "b"}},
		{"crlf", "a=b\r\nc=d\r\n", map[string]string{"a": "b", "c": "d"}},
		{"cr only", "a=b\rc=d", map[string]string{"a": "b", "c": "d"}},
		{"continuation", "a=b,\\\n    c", map[string]string{"a": "b,c"}},
		{"continuation crlf", "a=b\\\r\n  c\r\nd=e", map[string]string{"a": "bc", "d": "e"}},
		{"continuation of a comment-looking line", "a=\\\n  #b", map[string]string{"a": "#b"}},
		{"double continuation", "a=1\\\n 2\\\n 3", map[string]string{"a": "123"}},
		{"escaped backslash is no continuation", "a=b\\\\\nc=d", map[string]string{"a": `b\`, "c": "d"}},
		{"trailing backslash at eof", "a=b\\", map[string]string{"a": "b"}},
		{"escapes", `a=\t\n\r\f\x\\`, map[string]string{"a": "\t\n\r\fx\\"}},
		{"unicode escape", `a=\u0041\u00e9`, map[string]string{"a": "Aé"}},
		{"surrogate pair", `a=\uD83D\uDE00`, map[string]string{"a": "😀"}},
		{"escaped separator in key", `a\=b=c`, map[string]string{"a=b": "c"}},
		{"escaped colon in key", `a\:b c`, map[string]string{"a:b": "c"}},
		{"escaped space in key", `a\ b=c`, map[string]string{"a b": "c"}},
		{"trailing spaces trimmed", "a=b   \t", map[string]string{"a": "b"}},
		{"escaped trailing space kept", `a=b\ `, map[string]string{"a": "b "}},
		{"leading escaped space kept", `a=\  b`, map[string]string{"a": "  b"}},
		{"duplicate key last wins", "a=1\na=2", map[string]string{"a": "2"}},
		{"utf8 passes through", "a=héllo", map[string]string{"a": "héllo"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseProperties(tt.in)
			if err != nil {
				t.Fatalf("ParseProperties(%q): %v", tt.in, err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("ParseProperties(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestParsePropertiesErrors(t *testing.T) {
	tests := []struct {
		in, want string
	}{
		{"a=1\nb=\\u12", "line 2"},
		{"a=\\uZZZZ", `malformed \uxxxx`},
		{"\\u00=b", "line 1"},
	}
	for _, tt := range tests {
		_, err := ParseProperties(tt.in)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("ParseProperties(%q) error = %v, want one containing %q", tt.in, err, tt.want)
		}
	}
}

// A Kafka server.properties as shipped for KRaft mode.
const kafkaSample = `############################# Server Basics #############################
# The role of this server. Setting this puts us in KRaft mode
process.roles=broker,controller

# The node id associated with this instance's roles
node.id=1

controller.quorum.voters=1@localhost:9093

listeners=PLAINTEXT://:9092,CONTROLLER://:9093
inter.broker.listener.name=PLAINTEXT
advertised.listeners=PLAINTEXT://localhost:9092
controller.listener.names=CONTROLLER
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT,SSL:SSL,SASL_PLAINTEXT:SASL_PLAINTEXT,SASL_SSL:SASL_SSL

num.network.threads=3
num.io.threads=8
socket.send.buffer.bytes=102400
socket.receive.buffer.bytes=102400
socket.request.max.bytes=104857600

log.dirs=/tmp/kraft-combined-logs
num.partitions=1
num.recovery.threads.per.data.dir=1

offsets.topic.replication.factor=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1

#log.flush.interval.messages=10000
#log.flush.interval.ms=1000

log.retention.hours=168
#log.retention.bytes=1073741824
log.segment.bytes=1073741824
log.retention.check.interval.ms=300000
`

func FuzzParseProperties(f *testing.F) {
	for _, s := range []string{
		"", "a=b", "a b\\\n c", "# c\n!c\na:b", `\u0041=\uD83D\uDE00`, `a=\u12`, "a\\", "\\\r\n\\", kafkaSample,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		props, err := ParseProperties(in)
		if err != nil {
			return
		}
		// Re-parsing a plain key=value rendering gives the value back, less the
		// whitespace the parser trims around values.
		for k, v := range props {
			if strings.ContainsAny(k, "=: \t\f\\\r\n#!") || strings.ContainsAny(v, "\\\r\n") || k == "" {
				continue
			}
			again, err := ParseProperties(k + "=" + v)
			if err != nil {
				t.Fatalf("re-parse of %q=%q: %v", k, v, err)
			}
			if again[k] != strings.Trim(v, " \t\f") {
				t.Fatalf("re-parse of %q=%q gave %q", k, v, again[k])
			}
		}
	})
}
