package enrich_test

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap/zaptest"

	"newsflow/internal/cache"
	"newsflow/internal/enrich"
	"newsflow/internal/news"
)

// cacheAdapter fits cache.Tiered to enrich.Cache, as cmd/worker does.
type cacheAdapter struct{ t *cache.Tiered }

func (a cacheAdapter) GetMany(ctx context.Context, keys []string) (map[string][]byte, error) {
	return a.t.GetMany(ctx, keys)
}

func (a cacheAdapter) Do(ctx context.Context, key string, fn func(context.Context) ([]byte, error)) ([]byte, bool, error) {
	v, src, err := a.t.Do(ctx, key, fn)
	return v, src == cache.SourceComputed, err
}

// usage is what every fake call costs.
var usage = news.Usage{InputTokens: 10, OutputTokens: 5}

// counter is a CallFunc that counts calls per title and answers a
// deterministic enrichment; titles in fail get that error instead.
type counter struct {
	mu       sync.Mutex
	calls    map[string]int
	fail     map[string]error
	inFlight int
	maxIn    int
	gate     chan struct{} // non-nil: each call waits for it to be closed
	started  chan string   // non-nil: each call announces its title here
}

func newCounter() *counter { return &counter{calls: map[string]int{}, fail: map[string]error{}} }

func (c *counter) call(ctx context.Context, m news.Message) (news.Enrichment, news.Usage, error) {
	c.mu.Lock()
	c.calls[m.Title]++
	c.inFlight++
	c.maxIn = max(c.maxIn, c.inFlight)
	err := c.fail[m.Title]
	gate, started := c.gate, c.started
	c.mu.Unlock()
	defer func() {
		c.mu.Lock()
		c.inFlight--
		c.mu.Unlock()
	}()
	if started != nil {
		started <- m.Title
	}
	if gate != nil {
		select {
		case <-gate:
		case <-ctx.Done():
			return news.Enrichment{}, news.Usage{}, ctx.Err()
		}
	}
	if err != nil {
		return news.Enrichment{}, news.Usage{}, err
	}
	return answer(m.Title), usage, nil
}

func (c *counter) total() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for _, v := range c.calls {
		n += v
	}
	return n
}

func (c *counter) callsFor(title string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.calls[title]
}

func answer(title string) news.Enrichment {
	return news.Enrichment{Summary: "about " + title, Category: news.Categories[len(title)%len(news.Categories)],
		Importance: len(title), Language: "en", Model: "fake/model"}
}

type bundle struct {
	e     *enrich.Enricher
	calls *counter
	reg   *prometheus.Registry
}

// setup returns an Enricher on a fresh in-process cache (no Redis) and a
// counting CallFunc.
func setup(t *testing.T, cfg enrich.Config) *bundle {
	t.Helper()
	log := zaptest.NewLogger(t)
	tiered, err := cache.New(cache.Config{}, nil, log, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = tiered.Close() })
	return setupWith(t, cfg, cacheAdapter{tiered})
}

