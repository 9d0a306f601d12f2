package llm

import (
	"context"
	"sync"
	"time"
)

// verdict is what one call tells the breaker about the service.
type verdict int

const (
	verdictSuccess verdict = iota // the service answered (even if the request was bad)
	verdictFailure                // the service is down, overloaded, or refuses our key
	verdictNeutral                // says nothing, e.g. the caller gave up
)

// breaker is a consecutive-failure circuit breaker. Closed, it counts
// failures in a row; at threshold it opens and refuses calls for cooldown;
// then one probe may go (half-open): success closes it, failure reopens it
// for another cooldown. Any success closes it.
type breaker struct {
	threshold int // ≤ 0: never opens
	cooldown  time.Duration
	onChange  func(open bool)

	mu       sync.Mutex
	failures int
	open     bool
	openedAt time.Time
	probing  bool
	changed  chan struct{} // closed and replaced on every state change
}

func newBreaker(threshold int, cooldown time.Duration, onChange func(open bool)) *breaker {
	return &breaker{threshold: threshold, cooldown: cooldown, onChange: onChange, changed: make(chan struct{})}
}

// allow admits a call. probe is true when the call is the half-open probe
// and must be reported to record with probe set.
func (b *breaker) allow() (probe bool, err error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if !b.open {
		return false, nil
	}
	if b.probing || time.Since(b.openedAt) < b.cooldown {
		return false, ErrBreakerOpen
	}
	b.probing = true
	return true, nil
}

// record reports a call's verdict.
func (b *breaker) record(probe bool, v verdict) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if probe {
		b.probing = false
	}
	switch v {
	case verdictSuccess:
		b.failures = 0
		if b.open {
			b.open = false
			b.notify()
		}
	case verdictFailure:
		switch {
		case b.open && probe:
			b.openedAt = time.Now()
			b.notify()
		case !b.open:
			b.failures++
			if b.threshold > 0 && b.failures >= b.threshold {
				b.open = true
				b.openedAt = time.Now()
				b.notify()
			}
		}
	case verdictNeutral:
		if probe {
			b.notify() // let a waiter probe instead
		}
	}
}

// notify wakes waiters; b.mu is held.
func (b *breaker) notify() {
	close(b.changed)
	b.changed = make(chan struct{})
	if b.onChange != nil {
		b.onChange(b.open)
	}
}

// isOpen reports whether the breaker refuses calls or waits for its probe.
func (b *breaker) isOpen() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.open
}

// waitReady blocks until the breaker is closed or a probe may go.
func (b *breaker) waitReady(ctx context.Context) error {
	for {
		b.mu.Lock()
		if !b.open {
			b.mu.Unlock()
			return nil
		}
		wait := time.Duration(-1)
		if !b.probing {
			wait = b.cooldown - time.Since(b.openedAt)
			if wait <= 0 {
				b.mu.Unlock()
				return nil
			}
		}
		ch := b.changed
		b.mu.Unlock()
		var t *time.Timer
		var timer <-chan time.Time
		if wait > 0 {
			t = time.NewTimer(wait)
			timer = t.C
		}
		select {
		case <-ctx.Done():
		case <-ch:
		case <-timer:
		}
		if t != nil {
			t.Stop()
		}
		if err := ctx.Err(); err != nil {
			return err
		}
	}
}
