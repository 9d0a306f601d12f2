package publish

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/goleak"
	"go.uber.org/zap/zaptest"

	"newsflow/internal/natstest"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// setup returns a connection to the shared server and a fresh stream on
// "<name>.>", deleted when the test ends.
func setup(t *testing.T) (*nats.Conn, jetstream.Stream, string) {
	t.Helper()
	js, nc := natstest.JetStream(t)
	s := natstest.Stream(t, js)
	return nc, s, s.CachedInfo().Config.Name
}

func testConfig() Config {
	return Config{MaxInflight: 64, RetryFor: 5 * time.Second, AckTimeout: time.Second}
}

func msgs(t *testing.T, s jetstream.Stream) uint64 {
	t.Helper()
	info, err := s.Info(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	return info.State.Msgs
}

func TestEngine_PublishedAndInputDuplicates(t *testing.T) {
	t.Parallel()
	nc, s, name := setup(t)
	e, err := New(t.Context(), nc, testConfig(), zaptest.NewLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	for i, id := range []string{"a:1", "a:2", "a:1", "a:3", "a:2", ""} {
		if err := e.Publish(t.Context(), name+".x", []byte(`{}`), id, strconv.Itoa(i)); err != nil {
			t.Fatal(err)
		}
		if i == 1 {
			// The duplicates must reach the stream after the originals were
			// stored, or they race them for the ids.
			e.active.Wait()
		}
	}
	got := e.Close()
	if diff := cmp.Diff(Counts{Published: 4, Duplicates: 2}, got); diff != "" {
		t.Errorf("counts (-want +got):\n%s", diff)
	}
	if n := msgs(t, s); n != 4 {
		t.Errorf("stream holds %d messages, want 4", n)
	}
}

// A message no stream captures gets "no responders" until its budget runs
// out, is checked once more at Close, and counts as failed: never dropped
// silently.
func TestEngine_NoRespondersFailsAfterBudget(t *testing.T) {
	t.Parallel()
	nc, _, _ := setup(t)
	cfg := testConfig()
	cfg.RetryFor = 300 * time.Millisecond
	e, err := New(t.Context(), nc, cfg, zaptest.NewLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if err := e.Publish(t.Context(), "nobody-listens."+natstest.Name(t), []byte(`{}`), "x:1", "test:1"); err != nil {
		t.Fatal(err)
	}
	got := e.Close()
	if diff := cmp.Diff(Counts{Failed: 1, Retried: 1}, got); diff != "" {
		t.Errorf("counts (-want +got):\n%s", diff)
	}
	if d := time.Since(start); d < cfg.RetryFor {
		t.Errorf("failed after %s, before its %s retry budget", d, cfg.RetryFor)
	}
}

// Messages published while the server is down are retried, concurrently,
// and all stored once it is back; none counts as failed or as a duplicate.
func TestEngine_RidesOutServerRestart(t *testing.T) {
	t.Parallel()
	srv := natstest.StartServer(t)
	nc := natstest.Connect(t, srv.URL(), nats.MaxReconnects(-1), nats.ReconnectWait(50*time.Millisecond))
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	s, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "R", Subjects: []string{"r.>"}})
	if err != nil {
		t.Fatal(err)
	}
	cfg := testConfig()
	cfg.MaxInflight, cfg.RetryFor, cfg.AckTimeout = 1000, 30*time.Second, 500*time.Millisecond
	e, err := New(ctx, nc, cfg, zaptest.NewLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	const n = 2000
	for i := range n / 2 {
		if err := e.Publish(ctx, "r.x", []byte(`{}`), "r:"+strconv.Itoa(i), ""); err != nil {
			t.Fatal(err)
		}
	}
	srv.Stop()
	down := time.Now()
	published := make(chan error, 1)
	go func() {
		for i := n / 2; i < n; i++ { // blocks once the window is full of retries
			if err := e.Publish(ctx, "r.x", []byte(`{}`), "r:"+strconv.Itoa(i), ""); err != nil {
				published <- err
				return
			}
		}
		published <- nil
	}()
	// Restart once the window is full and retries are going round.
	tick := time.NewTicker(10 * time.Millisecond)
	for len(e.slots) < cap(e.slots) || e.resent.Load() < int64(cfg.MaxInflight) {
		select {
		case <-tick.C:
		case <-ctx.Done():
			t.Fatalf("window %d/%d, %d retries: %v", len(e.slots), cap(e.slots), e.resent.Load(), ctx.Err())
		}
	}
	tick.Stop()
	srv.Start()
	up := time.Now()
	t.Logf("server down for %s", up.Sub(down))
	if err := <-published; err != nil {
		t.Fatal(err)
	}
	got := e.Close()
	t.Logf("settled %s after the restart: %+v", time.Since(up), got)
	if got.Published != n || got.Failed != 0 || got.Duplicates != 0 || got.NotAttempted != 0 {
		t.Errorf("counts %+v, want %d published, no failed, duplicate or not attempted", got, n)
	}
	if got.Retried == 0 {
		t.Errorf("counts %+v: nothing retried across a server restart", got)
	}
	// Retries run side by side: a window of them settles within a few
	// backoffs, not one after another.
	if d := time.Since(up); d > 10*time.Second {
		t.Errorf("took %s to settle after the restart, want < 10s", d)
	}
	if m := msgs(t, s); m != n {
		t.Errorf("stream holds %d messages, want %d", m, n)
	}
}

func TestEngine_InterruptedCountsNotAttempted(t *testing.T) {
	t.Parallel()
	nc, _, name := setup(t)
	ctx, cancel := context.WithCancel(t.Context())
	e, err := New(ctx, nc, testConfig(), zaptest.NewLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Publish(ctx, name+".x", []byte(`{}`), "i:1", ""); err != nil {
		t.Fatal(err)
	}
	cancel()
	if err := e.Publish(ctx, name+".x", []byte(`{}`), "i:2", ""); !errors.Is(err, context.Canceled) {
		t.Fatalf("Publish after cancel = %v, want context.Canceled", err)
	}
	e.AddNotAttempted(3)
	if diff := cmp.Diff(Counts{Published: 1, NotAttempted: 4}, e.Close()); diff != "" {
		t.Errorf("counts (-want +got):\n%s", diff)
	}
}

// The outcome of an acknowledgement depends on whether it answers a retry.
func TestEngine_AckCounting(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name      string
		attempts  int
		duplicate bool
		want      Counts
	}{
		{"first attempt stored", 0, false, Counts{Published: 1}},
		{"first attempt duplicate: in the input", 0, true, Counts{Duplicates: 1}},
		{"retry stored", 2, false, Counts{Published: 1, Retried: 1}},
		{"retry duplicate: our own lost ack", 1, true, Counts{Published: 1, Retried: 1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := &Engine{inflight: map[*nats.Msg]*pending{}, slots: make(chan struct{}, 1)}
			m := &nats.Msg{}
			e.inflight[m] = &pending{msg: m, attempts: tc.attempts}
			e.active.Add(1)
			e.onAck(nil, m, &jetstream.PubAck{Duplicate: tc.duplicate})
			if diff := cmp.Diff(tc.want, e.Counts()); diff != "" {
				t.Errorf("counts (-want +got):\n%s", diff)
			}
		})
	}
}

func TestRetryable(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		err  error
		want bool
	}{
		{nats.ErrDisconnected, true},
		{nats.ErrConnectionReconnecting, true},
		{nats.ErrNoResponders, true},
		{nats.ErrTimeout, true},
		{jetstream.ErrAsyncPublishTimeout, true},
		{jetstream.ErrNoStreamResponse, true},
		{jetstream.ErrTooManyStalledMsgs, true},
		{jetstream.ErrConsumerLeadershipChanged, true},
		{fmt.Errorf("nats: write: %w", syscall.EPIPE), true}, // broken pipe
		{io.ErrUnexpectedEOF, true},
		{&jetstream.APIError{Code: 503, ErrorCode: 10008, Description: "JetStream system temporarily unavailable"}, true},
		{&jetstream.APIError{Code: 500, ErrorCode: 10010, Description: "leadership change"}, true},
		{&jetstream.APIError{Code: 503, ErrorCode: jsErrCodeStoreFailed, Description: "maximum bytes exceeded"}, false},
		{&jetstream.APIError{Code: 400, ErrorCode: 10054, Description: "message size exceeds maximum allowed"}, false},
		{jetstream.ErrStreamNotFound, false},
		{nats.ErrConnectionClosed, false},
		{nats.ErrMaxPayload, false},
	} {
		if got := Retryable(tc.err); got != tc.want {
			t.Errorf("Retryable(%v) = %t, want %t", tc.err, got, tc.want)
		}
	}
}

func TestBackoff(t *testing.T) {
	t.Parallel()
	for n, want := range map[int]time.Duration{1: 50 * time.Millisecond, 2: 100 * time.Millisecond, 5: 800 * time.Millisecond, 6: time.Second, 40: time.Second} {
		for range 20 {
			if got := backoff(n); got > want || got < want*3/4 {
				t.Errorf("backoff(%d) = %s, want within [%s, %s]", n, got, want*3/4, want)
			}
		}
	}
}

func TestConfig_Validate(t *testing.T) {
	t.Parallel()
	if err := DefaultConfig().Validate(); err != nil {
		t.Errorf("DefaultConfig: %v", err)
	}
	for _, c := range []Config{{MaxInflight: 0, AckTimeout: time.Second}, {MaxInflight: 1, RetryFor: -1, AckTimeout: time.Second}, {MaxInflight: 1}} {
		if c.Validate() == nil {
			t.Errorf("Validate(%+v) = nil, want an error", c)
		}
	}
}

// Flush settles one round and leaves the engine usable for the next; a
// message no stream captures comes back failed from the round's Flush.
func TestEngine_FlushRounds(t *testing.T) {
	t.Parallel()
	nc, s, name := setup(t)
	cfg := testConfig()
	cfg.RetryFor = 200 * time.Millisecond
	e, err := New(t.Context(), nc, cfg, zaptest.NewLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		if err := e.Publish(t.Context(), name+".x", []byte(`{}`), "r1:"+strconv.Itoa(i), ""); err != nil {
			t.Fatal(err)
		}
	}
	if diff := cmp.Diff(Counts{Published: 3}, e.Flush()); diff != "" {
		t.Errorf("round 1 (-want +got):\n%s", diff)
	}
	_ = e.Publish(t.Context(), name+".x", []byte(`{}`), "r2:0", "")
	_ = e.Publish(t.Context(), "nowhere."+name, []byte(`{}`), "r2:1", "")
	got := e.Flush()
	if got.Published != 4 || got.Failed != 1 {
		t.Errorf("after round 2: %+v, want 4 published, 1 failed", got)
	}
	if diff := cmp.Diff(got, e.Close()); diff != "" {
		t.Errorf("Close after Flush changed the counts (-flush +close):\n%s", diff)
	}
	if n := msgs(t, s); n != 4 {
		t.Errorf("stream holds %d messages, want 4", n)
	}
}