func setupWith(t *testing.T, cfg enrich.Config, c enrich.Cache) *bundle {
	t.Helper()
	if cfg.Provider == "" {
		cfg.Provider, cfg.Model, cfg.PromptVersion = "fake", "model", "v1"
	}
	b := &bundle{calls: newCounter(), reg: prometheus.NewRegistry()}
	var err error
	if cfg.Concurrency == 0 {
		cfg.Concurrency = 16
	}
	b.e, err = enrich.New(cfg, c, b.calls.call, zaptest.NewLogger(t), b.reg)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// rows returns one article per title, in order, with ids prefix:i.
func rows(prefix string, titles ...string) []news.Article {
	out := make([]news.Article, len(titles))
	for i, title := range titles {
		m := news.Message{ID: fmt.Sprintf("%s:%d", prefix, i), Source: "s", Title: title, Body: "body of " + title}
		out[i] = news.Article{Message: m, ContentHash: m.ContentHash()}
	}
	return out
}

// tenRowsThreeStories has 10 rows carrying 3 stories.
var tenRowsThreeStories = []string{"a", "b", "a", "c", "a", "b", "c", "c", "a", "b"}

func checkEnriched(t *testing.T, rs []news.Article) {
	t.Helper()
	for _, r := range rs {
		if diff := cmp.Diff(answer(r.Title), r.Enrichment); diff != "" {
			t.Errorf("row %s (-want +got):\n%s", r.ID, diff)
		}
	}
}

func TestEnrich_DedupeInBatch(t *testing.T) {
	t.Parallel()
	b := setup(t, enrich.Config{})
	rs := rows("r", tenRowsThreeStories...)
	if errs := b.e.Enrich(t.Context(), rs); errs != nil {
		t.Fatalf("Enrich: %v", errs)
	}
	checkEnriched(t, rs)
	if got := b.calls.total(); got != 3 {
		t.Fatalf("%d calls for 3 unique stories in 10 rows, want 3", got)
	}
	for _, title := range []string{"a", "b", "c"} {
		if n := b.calls.callsFor(title); n != 1 {
			t.Errorf("%d calls for story %q, want 1", n, title)
		}
	}
}

// TestEnrich_DedupeByStoryID: rows of different texts sharing a story id
// (near-duplicates) are one story, enriched once from the first row, in the
// batch and through the cache in a later batch.
func TestEnrich_DedupeByStoryID(t *testing.T) {
	t.Parallel()
	b := setup(t, enrich.Config{})
	rs := rows("r", "a", "a, reworded", "b", "a, signed")
	for _, i := range []int{1, 3} {
		rs[i].StoryID = rs[0].ContentHash
	}
	if errs := b.e.Enrich(t.Context(), rs); errs != nil {
		t.Fatalf("Enrich: %v", errs)
	}
	if got := b.calls.total(); got != 2 {
		t.Fatalf("%d calls for 2 stories in 4 rows, want 2", got)
	}
	for _, i := range []int{1, 3} {
		if diff := cmp.Diff(answer("a"), rs[i].Enrichment); diff != "" {
			t.Errorf("row %d, a variant of a (-want +got):\n%s", i, diff)
		}
	}
	later := rows("s", "a, shortened")
	later[0].StoryID = rs[0].ContentHash
	if errs := b.e.Enrich(t.Context(), later); errs != nil {
		t.Fatalf("Enrich: %v", errs)
	}
	if got := b.calls.total(); got != 2 || later[0].Enrichment != answer("a") {
		t.Fatalf("a later variant: %d calls (want 2), enrichment %+v", got, later[0].Enrichment)
	}
}

// TestEnrich_CachedOnSecondBatch: the same stories under new ids cost no
// call; the totals and metrics count what the batch dedupe and the cache
// saved, calls and tokens.
func TestEnrich_CachedOnSecondBatch(t *testing.T) {
	t.Parallel()
	b := setup(t, enrich.Config{})
	if errs := b.e.Enrich(t.Context(), rows("first", tenRowsThreeStories...)); errs != nil {
		t.Fatalf("first Enrich: %v", errs)
	}
	second := rows("second", tenRowsThreeStories...)
	if errs := b.e.Enrich(t.Context(), second); errs != nil {
		t.Fatalf("second Enrich: %v", errs)
	}
	checkEnriched(t, second)
	if got := b.calls.total(); got != 3 {
		t.Fatalf("%d calls after the second batch, want still 3", got)
	}

	perCall := int64(usage.InputTokens + usage.OutputTokens)
	tot := b.e.Totals()
	got := map[string]int64{
		"stories": tot.Stories.Load(), "calls": tot.Calls.Load(), "calls_saved": tot.CallsSaved.Load(),
		"tokens_used": tot.TokensUsed.Load(), "tokens_saved": tot.TokensSaved.Load(),
	}
	want := map[string]int64{
		"stories":      6,      // 3 per batch
		"calls":        3,      // first batch only
		"calls_saved":  7 + 10, // 7 in-batch duplicates, then all 10 rows of the second batch
		"tokens_used":  3 * perCall,
		"tokens_saved": (7 + 10) * perCall,
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Totals (-want +got):\n%s", diff)
	}

	metric := func(name string, labels ...string) float64 {
		t.Helper()
		return gather(t, b.reg, name, labels...)
	}
	gotM := map[string]float64{
		"saved_batch":  metric("newsflow_llm_calls_saved_total", "by", "batch"),
		"saved_cache":  metric("newsflow_llm_calls_saved_total", "by", "cache"),
		"saved_sf":     metric("newsflow_llm_calls_saved_total", "by", "singleflight"),
		"computed":     metric("newsflow_enrich_stories_total", "result", "computed"),
		"cache":        metric("newsflow_enrich_stories_total", "result", "cache"),
		"failed":       metric("newsflow_enrich_stories_total", "result", "failed"),
		"tokens_saved": metric("newsflow_llm_tokens_saved_total"),
	}
	wantM := map[string]float64{
		"saved_batch": 14, "saved_cache": 3, "saved_sf": 0,
		"computed": 3, "cache": 3, "failed": 0,
		"tokens_saved": float64((7 + 10) * perCall),
	}
	if diff := cmp.Diff(wantM, gotM); diff != "" {
		t.Errorf("metrics (-want +got):\n%s", diff)
	}
}

// gather returns the value of the counter name with the given label pair
// (none: an unlabelled counter).
func gather(t *testing.T, reg *prometheus.Registry, name string, labels ...string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			if len(labels) == 2 {
				match := false
				for _, lp := range m.GetLabel() {
					match = match || (lp.GetName() == labels[0] && lp.GetValue() == labels[1])
				}
				if !match {
					continue
				}
			}
			return m.GetCounter().GetValue()
		}
	}
	t.Fatalf("metric %s %v not found", name, labels)
	return 0
}

