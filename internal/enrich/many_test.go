package enrich_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"
	"go.uber.org/zap/zaptest"

	"newsflow/internal/cache"
	"newsflow/internal/enrich"
	"newsflow/internal/llm"
	"newsflow/internal/llm/llmtest"
	"newsflow/internal/news"
	"newsflow/internal/redistest"
)

// protocols are the two HTTP providers with their fakes.
var protocols = []struct {
	name      string
	newServer func(llmtest.TB, llmtest.Options) *llmtest.Server
	config    func(s *llmtest.Server) llm.ProviderConfig
}{
	{llm.ProviderGemini, llmtest.NewGeminiServer, func(s *llmtest.Server) llm.ProviderConfig {
		return llm.ProviderConfig{GeminiBaseURL: s.URL, GeminiAPIKey: s.APIKey(), Concurrency: 4}
	}},
	{llm.ProviderOpenAI, llmtest.NewOpenAIServer, func(s *llmtest.Server) llm.ProviderConfig {
		return llm.ProviderConfig{OpenAIBaseURL: s.URL, OpenAIAPIKey: s.APIKey(), Concurrency: 4}
	}},
}

// llmBundle is an Enricher on a real LLM client against a fake server, as
// cmd/worker builds it.
type llmBundle struct {
	e   *enrich.Enricher
	reg *prometheus.Registry
}

// setupLLM builds an Enricher on a Client for provider against fake, on
// its own cache (Redis-backed when rdb is set, under prefix).
func setupLLM(t *testing.T, provider string, pcfg llm.ProviderConfig, k int, rdb redis.UniversalClient, prefix string) *llmBundle {
	t.Helper()
	log := zaptest.NewLogger(t)
	b := &llmBundle{reg: prometheus.NewRegistry()}
	p, err := llm.NewProvider(provider, pcfg)
	if err != nil {
		t.Fatal(err)
	}
	client, err := llm.NewClient(p, llm.ClientConfig{Concurrency: 4}, log, b.reg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(client.Close)
	tiered, err := cache.New(cache.Config{KeyPrefix: prefix}, rdb, log, b.reg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = tiered.Close() })
	call := func(ctx context.Context, m news.Message) (news.Enrichment, news.Usage, error) {
		r, err := client.Enrich(ctx, m)
		return r.Enrichment, r.Usage, err
	}
	many := func(ctx context.Context, ms []news.Message) ([]enrich.Answer, error) {
		rs, err := client.EnrichMany(ctx, ms)
		if err != nil {
			return nil, err
		}
		out := make([]enrich.Answer, len(rs))
		for i, r := range rs {
			out[i] = enrich.Answer{Enrichment: r.Enrichment, Usage: r.Usage, Err: r.Err}
		}
		return out, nil
	}
	prov, model := client.Names()
	b.e, err = enrich.New(enrich.Config{Provider: prov, Model: model, PromptVersion: llm.PromptVersion, Concurrency: 4,
		StoriesPerCall: k, ManyFunc: many}, cacheAdapter{tiered}, call, log, b.reg)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func titles(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("story %02d", i)
	}
	return out
}

// checkExpected checks every row against the fake's deterministic answer.
func checkExpected(t *testing.T, rs []news.Article, model string) {
	t.Helper()
	for _, r := range rs {
		want := llmtest.Expected(r.Title, r.Body)
		want.Model = model
		if d := cmp.Diff(want, r.Enrichment); d != "" {
			t.Errorf("row %s (-want +got):\n%s", r.ID, d)
		}
	}
}

