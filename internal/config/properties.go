package config

import (
	"fmt"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// ParseProperties parses the text of a Java .properties file as
// java.util.Properties.load does: '#' or '!' comment lines, key and value separated by
// '=', ':' or whitespace, a backslash before the line end continuing the logical line
// (leading whitespace of the continuation is dropped), and Java's escapes (\t \n \r \f
// \uXXXX, backslash before any other character yields that character). Unlike Java,
// unescaped trailing whitespace of a value is trimmed, as Kafka trims every value it
// parses, and the input is read as UTF-8 rather than ISO-8859-1. A later duplicate key
// replaces an earlier one.
func ParseProperties(data string) (map[string]string, error) {
	props := make(map[string]string)
	lr := lineReader{data: data, line: 1}
	for {
		line, lineNo, ok := lr.next()
		if !ok {
			return props, nil
		}
		rawKey, rawValue := splitKeyValue(line)
		key, err := unescape(rawKey, false)
		if err != nil {
			return nil, fmt.Errorf("config: properties line %d: %w", lineNo, err)
		}
		value, err := unescape(rawValue, true)
		if err != nil {
			return nil, fmt.Errorf("config: properties line %d: key %q: %w", lineNo, key, err)
		}
		props[key] = value
	}
}

func isPropSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\f' }

// lineReader splits the input into logical lines, still escaped, dropping comments,
// blank lines and continuation backslashes.
type lineReader struct {
	data string
	pos  int
	line int // natural line number at pos, for error messages
}

// next returns the next logical line and the natural line number it starts on.
func (r *lineReader) next() (string, int, bool) {
	for r.pos < len(r.data) {
		// Skip leading whitespace and blank lines.
		c := r.data[r.pos]
		if isPropSpace(c) {
			r.pos++
			continue
		}
		if c == '\n' || c == '\r' {
			r.skipNewline()
			continue
		}
		start := r.line
		if c == '#' || c == '!' {
			// A comment runs to the end of its natural line; a trailing backslash does
			// not continue it.
			for r.pos < len(r.data) && r.data[r.pos] != '\n' && r.data[r.pos] != '\r' {
				r.pos++
			}
			continue
		}
		var b strings.Builder
		for {
			// Read one natural line's content.
			end := r.pos
			for end < len(r.data) && r.data[end] != '\n' && r.data[end] != '\r' {
				end++
			}
			seg := r.data[r.pos:end]
			r.pos = end
			backslashes := 0
			for i := len(seg) - 1; i >= 0 && seg[i] == '\\'; i-- {
				backslashes++
			}
			if backslashes%2 == 0 {
				b.WriteString(seg)
				if r.pos < len(r.data) {
					r.skipNewline()
				}
				return b.String(), start, true
			}
			// Odd number of trailing backslashes: the last one escapes the line end.
			b.WriteString(seg[:len(seg)-1])
			if r.pos >= len(r.data) {
				// Java drops a continuation backslash at the end of the input.
				return b.String(), start, true
			}
			r.skipNewline()
			for r.pos < len(r.data) && isPropSpace(r.data[r.pos]) {
				r.pos++
			}
		}
	}
	return "", 0, false
}

// skipNewline consumes one line terminator: \n, \r or \r\n.
func (r *lineReader) skipNewline() {
	if r.data[r.pos] == '\r' && r.pos+1 < len(r.data) && r.data[r.pos+1] == '\n' {
		r.pos++
	}
	r.pos++
	r.line++
}

// splitKeyValue splits an escaped logical line at the first unescaped '=', ':' or
// whitespace; whitespace around the separator (and at most one '=' or ':' after
// whitespace) is skipped, as in Java.
func splitKeyValue(line string) (key, value string) {
	keyLen := 0
	valueStart := len(line)
	hasSep := false
	escaped := false
	for keyLen < len(line) {
		c := line[keyLen]
		if !escaped && (c == '=' || c == ':') {
			valueStart = keyLen + 1
			hasSep = true
			break
		}
		if !escaped && isPropSpace(c) {
			valueStart = keyLen + 1
			break
		}
		if c == '\\' {
			escaped = !escaped
		} else {
			escaped = false
		}
		keyLen++
	}
	for valueStart < len(line) {
		c := line[valueStart]
		if !isPropSpace(c) {
			if !hasSep && (c == '=' || c == ':') {
				hasSep = true
			} else {
				break
			}
		}
		valueStart++
	}
	return line[:keyLen], line[valueStart:]
}

// unescape applies Java's properties escapes. With trimTrailing, whitespace at the end
// that did not come from an escape is removed.
func unescape(s string, trimTrailing bool) (string, error) {
	if !strings.Contains(s, `\`) {
		if trimTrailing {
			s = strings.TrimRight(s, " \t\f")
		}
		return s, nil
	}
	var b strings.Builder
	b.Grow(len(s))
	keep := 0 // length of b up to the last byte that must survive trimming
	for i := 0; i < len(s); {
		c := s[i]
		if c != '\\' {
			b.WriteByte(c)
			i++
			if !isPropSpace(c) {
				keep = b.Len()
			}
			continue
		}
		i++
		if i >= len(s) {
			break // a lone trailing backslash is dropped, as Java's reader does at EOF
		}
		c = s[i]
		i++
		switch c {
		case 't':
			b.WriteByte('\t')
		case 'n':
			b.WriteByte('\n')
		case 'r':
			b.WriteByte('\r')
		case 'f':
			b.WriteByte('\f')
		case 'u':
			r, n, err := decodeU(s[i:])
			if err != nil {
				return "", err
			}
			i += n
			b.WriteRune(r)
		default:
			b.WriteByte(c)
		}
		keep = b.Len()
	}
	out := b.String()
	if trimTrailing {
		out = out[:keep]
	}
	return out, nil
}

// decodeU decodes the four hex digits after \u, combining a UTF-16 surrogate pair
// written as two escapes. It returns the rune and the bytes consumed.
func decodeU(s string) (rune, int, error) {
	hi, ok := hex4(s)
	if !ok {
		return 0, 0, fmt.Errorf(`malformed \uxxxx encoding`)
	}
	r := rune(hi)
	if utf16.IsSurrogate(r) && len(s) >= 10 && s[4] == '\\' && s[5] == 'u' {
		if lo, ok := hex4(s[6:]); ok {
			if pair := utf16.DecodeRune(r, rune(lo)); pair != utf8.RuneError {
				return pair, 10, nil
			}
		}
	}
	return r, 4, nil // a lone surrogate becomes U+FFFD when written
}

func hex4(s string) (uint16, bool) {
	if len(s) < 4 {
		return 0, false
	}
	var v uint16
	for i := 0; i < 4; i++ {
		c := s[i]
		var d byte
		switch {
		case c >= '0' && c <= '9':
			d = c - '0'
		case c >= 'a' && c <= 'f':
			d = c - 'a' + 10
		case c >= 'A' && c <= 'F':
			d = c - 'A' + 10
		default:
			return 0, false
		}
		v = v<<4 | uint16(d)
	}
	return v, true
}
