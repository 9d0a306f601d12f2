package tracing

import (
	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/otel/trace"
)

// ExemplarLabel is the exemplar label holding a trace id, which Grafana's
// exemplar links and Prometheus's exemplar storage look for.
const ExemplarLabel = "trace_id"

// Observe records v in o, with span's trace id as an exemplar when span was
// sampled (and o keeps exemplars), so a dashboard can jump from a slow
// bucket to a trace. Without a sampled span it is o.Observe(v).
func Observe(o prometheus.Observer, v float64, span trace.Span) {
	if sc := span.SpanContext(); sc.IsSampled() {
		if eo, ok := o.(prometheus.ExemplarObserver); ok {
			eo.ObserveWithExemplar(v, prometheus.Labels{ExemplarLabel: sc.TraceID().String()})
			return
		}
	}
	o.Observe(v)
}
