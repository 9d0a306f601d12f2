package news

import (
	"crypto/sha256"
	"encoding/hex"
	"unicode"
	"unicode/utf8"
)

// Hash is a SHA-256 digest: a story's content hash or a cache key.
type Hash [sha256.Size]byte

// String returns the hash in lower-case hex.
func (h Hash) String() string { return hex.EncodeToString(h[:]) }

// ContentHash identifies a story independently of who carried it: SHA-256
// over the normalised title and body (case folded, runs of white space
// collapsed to one space). Two reposts of one story under different ids,
// sources or URLs share it.
func (m *Message) ContentHash() Hash {
	var arr [2048]byte // most stories fit: no allocation
	buf := appendNormalized(arr[:0], m.Title)
	buf = append(buf, '\n')
	buf = appendNormalized(buf, m.Body)
	return Hash(sha256.Sum256(buf))
}

// NormalizedText returns the text ContentHash hashes: title and body, case
// folded, white space collapsed, separated by a newline.
func (m *Message) NormalizedText() string {
	buf := appendNormalized(nil, m.Title)
	buf = append(buf, '\n')
	return string(appendNormalized(buf, m.Body))
}

// asciiSpace marks the ASCII characters unicode.IsSpace reports.
var asciiSpace = [utf8.RuneSelf]bool{'\t': true, '\n': true, '\v': true, '\f': true, '\r': true, ' ': true}

// appendNormalized appends s lower-cased with every run of white space turned
// into one space and none at either end. ASCII takes a fast path; other
// runes go through package unicode, with the same result.
func appendNormalized(dst []byte, s string) []byte {
	space := false
	start := len(dst)
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			i++
			if asciiSpace[c] {
				space = true
				continue
			}
			if space && len(dst) > start {
				dst = append(dst, ' ')
			}
			space = false
			if 'A' <= c && c <= 'Z' {
				c += 'a' - 'A'
			}
			dst = append(dst, c)
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		i += size
		if unicode.IsSpace(r) {
			space = true
			continue
		}
		if space && len(dst) > start {
			dst = append(dst, ' ')
		}
		space = false
		dst = utf8.AppendRune(dst, unicode.ToLower(r))
	}
	return dst
}
