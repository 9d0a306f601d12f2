package llm

import (
	"context"
	"fmt"
	"maps"
	"math/bits"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	"newsflow/internal/news"
)

// OfflineModel is the Model of the offline provider. Bump its version when
// the heuristics change, so cached enrichments are recomputed.
const OfflineModel = ProviderOffline + "/" + offlineVersion

// offlineVersion names the offline enricher's rules in the cache key.
const offlineVersion = "v1"

// maxOfflineWords is how many body words the heuristics look at.
const maxOfflineWords = 1000

// maxOfflineSummary is the offline summary's length limit in bytes.
const maxOfflineSummary = 300

// Offline enriches stories without a model or network, deterministically:
// the same message always gets the same enrichment. Its output is rough but
// costs nothing, which makes it the default for development, tests and
// benchmarks.
//
//   - Summary: the first sentence of the body (the title if there is no
//     body), plus the second if both fit in about 300 bytes; an overlong
//     sentence is cut at a word boundary and ends with "…".
//   - Category: the category whose keywords (categoryKeywords) occur most
//     often, title words counting double; ties go to the earlier entry of
//     news.Categories; no keyword at all gives "other".
//   - Importance: 30, plus the weights of the importance keywords present
//     (importanceKeywords: "breaking", "killed", "earthquake", "election", …),
//     plus up to 15 for big numbers and 10 for a long story, minus 10 for a
//     very short one, clamped to 0–100.
//   - Language: the language whose stop words (stopWords) and telltale
//     letters occur most; the message's own lang tag, else "en", when nothing
//     matches. Detects en, de, fr, es, it, pt, nl, ru, uk, pl, sv.
type Offline struct{}

// NewOffline returns the offline provider.
func NewOffline() *Offline { return &Offline{} }

// Model returns "offline/v1".
func (*Offline) Model() string { return OfflineModel }

// Names returns "offline" and the rules' version.
func (*Offline) Names() (provider, model string) { return ProviderOffline, offlineVersion }

// Enrich computes m's enrichment locally. Usage is zero.
func (*Offline) Enrich(ctx context.Context, m news.Message) (Result, error) {
	if err := ctx.Err(); err != nil {
		return Result{}, err
	}
	return Result{Enrichment: OfflineEnrichment(m)}, nil
}

// OfflineEnrichment is what the offline provider answers for m.
//
// It reads each text once: every word is lower-cased on the fly and walked
// through one compiled trie of all keywords and stop words (offlineTrie), so
// a word costs a few steps whatever the number of keywords, and a story
// costs one allocation for its summary. FuzzOffline_MatchesReference checks
// it against the first, plainly written version of the same heuristics.
func OfflineEnrichment(m news.Message) news.Enrichment {
	var sc offlineScore
	sc.scan(m.Title, 2, -1)
	sc.scan(m.Body, 1, maxOfflineWords) // bounds the work per story
	cat := sc.category()
	return news.Enrichment{
		Summary:    extractiveSummary(m),
		Category:   cat,
		Importance: sc.importance(m, cat),
		Language:   sc.language(m),
		Model:      OfflineModel,
	}
}

// offlineScore accumulates what the heuristics count over a story's words.
type offlineScore struct {
	cat  [maxCategories]int // votes per category, by index in news.Categories
	lang [maxLangs]int      // stop words and telltale letters, by index in langOrder
	imp  uint64             // importance keywords present, by bit (importanceBit)
	big  int                // 10 for a big-number word, 5 for a number of ≥ 3 digits
}

// Word characters, as tokenize of offline/v1 split them: letters, digits
// and apostrophes (straight or curly).
const (
	charSep = iota
	charWord
	charApostrophe
)

// asciiClass classifies ASCII bytes.
var asciiClass = func() (t [utf8.RuneSelf]uint8) {
	for c := range utf8.RuneSelf {
		switch r := rune(c); {
		case r == '\'':
			t[c] = charApostrophe
		case unicode.IsLetter(r) || unicode.IsDigit(r):
			t[c] = charWord
		}
	}
	return t
}()