type permanentErr struct{ msg string }

func (e permanentErr) Error() string   { return e.msg }
func (e permanentErr) Permanent() bool { return true }

// TestEnrich_ErrorsAlignedWithRows: a story that fails gives its error to
// exactly its rows, keeps the cause (and its Permanent behaviour) in the
// chain, is not cached, and does not stop the other stories.
func TestEnrich_ErrorsAlignedWithRows(t *testing.T) {
	t.Parallel()
	b := setup(t, enrich.Config{})
	outage := errors.New("service unavailable")
	b.calls.fail["b"] = permanentErr{"answer does not parse"}
	b.calls.fail["c"] = outage
	rs := rows("r", tenRowsThreeStories...)
	errs := b.e.Enrich(t.Context(), rs)
	if len(errs) != len(rs) {
		t.Fatalf("got %d errors for %d rows", len(errs), len(rs))
	}
	for i, r := range rs {
		err := errs[i]
		var p interface{ Permanent() bool }
		switch r.Title {
		case "a":
			if err != nil {
				t.Errorf("row %d (story a): %v, want nil", i, err)
			}
			if diff := cmp.Diff(answer("a"), r.Enrichment); diff != "" {
				t.Errorf("row %d (-want +got):\n%s", i, diff)
			}
		case "b":
			if !errors.As(err, &p) || !p.Permanent() {
				t.Errorf("row %d (story b): %v, want a permanent error", i, err)
			}
		case "c":
			if !errors.Is(err, outage) || (errors.As(err, &p) && p.Permanent()) {
				t.Errorf("row %d (story c): %v, want the outage error, not permanent", i, err)
			}
		}
		if r.Title != "a" && r.Enrichment != (news.Enrichment{}) {
			t.Errorf("row %d of failed story %q has an enrichment: %+v", i, r.Title, r.Enrichment)
		}
	}
	if got := gather(t, b.reg, "newsflow_enrich_stories_total", "result", "failed"); got != 2 {
		t.Errorf("failed stories = %v, want 2", got)
	}

	// Failures are not cached: once the LLM answers, the stories enrich.
	b.calls.mu.Lock()
	clear(b.calls.fail)
	b.calls.mu.Unlock()
	again := rows("again", tenRowsThreeStories...)
	if errs := b.e.Enrich(t.Context(), again); errs != nil {
		t.Fatalf("Enrich after recovery: %v", errs)
	}
	checkEnriched(t, again)
	for title, want := range map[string]int{"a": 1, "b": 2, "c": 2} {
		if got := b.calls.callsFor(title); got != want {
			t.Errorf("calls for %q = %d, want %d", title, got, want)
		}
	}
}

// TestEnrich_ConcurrentBatchesOneCall: two batches enriching the same story
// at once share one call.
func TestEnrich_ConcurrentBatchesOneCall(t *testing.T) {
	t.Parallel()
	b := setup(t, enrich.Config{})
	b.calls.gate = make(chan struct{})
	b.calls.started = make(chan string, 10)
	var wg sync.WaitGroup
	var results [2][]news.Article
	var errsSeen atomic.Int32
	for i := range results {
		results[i] = rows(fmt.Sprintf("batch%d", i), "same", "same")
	}
	wg.Go(func() {
		if errs := b.e.Enrich(t.Context(), results[0]); errs != nil {
			errsSeen.Add(1)
		}
	})
	<-b.calls.started // the first batch's call is in flight
	wg.Go(func() {
		if errs := b.e.Enrich(t.Context(), results[1]); errs != nil {
			errsSeen.Add(1)
		}
	})
	close(b.calls.gate)
	wg.Wait()
	if errsSeen.Load() != 0 {
		t.Fatal("Enrich failed")
	}
	checkEnriched(t, results[0])
	checkEnriched(t, results[1])
	if got := b.calls.total(); got != 1 {
		t.Fatalf("%d calls for one story in two concurrent batches, want 1", got)
	}
	if got := b.e.Totals().CallsSaved.Load(); got != 3 {
		t.Errorf("calls saved = %d, want 3 (one duplicate per batch, one shared call)", got)
	}
}

