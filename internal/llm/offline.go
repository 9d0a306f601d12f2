package llm

import (
	"context"
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
func OfflineEnrichment(m news.Message) news.Enrichment {
	title, body := tokenize(m.Title), tokenize(m.Body)
	if len(body) > maxOfflineWords {
		body = body[:maxOfflineWords] // bounds the work per story
	}
	cat := offlineCategory(title, body)
	return news.Enrichment{
		Summary:    extractiveSummary(m),
		Category:   cat,
		Importance: offlineImportance(m, title, body, cat),
		Language:   detectLanguage(m, title, body),
		Model:      OfflineModel,
	}
}

// tokenize splits s into lower-case words of letters, digits and
// apostrophes.
func tokenize(s string) []string {
	f := strings.FieldsFunc(s, func(r rune) bool {
		return !unicode.IsLetter(r) && !unicode.IsDigit(r) && r != '\'' && r != '’'
	})
	for i, w := range f {
		f[i] = strings.Trim(strings.ToLower(w), "'’")
	}
	return f
}

// ---- summary ----

// abbreviations never end a sentence (lower-case, without the final dot).
var abbreviations = []string{"mr", "mrs", "ms", "dr", "prof", "st", "jr", "sr", "vs", "etc", "inc", "ltd", "co",
	"corp", "gen", "gov", "sen", "rep", "no", "jan", "feb", "mar", "apr", "jun", "jul", "aug", "sep", "sept",
	"oct", "nov", "dec", "u.s", "u.k", "e.g", "i.e", "z.b", "bzw", "ca", "nr", "dr", "hr", "fr"}

// extractiveSummary returns the first one or two sentences of the body, or
// of the title when there is no body.
func extractiveSummary(m news.Message) string {
	text := strings.Join(strings.Fields(m.Body), " ")
	if text == "" {
		text = strings.Join(strings.Fields(m.Title), " ")
	}
	first, rest := nextSentence(text)
	if len(first) > maxOfflineSummary {
		return cutWords(first, maxOfflineSummary)
	}
	if second, _ := nextSentence(rest); second != "" && len(first) < 120 && len(first)+1+len(second) <= maxOfflineSummary {
		return first + " " + second
	}
	return first
}

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
	w = strings.ToLower(w)
	if utf8.RuneCountInString(w) == 1 {
		return true
	}
	return slices.Contains(abbreviations, w)
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

// matchKeyword reports whether word matches kw (a trailing * matches a prefix).
func matchKeyword(word, kw string) bool {
	if p, ok := strings.CutSuffix(kw, "*"); ok {
		return strings.HasPrefix(word, p)
	}
	return word == kw
}

func offlineCategory(title, body []string) string {
	best, bestScore := "other", 0
	for _, cat := range news.Categories {
		kws := categoryKeywords[cat]
		score := 0
		for _, w := range title {
			if slices.ContainsFunc(kws, func(kw string) bool { return matchKeyword(w, kw) }) {
				score += 2
			}
		}
		for _, w := range body {
			if slices.ContainsFunc(kws, func(kw string) bool { return matchKeyword(w, kw) }) {
				score++
			}
		}
		if score > bestScore {
			best, bestScore = cat, score
		}
	}
	return best
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

func offlineImportance(m news.Message, title, body []string, cat string) int {
	score := 30
	seen := map[string]bool{}
	for _, words := range [][]string{title, body} {
		for _, w := range words {
			for kw, weight := range importanceKeywords {
				if !seen[kw] && matchKeyword(w, kw) {
					seen[kw] = true
					score += weight
				}
			}
		}
	}
	big := 0
	for _, words := range [][]string{title, body} {
		for _, w := range words {
			if slices.ContainsFunc(bigNumberWords, func(kw string) bool { return matchKeyword(w, kw) }) {
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

func detectLanguage(m news.Message, title, body []string) string {
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
