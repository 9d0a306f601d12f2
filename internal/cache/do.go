package cache

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"time"

	"newsflow/internal/backoff"

	"github.com/redis/go-redis/v9"
	"go.uber.org/zap"
)

const (
	recheckMin = 50 * time.Millisecond // first re-check while waiting on a lease
	recheckMax = time.Second           // re-check at least this often
	settleTime = 2 * time.Second       // budget for storing/releasing after fn, even when closing
)

// releaseScript deletes the lease only if this owner still holds it, then
// announces the key on the done channel (also after a failure, so waiters
// take over at once). KEYS[1] lease, ARGV[1] token, ARGV[2] channel, ARGV[3] key.
var releaseScript = redis.NewScript(`
if redis.call("GET", KEYS[1]) == ARGV[1] then redis.call("DEL", KEYS[1]) end
redis.call("PUBLISH", ARGV[2], ARGV[3])
return 1`)

// extendScript renews the lease only if this owner still holds it.
// KEYS[1] lease, ARGV[1] token, ARGV[2] TTL in milliseconds.
var extendScript = redis.NewScript(`
if redis.call("GET", KEYS[1]) == ARGV[1] then return redis.call("PEXPIRE", KEYS[1], ARGV[2]) end
return 0`)

type flightResult struct {
	val    []byte
	src    Source
	leader *byte // identifies the Do call whose closure ran the flight
}

// Do returns the value for key, computing it with fn at most once across the
// process and, through a Redis lease, across all processes sharing Redis.
// Source says where the value came from. Successful values are stored in both
// tiers; errors from fn are returned and not cached.
//
// fn gets a context that is not cancelled when the calling ctx ends: other
// callers may be sharing the computation, and a finished result is worth
// caching. fn must bound itself (an LLM call has its own timeout); Close
// cancels it. Do itself returns as soon as ctx ends.
//
// Errors: fn's error; ctx's error; ErrLeaseWait when another process held the
// lease longer than Config.LeaseWait; ErrClosed after Close. Redis errors are
// never returned: Do degrades to in-process single-flight and computes.
func (t *Tiered) Do(ctx context.Context, key string, fn func(ctx context.Context) ([]byte, error)) ([]byte, Source, error) {
	if v, ok := t.mem.Get(key); ok {
		t.met.memoryHits.Inc()
		return v, SourceMemory, nil
	}
	me := new(byte)
	res := make(chan singleflightOut, 1)
	started := t.goTracked(func() {
		v, err, _ := t.sf.Do(key, func() (any, error) {
			fctx, stop := context.WithCancel(context.WithoutCancel(ctx))
			defer stop()
			unlink := context.AfterFunc(t.ctx, stop)
			defer unlink()
			val, src, err := t.flight(fctx, key, fn)
			return flightResult{val: val, src: src, leader: me}, err
		})
		res <- singleflightOut{v, err}
	})
	if !started {
		return nil, 0, ErrClosed
	}
	select {
	case <-ctx.Done():
		return nil, 0, ctx.Err()
	case out := <-res:
		r, _ := out.v.(flightResult)
		if r.leader != me { // joined another goroutine's flight
			t.met.processWaits.Inc()
			if r.src == SourceComputed {
				r.src = SourceWaited
			}
		}
		if out.err != nil {
			return nil, r.src, out.err
		}
		return r.val, r.src, nil
	}
}

type singleflightOut struct {
	v   any
	err error
}

// flight runs once per key per process at a time.
func (t *Tiered) flight(ctx context.Context, key string, fn func(context.Context) ([]byte, error)) ([]byte, Source, error) {
	if v, ok := t.mem.Get(key); ok { // filled since Do looked
		t.met.memoryHits.Inc()
		return v, SourceMemory, nil
	}
	if !t.health.Up() {
		t.met.misses.Inc()
		return t.computeLocal(ctx, key, fn)
	}
	return t.clusterFlight(ctx, key, fn)
}

func (t *Tiered) computeLocal(ctx context.Context, key string, fn func(context.Context) ([]byte, error)) ([]byte, Source, error) {
	t.met.computes.Inc()
	v, err := fn(ctx)
	if err != nil {
		return nil, SourceComputed, err
	}
	t.mem.Add(key, v)
	return v, SourceComputed, nil
}

// redisFailed handles a Redis error inside a flight: true when the flight
// should fall back to computing in-process (Redis is down), false when the
// flight's own context ended.
func (t *Tiered) redisFailed(ctx context.Context, err error) bool {
	if ctx.Err() != nil {
		return false
	}
	t.health.Down(err)
	return true
}