// TestEnrich_ConcurrencyBound: one batch never has more than Concurrency
// calls in flight.
func TestEnrich_ConcurrencyBound(t *testing.T) {
	t.Parallel()
	b := setup(t, enrich.Config{Concurrency: 2})
	titles := make([]string, 20)
	for i := range titles {
		titles[i] = fmt.Sprintf("story %d", i)
	}
	rs := rows("r", titles...)
	if errs := b.e.Enrich(t.Context(), rs); errs != nil {
		t.Fatalf("Enrich: %v", errs)
	}
	checkEnriched(t, rs)
	if b.calls.maxIn > 2 || b.calls.total() != 20 {
		t.Fatalf("%d calls, at most %d at once; want 20 calls, at most 2 at once", b.calls.total(), b.calls.maxIn)
	}
}

// garbageCache answers every GetMany with an undecodable value.
type garbageCache struct{ enrich.Cache }

func (g garbageCache) GetMany(_ context.Context, keys []string) (map[string][]byte, error) {
	out := map[string][]byte{}
	for _, k := range keys {
		out[k] = []byte("{not json")
	}
	return out, nil
}

// TestEnrich_UndecodableCacheEntry: a cache entry that does not decode is
// treated as a miss, not served and not an error.
func TestEnrich_UndecodableCacheEntry(t *testing.T) {
	t.Parallel()
	tiered, err := cache.New(cache.Config{}, nil, zaptest.NewLogger(t), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = tiered.Close() })
	b := setupWith(t, enrich.Config{}, garbageCache{cacheAdapter{tiered}})
	rs := rows("r", "x", "y")
	if errs := b.e.Enrich(t.Context(), rs); errs != nil {
		t.Fatalf("Enrich: %v", errs)
	}
	checkEnriched(t, rs)
	if got := b.calls.total(); got != 2 {
		t.Fatalf("%d calls, want 2", got)
	}
}

// TestEnricher_Key: the key is stable, hex SHA-256, and changes with the
// provider, the model, the prompt version and the story.
func TestEnricher_Key(t *testing.T) {
	t.Parallel()
	tiered, err := cache.New(cache.Config{}, nil, zaptest.NewLogger(t), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = tiered.Close() })
	key := func(cfg enrich.Config, m news.Message) string {
		cfg.Concurrency = 1
		e, err := enrich.New(cfg, cacheAdapter{tiered}, newCounter().call, zaptest.NewLogger(t), nil)
		if err != nil {
			t.Fatal(err)
		}
		return e.Key(m.ContentHash())
	}
	base := enrich.Config{Provider: "gemini", Model: "gemini-2.5-flash", PromptVersion: "v1"}
	story := news.Message{ID: "1", Source: "s", Title: "Title", Body: "Body"}
	k := key(base, story)
	if len(k) != 64 || strings.Trim(k, "0123456789abcdef") != "" {
		t.Fatalf("key %q is not 64 hex digits", k)
	}
	repost := news.Message{ID: "2", Source: "other", URL: "https://x", Title: "  title ", Body: "BODY"}
	if got := key(base, repost); got != k {
		t.Errorf("a repost (other id, source, case, spacing) has key %s, want %s", got, k)
	}
	if got := key(base, story); got != k {
		t.Errorf("key not stable: %s then %s", k, got)
	}
	for name, tt := range map[string]struct {
		cfg enrich.Config
		m   news.Message
	}{
		"provider":       {enrich.Config{Provider: "openai", Model: base.Model, PromptVersion: base.PromptVersion}, story},
		"model":          {enrich.Config{Provider: base.Provider, Model: "gemini-2.5-pro", PromptVersion: base.PromptVersion}, story},
		"prompt version": {enrich.Config{Provider: base.Provider, Model: base.Model, PromptVersion: "v2"}, story},
		"title":          {base, news.Message{ID: "1", Source: "s", Title: "Title 2", Body: "Body"}},
		"body":           {base, news.Message{ID: "1", Source: "s", Title: "Title", Body: "Body 2"}},
		// The parts are delimited: moving a character from one to the next changes the key.
		"boundary": {enrich.Config{Provider: "gemin", Model: "igemini-2.5-flash", PromptVersion: base.PromptVersion}, story},
	} {
		if got := key(tt.cfg, tt.m); got == k {
			t.Errorf("changing the %s keeps the key %s", name, k)
		}
	}
}

