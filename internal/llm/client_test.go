package llm_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"
	"go.uber.org/zap/zaptest/observer"

	"newsflow/internal/llm"
	"newsflow/internal/llm/llmtest"
	"newsflow/internal/news"
)

// fastRetries keeps backoff short so retry tests take milliseconds.
var fastRetries = llm.ClientConfig{MaxRetries: llm.DefaultMaxRetries, BreakerFailures: llm.DefaultBreakerFailures,
	RetryBaseDelay: time.Millisecond, RetryMaxDelay: 5 * time.Millisecond}

func newClient(t *testing.T, p llm.Provider, cfg llm.ClientConfig) (*llm.Client, *prometheus.Registry) {
	t.Helper()
	reg := prometheus.NewRegistry()
	c, err := llm.NewClient(p, cfg, zaptest.NewLogger(t), reg)
	if err != nil {
		t.Fatalf("NewClient: %v", err)
	}
	t.Cleanup(c.Close)
	return c, reg
}

// metric returns the value of the counter, gauge or histogram count named
// name whose labels include labels (name, value pairs).
func metric(t *testing.T, reg *prometheus.Registry, name string, labels ...string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	next:
		for _, m := range mf.GetMetric() {
			for i := 0; i+1 < len(labels); i += 2 {
				if !hasLabel(m, labels[i], labels[i+1]) {
					continue next
				}
			}
			switch {
			case m.Counter != nil:
				return m.GetCounter().GetValue()
			case m.Gauge != nil:
				return m.GetGauge().GetValue()
			case m.Histogram != nil:
				return float64(m.GetHistogram().GetSampleCount())
			}
		}
	}
	return 0
}

func hasLabel(m *dto.Metric, name, value string) bool {
	for _, l := range m.GetLabel() {
		if l.GetName() == name && l.GetValue() == value {
			return true
		}
	}
	return false
}

func TestClient_RetryThenSuccess(t *testing.T) {
	t.Parallel()
	forEachProtocol(t, llmtest.Options{}, func(t *testing.T, s *llmtest.Server, p llm.Provider) {
		c, reg := newClient(t, p, fastRetries)
		s.FailNext(2, 503, "")
		res, err := c.Enrich(t.Context(), story("flaky"))
		if err != nil {
			t.Fatalf("Enrich: %v", err)
		}
		if res.Enrichment.Summary == "" || s.Calls() != 3 {
			t.Errorf("got %+v after %d calls, want an enrichment after 3", res, s.Calls())
		}
		for outcome, want := range map[string]float64{"ok": 1, "retry": 2, "error": 0} {
			if got := metric(t, reg, "newsflow_llm_calls_total", "outcome", outcome); got != want {
				t.Errorf("calls{outcome=%s} = %v, want %v", outcome, got, want)
			}
		}
		if got := metric(t, reg, "newsflow_llm_call_seconds"); got != 3 {
			t.Errorf("latency observations = %v, want 3", got)
		}
	})
}

func TestClient_GiveUpAfterMaxRetries(t *testing.T) {
	t.Parallel()
	forEachProtocol(t, llmtest.Options{}, func(t *testing.T, s *llmtest.Server, p llm.Provider) {
		cfg := fastRetries
		cfg.MaxRetries = 2
		c, reg := newClient(t, p, cfg)
		s.FailNext(10, 500, "")
		_, err := c.Enrich(t.Context(), story("down"))
		var se *llm.StatusError
		if !errors.As(err, &se) || se.StatusCode != 500 {
			t.Fatalf("err = %v, want the last 500", err)
		}
		var perm interface{ Permanent() bool }
		if errors.As(err, &perm) && perm.Permanent() {
			t.Errorf("exhausted retries reported as permanent: %v", err)
		}
		if s.Calls() != 3 || metric(t, reg, "newsflow_llm_calls_total", "outcome", "error") != 1 {
			t.Errorf("calls = %d, want 3 attempts and one error", s.Calls())
		}
	})
}

func TestClient_RetryAfterHonoured(t *testing.T) {
	t.Parallel()
	forEachProtocol(t, llmtest.Options{}, func(t *testing.T, s *llmtest.Server, p llm.Provider) {
		c, _ := newClient(t, p, fastRetries)
		s.FailNext(1, 429, "1")
		start := time.Now()
		if _, err := c.Enrich(t.Context(), story("busy")); err != nil {
			t.Fatalf("Enrich: %v", err)
		}
		if d := time.Since(start); d < time.Second {
			t.Errorf("retried after %s, want ≥ 1s (Retry-After: 1)", d)
		}
		if s.Calls() != 2 {
			t.Errorf("calls = %d, want 2", s.Calls())
		}
	})
}

