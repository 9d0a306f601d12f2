package gen

import (
	"cmp"
	"encoding/binary"
	"fmt"
	"math/bits"
	"slices"
	"strconv"
	"strings"
	"time"

	"newsflow/internal/news"
)

// DefaultSources are the sources used when Config.Sources is empty: Telegram
// channels ("tg:"), RSS feeds ("rss:") and wire agencies ("wire:").
var DefaultSources = []string{
	"tg:worldnews_live", "tg:breaking_alerts", "tg:markets_daily", "tg:tech_insider", "tg:sports_desk",
	"tg:city_reporter", "rss:metro-herald", "rss:daily-chronicle", "rss:tech-ledger", "rss:science-weekly",
	"rss:health-watch", "rss:green-planet", "wire:apex-press", "wire:continental-news", "wire:global-wire",
}

// MaxBodyBytes is the largest BodyBytes, well inside a news message's
// 64 KiB limit.
const MaxBodyBytes = 60 << 10

// Config configures a Generator. Zero fields take the defaults.
type Config struct {
	// Seed selects the sequence. The same Config gives the same messages.
	Seed int64
	// DupContent is the share (0–1) of messages that repost an earlier story:
	// the same title and body (so the same content hash) under a new id and,
	// when there are several sources, another source. Default 0.
	DupContent float64
	// BodyBytes is the approximate body size in bytes; bodies end at the first
	// sentence boundary at or after it. Default 1024; at most MaxBodyBytes.
	BodyBytes int
	// Sources to draw from. Default DefaultSources.
	Sources []string
	// IDPrefix starts every id: "<IDPrefix>:<source>:<n>". Default "gen".
	// Runs with the same prefix reuse ids; give runs that must not collide
	// different prefixes.
	IDPrefix string
	// Now anchors published_at: stories are published in the 6 hours before
	// it. Default time.Now() at New, truncated to the second (set it for
	// fully reproducible timestamps).
	Now time.Time
}

// Validate reports a field out of range.
func (c Config) Validate() error {
	switch {
	case c.DupContent < 0 || c.DupContent > 1:
		return fmt.Errorf("gen: DupContent must be within [0, 1], got %g", c.DupContent)
	case c.BodyBytes < 0 || c.BodyBytes > MaxBodyBytes:
		return fmt.Errorf("gen: BodyBytes must be within [0, %d], got %d", MaxBodyBytes, c.BodyBytes)
	}
	for _, s := range c.Sources {
		if strings.TrimSpace(s) == "" {
			return fmt.Errorf("gen: empty source in Sources %q", c.Sources)
		}
	}
	return nil
}

// Stats counts what a Generator produced so far.
type Stats struct {
	// Messages is the number of messages returned by Next.
	Messages int
	// Unique is the number of distinct stories (content hashes).
	Unique int
	// Reposts is the number of messages that repeat an earlier story.
	Reposts int
}

// story is an earlier unique story that may be reposted.
type story struct {
	title, body string
	category    int
	source      int
	published   time.Time
}

// recentStories bounds the memory of stories eligible for reposts.
const recentStories = 8192

// publishWindow is how far before Config.Now stories are published.
const publishWindow = 6 * time.Hour

// Generator produces messages. It is not safe for concurrent use.
type Generator struct {
	cfg    Config
	set    *templateSet // varied for New, stock for Corpus
	cat    *category    // the category of the story being drawn
	rng    rng
	seq    []int // per-source message counters
	recent []story
	next   int // write position in recent once it is full
	stats  Stats
	buf    []byte
	// bound holds the words the current story drew, by slot and occurrence:
	// every {city} of a story's title and body that is the first {city} of
	// its template names the same city, every second one a second city.
	bound [][]string
	// hashes holds a 64-bit hash of every unique story's title and body, so
	// that a fresh story never repeats an earlier one by chance (about 40
	// bytes per unique story).
	hashes map[uint64]struct{}
}

// New returns a Generator for cfg.
func New(cfg Config) (*Generator, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg.BodyBytes = cmp.Or(cfg.BodyBytes, 1024)
	cfg.IDPrefix = cmp.Or(cfg.IDPrefix, "gen")
	if len(cfg.Sources) == 0 {
		cfg.Sources = DefaultSources
	}
	cfg.Sources = append([]string(nil), cfg.Sources...)
	if cfg.Now.IsZero() {
		cfg.Now = time.Now().Truncate(time.Second)
	}
	cfg.Now = cfg.Now.UTC()
	return &Generator{
		cfg:    cfg,
		set:    &varied,
		rng:    rng{s: uint64(cfg.Seed) ^ 0x6e657773666c6f77}, // "newsflow"
		seq:    make([]int, len(cfg.Sources)),
		buf:    make([]byte, 0, cfg.BodyBytes+512),
		bound:  make([][]string, len(slotNames)),
		hashes: make(map[uint64]struct{}),
	}, nil
}

