package news

import (
	"encoding/binary"
	"encoding/hex"
	"slices"
	"unicode"
	"unicode/utf8"

	"golang.org/x/crypto/blake2b"
)

// Hash is a 32-byte digest: a story's content hash (BLAKE2b-256) or a cache
// key.
type Hash [blake2b.Size256]byte

// String returns the hash in lower-case hex.
func (h Hash) String() string { return hex.EncodeToString(h[:]) }

// ContentHash identifies a story independently of who carried it: BLAKE2b-256
// over the normalised title and body (case folded, runs of white space
// collapsed to one space). Two reposts of one story under different ids,
// sources or URLs share it.
//
// BLAKE2b-256 rather than SHA-256 for its worst case: much faster on CPUs
// without the SHA extensions, somewhat slower on CPUs with them, and as
// collision resistant (README's Benchmarks; go test -bench
// ContentHashGenerated ./internal/news/). The hash must be the same on every host.
// Changing the hash or the normalisation changes every story's content hash,
// so stored rows and cache keys made before no longer match new ones.
func (m *Message) ContentHash() Hash {
	var arr [2048]byte // most stories fit: no allocation
	buf := appendNormalized(arr[:0], m.Title)
	buf = append(buf, '\n')
	buf = appendNormalized(buf, m.Body)
	return Hash(blake2b.Sum256(buf))
}

// NormalizedText returns the text ContentHash hashes: title and body, case
// folded, white space collapsed, separated by a newline.
func (m *Message) NormalizedText() string {
	buf := appendNormalized(nil, m.Title)
	buf = append(buf, '\n')
	return string(appendNormalized(buf, m.Body))
}

// Byte classes of appendNormalized's byte-at-a-time path.
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

// Constants of appendNormalized's SWAR code: each holds one byte value in all
// eight bytes of a word.
const (
	swar01 = 0x0101010101010101
	swar80 = 0x80 * swar01
)

// appendNormalized appends s to dst lower-cased (unicode.ToLower), with every
// run of white space (unicode.IsSpace) turned into one space and none at
// either end. Invalid UTF-8 becomes U+FFFD, as when ranging over a string.
//
// It is written by hand because it is the worker's hottest loop: ContentHash
// runs it over every title and body, and a byte-at-a-time loop cost as much
// as the hash itself. Its output is what the content hash covers, so it must
// not change: FuzzNormalize holds it to the plain definition and to the
// simple byte and rune loop it replaced.
//
// The separating spaces are written eagerly: the first white space of a run
// writes ' ' unless the output is empty or already ends in ' ', and a
// trailing ' ' is cut at the end. The only state is thus one bit, sep:
// whether the output can take a space. Most of the text is taken eight bytes
// at a time (SWAR: SIMD within a register): a chunk of ASCII with no control
// byte (below 0x20, which includes \t \n \v \f \r) whose only white space
// is single spaces, the first not continuing a run already written, is
// exactly its own output once lower-cased, so it is lowered with word
// arithmetic and stored in one go. Any other chunk goes byte by byte through
// the byteClass table, and a non-ASCII byte rune by rune through package
// unicode; then the chunks resume.
//
// ASCII output is never longer than its input, so while the input is ASCII,
// output is written by index into capacity grown once: out always has room
// for n plus the len(s)-i bytes still to read. A lowered rune may be longer
// than its input (an invalid byte becomes the three bytes of U+FFFD), so
// the room is grown again after each.
func appendNormalized(dst []byte, s string) []byte {
	start, n := len(dst), len(dst)
	out := slices.Grow(dst, len(s))[:n+len(s)]
	sep := false // whether the output can take a space: non-empty, not ending in ' '
	for i := 0; i < len(s); {
		// Eight bytes at a time while the chunks are simple.
		for ; i+8 <= len(s); i += 8 {
			w := load64(s, i)
			if w&swar80 != 0 {
				break // not ASCII
			}
			// As all bytes are ASCII, the additions below carry across none.
			// A byte's high bit is set in ctl if it is below 0x20 (control
			// characters, including \t \n \v \f \r), in sp if it is ' '.
			ctl := ^(w + (0x80-0x20)*swar01) & swar80
			sp := ^((w ^ ' '*swar01) + 0x7f*swar01) & swar80
			// Control bytes, two spaces in a row, or a first space the output
			// cannot take.
			if ctl|sp&(sp<<8) != 0 || sp&0x80 != 0 && !sep {
				break
			}
			// Upper-case letters are the bytes >= 'A' and not >= 'Z'+1; they
			// get the 0x20 bit.
			upper := (w + (0x80-'A')*swar01) &^ (w + (0x80-'Z'-1)*swar01) & swar80
			binary.LittleEndian.PutUint64(out[n:], w|upper>>2)
			n += 8
			sep = sp>>56 == 0 // the last byte is not a space
		}
		// Byte by byte to the end of this chunk (or of s), or up to and
		// including the next rune that is not ASCII.
		for end := min(i+8, len(s)); i < end; {
			c := s[i]
			switch byteClass[c] {
			case byteKeep:
				out[n] = c
				n++
				sep = true
			case byteUpper:
				out[n] = c + 'a' - 'A'
				n++
				sep = true
			case byteSpace:
				if sep {
					out[n] = ' '
					n++
					sep = false
				}
			default:
				r, size := utf8.DecodeRuneInString(s[i:])
				i += size
				if !unicode.IsSpace(r) {
					out = utf8.AppendRune(out[:n], unicode.ToLower(r))
					n = len(out)
					out = slices.Grow(out, len(s)-i)[:n+len(s)-i]
					sep = true
				} else if sep {
					out[n] = ' '
					n++
					sep = false
				}
				end = i // back to the chunks
				continue
			}
			i++
		}
	}
	if n > start && !sep {
		n-- // a trailing space
	}
	return out[:n]
}

// load64 returns s[i:i+8] as a little-endian word; the compiler makes it one
// load.
func load64(s string, i int) uint64 {
	b := s[i : i+8]
	return uint64(b[0]) | uint64(b[1])<<8 | uint64(b[2])<<16 | uint64(b[3])<<24 |
		uint64(b[4])<<32 | uint64(b[5])<<40 | uint64(b[6])<<48 | uint64(b[7])<<56
}
