package cache

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"
	"go.uber.org/zap"
	"golang.org/x/sync/singleflight"

	"newsflow/internal/redishealth"
)

// Defaults of Config.
const (
	DefaultMemoryEntries = 100_000
	// DefaultMemoryBytes bounds the in-process tier: about 50,000
	// enrichments of ~500 bytes. At 100,000 entries and no byte bound the
	// tier alone could hold some 50 MB of live heap, which the worker's
	// GOGC of 400 turns into 250 MB of RSS; Redis keeps every story for the
	// TTL behind it.
	DefaultMemoryBytes = 24 << 20
	DefaultRedisTTL    = 24 * time.Hour
	DefaultKeyPrefix   = "newsflow:"
	DefaultLeaseTTL    = 30 * time.Second
	DefaultLeaseWait   = 2 * time.Minute
)

// DefaultConfig returns the default configuration.
func DefaultConfig() Config {
	return Config{MemoryEntries: DefaultMemoryEntries, MemoryBytes: DefaultMemoryBytes, MemoryTTL: DefaultRedisTTL,
		RedisTTL: DefaultRedisTTL, KeyPrefix: DefaultKeyPrefix, LeaseTTL: DefaultLeaseTTL, LeaseWait: DefaultLeaseWait,
		CallTimeout: DefaultCallTimeout}
}

// Config tunes a Tiered cache. No field has a meaning at zero: New fills a
// zero with its Default* and Validate rejects it.
type Config struct {
	MemoryEntries int           // in-process LRU capacity, in entries. Default 100,000.
	MemoryBytes   int64         // in-process LRU capacity, in bytes of keys, values and per-entry overhead. Default DefaultMemoryBytes.
	MemoryTTL     time.Duration // lifetime of an in-process entry. Default RedisTTL.
	RedisTTL      time.Duration // lifetime of a value in Redis. Default 24h.
	KeyPrefix     string        // prefix of every Redis key and channel. Default "newsflow:".
	LeaseTTL      time.Duration // lifetime of a compute lease; the owner extends it every LeaseTTL/3. Default 30s.
	LeaseWait     time.Duration // longest Do waits on another process's lease before ErrLeaseWait. Default 2m.
	CallTimeout   time.Duration // bound of each of the cache's calls to Redis; a stalled Redis degrades the cache after it. Default DefaultCallTimeout (1s).
}

// Validate reports a Config that New cannot use.
func (c Config) Validate() error {
	switch {
	case c.MemoryEntries < 1:
		return fmt.Errorf("cache: MemoryEntries must be ≥ 1, got %d", c.MemoryEntries)
	case c.MemoryBytes < 1<<10:
		return fmt.Errorf("cache: MemoryBytes must be ≥ 1024, got %d", c.MemoryBytes)
	case c.MemoryTTL <= 0:
		return fmt.Errorf("cache: MemoryTTL must be > 0, got %s", c.MemoryTTL)
	case c.RedisTTL < time.Millisecond:
		return fmt.Errorf("cache: RedisTTL must be ≥ 1ms, got %s", c.RedisTTL)
	case c.LeaseTTL < 3*time.Millisecond:
		return fmt.Errorf("cache: LeaseTTL must be ≥ 3ms, got %s", c.LeaseTTL)
	case c.LeaseWait <= 0:
		return fmt.Errorf("cache: LeaseWait must be > 0, got %s", c.LeaseWait)
	case c.CallTimeout <= 0:
		return fmt.Errorf("cache: CallTimeout must be > 0, got %s", c.CallTimeout)
	case c.KeyPrefix == "":
		return errors.New("cache: KeyPrefix must not be empty")
	}
	return nil
}

// Source tells where Do found its value, so the caller can count the
// computations it saved.
type Source uint8

const (
	// SourceComputed: this call ran fn.
	SourceComputed Source = iota + 1
	// SourceMemory: the value was in the in-process tier.
	SourceMemory
	// SourceRedis: the value was in Redis.
	SourceRedis
	// SourceWaited: another goroutine or process computed the value while this call waited for it.
	SourceWaited
)

// String returns "computed", "memory", "redis" or "waited".
func (s Source) String() string {
	switch s {
	case SourceComputed:
		return "computed"
	case SourceMemory:
		return "memory"
	case SourceRedis:
		return "redis"
	case SourceWaited:
		return "waited"
	}
	return fmt.Sprintf("Source(%d)", uint8(s))
}

