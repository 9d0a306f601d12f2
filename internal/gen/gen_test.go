package gen_test

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"newsflow/internal/gen"
	"newsflow/internal/llm"
	"newsflow/internal/news"
)

var now = time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)

func mustNew(t testing.TB, cfg gen.Config) *gen.Generator {
	t.Helper()
	if cfg.Now.IsZero() {
		cfg.Now = now
	}
	g, err := gen.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return g
}

func take(g *gen.Generator, n int) []news.Message {
	ms := make([]news.Message, n)
	for i := range ms {
		ms[i] = g.Next()
	}
	return ms
}

func TestGenerator_SameSeedSameSequence(t *testing.T) {
	t.Parallel()
	for _, cfg := range []gen.Config{
		{Seed: 1},
		{Seed: 42, DupContent: 0.3},
		{Seed: -7, DupContent: 0.9, BodyBytes: 200, Sources: []string{"tg:a", "rss:b"}},
	} {
		a, b := take(mustNew(t, cfg), 500), take(mustNew(t, cfg), 500)
		if diff := cmp.Diff(a, b); diff != "" {
			t.Fatalf("config %+v: sequences differ (-first +second):\n%s", cfg, diff)
		}
	}
	a, b := take(mustNew(t, gen.Config{Seed: 1}), 50), take(mustNew(t, gen.Config{Seed: 2}), 50)
	if cmp.Equal(a, b) {
		t.Fatal("seeds 1 and 2 gave the same sequence")
	}
}

// TestGenerator_BodyEndsAtFirstSentenceAfterBodyBytes: a body is whole
// sentences, the last the first to reach BodyBytes.
func TestGenerator_BodyEndsAtFirstSentenceAfterBodyBytes(t *testing.T) {
	t.Parallel()
	for _, size := range []int{1, 200, 1024, 5000} {
		g := mustNew(t, gen.Config{Seed: int64(size), BodyBytes: size})
		for i := range 300 {
			b := g.Next().Body
			last := strings.LastIndex(b, ". ") + 1 // the end of the sentence before the last, or 0
			if len(b) < size || !strings.HasSuffix(b, ".") || last >= size {
				t.Fatalf("BodyBytes %d, message %d: a body of %d bytes whose next-to-last sentence ends at %d:\n%s", size, i, len(b), last, b)
			}
		}
	}
}

func TestGenerator_RepostShare(t *testing.T) {
	t.Parallel()
	const n = 20000
	for _, dup := range []float64{0, 0.05, 0.2, 0.5, 0.9} {
		// Short bodies keep this fast under -race; the content is compared
		// directly (ContentHash is tested in RepostsComeFromOtherSources).
		g := mustNew(t, gen.Config{Seed: 3, DupContent: dup, BodyBytes: 64})
		seen := map[string]string{} // title+body → first source
		reposts := 0
		ids := map[string]bool{}
		for range n {
			m := g.Next()
			if ids[m.ID] {
				t.Fatalf("DupContent %g: id %q repeated", dup, m.ID)
			}
			ids[m.ID] = true
			h := m.Title + "\x00" + m.Body
			if _, ok := seen[h]; ok {
				reposts++
			} else {
				seen[h] = m.Source
			}
		}
		st := g.Stats()
		if st.Messages != n || st.Unique+st.Reposts != n {
			t.Fatalf("DupContent %g: Stats %+v do not add up to %d", dup, st, n)
		}
		if st.Unique != len(seen) || st.Reposts != reposts {
			t.Fatalf("DupContent %g: Stats %+v, but content hashes say unique %d, reposts %d", dup, st, len(seen), reposts)
		}
		if got := float64(reposts) / n; got < dup-0.015 || got > dup+0.015 {
			t.Errorf("DupContent %g: repost share %.4f, want within ±0.015", dup, got)
		}
	}
}

func TestGenerator_RepostsComeFromOtherSources(t *testing.T) {
	t.Parallel()
	g := mustNew(t, gen.Config{Seed: 5, DupContent: 0.5})
	first := map[news.Hash]news.Message{}
	for range 2000 {
		m := g.Next()
		h := m.ContentHash()
		orig, ok := first[h]
		if !ok {
			first[h] = m
			continue
		}
		if m.Title != orig.Title || m.Body != orig.Body {
			t.Fatalf("repost %s changes the content of %s", m.ID, orig.ID)
		}
		if m.ID == orig.ID || m.Source == orig.Source {
			t.Fatalf("repost %s (source %s) of %s (source %s): want a new id and another source", m.ID, m.Source, orig.ID, orig.Source)
		}
	}
}

