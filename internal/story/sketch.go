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

// sketchVersion numbers the ways Extract has sketched a text: it changes
// whenever some text's sketch does, and names the Redis index's keys, so
// the sketches of two versions are never compared. Version 1 was unnamed
// (keys without a version).
const sketchVersion = 2

// Sketch parameters. Changing any of them but Bands changes every sketch
// (and needs a new sketchVersion). Band b's key does not depend on Bands, so
// workers with fewer bands read a subset of the keys of those with more, and
// their indexes may be shared: in a rolling change a pair found only by a
// band the others lack is missed, never wrongly merged (Compare decides).
const (
	// Bins is the number of MinHash values of a sketch.
	Bins = 128
	// Bands and Rows split the signature for LSH: two texts become
	// candidates when all Rows values of one band agree, band b being
	// values Rows·b to Rows·b+Rows−1. 24×4 (the first 96 bins) finds a pair
	// of resemblance 0.5 with probability 0.79, of 0.64 (a post cut by a
	// third) with 0.988 and of 0.8 with 1 − 3·10⁻⁶; 32×4 (every bin) with
	// 0.87, 0.997 and 1 − 5·10⁻⁸ costs a third more index memory and
	// lookups; 16×4 found the cut posts only with 0.95. go test -run
	// TestCorpus_Seeds: truncate recall 0.991 with 24, 0.998 with 32, the
	// other kinds 1. Compare reads every bin whatever Bands is.
	Bands = 24
	Rows  = 4
	// ShingleWords is the number of words per shingle.
	ShingleWords = 3
	// MinContainShingles is the fewest shingles a text needs to be merged by
	// containment in a longer one; a shorter text merges only by resemblance.
	MinContainShingles = 8
	// containNum/containDen is the containment threshold, 0.85.
	containNum, containDen = 17, 20
	// binShift maps a copy's 32-bit value to its bin (the top 7 bits).
	binShift = 32 - 7
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
	h     uint64 // hash of the case-folded word
	at    int    // its first byte in the title or body
	flags uint8  // tokNum or tokName
}

// Flags of a token.
const (
	tokNum  = 1 << iota // a number (digits, with . , : / - between digits)
	tokName             // capitalised and not at the start of a sentence
)

// extractor holds Extract's reusable buffers.
type extractor struct {
	toks           []token
	numbers, names []uint64
	marks          []int // appendFeatures' indexes of numbers and names
}

var extractors = sync.Pool{New: func() any { return new(extractor) }}

// Extract cleans title and body and sketches them. Title and body are
// shingled apart (no shingle spans both), so a variant with another headline
// or a cut body keeps the shingles of the part it kept; numbers come from
// both, names from the body (from the title when the body is empty).
func Extract(title, body string) Sketch {
	e := extractors.Get().(*extractor)
	toks := clean(e.toks[:0], title)
	nTitle := len(toks)
	toks = clean(toks, body)
	e.toks = toks

	var sk Sketch
	sk.Shingles = minhash(&sk.Sig, toks[:nTitle], toks[nTitle:])
	e.numbers, e.names = e.numbers[:0], e.names[:0]
	bodyNames := nTitle < len(toks)
	e.appendFeatures(title, toks[:nTitle], !bodyNames)
	e.appendFeatures(body, toks[nTitle:], bodyNames)
	sk.Numbers = sortedSet(e.numbers)
	sk.Names = sortedSet(e.names)
	extractors.Put(e)
	return sk
}

// appendFeatures appends to numbers the hash of each number of toks (the
// words of part), bound to the letter bag of the word before it in part
// (none at its start), and, if withNames, to names the hash of each name.
// A bag is computed only here: few words come before a number.
func (e *extractor) appendFeatures(part string, toks []token, withNames bool) {
	// The numbers and names first, in a loop without calls (its values
	// stay in registers).
	marks := slices.Grow(e.marks[:0], len(toks))[:len(toks)]
	n := 0
	for i := range toks {
		// Without a branch (a name or a number is no pattern either):
		// flags is 0, tokNum or tokName, and (flags+3)>>2 is 0, 1 or 1.
		marks[n] = i
		n += int(toks[i].flags+3) >> 2
	}
	e.marks = marks
	lastWord, bag := -1, uint64(0) // the word whose bag is in bag
	for _, i := range marks[:n] {
		t := &toks[i]
		if t.flags == tokName {
			if withNames {
				e.names = append(e.names, t.h)
			}
			continue
		}
		// The word before the number: the token before it, or that of the
		// number before it.
		if w := i - 1; w >= 0 && toks[w].flags != tokNum && w != lastWord {
			bag, lastWord = bagAt(part, toks[w].at), w
		} else if w < 0 {
			bag, lastWord = 0, -1
		}
		e.numbers = append(e.numbers, mix(bag^0x9e3779b97f4a7c15, t.h))
	}
}

