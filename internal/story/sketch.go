package story

import (
	"math"
	"math/bits"
	"slices"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"
)

// Sketch parameters. Changing any of them changes every sketch: entries in
// the index made before no longer match new ones (until they expire).
const (
	// Bins is the number of MinHash values of a sketch.
	Bins = 128
	// Bands and Rows split the signature for LSH: two texts become
	// candidates when all Rows values of one band agree. 32×4 uses every
	// bin and finds a pair of resemblance 0.5 with probability 0.87, of 0.64
	// (a post cut by a third) with 0.997 and of 0.8 with 1 − 10⁻¹⁰; 16×4
	// (half the bins) found the cut posts only with 0.95.
	Bands = 32
	Rows  = 4
	// ShingleWords is the number of words per shingle.
	ShingleWords = 3
	// MinContainShingles is the fewest shingles a text needs to be merged by
	// containment in a longer one; a shorter text merges only by resemblance.
	MinContainShingles = 8
	// containNum/containDen is the containment threshold, 0.85.
	containNum, containDen = 17, 20
	// binShift maps a 64-bit shingle hash to its bin (the top 7 bits).
	binShift = 64 - 7
	// Copies is how many times each shingle is hashed into the bins (as the
	// pairs (shingle, 1..Copies), a set with the same resemblance). With one
	// copy a 100-shingle text leaves ~46 % of 128 bins empty, and the
	// densified bins of a text and of its cut version mostly disagree, so
	// whole LSH bands rarely match; with four ~4 % stay empty.
	Copies = 4
)

// Sketch summarises one text for near-duplicate tests. The zero Sketch (no
// words) matches nothing but exact duplicates.
type Sketch struct {
	// Sig is the densified one-permutation MinHash signature, 16 bits of
	// each bin's minimum (b-bit MinHash: unrelated bins agree with
	// probability 2⁻¹⁶, a bias far below the thresholds' resolution).
	Sig [Bins]uint16
	// Shingles is the number of shingles hashed; 0 means no sketch.
	Shingles int
	// Numbers are hashes of each number with the word before it (its
	// letters in any order, so a typo swapping two letters keeps the bond),
	// sorted, distinct.
	Numbers []uint64
	// Names are hashes of capitalised words that do not start a sentence,
	// sorted, distinct.
	Names []uint64
}

// Empty reports whether the sketch has no shingles.
func (s *Sketch) Empty() bool { return s.Shingles == 0 }

// token is one word of a cleaned text.
type token struct {
	h    uint64 // hash of the case-folded word
	bag  uint64 // hash of its letters in any order: a swapped pair keeps it
	num  bool   // a number (digits, with . , : / - between digits)
	name bool   // capitalised and not at the start of a sentence
}

// extractor holds Extract's reusable buffers.
type extractor struct {
	title, body, line []token
	words             []uint64
}

var extractors = sync.Pool{New: func() any { return new(extractor) }}

// Extract cleans title and body and sketches them. Title and body are
// shingled apart (no shingle spans both), so a variant with another headline
// or a cut body keeps the shingles of the part it kept; numbers come from
// both, names from the body (from the title when the body is empty).
func Extract(title, body string) Sketch {
	e := extractors.Get().(*extractor)
	defer extractors.Put(e)
	e.title = e.clean(e.title[:0], title)
	e.body = e.clean(e.body[:0], body)

	var sk Sketch
	e.words = e.words[:0]
	for _, t := range e.title {
		e.words = append(e.words, t.h)
	}
	nTitle := len(e.words)
	for _, t := range e.body {
		e.words = append(e.words, t.h)
	}
	sk.Shingles = minhash(&sk.Sig, e.words[:nTitle], e.words[nTitle:])

	var prev uint64
	for _, ts := range [2][]token{e.title, e.body} {
		prev = 0
		for _, t := range ts {
			if t.num {
				sk.Numbers = append(sk.Numbers, mix(prev^0x9e3779b97f4a7c15, t.h))
			} else {
				prev = t.bag
			}
		}
	}
	names := e.body
	if len(names) == 0 {
		names = e.title
	}
	for _, t := range names {
		if t.name {
			sk.Names = append(sk.Names, t.h)
		}
	}
	sk.Numbers = sortedSet(sk.Numbers)
	sk.Names = sortedSet(sk.Names)
	return sk
}

func sortedSet(s []uint64) []uint64 {
	if len(s) == 0 {
		return nil
	}
	slices.Sort(s)
	return slices.Compact(s)
}

// labels are words that, leading a title or a body, only flag the post.
var labels = func() map[uint64]bool {
	m := map[uint64]bool{}
	for _, w := range []string{"breaking", "urgent", "update", "updated", "exclusive", "developing", "alert", "flash", "live"} {
		m[hashWord(w)] = true
	}
	return m
}()

