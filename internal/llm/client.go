package llm

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/otel/trace"
	"go.uber.org/zap"
	"golang.org/x/time/rate"

	"newsflow/internal/backoff"
	"newsflow/internal/news"
	"newsflow/internal/tracing"
)

// maxRetryAfter caps how long a server's Retry-After is honoured.
const maxRetryAfter = 5 * time.Minute

// Defaults of ClientConfig.
const (
	DefaultConcurrency     = 8
	DefaultTimeout         = 30 * time.Second
	DefaultMaxRetries      = 3
	DefaultRetryBaseDelay  = 500 * time.Millisecond
	DefaultRetryMaxDelay   = 30 * time.Second
	DefaultBreakerFailures = 5
	DefaultBreakerCooldown = 30 * time.Second
)

// DefaultClientConfig returns the default configuration.
func DefaultClientConfig() ClientConfig {
	return ClientConfig{Concurrency: DefaultConcurrency, Timeout: DefaultTimeout, MaxRetries: DefaultMaxRetries,
		RetryBaseDelay: DefaultRetryBaseDelay, RetryMaxDelay: DefaultRetryMaxDelay,
		BreakerFailures: DefaultBreakerFailures, BreakerCooldown: DefaultBreakerCooldown}
}

// ClientConfig bounds and protects the calls a Client makes. Where zero has
// a meaning (RequestsPerMinute, TokensPerMinute, MaxRetries,
// BreakerFailures, prices) it is honoured; the other fields take their
// Default* in NewClient when zero, and Validate rejects a zero.
type ClientConfig struct {
	// RequestsPerMinute limits calls started per minute, bursting up to one
	// second's worth. Default 0: unlimited.
	RequestsPerMinute int
	// TokensPerMinute limits tokens per minute, estimated before each call as
	// about a quarter of the prompt's bytes plus a typical answer, and
	// corrected by the reported usage afterwards. Bursts up to ten seconds'
	// worth. Default 0: unlimited.
	TokensPerMinute int
	// Concurrency is the most calls in flight at once. Default DefaultConcurrency.
	Concurrency int
	// Timeout bounds one attempt (one HTTP request, or two on a parse
	// retry). Default DefaultTimeout.
	Timeout time.Duration
	// MaxRetries is how often a call is retried after a 429, a 5xx, a
	// network error or a timeout; 0: never. DefaultClientConfig sets
	// DefaultMaxRetries.
	MaxRetries int
	// RetryBaseDelay is the first retry's backoff, doubled per retry and
	// jittered to between half and all of it. Default DefaultRetryBaseDelay.
	RetryBaseDelay time.Duration
	// RetryMaxDelay caps the backoff (a server's Retry-After may ask for
	// more, up to 5m). Default DefaultRetryMaxDelay.
	RetryMaxDelay time.Duration
	// BreakerFailures is how many calls in a row must fail (after their
	// retries) for the circuit breaker to open; 0: no breaker.
	// DefaultClientConfig sets DefaultBreakerFailures.
	BreakerFailures int
	// BreakerCooldown is how long the open breaker refuses calls before it
	// lets one probe through. Default DefaultBreakerCooldown.
	BreakerCooldown time.Duration
	// Prices turn tokens into newsflow_llm_cost_total; zero: cost not counted.
	Prices news.Prices
}

// Validate reports the first field out of range.
func (c ClientConfig) Validate() error {
	switch {
	case c.RequestsPerMinute < 0:
		return fmt.Errorf("llm: RequestsPerMinute must be ≥ 0, got %d", c.RequestsPerMinute)
	case c.TokensPerMinute < 0:
		return fmt.Errorf("llm: TokensPerMinute must be ≥ 0, got %d", c.TokensPerMinute)
	case c.Concurrency < 1:
		return fmt.Errorf("llm: Concurrency must be ≥ 1, got %d", c.Concurrency)
	case c.MaxRetries < 0:
		return fmt.Errorf("llm: MaxRetries must be ≥ 0 (0: never), got %d", c.MaxRetries)
	case c.BreakerFailures < 0:
		return fmt.Errorf("llm: BreakerFailures must be ≥ 0 (0: no breaker), got %d", c.BreakerFailures)
	case c.Timeout <= 0:
		return fmt.Errorf("llm: Timeout must be > 0, got %s", c.Timeout)
	case c.RetryBaseDelay <= 0 || c.RetryMaxDelay < c.RetryBaseDelay:
		return fmt.Errorf("llm: need 0 < RetryBaseDelay ≤ RetryMaxDelay, got %s and %s", c.RetryBaseDelay, c.RetryMaxDelay)
	case c.BreakerCooldown <= 0:
		return fmt.Errorf("llm: BreakerCooldown must be > 0, got %s", c.BreakerCooldown)
	}
	if err := c.Prices.Validate(); err != nil {
		return fmt.Errorf("llm: %w", err)
	}
	return nil
}