// clusterFlight looks the key up in Redis and, on a miss, computes under the
// cluster-wide lease or waits for the process that holds it.
func (t *Tiered) clusterFlight(ctx context.Context, key string, fn func(context.Context) ([]byte, error)) ([]byte, Source, error) {
	vk, lk := t.valueKey(key), t.leaseKey(key)
	token := rand.Text()
	var (
		notify   chan struct{} // non-nil once registered for the done notification
		waited   bool
		rechecks int // re-checks after a timeout, for the backoff
		giveUp   <-chan time.Time
	)
	defer func() {
		if notify != nil {
			t.removeWaiter(key, notify)
		}
	}()
	for first := true; ; first = false {
		v, err := t.get(ctx, vk)
		switch {
		case err == nil:
			t.mem.Add(key, v)
			if waited {
				return v, SourceWaited, nil
			}
			t.met.redisHits.Inc()
			return v, SourceRedis, nil
		case !errors.Is(err, redis.Nil):
			if first {
				t.met.misses.Inc()
			}
			if t.redisFailed(ctx, err) {
				return t.computeLocal(ctx, key, fn)
			}
			return nil, 0, fmt.Errorf("cache: get %s: %w", key, ctx.Err())
		}
		if first {
			t.met.misses.Inc()
		}

		cctx, cancel := t.call(ctx)
		ok, err := t.rdb.SetNX(cctx, lk, token, t.cfg.LeaseTTL).Result()
		cancel()
		if err != nil {
			if t.redisFailed(ctx, err) {
				return t.computeLocal(ctx, key, fn)
			}
			return nil, 0, fmt.Errorf("cache: take lease %s: %w", key, ctx.Err())
		}
		if ok {
			return t.own(ctx, key, token, waited, fn)
		}

		// Another process holds the lease. Register for its notification,
		// then look again at once (it may have finished meanwhile).
		if notify == nil {
			notify = t.addWaiter(key)
			waited = true
			t.met.clusterWaits.Inc()
			timer := time.NewTimer(t.cfg.LeaseWait)
			defer timer.Stop()
			giveUp = timer.C
			continue
		}
		timer := time.NewTimer(backoff.Delay(rechecks, recheckMin, recheckMax))
		select {
		case <-notify:
		case <-timer.C:
			rechecks++
		case <-giveUp:
			timer.Stop()
			return nil, 0, fmt.Errorf("cache: key %s: %w", key, ErrLeaseWait)
		case <-ctx.Done():
			timer.Stop()
			return nil, 0, ctx.Err()
		}
		timer.Stop()
	}
}

// own runs fn while holding the lease: re-check, compute with the lease kept
// alive, store, release and notify.
func (t *Tiered) own(ctx context.Context, key, token string, waited bool, fn func(context.Context) ([]byte, error)) ([]byte, Source, error) {
	vk, lk := t.valueKey(key), t.leaseKey(key)
	// settle bounds the store and release after a step, even when closing.
	// It starts when that step ends: fn may take longer than settleTime
	// (LLM calls often do), and a budget started before it would have run
	// out, failing the store and the release.
	settle := func() (context.Context, context.CancelFunc) {
		return context.WithTimeout(context.WithoutCancel(ctx), settleTime)
	}

	// Someone may have stored the value between our GET and our SET NX.
	v, err := t.get(ctx, vk)
	switch {
	case err == nil:
		sctx, cancel := settle()
		defer cancel()
		t.release(sctx, lk, token, key)
		t.mem.Add(key, v)
		if waited {
			return v, SourceWaited, nil
		}
		return v, SourceRedis, nil
	case !errors.Is(err, redis.Nil):
		if !t.redisFailed(ctx, err) {
			return nil, 0, fmt.Errorf("cache: recheck %s: %w", key, ctx.Err())
		}
		// Redis went away while we hold the lease: compute anyway; the lease expires.
	}

	if waited { // the lease we waited on went away without a value
		t.met.takeovers.Inc()
		t.log.Debug("took over compute lease", zap.String("cache_key", key))
	}
	t.met.computes.Inc()
	stopExtend := t.extendWhile(lk, token, key)
	v, err = fn(ctx)
	stopExtend()
	sctx, cancel := settle()
	defer cancel()
	if err != nil {
		t.release(sctx, lk, token, key) // let a waiter take over now, not after LeaseTTL
		return nil, SourceComputed, err
	}
	t.mem.Add(key, v)
	if !t.health.Degraded() {
		cctx, cancel := t.call(sctx)
		err := t.rdb.Set(cctx, vk, v, t.cfg.RedisTTL).Err()
		cancel()
		if err != nil {
			t.health.Down(err)
		}
	}
	t.release(sctx, lk, token, key)
	return v, SourceComputed, nil
}

func (t *Tiered) release(ctx context.Context, lk, token, key string) {
	if t.health.Degraded() {
		return // the lease expires by itself
	}
	ctx, cancel := t.call(ctx)
	defer cancel()
	err := releaseScript.Run(ctx, t.rdb, []string{lk}, token, t.channel, key).Err()
	if err != nil && !errors.Is(err, redis.Nil) {
		t.health.Down(err)
	}
}

// extendWhile renews the lease every LeaseTTL/3 until the returned func is
// called; that func waits for the renewer to stop.
func (t *Tiered) extendWhile(lk, token, key string) (stop func()) {
	ctx, cancel := context.WithCancel(t.ctx)
	done := make(chan struct{})
	ttl := t.cfg.LeaseTTL
	if !t.goTracked(func() {
		defer close(done)
		tick := time.NewTicker(ttl / 3)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
			cctx, cancelCall := t.call(ctx)
			n, err := extendScript.Run(cctx, t.rdb, []string{lk}, token, ttl.Milliseconds()).Int()
			cancelCall()
			switch {
			case err != nil:
				if ctx.Err() == nil && !t.health.Degraded() {
					t.log.Debug("extend compute lease", zap.String("cache_key", key), zap.Error(err))
				}
			case n == 0:
				t.log.Warn("compute lease lost while computing; another worker may compute too",
					zap.String("cache_key", key), zap.Duration("lease_ttl", ttl))
				return
			}
		}
	}) {
		close(done)
	}
	return func() {
		cancel()
		<-done
	}
}

// get reads one value, bounded by Config.CallTimeout.
func (t *Tiered) get(ctx context.Context, key string) ([]byte, error) {
	ctx, cancel := t.call(ctx)
	defer cancel()
	return t.rdb.Get(ctx, key).Bytes()
}
