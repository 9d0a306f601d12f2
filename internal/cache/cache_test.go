package cache

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"

	"newsflow/internal/redistest"
)

func TestConfig_Validate(t *testing.T) {
	t.Parallel()
	ok := Config{MemoryEntries: 1, MemoryBytes: 1 << 10, MemoryTTL: time.Second, RedisTTL: time.Second, KeyPrefix: "p:", LeaseTTL: time.Second, LeaseWait: time.Second,
		CallTimeout: time.Second}
	for _, tc := range []struct {
		name   string
		mutate func(*Config)
		field  string // "" = valid
	}{
		{"valid", func(*Config) {}, ""},
		{"entries", func(c *Config) { c.MemoryEntries = -1 }, "MemoryEntries"},
		{"bytes", func(c *Config) { c.MemoryBytes = 100 }, "MemoryBytes"},
		{"memory ttl", func(c *Config) { c.MemoryTTL = -1 }, "MemoryTTL"},
		{"redis ttl", func(c *Config) { c.RedisTTL = time.Microsecond }, "RedisTTL"},
		{"lease ttl", func(c *Config) { c.LeaseTTL = time.Millisecond }, "LeaseTTL"},
		{"lease wait", func(c *Config) { c.LeaseWait = -time.Second }, "LeaseWait"},
		{"prefix", func(c *Config) { c.KeyPrefix = "" }, "KeyPrefix"},
		{"call timeout", func(c *Config) { c.CallTimeout = -time.Second }, "CallTimeout"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := ok
			tc.mutate(&c)
			err := c.Validate()
			if tc.field == "" && err != nil || tc.field != "" && (err == nil || !strings.Contains(err.Error(), tc.field)) {
				t.Fatalf("Validate() = %v, want error naming %q", err, tc.field)
			}
		})
	}
	if _, err := New(Config{LeaseTTL: -1}, nil, nil, nil); err == nil {
		t.Fatal("New accepted a negative LeaseTTL")
	}
}

func TestSource_String(t *testing.T) {
	t.Parallel()
	got := []string{SourceComputed.String(), SourceMemory.String(), SourceRedis.String(), SourceWaited.String()}
	if diff := cmp.Diff([]string{"computed", "memory", "redis", "waited"}, got); diff != "" {
		t.Fatalf("(-want +got)\n%s", diff)
	}
}

func TestTiered_GetMany(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	b := setup(t, Config{})
	if _, src, err := b.t.Do(ctx, "mem", func(context.Context) ([]byte, error) { return value("mem"), nil }); err != nil || src != SourceComputed {
		t.Fatalf("Do(mem) = %v, %v", src, err)
	}
	if err := b.rdb.Set(ctx, b.t.valueKey("red"), value("red"), time.Minute).Err(); err != nil {
		t.Fatal(err)
	}
	b.cmds.reset()

	got, err := b.t.GetMany(ctx, []string{"mem", "red", "none", "red", "none2"})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string][]byte{"mem": value("mem"), "red": value("red")}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("GetMany (-want +got)\n%s", diff)
	}
	if n, total := b.cmds.count("mget"), len(b.cmds.n); n != 1 || total != 1 {
		t.Fatalf("sent %v, want exactly one mget", b.cmds.n)
	}
	for _, c := range []struct {
		name, label string
		want        float64
	}{
		{"newsflow_cache_hits_total", "tier=memory", 1},
		{"newsflow_cache_hits_total", "tier=redis", 1},
		{"newsflow_cache_misses_total", "", 1}, // Do's first lookup of "mem"; GetMany counts hits only
	} {
		var labels []string
		if c.label != "" {
			labels = append(labels, c.label)
		}
		if got := b.metric(t, c.name, labels...); got != c.want {
			t.Errorf("%s{%s} = %v, want %v", c.name, c.label, got, c.want)
		}
	}

	if n := b.metric(t, "newsflow_redis_pool_total_conns"); n < 1 {
		t.Errorf("newsflow_redis_pool_total_conns = %v, want ≥ 1", n)
	}

	// The Redis hit was promoted: a second lookup sends nothing.
	b.cmds.reset()
	got, err = b.t.GetMany(ctx, []string{"red", "mem"})
	if err != nil || len(got) != 2 {
		t.Fatalf("GetMany again = %v, %v", got, err)
	}
	if len(b.cmds.n) != 0 {
		t.Fatalf("memory hits sent %v to redis", b.cmds.n)
	}
}

