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

// Byte classes of appendNormalized's fast path.
const (
	byteKeep  = iota // ASCII copied as is
	byteUpper        // ASCII upper case, lowered
	byteSpace        // ASCII white space (as unicode.IsSpace)
	byteOther        // the start of a multi-byte rune
)

// byteClass classifies every byte value for appendNormalized.
var byteClass = func() (t [256]uint8) {
	for i := range t {
		switch {
		case i >= utf8.RuneSelf:
			t[i] = byteOther
		case i == '\t', i == '\n', i == '\v', i == '\f', i == '\r', i == ' ':
			t[i] = byteSpace
		case 'A' <= i && i <= 'Z':
			t[i] = byteUpper
		}
	}
	return t
}()

// appendNormalized appends s lower-cased with every run of white space turned
// into one space and none at either end.
//
// It is the hottest loop of the worker (it runs over every title and body),
// so ASCII, whose normalised form is never longer than itself, is written by
// index into capacity grown once, one table lookup per byte; at the first
// other byte it continues rune by rune through package unicode, with the
// same result.
func appendNormalized(dst []byte, s string) []byte {
	dst = slices.Grow(dst, len(s))
	start, n := len(dst), len(dst)
	out := dst[:n+len(s)]
	space := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch byteClass[c] {
		case byteKeep:
		case byteUpper:
			c += 'a' - 'A'
		case byteSpace:
			space = true
			continue
		default:
			return appendNormalizedRunes(out[:n], s[i:], start, space)
		}
		if space {
			space = false
			if n > start {
				out[n] = ' '
				n++
			}
		}
		out[n] = c
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
			if byteClass[r] == byteUpper {
				r += 'a' - 'A'
			}
			dst = append(dst, byte(r))
			continue
		}
		dst = utf8.AppendRune(dst, unicode.ToLower(r))
	}
	return dst
}