// bagAt is the letter bag of the word (not a number) starting at s[i]: the
// sum of letterHash over its runes, so the order of the letters does not
// count.
func bagAt(s string, i int) uint64 {
	bag := uint64(0)
	for i < len(s) {
		if c := s[i]; c < utf8.RuneSelf {
			if asciiLower[c] == 0 {
				break
			}
			bag += asciiBag[c]
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if !isWordRune(r) {
			break
		}
		bag += letterHash(r)
		i += size
	}
	return bag
}

// sortedSet returns s sorted and distinct in a new slice of its length, or
// nil if s is empty.
func sortedSet(s []uint64) []uint64 {
	if len(s) == 0 {
		return nil
	}
	slices.Sort(s)
	return slices.Clone(slices.Compact(s))
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
func clean(dst []token, s string) []token {
	first := true
	for start := 0; start < len(s); {
		end := len(s)
		if i := strings.IndexByte(s[start:], '\n'); i >= 0 {
			end = start + i + 1
		}
		n0 := len(dst)
		var links int
		dst, links = tokenize(dst, s[:end], start)
		start = end
		n := len(dst) - n0
		if n == 0 {
			continue
		}
		if links > 0 && n <= linkLineWords || n <= ctaLineWords && ctaWords[dst[n0].h] {
			dst = dst[:n0]
			continue
		}
		if first {
			k := n0
			for k < len(dst) && labels[dst[k].h] {
				k++
			}
			if k > n0 {
				dst = append(dst[:n0], dst[k:]...)
			}
			first = false
		}
	}
	return dst
}

// tokenize appends the words of the line s[i:] to dst and counts the
// links, @handles and #tags it dropped. A field is a run of non-space runes
// (a no-break space separates two fields too); a field that is a link is
// dropped, any other gives its words: runs of letters, digits and marks, a
// number keeping the . , : / - between its digits.
//
// The sketch is the pipeline's largest cost with near-dup on (go test
// -bench Extract ./internal/story/, callgrind), and most fields are one
// ASCII word and a space: such a field is read here, 8 bytes at a time (it
// cannot be a link, and does not end a sentence); any other field is read
// again from its start by fieldState.field.
//
// A plain word's bytes are read with no branch on where the word ends, nor
// on whether it is capitalised: a processor cannot guess that on varied
// text. A loop stopping at the word's end runs the same instructions on
// template sentences (which the branch predictor learns) as on varied
// text, but far faster (README, near-dup, has the figures). The word's first 8
// bytes are classified at once and the bytes after it zeroed, so each of
// their FNV steps is a multiplication by fnvPrime alone, which fnvUndo
// takes back; a longer word goes on 8 bytes at a time, a word near the
// line's end byte by byte.
func tokenize(dst []token, s string, i int) ([]token, int) {
	// A line of n bytes has at most (n+1)/2 words: room for all of them,
	// so that appending is a store.
	dst = slices.Grow(dst, (len(s)-i+1)/2)
	f := fieldState{sentence: true}
	for uint(i) < uint(len(s)) {
		c := s[i]
		if c == ' ' {
			i++
			continue
		}
		if hotByte[c] < '0' {
			f.dst, f.i = dst, i
			f.field(s)
			dst, i = f.dst, f.i
			continue
		}
		at, h := i, uint64(fnvOffset)
		end := uint8(hotSpace) // what follows the word: the line's end
		ended := false
		for i+8 <= len(s) {
			// Written out here: as a function the compiler does not
			// inline it. Per byte, with its top bit cleared so that no
			// sum carries into the next: bit 7 is set by a digit (y in
			// '0'..'9') or a letter (z, y folded to lower case, in
			// 'a'..'z'); a byte of 0x80 or above is no ASCII letter and
			// ends the word. n is the word's length in w, 8 if it goes on.
			w := s[i : i+8]
			_ = w[7]
			x := uint64(w[0]) | uint64(w[1])<<8 | uint64(w[2])<<16 | uint64(w[3])<<24 |
				uint64(w[4])<<32 | uint64(w[5])<<40 | uint64(w[6])<<48 | uint64(w[7])<<56
			y := x &^ highs
			z := y | 0x20*ones
			digit := (y + (0x80-'0')*ones) &^ (y + (0x7f-'9')*ones)
			letter := (z + (0x80-'a')*ones) &^ (z + (0x7f-'z')*ones)
			n := bits.TrailingZeros64((^(digit|letter)|x)&highs) >> 3
			z &= 1<<(8*uint(n)) - 1 // the word's bytes, lower case
			h = (h ^ z&0xff) * fnvPrime
			h = (h ^ z>>8&0xff) * fnvPrime
			h = (h ^ z>>16&0xff) * fnvPrime
			h = (h ^ z>>24&0xff) * fnvPrime
			h = (h ^ z>>32&0xff) * fnvPrime
			h = (h ^ z>>40&0xff) * fnvPrime
			h = (h ^ z>>48&0xff) * fnvPrime
			h = (h ^ z>>56) * fnvPrime
			h *= fnvUndo[8-n]
			i += n
			if n < 8 {
				end, ended = hotByte[s[i]], true
				break
			}
		}
		if !ended {
			for ; uint(i) < uint(len(s)); i++ {
				l := hotByte[s[i]]
				if l < '0' {
					end = l
					break
				}
				h = (h ^ uint64(l)) * fnvPrime
			}
		}
		// The word ends the field if white space follows, or a comma or
		// a stop and then white space or the line's end (such a field is
		// no link).
		switch end {
		case hotSpace:
			i++
		case hotComma, hotStop:
			if uint(i+1) < uint(len(s)) && hotByte[s[i+1]] != hotSpace {
				end = hotOther
			}
			i += 2
		}
		if end == hotOther || end == hotHigh {
			f.dst, f.i = dst, at
			f.field(s)
			dst, i = f.dst, f.i
			continue
		}
		// The flags without a branch (capitals follow no pattern either).
		keep := uint8(tokNum | tokName)
		if f.sentence {
			keep = tokNum
		}
		flags := firstFlags[c] & keep
		n := len(dst)
		dst = dst[:n+1]
		dst[n] = token{h: h, at: at, flags: flags}
		f.sentence = end == hotStop
	}
	return dst, f.links
}

// fnvUndo[k] is fnvPrime⁻ᵏ modulo 2⁶⁴ (fnvPrime is odd): multiplying by it
// takes back k multiplications by fnvPrime.
var fnvUndo = func() (t [9]uint64) {
	inv := uint64(fnvPrime) // Newton's iteration doubles the correct low bits
	for range 6 {
		inv *= 2 - fnvPrime*inv
	}
	t[0] = 1
	for k := 1; k < len(t); k++ {
		t[k] = t[k-1] * inv
	}
	return t
}()

// Bytes of 1 and of 0x80, eight to a word.
const ones, highs = 0x0101010101010101, 0x8080808080808080

// firstFlags are the flags of a word by its first byte, an ASCII letter or
// digit, if it does not start a sentence.
var firstFlags = func() (t [256]uint8) {
	for c := '0'; c <= '9'; c++ {
		t[c] = tokNum
	}
	for c := 'A'; c <= 'Z'; c++ {
		t[c] = tokName
	}
	return t
}()

// Codes of hotByte for bytes other than ASCII letters and digits.
const (
	hotOther = iota // punctuation or a symbol
	hotSpace        // ASCII white space
	hotHigh         // the first byte of a multi-byte rune (or a bad one)
	hotComma        // , or ;
	hotStop         // . ! or ? (the next word starts a sentence)
)

// hotByte is tokenize's one table: an ASCII letter or digit maps to its
// lower case (≥ '0'), any other byte to its hot* code (< '0').
var hotByte = func() (t [256]byte) {
	for c := range 256 {
		switch {
		case asciiLower[c] != 0:
			t[c] = asciiLower[c]
		case byteClass[c] == classSpace:
			t[c] = hotSpace
		case byteClass[c] == classHigh:
			t[c] = hotHigh
		case c == ',' || c == ';':
			t[c] = hotComma
		case c == '.' || c == '!' || c == '?':
			t[c] = hotStop
		}
	}
	return t
}()

// fieldState is tokenize's state within a line, and its way of reading a
// field that is not one ASCII word.
type fieldState struct {
	dst      []token
	i        int
	sentence bool // the next word starts a sentence
	links    int  // links dropped
}

// field reads the white space at s[f.i] or the field starting there, to
// its end, appending its words to f.dst (if it is not a link).
func (f *fieldState) field(s string) {
	i := f.i
	if byteClass[s[i]] == classSpace {
		f.i++
		return
	}
	if s[i] >= utf8.RuneSelf {
		if r, size := utf8.DecodeRuneInString(s[i:]); unicode.IsSpace(r) {
			f.i += size
			return
		}
	}
	start, dst, wasSentence, slash := i, f.dst, f.sentence, false
field:
	for i < len(s) {
		c := s[i]
		switch byteClass[c] {
		case classWord:
			at, h := i, uint64(fnvOffset)
			num := c <= '9'
			h, i, slash = wordTail(s, i, h, num, slash)
			dst = append(dst, token{h: h, at: at, flags: tokenFlags(num, c-'A' < 26, f.sentence)})
			f.sentence = false
		case classSpace:
			break field
		case classOther:
			slash = slash || c == '/'
			i++
		default: // classHigh
			r, size := utf8.DecodeRuneInString(s[i:])
			switch {
			case unicode.IsSpace(r):
				break field
			case isWordRune(r):
				at := i
				var h uint64
				h, i, slash = wordTail(s, i, fnvOffset, false, slash)
				dst = append(dst, token{h: h, at: at, flags: tokenFlags(false, unicode.IsUpper(r), f.sentence)})
				f.sentence = false
			default:
				i += size
			}
		}
	}
	f.i = i
	// The field s[start:i] ends: a link is dropped, as if never read.
	w := s[start:i]
	if (slash || w[0] == '@' || w[0] == '#' || linkPrefix(w)) && isLink(w, slash) {
		f.links++
		f.sentence = wasSentence // and f.dst keeps none of its words
		return
	}
	f.dst = dst
	switch w[len(w)-1] {
	case '.', '!', '?':
		f.sentence = true
	case '"', '\'', ')', ']':
		f.sentence = f.sentence || endsSentence(w)
	default:
		if w[len(w)-1] >= utf8.RuneSelf {
			f.sentence = f.sentence || endsSentence(w)
		}
	}
}

// tokenFlags are the flags of a word: a number, or a name if upper (its
// first rune is upper case) and not at the start of a sentence.
func tokenFlags(num, upper, sentence bool) uint8 {
	switch {
	case num:
		return tokNum
	case upper && !sentence:
		return tokName
	}
	return 0
}

// wordTail reads on from s[i] the word whose hash so far is h, whatever its
// runes, and returns its hash, the index after it and whether the field
// has a '/' (slash, or one between the digits of the number num).
func wordTail(s string, i int, h uint64, num, slash bool) (uint64, int, bool) {
	for i < len(s) {
		c := s[i]
		if l := asciiLower[c]; l != 0 {
			h = (h ^ uint64(l)) * fnvPrime
			i++
			continue
		}
		if c < utf8.RuneSelf {
			if num && (c == '.' || c == ',' || c == ':' || c == '/' || c == '-') && i+1 < len(s) && isDigit(rune(s[i+1])) {
				h = (h ^ uint64(c)) * fnvPrime
				slash = slash || c == '/'
				i++
				continue
			}
			break
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if !isWordRune(r) {
			break
		}
		h = hashRune(h, r)
		i += size
	}
	return h, i, slash
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

// copies returns the Copies (bin, value) pairs of a shingle whose words'
// hashes combine to x, as four 32-bit values: each one's top 7 bits are its
// bin and the whole value orders it within the bin (its low 16 bits are what
// the signature keeps). Two 64×64→128-bit multiplications: one mixes x (the
// high and low halves of the product folded, as wyhash's mum does), the
// other's 128 bits are the four values. A 64-bit finaliser and a
// multiplication per copy took 13 % more instructions (README, near-dup).
func copies(x uint64) (hi, lo uint64) {
	hi, lo = bits.Mul64(x^0xa0761d6478bd642f, 0xe7037ed1a0b428db)
	return bits.Mul64(hi^lo, 0x9e3779b97f4a7c15)
}

// emptySig is a signature of empty bins (a value of 2³²−1 counts as empty
// too): minhash starts from a copy.
var emptySig = func() (sig [Bins]uint32) {
	for i := range sig {
		sig[i] = math.MaxUint32
	}
	return sig
}()

// minhash fills out with the densified one-permutation MinHash of the
// ShingleWords-word shingles of each of title and body and returns the
// number of shingles. A part of fewer words than a shingle is one shingle.
//
// A shingle's hash combines its words' hashes, each hashed once, by
// rotations, and its copies come from it (copies) rather than a hash per
// shingle and per copy.
func minhash(out *[Bins]uint16, title, body []token) int {
	sig := emptySig
	n := 0
	for _, toks := range [2][]token{title, body} {
		switch {
		case len(toks) == 0:
		case len(toks) < ShingleWords:
			// One shingle, hashed as the words' hashes after 0x51ed27
			// (and 0): rotl(0x51ed27, 21) ^ w0, or rotl(0x51ed27, 42) ^
			// rotl(w0, 21) ^ w1.
			var pad [ShingleWords]token
			pad[ShingleWords-1-len(toks)].h = 0x51ed27
			copy(pad[ShingleWords-len(toks):], toks)
			putShingles(&sig, pad[:])
			n++
		default:
			putShingles(&sig, toks)
			n += len(toks) - (ShingleWords - 1)
		}
	}
	if n == 0 {
		return 0
	}
	// Optimal densification (Shrivastava, 2017): an empty bin takes the
	// value of the first filled bin its own hash sequence lands on.
	for b, v := range sig {
		if v == math.MaxUint32 {
			v = densified(&sig, uint64(b))
		}
		out[b] = uint16(v)
	}
	return n
}

// densified is the value of the empty bin b: that of the first filled bin
// its hash sequence lands on (there is one: minhash put a shingle).
func densified(sig *[Bins]uint32, b uint64) uint32 {
	v := uint32(math.MaxUint32)
	for a := uint64(1); v == math.MaxUint32; a++ {
		v = sig[mix(b, a)%Bins]
	}
	return v
}

// putShingles puts the Copies copies of each ShingleWords-word shingle of
// toks into sig (see copies). A function of its own, a loop without calls:
// its values stay in registers.
func putShingles(sig *[Bins]uint32, toks []token) {
	for i := ShingleWords - 1; i < len(toks); i++ {
		t := toks[i-2 : i+1 : i+1]
		hi, lo := copies(bits.RotateLeft64(t[0].h, 42) ^ bits.RotateLeft64(t[1].h, 21) ^ t[2].h)
		v := uint32(hi >> 32)
		sig[v>>binShift] = min(sig[v>>binShift], v)
		v = uint32(hi)
		sig[v>>binShift] = min(sig[v>>binShift], v)
		v = uint32(lo >> 32)
		sig[v>>binShift] = min(sig[v>>binShift], v)
		v = uint32(lo)
		sig[v>>binShift] = min(sig[v>>binShift], v)
	}
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

// These fail to compile unless Rows is 4, which bandKeys assumes, the bands
// fit in the signature, and Copies is 4 and Bins 128, which copies and
// putShingles assume.
var (
	_ = [1]struct{}{}[Rows-4]
	_ = [Bins - Bands*Rows]struct{}{}
	_ = [1]struct{}{}[Copies-4]
	_ = [1]struct{}{}[Bins-1<<(32-binShift)]
)
