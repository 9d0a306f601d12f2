package redishealth

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/redis/go-redis/v9"
	"go.uber.org/goleak"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"newsflow/internal/await"
	"newsflow/internal/redistest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// counting is a real client that counts its PINGs.
type counting struct {
	*redis.Client
	pings atomic.Int32
}

func (c *counting) Ping(ctx context.Context) *redis.StatusCmd {
	c.pings.Add(1)
	return c.Client.Ping(ctx)
}

func newMonitor(t *testing.T, url string, interval time.Duration) (*Monitor, *counting, prometheus.Gauge, *observer.ObservedLogs) {
	t.Helper()
	opt, err := redis.ParseURL(url)
	if err != nil {
		t.Fatal(err)
	}
	rdb := &counting{Client: redis.NewClient(opt)}
	t.Cleanup(func() { _ = rdb.Close() })
	core, logs := observer.New(zapcore.InfoLevel)
	g := prometheus.NewGauge(prometheus.GaugeOpts{Name: "test_degraded"})
	m := New(rdb, Config{Gauge: g, Log: zap.New(core), DownMessage: "down", UpMessage: "up", Interval: interval})
	t.Cleanup(m.Close)
	return m, rdb, g, logs
}

// A private redis-server dies and returns: one warning and gauge 1 for the
// outage however many failures are reported, Up false at once while it
// lasts, and recovery through the background PING alone.
func TestMonitor_OutageAndRecovery(t *testing.T) {
	t.Parallel()
	srv := redistest.StartServer(t)
	m, rdb, g, logs := newMonitor(t, srv.URL(), 20*time.Millisecond)
	if !m.Up() || m.Degraded() {
		t.Fatal("not up with Redis running")
	}
	srv.Kill()
	err := rdb.Client.Ping(t.Context()).Err()
	if err == nil {
		t.Fatal("PING answered by a killed server")
	}
	for range 5 {
		m.Down(err)
	}
	if !m.Degraded() || m.Up() || testutil.ToFloat64(g) != 1 {
		t.Fatalf("degraded %v, gauge %v; want degraded, Up false, gauge 1", m.Degraded(), testutil.ToFloat64(g))
	}
	if n := logs.FilterMessage("down").Len(); n != 1 {
		t.Fatalf("%d outage warnings, want 1", n)
	}
	srv.Start()
	await.Until(t, 10*time.Second, "recovered", func() (bool, string) {
		return m.Up(), "still degraded" // Up drives the probe
	})
	if testutil.ToFloat64(g) != 0 || logs.FilterMessage("up").Len() != 1 {
		t.Fatalf("gauge %v, %d recovery logs; want 0 and 1", testutil.ToFloat64(g), logs.FilterMessage("up").Len())
	}
}

// The first probe comes one Interval after the failure, never sooner
// however often Up is asked.
func TestMonitor_ProbesAtMostOncePerInterval(t *testing.T) {
	t.Parallel()
	m, rdb, _, _ := newMonitor(t, redistest.URL(), time.Hour)
	m.Down(errors.New("boom"))
	for range 1000 {
		if m.Up() {
			t.Fatal("Up while degraded")
		}
	}
	if n := rdb.pings.Load(); n != 0 {
		t.Fatalf("%d PINGs within the interval, want 0", n)
	}
}

// Without a client Up is false; after Close a failure is not an outage.
func TestMonitor_NilClientAndClose(t *testing.T) {
	m := New(nil, Config{})
	if m.Up() || m.Degraded() {
		t.Fatal("up or degraded without a client")
	}
	m.Close()
	m.Down(errors.New("closing"))
	if m.Degraded() {
		t.Fatal("degraded by a failure reported after Close")
	}
}

// On Redis Cluster the probe asks every master: with one master killed, and
// then with the survivors marking the cluster failed, it fails although they
// answer PING; the Monitor recovers once the master is back on its port with
// its nodes.conf and every master says the cluster is ok.
func TestMonitor_ClusterMasterDown(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	cl := redistest.StartCluster(t, 3)
	rdb := cl.Client(t)
	if err := probe(ctx, rdb); err != nil {
		t.Fatalf("probe of a healthy cluster: %v", err)
	}
	cl.Nodes[2].Kill()
	if err := probe(ctx, rdb); err == nil {
		t.Fatal("probe ok with a master killed")
	}
	cl.WaitFailed(0)
	if err := probe(ctx, rdb); err == nil {
		t.Fatal("probe ok with the cluster failed")
	}
	core, logs := observer.New(zapcore.InfoLevel)
	m := New(rdb, Config{Log: zap.New(core), DownMessage: "down", UpMessage: "up", Interval: 20 * time.Millisecond})
	t.Cleanup(m.Close)
	m.Down(errors.New("CLUSTERDOWN"))

	cl.Nodes[2].Start()
	// The survivors clear the failure two node timeouts after it; until
	// then the probe must not pass.
	if err := probe(ctx, rdb); err == nil {
		n0 := redis.NewClient(&redis.Options{Addr: cl.Nodes[0].Addr()})
		info, ierr := n0.ClusterInfo(ctx).Result()
		_ = n0.Close()
		if ierr == nil && strings.Contains(info, "cluster_state:fail") {
			t.Fatal("probe ok while a master still reports cluster_state:fail")
		}
	}
	await.Until(t, 30*time.Second, "recovered", func() (bool, string) {
		return m.Up(), "still degraded" // Up drives the probe
	})
	if logs.FilterMessage("up").Len() != 1 || logs.FilterMessage("down").Len() != 1 {
		t.Fatalf("%d outage and %d recovery logs, want 1 each", logs.FilterMessage("down").Len(), logs.FilterMessage("up").Len())
	}
}