func TestTiered_MemoryOnly(t *testing.T) {
	t.Parallel()
	b := newBundle(t, Config{}, nil)
	c := newCounter()
	var wg sync.WaitGroup
	for range 20 {
		wg.Go(func() {
			if v, _, err := b.t.Do(t.Context(), "k", c.fn("k", 10*time.Millisecond)); err != nil || string(v) != "v:k" {
				t.Errorf("Do = %q, %v", v, err)
			}
		})
	}
	wg.Wait()
	if n := c.get("k"); n != 1 {
		t.Fatalf("fn called %d times, want 1", n)
	}
	got, err := b.t.GetMany(t.Context(), []string{"k", "x"})
	if err != nil || len(got) != 1 || b.t.Degraded() {
		t.Fatalf("GetMany = %v, %v; degraded %v", got, err, b.t.Degraded())
	}
}

func TestTiered_DoSingleflight(t *testing.T) {
	t.Parallel()
	b := setup(t, Config{})
	c := newCounter()
	const n = 50
	gate := make(chan struct{})
	var started, wg sync.WaitGroup
	started.Add(n)
	fn := func(ctx context.Context) ([]byte, error) {
		if err := hold(ctx, gate); err != nil { // until every goroutine has called Do
			return nil, err
		}
		return c.fn("k", 0)(ctx)
	}
	sources := make(chan Source, n)
	for range n {
		wg.Go(func() {
			started.Done()
			v, src, err := b.t.Do(t.Context(), "k", fn)
			if err != nil || string(v) != "v:k" {
				t.Errorf("Do = %q, %v", v, err)
			}
			sources <- src
		})
	}
	started.Wait()
	close(gate)
	wg.Wait()
	close(sources)
	count := map[Source]int{}
	for s := range sources {
		count[s]++
	}
	if c.get("k") != 1 || count[SourceComputed] != 1 || count[SourceRedis] != 0 {
		t.Fatalf("fn called %d times; sources %v", c.get("k"), count)
	}
	if got, err := b.rdb.Get(t.Context(), b.t.valueKey("k")).Result(); err != nil || got != "v:k" {
		t.Fatalf("redis value = %q, %v", got, err)
	}
	if exists := b.rdb.Exists(t.Context(), b.t.leaseKey("k")).Val(); exists != 0 {
		t.Fatal("lease not released")
	}
}

// doEverywhere has goroutines goroutines per worker each Do every key of ks,
// in its own random order, each computation taking 5 ms; it checks every
// value, that each key was computed exactly once, and returns how often
// each source answered.
func doEverywhere(t *testing.T, ctx context.Context, workers []*bundle, goroutines int, ks []string) map[Source]int {
	t.Helper()
	c := newCounter()
	var mu sync.Mutex
	sources := map[Source]int{}
	var wg sync.WaitGroup
	for w, b := range workers {
		for g := range goroutines {
			wg.Go(func() {
				order := append([]string(nil), ks...)
				r := rand.New(rand.NewPCG(uint64(w), uint64(g)))
				r.Shuffle(len(order), func(i, j int) { order[i], order[j] = order[j], order[i] })
				for _, k := range order {
					v, src, err := b.t.Do(ctx, k, c.fn(k, 5*time.Millisecond))
					if err != nil || string(v) != string(value(k)) {
						t.Errorf("Do(%s) = %q, %v", k, v, err)
					}
					mu.Lock()
					sources[src]++
					mu.Unlock()
				}
			})
		}
	}
	wg.Wait()
	for _, k := range ks {
		if n := c.get(k); n != 1 {
			t.Errorf("key %s computed %d times, want 1", k, n)
		}
	}
	return sources
}

// Three caches with their own clients stand for three workers.
func TestTiered_DoCluster(t *testing.T) {
	t.Parallel()
	first := setup(t, Config{})
	workers := []*bundle{first}
	for range 2 {
		workers = append(workers, setup(t, Config{KeyPrefix: first.t.cfg.KeyPrefix}))
	}
	ks := keys(30, "story-")
	sources := doEverywhere(t, t.Context(), workers, 20, ks)
	if sources[SourceComputed] != len(ks) {
		t.Errorf("sources %v: want %d computed", sources, len(ks))
	}
	var takeovers float64
	for _, b := range workers {
		takeovers += b.metric(t, "newsflow_cache_lease_takeovers_total")
	}
	if takeovers != 0 {
		t.Errorf("%v lease take-overs, want 0 (every owner was alive)", takeovers)
	}
	t.Logf("sources: %v", sources)
}

