package story

import (
	"slices"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"newsflow/internal/gen"
)

// refTokenize is the first tokenizer (two passes over each field, the
// field test and the word test apart), kept as a reference; its one change
// is that a white-space rune outside ASCII is skipped (it looped forever).
func refTokenize(dst []refToken, line string) ([]refToken, int) {
	links := 0
	sentence := true // the next word starts a sentence
	for i := 0; i < len(line); {
		// One white-space separated field.
		for i < len(line) && isSpaceByte(line[i]) {
			i++
		}
		j := i
		for j < len(line) && !isSpaceByte(line[j]) {
			r, size := rune(line[j]), 1
			if r >= utf8.RuneSelf {
				r, size = utf8.DecodeRuneInString(line[j:])
				if unicode.IsSpace(r) {
					break
				}
			}
			j += size
		}
		field := line[i:j]
		if field == "" { // a white-space rune outside ASCII
			_, size := utf8.DecodeRuneInString(line[i:])
			i += size
			continue
		}
		i = j
		if refIsLink(field) {
			links++
			continue
		}
		dst = refAppendWords(dst, field, &sentence)
		if endsSentence(field) {
			sentence = true
		}
	}
	return dst, links
}

// refAppendWords appends the words of one field: runs of letters, digits and
// marks; a number keeps the . , : / - between its digits.
func refAppendWords(dst []refToken, f string, sentence *bool) []refToken {
	for i := 0; i < len(f); {
		r, size := refDecode(f, i)
		if !isWordRune(r) {
			i += size
			continue
		}
		h, bag := uint64(fnvOffset), uint64(0)
		num := isDigit(r)
		upper := unicode.IsUpper(r)
		for i < len(f) {
			if c := f[i]; c < utf8.RuneSelf { // ASCII: one table lookup
				if l := asciiLower[c]; l != 0 {
					h = (h ^ uint64(l)) * fnvPrime
					bag += asciiBag[c]
					i++
					continue
				}
			}
			r, size = refDecode(f, i)
			if isWordRune(r) {
				h = hashRune(h, r)
				bag += letterHash(r)
				i += size
				continue
			}
			if num && (r == '.' || r == ',' || r == ':' || r == '/' || r == '-') && i+1 < len(f) && isDigit(rune(f[i+1])) {
				h = hashRune(h, r)
				i += size
				continue
			}
			break
		}
		dst = append(dst, refToken{h: h, bag: bag, num: num, name: upper && !*sentence})
		*sentence = false
	}
	return dst
}

func refDecode(s string, i int) (rune, int) {
	if c := s[i]; c < utf8.RuneSelf {
		return rune(c), 1
	}
	return utf8.DecodeRuneInString(s[i:])
}

func refIsLink(f string) bool {
	if f[0] == '@' || f[0] == '#' {
		return len(f) > 1
	}
	if len(f) > 4 && (hasPrefixFold(f, "http:") || hasPrefixFold(f, "https:") || hasPrefixFold(f, "www.")) {
		return true
	}
	if strings.IndexByte(f, '/') < 0 {
		return false
	}
	return strings.Contains(f, "://") || strings.Contains(f, "t.me/")
}

// FuzzTokenize_MatchesReference: the one-pass tokenizer reads every line
// as the first one did (words, their hashes, number and name flags, the
// bag of each word that is not a number, and the links dropped).
func FuzzTokenize_MatchesReference(f *testing.F) {
	for _, p := range pairs() {
		for _, m := range []string{p.a.Title, p.a.Body, p.b.Title, p.b.Body} {
			for line := range strings.Lines(m) {
				f.Add(line)
			}
		}
	}
	g, err := gen.New(gen.Config{Seed: 3, BodyBytes: 512})
	if err != nil {
		f.Fatal(err)
	}
	for range 20 {
		m := g.Next()
		f.Add(m.Title)
		f.Add(m.Body)
	}
	for _, s := range []string{"a\u00a0b", "Préfet Élodie a dit 3,5 % à 12:30 — «Ça va»", "https://t.me/x 1/2 www.x.org @a # #b x/y a://b",
		"Цена 92,45 руб. Москва", "日本の首相 東京", "e\u0301t\u00e9 \xff\xfe bad", "U.S. 3.14.15 1-2-3 -4 5- A.B", "...", "»Quote.« «Он» (A.) [b]? c!",
		// Words of 7, 8, 9 and 16 bytes (tokenize reads 8 at a time) at the
		// line's end, before a stop, a comma, an apostrophe, a non-ASCII
		// letter or mark, and with digits.
		"Saturday", "Sunday. Saturday", "Wednesday, ABCDEFGH. ABCDEFGHIJKLMNOP", "abcdefghijklmnop",
		"Pressure's Resident's", "Zurich Zürich Bürgermeister", "Resume\u0301 resume\u0301d", "12345678 1234567.5 20240131,7 A2345678"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, line string) {
		toks, gotLinks := tokenize(nil, line, 0)
		want, wantLinks := refTokenize(nil, line)
		got := make([]refToken, len(toks))
		for i, t := range toks {
			got[i] = refToken{h: t.h, num: t.flags == tokNum, name: t.flags == tokName}
			if t.flags != tokNum { // a number's bag is never read
				got[i].bag = bagAt(line, t.at)
			} else if i < len(want) {
				got[i].bag = want[i].bag
			}
		}
		if !slices.Equal(got, want) || gotLinks != wantLinks {
			t.Errorf("tokenize(%q) = %d tokens, %d links; the reference gives %d tokens, %d links\ngot  %+v\nwant %+v", line, len(got), gotLinks, len(want), wantLinks, got, want)
		}
	})
}

// TestExtract_NoBreakSpace: a no-break space (common in news text)
// separates two words, and does not stop the tokenizer.
func TestExtract_NoBreakSpace(t *testing.T) {
	t.Parallel()
	a := Extract("Dollar rate\u00a0set at 92.45", "The central bank set the rate\u00a0for Wednesday at 92.45 roubles.")
	b := Extract("Dollar rate set at 92.45", "The central bank set the rate for Wednesday at 92.45 roubles.")
	if a.Sig != b.Sig || a.Shingles != b.Shingles || !slices.Equal(a.Numbers, b.Numbers) {
		t.Errorf("a no-break space reads differently from a space: %d and %d shingles", a.Shingles, b.Shingles)
	}
}