func TestGenerator_MessagesValidAndRealistic(t *testing.T) {
	t.Parallel()
	g := mustNew(t, gen.Config{Seed: 9, DupContent: 0.2})
	langs := map[string]int{}
	sources := map[string]bool{}
	for i := range 1000 {
		m := g.Next()
		if err := m.Validate(); err != nil {
			t.Fatalf("message %d %+v: %v", i, m, err)
		}
		b, err := m.MarshalJSON()
		if err != nil {
			t.Fatal(err)
		}
		d, err := news.Decode(b)
		if err != nil {
			t.Fatalf("message %d does not decode: %v\n%s", i, err, b)
		}
		if !d.PublishedAt.Equal(m.PublishedAt) {
			t.Fatalf("published_at %v does not survive encoding: %v", m.PublishedAt, d.PublishedAt)
		}
		if want := "gen:" + m.Source + ":"; !strings.HasPrefix(m.ID, want) {
			t.Fatalf("id %q, want prefix %q", m.ID, want)
		}
		if len(m.Body) < 1024 || len(m.Body) > 1024+400 {
			t.Fatalf("body of %d bytes, want about 1 KiB", len(m.Body))
		}
		if m.PublishedAt.After(now) || m.PublishedAt.Before(now.Add(-8*time.Hour)) {
			t.Fatalf("published_at %v not within the hours before %v", m.PublishedAt, now)
		}
		if !strings.HasPrefix(m.URL, "https://") {
			t.Fatalf("url %q", m.URL)
		}
		langs[m.Lang]++
		sources[m.Source] = true
	}
	if langs["en"] < 900 {
		t.Errorf("lang counts %v: want mostly en", langs)
	}
	if len(sources) != len(gen.DefaultSources) {
		t.Errorf("used %d sources, want all %d", len(sources), len(gen.DefaultSources))
	}
}

// The offline enricher should put most generated stories in the category
// they were generated for (which the rss/wire URLs carry).
func TestGenerator_OfflineEnricherAgreesOnCategory(t *testing.T) {
	t.Parallel()
	g := mustNew(t, gen.Config{Seed: 11, Sources: []string{"rss:feed", "wire:agency"}})
	const n = 300 // the offline enricher is slow under -race
	agree := 0
	perCat := map[string]int{}
	for range n {
		m := g.Next()
		parts := strings.Split(m.URL, "/")
		want := parts[len(parts)-2]
		if !news.ValidCategory(want) {
			t.Fatalf("url %q carries no category", m.URL)
		}
		perCat[want]++
		if got := llm.OfflineEnrichment(m).Category; got == want {
			agree++
		} else if testing.Verbose() {
			t.Logf("%s: offline says %s: %s", want, got, m.Title)
		}
	}
	if agree < n*9/10 {
		t.Errorf("offline enricher agrees on %d of %d categories, want ≥ 90%%", agree, n)
	}
	for _, c := range news.Categories {
		if perCat[c] == 0 {
			t.Errorf("no story of category %s in %d", c, n)
		}
	}
}

func TestConfig_Validate(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		cfg  gen.Config
		want string // substring of the error, "" for none
	}{
		{gen.Config{}, ""},
		{gen.Config{DupContent: 1}, ""},
		{gen.Config{DupContent: -0.1}, "DupContent"},
		{gen.Config{DupContent: 1.5}, "DupContent"},
		{gen.Config{BodyBytes: -1}, "BodyBytes"},
		{gen.Config{Sources: []string{"a", " "}}, "source"},
	} {
		_, err := gen.New(tc.cfg)
		if (err == nil) != (tc.want == "") || (err != nil && !strings.Contains(err.Error(), tc.want)) {
			t.Errorf("New(%+v) = %v, want error containing %q", tc.cfg, err, tc.want)
		}
	}
}

func BenchmarkGenerator_Next(b *testing.B) {
	g := mustNew(b, gen.Config{Seed: 1, DupContent: 0.2})
	n, bytes := 0, 0
	for b.Loop() {
		m := g.Next()
		n++
		bytes += len(m.Body)
	}
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "msgs/s")
	b.SetBytes(int64(bytes / max(n, 1)))
}
