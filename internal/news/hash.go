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
// over the normalised title and body (case folded, runs of white space and
// punctuation-free spacing collapsed). Two reposts of one story under different
// ids, sources or URLs share it.
func (m *Message) ContentHash() Hash {
	h := sha256.New()
	buf := make([]byte, 0, len(m.Title)+len(m.Body)+1)
	buf = appendNormalized(buf, m.Title)
	buf = append(buf, '\n')
	buf = appendNormalized(buf, m.Body)
	h.Write(buf)
	var out Hash
	h.Sum(out[:0])
	return out
}

// NormalizedText returns the text ContentHash hashes: title and body, case
// folded, white space collapsed, separated by a newline.
func (m *Message) NormalizedText() string {
	buf := appendNormalized(nil, m.Title)
	buf = append(buf, '\n')
	return string(appendNormalized(buf, m.Body))
}

// appendNormalized appends s lower-cased with every run of white space turned
// into one space and none at either end.
func appendNormalized(dst []byte, s string) []byte {
	space := false
	start := len(dst)
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
			if 'A' <= r && r <= 'Z' {
				r += 'a' - 'A'
			}
			dst = append(dst, byte(r))
			continue
		}
		dst = utf8.AppendRune(dst, unicode.ToLower(r))
	}
	return dst
}