// TestEnrich_ManyPerCall_BadAnswers: a multi-story answer that leaves out,
// botches, reorders, pads or truncates stories still ends with every story
// enriched exactly once: the good ones from the shared answer, the others
// asked for once more alone.
func TestEnrich_ManyPerCall_BadAnswers(t *testing.T) {
	t.Parallel()
	const target = "story 05"
	for _, proto := range protocols {
		for _, tc := range []struct {
			name   string
			mangle llmtest.Mangle
			alone  bool // the target must be asked for again alone
		}{
			{"missing", llmtest.Omit, true},
			{"invalid", llmtest.Invalid, true},
			{"reordered", llmtest.Reorder, false},
			{"extra key", llmtest.ExtraKey, false},
			{"truncated", llmtest.Truncate, true},
		} {
			t.Run(proto.name+"/"+tc.name, func(t *testing.T) {
				t.Parallel()
				s := proto.newServer(t, llmtest.Options{})
				b := setupLLM(t, proto.name, proto.config(s), 4, nil, "")
				s.MangleNext(target, tc.mangle, 1)
				ts := titles(8)
				rs := rows("r", append(ts, ts[:3]...)...) // 11 rows, 8 stories
				if errs := b.e.Enrich(t.Context(), rs); errs != nil {
					t.Fatalf("Enrich: %v (server saw %v)", errs, s.BadRequests())
				}
				checkExpected(t, rs, proto.name+"/"+modelOf(proto.name))
				alone := b.e.Totals().RetriedAlone.Load()
				if got := gather(t, b.reg, "newsflow_enrich_stories_total", "result", "computed"); got != 8 {
					t.Errorf("%v stories computed, want 8 (each exactly once)", got)
				}
				if got, want := s.Stories(), 8+int(alone); got != want {
					t.Errorf("server was asked about %d stories, want 8 + %d asked again alone", got, alone)
				}
				if got := s.CallsFor(target); tc.alone && got != 2 || !tc.alone && got != 1 {
					t.Errorf("target asked for %d times, want %d", got, map[bool]int{true: 2, false: 1}[tc.alone])
				}
				if tc.alone && alone < 1 || !tc.alone && alone != 0 {
					t.Errorf("%d stories retried alone (alone expected: %v)", alone, tc.alone)
				}
				if tc.mangle != llmtest.Truncate {
					for _, title := range ts {
						if title != target && s.CallsFor(title) != 1 {
							t.Errorf("%q asked for %d times, want 1", title, s.CallsFor(title))
						}
					}
				}
				if got := s.Calls(); got >= 8 {
					t.Errorf("%d requests for 8 stories at 4 per call", got)
				}
			})
		}
	}
}

func modelOf(provider string) string {
	if provider == llm.ProviderGemini {
		return llm.DefaultGeminiModel
	}
	return llm.DefaultOpenAIModel
}

// TestEnrich_ManyPerCall_StoryFailsAfterAlone: a story botched in the
// shared answer and again alone fails permanently; the others succeed.
func TestEnrich_ManyPerCall_StoryFailsAfterAlone(t *testing.T) {
	t.Parallel()
	s := llmtest.NewOpenAIServer(t, llmtest.Options{})
	b := setupLLM(t, llm.ProviderOpenAI, protocols[1].config(s), 4, nil, "")
	rs := rows("r", titles(4)...)
	s.MangleNext("story 02", llmtest.Invalid, 2) // in the shared request and alone
	errs := b.e.Enrich(t.Context(), rs)
	if errs == nil || errs[2] == nil {
		t.Fatalf("errs = %v, want one for story 02", errs)
	}
	var p interface{ Permanent() bool }
	if !errors.As(errs[2], &p) || !p.Permanent() {
		t.Errorf("error %v is not permanent", errs[2])
	}
	for i, err := range errs {
		if i != 2 && err != nil {
			t.Errorf("row %d: %v", i, err)
		}
	}
	if got := s.CallsFor("story 02"); got != 2 {
		t.Errorf("story 02 asked for %d times, want 2 (shared, then alone once)", got)
	}
}