// ctaWords start call-to-action lines: "Subscribe: …", "Read more …".
var ctaWords = func() map[uint64]bool {
	m := map[uint64]bool{}
	for _, w := range []string{"subscribe", "follow", "join", "read", "source", "share", "watch", "via", "more", "sign", "like", "support", "donate", "our", "download"} {
		m[hashWord(w)] = true
	}
	return m
}()

// Boilerplate line bounds: a line with a link, handle or tag and at most
// linkLineWords words, or starting with a call-to-action word and at most
// ctaLineWords words, is the source's boilerplate and dropped.
const (
	linkLineWords = 8
	ctaLineWords  = 6
)

// clean appends the tokens of s to dst, line by line, dropping boilerplate
// lines and leading labels.
func (e *extractor) clean(dst []token, s string) []token {
	first := true
	for line := range strings.Lines(s) {
		e.line = e.line[:0]
		links := 0
		e.line, links = tokenize(e.line, line)
		if len(e.line) == 0 {
			continue
		}
		if links > 0 && len(e.line) <= linkLineWords || ctaWords[e.line[0].h] && len(e.line) <= ctaLineWords {
			continue
		}
		toks := e.line
		if first {
			for len(toks) > 0 && labels[toks[0].h] {
				toks = toks[1:]
			}
			first = false
		}
		dst = append(dst, toks...)
	}
	return dst
}

// tokenize appends the words of one line to dst and counts the links,
// @handles and #tags it dropped. A field is a run of non-space runes (a
// no-break space separates two fields too); a field that is a link is
// dropped, any other gives its words: runs of letters, digits and marks, a
// number keeping the . , : / - between its digits.
//
// One pass over the bytes, ASCII through tables: the sketch is the
// pipeline's largest cost with near-dup on (go test -bench Extract
// ./internal/story/, callgrind).
func tokenize(dst []token, line string) ([]token, int) {
	var f fieldState
	f.sentence = true // the next word starts a sentence
	f.start = -1      // not in a field
	for i := 0; i < len(line); {
		c := line[i]
		class, size, r := byteClass[c], 1, rune(c)
		if class == classHigh {
			r, size = utf8.DecodeRuneInString(line[i:])
			switch {
			case unicode.IsSpace(r):
				class = classSpace
			case isWordRune(r):
				class = classWord
			default:
				class = classOther
			}
		}
		if class == classSpace {
			if f.start >= 0 {
				dst = f.end(dst, line[f.start:i])
			}
			i += size
			continue
		}
		if f.start < 0 {
			f.start, f.tokens, f.wasSentence, f.slash = i, len(dst), f.sentence, false
		}
		if class == classOther {
			f.slash = f.slash || c == '/'
			i += size
			continue
		}
		var t token
		t, i = f.word(line, i, r)
		dst = append(dst, t)
		// Most fields are a plain word and a space: end one here, as end
		// would (not a link, not a sentence end).
		if i < len(line) && byteClass[line[i]] == classSpace && !f.slash && !mayStartLink(line[f.start]) {
			f.start = -1
			i++
		}
	}
	if f.start >= 0 {
		dst = f.end(dst, line[f.start:])
	}
	return dst, f.links
}

// fieldState is tokenize's state within a line.
type fieldState struct {
	start       int  // the current field's first byte, -1 between fields
	tokens      int  // len(dst) when the field started
	wasSentence bool // sentence when the field started
	slash       bool // the field has a '/'
	sentence    bool // the next word starts a sentence
	links       int  // links dropped
}

// end closes field f (the words of which are dst[f.tokens:]): a link is
// dropped, as if never read.
func (f *fieldState) end(dst []token, field string) []token {
	f.start = -1
	if (f.slash || field[0] == '@' || field[0] == '#' || linkPrefix(field)) && isLink(field, f.slash) {
		f.links++
		f.sentence = f.wasSentence
		return dst[:f.tokens]
	}
	switch field[len(field)-1] {
	case '.', '!', '?':
		f.sentence = true
	case '"', '\'', ')', ']':
		f.sentence = f.sentence || endsSentence(field)
	default:
		if field[len(field)-1] >= utf8.RuneSelf {
			f.sentence = f.sentence || endsSentence(field)
		}
	}
	return dst
}

// mayStartLink reports whether a field starting with c may be a link
// without a slash: @handle, #tag, http…, www.….
func mayStartLink(c byte) bool {
	return c == '@' || c == '#' || c|0x20 == 'h' || c|0x20 == 'w'
}