func TestNew_Invalid(t *testing.T) {
	t.Parallel()
	tiered, err := cache.New(cache.Config{}, nil, zaptest.NewLogger(t), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = tiered.Close() })
	call := newCounter().call
	for name, tt := range map[string]struct {
		cfg  enrich.Config
		c    enrich.Cache
		call enrich.CallFunc
	}{
		"negative concurrency": {enrich.Config{Concurrency: -1}, cacheAdapter{tiered}, call},
		"no cache":             {enrich.Config{}, nil, call},
		"no call":              {enrich.Config{}, cacheAdapter{tiered}, nil},
	} {
		if _, err := enrich.New(tt.cfg, tt.c, tt.call, zaptest.NewLogger(t), nil); err == nil {
			t.Errorf("%s: New accepted it", name)
		}
	}
}

// TestNew_RegistersMetrics: the stage's metrics are on the registry passed
// in, every label value present from the start.
func TestNew_RegistersMetrics(t *testing.T) {
	t.Parallel()
	b := setup(t, enrich.Config{})
	mfs, err := b.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]int{}
	for _, mf := range mfs {
		got[mf.GetName()] = len(mf.GetMetric())
	}
	want := map[string]int{"newsflow_enrich_stories_total": 4, "newsflow_llm_calls_saved_total": 3, "newsflow_llm_tokens_saved_total": 1, "newsflow_llm_cost_saved_total": 1,
		"newsflow_llm_stories_per_call": 1, "newsflow_llm_stories_retried_alone_total": 1}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("series per metric (-want +got):\n%s", diff)
	}
}

// TestEnrich_CorruptCacheEntry: a value in the cache that does not decode
// (corrupt, or written by an incompatible version) must not fail its story
// until it expires: the story is enriched by a direct call.
func TestEnrich_CorruptCacheEntry(t *testing.T) {
	t.Parallel()
	tiered, err := cache.New(cache.Config{}, nil, zaptest.NewLogger(t), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = tiered.Close() })
	b := setupWith(t, enrich.Config{}, cacheAdapter{tiered})
	rs := rows("r", "x", "y", "x")
	if _, _, err := tiered.Do(t.Context(), b.e.Key(rs[0].ContentHash), func(context.Context) ([]byte, error) {
		return []byte(`{"summary": 42`), nil
	}); err != nil {
		t.Fatal(err)
	}
	for round := range 2 {
		if errs := b.e.Enrich(t.Context(), rs); errs != nil {
			t.Fatalf("round %d: Enrich: %v", round, errs)
		}
		checkEnriched(t, rs)
	}
	if got := b.calls.callsFor("x"); got != 2 {
		t.Errorf("%d calls for the story with the corrupt entry, want one per batch (2)", got)
	}
	if got := b.calls.callsFor("y"); got != 1 {
		t.Errorf("%d calls for the other story, want 1", got)
	}
}

// TestEnrich_CostSaved: with prices set, the tokens spent and saved turn
// into money, in Totals and in newsflow_llm_cost_saved_total.
func TestEnrich_CostSaved(t *testing.T) {
	t.Parallel()
	b := setup(t, enrich.Config{Prices: news.Prices{PerKInput: 0.5, PerKOutput: 2}})
	for _, prefix := range []string{"first", "second"} {
		if errs := b.e.Enrich(t.Context(), rows(prefix, tenRowsThreeStories...)); errs != nil {
			t.Fatalf("Enrich: %v", errs)
		}
	}
	perCall := (float64(usage.InputTokens)*0.5 + float64(usage.OutputTokens)*2) / 1000
	used, saved := b.e.Totals().Cost()
	if want := 3 * perCall; math.Abs(used-want) > 1e-9 {
		t.Errorf("cost used %g, want %g", used, want)
	}
	if want := (7 + 10) * perCall; math.Abs(saved-want) > 1e-9 {
		t.Errorf("cost saved %g, want %g", saved, want)
	}
	if got := gather(t, b.reg, "newsflow_llm_cost_saved_total"); math.Abs(got-saved) > 1e-9 {
		t.Errorf("newsflow_llm_cost_saved_total = %g, want %g", got, saved)
	}
}
