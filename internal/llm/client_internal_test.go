package llm

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"newsflow/internal/news"
)

func TestClient_TokenRateLimit(t *testing.T) {
	t.Parallel()
	m := news.Message{ID: "1", Source: "s", Title: "t", Body: "b"}
	est := estimateTokens([]news.Message{m})
	// Rate: 4 calls' worth per second; burst: 40 calls' worth. 42 calls
	// need the burst plus 2 more: ≥ 0.5 s.
	c, err := NewClient(NewOffline(), ClientConfig{TokensPerMinute: 240 * est, Concurrency: 8}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	var wg sync.WaitGroup
	for range 42 {
		wg.Go(func() {
			if _, err := c.Enrich(t.Context(), m); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if d := time.Since(start); d < 400*time.Millisecond {
		t.Errorf("42 calls of %d tokens at %d tokens/min took %s, want ≥ 0.4s", est, 240*est, d)
	}
}

func TestBackoff(t *testing.T) {
	t.Parallel()
	c := &Client{cfg: ClientConfig{RetryBaseDelay: 100 * time.Millisecond, RetryMaxDelay: time.Second}}
	for attempt, hi := range []time.Duration{100, 200, 400, 800, 1000, 1000} {
		hi *= time.Millisecond
		for range 20 {
			if d := c.backoff(attempt); d < hi/2 || d > hi {
				t.Fatalf("backoff(%d) = %s, want in [%s, %s]", attempt, d, hi/2, hi)
			}
		}
	}
	if d := c.backoff(100); d > time.Second {
		t.Errorf("backoff(100) = %s, want capped at 1s", d)
	}
}

func TestClient_RateLimitDeadlineIsNeutral(t *testing.T) {
	t.Parallel()
	c, err := NewClient(NewOffline(), ClientConfig{RequestsPerMinute: 1, BreakerFailures: 1}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	m := news.Message{ID: "1", Source: "s", Title: "t"}
	if _, err := c.Enrich(t.Context(), m); err != nil { // uses the burst of 1
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), time.Second)
	defer cancel()
	if _, err := c.Enrich(ctx, m); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want DeadlineExceeded (the next slot is a minute away)", err)
	}
	if c.BreakerOpen() {
		t.Error("a call refused by the rate limit opened the breaker")
	}
}