// linkPrefix reports whether f may start with http or www. (isLink
// decides): most words starting with h or w are not links.
func linkPrefix(f string) bool {
	if len(f) <= 4 {
		return false
	}
	switch f[0] | 0x20 {
	case 'h':
		return f[1]|0x20 == 't' && f[2]|0x20 == 't' && f[3]|0x20 == 'p'
	case 'w':
		return f[1]|0x20 == 'w' && f[2]|0x20 == 'w' && f[3] == '.'
	}
	return false
}

// word reads the word starting at line[i], whose first rune is r, and
// returns it and the index after it.
func (f *fieldState) word(line string, i int, r rune) (token, int) {
	h, bag := uint64(fnvOffset), uint64(0)
	num := isDigit(r)
	upper := 'A' <= r && r <= 'Z' || r >= utf8.RuneSelf && unicode.IsUpper(r)
	for i < len(line) {
		c := line[i]
		if l := asciiLower[c]; l != 0 {
			h = (h ^ uint64(l)) * fnvPrime
			bag += asciiBag[c]
			i++
			continue
		}
		if c < utf8.RuneSelf {
			if num && (c == '.' || c == ',' || c == ':' || c == '/' || c == '-') && i+1 < len(line) && isDigit(rune(line[i+1])) {
				h = (h ^ uint64(c)) * fnvPrime
				f.slash = f.slash || c == '/'
				i++
				continue
			}
			break
		}
		r, size := utf8.DecodeRuneInString(line[i:])
		if !isWordRune(r) {
			break
		}
		h = hashRune(h, r)
		bag += letterHash(r)
		i += size
	}
	t := token{h: h, bag: bag, num: num, name: upper && !f.sentence}
	f.sentence = false
	return t, i
}

// Byte classes of tokenize.
const (
	classOther = iota // punctuation or a symbol: in a field, not in a word
	classSpace
	classWord // a letter or a digit
	classHigh // the first byte of a multi-byte rune (or a bad one)
)

// byteClass is the class of each byte.
var byteClass = func() (t [256]uint8) {
	for c := range 256 {
		switch {
		case c >= utf8.RuneSelf:
			t[c] = classHigh
		case isSpaceByte(byte(c)):
			t[c] = classSpace
		case isWordRune(rune(c)):
			t[c] = classWord
		}
	}
	return t
}()

// endsSentence reports whether a field ends with . ! ? or …, before any
// closing quotes or brackets.
func endsSentence(f string) bool {
	switch f[len(f)-1] {
	case '.', '!', '?':
		return true
	case '"', '\'', ')', ']':
	default:
		if f[len(f)-1] < utf8.RuneSelf {
			return false
		}
	}
	for len(f) > 0 {
		r, size := utf8.DecodeLastRuneInString(f)
		switch r {
		case '"', '\'', ')', ']', '»', '”', '’':
			f = f[:len(f)-size]
			continue
		case '.', '!', '?', '…':
			return true
		}
		return false
	}
	return false
}

func isSpaceByte(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f'
}

// isLink reports whether a field is a URL, an @handle or a #tag; slash
// says whether it has a '/'.
func isLink(f string, slash bool) bool {
	switch f[0] {
	case '@', '#':
		return len(f) > 1
	case 'h', 'H', 'w', 'W':
		if len(f) > 4 && (hasPrefixFold(f, "http:") || hasPrefixFold(f, "https:") || hasPrefixFold(f, "www.")) {
			return true
		}
	}
	return slash && (strings.Contains(f, "://") || strings.Contains(f, "t.me/"))
}

func hasPrefixFold(s, p string) bool { return len(s) >= len(p) && strings.EqualFold(s[:len(p)], p) }

func isDigit(r rune) bool { return '0' <= r && r <= '9' }

func isWordRune(r rune) bool {
	if r < utf8.RuneSelf {
		return 'a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || '0' <= r && r <= '9'
	}
	return unicode.IsLetter(r) || unicode.IsDigit(r) || unicode.IsMark(r)
}

// FNV-1a over the case-folded runes of a word.
const (
	fnvOffset = 14695981039346656037
	fnvPrime  = 1099511628211
)

func hashRune(h uint64, r rune) uint64 {
	if r < utf8.RuneSelf {
		if 'A' <= r && r <= 'Z' {
			r += 'a' - 'A'
		}
		return (h ^ uint64(r)) * fnvPrime
	}
	r = unicode.ToLower(r)
	for r != 0 {
		h = (h ^ uint64(r&0xff)) * fnvPrime
		r >>= 8
	}
	return h
}

