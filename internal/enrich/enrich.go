// Package enrich is the worker's enrichment stage: it gives every article of
// a batch its summary, category, importance and language while paying for
// each unique story at most once.
//
// Per batch it dedupes articles by story id (near-duplicate reposts share
// one; the content hash when it is unset), looks every unique story up
// in the cache (one round trip for the whole batch), and calls the LLM for the
// remaining stories with bounded concurrency, through the cache's cluster-wide
// single-flight so that two workers seeing the same story at the same instant
// make one call between them.
//
// With a ManyFunc and StoriesPerCall K > 1, the stories this process is to
// compute (it holds their leases) are gathered into requests of up to K
// stories, across the batches being enriched at once: a group is sent when
// it is full, when no story of any batch can still join it, or gatherWait
// after its first story arrived (a story waiting on another worker's lease
// never holds a group back). A story the answer left out or got wrong is
// asked for once more alone, then fails as a single call would; the others
// of the request succeed. Each story keeps its own lease, and a request's
// tokens are split over its stories by their share of the input, so what the
// cache records and the savings it counts are per story as before.
//
// It declares what it needs of the cache and of the LLM and imports neither.
// Enrich is safe for concurrent use by several batches.
package enrich

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"newsflow/internal/news"
	"newsflow/internal/tracing"
)

// Cache is what the stage needs of the two-tier cache.
type Cache interface {
	// GetMany returns the values found for keys, in one round trip per tier.
	GetMany(ctx context.Context, keys []string) (map[string][]byte, error)
	// Do returns the value for key, computing it with fn at most once across
	// the cluster; computed reports whether this call ran fn (which then
	// returned before Do did).
	Do(ctx context.Context, key string, fn func(context.Context) ([]byte, error)) (val []byte, computed bool, err error)
}

// CallFunc enriches one story through the LLM.
type CallFunc func(ctx context.Context, m news.Message) (news.Enrichment, news.Usage, error)

// Answer is one story's outcome in a multi-story call.
type Answer struct {
	Enrichment news.Enrichment
	// Usage is the story's share of the call's tokens.
	Usage news.Usage
	// Err says the answer missed or botched this story; the stage asks for
	// it once more alone.
	Err error
}

// ManyFunc enriches several stories in one LLM request. It returns one
// Answer per story, in order, or an error for the whole call.
type ManyFunc func(ctx context.Context, ms []news.Message) ([]Answer, error)

// Stories per LLM request.
const (
	// DefaultStoriesPerCall is StoriesPerCall's default: on the benchmark's
	// fake provider (latency per token, 600 requests/min) K = 8 bills a
	// quarter of K = 1's input tokens per story and runs 8 times as fast;
	// K = 16 saves a fifth more input but doubles each request's output,
	// its latency and what one bad answer costs (go run ./bench --llm-only).
	DefaultStoriesPerCall = 8
	// MaxStoriesPerCall bounds StoriesPerCall.
	MaxStoriesPerCall = 20
	// gatherWait is the longest a group of stories waits for more to join
	// before it is sent anyway.
	gatherWait = 100 * time.Millisecond
)

// Config configures the stage.
type Config struct {
	// Provider and Model name the LLM; with PromptVersion they are part of the
	// cache key, so changing any of them never serves stale answers.
	Provider, Model, PromptVersion string
	// Concurrency bounds the LLM calls one batch makes at once, when one
	// story goes per call; at least 1. The worker sets it to the LLM
	// client's Concurrency.
	Concurrency int
	// StoriesPerCall is the most stories one LLM request carries, from 1
	// to MaxStoriesPerCall, when ManyFunc is set (the worker's default is
	// DefaultStoriesPerCall); ignored without a ManyFunc.
	StoriesPerCall int
	// ManyFunc, when set, sends several stories per request (see the
	// package doc); nil: one call per story through the CallFunc.
	ManyFunc ManyFunc
	// Prices, when set, turn the tokens the stage saved into money
	// (newsflow_llm_cost_saved_total); the worker passes the LLM client's.
	// Zero: not counted.
	Prices news.Prices
}

// Enricher runs the stage. Create it with New.
type Enricher struct {
	cfg     Config
	cache   Cache
	call    CallFunc
	log     *zap.Logger
	metrics *metrics
	totals  Totals
	gather  *gather // nil: one story per call
}