// The owner died: its lease is there, the value never comes. A waiter takes
// over once the lease expires and exactly one computes.
func TestTiered_DoTakeover(t *testing.T) {
	t.Parallel()
	a := setup(t, Config{})
	bb := setup(t, Config{KeyPrefix: a.t.cfg.KeyPrefix})
	if err := a.rdb.Set(t.Context(), a.t.leaseKey("k"), "dead-token", 300*time.Millisecond).Err(); err != nil {
		t.Fatal(err)
	}
	c := newCounter()
	var wg sync.WaitGroup
	srcs := make(chan Source, 10)
	for _, b := range []*bundle{a, bb} {
		for range 5 {
			wg.Go(func() {
				v, src, err := b.t.Do(t.Context(), "k", c.fn("k", 0))
				if err != nil || string(v) != "v:k" {
					t.Errorf("Do = %q, %v", v, err)
				}
				srcs <- src
			})
		}
	}
	wg.Wait()
	close(srcs)
	if n := c.get("k"); n != 1 {
		t.Fatalf("fn called %d times, want 1", n)
	}
	takeovers := a.metric(t, "newsflow_cache_lease_takeovers_total") + bb.metric(t, "newsflow_cache_lease_takeovers_total")
	waits := a.metric(t, "newsflow_cache_singleflight_waits_total", "scope=cluster") + bb.metric(t, "newsflow_cache_singleflight_waits_total", "scope=cluster")
	if takeovers != 1 || waits != 2 {
		t.Fatalf("takeovers %v, cluster waits %v; want 1 and 2", takeovers, waits)
	}
}

// A failed computation releases the lease at once, so a waiter in another
// process computes long before the lease would expire.
func TestTiered_DoOwnerFails(t *testing.T) {
	t.Parallel()
	a := setup(t, Config{LeaseTTL: time.Minute})
	bb := setup(t, Config{KeyPrefix: a.t.cfg.KeyPrefix, LeaseTTL: time.Minute})
	inFn, fail := make(chan struct{}), make(chan struct{})
	boom := errors.New("llm down")
	errc := make(chan error, 1)
	go func() {
		_, _, err := a.t.Do(t.Context(), "k", func(ctx context.Context) ([]byte, error) {
			close(inFn)
			if err := hold(ctx, fail); err != nil {
				return nil, err
			}
			return nil, boom
		})
		errc <- err
	}()
	<-inFn
	c := newCounter()
	done := make(chan Source, 1)
	go func() {
		_, src, err := bb.t.Do(t.Context(), "k", c.fn("k", 0))
		if err != nil {
			t.Errorf("waiter Do: %v", err)
		}
		done <- src
	}()
	eventually(t, 5*time.Second, "waiter registered", func() bool {
		return bb.metric(t, "newsflow_cache_singleflight_waits_total", "scope=cluster") == 1
	})
	start := time.Now()
	close(fail)
	if err := <-errc; !errors.Is(err, boom) {
		t.Fatalf("owner Do error = %v, want %v", err, boom)
	}
	select {
	case src := <-done:
		if src != SourceComputed || c.get("k") != 1 {
			t.Fatalf("waiter source %v, fn calls %d", src, c.get("k"))
		}
	case <-time.After(5 * time.Second):
		t.Fatal("waiter did not take over within 5s of the failure")
	}
	t.Logf("take-over after failure took %s", time.Since(start))
}

// A computation slower than LeaseTTL keeps its lease alive: nobody takes over,
// and the value is stored and the lease released when it ends. The lease is
// long enough that a CPU-starved test run (-race, every package at once)
// does not miss an extension, and the computation (5 leases) outlasts
// settleTime, as slow LLM calls do: the store after it once failed because
// its time budget had started before the computation.
func TestTiered_DoLeaseExtension(t *testing.T) {
	t.Parallel()
	const lease = 1500 * time.Millisecond
	if 5*lease <= settleTime {
		t.Fatalf("the computation (%s) must outlast settleTime (%s)", 5*lease, settleTime)
	}
	a := setup(t, Config{LeaseTTL: lease})
	bb := setup(t, Config{KeyPrefix: a.t.cfg.KeyPrefix, LeaseTTL: lease})
	inFn, finish := make(chan struct{}), make(chan struct{})
	slow := func(ctx context.Context) ([]byte, error) {
		close(inFn)
		if err := hold(ctx, finish); err != nil {
			return nil, err
		}
		return value("k"), nil
	}
	resA := make(chan Source, 1)
	go func() {
		_, src, err := a.t.Do(t.Context(), "k", slow)
		if err != nil {
			t.Errorf("owner Do: %v", err)
		}
		resA <- src
	}()
	<-inFn
	c := newCounter()
	resB := make(chan Source, 1)
	go func() {
		v, src, err := bb.t.Do(t.Context(), "k", c.fn("k", 0))
		if err != nil || string(v) != "v:k" {
			t.Errorf("waiter Do = %q, %v", v, err)
		}
		resB <- src
	}()
	token, err := a.rdb.Get(t.Context(), a.t.leaseKey("k")).Result()
	if err != nil {
		t.Fatalf("lease: %v", err)
	}
	// Watch the lease for 5×LeaseTTL: it must stay, with the same owner.
	end := time.Now().Add(5 * lease)
	eventually(t, 10*lease, "5 lease periods passed", func() bool {
		got, err := a.rdb.Get(t.Context(), a.t.leaseKey("k")).Result()
		if err != nil || got != token {
			t.Fatalf("lease = %q, %v; want it held by %q", got, err, token)
		}
		return time.Now().After(end)
	})
	close(finish)
	if src := <-resA; src != SourceComputed {
		t.Fatalf("owner source %v", src)
	}
	if src := <-resB; src != SourceWaited || c.get("k") != 0 {
		t.Fatalf("waiter source %v, computed %d times; want waited, 0", src, c.get("k"))
	}
	if n := bb.metric(t, "newsflow_cache_lease_takeovers_total"); n != 0 {
		t.Fatalf("takeovers = %v", n)
	}
}

