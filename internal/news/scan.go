package news

import (
	"bytes"
	"strings"
	"unicode/utf16"
)

// scanFlat reads b the way fastjson would if b is a JSON object whose values
// are all strings or null and whose keys have no escapes: the shape
// publishers send. It then sets raw[f] to the contents of field f's last
// value, still escaped, or to nil for null, and returns true. For anything
// else (other values, escaped keys, malformed JSON) it returns false, and
// DecodeLimit falls back to fastjson, so scanFlat must accept only what
// fastjson accepts, with the same values (TestDecodeMatchesReference,
// FuzzDecode).
func scanFlat(b []byte, raw *[numFields][]byte) bool {
	i := skipWS(b, 0)
	if i == len(b) || b[i] != '{' {
		return false
	}
	i = skipWS(b, i+1)
	if i < len(b) && b[i] == '}' {
		return skipWS(b, i+1) == len(b)
	}
	for {
		if i == len(b) || b[i] != '"' {
			return false
		}
		i++
		k := i
		for i < len(b) && b[i] != '"' {
			if b[i] == '\\' {
				return false
			}
			i++
		}
		if i == len(b) {
			return false
		}
		key := b[k:i]
		i = skipWS(b, i+1)
		if i == len(b) || b[i] != ':' {
			return false
		}
		i = skipWS(b, i+1)
		var v []byte
		switch {
		case i < len(b) && b[i] == '"':
			end := stringEnd(b, i+1)
			if end < 0 {
				return false
			}
			v, i = b[i+1:end], end+1
		case bytes.HasPrefix(b[i:], []byte("null")):
			i += len("null")
		default:
			return false
		}
		if f := fieldOf(key); f >= 0 {
			raw[f] = v
		}
		i = skipWS(b, i)
		if i == len(b) {
			return false
		}
		switch b[i] {
		case ',':
			i = skipWS(b, i+1)
		case '}':
			return skipWS(b, i+1) == len(b)
		default:
			return false
		}
	}
}

// skipWS returns the index of the first byte of b from i on that is not
// JSON white space, or len(b).
func skipWS(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\n' || b[i] == '\t' || b[i] == '\r') {
		i++
	}
	return i
}

// stringEnd returns the index of the quote that ends the JSON string whose
// contents start at b[start], or -1 if it does not end. A quote ends it
// unless an odd number of backslashes precede it.
func stringEnd(b []byte, start int) int {
	for i := start; ; {
		n := bytes.IndexByte(b[i:], '"')
		if n < 0 {
			return -1
		}
		q := i + n
		j := q
		for j > start && b[j-1] == '\\' {
			j--
		}
		if (q-j)%2 == 0 {
			return q
		}
		i = q + 1
	}
}

// writeUnescaped writes the JSON string contents s to sb unescaped, the way
// fastjson does (unescapeStringBestEffort): a malformed escape is kept as it
// is, and so is a \u escape of a surrogate that is not followed by a \u
// escape; two \u escapes starting with a surrogate decode as a UTF-16 pair,
// or as U+FFFD if they are not one.
func writeUnescaped(sb *strings.Builder, s []byte) {
	n := bytes.IndexByte(s, '\\')
	if n < 0 {
		sb.Write(s)
		return
	}
	sb.Write(s[:n])
	s = s[n+1:]
	for len(s) > 0 {
		c := s[0]
		s = s[1:]
		switch c {
		case '"', '\\', '/':
			sb.WriteByte(c)
		case 'b':
			sb.WriteByte('\b')
		case 'f':
			sb.WriteByte('\f')
		case 'n':
			sb.WriteByte('\n')
		case 'r':
			sb.WriteByte('\r')
		case 't':
			sb.WriteByte('\t')
		case 'u':
			x, ok := hex4(s)
			if !ok {
				sb.WriteString(`\u`)
				break
			}
			xs := s[:4]
			s = s[4:]
			if !utf16.IsSurrogate(x) {
				sb.WriteRune(x)
				break
			}
			if len(s) < 6 || s[0] != '\\' || s[1] != 'u' {
				sb.WriteString(`\u`)
				sb.Write(xs)
				break
			}
			x1, ok := hex4(s[2:])
			if !ok {
				sb.WriteString(`\u`)
				sb.Write(xs)
				break
			}
			sb.WriteRune(utf16.DecodeRune(x, x1))
			s = s[6:]
		default:
			sb.WriteByte('\\')
			sb.WriteByte(c)
		}
		n = bytes.IndexByte(s, '\\')
		if n < 0 {
			sb.Write(s)
			return
		}
		sb.Write(s[:n])
		s = s[n+1:]
	}
}

// hex4 decodes the four hex digits that start s.
func hex4(s []byte) (rune, bool) {
	if len(s) < 4 {
		return 0, false
	}
	var x rune
	for _, c := range s[:4] {
		switch {
		case '0' <= c && c <= '9':
			c -= '0'
		case 'a' <= c && c <= 'f':
			c -= 'a' - 10
		case 'A' <= c && c <= 'F':
			c -= 'A' - 10
		default:
			return 0, false
		}
		x = x<<4 | rune(c)
	}
	return x, true
}
