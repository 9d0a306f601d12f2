package store

import (
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
)

// rowMetrics counts what Commit did with the rows it was given.
type rowMetrics struct {
	inserted  prometheus.Counter
	duplicate prometheus.Counter
	fallbacks prometheus.Counter
}

func newRowMetrics() *rowMetrics {
	return &rowMetrics{
		inserted: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "newsflow_db_rows_inserted_total",
			Help: "Rows inserted into articles by committed batches.",
		}),
		duplicate: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "newsflow_db_rows_duplicate_total",
			Help: "Rows of committed batches skipped because their id was already stored.",
		}),
		fallbacks: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "newsflow_db_insert_fallbacks_total",
			Help: "Batches whose optimistic COPY met an id already stored and were re-run with ON CONFLICT (id) DO NOTHING.",
		}),
	}
}

func (m *rowMetrics) observe(inserted, duplicate int) {
	m.inserted.Add(float64(inserted))
	m.duplicate.Add(float64(duplicate))
}

// poolCollector exports pgxpool statistics at scrape time.
type poolCollector struct {
	pool                            *pgxpool.Pool
	acquired, idle, total, maxConns *prometheus.Desc
	acquireWait, acquireSeconds     *prometheus.Desc
}

func newPoolCollector(pool *pgxpool.Pool) *poolCollector {
	d := func(name, help string) *prometheus.Desc {
		return prometheus.NewDesc("newsflow_db_pool_"+name, help, nil, nil)
	}
	return &poolCollector{
		pool:           pool,
		acquired:       d("acquired_conns", "Connections currently in use."),
		idle:           d("idle_conns", "Connections currently idle."),
		total:          d("total_conns", "Connections open (acquired, idle and being opened)."),
		maxConns:       d("max_conns", "Maximum size of the pool."),
		acquireWait:    d("acquire_wait_total", "Acquires that had to wait because the pool had no idle connection."),
		acquireSeconds: d("acquire_seconds_total", "Total time spent acquiring connections, in seconds."),
	}
}

// Describe implements prometheus.Collector.
func (c *poolCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.acquired, c.idle, c.total, c.maxConns, c.acquireWait, c.acquireSeconds} {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (c *poolCollector) Collect(ch chan<- prometheus.Metric) {
	s := c.pool.Stat()
	ch <- prometheus.MustNewConstMetric(c.acquired, prometheus.GaugeValue, float64(s.AcquiredConns()))
	ch <- prometheus.MustNewConstMetric(c.idle, prometheus.GaugeValue, float64(s.IdleConns()))
	ch <- prometheus.MustNewConstMetric(c.total, prometheus.GaugeValue, float64(s.TotalConns()))
	ch <- prometheus.MustNewConstMetric(c.maxConns, prometheus.GaugeValue, float64(s.MaxConns()))
	ch <- prometheus.MustNewConstMetric(c.acquireWait, prometheus.CounterValue, float64(s.EmptyAcquireCount()))
	ch <- prometheus.MustNewConstMetric(c.acquireSeconds, prometheus.CounterValue, s.AcquireDuration().Seconds())
}