func TestTiered_LeaseWait(t *testing.T) {
	t.Parallel()
	b := setup(t, Config{LeaseWait: 200 * time.Millisecond})
	if err := b.rdb.Set(t.Context(), b.t.leaseKey("k"), "other", time.Minute).Err(); err != nil {
		t.Fatal(err)
	}
	c := newCounter()
	_, _, err := b.t.Do(t.Context(), "k", c.fn("k", 0))
	if !errors.Is(err, ErrLeaseWait) || c.get("k") != 0 {
		t.Fatalf("Do error %v, fn calls %d; want ErrLeaseWait, 0", err, c.get("k"))
	}
	ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
	defer cancel()
	if _, _, err := b.t.Do(ctx, "k", c.fn("k", 0)); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Do with short ctx = %v", err)
	}
}

func TestTiered_TTLExpiry(t *testing.T) {
	t.Parallel()
	b := setup(t, Config{RedisTTL: 200 * time.Millisecond})
	c := newCounter()
	ctx := t.Context()
	if _, src, err := b.t.Do(ctx, "k", c.fn("k", 0)); err != nil || src != SourceComputed {
		t.Fatalf("Do = %v, %v", src, err)
	}
	if ttl := b.rdb.PTTL(ctx, b.t.valueKey("k")).Val(); ttl <= 0 || ttl > 200*time.Millisecond {
		t.Fatalf("redis TTL %s, want ≤ 200ms", ttl)
	}
	eventually(t, 5*time.Second, "value expired in both tiers", func() bool {
		got, err := b.t.GetMany(ctx, []string{"k"})
		return err == nil && len(got) == 0 && b.rdb.Exists(ctx, b.t.valueKey("k")).Val() == 0
	})
	if _, src, err := b.t.Do(ctx, "k", c.fn("k", 0)); err != nil || src != SourceComputed || c.get("k") != 2 {
		t.Fatalf("Do after expiry = %v, %v; fn calls %d", src, err, c.get("k"))
	}
}

func TestNewRedisClient(t *testing.T) {
	t.Parallel()
	uc, err := NewRedisClient(redistest.URL(), false, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = uc.Close() }()
	rdb, ok := uc.(*redis.Client)
	if !ok {
		t.Fatalf("single mode gave %T, want *redis.Client", uc)
	}
	opt := rdb.Options()
	if opt.DialTimeout != time.Second || opt.ReadTimeout != time.Second || opt.PoolSize < 32 || !opt.ContextTimeoutEnabled {
		t.Fatalf("options: dial %s read %s pool %d context timeouts %v", opt.DialTimeout, opt.ReadTimeout, opt.PoolSize, opt.ContextTimeoutEnabled)
	}
	if err := rdb.Ping(t.Context()).Err(); err != nil {
		t.Fatal(err)
	}

	cc, err := NewRedisClient("redis://:pw@127.0.0.1:7000?addr=127.0.0.1:7001&addr=127.0.0.1:7002", true, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cc.Close() }()
	cl, ok := cc.(*redis.ClusterClient)
	if !ok {
		t.Fatalf("cluster mode gave %T, want *redis.ClusterClient", cc)
	}
	copt := cl.Options()
	if len(copt.Addrs) != 3 || copt.ReadTimeout != 5*time.Second || copt.DialTimeout != time.Second || copt.Password != "pw" || !copt.ContextTimeoutEnabled {
		t.Fatalf("cluster options: addrs %v read %s dial %s context timeouts %v", copt.Addrs, copt.ReadTimeout, copt.DialTimeout, copt.ContextTimeoutEnabled)
	}

	for _, c := range []struct {
		url     string
		cluster bool
		want    string
	}{
		{"http://user:secret@host", false, "invalid url"},
		{"http://user:secret@host", true, "invalid url"},
		{"redis://:secret@h1:7000?addr=h2:7001", false, "cluster mode"},
		{"redis://:secret@h1:7000/3?addr=h2:7001", true, "only database 0"},
		{"redis://:secret@h1:7000?addr=nonsense", true, "invalid url"},
	} {
		_, err := NewRedisClient(c.url, c.cluster, 0)
		if err == nil || strings.Contains(err.Error(), "secret") || !strings.Contains(err.Error(), c.want) {
			t.Errorf("NewRedisClient(%q, cluster %v) error = %v, want one naming %q and no secret", c.url, c.cluster, err, c.want)
		}
		if cerr := CheckRedisURL(c.url, c.cluster); (cerr == nil) != (err == nil) {
			t.Errorf("CheckRedisURL(%q) = %v, NewRedisClient %v", c.url, cerr, err)
		}
	}
}

