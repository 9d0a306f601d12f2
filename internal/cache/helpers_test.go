package cache

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"newsflow/internal/await"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"

	"newsflow/internal/redistest"
)

// bundle is one cache under test: a Tiered with its own Redis client,
// registry and command counter, on the test's key prefix.
type bundle struct {
	t    *Tiered
	rdb  redis.UniversalClient
	reg  *prometheus.Registry
	cmds *countHook
}

// setup returns a Tiered on the shared Redis under prefix (a fresh prefix
// when empty). Each call makes its own client, as a separate worker would.
func setup(tb testing.TB, cfg Config) *bundle {
	tb.Helper()
	rdb := redistest.Client(tb)
	if cfg.KeyPrefix == "" {
		cfg.KeyPrefix = redistest.Prefix(tb, rdb)
	}
	return newBundle(tb, cfg, rdb)
}

func newBundle(tb testing.TB, cfg Config, rdb redis.UniversalClient) *bundle {
	tb.Helper()
	return newBundleLog(tb, cfg, rdb, zaptest.NewLogger(tb))
}

func newBundleLog(tb testing.TB, cfg Config, rdb redis.UniversalClient, log *zap.Logger) *bundle {
	tb.Helper()
	b := &bundle{rdb: rdb, reg: prometheus.NewRegistry(), cmds: &countHook{n: map[string]int{}}}
	if rdb != nil {
		rdb.AddHook(b.cmds)
	}
	var err error
	b.t, err = New(cfg, rdb, log, b.reg)
	if err != nil {
		tb.Fatalf("New: %v", err)
	}
	tb.Cleanup(func() {
		if err := b.t.Close(); err != nil {
			tb.Errorf("Close: %v", err)
		}
	})
	return b
}

// metric returns the value of a counter or gauge; labels are name=value pairs.
func (b *bundle) metric(tb testing.TB, name string, labels ...string) float64 {
	tb.Helper()
	mfs, err := b.reg.Gather()
	if err != nil {
		tb.Fatalf("gather: %v", err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	next:
		for _, m := range mf.GetMetric() {
			for _, l := range labels {
				k, v, _ := strings.Cut(l, "=")
				found := false
				for _, lp := range m.GetLabel() {
					if lp.GetName() == k && lp.GetValue() == v {
						found = true
					}
				}
				if !found {
					continue next
				}
			}
			if c := m.GetCounter(); c != nil {
				return c.GetValue()
			}
			return m.GetGauge().GetValue()
		}
	}
	return 0
}

// countHook counts the commands a client sends, by name.
type countHook struct {
	mu sync.Mutex
	n  map[string]int
}

func (h *countHook) add(cmds ...redis.Cmder) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, c := range cmds {
		h.n[c.Name()]++
	}
}

func (h *countHook) count(name string) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.n[name]
}

func (h *countHook) reset() {
	h.mu.Lock()
	defer h.mu.Unlock()
	clear(h.n)
}

func (h *countHook) DialHook(next redis.DialHook) redis.DialHook { return next }

func (h *countHook) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		h.add(cmd)
		return next(ctx, cmd)
	}
}

func (h *countHook) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		h.add(cmds...)
		return next(ctx, cmds)
	}
}

// counter counts fn calls per key and produces a deterministic value.
type counter struct {
	mu    sync.Mutex
	calls map[string]int
}

func newCounter() *counter { return &counter{calls: map[string]int{}} }

func (c *counter) fn(key string, work time.Duration) func(context.Context) ([]byte, error) {
	return func(ctx context.Context) ([]byte, error) {
		c.mu.Lock()
		c.calls[key]++
		c.mu.Unlock()
		if work > 0 {
			select { // simulated LLM latency, not synchronisation
			case <-time.After(work):
			case <-ctx.Done():
				return nil, ctx.Err()
			}
		}
		return value(key), nil
	}
}

func (c *counter) get(key string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.calls[key]
}

func value(key string) []byte { return []byte("v:" + key) }

// hold blocks a test computation until release is closed, or until its
// context ends: Close cancels running computations and waits for them, so a
// computation that ignored its context would turn a test that failed before
// releasing it into a hang in Close.
func hold(ctx context.Context, release <-chan struct{}) error {
	select {
	case <-release:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// eventually polls cond every 20ms until it holds or the deadline passes.
func eventually(tb testing.TB, within time.Duration, what string, cond func() bool) {
	tb.Helper()
	await.Until(tb, within, what, func() (bool, string) { return cond(), "not yet" })
}

func keys(n int, prefix string) []string {
	ks := make([]string, n)
	for i := range ks {
		ks[i] = fmt.Sprintf("%s%03d", prefix, i)
	}
	return ks
}

// numSub returns the number of subscribers of channel: on a cluster, summed
// over the masters (PUBSUB NUMSUB counts the node's own).
func numSub(ctx context.Context, rdb redis.UniversalClient, channel string) (int64, error) {
	c, ok := rdb.(*redis.ClusterClient)
	if !ok {
		n, err := rdb.PubSubNumSub(ctx, channel).Result()
		return n[channel], err
	}
	var mu sync.Mutex
	var sum int64
	err := c.ForEachMaster(ctx, func(ctx context.Context, n *redis.Client) error {
		m, err := n.PubSubNumSub(ctx, channel).Result()
		mu.Lock()
		sum += m[channel]
		mu.Unlock()
		return err
	})
	return sum, err
}
