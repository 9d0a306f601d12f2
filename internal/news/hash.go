package news

import (
	"crypto/sha256"
	"encoding/hex"
	"slices"
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

// asciiLower maps each ASCII byte to its lower case.
var asciiLower = func() (t [utf8.RuneSelf]byte) {
	for i := range t {
		t[i] = byte(i)
		if 'A' <= i && i <= 'Z' {
			t[i] = byte(i) + 'a' - 'A'
		}
	}
	return t
}()

// appendNormalized appends s lower-cased with every run of white space turned
// into one space and none at either end.
//
// It is the hottest loop of the worker (it runs over every title and body),
// so ASCII, whose normalised form is never longer than itself, is written by
// index into capacity grown once; at the first other byte it continues rune
// by rune through package unicode, with the same result.
func appendNormalized(dst []byte, s string) []byte {
	dst = slices.Grow(dst, len(s))
	start, n := len(dst), len(dst)
	out := dst[:n+len(s)]
	space := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= utf8.RuneSelf {
			return appendNormalizedRunes(out[:n], s[i:], start, space)
		}
		if asciiSpace[c] {
			space = true
			continue
		}
		if space && n > start {
			out[n] = ' '
			n++
		}
		space = false
		out[n] = asciiLower[c]
		n++
	}
	return out[:n]
}

// appendNormalizedRunes continues appendNormalized from a non-ASCII byte;
// start is where the normalised text began in dst, space whether white space
// is pending.
func appendNormalizedRunes(dst []byte, s string, start int, space bool) []byte {
	for _, r := range s {
		if unicode.IsSpace(r) {
			space = true
			continue
		}
		if space && len(dst) > start {
			dst = append(dst, ' ')
		}
		space = false
		if r < utf8.RuneSelf {
			dst = append(dst, asciiLower[r])
			continue
		}
		dst = utf8.AppendRune(dst, unicode.ToLower(r))
	}
	return dst
}
