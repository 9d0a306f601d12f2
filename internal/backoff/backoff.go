// Package backoff is the one capped exponential backoff newsflow retries
// with (commits, enrichment, LLM calls, cache lease waits), and the one
// context-aware sleep. It holds no state and is safe for concurrent use.
package backoff

import (
	"context"
	"math/rand/v2"
	"time"
)

// Delay is the wait before retry attempt+1 (attempt counts from 0):
// base·2^attempt, capped at limit.
func Delay(attempt int, base, limit time.Duration) time.Duration {
	if attempt < 0 || base <= 0 {
		return max(base, 0)
	}
	if attempt >= 62 || base > limit>>attempt {
		return limit
	}
	return min(base<<attempt, limit)
}

// Jitter returns a uniform pick from the upper half of d, [d/2, d], so that
// callers failing together do not retry together.
func Jitter(d time.Duration) time.Duration {
	if d <= 0 {
		return d
	}
	half := d / 2
	return half + rand.N(half+1)
}

// Sleep waits d or until ctx ends, whichever is first; it returns ctx.Err()
// in the second case. A d ≤ 0 returns ctx.Err() at once.
func Sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
