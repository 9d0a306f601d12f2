package llm

import (
	"errors"

	"github.com/prometheus/client_golang/prometheus"
)

// Names of the Client's metrics that other packages read (the console's sampler).
const (
	// MetricCalls counts LLM call attempts, by outcome.
	MetricCalls = "newsflow_llm_calls_total"
	// MetricBreakerOpen is 1 while the circuit breaker is open or half-open.
	MetricBreakerOpen = "newsflow_llm_breaker_open"
)

// metrics are the Client's Prometheus collectors.
type metrics struct {
	calls       *prometheus.CounterVec // outcome: ok|error|retry
	seconds     prometheus.Histogram
	tokens      *prometheus.CounterVec // direction: input|input_cached|output
	cost        prometheus.Counter
	breakerOpen prometheus.Gauge
	rejected    prometheus.Counter
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		calls: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: MetricCalls,
			Help: "LLM call attempts by outcome: ok, error (final failure), retry (failed, retried).",
		}, []string{"outcome"}),
		seconds: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "newsflow_llm_call_seconds",
			Help:    "Duration of one LLM call attempt.",
			Buckets: []float64{0.05, 0.1, 0.25, 0.5, 1, 2, 4, 8, 15, 30, 60},
		}),
		tokens: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "newsflow_llm_tokens_total",
			Help: "Tokens consumed by LLM calls, as the provider reported them, by direction: input (all prompt tokens), input_cached (the part served from the provider's prompt cache), output.",
		}, []string{"direction"}),
		cost: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "newsflow_llm_cost_total",
			Help: "Money spent on LLM calls, in the currency of the configured token prices (0 when none are set).",
		}),
		breakerOpen: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: MetricBreakerOpen,
			Help: "1 while the LLM circuit breaker is open or half-open, else 0.",
		}),
		rejected: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "newsflow_llm_breaker_rejections_total",
			Help: "LLM calls refused at once because the circuit breaker was open.",
		}),
	}
	if reg == nil {
		return m, nil
	}
	var err error
	m.calls = register(reg, m.calls, &err)
	m.seconds = register(reg, m.seconds, &err)
	m.tokens = register(reg, m.tokens, &err)
	m.cost = register(reg, m.cost, &err)
	m.breakerOpen = register(reg, m.breakerOpen, &err)
	m.rejected = register(reg, m.rejected, &err)
	return m, err
}

// register registers c on reg, or returns the collector already registered
// under its name (so several Clients may share one registry). The first
// failure lands in *errp.
func register[C prometheus.Collector](reg prometheus.Registerer, c C, errp *error) C {
	err := reg.Register(c)
	if err == nil {
		return c
	}
	var are prometheus.AlreadyRegisteredError
	if errors.As(err, &are) {
		if existing, ok := are.ExistingCollector.(C); ok {
			return existing
		}
	}
	if *errp == nil {
		*errp = err
	}
	return c
}
