package llm

import (
	"bytes"
	"encoding/json"
	"math/rand/v2"
	"os"
	"slices"
	"strings"
	"syscall"
	"testing"
	"unicode"
	"unicode/utf8"

	"newsflow/internal/news"
)

// This is offline/v1 as first written: a plain scan of every keyword list
// per word. The fast implementation in offline.go must answer exactly as it
// does; FuzzOffline_MatchesReference checks that on any input.

// OfflineEnrichment is what the offline provider answers for m.
func refOfflineEnrichment(m news.Message) news.Enrichment {
	title, body := refTokenize(m.Title), refTokenize(m.Body)
	if len(body) > maxOfflineWords {
		body = body[:maxOfflineWords] // bounds the work per story
	}
	cat := refOfflineCategory(title, body)
	return news.Enrichment{
		Summary:    refExtractiveSummary(m),
		Category:   cat,
		Importance: refOfflineImportance(m, title, body, cat),
		Language:   refDetectLanguage(m, title, body),
		Model:      OfflineModel,
	}
}

// tokenize splits s into lower-case words of letters, digits and
// apostrophes.
func refTokenize(s string) []string {
	f := strings.FieldsFunc(s, func(r rune) bool {
		return !unicode.IsLetter(r) && !unicode.IsDigit(r) && r != '\'' && r != '’'
	})
	for i, w := range f {
		f[i] = strings.Trim(strings.ToLower(w), "'’")
	}
	return f
}

// extractiveSummary returns the first one or two sentences of the body, or
// of the title when there is no body.
func refExtractiveSummary(m news.Message) string {
	text := strings.Join(strings.Fields(m.Body), " ")
	if text == "" {
		text = strings.Join(strings.Fields(m.Title), " ")
	}
	first, rest := refNextSentence(text)
	if len(first) > maxOfflineSummary {
		return refCutWords(first, maxOfflineSummary)
	}
	if second, _ := refNextSentence(rest); second != "" && len(first) < 120 && len(first)+1+len(second) <= maxOfflineSummary {
		return first + " " + second
	}
	return first
}

// nextSentence splits off the first sentence of s (white space already
// collapsed).
func refNextSentence(s string) (sentence, rest string) {
	s = strings.TrimSpace(s)
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		end := i + size
		if r == '.' || r == '!' || r == '?' || r == '…' || r == '。' {
			// take closing quotes and brackets with the sentence
			for end < len(s) && strings.ContainsRune(`"'”’»)]`, rune(s[end])) {
				end++
			}
			if end == len(s) {
				return s, ""
			}
			if s[end] == ' ' && (r != '.' || !refIsAbbreviation(s[:i])) {
				next, _ := utf8.DecodeRuneInString(s[end+1:])
				if unicode.IsUpper(next) || unicode.IsDigit(next) || strings.ContainsRune(`"'“«‘(`, next) || !unicode.IsLetter(next) {
					return s[:end], strings.TrimSpace(s[end:])
				}
			}
		}
		i += size
	}
	return s, ""
}

// isAbbreviation reports whether the word that ends s is an abbreviation or
// a single letter (an initial), so a following dot does not end a sentence.
func refIsAbbreviation(s string) bool {
	w := s[strings.LastIndexAny(s, " (\"“«")+1:]
	w = strings.ToLower(w)
	if utf8.RuneCountInString(w) == 1 {
		return true
	}
	return slices.Contains(abbreviations, w)
}

// cutWords shortens s to at most n bytes at a word boundary and adds "…".
func refCutWords(s string, n int) string {
	n -= len("…")
	cut := strings.LastIndexByte(s[:n+1], ' ')
	if cut <= 0 {
		cut = n
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
	}
	return strings.TrimRight(s[:cut], " ,;:-–") + "…"
}

// matchKeyword reports whether word matches kw (a trailing * matches a prefix).
func refMatchKeyword(word, kw string) bool {
	if p, ok := strings.CutSuffix(kw, "*"); ok {
		return strings.HasPrefix(word, p)
	}
	return word == kw
}

func refOfflineCategory(title, body []string) string {
	best, bestScore := "other", 0
	for _, cat := range news.Categories {
		kws := categoryKeywords[cat]
		score := 0
		for _, w := range title {
			if slices.ContainsFunc(kws, func(kw string) bool { return refMatchKeyword(w, kw) }) {
				score += 2
			}
		}
		for _, w := range body {
			if slices.ContainsFunc(kws, func(kw string) bool { return refMatchKeyword(w, kw) }) {
				score++
			}
		}
		if score > bestScore {
			best, bestScore = cat, score
		}
	}
	return best
}

func refOfflineImportance(m news.Message, title, body []string, cat string) int {
	score := 30
	seen := map[string]bool{}
	for _, words := range [][]string{title, body} {
		for _, w := range words {
			for kw, weight := range importanceKeywords {
				if !seen[kw] && refMatchKeyword(w, kw) {
					seen[kw] = true
					score += weight
				}
			}
		}
	}
	big := 0
	for _, words := range [][]string{title, body} {
		for _, w := range words {
			if slices.ContainsFunc(bigNumberWords, func(kw string) bool { return refMatchKeyword(w, kw) }) {
				big = max(big, 10)
			} else if len(w) >= 3 && strings.IndexFunc(w, func(r rune) bool { return !unicode.IsDigit(r) }) < 0 {
				big = max(big, 5) // a number of three digits or more
			}
		}
	}
	if strings.Contains(m.Body, ",000") || strings.Contains(m.Body, ".000") {
		big += 5
	}
	score += min(big, 15)
	switch n := len(m.Title) + len(m.Body); {
	case n >= 1500:
		score += 10
	case n >= 500:
		score += 5
	case n < 80:
		score -= 10
	}
	if cat == "entertainment" || cat == "sports" {
		score -= 5
	}
	return max(0, min(100, score))
}