func TestClient_PermanentNotRetried(t *testing.T) {
	t.Parallel()
	for _, proto := range protocols {
		t.Run(proto.name, func(t *testing.T) {
			t.Parallel()
			s := proto.newServer(t, llmtest.Options{})
			core, logs := observer.New(zap.ErrorLevel)
			c, err := llm.NewClient(proto.newProvider(t, s, "bad-key"), fastRetries, zap.New(core), nil)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			for range 3 {
				_, err := c.Enrich(t.Context(), story("x"))
				if !errors.Is(err, llm.ErrAuth) {
					t.Fatalf("err = %v, want ErrAuth", err)
				}
			}
			if s.Calls() != 3 {
				t.Errorf("calls = %d, want 3 (no retries)", s.Calls())
			}
			if n := logs.FilterMessageSnippet("API key").Len(); n != 1 {
				t.Errorf("logged %d API key lines, want 1: %v", n, logs.All())
			}
			if c.BreakerOpen() {
				t.Errorf("breaker opened before BreakerFailures (5) calls")
			}

			s.FailNext(1, 400, "")
			p := proto.newProvider(t, s, s.APIKey())
			c2, _ := newClient(t, p, fastRetries)
			_, err = c2.Enrich(t.Context(), story("bad request"))
			var perm interface{ Permanent() bool }
			if !errors.As(err, &perm) || !perm.Permanent() || s.CallsFor("bad request") != 1 {
				t.Errorf("400: err = %v after %d calls, want permanent after 1", err, s.CallsFor("bad request"))
			}
		})
	}
}

