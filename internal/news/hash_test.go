package news

import (
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"
)

// refAppendNormalized is appendNormalized as it was before its SWAR fast path,
// a table lookup per ASCII byte and then rune by rune: the oracle the fast
// path must match byte for byte, invalid UTF-8 included.
func refAppendNormalized(dst []byte, s string) []byte {
	start := len(dst)
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
			return refAppendNormalizedRunes(dst, s[i:], start, space)
		}
		if space && len(dst) > start {
			dst = append(dst, ' ')
		}
		space = false
		dst = append(dst, c)
	}
	return dst
}

func refAppendNormalizedRunes(dst []byte, s string, start int, space bool) []byte {
	for _, r := range s {
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

// defNormalized is the definition of the normalised text: the fields of s
// (split at unicode.IsSpace) joined by one space, lowered rune by rune
// (invalid UTF-8 becoming U+FFFD).
func defNormalized(s string) string {
	var b strings.Builder
	for i, f := range strings.FieldsFunc(s, unicode.IsSpace) {
		if i > 0 {
			b.WriteByte(' ')
		}
		for _, r := range f {
			b.WriteRune(unicode.ToLower(r))
		}
	}
	return b.String()
}

// checkNormalized compares appendNormalized on s, after an empty dst and after
// a prefix, with the old implementation and the definition.
func checkNormalized(t *testing.T, s string) {
	t.Helper()
	want := string(refAppendNormalized(nil, s))
	if def := defNormalized(s); want != def {
		t.Fatalf("reference %q and definition %q disagree on %q", want, def, s)
	}
	if got := string(appendNormalized(nil, s)); got != want {
		t.Fatalf("appendNormalized(nil, %q) = %q, want %q", s, got, want)
	}
	// After a prefix that ends in a space (it must not count as output), in
	// a buffer with no spare room and in one with stale bytes past its length.
	for _, dst := range [][]byte{[]byte("p "), make([]byte, 2, 2+len(s)+8)} {
		copy(dst[len(dst):cap(dst)], strings.Repeat("X ", cap(dst)))
		prefix := string(dst)
		got := appendNormalized(dst, s)
		if string(got[:len(prefix)]) != prefix || string(got[len(prefix):]) != want {
			t.Fatalf("appendNormalized(%q, %q) = %q, want %q", prefix, s, got, prefix+want)
		}
	}
}

// normPieces are the interesting bits the generated test strings are made
// of: the bounds of the upper-case range and their neighbours, ASCII white
// space, control bytes and DEL, and non-ASCII letters, spaces and invalid
// bytes, including ones whose lower case is longer or shorter.
var normPieces = []string{
	"a", "z", "A", "Z", "@", "[", "`", "{", "0", ".", "~", "\x7f", "\x00", "\x1f", "\x08", "\x0e",
	" ", " ", " ", "\t", "\n", "\v", "\f", "\r",
	"é", "É", "ß", "ẞ", "İ", "Ⱥ", "K", "Σ", "€", "\u0085", "\u00a0", "\u2003", "\u3000", "\u200b",
	"\xff", "\x80", "\xc3", "\xe2\x80", "\xed\xa0\x80", "\uFFFD",
}

func TestAppendNormalized(t *testing.T) {
	t.Parallel()
	for _, s := range []string{
		"", " ", "  ", "\t\n", "a", "A", "@[`{", "@A[Z", "AZ@[az`{",
		"Hello World", "  Hello\tWORLD \n", "HELLO  WORLD", "ABCDEFGH", "ABCDEFG ", "ABCDEFG  HIJ",
		"abcdefgh ijklmnop", "abcdefg  hijklmnop", "abcdefgh  ijklmnop", "abcdefg\thijklmno",
		"       x", "        x", "x        ", "x       ", " ABCDEFGHIJKLMNOP ", "ABCDEFGH\x7fIJKLMNO",
		"Ärger\u00a0über  Straße", "a\u0085b", "İstanbul  x", "Quake São Paulo  TODAY", "ABCDEFGHIJ é",
		"ABCDEFGHIJKLMNO é", "é ABCDEFGHIJKLMNOP QRS", "ABCDEFG\xffHIJKLMN  OPQ", "ABCDEFGH\xe2\x80",
		"abc \u00a0 def", "abc\u2003 DEF    ghijklmnopq", "ȺȺȺȺȺȺȺȺȺȺȺȺ ABCDEFGHIJKLMNOP",
		"\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff ABCDEFGHIJKLMNOP", strings.Repeat("Word ", 100),
		strings.Repeat("Ab  ", 50), strings.Repeat("x\n\n", 30), strings.Repeat("Straße ", 40),
	} {
		checkNormalized(t, s)
	}
}

// TestAppendNormalized_Exhaustive tries every string of up to three pieces,
// and of up to five over a smaller set.
func TestAppendNormalized_Exhaustive(t *testing.T) {
	t.Parallel()
	var walk func(pieces []string, s string, depth int)
	walk = func(pieces []string, s string, depth int) {
		checkNormalized(t, s)
		if depth == 0 {
			return
		}
		for _, p := range pieces {
			walk(pieces, s+p, depth-1)
		}
	}
	walk(normPieces, "", 3)
	walk([]string{"A", "z", "@", " ", "\t", "é", "\xff"}, "", 5)
}

// TestAppendNormalized_Random tries strings of 1 to 40 pieces, so their
// spaces, upper-case letters and non-ASCII bytes fall on every position of
// the 8-byte chunks, with padding to shift them.
func TestAppendNormalized_Random(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(1, 2))
	ascii := normPieces[:slices.Index(normPieces, "é")]
	for range 200_000 {
		var b strings.Builder
		b.WriteString(strings.Repeat("x", rng.IntN(8)))
		for range 1 + rng.IntN(40) {
			if rng.IntN(8) == 0 {
				b.WriteString(normPieces[rng.IntN(len(normPieces))])
			} else {
				b.WriteString(ascii[rng.IntN(len(ascii))])
			}
		}
		checkNormalized(t, b.String())
	}
}

// TestAppendNormalized_Lengths covers every string length 0 to 17 with each
// piece placed at every position of a text of letters and single spaces.
func TestAppendNormalized_Lengths(t *testing.T) {
	t.Parallel()
	const text = "The Quick BROWN fox"
	for n := 0; n <= 17; n++ {
		base := text[:n]
		checkNormalized(t, base)
		for i := 0; i <= n; i++ {
			for _, p := range normPieces {
				checkNormalized(t, base[:i]+p+base[i:])
			}
		}
	}
}

func TestContentHash_Golden(t *testing.T) {
	t.Parallel()
	// BLAKE2b-256, unkeyed, of the normalised text (Python's
	// hashlib.blake2b(text, digest_size=32)). A change here invalidates
	// every stored content hash and cache key.
	for _, tt := range []struct {
		m    Message
		want string
	}{
		{Message{Title: "Quake  hits City", Body: "Details\n follow. "}, "e6bf0592c5b18f1f4865d1b8f11d86b784d0e8e2392d78dc7d6dcadde3ec6dd9"},
		{Message{}, "5b4b01a4a3892ea3751793da57f072ae08eec694ddcda872239fc8239e4bcd1b"},
	} {
		if got := tt.m.ContentHash().String(); got != tt.want {
			t.Errorf("ContentHash(%q, %q) = %s, want %s", tt.m.Title, tt.m.Body, got, tt.want)
		}
	}
}

func TestContentHash_Allocs(t *testing.T) {
	m := Message{Title: "Central bank raises rates", Body: strings.Repeat("The decision was widely expected by analysts. ", 40)}
	if n := testing.AllocsPerRun(100, func() { _ = m.ContentHash() }); n != 0 {
		t.Errorf("ContentHash of a %d-byte story: %v allocations, want 0", len(m.Title)+len(m.Body), n)
	}
}

// FuzzNormalize holds appendNormalized to the old implementation and the
// plain definition (fields at unicode.IsSpace, joined by one space, lowered
// rune by rune), for any input, invalid UTF-8 included.
func FuzzNormalize(f *testing.F) {
	f.Add("  Hello\tWORLD \n", "Ärger\u00a0über  Straße")
	f.Add("a\u0085b", "İstanbul  x")
	f.Add("ABCDEFG  HIJKLMNOP@[", "abcdefgh\xffIJKL\x7fMNOP \u2003 QRSTUVWXYZ`{")
	f.Fuzz(func(t *testing.T, title, body string) {
		checkNormalized(t, title)
		checkNormalized(t, body)
		m := Message{Title: title, Body: body}
		if got, want := m.NormalizedText(), defNormalized(title)+"\n"+defNormalized(body); got != want {
			t.Fatalf("NormalizedText(%q, %q) = %q, want %q", title, body, got, want)
		}
	})
}