// Totals are the stage's running counts since start.
type Totals struct {
	// Stories counts unique stories looked up (per batch).
	Stories atomic.Int64
	// Calls counts the LLM requests this process made.
	Calls atomic.Int64
	// RetriedAlone counts stories asked for again alone because a
	// multi-story answer left them out or got them wrong.
	RetriedAlone atomic.Int64
	// CallsSaved counts the calls avoided by batch dedupe, the cache and
	// single-flight.
	CallsSaved atomic.Int64
	// TokensUsed and TokensSaved count LLM tokens spent and avoided.
	TokensUsed, TokensSaved atomic.Int64
	// CostUsed and CostSaved are money spent and avoided, at the configured
	// prices; read them with Cost.
	costMu              sync.Mutex
	costUsed, costSaved float64
}

// Cost returns the money spent on LLM calls and the money the stage saved,
// at the configured prices (0 when unset).
func (t *Totals) Cost() (used, saved float64) {
	t.costMu.Lock()
	defer t.costMu.Unlock()
	return t.costUsed, t.costSaved
}

func (t *Totals) addCostSaved(c float64) {
	t.costMu.Lock()
	t.costSaved += c
	t.costMu.Unlock()
}

func (t *Totals) addCostUsed(c float64) {
	t.costMu.Lock()
	t.costUsed += c
	t.costMu.Unlock()
}

// MetricCallsSaved counts the LLM calls the stage avoided, by what avoided
// them (batch, cache, singleflight); the console's sampler reads it.
const MetricCallsSaved = "newsflow_llm_calls_saved_total"

type metrics struct {
	stories     *prometheus.CounterVec
	callsSaved  *prometheus.CounterVec
	tokensSaved prometheus.Counter
	costSaved   prometheus.Counter
	alone       prometheus.Counter
	perCall     prometheus.Histogram
}

// cachedValue is what the cache stores per story: the enrichment and the
// tokens it cost, so a hit knows how many tokens it saved.
type cachedValue struct {
	news.Enrichment
	InputTokens       int `json:"tokens_in"`
	CachedInputTokens int `json:"tokens_in_cached,omitempty"`
	OutputTokens      int `json:"tokens_out"`
}

func (v cachedValue) usage() news.Usage {
	return news.Usage{InputTokens: v.InputTokens, CachedInputTokens: v.CachedInputTokens, OutputTokens: v.OutputTokens}
}

// New returns an Enricher. reg may be nil.
func New(cfg Config, cache Cache, call CallFunc, log *zap.Logger, reg prometheus.Registerer) (*Enricher, error) {
	if log == nil {
		log = zap.NewNop()
	}
	if cfg.Concurrency < 1 {
		return nil, fmt.Errorf("enrich: Concurrency must be ≥ 1, got %d", cfg.Concurrency)
	}
	if cfg.ManyFunc != nil && (cfg.StoriesPerCall < 1 || cfg.StoriesPerCall > MaxStoriesPerCall) {
		return nil, fmt.Errorf("enrich: StoriesPerCall must be from 1 to %d, got %d", MaxStoriesPerCall, cfg.StoriesPerCall)
	}
	if err := cfg.Prices.Validate(); err != nil {
		return nil, fmt.Errorf("enrich: %w", err)
	}
	if cache == nil || call == nil {
		return nil, fmt.Errorf("enrich: a cache and a call function are required")
	}
	m := &metrics{
		stories: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "newsflow_enrich_stories_total",
			Help: "Unique stories per batch by how their enrichment was obtained: cache, computed (LLM call here), shared (another worker's call), failed.",
		}, []string{"result"}),
		callsSaved: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: MetricCallsSaved,
			Help: "LLM calls avoided, by what avoided them: batch (duplicate in the batch), cache, singleflight.",
		}, []string{"by"}),
		tokensSaved: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "newsflow_llm_tokens_saved_total",
			Help: "LLM tokens avoided by batch dedupe, the cache and single-flight.",
		}),
		costSaved: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "newsflow_llm_cost_saved_total",
			Help: "Money the avoided LLM calls would have cost, at the configured prices per 1000 tokens (0 when unset).",
		}),
		alone: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "newsflow_llm_stories_retried_alone_total",
			Help: "Stories asked for again in a request of their own because a multi-story answer left them out or got them wrong.",
		}),
		perCall: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "newsflow_llm_stories_per_call",
			Help:    "Stories per LLM request the stage made.",
			Buckets: []float64{1, 2, 4, 8, 12, 16, 20},
		}),
	}
	for _, r := range []string{"cache", "computed", "shared", "failed"} {
		m.stories.WithLabelValues(r)
	}
	for _, b := range []string{"batch", "cache", "singleflight"} {
		m.callsSaved.WithLabelValues(b)
	}
	if reg != nil {
		reg.MustRegister(m.stories, m.callsSaved, m.tokensSaved, m.costSaved, m.alone, m.perCall)
	}
	e := &Enricher{cfg: cfg, cache: cache, call: call, log: log.Named("enrich"), metrics: m}
	if cfg.ManyFunc != nil && cfg.StoriesPerCall > 1 {
		e.gather = &gather{e: e}
	}
	return e, nil
}

