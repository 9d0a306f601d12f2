package main

import (
	"context"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"

	"newsflow/internal/natstest"
)

// A message no stream captures gets "no responders", is retried, and then
// counts as failed: it is never dropped silently.
func TestPublisher_FailureCountedAfterRetries(t *testing.T) {
	t.Parallel()
	js, _ := natstest.JetStream(t)
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	c := &counts{}
	p := newPublisher(ctx, js, 16, 1, c, zaptest.NewLogger(t))
	if err := p.publish(ctx, "nobody-listens."+natstest.Name(t), []byte(`{}`), "x:1", "test:1"); err != nil {
		t.Fatal(err)
	}
	p.close()
	if got := [3]int64{c.published.Load(), c.duplicates.Load(), c.failed.Load()}; got != [3]int64{0, 0, 1} {
		t.Fatalf("published, duplicates, failed = %v, want [0 0 1]", got)
	}
}

func TestBackoff(t *testing.T) {
	t.Parallel()
	for n, want := range map[int]time.Duration{1: 100 * time.Millisecond, 2: 200 * time.Millisecond, 6: 3200 * time.Millisecond, 20: 3200 * time.Millisecond} {
		if got := backoff(n); got != want {
			t.Errorf("backoff(%d) = %s, want %s", n, got, want)
		}
	}
}