// letterHash is a rune's share of a word's bag: bags are sums, so the
// order of the letters does not count.
func letterHash(r rune) uint64 {
	if r < utf8.RuneSelf && 'A' <= r && r <= 'Z' {
		r += 'a' - 'A'
	} else if r >= utf8.RuneSelf {
		r = unicode.ToLower(r)
	}
	x := uint64(r) * 0x9e3779b97f4a7c15
	return x ^ x>>29
}

// asciiLower maps an ASCII letter or digit to its lower case, any other
// byte to 0; asciiBag holds letterHash of each.
var asciiLower, asciiBag = func() (l [256]byte, b [256]uint64) {
	for c := range rune(utf8.RuneSelf) {
		if isWordRune(c) {
			l[c] = byte(unicode.ToLower(c))
			b[c] = letterHash(c)
		}
	}
	return l, b
}()

func hashWord(w string) uint64 {
	h := uint64(fnvOffset)
	for _, r := range w {
		h = hashRune(h, r)
	}
	return h
}

// mix combines two hashes into a well-mixed one (the finaliser of
// splitmix64 over their combination).
func mix(a, b uint64) uint64 {
	x := a*0xbf58476d1ce4e5b9 ^ bits.RotateLeft64(b, 31)
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	return x ^ x>>31
}

// fmix is a bijective finaliser (murmur3's): every input bit reaches every
// output bit.
func fmix(x uint64) uint64 {
	x ^= x >> 33
	x *= 0xff51afd7ed558ccd
	x ^= x >> 33
	x *= 0xc4ceb9fe1a85ec53
	return x ^ x>>33
}

// copyMul derives the Copies (bin, value) pairs of a shingle from its one
// well-mixed hash h: copy c is h·copyMul[c], its top 7 bits the bin and the
// 32 bits below them the value. One multiplication per copy instead of a
// hash per copy (go test -bench Extract ./internal/story/).
var copyMul = [...]uint64{0x9e3779b97f4a7c15, 0xd6e8feb86659fd93, 0xa0761d6478bd642f, 0xe7037ed1a0b428db}

// minhash fills sig with the densified one-permutation MinHash of the
// ShingleWords-word shingles of each of parts and returns the number of
// shingles. A part of fewer words than a shingle is one shingle.
//
// A shingle's hash combines its words' hashes, each hashed once, by
// rotations and one finaliser rather than a hash per shingle and per copy.
func minhash(out *[Bins]uint16, parts ...[]uint64) int {
	var sig [Bins]uint32
	for i := range sig {
		sig[i] = math.MaxUint32 // empty (a value of 2³²−1 counts as empty too)
	}
	put := func(v uint64) {
		b := v >> binShift
		sig[b] = min(sig[b], uint32(v>>(binShift-32)))
	}
	add := func(h uint64) { // the Copies copies, unrolled
		put(h * copyMul[0])
		put(h * copyMul[1])
		put(h * copyMul[2])
		put(h * copyMul[3])
	}
	n := 0
	for _, words := range parts {
		switch {
		case len(words) == 0:
		case len(words) < ShingleWords:
			h := uint64(0x51ed27)
			for _, w := range words {
				h = bits.RotateLeft64(h, 21) ^ w
			}
			add(fmix(h))
			n++
		default:
			for i := ShingleWords - 1; i < len(words); i++ {
				add(fmix(bits.RotateLeft64(words[i-2], 42) ^ bits.RotateLeft64(words[i-1], 21) ^ words[i]))
				n++
			}
		}
	}
	if n == 0 {
		return 0
	}
	// Optimal densification (Shrivastava, 2017): an empty bin takes the
	// value of the first filled bin its own hash sequence lands on.
	for b := range uint64(Bins) {
		v := sig[b]
		for a := uint64(1); v == math.MaxUint32; a++ {
			v = sig[mix(b, a)%Bins]
		}
		out[b] = uint16(v)
	}
	return n
}

// bandKeys returns the LSH keys of the signature, one per band: its Rows
// 16-bit values side by side, with the band number, finalised.
func bandKeys(sig *[Bins]uint16) [Bands]uint64 {
	var out [Bands]uint64
	for b := range Bands {
		v := sig[b*Rows : (b+1)*Rows : (b+1)*Rows] // Rows = 4: packs into 64 bits (see below)
		packed := uint64(v[0]) | uint64(v[1])<<16 | uint64(v[2])<<32 | uint64(v[3])<<48
		out[b] = fmix(packed ^ uint64(b+1)*0x2545f4914f6cdd1d)
	}
	return out
}

// These fail to compile unless Rows is 4, which bandKeys assumes, and
// copyMul has Copies values, which minhash assumes.
var (
	_ = [1]struct{}{}[Rows-4]
	_ = [1]struct{}{}[len(copyMul)-Copies]
)