// Totals returns the running counts.
func (e *Enricher) Totals() *Totals { return &e.totals }

// Key returns the cache key of a story: SHA-256 over provider, model, prompt
// version and the story's id (the content hash, a hash of the normalised
// title and body, of the story's first article), hex encoded.
func (e *Enricher) Key(h news.Hash) string {
	s := sha256.New()
	for _, part := range []string{e.cfg.Provider, e.cfg.Model, e.cfg.PromptVersion} {
		s.Write([]byte(part))
		s.Write([]byte{0})
	}
	s.Write(h[:])
	var k news.Hash
	s.Sum(k[:0])
	return k.String()
}

// story is one unique story of a batch and the rows that carry it.
type story struct {
	id   news.Hash // the rows' StoryID, or ContentHash where it is unset
	key  string
	rows []int
}

// Enrich sets the Enrichment of every row, which must have ContentHash set.
// Rows sharing a StoryID (or, where it is unset, a ContentHash) are one
// story: enriched once, from the first of them. It returns nil when all succeeded, else one error per row (nil for rows that
// were enriched). The errors wrap the LLM client's, so the caller can tell
// an outage from a story that cannot be enriched.
func (e *Enricher) Enrich(ctx context.Context, rows []news.Article) []error {
	byHash := make(map[news.Hash]*story, len(rows))
	stories := make([]*story, 0, len(rows))
	for i := range rows {
		h := rows[i].StoryOr(rows[i].ContentHash)
		if s, ok := byHash[h]; ok {
			s.rows = append(s.rows, i)
			continue
		}
		s := &story{id: h, key: e.Key(h), rows: []int{i}}
		byHash[h] = s
		stories = append(stories, s)
	}
	e.totals.Stories.Add(int64(len(stories)))

	keys := make([]string, len(stories))
	for i, s := range stories {
		keys[i] = s.key
	}
	lctx, span := tracing.Child(ctx, "cache.lookup")
	found, err := e.cache.GetMany(lctx, keys)
	if err != nil {
		// The cache degrades to its memory tier by itself; a failed lookup only
		// means more of the stories go to single-flight below.
		e.log.Debug("cache lookup failed", zap.Int("keys", len(keys)), zap.Error(err))
	}
	if span.IsRecording() {
		span.SetAttributes(tracing.NewsflowStories.Int(len(stories)), tracing.NewsflowCacheHits.Int(len(found)),
			tracing.NewsflowCacheMisses.Int(len(stories)-len(found)))
		tracing.Fail(span, err)
	}
	span.End()

	g := e.gather
	slots := e.cfg.Concurrency
	if g != nil {
		misses := 0
		for _, s := range stories {
			if _, ok := found[s.key]; !ok {
				misses++
			}
		}
		g.expect(misses)
		// Every story may wait in a group at once: a story held back here
		// would leave the group before it to go out part-full on the timer.
		// The LLM client bounds the requests in flight.
		slots = max(slots, len(stories))
	}
	var (
		errs    []error
		errsMu  sync.Mutex
		wg      sync.WaitGroup
		sem     = make(chan struct{}, slots)
		setErrs = func(s *story, err error) {
			errsMu.Lock()
			defer errsMu.Unlock()
			if errs == nil {
				errs = make([]error, len(rows))
			}
			for _, i := range s.rows {
				errs[i] = err
			}
		}
	)
	for _, s := range stories {
		raw, hit := found[s.key]
		if hit {
			if v, err := decodeValue(raw); err == nil {
				e.apply(rows, s, v, "cache")
				continue
			}
			e.log.Debug("undecodable cache entry", zap.String("cache_key", s.key))
		}
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			var v cachedValue
			var computed bool
			var err error
			if g != nil && !hit {
				v, computed, err = g.fetch(ctx, rows[s.rows[0]].Message, s.key)
			} else {
				v, computed, err = e.fetch(ctx, rows[s.rows[0]].Message, s.key)
			}
			if err != nil {
				e.metrics.stories.WithLabelValues("failed").Inc()
				setErrs(s, fmt.Errorf("enrich story %s: %w", s.id.String()[:12], err))
				return
			}
			by := "singleflight"
			if computed {
				by = ""
			}
			e.apply(rows, s, v, by)
		}()
	}
	wg.Wait()
	return errs
}