func refDetectLanguage(m news.Message, title, body []string) string {
	score := map[string]int{}
	for _, words := range [][]string{title, body} {
		for _, w := range words {
			for lang, sw := range stopWords {
				if slices.Contains(sw, w) {
					score[lang]++
				}
			}
		}
	}
	for _, s := range []string{m.Title, m.Body} {
		for _, r := range strings.ToLower(s) {
			for _, lang := range telltaleLetters[r] {
				score[lang] += 2
			}
		}
	}
	best, bestScore := "", 0
	for _, lang := range langOrder {
		if score[lang] > bestScore {
			best, bestScore = lang, score[lang]
		}
	}
	if best != "" {
		return best
	}
	if isLangCode(m.Lang) {
		return m.Lang
	}
	if len(m.Lang) > 2 && m.Lang[2] == '-' && isLangCode(m.Lang[:2]) {
		return m.Lang[:2]
	}
	return "en"
}

func FuzzOffline_MatchesReference(f *testing.F) {
	f.Add("Breaking: earthquake kills 12", "A magnitude 7.1 earthquake struck. At least 12 died.", "")
	f.Add("Élections", "Les élections ont eu lieu. Le gouvernement est d'accord.", "fr")
	f.Add("", "'’' ’Tis İstanbul \u212a 1,000 ١٢٣ миллионы Dr. X. y", "pt-br")
	f.Add("T", "Bytes \xff\xfe in \xc3 a. »Gut.« Then.", "")
	for _, m := range goldenInputs(f) {
		f.Add(m.Title, m.Body, m.Lang)
	}
	f.Fuzz(func(t *testing.T, title, body, lang string) {
		m := news.Message{ID: "1", Source: "s", Title: title, Body: body, Lang: lang}
		want, got := refOfflineEnrichment(m), OfflineEnrichment(m)
		if want != got {
			t.Fatalf("OfflineEnrichment(%q, %q, %q)\n = %+v\nwant %+v", title, body, lang, got, want)
		}
	})
}

// goldenInputs returns the messages of the golden corpus.
func goldenInputs(t testing.TB) []news.Message {
	b, err := os.ReadFile("testdata/offline_golden.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	var out []news.Message
	for line := range bytes.Lines(b) {
		var c struct{ Message news.Message }
		if err := json.Unmarshal(line, &c); err != nil {
			t.Fatal(err)
		}
		out = append(out, c.Message)
	}
	return out
}

// TestOffline_MatchesReferenceOnRandomText compares the two versions on
// texts built from the pieces the heuristics react to, long enough to cross
// the summary window and the word limit.
func TestOffline_MatchesReferenceOnRandomText(t *testing.T) {
	t.Parallel()
	pieces := []string{" ", " ", " ", "  ", "\n", "\u00a0", ".", ". ", "! ", "? ", "…", "。", "\"", "'", "’", "”", "»", "«", ")", "(",
		"Dr", "dr", "U.S", "St", "A", "a", "x", "Yy", "ÄÖ", "ß", "ẞ", "İ", "\u212a", "ы", "ї", "é", "ñ", "¿", "ж", "中",
		"the", "der", "le", "el", "il", "o", "de", "и", "і", "w", "och", "d'un", "'twas", "''",
		"police", "court", "election", "elections", "war", "film", "market", "climate", "nasa", "un", "who",
		"breaking", "killed", "earthquakes", "president", "millions", "hundreds", "123", "007", "١٢٣", "12a", ",000", ".000",
		"\xff", "\xc3", "🚀", "—", "-", ",", ";"}
	rng := rand.New(rand.NewPCG(1, 2))
	text := func(n int) string {
		var b strings.Builder
		for range n {
			b.WriteString(pieces[rng.IntN(len(pieces))])
		}
		return b.String()
	}
	n := 400
	if testing.Short() {
		n = 50
	}
	for i := range n {
		m := news.Message{ID: "1", Source: "s", Title: text(rng.IntN(20)), Body: text(rng.IntN(2500)), Lang: []string{"", "fi", "pt-br"}[i%3]}
		if want, got := refOfflineEnrichment(m), OfflineEnrichment(m); want != got {
			t.Fatalf("OfflineEnrichment(%q, %q)\n = %+v\nwant %+v", m.Title, m.Body, got, want)
		}
	}
}

// BenchmarkOfflineReference is BenchmarkOfflineEnrichment for the first
// version, to compare the two in the same conditions.
func BenchmarkOfflineReference(b *testing.B) {
	msgs := goldenInputs(b)[:256] // generated stories of the default size
	b.ReportAllocs()
	var ru0, ru1 syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru0)
	i := 0
	for b.Loop() {
		_ = refOfflineEnrichment(msgs[i%len(msgs)])
		i++
	}
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru1)
	b.ReportMetric(float64(ru1.Utime.Nano()+ru1.Stime.Nano()-ru0.Utime.Nano()-ru0.Stime.Nano())/float64(i), "cpu-ns/op")
}
