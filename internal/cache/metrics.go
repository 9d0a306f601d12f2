package cache

import (
	"errors"
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"
)

// Names (and the tier label) of the cache's metrics that other packages
// read (the console's sampler).
const (
	// MetricHits counts lookups answered, by LabelTier (memory, redis).
	MetricHits = "newsflow_cache_hits_total"
	// LabelTier is MetricHits' label naming the tier that answered.
	LabelTier = "tier"
	// MetricMisses counts keys found in no tier.
	MetricMisses = "newsflow_cache_misses_total"
	// MetricRedisDegraded is 1 while Redis is unreachable.
	MetricRedisDegraded = "newsflow_cache_redis_degraded"
	// MetricRedisPoolTotalConns is the connections in the Redis pool
	// (PoolCollector); it exists only when Redis is configured.
	MetricRedisPoolTotalConns = redisPoolPrefix + "total_conns"

	redisPoolPrefix = "newsflow_redis_pool_"
)

type metrics struct {
	memoryHits, redisHits      prometheus.Counter
	misses                     prometheus.Counter
	processWaits, clusterWaits prometheus.Counter
	takeovers                  prometheus.Counter
	computes                   prometheus.Counter
	degraded                   prometheus.Gauge
}

func newMetrics(reg prometheus.Registerer, rdb redis.UniversalClient) (*metrics, error) {
	hits := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: MetricHits,
		Help: "Cache lookups answered, by tier (memory, redis).",
	}, []string{LabelTier})
	waits := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "newsflow_cache_singleflight_waits_total",
		Help: "Do calls that waited for a computation run by another goroutine (process) or worker (cluster).",
	}, []string{"scope"})
	m := &metrics{
		memoryHits:   hits.WithLabelValues("memory"),
		redisHits:    hits.WithLabelValues("redis"),
		processWaits: waits.WithLabelValues("process"),
		clusterWaits: waits.WithLabelValues("cluster"),
		misses: prometheus.NewCounter(prometheus.CounterOpts{
			Name: MetricMisses,
			Help: "Keys Do found in no tier (one per missed key; GetMany counts hits only).",
		}),
		takeovers: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "newsflow_cache_lease_takeovers_total",
			Help: "Compute leases taken over after their owner died or failed.",
		}),
		computes: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "newsflow_cache_computes_total",
			Help: "Values computed by this process (calls of the Do function).",
		}),
		degraded: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: MetricRedisDegraded,
			Help: "1 while Redis is unreachable and the cache runs in-process only.",
		}),
	}
	for _, c := range []prometheus.Collector{hits, waits, m.misses, m.takeovers, m.computes, m.degraded} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("cache: register metrics (one Tiered per registry): %w", err)
		}
	}
	if rdb != nil {
		// A pool collector the caller registered already is fine: keep it.
		var are prometheus.AlreadyRegisteredError
		if err := reg.Register(NewPoolCollector(rdb)); err != nil && !errors.As(err, &are) {
			return nil, fmt.Errorf("cache: register redis pool metrics: %w", err)
		}
	}
	return m, nil
}

// PoolCollector exports a go-redis client's connection-pool statistics as
// newsflow_redis_pool_{hits,misses,timeouts,stale_conns}_total (counters) and
// newsflow_redis_pool_{total,idle}_conns (gauges).
type PoolCollector struct {
	rdb                                        redis.UniversalClient
	hits, misses, timeouts, total, idle, stale *prometheus.Desc
}

// NewPoolCollector returns a collector for rdb's pool. New registers one for
// the client it is given (and keeps one already registered on its registry),
// so callers need this only for other clients.
func NewPoolCollector(rdb redis.UniversalClient) *PoolCollector {
	d := func(name, help string) *prometheus.Desc {
		return prometheus.NewDesc(redisPoolPrefix+name, help, nil, nil)
	}
	return &PoolCollector{
		rdb:      rdb,
		hits:     d("hits_total", "Times a free connection was found in the pool."),
		misses:   d("misses_total", "Times no free connection was found in the pool."),
		timeouts: d("timeouts_total", "Times waiting for a pool connection timed out."),
		total:    prometheus.NewDesc(MetricRedisPoolTotalConns, "Connections in the pool.", nil, nil),
		idle:     d("idle_conns", "Idle connections in the pool."),
		stale:    d("stale_conns_total", "Stale connections removed from the pool."),
	}
}

// Describe implements prometheus.Collector.
func (c *PoolCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.hits, c.misses, c.timeouts, c.total, c.idle, c.stale} {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (c *PoolCollector) Collect(ch chan<- prometheus.Metric) {
	s := c.rdb.PoolStats()
	if s == nil {
		return
	}
	ch <- prometheus.MustNewConstMetric(c.hits, prometheus.CounterValue, float64(s.Hits))
	ch <- prometheus.MustNewConstMetric(c.misses, prometheus.CounterValue, float64(s.Misses))
	ch <- prometheus.MustNewConstMetric(c.timeouts, prometheus.CounterValue, float64(s.Timeouts))
	ch <- prometheus.MustNewConstMetric(c.total, prometheus.GaugeValue, float64(s.TotalConns))
	ch <- prometheus.MustNewConstMetric(c.idle, prometheus.GaugeValue, float64(s.IdleConns))
	ch <- prometheus.MustNewConstMetric(c.stale, prometheus.CounterValue, float64(s.StaleConns))
}