// ErrLeaseWait is returned by Do when another process held the key's lease
// for longer than Config.LeaseWait. Do does not compute then, so as not to
// pay twice; retrying later finds the value. It is retryable.
var ErrLeaseWait = errors.New("cache: gave up waiting for another worker's computation")

// ErrClosed is returned by Do after Close.
var ErrClosed = errors.New("cache: closed")

// Tiered is the two-tier cache with in-process and cluster-wide single-flight.
type Tiered struct {
	cfg     Config
	rdb     redis.UniversalClient // nil: memory only
	log     *zap.Logger
	mem     *memTier
	sf      singleflight.Group
	met     *metrics
	channel string // "<prefix>done": key published when a computation ends

	ctx    context.Context // cancelled by Close; parent of computations
	cancel context.CancelFunc
	wg     sync.WaitGroup // computations, the subscription dispatcher
	mu     sync.RWMutex   // guards closed against wg.Add
	closed bool
	// idle hands work to the goroutines of goTracked that wait for it;
	// started counts the goroutines goTracked started.
	idle    chan func()
	started atomic.Int64

	health *redishealth.Monitor // whether to use Redis; probes it while degraded

	ps      *redis.PubSub
	waitMu  sync.Mutex
	waiters map[string]map[chan struct{}]struct{}
}

// New returns a Tiered cache. rdb may be nil: the cache is then in-process
// only. Metrics are registered on reg (nil: a private registry). Close it
// when done; New does not take ownership of rdb.
func New(cfg Config, rdb redis.UniversalClient, log *zap.Logger, reg prometheus.Registerer) (*Tiered, error) {
	cfg.MemoryEntries = cmp.Or(cfg.MemoryEntries, DefaultMemoryEntries)
	cfg.MemoryBytes = cmp.Or(cfg.MemoryBytes, DefaultMemoryBytes)
	cfg.RedisTTL = cmp.Or(cfg.RedisTTL, DefaultRedisTTL)
	cfg.MemoryTTL = cmp.Or(cfg.MemoryTTL, cfg.RedisTTL)
	cfg.KeyPrefix = cmp.Or(cfg.KeyPrefix, DefaultKeyPrefix)
	cfg.LeaseTTL = cmp.Or(cfg.LeaseTTL, DefaultLeaseTTL)
	cfg.LeaseWait = cmp.Or(cfg.LeaseWait, DefaultLeaseWait)
	cfg.CallTimeout = cmp.Or(cfg.CallTimeout, DefaultCallTimeout)
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if log == nil {
		log = zap.NewNop()
	}
	if reg == nil {
		reg = prometheus.NewRegistry()
	}
	met, err := newMetrics(reg, rdb)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	t := &Tiered{
		cfg:     cfg,
		rdb:     rdb,
		log:     log.Named("cache"),
		mem:     newMemTier(cfg.MemoryEntries, cfg.MemoryBytes, cfg.MemoryTTL),
		met:     met,
		channel: cfg.KeyPrefix + "done",
		ctx:     ctx,
		cancel:  cancel,
		idle:    make(chan func()),
		waiters: make(map[string]map[chan struct{}]struct{}),
	}
	t.health = redishealth.New(rdb, redishealth.Config{
		Gauge:       met.degraded,
		Log:         t.log,
		DownMessage: "redis unreachable, continuing on the in-process cache",
		UpMessage:   "redis reachable again, using the shared cache",
	})
	if rdb != nil {
		t.subscribe()
	}
	return t, nil
}

// Degraded reports whether Redis is currently considered unreachable. The
// cache recovers by itself when Redis answers again.
func (t *Tiered) Degraded() bool { return t.health.Degraded() }

// Close stops the subscription and background probes, cancels running
// computations and waits for them. It does not close the Redis client.
func (t *Tiered) Close() error {
	t.mu.Lock()
	if t.closed {
		t.mu.Unlock()
		return nil
	}
	t.closed = true
	t.mu.Unlock()
	t.health.Close() // first: errors of the cancelled computations are not Redis's
	t.cancel()
	var err error
	if t.ps != nil {
		err = t.ps.Close()
	}
	t.wg.Wait()
	if err != nil {
		return fmt.Errorf("cache: close subscription: %w", err)
	}
	return nil
}

// goTracked runs f in a goroutine that Close waits for; false after Close.
// It hands f to an idle goroutine when one is waiting, and starts one
// otherwise. Do runs every flight on one of these; a fresh goroutine grew
// its stack, by copying, on each way down the enrichment's call chain
// (runtime.newstack was 7 % of the embedded worker's CPU profile with the
// offline enricher), where a reused one already has the room.
func (t *Tiered) goTracked(f func()) bool {
	t.mu.RLock()
	defer t.mu.RUnlock()
	if t.closed {
		return false
	}
	select {
	case t.idle <- f: // an idle goroutine took it
		return true
	default:
	}
	t.wg.Add(1)
	t.started.Add(1)
	go t.runTracked(f)
	return true
}

