package gen

import (
	"cmp"
	"fmt"
	"strings"
	"time"

	"newsflow/internal/news"
)

// Variant kinds of a Corpus article: how it differs from its story's
// original, the ground truth a near-duplicate evaluation scores against.
const (
	KindOriginal  = "original"  // the story as first published
	KindSignature = "signature" // a channel signature or footer appended
	KindPrefix    = "prefix"    // "BREAKING:", "URGENT" or an emoji before the title
	KindTruncate  = "truncate"  // the last sentences cut, a "Read more" link added
	KindTypo      = "typo"      // one word misspelt (or the typo fixed)
	KindHeadline  = "headline"  // the headline replaced by the lead sentence
	KindStyle     = "style"     // typographic quotes, dashes and doubled spaces
	// KindNumbers marks a hard negative: one story of a template family
	// whose members differ only in their numbers.
	KindNumbers = "numbers"
	// KindBoilerplate marks a hard negative: one story of a source whose
	// posts all carry the same boilerplate lines.
	KindBoilerplate = "boilerplate"
)

// VariantKinds are the kinds a story's variants are drawn from.
var VariantKinds = []string{KindSignature, KindPrefix, KindTruncate, KindTypo, KindHeadline, KindStyle}

// Labelled is one article of a Corpus with its ground truth.
type Labelled struct {
	news.Message
	// Story numbers the true story; articles of one story are variants.
	Story int
	// Kind says how the article was made (Kind* constants).
	Kind string
}

// CorpusConfig sizes a Corpus. Zero fields take the defaults noted.
type CorpusConfig struct {
	// Seed selects the corpus; the same config gives the same corpus.
	Seed int64
	// Stories is the number of stories with variants. Default 200.
	Stories int
	// Variants is the number of variants per story besides its original,
	// each of another kind in turn. Default 3.
	Variants int
	// Kinds are the variant kinds to draw from. Default VariantKinds.
	Kinds []string
	// NumberFamilies is the number of template families of hard
	// negatives, FamilySize stories each. Defaults 40 and 10.
	NumberFamilies, FamilySize int
	// BoilerplateSources is the number of sources whose PerSource
	// stories share the source's boilerplate. Defaults 20 and 10.
	BoilerplateSources, PerSource int
}

// Corpus returns labelled articles for evaluating near-duplicate
// detection: stories with variants of the VariantKinds, each variant
// published after its original, and hard negatives that must never merge.
// Articles of a story are adjacent, original first.
func Corpus(cfg CorpusConfig) ([]Labelled, error) {
	cfg.Stories = cmp.Or(cfg.Stories, 200)
	cfg.Variants = cmp.Or(cfg.Variants, 3)
	if len(cfg.Kinds) == 0 {
		cfg.Kinds = VariantKinds
	}
	cfg.NumberFamilies = cmp.Or(cfg.NumberFamilies, 40)
	cfg.FamilySize = cmp.Or(cfg.FamilySize, 10)
	cfg.BoilerplateSources = cmp.Or(cfg.BoilerplateSources, 20)
	cfg.PerSource = cmp.Or(cfg.PerSource, 10)
	if cfg.Stories < 0 || cfg.Variants < 0 || cfg.FamilySize < 0 || cfg.PerSource < 0 {
		return nil, fmt.Errorf("gen: corpus sizes must not be negative: %+v", cfg)
	}
	now := time.Date(2026, 3, 2, 12, 0, 0, 0, time.UTC)
	g, err := New(Config{Seed: cfg.Seed, BodyBytes: 600, Now: now, IDPrefix: "corpus"})
	if err != nil {
		return nil, err
	}
	// The corpus keeps the stock templates: stories of one category share
	// stock sentences, so its hard negatives (boilerplate posts) and the
	// candidates of its variants are as hard as when it was labelled.
	g.set = &stock
	r := &g.rng
	var out []Labelled
	story := 0
	add := func(m news.Message, kind string) {
		out = append(out, Labelled{Message: m, Story: story, Kind: kind})
	}
	// The generator's stories may share a headline or a lead sentence (and
	// stock sentences after it): two such are not distinct stories.
	leads := map[string]bool{}
	fresh := func() news.Message {
		m := g.Next()
		for tries := 0; (leads[firstSentences(m.Body, 1)] || leads[m.Title]) && tries < 1000; tries++ {
			m = g.Next()
		}
		leads[firstSentences(m.Body, 1)], leads[m.Title] = true, true
		return m
	}
	for i := range cfg.Stories {
		orig := fresh()
		add(orig, KindOriginal)
		for v := range cfg.Variants {
			kind := cfg.Kinds[(i+v)%len(cfg.Kinds)]
			m := variant(orig, kind, r)
			m.ID = fmt.Sprintf("%s:v%d", orig.ID, v)
			m.Source = fmt.Sprintf("tg:repost_%d", r.IntN(50))
			m.PublishedAt = orig.PublishedAt.Add(time.Duration(1+v) * time.Minute)
			add(m, kind)
		}
		story++
	}
	seen := map[string]bool{} // hard negatives are distinct texts
	for f := range cfg.NumberFamilies {
		tpl := numberFamilies[f%len(numberFamilies)]
		for k := 0; k < cfg.FamilySize; {
			body := tpl(r)
			if seen[body] {
				continue
			}
			seen[body] = true
			add(news.Message{ID: fmt.Sprintf("corpus:numbers:%d:%d", f, k), Source: fmt.Sprintf("tg:family_%d", f),
				Body: body, PublishedAt: now.Add(-time.Duration(k) * time.Hour)}, KindNumbers)
			story++
			k++
		}
	}
	for s := range cfg.BoilerplateSources {
		sig := boilerplates[s%len(boilerplates)](s)
		for k := range cfg.PerSource {
			base := fresh()
			body := firstSentences(base.Body, 3) + "\n" + sig
			add(news.Message{ID: fmt.Sprintf("corpus:boilerplate:%d:%d", s, k), Source: fmt.Sprintf("tg:source_%d", s),
				Title: base.Title, Body: body, PublishedAt: base.PublishedAt}, KindBoilerplate)
			story++
		}
	}
	return out, nil
}

