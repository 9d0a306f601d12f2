package telemetry

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap/zaptest"

	"newsflow/internal/await"
	"newsflow/internal/buildinfo"
	"newsflow/internal/natstest"
)

// registryBucket returns a bucket name unique to the test, deleted when it ends.
func registryBucket(t *testing.T, js jetstream.JetStream) string {
	t.Helper()
	b := "reg_" + natstest.Name(t)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = js.DeleteKeyValue(ctx, b)
	})
	return b
}

// beat starts a heartbeat for entry id of stream/consumer and returns a
// function that stops it and waits for Run to return.
func beat(t *testing.T, js jetstream.JetStream, bucket string, interval time.Duration, id, stream, consumer string, messages *int64) (stop func()) {
	t.Helper()
	e := NewEntry("v-test", stream, consumer, time.Now())
	e.ID = id
	hb, err := NewHeartbeat(t.Context(), js, RegistryConfig{Bucket: bucket, Interval: interval}, e, func(e *Entry) {
		if messages != nil {
			e.Messages = *messages
		}
		e.Held = 7
		e.Breaker, e.Redis = StateClosed, StateOK
	}, zaptest.NewLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- hb.Run(ctx) }()
	stopped := false
	stop = func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Heartbeat.Run = %v, want nil", err)
		}
	}
	t.Cleanup(stop)
	return stop
}

func ids(es []Entry) []string {
	out := make([]string, len(es))
	for i, e := range es {
		out[i] = e.ID
	}
	return out
}

func awaitIDs(t *testing.T, js jetstream.JetStream, bucket string, want ...string) []Entry {
	t.Helper()
	var got []Entry
	await.Until(t, 30*time.Second, fmt.Sprintf("registry entries %v", want), func() (bool, string) {
		var err error
		if got, err = List(t.Context(), js, bucket); err != nil {
			return false, err.Error()
		}
		return fmt.Sprint(ids(got)) == fmt.Sprint(want), fmt.Sprint(ids(got))
	})
	return got
}

// TestRegistry_ListFollowsHeartbeats: three workers appear; one stopped
// cleanly disappears at once (its key is deleted); one whose process died
// (its entry is no longer rewritten) disappears once its last write is
// older than the TTL.
func TestRegistry_ListFollowsHeartbeats(t *testing.T) {
	t.Parallel()
	js, _ := natstest.JetStream(t)
	bucket := registryBucket(t, js)
	// Long enough that a beat delayed on a loaded machine does not lapse.
	const interval = time.Second

	if es, err := List(t.Context(), js, bucket); err != nil || len(es) != 0 {
		t.Fatalf("List of a missing bucket = %v, %v; want none and no error", es, err)
	}
	var n int64 = 42
	stopA := beat(t, js, bucket, interval, "a-1", "S", "c1", &n)
	beat(t, js, bucket, interval, "b-2", "S", "c1", nil)
	beat(t, js, bucket, interval, "c-3", "S", "c2", nil)
	got := awaitIDs(t, js, bucket, "a-1", "b-2", "c-3")
	a := got[0]
	if a.Stream != "S" || a.Consumer != "c1" || a.Version != "v-test" || a.Messages != 42 || a.Held != 7 ||
		a.Breaker != StateClosed || a.Redis != StateOK || a.Started.IsZero() || a.Heartbeat.Before(a.Started) {
		t.Errorf("entry a = %+v", a)
	}
	if s, other := liveByConsumer(got, "S"), liveByConsumer(got, "T"); s["c1"] != 2 || s["c2"] != 1 || other["c1"] != 0 {
		t.Errorf("liveByConsumer over %v: want c1 2, c2 1, other stream 0", ids(got))
	}

	// Clean stop: the entry is deleted by Run before it returns.
	stopA()
	if es, err := List(t.Context(), js, bucket); err != nil || slices.Contains(ids(es), "a-1") {
		t.Errorf("after a clean stop List = %v, %v; want a-1 gone at once", ids(es), err)
	}

	// A dead worker: an entry written once and never again.
	kv, err := js.KeyValue(t.Context(), bucket)
	if err != nil {
		t.Fatal(err)
	}
	dead := NewEntry("v-test", "S", "c1", time.Now())
	dead.ID = "dead-9"
	b, _ := json.Marshal(dead)
	wrote := time.Now()
	if _, err := kv.Put(t.Context(), dead.ID, b); err != nil {
		t.Fatal(err)
	}
	awaitIDs(t, js, bucket, "b-2", "c-3") // fails if dead-9 never goes
	if took, ttl := time.Since(wrote), HeartbeatTTL(interval); took < ttl {
		t.Errorf("dead entry gone after %s, before its TTL %s", took, ttl)
	}
}

