package telemetry

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"go.uber.org/zap/zaptest"

	"newsflow/internal/natstest"
)

// lagSetup is a stream holding n messages and two durable pull consumers,
// neither of which has received anything yet.
type lagSetup struct {
	js      jetstream.JetStream
	stream  jetstream.Stream
	name    string
	inOrder jetstream.Consumer
	stuck   jetstream.Consumer
	times   []time.Time // stream time of each message, by sequence-1
}

func setupLag(t *testing.T, n int) *lagSetup {
	t.Helper()
	ctx := t.Context()
	js, _ := natstest.JetStream(t)
	s := natstest.Stream(t, js)
	name := s.CachedInfo().Config.Name
	for i := range n {
		if _, err := js.PublishAsync(name+".ingest.test", []byte(`{"id":"`+strconv.Itoa(i)+`","source":"test","title":"t"}`)); err != nil {
			t.Fatal(err)
		}
	}
	select {
	case <-js.PublishAsyncComplete():
	case <-time.After(10 * time.Second):
		t.Fatal("publish did not complete")
	}
	mk := func(durable string) jetstream.Consumer {
		c, err := s.CreateOrUpdateConsumer(ctx, jetstream.ConsumerConfig{Durable: durable, AckPolicy: jetstream.AckExplicitPolicy, AckWait: time.Minute})
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	ls := &lagSetup{js: js, stream: s, name: name, inOrder: mk("in_order"), stuck: mk("stuck")}
	for _, seq := range []uint64{1, 2, 101, 102} {
		if seq > uint64(n) {
			break
		}
		m, err := s.GetMsg(ctx, seq)
		if err != nil {
			t.Fatal(err)
		}
		ls.times = append(ls.times, m.Time)
	}
	return ls
}

// fetchAndAck fetches n messages from c and double-acks those for which ack
// returns true.
func fetchAndAck(t *testing.T, c jetstream.Consumer, n int, ack func(i int) bool) {
	t.Helper()
	got := 0
	for got < n {
		batch, err := c.Fetch(n-got, jetstream.FetchMaxWait(5*time.Second))
		if err != nil {
			t.Fatal(err)
		}
		for m := range batch.Messages() {
			if ack(got) {
				if err := m.DoubleAck(t.Context()); err != nil {
					t.Fatal(err)
				}
			}
			got++
		}
		if err := batch.Error(); err != nil {
			t.Fatal(err)
		}
	}
}

func TestLagMeter_KnownState(t *testing.T) {
	t.Parallel()
	ls := setupLag(t, 500)
	m, err := NewLagMeter(ls.js, LagConfig{Stream: ls.name, Target: 300 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	clock := time.Now()
	m.now = func() time.Time { return clock }

	lags, err := m.Sample(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if len(lags) != 2 || lags[0].Consumer != "in_order" || lags[1].Consumer != "stuck" {
		t.Fatalf("consumers = %+v, want in_order and stuck", lags)
	}
	for _, l := range lags {
		if l.Stream != ls.name || l.NumPending != 500 || l.NumAckPending != 0 || l.RatePerSecond != 0 ||
			l.DrainETASeconds != -1 || l.ReplicasHint != 1 || l.OldestUnackedAgeSeconds <= 0 {
			t.Errorf("before any work: %+v; want pending 500, no rate, ETA -1, hint 1, age > 0", l)
		}
		if want := time.Since(ls.times[0]).Seconds(); l.OldestUnackedAgeSeconds > want+2 {
			t.Errorf("%s: age %.3fs, want about the first message's age %.3fs", l.Consumer, l.OldestUnackedAgeSeconds, want)
		}
	}

	// in_order acks 1..100 and holds 101..150; stuck acks 2..150 and holds 1,
	// as when the first message waits in its retry backoff.
	fetchAndAck(t, ls.inOrder, 150, func(i int) bool { return i < 100 })
	fetchAndAck(t, ls.stuck, 150, func(i int) bool { return i > 0 })
	clock = clock.Add(time.Second)

	lags, err = m.Sample(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	in, st := lags[0], lags[1]
	if in.NumPending != 350 || in.NumAckPending != 50 || in.AckFloor != 100 {
		t.Errorf("in_order: pending %d, ack pending %d, floor %d; want 350, 50, 100", in.NumPending, in.NumAckPending, in.AckFloor)
	}
	if in.RatePerSecond != 100 || in.DrainETASeconds != 4 || in.ReplicasHint != 1 || in.ArrivalRatePerSecond != 0 {
		t.Errorf("in_order: rate %v, ETA %v, hint %d, arrival %v; want 100/s, 4s, 1, 0",
			in.RatePerSecond, in.DrainETASeconds, in.ReplicasHint, in.ArrivalRatePerSecond)
	}
	// The oldest unacked message of in_order is sequence 101.
	if want := time.Since(ls.times[2]).Seconds(); in.OldestUnackedAgeSeconds <= 0 || in.OldestUnackedAgeSeconds > want+2 {
		t.Errorf("in_order: age %.3f, want about %.3f", in.OldestUnackedAgeSeconds, want)
	}
	if st.NumAckPending != 1 || st.AckFloor != 0 || st.RatePerSecond != 149 {
		t.Errorf("stuck: ack pending %d, floor %d, rate %v; want 1, 0, 149/s (acks above the floor count)",
			st.NumAckPending, st.AckFloor, st.RatePerSecond)
	}
	if want := time.Since(ls.times[0]).Seconds(); st.OldestUnackedAgeSeconds <= 0 || st.OldestUnackedAgeSeconds > want+2 {
		t.Errorf("stuck: age %.3f, want about %.3f (message 1)", st.OldestUnackedAgeSeconds, want)
	}
}

func TestLagMeter_DeletedFirstUnacked(t *testing.T) {
	t.Parallel()
	ls := setupLag(t, 200)
	ctx := t.Context()
	fetchAndAck(t, ls.inOrder, 100, func(int) bool { return true })
	if err := ls.stream.DeleteMsg(ctx, 101); err != nil {
		t.Fatal(err)
	}
	m, err := NewLagMeter(ls.js, LagConfig{Stream: ls.name, Consumer: "in_order"})
	if err != nil {
		t.Fatal(err)
	}
	lags, err := m.Sample(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(lags) != 1 || lags[0].OldestUnackedAgeSeconds <= 0 {
		t.Fatalf("lags = %+v, want one with age > 0 (from message 102)", lags)
	}
	if want := time.Since(ls.times[3]).Seconds(); lags[0].OldestUnackedAgeSeconds > want+2 {
		t.Errorf("age %.3f, want about %.3f", lags[0].OldestUnackedAgeSeconds, want)
	}

	// Everything acked: no age, no ETA, no hint.
	fetchAndAck(t, ls.inOrder, 99, func(int) bool { return true })
	lags, err = m.Sample(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if l := lags[0]; l.Backlog() != 0 || l.OldestUnackedAgeSeconds != 0 || l.DrainETASeconds != 0 {
		t.Errorf("drained: %+v, want backlog 0, age 0, ETA 0", l)
	}
}

func TestPoller_Gauges(t *testing.T) {
	t.Parallel()
	ls := setupLag(t, 20)
	m, err := NewLagMeter(ls.js, LagConfig{Stream: ls.name})
	if err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	p, err := NewPoller(m, time.Second, zaptest.NewLogger(t), reg)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Poll(t.Context()); err != nil {
		t.Fatal(err)
	}
	if got := gaugeValue(t, p.pending.WithLabelValues("in_order")); got != 20 {
		t.Errorf("pending gauge = %v, want 20", got)
	}
	if got := gaugeValue(t, p.hint.WithLabelValues("stuck")); got != 1 {
		t.Errorf("replicas hint gauge = %v, want 1", got)
	}
	if got := gaugeValue(t, p.age.WithLabelValues("stuck")); got <= 0 {
		t.Errorf("oldest age gauge = %v, want > 0", got)
	}
	if err := ls.stream.DeleteConsumer(t.Context(), "stuck"); err != nil {
		t.Fatal(err)
	}
	if err := p.Poll(t.Context()); err != nil {
		t.Fatal(err)
	}
	if n := seriesCount(p.pending); n != 1 {
		t.Errorf("pending series after deleting a consumer = %d, want 1", n)
	}
	if got := len(p.Last()); got != 1 {
		t.Errorf("Last() has %d consumers, want 1", got)
	}

	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if err := p.Run(ctx); err != nil {
		t.Errorf("Run on a cancelled context = %v, want nil", err)
	}
}

func TestReplicasHint(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name             string
		backlog          uint64
		rate, arrival    float64
		workers, minRepl int
		maxRepl          int
		target           time.Duration
		want             int
	}{
		{"idle", 0, 0, 0, 1, 1, 0, time.Minute, 1},
		{"idle with a minimum", 0, 0, 0, 1, 2, 0, time.Minute, 2},
		// One worker keeping up while traffic stopped: the smoothed arrival
		// rate still says 300/s, the hint no longer follows it.
		{"no backlog, arrivals still smoothed", 0, 100, 300, 1, 1, 0, time.Minute, 1},
		{"no backlog, many workers", 0, 1000, 1000, 5, 1, 0, time.Minute, 1},
		{"backlog no rate keeps workers", 1000, 0, 0, 3, 1, 0, time.Minute, 3},
		{"backlog no rate no workers", 1000, 0, 0, 0, 1, 0, time.Minute, 1},
		{"drain 6000 in 60s at 25/s per worker", 6000, 100, 0, 4, 1, 0, time.Minute, 4},
		{"more backlog needs more", 60000, 100, 0, 4, 1, 0, time.Minute, 40},
		{"capped", 60000, 100, 0, 4, 1, 10, time.Minute, 10},
		{"steady state keeps workers", 500, 1000, 1000, 5, 1, 0, 5 * time.Minute, 5},
		{"min one with backlog", 5, 1000, 0, 10, 1, 0, time.Hour, 1},
		{"minimum is a floor", 5, 1000, 0, 10, 3, 0, time.Hour, 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := ReplicasHint(tc.backlog, tc.rate, tc.arrival, tc.workers, tc.target, tc.minRepl, tc.maxRepl); got != tc.want {
				t.Errorf("ReplicasHint = %d, want %d", got, tc.want)
			}
		})
	}
}

func TestDrainETA(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		backlog uint64
		rate    float64
		want    float64
	}{{0, 0, 0}, {10, 0, -1}, {10, 5, 2}} {
		if got := DrainETA(tc.backlog, tc.rate); got != tc.want {
			t.Errorf("DrainETA(%d, %v) = %v, want %v", tc.backlog, tc.rate, got, tc.want)
		}
	}
}

func gaugeValue(t *testing.T, g prometheus.Gauge) float64 {
	t.Helper()
	var m dto.Metric
	if err := g.Write(&m); err != nil {
		t.Fatal(err)
	}
	return m.GetGauge().GetValue()
}

func seriesCount(c prometheus.Collector) int {
	ch := make(chan prometheus.Metric, 16)
	go func() { c.Collect(ch); close(ch) }()
	n := 0
	for range ch {
		n++
	}
	return n
}