// TestEnrich_ManyPerCall_LeasesAcrossWorkers: three workers sharing Redis
// enrich the same stories at the same instant, several per call; each story
// is still asked for once cluster-wide, because a story whose lease another
// worker holds is never sent.
func TestEnrich_ManyPerCall_LeasesAcrossWorkers(t *testing.T) {
	t.Parallel()
	for _, proto := range protocols {
		t.Run(proto.name, func(t *testing.T) {
			t.Parallel()
			s := proto.newServer(t, llmtest.Options{Latency: 30 * time.Millisecond})
			rdb := redistest.Client(t)
			prefix := redistest.Prefix(t, rdb)
			ts := titles(24)
			workers := make([]*llmBundle, 3)
			for i := range workers {
				workers[i] = setupLLM(t, proto.name, proto.config(s), 4, rdb, prefix)
			}
			batches := make([][]news.Article, len(workers))
			var wg sync.WaitGroup
			for i, w := range workers {
				// Each worker sees all 24 stories, in its own order.
				order := append(append([]string{}, ts[8*i:]...), ts[:8*i]...)
				batches[i] = rows(fmt.Sprintf("w%d", i), order...)
				wg.Go(func() {
					if errs := w.e.Enrich(t.Context(), batches[i]); errs != nil {
						t.Errorf("worker %d: %v", i, errs)
					}
				})
			}
			wg.Wait()
			for _, rs := range batches {
				checkExpected(t, rs, proto.name+"/"+modelOf(proto.name))
			}
			for _, title := range ts {
				if got := s.CallsFor(title); got != 1 {
					t.Errorf("%q asked for %d times across 3 workers, want 1", title, got)
				}
			}
			var computed float64
			for _, w := range workers {
				computed += gather(t, w.reg, "newsflow_enrich_stories_total", "result", "computed")
			}
			if computed != 24 || s.Stories() != 24 {
				t.Errorf("%v stories computed, server asked about %d; want 24 and 24", computed, s.Stories())
			}
			if s.Calls() >= 24 {
				t.Errorf("%d requests for 24 stories at up to 4 per call", s.Calls())
			}
		})
	}
}

// TestEnrich_ManyPerCall_ConcurrentBatches: batches enriched at once share
// requests; every story is still asked for once and lands in its own rows.
func TestEnrich_ManyPerCall_ConcurrentBatches(t *testing.T) {
	t.Parallel()
	s := llmtest.NewGeminiServer(t, llmtest.Options{Latency: 20 * time.Millisecond})
	b := setupLLM(t, llm.ProviderGemini, protocols[0].config(s), 8, nil, "")
	ts := titles(30)
	batches := make([][]news.Article, 3)
	var wg sync.WaitGroup
	for i := range batches {
		batches[i] = rows(fmt.Sprintf("b%d", i), ts[10*i:10*i+10]...)
		wg.Go(func() {
			if errs := b.e.Enrich(t.Context(), batches[i]); errs != nil {
				t.Errorf("batch %d: %v", i, errs)
			}
		})
	}
	wg.Wait()
	for _, rs := range batches {
		checkExpected(t, rs, "gemini/"+llm.DefaultGeminiModel)
	}
	for _, title := range ts {
		if got := s.CallsFor(title); got != 1 {
			t.Errorf("%q asked for %d times, want 1", title, got)
		}
	}
	if s.Calls() >= 30 {
		t.Errorf("%d requests for 30 stories at 8 per call", s.Calls())
	}
}

// TestEnrich_ManyPerCall_DroppedStories: a model that drops stories from
// long answers at random costs one request alone per dropped story, and
// every story still ends enriched exactly once.
func TestEnrich_ManyPerCall_DroppedStories(t *testing.T) {
	t.Parallel()
	s := llmtest.NewOpenAIServer(t, llmtest.Options{DropShare: 0.3})
	b := setupLLM(t, llm.ProviderOpenAI, protocols[1].config(s), 8, nil, "")
	rs := rows("r", titles(40)...)
	if errs := b.e.Enrich(t.Context(), rs); errs != nil {
		t.Fatalf("Enrich: %v", errs)
	}
	checkExpected(t, rs, "openai/"+llm.DefaultOpenAIModel)
	alone := b.e.Totals().RetriedAlone.Load()
	if alone == 0 || s.Stories() != 40+int(alone) {
		t.Errorf("%d retried alone, server asked about %d stories; want > 0 and 40 + retried", alone, s.Stories())
	}
	if got := gather(t, b.reg, "newsflow_enrich_stories_total", "result", "computed"); got != 40 {
		t.Errorf("%v stories computed, want 40", got)
	}
}