// Client wraps a Provider with rate limits, bounded concurrency, a per-call
// timeout, retries and a circuit breaker, and counts calls, latency, tokens
// and cost. It is itself a Provider, safe for concurrent use, and starts no
// goroutines.
type Client struct {
	p       Provider
	cfg     ClientConfig
	log     *zap.Logger
	sem     chan struct{}
	reqLim  *rate.Limiter // nil: unlimited
	tokLim  *rate.Limiter // nil: unlimited
	breaker *breaker
	m       *metrics

	pauseUntil atomic.Int64 // unix nanos: a server's Retry-After, shared by all calls
	authLogged atomic.Bool  // the API-key line was logged since the last success
}

// NewClient wraps p. reg may be nil (metrics are then not exported).
func NewClient(p Provider, cfg ClientConfig, log *zap.Logger, reg prometheus.Registerer) (*Client, error) {
	if p == nil {
		return nil, errors.New("llm: NewClient needs a provider")
	}
	cfg.Concurrency = cmp.Or(cfg.Concurrency, DefaultConcurrency)
	cfg.Timeout = cmp.Or(cfg.Timeout, DefaultTimeout)
	cfg.RetryBaseDelay = cmp.Or(cfg.RetryBaseDelay, DefaultRetryBaseDelay)
	cfg.RetryMaxDelay = cmp.Or(cfg.RetryMaxDelay, max(DefaultRetryMaxDelay, cfg.RetryBaseDelay))
	cfg.BreakerCooldown = cmp.Or(cfg.BreakerCooldown, DefaultBreakerCooldown)
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if log == nil {
		log = zap.NewNop()
	}
	m, err := newMetrics(reg)
	if err != nil {
		return nil, err
	}
	c := &Client{p: p, cfg: cfg, log: log.Named("llm").With(zap.String("llm_model", p.Model())),
		sem: make(chan struct{}, cfg.Concurrency), m: m}
	if cfg.RequestsPerMinute > 0 {
		c.reqLim = rate.NewLimiter(rate.Limit(float64(cfg.RequestsPerMinute)/60), max(1, cfg.RequestsPerMinute/60))
	}
	if cfg.TokensPerMinute > 0 {
		c.tokLim = rate.NewLimiter(rate.Limit(float64(cfg.TokensPerMinute)/60), max(1, cfg.TokensPerMinute/6))
	}
	c.breaker = newBreaker(cfg.BreakerFailures, cfg.BreakerCooldown, func(open bool) {
		if open {
			m.breakerOpen.Set(1)
			c.log.Warn("llm circuit breaker open", zap.Duration("cooldown", cfg.BreakerCooldown))
		} else {
			m.breakerOpen.Set(0)
			c.log.Info("llm circuit breaker closed")
		}
	})
	return c, nil
}

// Model returns the wrapped provider's Model.
func (c *Client) Model() string { return c.p.Model() }

// Names returns the provider's and model's names, for the cache key.
func (c *Client) Names() (provider, model string) { return c.p.Names() }

// BreakerOpen reports whether the circuit breaker is open (or half-open,
// awaiting a probe's outcome): calls fail fast with ErrBreakerOpen, except
// the one probe after each cooldown.
func (c *Client) BreakerOpen() bool { return c.breaker.isOpen() }

// WaitReady blocks while the breaker refuses calls; it returns nil when the
// breaker is closed or a probe may go, or ctx's error.
func (c *Client) WaitReady(ctx context.Context) error { return c.breaker.waitReady(ctx) }

// Close releases the provider's idle connections. The Client stays usable.
func (c *Client) Close() {
	if ic, ok := c.p.(interface{ CloseIdleConnections() }); ok {
		ic.CloseIdleConnections()
	}
}

// Enrich calls the provider for m within the configured limits. It retries
// 429s, 5xx answers, network errors and timeouts with jittered exponential
// backoff (honouring Retry-After), and fails fast with ErrBreakerOpen while
// the breaker is open. Errors that retrying cannot fix (other 4xx answers,
// answers that do not match the schema) have Permanent() true; the others,
// including ErrBreakerOpen and exhausted retries, are worth retrying later.
// When ctx ends, Enrich returns its error promptly.
func (c *Client) Enrich(ctx context.Context, m news.Message) (res Result, err error) {
	ctx, span := c.startCall(ctx, 1)
	defer func() { c.endCall(span, res.Usage, err) }()
	err = c.guard(ctx, func(ctx context.Context) error {
		var err error
		res.Usage, err = c.attempts(ctx, estimateTokens([]news.Message{m}), func(actx context.Context) (news.Usage, error) {
			r, err := c.p.Enrich(actx, m)
			if err == nil {
				res.Enrichment = r.Enrichment
			}
			return r.Usage, err
		})
		return err
	})
	return res, err
}