func TestTiered_Closed(t *testing.T) {
	t.Parallel()
	b := setup(t, Config{})
	if err := b.t.Close(); err != nil {
		t.Fatal(err)
	}
	if _, _, err := b.t.Do(t.Context(), "k", newCounter().fn("k", 0)); !errors.Is(err, ErrClosed) {
		t.Fatalf("Do after Close = %v, want ErrClosed", err)
	}
}

// A caller that registered the pool collector itself can still build a cache
// on the same registry.
func TestNew_PoolCollectorRegistered(t *testing.T) {
	t.Parallel()
	rdb := redistest.Client(t)
	reg := prometheus.NewRegistry()
	reg.MustRegister(NewPoolCollector(rdb))
	c, err := New(Config{KeyPrefix: redistest.Prefix(t, rdb)}, rdb, nil, reg)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
}

// TestTiered_OneMissPerMissedKey: the enrich stage's pattern, GetMany for a
// batch then Do for each key it did not find, counts one miss per missed
// key, with Redis and in-process only.
func TestTiered_OneMissPerMissedKey(t *testing.T) {
	t.Parallel()
	for _, withRedis := range []bool{true, false} {
		t.Run(fmt.Sprintf("redis=%v", withRedis), func(t *testing.T) {
			t.Parallel()
			ctx := t.Context()
			var b *bundle
			if withRedis {
				b = setup(t, Config{})
			} else {
				b = newBundle(t, Config{}, nil)
			}
			if _, _, err := b.t.Do(ctx, "k0", func(context.Context) ([]byte, error) { return value("k0"), nil }); err != nil {
				t.Fatal(err)
			}
			missesBefore := b.metric(t, "newsflow_cache_misses_total")
			keys := []string{"k0", "k1", "k2", "k3", "k4", "k5"}
			got, err := b.t.GetMany(ctx, keys)
			if err != nil || len(got) != 1 {
				t.Fatalf("GetMany = %v, %v; want k0 only", got, err)
			}
			computed := 0
			for _, k := range keys {
				if _, ok := got[k]; ok {
					continue
				}
				if _, src, err := b.t.Do(ctx, k, func(context.Context) ([]byte, error) { return value(k), nil }); err != nil || src != SourceComputed {
					t.Fatalf("Do(%s) = %v, %v", k, src, err)
				}
				computed++
			}
			misses := b.metric(t, "newsflow_cache_misses_total") - missesBefore
			if computes := b.metric(t, "newsflow_cache_computes_total"); misses != float64(computed) || computes != float64(computed+1) {
				t.Errorf("%d keys missed and computed: misses grew by %v, computes %v; want %d and %d", computed, misses, computes, computed, computed+1)
			}
		})
	}
}

// Flights that follow one another run on the goroutine the first started,
// not on a new one each (goTracked), and Close ends it.
func TestTiered_DoReusesGoroutines(t *testing.T) {
	t.Parallel()
	b := newBundle(t, Config{}, nil)
	c := newCounter()
	const n = 50
	for i := range n {
		k := fmt.Sprint("k", i)
		if v, src, err := b.t.Do(t.Context(), k, c.fn(k, 0)); err != nil || string(v) != "v:"+k || src != SourceComputed {
			t.Fatalf("Do(%s) = %q, %v, %v", k, v, src, err)
		}
	}
	if started := b.t.started.Load(); started >= n {
		t.Fatalf("%d sequential flights started %d goroutines, want fewer", n, started)
	}
	if err := b.t.Close(); err != nil {
		t.Fatal(err)
	}
}