// variant returns m changed as kind says.
func variant(m news.Message, kind string, r *rng) news.Message {
	switch kind {
	case KindSignature:
		m.Body += "\n\n" + signatures[r.IntN(len(signatures))](r.IntN(100))
	case KindPrefix:
		m.Title = prefixes[r.IntN(len(prefixes))] + m.Title
	case KindTruncate:
		ss := sentences(m.Body)
		keep := max(1, len(ss)*2/3)
		m.Body = strings.Join(ss[:keep], " ") + "\nRead more: https://news.example.com/" + fmt.Sprint(r.IntN(1e6))
	case KindTypo:
		words := strings.Fields(m.Body)
		for tries := 0; tries < 20; tries++ {
			i := r.IntN(len(words))
			w := words[i]
			if len(w) >= 5 && isLower(w) {
				b := []byte(w)
				j := 1 + r.IntN(len(b)-3)
				b[j], b[j+1] = b[j+1], b[j]
				words[i] = string(b)
				break
			}
		}
		m.Body = strings.Join(words, " ")
	case KindHeadline:
		ss := sentences(m.Body)
		m.Title = strings.TrimSuffix(ss[0], ".")
	case KindStyle:
		m.Title = strings.ReplaceAll(m.Title, "'", "’")
		body := strings.ReplaceAll(m.Body, ". ", ".  ")
		body = strings.ReplaceAll(body, " - ", " — ")
		m.Body = strings.ReplaceAll(body, "'", "’")
	}
	return m
}

func isLower(w string) bool {
	for _, c := range []byte(w) {
		if c < 'a' || c > 'z' {
			return false
		}
	}
	return true
}

// sentences splits a generated body at its sentence ends.
func sentences(body string) []string {
	var out []string
	for s := range strings.SplitSeq(body, ". ") {
		if s = strings.TrimSpace(s); s != "" {
			if !strings.HasSuffix(s, ".") {
				s += "."
			}
			out = append(out, s)
		}
	}
	return out
}

func firstSentences(body string, n int) string {
	ss := sentences(body)
	return strings.Join(ss[:min(n, len(ss))], " ")
}

var signatures = []func(n int) string{
	func(n int) string { return fmt.Sprintf("Subscribe: @newsroom_%d", n) },
	func(n int) string { return fmt.Sprintf("📢 t.me/worldwire%d", n) },
	func(n int) string { return fmt.Sprintf("Follow us: @channel%d | #news", n) },
	func(n int) string { return fmt.Sprintf("Join our channel ➡️ https://t.me/+abc%d", n) },
	func(n int) string { return fmt.Sprintf("Source: @wire%d", n) },
}

var prefixes = []string{"BREAKING: ", "⚡️ ", "🔴 URGENT | ", "UPDATE: ", "❗️❗️ ", "JUST IN — "}

// numberFamilies are templates whose members differ only in numbers.
var numberFamilies = []func(r *rng) string{
	func(r *rng) string {
		return fmt.Sprintf("The central bank set the official dollar exchange rate for tomorrow at %d.%02d roubles, the regulator said on its website. The euro was set at %d.%02d.",
			80+r.IntN(20), r.IntN(100), 90+r.IntN(15), r.IntN(100))
	},
	func(r *rng) string {
		return fmt.Sprintf("Rovers beat United %d-%d in Saturday's league match at the national stadium, with the deciding goal in the %dth minute in front of %d,000 fans.",
			1+r.IntN(5), r.IntN(4), 10+r.IntN(80), 20+r.IntN(50))
	},
	func(r *rng) string {
		return fmt.Sprintf("Weather for the capital on March %d: cloudy with light rain in the afternoon, temperatures from %d to %d degrees, wind %d metres per second from the north-west.",
			1+r.IntN(28), r.IntN(5), 6+r.IntN(8), 2+r.IntN(10))
	},
	func(r *rng) string {
		return fmt.Sprintf("The death toll from the floods in the southern provinces has risen to %d, the emergencies ministry said on Friday, and %d people are still missing as rescuers search villages cut off by the water.",
			10+r.IntN(200), 1+r.IntN(60))
	},
}

// boilerplates are the lines a source appends to every post.
var boilerplates = []func(s int) string{
	func(s int) string {
		return fmt.Sprintf("Subscribe to Daily Wire %d: @dailywire%d\nOur website: https://dailywire%d.example", s, s, s)
	},
	func(s int) string { return fmt.Sprintf("📢 t.me/city_reporter_%d — news first", s) },
	func(s int) string {
		return fmt.Sprintf("Follow @metro%d for more | Send us your tips: tips@metro%d.example", s, s)
	},
	func(s int) string { return fmt.Sprintf("Read more news on our channel: https://t.me/region%d", s) },
}