// EnrichMany enriches ms, at most MaxStoriesPerCall of them, in one request
// when the provider is a MultiProvider (else one call per story), with the
// same limits, retries and breaker as Enrich: the request counts once
// against the requests-per-minute limit and with all its tokens against the
// tokens-per-minute limit. An error applies to every story (the call
// failed); otherwise each StoryResult says whether its story succeeded. A
// story missing or invalid in the answer has a *ParseError and is not asked
// for again here.
func (c *Client) EnrichMany(ctx context.Context, ms []news.Message) ([]StoryResult, error) {
	mp, ok := c.p.(MultiProvider)
	if !ok {
		out := make([]StoryResult, len(ms))
		for i, m := range ms {
			r, err := c.Enrich(ctx, m)
			if err != nil && !errors.As(err, new(*ParseError)) {
				return nil, err
			}
			out[i] = StoryResult{Enrichment: r.Enrichment, Usage: r.Usage, Err: err}
		}
		return out, nil
	}
	var (
		out   []StoryResult
		usage news.Usage
	)
	ctx, span := c.startCall(ctx, len(ms))
	err := c.guard(ctx, func(ctx context.Context) error {
		var err error
		usage, err = c.attempts(ctx, estimateTokens(ms), func(actx context.Context) (news.Usage, error) {
			rs, err := mp.EnrichMany(actx, ms)
			var u news.Usage
			for _, r := range rs {
				u = u.Add(r.Usage)
			}
			if err == nil {
				out = rs
			}
			return u, err
		})
		return err
	})
	c.endCall(span, usage, err)
	return out, err
}

// startCall starts the span of one logical call (its attempts and retries)
// for stories stories, inside a traced batch only.
func (c *Client) startCall(ctx context.Context, stories int) (context.Context, trace.Span) {
	ctx, span := tracing.Child(ctx, "llm.call")
	if span.IsRecording() {
		provider, model := c.p.Names()
		span.SetAttributes(tracing.GenAISystem.String(provider), tracing.GenAIRequestModel.String(model),
			tracing.NewsflowStories.Int(stories))
	}
	return ctx, span
}

// endCall ends a call's span with its tokens and outcome: ok, error or
// breaker_open.
func (c *Client) endCall(span trace.Span, u news.Usage, err error) {
	if span.IsRecording() {
		outcome := "ok"
		switch {
		case errors.Is(err, ErrBreakerOpen):
			outcome = "breaker_open"
		case err != nil:
			outcome = "error"
		}
		span.SetAttributes(tracing.GenAIUsageInputTokens.Int(u.InputTokens), tracing.GenAIUsageCachedTokens.Int(u.CachedInputTokens),
			tracing.GenAIUsageOutputTokens.Int(u.OutputTokens), tracing.NewsflowOutcome.String(outcome))
		tracing.Fail(span, err)
	}
	span.End()
}

// guard runs one logical call through the breaker and the concurrency bound.
func (c *Client) guard(ctx context.Context, call func(context.Context) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	probe, err := c.breaker.allow()
	if err != nil {
		c.m.rejected.Inc()
		return err
	}
	select {
	case c.sem <- struct{}{}:
	case <-ctx.Done():
		c.breaker.record(probe, verdictNeutral)
		return ctx.Err()
	}
	defer func() { <-c.sem }()
	err = call(ctx)
	c.breaker.record(probe, c.verdict(ctx, err))
	return err
}

// attempts runs the attempts of one call: each waits for the rate limits,
// gets its own timeout, and is retried as Enrich describes. It returns the
// usage summed over the attempts.
func (c *Client) attempts(ctx context.Context, est int, attempt func(context.Context) (news.Usage, error)) (news.Usage, error) {
	var total news.Usage
	for n := 0; ; n++ {
		if err := c.wait(ctx, est); err != nil {
			return total, err
		}
		actx, cancel := context.WithTimeout(ctx, c.cfg.Timeout)
		start := time.Now()
		u, err := attempt(actx)
		cancel()
		span := trace.SpanFromContext(ctx)
		tracing.Observe(c.m.seconds, time.Since(start).Seconds(), span)
		if span.IsRecording() {
			span.SetAttributes(tracing.NewsflowRetries.Int(n))
		}
		total = total.Add(u)
		c.account(u, est)
		if err == nil {
			c.m.calls.WithLabelValues("ok").Inc()
			c.authLogged.Store(false)
			return total, nil
		}
		if ctx.Err() != nil {
			c.m.calls.WithLabelValues("error").Inc()
			return total, ctx.Err()
		}
		if errors.Is(err, context.DeadlineExceeded) {
			err = fmt.Errorf("llm: %s: call timed out after %s: %w", c.p.Model(), c.cfg.Timeout, err)
		}
		if isPermanent(err) {
			c.m.calls.WithLabelValues("error").Inc()
			c.logPermanent(err)
			return total, err
		}
		if n >= c.cfg.MaxRetries {
			c.m.calls.WithLabelValues("error").Inc()
			return total, fmt.Errorf("llm: %s: giving up after %d attempts: %w", c.p.Model(), n+1, err)
		}
		c.m.calls.WithLabelValues("retry").Inc()
		delay := c.backoff(n)
		var se *StatusError
		if errors.As(err, &se) && se.RetryAfter > 0 {
			ra := min(se.RetryAfter, maxRetryAfter)
			delay = max(delay, ra)
			c.pause(ra) // the server is saturated: hold back every call, not just this one
		}
		c.log.Warn("llm call failed, retrying", zap.Int("attempt", n+1), zap.Duration("retry_in", delay), zap.Error(err))
		if err := backoff.Sleep(ctx, delay); err != nil {
			return total, err
		}
	}
}