// idleFor is how long a goroutine of goTracked waits for more work before
// it ends.
const idleFor = 5 * time.Second

// runTracked runs f, then what goTracked hands it, until it has been idle
// for idleFor or Close cancelled t.ctx. goTracked sends only while not
// closed, under the read lock Close waits for, so nothing is handed to a
// goroutine after Close began.
func (t *Tiered) runTracked(f func()) {
	defer t.wg.Done()
	timer := time.NewTimer(idleFor)
	defer timer.Stop()
	for {
		f()
		f = nil // not keeping what it refers to while idle
		timer.Reset(idleFor)
		select {
		case f = <-t.idle:
		case <-timer.C:
			return
		case <-t.ctx.Done():
			return
		}
	}
}

func (t *Tiered) valueKey(key string) string { return t.cfg.KeyPrefix + "llm:" + key }
func (t *Tiered) leaseKey(key string) string { return t.cfg.KeyPrefix + "lease:" + key }

// GetMany returns the values found for keys: memory first, then one round
// trip to Redis for all the rest (one MGET; on Redis Cluster one pipeline of
// GETs, which the client splits by node and sends to the nodes at once, so
// still one round trip per node). Redis hits are promoted to memory. Keys
// without a value are absent from the map; GetMany counts hits only, since a
// caller that misses asks Do next, and Do counts the miss (once per missed
// key). A Redis error does not fail the call: the cache is marked degraded
// and the hits found (in memory, and on the cluster's nodes that answered)
// are returned. The error is non-nil only when ctx ended during the lookup
// (with the memory hits).
func (t *Tiered) GetMany(ctx context.Context, keys []string) (map[string][]byte, error) {
	out := make(map[string][]byte, len(keys))
	var rest []string
	seen := make(map[string]struct{}, len(keys))
	for _, k := range keys {
		if _, dup := seen[k]; dup {
			continue
		}
		seen[k] = struct{}{}
		if v, ok := t.mem.Get(k); ok {
			out[k] = v
			t.met.memoryHits.Inc()
			continue
		}
		rest = append(rest, k)
	}
	if len(rest) == 0 {
		return out, nil
	}
	if !t.health.Up() {
		return out, nil
	}
	rkeys := make([]string, len(rest))
	for i, k := range rest {
		rkeys[i] = t.valueKey(k)
	}
	cctx, cancel := t.call(ctx)
	defer cancel()
	vals, err := t.mget(cctx, rkeys)
	if err != nil {
		if ctx.Err() != nil {
			return out, fmt.Errorf("cache: mget %d keys: %w", len(rest), ctx.Err())
		}
		t.health.Down(err)
	}
	for i, v := range vals {
		if v == nil {
			continue
		}
		t.mem.Add(rest[i], v)
		out[rest[i]] = v
		t.met.redisHits.Inc()
	}
	return out, nil
}

// mget returns the value of each key, nil where it has none, in one round
// trip (per node on a cluster). On error it returns what it found anyway:
// on a cluster, the values on the nodes that answered.
func (t *Tiered) mget(ctx context.Context, keys []string) ([][]byte, error) {
	out := make([][]byte, len(keys))
	if _, cluster := t.rdb.(*redis.ClusterClient); !cluster {
		vals, err := t.rdb.MGet(ctx, keys...).Result()
		if err != nil {
			return out, err
		}
		for i, v := range vals {
			if s, ok := v.(string); ok {
				out[i] = []byte(s)
			}
		}
		return out, nil
	}
	// MGET spans hash slots, which a cluster refuses; go-redis groups a
	// pipeline's commands by node and runs the nodes' pipelines in parallel.
	pipe := t.rdb.Pipeline()
	cmds := make([]*redis.StringCmd, len(keys))
	for i, k := range keys {
		cmds[i] = pipe.Get(ctx, k)
	}
	_, _ = pipe.Exec(ctx) // errors are the commands' own, read below
	var first error
	for i, c := range cmds {
		b, err := c.Bytes()
		switch {
		case err == nil:
			out[i] = b
		case !errors.Is(err, redis.Nil) && first == nil:
			first = err
		}
	}
	return out, first
}

// call bounds one Redis call by Config.CallTimeout.
func (t *Tiered) call(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, t.cfg.CallTimeout)
}
