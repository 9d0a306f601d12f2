// Package redishealth decides whether a Redis client is worth using right
// now, for components that fall back to in-process state when Redis is
// unreachable (the enrichment cache, the story index).
//
// A [Monitor] guarantees:
//   - it logs one warning and sets its gauge to 1 once per outage, when the
//     first failure is reported, and logs once and sets the gauge to 0 when
//     the outage ends;
//   - while degraded, no caller waits on Redis: [Monitor.Up] answers false at
//     once and starts a background PING at most once per Config.Interval;
//   - it recovers by itself: the first PING that succeeds ends the outage.
//     On Redis Cluster (a *redis.ClusterClient) the probe asks every master
//     for CLUSTER INFO instead, and succeeds only when all of them answer and
//     report cluster_state:ok: a cluster with a master down is degraded as a
//     whole, as a single Redis that is down, until the master returns or a
//     replica takes its place.
//
// Failures reported after Close are ignored (they are the closing's own).
// Every method is safe for concurrent use.
package redishealth

import (
	"cmp"
	"context"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"
	"go.uber.org/zap"
)

// Defaults of Config.
const (
	// DefaultInterval is how often a degraded Monitor PINGs Redis at most.
	DefaultInterval = time.Second
	// DefaultProbeTimeout bounds one PING.
	DefaultProbeTimeout = 2 * time.Second
)

// Pinger is what a Monitor needs of Redis; every go-redis client has it.
type Pinger interface {
	Ping(ctx context.Context) *redis.StatusCmd
}

// Config configures a Monitor. New fills a zero duration with its Default*.
type Config struct {
	// Gauge is set to 1 while degraded and to 0 on recovery; nil: none.
	Gauge prometheus.Gauge
	// Log receives the two warnings; nil: none.
	Log *zap.Logger
	// DownMessage is logged, with the error, when an outage starts.
	DownMessage string
	// UpMessage is logged when an outage ends.
	UpMessage string
	// Interval is the least time between two PINGs. Default DefaultInterval.
	Interval time.Duration
	// ProbeTimeout bounds one PING. Default DefaultProbeTimeout.
	ProbeTimeout time.Duration
}

// Monitor tracks one Redis client's reachability. Create it with New and
// Close it when done; it does not own the client.
type Monitor struct {
	cfg Config
	rdb Pinger // nil: Redis is not configured, Up is always false

	ctx    context.Context // ended by Close: parent of the probes
	cancel context.CancelFunc
	mu     sync.RWMutex // guards closed against probes.Add
	closed bool
	probes sync.WaitGroup

	degraded  atomic.Bool
	lastProbe atomic.Int64 // unix nanoseconds of the last PING (or of degrading)
}

// New returns a Monitor of rdb, which may be nil (Up is then always false
// and the Monitor never degrades by itself).
func New(rdb Pinger, cfg Config) *Monitor {
	cfg.Interval = cmp.Or(cfg.Interval, DefaultInterval)
	cfg.ProbeTimeout = cmp.Or(cfg.ProbeTimeout, DefaultProbeTimeout)
	if cfg.Log == nil {
		cfg.Log = zap.NewNop()
	}
	m := &Monitor{cfg: cfg, rdb: rdb}
	m.ctx, m.cancel = context.WithCancel(context.Background())
	return m
}

// Degraded reports whether Redis is currently considered unreachable.
func (m *Monitor) Degraded() bool { return m.degraded.Load() }

// Up reports whether to use Redis now: false without a client, true unless
// degraded. While degraded it starts a background PING at most once per
// Interval (none after Close) and answers false, so no caller waits on a
// dead Redis.
func (m *Monitor) Up() bool {
	if m.rdb == nil {
		return false
	}
	if !m.degraded.Load() {
		return true
	}
	now := time.Now().UnixNano()
	last := m.lastProbe.Load()
	if now-last < int64(m.cfg.Interval) || !m.lastProbe.CompareAndSwap(last, now) {
		return false
	}
	m.mu.RLock()
	defer m.mu.RUnlock()
	if m.closed {
		return false
	}
	m.probes.Go(func() {
		ctx, cancel := context.WithTimeout(m.ctx, m.cfg.ProbeTimeout)
		defer cancel()
		if probe(ctx, m.rdb) == nil {
			m.recovered()
		}
	})
	return false
}

// Down reports a Redis failure: the Monitor is degraded until a PING
// succeeds, the first probe one Interval from now. It logs DownMessage and
// sets the gauge only if it was not degraded already. After Close it does
// nothing.
func (m *Monitor) Down(err error) {
	if m.ctx.Err() != nil { // closing: the error is ours, not Redis's
		return
	}
	m.lastProbe.Store(time.Now().UnixNano())
	if m.degraded.CompareAndSwap(false, true) {
		if m.cfg.Gauge != nil {
			m.cfg.Gauge.Set(1)
		}
		m.cfg.Log.Warn(m.cfg.DownMessage, zap.Error(err))
	}
}

// probe PINGs a single Redis; on a cluster it asks every master whether the
// cluster is ok (a PING of a random node would answer while a master is down).
func probe(ctx context.Context, rdb Pinger) error {
	c, ok := rdb.(*redis.ClusterClient)
	if !ok {
		return rdb.Ping(ctx).Err()
	}
	return c.ForEachMaster(ctx, func(ctx context.Context, n *redis.Client) error {
		info, err := n.ClusterInfo(ctx).Result()
		if err != nil {
			return err
		}
		if !strings.Contains(info, "cluster_state:ok") {
			return fmt.Errorf("redishealth: node %s: cluster state not ok", n.Options().Addr)
		}
		return nil
	})
}

func (m *Monitor) recovered() {
	if m.degraded.CompareAndSwap(true, false) {
		if m.cfg.Gauge != nil {
			m.cfg.Gauge.Set(0)
		}
		m.cfg.Log.Warn(m.cfg.UpMessage)
	}
}

// Close stops probing and waits for a running probe. The Degraded state it
// had stays readable.
func (m *Monitor) Close() {
	m.mu.Lock()
	m.closed = true
	m.mu.Unlock()
	m.cancel()
	m.probes.Wait()
}
