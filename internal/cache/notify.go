package cache

import "github.com/redis/go-redis/v9"

// subscribe starts the one shared subscription to the done channel and the
// goroutine that wakes the waiters of each announced key. go-redis
// re-subscribes by itself after a reconnect; notifications lost meanwhile are
// covered by the waiters' backoff re-checks.
func (t *Tiered) subscribe() {
	t.ps = t.rdb.Subscribe(t.ctx, t.channel)
	msgs := t.ps.Channel(redis.WithChannelSize(1024))
	t.goTracked(func() {
		for m := range msgs { // closed by ps.Close in Close
			t.wake(m.Payload)
		}
	})
}

func (t *Tiered) addWaiter(key string) chan struct{} {
	ch := make(chan struct{}, 1)
	t.waitMu.Lock()
	defer t.waitMu.Unlock()
	set := t.waiters[key]
	if set == nil {
		set = make(map[chan struct{}]struct{})
		t.waiters[key] = set
	}
	set[ch] = struct{}{}
	return ch
}

func (t *Tiered) removeWaiter(key string, ch chan struct{}) {
	t.waitMu.Lock()
	defer t.waitMu.Unlock()
	set := t.waiters[key]
	delete(set, ch)
	if len(set) == 0 {
		delete(t.waiters, key)
	}
}

func (t *Tiered) wake(key string) {
	t.waitMu.Lock()
	defer t.waitMu.Unlock()
	for ch := range t.waiters[key] {
		select {
		case ch <- struct{}{}:
		default: // already signalled
		}
	}
}
