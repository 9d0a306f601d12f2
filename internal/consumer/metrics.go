package consumer

import (
	"errors"

	"github.com/prometheus/client_golang/prometheus"
)

// Names of the metrics other packages read (the console's sampler).
const (
	// MetricProcessed counts messages acked after their batch committed.
	MetricProcessed = "newsflow_messages_processed_total"
	// MetricDeadLettered counts messages dead-lettered, by reason.
	MetricDeadLettered = "newsflow_messages_dead_lettered_total"
	// MetricHeld is the number of messages in the pipeline not yet settled.
	MetricHeld = "newsflow_messages_held"
)

// Dead-letter reasons, the values of the reason label of
// newsflow_messages_dead_lettered_total.
const (
	reasonInvalid = "invalid" // failed decoding or validation
	reasonPoison  = "poison"  // a later stage failed it permanently
	reasonRetries = "retries" // failed on its last allowed delivery
)

type metrics struct {
	fetched      prometheus.Counter
	processed    prometheus.Counter
	failed       prometheus.Counter
	deadLettered *prometheus.CounterVec
	inProgress   prometheus.Counter
	discarded    prometheus.Counter
}

func newMetrics(reg prometheus.Registerer, held func() float64) (*metrics, error) {
	if reg == nil {
		reg = prometheus.NewRegistry()
	}
	m := &metrics{
		fetched: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "newsflow_messages_fetched_total",
			Help: "Messages received from JetStream, valid or not.",
		}),
		processed: prometheus.NewCounter(prometheus.CounterOpts{
			Name: MetricProcessed,
			Help: "Messages acked after their batch committed.",
		}),
		failed: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "newsflow_messages_failed_total",
			Help: "Messages naked for a retry after a retryable failure.",
		}),
		deadLettered: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: MetricDeadLettered,
			Help: "Messages published to the dead-letter stream and terminated, by reason.",
		}, []string{"reason"}),
		inProgress: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "newsflow_messages_in_progress_total",
			Help: "In-progress acks sent to keep held messages from being redelivered.",
		}),
		discarded: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "newsflow_messages_discarded_by_stream_total",
			Help: "Messages the stream removed by its limits (max bytes, max age) before any worker got them, as this worker saw them.",
		}),
	}
	var err error
	if m.fetched, err = register(reg, m.fetched); err != nil {
		return nil, err
	}
	if m.processed, err = register(reg, m.processed); err != nil {
		return nil, err
	}
	if m.failed, err = register(reg, m.failed); err != nil {
		return nil, err
	}
	if m.deadLettered, err = register(reg, m.deadLettered); err != nil {
		return nil, err
	}
	if m.inProgress, err = register(reg, m.inProgress); err != nil {
		return nil, err
	}
	if m.discarded, err = register(reg, m.discarded); err != nil {
		return nil, err
	}
	heldGauge := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: MetricHeld,
		Help: "Messages handed to the pipeline and not yet acked, naked or terminated.",
	}, held)
	if err := reg.Register(heldGauge); err != nil {
		// A second Consumer on one registry: the first one's gauge stays.
		if !errors.As(err, new(prometheus.AlreadyRegisteredError)) {
			return nil, err
		}
	}
	for _, r := range []string{reasonInvalid, reasonPoison, reasonRetries} {
		m.deadLettered.WithLabelValues(r)
	}
	return m, nil
}

// register registers c, or returns the collector already registered under
// its name, so that several Consumers in one process share their counters.
func register[C prometheus.Collector](reg prometheus.Registerer, c C) (C, error) {
	if err := reg.Register(c); err != nil {
		var are prometheus.AlreadyRegisteredError
		if errors.As(err, &are) {
			if existing, ok := are.ExistingCollector.(C); ok {
				return existing, nil
			}
		}
		return c, err
	}
	return c, nil
}