func TestClient_BreakerOpensAndCloses(t *testing.T) {
	t.Parallel()
	s := llmtest.NewGeminiServer(t, llmtest.Options{})
	p := protocols[0].newProvider(t, s, s.APIKey())
	cfg := fastRetries
	cfg.MaxRetries = 0
	cfg.BreakerFailures = 2
	cfg.BreakerCooldown = 50 * time.Millisecond
	c, reg := newClient(t, p, cfg)
	ctx := t.Context()

	s.FailNext(3, 503, "") // two to open, one for the first probe
	for range 2 {
		if _, err := c.Enrich(ctx, story("x")); err == nil {
			t.Fatal("Enrich succeeded against a failing server")
		}
	}
	if !c.BreakerOpen() || metric(t, reg, "newsflow_llm_breaker_open") != 1 {
		t.Fatal("breaker not open after 2 failures")
	}
	if _, err := c.Enrich(ctx, story("x")); !errors.Is(err, llm.ErrBreakerOpen) {
		t.Fatalf("err = %v, want ErrBreakerOpen", err)
	}
	if s.Calls() != 2 || metric(t, reg, "newsflow_llm_breaker_rejections_total") != 1 {
		t.Errorf("open breaker let a call through: %d calls", s.Calls())
	}

	// Half-open: one probe goes, fails, and the breaker opens again.
	if err := c.WaitReady(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Enrich(ctx, story("x")); err == nil || errors.Is(err, llm.ErrBreakerOpen) {
		t.Fatalf("probe: err = %v, want the server's 503", err)
	}
	if !c.BreakerOpen() || s.Calls() != 3 {
		t.Fatalf("after a failed probe: open = %t, calls = %d; want true, 3", c.BreakerOpen(), s.Calls())
	}

	// The next probe succeeds and closes it.
	if err := c.WaitReady(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Enrich(ctx, story("x")); err != nil {
		t.Fatalf("probe: %v", err)
	}
	if c.BreakerOpen() || metric(t, reg, "newsflow_llm_breaker_open") != 0 {
		t.Error("breaker still open after a successful probe")
	}
	if err := c.WaitReady(ctx); err != nil {
		t.Errorf("WaitReady on a closed breaker: %v", err)
	}
}

func TestClient_WaitReadyHonoursContext(t *testing.T) {
	t.Parallel()
	s := llmtest.NewOpenAIServer(t, llmtest.Options{})
	cfg := fastRetries
	cfg.MaxRetries = 0
	cfg.BreakerFailures = 1
	cfg.BreakerCooldown = time.Hour
	c, _ := newClient(t, protocols[1].newProvider(t, s, s.APIKey()), cfg)
	s.FailNext(1, 503, "")
	_, _ = c.Enrich(t.Context(), story("x"))
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Millisecond)
	defer cancel()
	if err := c.WaitReady(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("WaitReady = %v, want DeadlineExceeded", err)
	}
}

func TestClient_RequestRateLimit(t *testing.T) {
	t.Parallel()
	// 600/min = 10/s with a burst of 10: 15 calls need ≥ 0.5 s.
	c, _ := newClient(t, llm.NewOffline(), llm.ClientConfig{RequestsPerMinute: 600, Concurrency: 15})
	start := time.Now()
	var wg sync.WaitGroup
	for range 15 {
		wg.Go(func() {
			if _, err := c.Enrich(t.Context(), story("x")); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if d := time.Since(start); d < 400*time.Millisecond {
		t.Errorf("15 calls at 600/min took %s, want ≥ 0.4s", d)
	}
}

func TestClient_Concurrency(t *testing.T) {
	t.Parallel()
	s := llmtest.NewOpenAIServer(t, llmtest.Options{Latency: 20 * time.Millisecond})
	c, _ := newClient(t, protocols[1].newProvider(t, s, s.APIKey()), llm.ClientConfig{Concurrency: 3})
	var wg sync.WaitGroup
	for range 12 {
		wg.Go(func() {
			if _, err := c.Enrich(t.Context(), story("x")); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if got := s.MaxInFlight(); got > 3 {
		t.Errorf("server saw %d calls at once, want ≤ 3", got)
	}
}

func TestClient_KeepAlive(t *testing.T) {
	t.Parallel()
	forEachProtocol(t, llmtest.Options{}, func(t *testing.T, s *llmtest.Server, p llm.Provider) {
		c, _ := newClient(t, p, llm.ClientConfig{Concurrency: 4})
		jobs := make(chan int, 50)
		for i := range 50 {
			jobs <- i
		}
		close(jobs)
		var wg sync.WaitGroup
		for range 8 {
			wg.Go(func() {
				for i := range jobs {
					if _, err := c.Enrich(t.Context(), story(fmt.Sprint("story ", i))); err != nil {
						t.Error(err)
					}
				}
			})
		}
		wg.Wait()
		if s.Calls() != 50 {
			t.Fatalf("calls = %d", s.Calls())
		}
		if got := s.NewConns(); got > 4 {
			t.Errorf("%d calls at concurrency 4 opened %d connections, want ≤ 4", s.Calls(), got)
		}
	})
}

func TestClient_ContextCancel(t *testing.T) {
	t.Parallel()
	forEachProtocol(t, llmtest.Options{Latency: 10 * time.Second}, func(t *testing.T, s *llmtest.Server, p llm.Provider) {
		c, _ := newClient(t, p, llm.DefaultClientConfig())
		ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
		defer cancel()
		start := time.Now()
		_, err := c.Enrich(ctx, story("slow"))
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("err = %v, want DeadlineExceeded", err)
		}
		if d := time.Since(start); d > 2*time.Second {
			t.Errorf("returned after %s, want promptly", d)
		}
		if c.BreakerOpen() {
			t.Error("a cancelled call counted against the breaker")
		}
	})
}

func TestClient_ContextCancelDuringBackoff(t *testing.T) {
	t.Parallel()
	forEachProtocol(t, llmtest.Options{}, func(t *testing.T, s *llmtest.Server, p llm.Provider) {
		c, _ := newClient(t, p, llm.DefaultClientConfig())
		s.FailNext(1, 503, "30")
		ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
		defer cancel()
		start := time.Now()
		if _, err := c.Enrich(ctx, story("x")); !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("err = %v, want DeadlineExceeded", err)
		}
		if d := time.Since(start); d > 2*time.Second {
			t.Errorf("returned after %s, want promptly", d)
		}
	})
}

func TestClient_PerCallTimeout(t *testing.T) {
	t.Parallel()
	forEachProtocol(t, llmtest.Options{Latency: 10 * time.Second}, func(t *testing.T, s *llmtest.Server, p llm.Provider) {
		cfg := fastRetries
		cfg.Timeout = 100 * time.Millisecond
		cfg.MaxRetries = 1
		c, reg := newClient(t, p, cfg)
		_, err := c.Enrich(t.Context(), story("x"))
		var perm interface{ Permanent() bool }
		if err == nil || (errors.As(err, &perm) && perm.Permanent()) || !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("err = %v, want a retryable timeout", err)
		}
		// Count attempts on the client's side: on a loaded machine the second
		// request may time out before the server has read it.
		if r, e := metric(t, reg, "newsflow_llm_calls_total", "outcome", "retry"), metric(t, reg, "newsflow_llm_calls_total", "outcome", "error"); r != 1 || e != 1 {
			t.Errorf("calls{retry} = %v, calls{error} = %v; want 1, 1", r, e)
		}
	})
}

func TestClient_TokensAndCost(t *testing.T) {
	t.Parallel()
	s := llmtest.NewGeminiServer(t, llmtest.Options{})
	c, reg := newClient(t, protocols[0].newProvider(t, s, s.APIKey()),
		llm.ClientConfig{Prices: news.Prices{PerKInput: 0.3, PerKOutput: 2.5, PerKInputCached: 0.075}, TokensPerMinute: 1_000_000})
	for _, title := range []string{"a", "b", "c"} {
		if _, err := c.Enrich(t.Context(), story(title)); err != nil {
			t.Fatal(err)
		}
	}
	in, out := s.Tokens()
	if got := metric(t, reg, "newsflow_llm_tokens_total", "direction", "input"); got != float64(in) {
		t.Errorf("input tokens = %v, want %d", got, in)
	}
	if got := metric(t, reg, "newsflow_llm_tokens_total", "direction", "output"); got != float64(out) {
		t.Errorf("output tokens = %v, want %d", got, out)
	}
	cached := s.CachedTokens()
	if got := metric(t, reg, "newsflow_llm_tokens_total", "direction", "input_cached"); got != float64(cached) || cached == 0 {
		t.Errorf("cached input tokens = %v, want %d (> 0: the second and third calls share the prefix)", got, cached)
	}
	want := (float64(in-cached)*0.3 + float64(cached)*0.075 + float64(out)*2.5) / 1000
	if got := metric(t, reg, "newsflow_llm_cost_total"); got < want*0.999 || got > want*1.001 {
		t.Errorf("cost = %v, want %v", got, want)
	}
}

func TestClientConfig_Validate(t *testing.T) {
	t.Parallel()
	for _, cfg := range []llm.ClientConfig{
		{RequestsPerMinute: -1}, {TokensPerMinute: -1}, {Concurrency: -2}, {Timeout: -time.Second},
		{RetryBaseDelay: time.Minute, RetryMaxDelay: time.Second}, {BreakerCooldown: -1}, {Prices: news.Prices{PerKInput: -1}},
		{MaxRetries: -1}, {BreakerFailures: -1},
	} {
		if _, err := llm.NewClient(llm.NewOffline(), cfg, nil, nil); err == nil {
			t.Errorf("NewClient(%+v) accepted an invalid config", cfg)
		}
	}
}

func TestClient_SharedRegistry(t *testing.T) {
	t.Parallel()
	reg := prometheus.NewRegistry()
	for range 2 {
		if _, err := llm.NewClient(llm.NewOffline(), llm.DefaultClientConfig(), nil, reg); err != nil {
			t.Fatalf("second client on one registry: %v", err)
		}
	}
}

// TestClient_EnrichMany: several stories go in one request, which counts
// once against the request limit and with all its tokens; a 503 is retried
// like any call; per-story usage adds up to what the server reported.
func TestClient_EnrichMany(t *testing.T) {
	t.Parallel()
	forEachProtocol(t, llmtest.Options{}, func(t *testing.T, s *llmtest.Server, p llm.Provider) {
		c, reg := newClient(t, p, fastRetries)
		s.FailNext(1, 503, "")
		ms := []news.Message{story("c"), story("a"), story("b"), story("d")}
		s.MangleNext("b", llmtest.Omit, 1)
		rs, err := c.EnrichMany(t.Context(), ms)
		if err != nil {
			t.Fatalf("EnrichMany: %v", err)
		}
		var sum news.Usage
		for i, r := range rs {
			sum = sum.Add(r.Usage)
			if ms[i].Title == "b" {
				var pe *llm.ParseError
				if !errors.As(r.Err, &pe) {
					t.Errorf("story b: err = %v, want a *ParseError", r.Err)
				}
				continue
			}
			want := llmtest.Expected(ms[i].Title, ms[i].Body)
			want.Model = p.Model()
			if r.Err != nil || r.Enrichment != want {
				t.Errorf("story %s: %+v, %v; want %+v", ms[i].Title, r.Enrichment, r.Err, want)
			}
			if r.Usage.InputTokens == 0 || r.Usage.OutputTokens == 0 {
				t.Errorf("story %s: usage %+v, want a share of the call's", ms[i].Title, r.Usage)
			}
		}
		in, out := s.Tokens()
		if sum != (news.Usage{InputTokens: in, OutputTokens: out, CachedInputTokens: s.CachedTokens()}) {
			t.Errorf("story usages add up to %+v, server reported in %d out %d", sum, in, out)
		}
		if s.Calls() != 2 || s.Stories() != 8 {
			t.Errorf("%d requests about %d stories, want 2 (a 503, then the retry) about 8", s.Calls(), s.Stories())
		}
		if got := metric(t, reg, "newsflow_llm_calls_total", "outcome", "ok"); got != 1 {
			t.Errorf("ok calls = %v, want 1", got)
		}
		if got := metric(t, reg, "newsflow_llm_tokens_total", "direction", "input"); got != float64(in) {
			t.Errorf("input tokens = %v, want %d", got, in)
		}
	})
}
