package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"newsflow/internal/natstest"
	"newsflow/internal/telemetry"
)

// lagStream is a stream holding n messages and a durable pull consumer
// "workers" that has received none of them.
func lagStream(t *testing.T, n int) (jetstream.Stream, jetstream.Consumer) {
	t.Helper()
	js, _ := natstest.JetStream(t)
	s := natstest.Stream(t, js)
	name := s.CachedInfo().Config.Name
	for i := range n {
		if _, err := js.PublishAsync(name+".ingest.test", []byte(`{"id":"m`+strconv.Itoa(i)+`","source":"test","title":"t"}`)); err != nil {
			t.Fatal(err)
		}
	}
	select {
	case <-js.PublishAsyncComplete():
	case <-time.After(10 * time.Second):
		t.Fatal("publish did not complete")
	}
	c, err := s.CreateOrUpdateConsumer(t.Context(), jetstream.ConsumerConfig{Durable: "workers", AckPolicy: jetstream.AckExplicitPolicy})
	if err != nil {
		t.Fatal(err)
	}
	return s, c
}

func lagJSON(t *testing.T, stream string) []telemetry.Lag {
	t.Helper()
	var out bytes.Buffer
	args := []string{"--nats-url", natstest.URL(), "--stream", stream, "--interval", "20ms", "--json"}
	if err := runLag(t.Context(), args, opsEnv(t, &out)); err != nil {
		t.Fatalf("lag %v: %v", args, err)
	}
	var lags []telemetry.Lag
	sc := bufio.NewScanner(&out)
	for sc.Scan() {
		var l telemetry.Lag
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			t.Fatalf("line %q is not a JSON object: %v", sc.Text(), err)
		}
		lags = append(lags, l)
	}
	return lags
}

func TestLag_JSON(t *testing.T) {
	t.Parallel()
	s, c := lagStream(t, 500)
	name := s.CachedInfo().Config.Name
	if _, err := s.CreateOrUpdateConsumer(t.Context(), jetstream.ConsumerConfig{Durable: "audit", AckPolicy: jetstream.AckExplicitPolicy}); err != nil {
		t.Fatal(err)
	}

	lags := lagJSON(t, name)
	if len(lags) != 2 || lags[0].Consumer != "audit" || lags[1].Consumer != "workers" {
		t.Fatalf("lag --json = %+v, want one object for audit and one for workers", lags)
	}
	for _, l := range lags {
		if l.Stream != name || l.NumPending != 500 || l.NumAckPending != 0 || l.OldestUnackedAgeSeconds <= 0 || l.ReplicasHint != 1 {
			t.Errorf("before work: %+v; want pending 500, age > 0, hint 1", l)
		}
	}

	// The workers process 100 and hold 20.
	batch, err := c.Fetch(120, jetstream.FetchMaxWait(5*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	i := 0
	for m := range batch.Messages() {
		if i < 100 {
			if err := m.DoubleAck(t.Context()); err != nil {
				t.Fatal(err)
			}
		}
		i++
	}
	w := lagJSON(t, name)[1]
	if w.NumPending != 380 || w.NumAckPending != 20 || w.AckFloor != 100 || w.OldestUnackedAgeSeconds <= 0 {
		t.Errorf("after work: %+v; want pending 380, ack pending 20, floor 100, age > 0", w)
	}
}

func TestLag_TableAndFilter(t *testing.T) {
	t.Parallel()
	s, _ := lagStream(t, 3)
	var out bytes.Buffer
	args := []string{"--nats-url", natstest.URL(), "--stream", s.CachedInfo().Config.Name, "--consumer", "workers", "--interval", "10ms"}
	if err := runLag(t.Context(), args, opsEnv(t, &out)); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 2 || !strings.Contains(lines[0], "OLDEST UNACKED") || !strings.Contains(lines[1], "workers") ||
		!strings.Contains(lines[1], " 3 ") || !strings.Contains(lines[1], "∞") {
		t.Errorf("table:\n%s\nwant a header and a workers row with 3 pending and ETA ∞", out.String())
	}
}

// cancelOnWrite cancels a context on the n-th write.
type cancelOnWrite struct {
	mu     sync.Mutex
	buf    bytes.Buffer
	n      int
	cancel context.CancelFunc
}

func (w *cancelOnWrite) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.n--; w.n == 0 {
		w.cancel()
	}
	return w.buf.Write(p)
}

func TestLag_WatchRedrawsUntilCancelled(t *testing.T) {
	t.Parallel()
	s, _ := lagStream(t, 1)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	w := &cancelOnWrite{n: 2, cancel: cancel}
	e := env{getenv: func(string) string { return "" }, stdout: w, stderr: io.Discard}
	args := []string{"--nats-url", natstest.URL(), "--stream", s.CachedInfo().Config.Name, "--interval", "10ms", "--watch"}
	if err := runLag(ctx, args, e); err != nil {
		t.Fatal(err)
	}
	// Not a terminal: two samples one after the other, no ANSI codes.
	if out := w.buf.String(); strings.Count(out, "Ctrl-C to quit") != 2 || strings.Contains(out, "\x1b") {
		t.Errorf("watch off a terminal: want 2 samples without ANSI codes, got\n%q", out)
	}
}