// fetch gets one story's enrichment through the cache's single-flight,
// calling the LLM when this process is the one to compute it.
func (e *Enricher) fetch(ctx context.Context, m news.Message, key string) (cachedValue, bool, error) {
	var mine cachedValue // the value our own call computed, set before Do returns
	raw, computed, err := e.cache.Do(ctx, key, func(ctx context.Context) ([]byte, error) {
		v, err := e.callLLM(ctx, m)
		if err != nil {
			return nil, err
		}
		mine = v
		return json.Marshal(v)
	})
	if err != nil {
		return cachedValue{}, false, err
	}
	if computed {
		// No need to decode what was just encoded: with the offline
		// enricher the JSON decoding cost 60 % as much as the enrichment
		// itself (go run ./bench --embedded-only --cpuprofile).
		return mine, true, nil
	}
	v, err := decodeValue(raw)
	if err != nil {
		// The cache holds a value that does not decode (corrupt, or written
		// by an incompatible version). It would fail the story on every
		// delivery until it expires: ask the LLM directly instead.
		e.log.Warn("undecodable cache entry, calling the LLM directly", zap.String("cache_key", key), zap.Error(err))
		v, err = e.callLLM(ctx, m)
		return v, true, err
	}
	return v, false, nil
}

// callLLM makes one LLM call and counts it.
func (e *Enricher) callLLM(ctx context.Context, m news.Message) (cachedValue, error) {
	enr, usage, err := e.call(ctx, m)
	if err != nil {
		return cachedValue{}, err
	}
	e.metrics.perCall.Observe(1)
	e.countCall(usage)
	return newValue(enr, usage), nil
}

// countCall counts one LLM request and its tokens.
func (e *Enricher) countCall(u news.Usage) {
	e.totals.Calls.Add(1)
	e.totals.TokensUsed.Add(int64(u.InputTokens + u.OutputTokens))
	e.totals.addCostUsed(e.cfg.Prices.Cost(u))
}

func newValue(enr news.Enrichment, u news.Usage) cachedValue {
	return cachedValue{Enrichment: enr, InputTokens: u.InputTokens, CachedInputTokens: u.CachedInputTokens, OutputTokens: u.OutputTokens}
}

// apply copies v into every row of s and counts what it saved. by is how the
// value was obtained without a call of our own ("" when we made the call).
func (e *Enricher) apply(rows []news.Article, s *story, v cachedValue, by string) {
	for _, i := range s.rows {
		rows[i].Enrichment = v.Enrichment
	}
	tokens := int64(v.InputTokens + v.OutputTokens)
	saved := int64(len(s.rows) - 1) // duplicates inside the batch
	if saved > 0 {
		e.metrics.callsSaved.WithLabelValues("batch").Add(float64(saved))
	}
	switch by {
	case "":
		e.metrics.stories.WithLabelValues("computed").Inc()
	case "cache":
		e.metrics.stories.WithLabelValues("cache").Inc()
		e.metrics.callsSaved.WithLabelValues("cache").Inc()
		saved++
	default:
		e.metrics.stories.WithLabelValues("shared").Inc()
		e.metrics.callsSaved.WithLabelValues("singleflight").Inc()
		saved++
	}
	e.totals.CallsSaved.Add(saved)
	e.totals.TokensSaved.Add(saved * tokens)
	e.metrics.tokensSaved.Add(float64(saved * tokens))
	if saved > 0 {
		cost := float64(saved) * e.cfg.Prices.Cost(v.usage())
		e.metrics.costSaved.Add(cost)
		e.totals.addCostSaved(cost)
	}
}

func decodeValue(raw []byte) (cachedValue, error) {
	var v cachedValue
	if err := json.Unmarshal(raw, &v); err != nil {
		return v, fmt.Errorf("enrich: decode cached value: %w", err)
	}
	return v, nil
}
