package backoff_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"newsflow/internal/backoff"
)

func TestDelay(t *testing.T) {
	t.Parallel()
	const ms = time.Millisecond
	for _, tc := range []struct {
		attempt     int
		base, limit time.Duration
		want        time.Duration
	}{
		{0, 100 * ms, time.Second, 100 * ms},
		{1, 100 * ms, time.Second, 200 * ms},
		{3, 100 * ms, time.Second, 800 * ms},
		{4, 100 * ms, time.Second, time.Second},
		{100, 100 * ms, time.Second, time.Second},
		{-1, 100 * ms, time.Second, 100 * ms},
	} {
		if got := backoff.Delay(tc.attempt, tc.base, tc.limit); got != tc.want {
			t.Errorf("Delay(%d, %s, %s) = %s, want %s", tc.attempt, tc.base, tc.limit, got, tc.want)
		}
	}
}

func TestJitter(t *testing.T) {
	t.Parallel()
	for range 1000 {
		if d := backoff.Jitter(time.Second); d < time.Second/2 || d > time.Second {
			t.Fatalf("Jitter(1s) = %s, want within [500ms, 1s]", d)
		}
	}
}

func TestSleep(t *testing.T) {
	t.Parallel()
	if err := backoff.Sleep(t.Context(), time.Millisecond); err != nil {
		t.Fatalf("Sleep = %v", err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if err := backoff.Sleep(ctx, time.Hour); !errors.Is(err, context.Canceled) {
		t.Fatalf("Sleep after cancel = %v, want context.Canceled", err)
	}
}