// wait honours a shared Retry-After pause and the rate limits.
func (c *Client) wait(ctx context.Context, est int) error {
	if until := c.pauseUntil.Load(); until != 0 {
		if err := backoff.Sleep(ctx, time.Until(time.Unix(0, until))); err != nil {
			return err
		}
	}
	if c.reqLim != nil {
		if err := c.reqLim.Wait(ctx); err != nil {
			return limitErr(ctx, err)
		}
	}
	if c.tokLim != nil {
		if err := c.tokLim.WaitN(ctx, min(est, c.tokLim.Burst())); err != nil {
			return limitErr(ctx, err)
		}
	}
	return nil
}

// limitErr turns a rate.Limiter error into ctx's error: either ctx ended,
// or waiting would outlast its deadline.
func limitErr(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	return fmt.Errorf("%w (%v): %w", errLimitDeadline, err, context.DeadlineExceeded)
}

// errLimitDeadline marks a call given up before it started because the rate
// limit would make it miss the caller's deadline: no verdict on the service.
var errLimitDeadline = errors.New("llm: rate limit wait would pass the deadline")

// account counts tokens and cost, and charges the token limiter for what
// the estimate missed.
func (c *Client) account(u news.Usage, est int) {
	if u.InputTokens > 0 {
		c.m.tokens.WithLabelValues("input").Add(float64(u.InputTokens))
	}
	if u.CachedInputTokens > 0 {
		c.m.tokens.WithLabelValues("input_cached").Add(float64(u.CachedInputTokens))
	}
	if u.OutputTokens > 0 {
		c.m.tokens.WithLabelValues("output").Add(float64(u.OutputTokens))
	}
	if cost := c.cfg.Prices.Cost(u); cost > 0 {
		c.m.cost.Add(cost)
	}
	if extra := u.InputTokens + u.OutputTokens - est; c.tokLim != nil && extra > 0 {
		c.tokLim.ReserveN(time.Now(), min(extra, c.tokLim.Burst())) // delays later calls
	}
}

// pause holds back every call for d (a server's Retry-After).
func (c *Client) pause(d time.Duration) {
	until := time.Now().Add(d).UnixNano()
	for {
		cur := c.pauseUntil.Load()
		if cur >= until || c.pauseUntil.CompareAndSwap(cur, until) {
			return
		}
	}
}

// backoff returns the jittered delay before retry attempt+1.
func (c *Client) backoff(attempt int) time.Duration {
	return backoff.Jitter(backoff.Delay(attempt, c.cfg.RetryBaseDelay, c.cfg.RetryMaxDelay))
}

// verdict tells the breaker what err says about the service.
func (c *Client) verdict(ctx context.Context, err error) verdict {
	var se *StatusError
	var pe *ParseError
	switch {
	case err == nil:
		return verdictSuccess
	case ctx.Err() != nil, errors.Is(err, errLimitDeadline):
		return verdictNeutral
	case errors.As(err, &se):
		if se.ServiceFault() {
			return verdictFailure
		}
		return verdictSuccess // it answered; the request was at fault
	case errors.As(err, &pe):
		return verdictSuccess
	case isPermanent(err):
		return verdictNeutral
	}
	return verdictFailure
}

// logPermanent logs one clear line when the API key is rejected; other
// permanent errors are the caller's to report.
func (c *Client) logPermanent(err error) {
	var se *StatusError
	if !errors.As(err, &se) || (se.StatusCode != http.StatusUnauthorized && se.StatusCode != http.StatusForbidden) {
		return
	}
	if c.authLogged.CompareAndSwap(false, true) {
		c.log.Error("llm API key rejected: check "+keyEnv(se.Provider), zap.Int("status", se.StatusCode), zap.Error(err))
	}
}
