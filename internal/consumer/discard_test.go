package consumer_test

import (
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap/zaptest"

	"newsflow/internal/consumer"
	"newsflow/internal/stream"
)

// A size-capped stream that drops messages before a worker got them is
// noticed: when the consumer is first created, and when a worker starts
// behind a gap the stream opened while none ran.
func TestConsumer_StreamDiscardsCounted(t *testing.T) {
	t.Parallel()
	b := setup(t, func(c *consumer.Config) { c.Stream.MaxBytes = 8 << 10 })
	if _, _, err := stream.Ensure(t.Context(), b.js, b.cfg.Stream, false, nil); err != nil {
		t.Fatal(err)
	}
	firstSeq := func() uint64 {
		s, err := b.js.Stream(t.Context(), b.cfg.Stream.Name)
		if err != nil {
			t.Fatal(err)
		}
		return s.CachedInfo().State.FirstSeq
	}
	discarded := func(reg *prometheus.Registry) float64 {
		mfs, err := reg.Gather()
		if err != nil {
			t.Fatal(err)
		}
		for _, mf := range mfs {
			if mf.GetName() == "newsflow_messages_discarded_by_stream_total" {
				return mf.GetMetric()[0].GetCounter().GetValue()
			}
		}
		t.Fatal("no newsflow_messages_discarded_by_stream_total")
		return 0
	}

	b.publishValid(t, 0, 300) // ~100 bytes each: the cap keeps fewer than 100
	before := firstSeq() - 1
	if before == 0 {
		t.Fatal("the capped stream discarded nothing; the test needs it to")
	}
	reg := prometheus.NewRegistry()
	c, err := consumer.New(t.Context(), b.js, b.cfg, zaptest.NewLogger(t), reg)
	if err != nil {
		t.Fatal(err)
	}
	if got := discarded(reg); got != float64(before) {
		t.Errorf("first start: discarded %v, want %d (the stream's first sequence - 1)", got, before)
	}
	out, stop := run(t, c, 10)
	ds := receive(t, out, 5)
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	c.Close()
	if ds[0].StreamSeq != before+1 {
		t.Errorf("first delivery at stream sequence %d, want %d", ds[0].StreamSeq, before+1)
	}

	// No worker runs while 300 more arrive; the next one to start counts
	// what the stream dropped above what the consumer had delivered.
	b.publishValid(t, 300, 300)
	info, err := c.Info(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	gap := firstSeq() - 1 - info.Delivered.Stream
	reg2 := prometheus.NewRegistry()
	c2, err := consumer.New(t.Context(), b.js, b.cfg, zaptest.NewLogger(t), reg2)
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	if got := discarded(reg2); got != float64(gap) || gap == 0 {
		t.Errorf("second start: discarded %v, want %d (first sequence - 1 - delivered)", got, gap)
	}
}