// Stats returns the counts so far.
func (g *Generator) Stats() Stats { return g.stats }

// Next returns the next message. It always passes news.Message.Validate.
func (g *Generator) Next() news.Message {
	g.stats.Messages++
	if len(g.recent) > 0 && g.cfg.DupContent > 0 && g.rng.Float64() < g.cfg.DupContent {
		g.stats.Reposts++
		return g.repost()
	}
	g.stats.Unique++
	return g.fresh()
}

// maxAttempts bounds the redraws of a story that repeats an earlier one; after
// that a numbered update sentence makes it unique.
const maxAttempts = 20

func (g *Generator) fresh() news.Message {
	var cat int
	var title, body string
	for attempt := 0; ; attempt++ {
		cat = g.pickCategory()
		c := &g.set.categories[cat]
		g.cat = c
		for i := range g.bound {
			g.bound[i] = g.bound[i][:0]
		}
		b := g.buf[:0]
		b = g.fill(b, c.titles[g.rng.IntN(len(c.titles))])
		g.capitalize(b)
		titleLen := len(b)
		b = append(b, '\n')
		bodyStart := len(b)
		var used [2]uint64
		if len(c.ledes) > 0 {
			b = g.fill(b, c.ledes[g.rng.IntN(len(c.ledes))])
		} else {
			b = g.fill(b, g.sentence(c, &used))
			g.capitalize(b[bodyStart:])
		}
		for len(b)-bodyStart < g.cfg.BodyBytes {
			b = append(b, ' ')
			start := len(b)
			b = g.fill(b, g.sentence(c, &used))
			g.capitalize(b[start:])
		}
		if attempt >= maxAttempts {
			b = append(b, " Update "...)
			b = strconv.AppendInt(b, int64(g.stats.Messages), 10)
			b = append(b, '.')
		}
		g.buf = b[:0]
		h := hash64(b)
		if _, dup := g.hashes[h]; dup && attempt <= maxAttempts {
			continue
		}
		g.hashes[h] = struct{}{}
		text := string(b) // one allocation for both
		title, body = text[:titleLen], text[bodyStart:]
		break
	}
	src := g.rng.IntN(len(g.cfg.Sources))

	published := g.cfg.Now.Add(-time.Duration(g.rng.Int64N(int64(publishWindow/time.Second))) * time.Second)
	s := story{title: title, body: body, category: cat, source: src, published: published}
	if len(g.recent) < recentStories {
		g.recent = append(g.recent, s)
	} else {
		g.recent[g.next] = s
		g.next = (g.next + 1) % recentStories
	}
	return g.message(s, src, published)
}

func (g *Generator) repost() news.Message {
	s := g.recent[g.rng.IntN(len(g.recent))]
	src := s.source
	if n := len(g.cfg.Sources); n > 1 {
		src = (s.source + 1 + g.rng.IntN(n-1)) % n // any source but the original's
	}
	published := s.published.Add(time.Duration(1+g.rng.IntN(90)) * time.Minute)
	if published.After(g.cfg.Now) {
		published = g.cfg.Now
	}
	return g.message(s, src, published)
}

func (g *Generator) message(s story, src int, published time.Time) news.Message {
	g.seq[src]++
	n := strconv.Itoa(g.seq[src])
	source := g.cfg.Sources[src]
	lang := "en"
	if g.rng.IntN(20) == 0 {
		lang = "" // some publishers send no language tag
	}
	return news.Message{
		ID:          g.cfg.IDPrefix + ":" + source + ":" + n,
		Source:      source,
		Title:       s.title,
		Body:        s.body,
		URL:         sourceURL(source, g.set.categories[s.category].name, n),
		Lang:        lang,
		PublishedAt: published,
	}
}

// pickCategory draws a category by weight.
func (g *Generator) pickCategory() int {
	cats := g.set.categories
	r := g.rng.IntN(g.set.totalWeight)
	for i := range cats {
		if r < cats[i].weight {
			return i
		}
		r -= cats[i].weight
	}
	return len(cats) - 1
}

// fill appends template t with its slots filled.
func (g *Generator) fill(b []byte, t template) []byte {
	for _, seg := range t {
		if seg.words == nil && seg.special == 0 && seg.phrase == "" {
			b = append(b, seg.lit...)
			continue
		}
		if seg.phrase != "" {
			ts := g.cat.lex[seg.phrase]
			if ts == nil {
				ts = phrases[seg.phrase]
			}
			b = g.fill(b, ts[g.rng.IntN(len(ts))])
			continue
		}
		switch seg.special {
		case slotNum:
			b = strconv.AppendInt(b, int64(2+g.rng.IntN(998)), 10)
		case slotBig:
			b = strconv.AppendInt(b, int64(1+g.rng.IntN(99)), 10)
			b = append(b, ',', byte('0'+g.rng.IntN(10)), '0', '0') // e.g. 42,300
		case slotPct:
			b = strconv.AppendInt(b, int64(g.rng.IntN(15)), 10)
			b = append(b, '.', byte('1'+g.rng.IntN(9)))
		default:
			b = append(b, g.word(seg)...)
		}
	}
	return b
}