func TestRegistry_MessagesPerSecond(t *testing.T) {
	t.Parallel()
	js, _ := natstest.JetStream(t)
	bucket := registryBucket(t, js)
	e := NewEntry("v", "S", "c", time.Now())
	hb, err := NewHeartbeat(t.Context(), js, RegistryConfig{Bucket: bucket, Interval: time.Hour}, e, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	clock := time.Now()
	hb.now = func() time.Time { return clock }
	var n int64
	hb.state = func(e *Entry) { e.Messages = n }
	for i, want := range []float64{0, 50, 50} {
		got := hb.next()
		if got.MessagesPerSecond != want || got.Messages != n || !got.Heartbeat.Equal(clock.UTC()) {
			t.Errorf("beat %d: %+v; want %v msg/s, %d messages, heartbeat %s", i, got, want, n, clock)
		}
		n += 100
		clock = clock.Add(2 * time.Second)
	}
}

func TestWorkerID(t *testing.T) {
	t.Parallel()
	for host, want := range map[string]string{
		"worker-7f9c.pod":  "worker-7f9c_pod-12",
		"ünïcode host":     "_n_code_host-12",
		"":                 "unknown-12",
		"a/b=c":            "a_b_c-12",
		"newsflow-worker1": "newsflow-worker1-12",
	} {
		if got := WorkerID(host, 12); got != want {
			t.Errorf("WorkerID(%q) = %q, want %q", host, got, want)
		}
	}
}

// TestLagMeter_HintFollowsLiveWorkers: the meter counts the consumer's live
// workers in the registry (not waiting pull requests), the hint divides the
// rate by that count, and a stopped worker lowers both.
func TestLagMeter_HintFollowsLiveWorkers(t *testing.T) {
	t.Parallel()
	ls := setupLag(t, 500)
	bucket := registryBucket(t, ls.js)
	const interval = 2 * time.Second // a late beat must not lapse between the samples
	stop1 := beat(t, ls.js, bucket, interval, "w-1", ls.name, "in_order", nil)
	beat(t, ls.js, bucket, interval, "w-2", ls.name, "in_order", nil)
	beat(t, ls.js, bucket, interval, "w-3", ls.name, "in_order", nil)
	beat(t, ls.js, bucket, interval, "other-stream", "ELSEWHERE", "in_order", nil)
	awaitIDs(t, ls.js, bucket, "other-stream", "w-1", "w-2", "w-3")

	m, err := NewLagMeter(ls.js, LagConfig{Stream: ls.name, Consumer: "in_order", Target: time.Second, Registry: bucket})
	if err != nil {
		t.Fatal(err)
	}
	clock := time.Now()
	m.now = func() time.Time { return clock }
	sample := func() Lag {
		t.Helper()
		lags, err := m.Sample(t.Context())
		if err != nil || len(lags) != 1 {
			t.Fatalf("Sample = %v, %v", lags, err)
		}
		return lags[0]
	}
	sample()
	fetchAndAck(t, ls.inOrder, 150, func(i int) bool { return i < 100 })
	clock = clock.Add(time.Second)
	l := sample()
	// Backlog 400 to drain in 1 s at 100/s over 3 workers: ceil(400/33.3 - 0.1) = 12.
	if l.Workers != 3 || l.RatePerSecond != 100 || l.ReplicasHint != 12 {
		t.Errorf("3 live workers: workers %d, rate %v, hint %d; want 3, 100/s, 12", l.Workers, l.RatePerSecond, l.ReplicasHint)
	}

	stop1()
	clock = clock.Add(time.Second)
	l2 := sample()
	want := ReplicasHint(l2.Backlog(), l2.RatePerSecond, l2.ArrivalRatePerSecond, 2, time.Second, 1, 0)
	if l2.Workers != 2 || l2.ReplicasHint != want || l2.ReplicasHint >= l.ReplicasHint {
		t.Errorf("2 live workers: workers %d, hint %d; want 2 and %d (< %d)", l2.Workers, l2.ReplicasHint, want, l.ReplicasHint)
	}
}

// TestLagMeter_NoBacklogHintIsMinimum: a consumer with nothing pending
// hints the minimum whatever its smoothed rates say.
func TestLagMeter_NoBacklogHintIsMinimum(t *testing.T) {
	t.Parallel()
	ls := setupLag(t, 100)
	bucket := registryBucket(t, ls.js)
	for _, minRepl := range []int{1, 2} {
		m, err := NewLagMeter(ls.js, LagConfig{Stream: ls.name, Consumer: "in_order", Registry: bucket, MinReplicas: minRepl})
		if err != nil {
			t.Fatal(err)
		}
		clock := time.Now()
		m.now = func() time.Time { return clock }
		if _, err := m.Sample(t.Context()); err != nil {
			t.Fatal(err)
		}
		if minRepl == 1 {
			fetchAndAck(t, ls.inOrder, 100, func(int) bool { return true })
		}
		clock = clock.Add(time.Second)
		lags, err := m.Sample(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		if l := lags[0]; l.Backlog() != 0 || l.ReplicasHint != minRepl || l.Workers != 0 {
			t.Errorf("min %d: backlog %d, hint %d, workers %d; want 0, %d, 0", minRepl, l.Backlog(), l.ReplicasHint, l.Workers, minRepl)
		}
	}
}

func TestRegisterBuildInfo(t *testing.T) {
	t.Parallel()
	reg := prometheus.NewRegistry()
	if err := RegisterBuildInfo(reg); err != nil {
		t.Fatal(err)
	}
	mfs, err := reg.Gather()
	if err != nil || len(mfs) != 1 || mfs[0].GetName() != "newsflow_build_info" {
		t.Fatalf("gathered %v, %v; want newsflow_build_info", mfs, err)
	}
	m := mfs[0].GetMetric()[0]
	version, commit := buildinfo.Get()
	labels := map[string]string{}
	for _, l := range m.GetLabel() {
		labels[l.GetName()] = l.GetValue()
	}
	if m.GetGauge().GetValue() != 1 || labels["version"] != version || labels["commit"] != commit || labels["goversion"] != buildinfo.GoVersion() {
		t.Errorf("newsflow_build_info = %v %v; want 1 with version %s, commit %s, goversion %s", m.GetGauge().GetValue(), labels, version, commit, buildinfo.GoVersion())
	}
}

// TestRegistry_BucketRecreated: a bucket that disappears while workers
// heartbeat (a single NATS server restarted: the bucket lives in memory) is
// created again by the next beat.
func TestRegistry_BucketRecreated(t *testing.T) {
	t.Parallel()
	js, _ := natstest.JetStream(t)
	bucket := registryBucket(t, js)
	beat(t, js, bucket, 100*time.Millisecond, "w-1", "S", "c", nil)
	awaitIDs(t, js, bucket, "w-1")
	if err := js.DeleteKeyValue(t.Context(), bucket); err != nil {
		t.Fatal(err)
	}
	awaitIDs(t, js, bucket, "w-1")
}

func TestValidBucket(t *testing.T) {
	t.Parallel()
	for name, ok := range map[string]bool{"newsflow_workers": true, "a-b_C9": true, "": false, "a.b": false, "a b": false, "a*": false, "a>": false} {
		if err := ValidBucket(name); (err == nil) != ok {
			t.Errorf("ValidBucket(%q) = %v, want ok %v", name, err, ok)
		}
	}
}