// scan tokenises text into lower-case words of letters, digits and inner
// apostrophes (leading and trailing ones are trimmed), counts the first
// limit words (all when limit < 0) with the given category weight, and
// counts the telltale letters of all of text.
func (s *offlineScore) scan(text string, weight, limit int) {
	words := 0
	var (
		inWord   bool
		node     int32    // trie node of the word so far; -1 once no keyword can match
		hits     trieHits // prefix keywords passed so far
		started  bool     // a non-apostrophe has been seen (leading apostrophes are trimmed)
		apos     int      // start of the pending apostrophes (kept only if a letter follows), or -1
		n        int      // bytes of the trimmed, lower-cased word
		allDigit bool
	)
	for i := 0; i < len(text); {
		c := text[i]
		r, size, class := rune(c), 1, charSep
		if c < utf8.RuneSelf {
			class = int(asciiClass[c])
			if 'A' <= c && c <= 'Z' {
				r += 'a' - 'A'
			}
		} else {
			r, size = utf8.DecodeRuneInString(text[i:])
			switch {
			case r == '’':
				class = charApostrophe
			case unicode.IsLetter(r) || unicode.IsDigit(r):
				class = charWord
			}
			r = unicode.ToLower(r)
			if lo := r - telltaleBase; lo >= 0 && int(lo) < len(telltale) {
				for b := telltale[lo]; b != 0; b &= b - 1 {
					s.lang[bits.TrailingZeros16(b)] += 2
				}
			}
		}
		if class == charSep {
			if inWord {
				s.word(node, hits, n, allDigit, weight)
				inWord = false
			}
			i += size
			continue
		}
		if !inWord {
			if words == limit { // the letter at i is counted already
				s.telltaleOnly(text[i+size:])
				return
			}
			words++
			inWord, node, hits, started, apos, n, allDigit = true, 0, trieHits{}, false, -1, 0, true
		}
		if class == charApostrophe {
			if started && apos < 0 {
				apos = i
			}
			i += size
			continue
		}
		if apos >= 0 { // inner apostrophes: part of the word
			for j := apos; j < i && node >= 0; j++ {
				node = offlineTrie.step(node, text[j], &hits)
			}
			n += i - apos
			allDigit = false
			apos = -1
		}
		started = true
		if r < utf8.RuneSelf {
			if node >= 0 {
				node = offlineTrie.step(node, byte(r), &hits)
			}
			n++
		} else {
			var b [utf8.UTFMax]byte
			k := utf8.EncodeRune(b[:], r)
			for j := 0; j < k && node >= 0; j++ {
				node = offlineTrie.step(node, b[j], &hits)
			}
			n += k
		}
		allDigit = allDigit && unicode.IsDigit(r)
		i += size
	}
	if inWord {
		s.word(node, hits, n, allDigit, weight)
	}
}

