package cache

import (
	"fmt"
	"net"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"newsflow/internal/redistest"
)

// A private redis-server is killed mid-run: calls keep working in-process,
// the cache says it is degraded (once), and recovers when the server returns.
func TestTiered_RedisDown(t *testing.T) {
	t.Parallel()
	srv := redistest.StartServer(t)
	testRedisDown(t, srv.URL(), srv, nil)
}

// One master of a private three-master Redis Cluster is killed mid-run, and
// the survivors mark it failed (CLUSTERDOWN): as with a single Redis down,
// calls keep working in-process and the cache says it is degraded (once).
// It recovers when the master is back on its port with its nodes.conf and
// the cluster is ok again.
func TestTiered_RedisClusterMasterDown(t *testing.T) {
	t.Parallel()
	cl := redistest.StartCluster(t, 3)
	testRedisDown(t, cl.URL(), cl.Nodes[0], cl)
}

// testRedisDown kills srv mid-run: the Redis at redisURL, or a master of
// cl. With cl it waits until the cluster reports the failure before
// bringing the master back.
func testRedisDown(t *testing.T, redisURL string, srv *redistest.Server, cl *redistest.Cluster) {
	rdb, err := NewRedisClient(redisURL, cl != nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = rdb.Close() })
	core, logs := observer.New(zapcore.InfoLevel)
	b := newBundleLog(t, Config{KeyPrefix: "nf:"}, rdb, zap.New(core))
	ctx := t.Context()
	c := newCounter()

	do := func(key string) Source {
		t.Helper()
		start := time.Now()
		v, src, err := b.t.Do(ctx, key, c.fn(key, 0))
		if err != nil || string(v) != string(value(key)) {
			t.Fatalf("Do(%s) = %q, %v", key, v, err)
		}
		if d := time.Since(start); d > 2*time.Second {
			t.Fatalf("Do(%s) took %s on a dead redis", key, d)
		}
		return src
	}
	if src := do("before"); src != SourceComputed {
		t.Fatalf("source %v", src)
	}
	if got := rdb.Get(ctx, "nf:llm:before").Val(); got != "v:before" {
		t.Fatalf("value in redis = %q", got)
	}

	srv.Kill()
	for i := range 20 {
		if src := do(fmt.Sprintf("down-%d", i)); src != SourceComputed {
			t.Fatalf("source %v", src)
		}
	}
	start := time.Now()
	got, err := b.t.GetMany(ctx, []string{"before", "down-3", "never"})
	if err != nil || len(got) != 2 || time.Since(start) > 2*time.Second {
		t.Fatalf("GetMany while down = %v, %v after %s", got, err, time.Since(start))
	}
	if src := do("down-3"); src != SourceMemory {
		t.Fatalf("source %v, want memory", src)
	}
	if !b.t.Degraded() || b.metric(t, "newsflow_cache_redis_degraded") != 1 {
		t.Fatalf("degraded %v, gauge %v", b.t.Degraded(), b.metric(t, "newsflow_cache_redis_degraded"))
	}
	if n := logs.FilterMessageSnippet("unreachable").Len(); n != 1 {
		t.Fatalf("%d warnings about the outage, want 1", n)
	}

	if cl != nil {
		cl.WaitFailed(1)
		if src := do("cluster-down"); src != SourceComputed {
			t.Fatalf("source %v", src)
		}
	}
	srv.Start()
	i := 0
	eventually(t, 30*time.Second, "recovered", func() bool {
		i++
		do(fmt.Sprintf("probe-%d", i)) // use drives the probe
		return !b.t.Degraded()
	})
	if src := do("after"); src != SourceComputed {
		t.Fatalf("source %v", src)
	}
	if got := rdb.Get(ctx, "nf:llm:after").Val(); got != "v:after" {
		t.Fatalf("value in redis after recovery = %q", got)
	}
	if exists := rdb.Exists(ctx, "nf:lease:after").Val(); exists != 0 {
		t.Fatal("lease left behind after recovery")
	}
	if g := b.metric(t, "newsflow_cache_redis_degraded"); g != 0 {
		t.Fatalf("gauge %v after recovery", g)
	}
	if n := logs.FilterMessageSnippet("reachable again").Len(); n != 1 {
		t.Fatalf("%d recovery logs, want 1", n)
	}
	// The notification subscription came back too.
	eventually(t, 10*time.Second, "re-subscribed to nf:done", func() bool {
		n, err := numSub(ctx, rdb, "nf:done")
		return err == nil && n == 1
	})
}

// A Redis that accepts connections and never answers costs one read timeout,
// not a hang.
func TestTiered_RedisBlackhole(t *testing.T) {
	t.Parallel()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var conns []net.Conn
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		_ = l.Close()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			_ = c.Close()
		}
	})
	rdb, err := NewRedisClient("redis://"+l.Addr().String()+"/0", false, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = rdb.Close() })
	b := newBundle(t, Config{KeyPrefix: "nf:"}, rdb)
	c := newCounter()
	for i := range 10 {
		start := time.Now()
		key := fmt.Sprintf("k%d", i)
		v, src, err := b.t.Do(t.Context(), key, c.fn(key, 0))
		if err != nil || src != SourceComputed || string(v) != string(value(key)) {
			t.Fatalf("Do = %q, %v, %v", v, src, err)
		}
		limit := 100 * time.Millisecond
		if i == 0 {
			limit = 3 * time.Second // one read timeout (1s) plus slack for -race
		}
		d := time.Since(start)
		t.Logf("Do #%d took %s", i, d)
		if d > limit {
			t.Fatalf("Do #%d took %s, want ≤ %s", i, d, limit)
		}
	}
	if !b.t.Degraded() {
		t.Fatal("not degraded")
	}
}