// sentence draws the next sentence of a body: from the category's list seven
// times in ten (never if it has none), else from the set's generic one, and
// never one the body already has until both lists are spent. used holds, by
// list, a bit per sentence drawn (the lists are shorter than 64, see the
// package's tests).
func (g *Generator) sentence(c *category, used *[2]uint64) template {
	lists := [2][]template{c.sentences, g.set.generic}
	k := 0
	if len(c.sentences) == 0 || g.rng.IntN(10) >= 7 {
		k = 1
	}
	spent := func(k int) bool { return bits.OnesCount64(used[k]) >= len(lists[k]) }
	if spent(k) {
		if len(lists[1-k]) > 0 {
			k = 1 - k
		}
		if spent(k) {
			used[0], used[1] = 0, 0
		}
	}
	i := g.rng.IntN(len(lists[k]))
	for used[k]&(1<<i) != 0 {
		i = (i + 1) % len(lists[k])
	}
	used[k] |= 1 << i
	return lists[k][i]
}

// word returns the story's word for seg: the one bound to its slot and
// occurrence, else a new draw, distinct from the slot's earlier ones while
// the list has others. A new draw is always the next occurrence: fill draws
// a template's slots in order, so its first {city} is bound before its second.
func (g *Generator) word(seg segment) string {
	bound := g.bound[seg.slot]
	if seg.nth < len(bound) {
		return bound[seg.nth]
	}
	w := seg.words[g.rng.IntN(len(seg.words))]
	for slices.Contains(bound, w) && len(bound) < len(seg.words) {
		w = seg.words[g.rng.IntN(len(seg.words))]
	}
	g.bound[seg.slot] = append(bound, w)
	return w
}

// capitalize upper-cases the first letter of a title or sentence of the
// varied set that starts with a lower-case ASCII letter (a phrase such as
// "the coalition"); the stock set's stay as they always were.
func (g *Generator) capitalize(s []byte) {
	if g.set.sentenceCase && len(s) > 0 && 'a' <= s[0] && s[0] <= 'z' {
		s[0] -= 'a' - 'A'
	}
}

// sourceURL builds a plausible link for a story of source.
func sourceURL(source, category, n string) string {
	kind, name, ok := strings.Cut(source, ":")
	if !ok {
		kind, name = "", source
	}
	switch kind {
	case "tg":
		return "https://t.me/" + name + "/" + n
	case "wire":
		return "https://newswire.example.com/" + name + "/" + category + "/" + n
	default:
		return "https://" + name + ".example.com/" + category + "/" + n
	}
}

// rng is wyrand: a tiny, fast, deterministic generator. Its slight modulo
// bias in IntN does not matter for synthetic news, its speed does (Next must
// run at hundreds of thousands of messages a second).
type rng struct{ s uint64 }

// Uint64 returns the next 64 random bits.
func (r *rng) Uint64() uint64 {
	r.s += 0xa0761d6478bd642f
	hi, lo := bits.Mul64(r.s, r.s^0xe7037ed1a0b428db)
	return hi ^ lo
}

// IntN returns a number in [0, n); n must be > 0.
func (r *rng) IntN(n int) int {
	hi, _ := bits.Mul64(r.Uint64(), uint64(n))
	return int(hi)
}

// Int64N returns a number in [0, n); n must be > 0.
func (r *rng) Int64N(n int64) int64 {
	hi, _ := bits.Mul64(r.Uint64(), uint64(n))
	return int64(hi)
}

// Float64 returns a number in [0, 1).
func (r *rng) Float64() float64 { return float64(r.Uint64()>>11) / (1 << 53) }

// hash64 is a fast, deterministic 64-bit hash of b (it only needs to tell
// generated stories apart, not resist attacks).
func hash64(b []byte) uint64 {
	h := uint64(len(b)) ^ 0x9e3779b97f4a7c15
	for len(b) >= 8 {
		w := binary.LittleEndian.Uint64(b)
		hi, lo := bits.Mul64(h^w, 0xa0761d6478bd642f)
		h = hi ^ lo
		b = b[8:]
	}
	var tail uint64
	for i, c := range b {
		tail |= uint64(c) << (8 * i)
	}
	hi, lo := bits.Mul64(h^tail, 0xe7037ed1a0b428db)
	return hi ^ lo
}