// telltaleOnly counts the telltale letters of text.
func (s *offlineScore) telltaleOnly(text string) {
	for i := 0; i < len(text); {
		if text[i] < utf8.RuneSelf {
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(text[i:])
		i += size
		if lo := unicode.ToLower(r) - telltaleBase; lo >= 0 && int(lo) < len(telltale) {
			for b := telltale[lo]; b != 0; b &= b - 1 {
				s.lang[bits.TrailingZeros16(b)] += 2
			}
		}
	}
}

// word counts one word: node is where its walk through the trie ended (-1
// if it left the trie), hits the prefix keywords it passed, n its length in
// bytes.
func (s *offlineScore) word(node int32, hits trieHits, n int, allDigit bool, weight int) {
	if node > 0 {
		hits.or(offlineTrie.nodes[node].exact)
	}
	for b := hits.cat; b != 0; b &= b - 1 {
		s.cat[bits.TrailingZeros16(b)] += weight
	}
	for b := hits.lang; b != 0; b &= b - 1 {
		s.lang[bits.TrailingZeros16(b)]++
	}
	s.imp |= hits.imp
	if hits.big {
		s.big = 10
	} else if n >= 3 && allDigit {
		s.big = max(s.big, 5) // a number of three digits or more
	}
}

// ---- summary ----

// abbreviations never end a sentence (lower-case, without the final dot).
var abbreviations = []string{"mr", "mrs", "ms", "dr", "prof", "st", "jr", "sr", "vs", "etc", "inc", "ltd", "co",
	"corp", "gen", "gov", "sen", "rep", "no", "jan", "feb", "mar", "apr", "jun", "jul", "aug", "sep", "sept",
	"oct", "nov", "dec", "u.s", "u.k", "e.g", "i.e", "z.b", "bzw", "ca", "nr", "dr", "hr", "fr"}

// maxAbbreviation is the length of the longest abbreviation in bytes.
const maxAbbreviation = 4

// summaryWindow is how much of the white-space-collapsed text the summary
// looks at. A summary ends by byte maxOfflineSummary (a longer first
// sentence is cut there), and deciding where a sentence ends looks at most
// a space and a rune past it, so a window some bytes beyond gives the same
// summary as the whole text.
const summaryWindow = maxOfflineSummary + 64

// extractiveSummary returns the first one or two sentences of the body, or
// of the title when there is no body.
func extractiveSummary(m news.Message) string {
	text := collapseSpace(m.Body, summaryWindow)
	if text == "" {
		text = collapseSpace(m.Title, summaryWindow)
	}
	first, rest := nextSentence(text)
	if len(first) > maxOfflineSummary {
		return cutWords(first, maxOfflineSummary)
	}
	if second, _ := nextSentence(rest); second != "" && len(first) < 120 && len(first)+1+len(second) <= maxOfflineSummary {
		// rest follows first after one space in text
		return strings.Clone(text[:len(first)+1+len(second)])
	}
	return strings.Clone(first) // do not pin the whole body
}

// collapseSpace returns the first n bytes (or more) of s with white space
// collapsed, as strings.Join(strings.Fields(s), " ") would. When s is
// already collapsed that far, it returns a part of s without copying.
func collapseSpace(s string, n int) string {
	p := s
	if len(p) > n {
		p = p[:n]
	}
	clean := true
	for i := 0; i < len(p) && clean; {
		c := p[i]
		if c < utf8.RuneSelf {
			if c == ' ' {
				clean = i > 0 && (i+1 == len(p) || p[i+1] != ' ') && (i+1 < len(p) || len(p) < len(s))
			} else if asciiSpace(c) {
				clean = false
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(p[i:])
		clean = !unicode.IsSpace(r)
		i += size
	}
	if clean {
		return p
	}
	b := make([]byte, 0, min(len(s), n+utf8.UTFMax))
	for i := 0; i < len(s) && len(b) < n; {
		start := i // a field: skip white space, then take the non-space run
		for start < len(s) {
			r, size := rune(s[start]), 1
			if r >= utf8.RuneSelf {
				r, size = utf8.DecodeRuneInString(s[start:])
			}
			if !unicode.IsSpace(r) {
				break
			}
			start += size
		}
		end := start
		for end < len(s) {
			r, size := rune(s[end]), 1
			if r >= utf8.RuneSelf {
				r, size = utf8.DecodeRuneInString(s[end:])
			}
			if unicode.IsSpace(r) {
				break
			}
			end += size
		}
		if start == end {
			break
		}
		if len(b) > 0 {
			b = append(b, ' ')
		}
		b = append(b, s[start:min(end, start+n-len(b)+utf8.UTFMax)]...)
		i = end
	}
	return string(b)
}

// asciiSpace reports whether c is ASCII white space other than ' '.
func asciiSpace(c byte) bool { return c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r' }

// nextSentence splits off the first sentence of s (white space already
// collapsed).
func nextSentence(s string) (sentence, rest string) {
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
			if s[end] == ' ' && (r != '.' || !isAbbreviation(s[:i])) {
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
func isAbbreviation(s string) bool {
	w := s[strings.LastIndexAny(s, " (\"“«")+1:]
	if utf8.RuneCountInString(w) == 1 {
		return true
	}
	var b [maxAbbreviation + utf8.UTFMax]byte // w lower-cased, as far as an abbreviation can be
	n := 0
	for _, r := range w {
		n += utf8.EncodeRune(b[n:], unicode.ToLower(r))
		if n > maxAbbreviation {
			return false
		}
	}
	return slices.Contains(abbreviations, string(b[:n]))
}

// cutWords shortens s to at most n bytes at a word boundary and adds "…".
func cutWords(s string, n int) string {
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

// ---- category ----

// categoryKeywords are the words that vote for each category. A trailing *
// matches any word starting with the rest. Mostly English, with a few
// frequent German, French, Spanish, Italian, Russian and Ukrainian stems.
var categoryKeywords = map[string][]string{
	"politics": {"election*", "elected", "electoral", "vote", "votes", "voted", "voter*", "voting", "parliament*",
		"senat*", "congress*", "minister*", "president*", "government*", "governor*", "campaign*", "referendum*",
		"legislat*", "democrat*", "republican*", "politic*", "coalition*", "opposition", "cabinet", "lawmaker*",
		"chancellor*", "mayor*", "bundestag", "wahl*", "regierung*", "élection*", "gouvernement*", "elecci*",
		"gobierno*", "elezion*", "governo", "выбор*", "парламент*", "президент*", "вибор*", "уряд*", "депутат*"},
	"world": {"nato", "un", "treaty", "diplomat*", "embass*", "ambassador*", "foreign", "border*", "refugee*",
		"sanction*", "summit*", "ceasefire", "war", "wars", "invasion", "invad*", "troops", "military", "international",
		"conflict*", "hostage*", "airstrike*", "missile*", "army", "krieg", "guerre", "guerra", "война", "війна"},
	"business": {"market*", "stock*", "shares", "shareholder*", "investor*", "company", "companies", "profit*",
		"revenue*", "earnings", "econom*", "inflation", "bank", "banks", "banking", "merger*", "acquisition*", "ceo",
		"startup*", "trade", "tariff*", "gdp", "prices", "retail*", "industr*", "oil", "sales", "bankrupt*",
		"wirtschaft*", "unternehmen", "börse", "entreprise*", "économie", "empresa*", "economía", "экономик*", "економік*"},
	"technology": {"tech", "technolog*", "software", "app", "apps", "smartphone*", "iphone*", "android", "google",
		"apple", "microsoft", "ai", "artificial", "chip", "chips", "chipmaker*", "semiconductor*", "cyber*", "hacker*",
		"hack", "hacked", "internet", "online", "computer*", "robot*", "digital", "cloud", "algorithm*", "openai",
		"nvidia", "gadget*", "5g", "technologie*", "технолог*"},
	"science": {"scien*", "research*", "study", "studies", "space", "nasa", "esa", "astronom*", "planet*",
		"physic*", "chemist*", "biolog*", "genom*", "genetic*", "dna", "fossil*", "telescope*", "discover*",
		"experiment*", "laboratory", "mars", "moon", "rocket*", "satellite*", "quantum", "asteroid*", "wissenschaft*",
		"forscher*", "науч*", "наук*"},
	"health": {"health*", "hospital*", "doctor*", "patient*", "vaccin*", "virus*", "covid*", "disease*", "cancer*",
		"medic*", "outbreak*", "pandemic*", "epidemic*", "nurse*", "surgery", "surgeon*", "mental", "treatment*",
		"infection*", "symptom*", "clinic*", "who", "obesity", "diabetes", "gesundheit*", "krankenhaus", "santé",
		"salud", "здоров*", "больниц*", "лікар*"},
	"sports": {"match", "matches", "goal", "goals", "league*", "cup", "championship*", "tournament*", "olympi*",
		"football*", "soccer", "basketball", "tennis", "cricket", "rugby", "nba", "nfl", "fifa", "uefa", "coach*",
		"player*", "team", "teams", "striker", "medal*", "marathon*", "formula", "athlete*", "stadium*", "transfer",
		"fußball*", "bundesliga", "fútbol", "futbol*", "calcio", "футбол*", "матч*", "спорт*"},
	"entertainment": {"film", "films", "movie*", "music*", "album*", "song*", "singer*", "actor*", "actress*",
		"celebrit*", "hollywood", "netflix", "tv", "television", "festival*", "concert*", "oscar*", "grammy*",
		"premiere*", "streaming", "box", "rapper*", "band", "kino", "cinéma", "película*", "фильм*", "фільм*"},
	"environment": {"climate", "environment*", "emission*", "carbon", "pollution", "polluted", "wildlife", "forest*",
		"deforestation", "renewable*", "solar", "flood*", "drought*", "wildfire*", "heatwave*", "glacier*", "ocean*",
		"biodiversity", "conservation", "recycl*", "plastic*", "warming", "earthquake*", "hurricane*", "tsunami*",
		"storm*", "volcan*", "tornado*", "klima*", "umwelt*", "climat*", "clima", "климат*", "клімат*"},
	"crime": {"police*", "policeman", "arrest*", "murder*", "shooting*", "shot", "stabb*", "robber*", "theft*",
		"thief", "thieves", "fraud*", "court*", "trial*", "judge*", "prison*", "jail*", "sentenced", "suspect*",
		"crime*", "criminal*", "gang*", "smuggl*", "charged", "guilty", "convict*", "prosecutor*", "detective*",
		"homicide*", "polizei", "gericht*", "полиц*", "поліц*", "суд*"},
}

// ---- importance ----

// importanceKeywords add their weight to the importance score, each at most
// once per story. A trailing * matches a prefix.
var importanceKeywords = map[string]int{
	"breaking": 30, "urgent": 25, "eilmeldung": 30, "срочно": 30, "терміново": 30, "última": 15,
	"killed": 20, "dead": 15, "deaths": 20, "died": 15, "death": 10, "fatalities": 20, "casualties": 20,
	"massacre": 25, "tote": 20, "morts": 20, "muertos": 20, "погибл*": 20, "загинул*": 20,
	"earthquake*": 25, "tsunami*": 25, "hurricane*": 20, "explosion*": 15, "wildfire*": 10, "flood*": 10,
	"crash*": 10, "erdbeben": 25, "séisme": 25, "terremoto": 25, "землетрясени*": 25, "землетрус*": 25,
	"election*": 15, "war": 20, "invasion": 20, "attack*": 15, "coup": 25, "resign*": 15, "president*": 10,
	"sanctions": 10, "emergency": 15, "pandemic": 15, "outbreak": 10, "recession": 15, "historic": 10,
	"evacuat*": 10, "nuclear": 15, "terror*": 20, "hostage*": 15,
}

// bigNumberWords hint at large magnitudes.
var bigNumberWords = []string{"hundreds", "thousands", "million*", "billion*", "trillion*", "millionen",
	"milliarden", "millions", "milliards", "millones", "миллион*", "миллиард*", "мільйон*", "мільярд*"}

// ---- language ----

// stopWords are frequent function words per language. Words shared by
// several languages count for each; the distinctive ones decide.
var stopWords = map[string][]string{
	"en": {"the", "and", "of", "to", "is", "that", "for", "with", "was", "on", "are", "by", "this", "from",
		"have", "has", "it", "at", "be", "said", "will", "after", "were", "an", "its", "which", "who", "their", "been", "not"},
	"de": {"der", "die", "das", "und", "ist", "nicht", "ein", "eine", "mit", "auf", "für", "den", "dem", "des",
		"von", "sich", "auch", "im", "wird", "wurde", "bei", "nach", "sie", "es", "zu", "über", "werden", "hat", "einen", "sind"},
	"fr": {"le", "la", "les", "et", "est", "un", "une", "des", "du", "dans", "pour", "que", "qui", "pas", "sur",
		"au", "aux", "avec", "ce", "il", "elle", "sont", "par", "été", "cette", "plus", "ont", "selon", "leur", "d'un"},
	"es": {"el", "la", "los", "las", "y", "es", "un", "una", "del", "en", "que", "por", "para", "con", "se", "su",
		"al", "lo", "como", "más", "fue", "ha", "sus", "este", "esta", "según", "han", "pero", "sobre", "muy"},
	"it": {"il", "lo", "la", "gli", "le", "e", "è", "un", "una", "di", "del", "della", "che", "per", "con", "non",
		"sono", "nel", "nella", "alla", "anche", "ha", "dei", "delle", "come", "più", "stato", "dal", "questo", "ma"},
	"pt": {"o", "a", "os", "as", "e", "é", "um", "uma", "do", "da", "dos", "das", "em", "no", "na", "que", "para",
		"com", "não", "por", "se", "mais", "foi", "ao", "pelo", "pela", "seu", "sua", "são", "também"},
	"nl": {"de", "het", "een", "en", "van", "is", "dat", "op", "te", "niet", "met", "voor", "zijn", "in", "die",
		"er", "ook", "aan", "bij", "wordt", "werd", "naar", "heeft", "door", "maar", "nog", "hij", "zij", "worden", "deze"},
	"ru": {"и", "в", "не", "на", "что", "с", "по", "это", "как", "он", "она", "из", "за", "от", "для", "был",
		"была", "были", "к", "о", "также", "его", "уже", "при", "который", "году", "после", "так", "или", "быть"},
	"uk": {"і", "в", "у", "не", "на", "що", "з", "за", "до", "це", "як", "від", "для", "був", "була", "були",
		"також", "його", "вже", "який", "року", "та", "через", "після", "або", "їх", "під", "але", "щоб", "має"},
	"pl": {"i", "w", "nie", "na", "się", "z", "że", "do", "to", "jest", "od", "po", "przez", "dla", "jak", "oraz",
		"był", "była", "są", "który", "która", "które", "także", "już", "ale", "tym", "jego", "roku", "może", "przy"},
	"sv": {"och", "i", "att", "det", "som", "en", "på", "är", "av", "för", "med", "till", "den", "har", "de",
		"inte", "om", "ett", "var", "från", "sig", "men", "också", "efter", "vid", "kan", "blev", "under", "när", "hade"},
}

// telltaleLetters occur in one language (or few) of stopWords; each
// occurrence adds 2 to the language's score.
var telltaleLetters = map[rune][]string{
	'ß': {"de"}, 'ä': {"de", "sv"}, 'ö': {"de", "sv"}, 'ü': {"de"}, 'å': {"sv"},
	'ñ': {"es"}, '¿': {"es"}, '¡': {"es"},
	'ã': {"pt"}, 'õ': {"pt"}, 'ç': {"pt", "fr"},
	'è': {"it", "fr"}, 'ò': {"it"}, 'ì': {"it"}, 'ù': {"it", "fr"},
	'ê': {"fr", "pt"}, 'â': {"fr", "pt"}, 'î': {"fr"}, 'û': {"fr"}, 'œ': {"fr"},
	'ą': {"pl"}, 'ę': {"pl"}, 'ł': {"pl"}, 'ś': {"pl"}, 'ź': {"pl"}, 'ż': {"pl"}, 'ć': {"pl"}, 'ń': {"pl"},
	'ы': {"ru"}, 'э': {"ru"}, 'ъ': {"ru"}, 'ё': {"ru"},
	'і': {"uk"}, 'ї': {"uk"}, 'є': {"uk"}, 'ґ': {"uk"},
}

// langOrder breaks ties deterministically.
var langOrder = []string{"en", "de", "fr", "es", "it", "pt", "nl", "ru", "uk", "pl", "sv"}

// ---- scoring ----

func (s *offlineScore) category() string {
	best, bestScore := "other", 0
	for i, cat := range news.Categories {
		if s.cat[i] > bestScore {
			best, bestScore = cat, s.cat[i]
		}
	}
	return best
}

func (s *offlineScore) importance(m news.Message, cat string) int {
	score := 30
	for b := s.imp; b != 0; b &= b - 1 {
		score += importanceWeight[bits.TrailingZeros64(b)]
	}
	big := s.big
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

func (s *offlineScore) language(m news.Message) string {
	best, bestScore := "", 0
	for i, lang := range langOrder {
		if s.lang[i] > bestScore {
			best, bestScore = lang, s.lang[i]
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

// ---- compiled tables ----

// Bounds of the bit sets the tables compile to.
const (
	maxCategories = 16
	maxLangs      = 16
)

// trieHits is what a word matches: categories (bit i = news.Categories[i]),
// stop-word languages (bit i = langOrder[i]), importance keywords (bit i =
// importanceWeight[i]) and whether it is a big-number word.
type trieHits struct {
	imp  uint64
	cat  uint16
	lang uint16
	big  bool
}

func (h *trieHits) or(o trieHits) {
	h.imp |= o.imp
	h.cat |= o.cat
	h.lang |= o.lang
	h.big = h.big || o.big
}

// trieNode is a byte-wise trie node: the keywords ending here match a word
// that starts with the path to it (prefix: keywords with a trailing *) or
// that equals it (exact).
type trieNode struct {
	prefix, exact trieHits
}

// trieEdge is a slot of trie.edges: the child reached from the node and
// byte packed in key.
type trieEdge struct {
	key  uint32 // node<<8 | byte
	node int32  // child, with prefixFlag set if it has prefix keywords; -1 = empty slot
}

// prefixFlag marks a child that ends prefix keywords.
const prefixFlag = 1 << 30

// trie holds every keyword and stop word; node 0 is the root. Its edges sit
// in an open-addressing hash table, so a step costs one multiply and
// usually one probe.
type trie struct {
	root  [256]int32 // the root's edges by byte, as trieEdge.node
	nodes []trieNode
	edges []trieEdge // len is a power of two
	shift uint32     // 32 - log2(len(edges))
}

// step follows byte c from node (≥ 0), adding the prefix keywords of the
// node it reaches to hits; -1 means no keyword matches a word that went
// this way.
func (t *trie) step(node int32, c byte, hits *trieHits) int32 {
	if node == 0 {
		v := t.root[c]
		if v > 0 && v&prefixFlag != 0 {
			hits.or(t.nodes[v&^prefixFlag].prefix)
			return v &^ prefixFlag
		}
		return v
	}
	k := uint32(node)<<8 | uint32(c)
	mask := uint32(len(t.edges) - 1)
	for h := (k * 0x9e3779b1) >> t.shift; ; h = (h + 1) & mask {
		e := t.edges[h]
		if e.key == k && e.node >= 0 {
			if e.node&prefixFlag != 0 {
				hits.or(t.nodes[e.node&^prefixFlag].prefix)
				return e.node &^ prefixFlag
			}
			return e.node
		}
		if e.node < 0 {
			return -1
		}
	}
}

var (
	offlineTrie      trie
	importanceWeight []int                              // by importance bit
	telltale         [telltaleEnd - telltaleBase]uint16 // lower-case letter → languages, by langOrder bit
)

// The telltale letters lie in Latin-1 Supplement to Cyrillic.
const (
	telltaleBase = 0xa0
	telltaleEnd  = 0x500
)

func init() { offlineTrie = *compileOffline() }

// compileOffline builds the trie and tables from categoryKeywords,
// importanceKeywords, bigNumberWords, stopWords and telltaleLetters. Only
// categories in news.Categories and languages in langOrder count, as the
// heuristics only ever looked those up.
func compileOffline() *trie {
	if len(news.Categories) > maxCategories || len(langOrder) > maxLangs || len(importanceKeywords) > 64 {
		panic("llm: offline tables outgrew their bit sets")
	}
	type building struct {
		prefix, exact trieHits
		children      map[byte]int
	}
	nodes := []*building{{children: map[byte]int{}}}
	add := func(kw string, h trieHits) {
		word, prefix := strings.CutSuffix(kw, "*")
		n := 0
		for i := range len(word) {
			c, ok := nodes[n].children[word[i]]
			if !ok {
				c = len(nodes)
				nodes = append(nodes, &building{children: map[byte]int{}})
				nodes[n].children[word[i]] = c
			}
			n = c
		}
		if prefix {
			nodes[n].prefix.or(h)
		} else {
			nodes[n].exact.or(h)
		}
	}
	for i, cat := range news.Categories {
		for _, kw := range categoryKeywords[cat] {
			add(kw, trieHits{cat: 1 << i})
		}
	}
	kws := slices.Sorted(maps.Keys(importanceKeywords))
	importanceWeight = make([]int, len(kws))
	for i, kw := range kws {
		importanceWeight[i] = importanceKeywords[kw]
		add(kw, trieHits{imp: 1 << i})
	}
	for _, kw := range bigNumberWords {
		add(kw, trieHits{big: true})
	}
	for i, lang := range langOrder {
		for _, w := range stopWords[lang] {
			add(w, trieHits{lang: 1 << i})
		}
		for r, langs := range telltaleLetters {
			if slices.Contains(langs, lang) {
				if r < telltaleBase || r >= telltaleEnd || unicode.ToLower(r) != r {
					panic(fmt.Sprintf("llm: telltale letter %q is not a lower-case letter within [%#x, %#x)", r, telltaleBase, telltaleEnd))
				}
				telltale[r-telltaleBase] |= 1 << i
			}
		}
	}
	t := &trie{nodes: make([]trieNode, len(nodes))}
	size := 1
	for size < 4*len(nodes) { // load factor ≤ 1/4: few probes
		size *= 2
	}
	t.edges = make([]trieEdge, size)
	for i := range t.edges {
		t.edges[i].node = -1
	}
	t.shift = uint32(32 - bits.TrailingZeros(uint(size)))
	for c := range t.root {
		t.root[c] = -1
	}
	for i, b := range nodes {
		t.nodes[i] = trieNode{prefix: b.prefix, exact: b.exact}
		for c, child := range b.children {
			v := int32(child)
			if nodes[child].prefix != (trieHits{}) {
				v |= prefixFlag
			}
			if i == 0 {
				t.root[c] = v
				continue
			}
			k := uint32(i)<<8 | uint32(c)
			h := (k * 0x9e3779b1) >> t.shift
			for t.edges[h].node >= 0 {
				h = (h + 1) & uint32(size-1)
			}
			t.edges[h] = trieEdge{key: k, node: v}
		}
	}
	return t
}
