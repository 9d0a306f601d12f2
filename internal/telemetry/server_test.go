package telemetry

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/goleak"
	"go.uber.org/zap/zaptest"

	"newsflow/internal/natstest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("read %s: %v", url, err)
	}
	return resp.StatusCode, string(b)
}

func TestServer_Readyz(t *testing.T) {
	t.Parallel()
	s := NewServer("127.0.0.1:0", prometheus.NewRegistry(), zaptest.NewLogger(t), WithCheckTimeout(200*time.Millisecond))
	hs := httptest.NewServer(s.Handler())
	t.Cleanup(hs.Close)

	ok := func(context.Context) CheckResult { return CheckResult{Status: StatusOK} }
	s.AddCheck("nats", ok)

	readyz := func(t *testing.T) (int, Readiness) {
		t.Helper()
		code, body := get(t, hs.URL+"/readyz")
		var r Readiness
		if err := json.Unmarshal([]byte(body), &r); err != nil {
			t.Fatalf("readyz body %q: %v", body, err)
		}
		return code, r
	}

	s.AddCheck("postgres", func(context.Context) CheckResult {
		return CheckResult{Status: StatusDown, Detail: "connection refused"}
	})
	code, r := readyz(t)
	want := Readiness{Ready: false, Status: "not_ready", Checks: map[string]CheckResult{
		"nats":     {Status: StatusOK},
		"postgres": {Status: StatusDown, Detail: "connection refused"},
	}}
	if code != http.StatusServiceUnavailable {
		t.Errorf("down: code = %d, want 503", code)
	}
	if d := cmp.Diff(want, r); d != "" {
		t.Errorf("down: body (-want +got):\n%s", d)
	}

	s.AddCheck("postgres", ok)
	s.AddCheck("redis", func(context.Context) CheckResult {
		return CheckResult{Status: StatusDegraded, Detail: "in-process cache only"}
	})
	code, r = readyz(t)
	if code != http.StatusOK || !r.Ready || r.Checks["redis"].Status != StatusDegraded {
		t.Errorf("degraded: code = %d, body %+v; want 200, ready, redis degraded", code, r)
	}

	s.AddCheck("llm", func(ctx context.Context) CheckResult { // ignores nothing: waits for its deadline
		<-ctx.Done()
		return CheckResult{Status: StatusOK}
	})
	code, r = readyz(t)
	if code != http.StatusServiceUnavailable || r.Checks["llm"].Status != StatusDown ||
		!strings.Contains(r.Checks["llm"].Detail, "timed out") {
		t.Errorf("slow check: code = %d, llm %+v; want 503 and down by timeout", code, r.Checks["llm"])
	}
}

func TestServer_RunServesAndShutsDown(t *testing.T) {
	t.Parallel()
	reg := prometheus.NewRegistry()
	s := NewServer("127.0.0.1:0", reg, zaptest.NewLogger(t))
	_, nc := natstest.JetStream(t)
	s.AddCheck("nats", NATSCheck(nc))
	if err := s.Listen(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	base := "http://" + s.Addr().String()

	if code, body := get(t, base+"/healthz"); code != 200 || strings.TrimSpace(body) != `{"status":"ok"}` {
		t.Errorf("healthz = %d %q", code, body)
	}
	if code, body := get(t, base+"/readyz"); code != 200 || !strings.Contains(body, `"nats":{"status":"ok"`) {
		t.Errorf("readyz = %d %q", code, body)
	}
	code, body := get(t, base+"/metrics")
	if code != 200 || !strings.Contains(body, "go_goroutines") || !strings.Contains(body, "process_") {
		t.Errorf("metrics = %d, want Go and process collectors; body starts %.200q", code, body)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Run = %v, want nil", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return after cancel")
	}
}

// TestServer_MountAndShutdownEndsStreams: a mounted handler serves what the
// server's own routes do not match, and a response that streams until its
// request's context ends does not hold Run's shutdown.
func TestServer_MountAndShutdownEndsStreams(t *testing.T) {
	t.Parallel()
	s := NewServer("127.0.0.1:0", nil, zaptest.NewLogger(t))
	streaming := make(chan struct{})
	s.Mount("/", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/stream" {
			_, _ = io.WriteString(w, "mounted "+r.URL.Path)
			return
		}
		w.WriteHeader(http.StatusOK)
		_ = http.NewResponseController(w).Flush()
		close(streaming)
		<-r.Context().Done()
	}))
	if err := s.Listen(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	base := "http://" + s.Addr().String()
	if code, body := get(t, base+"/x"); code != 200 || body != "mounted /x" {
		t.Errorf("/x = %d %q, want the mounted handler", code, body)
	}
	if code, body := get(t, base+"/healthz"); code != 200 || !strings.Contains(body, "ok") {
		t.Errorf("/healthz = %d %q, want the server's own route", code, body)
	}
	resp, err := http.Get(base + "/stream")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	<-streaming
	cancel()
	select {
	case err := <-done:
		// A stream that held the shutdown would make it time out, and Run
		// return the deadline error.
		if err != nil {
			t.Errorf("Run = %v, want nil", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return after cancel")
	}
}

// TestServer_MetricsExemplars: /metrics answers OpenMetrics when asked, with
// the exemplars (trace ids) of the histograms; plain text otherwise.
func TestServer_MetricsExemplars(t *testing.T) {
	t.Parallel()
	reg := prometheus.NewRegistry()
	h := prometheus.NewHistogram(prometheus.HistogramOpts{Name: "newsflow_batch_commit_seconds", Help: "h", Buckets: []float64{1}})
	reg.MustRegister(h)
	h.(prometheus.ExemplarObserver).ObserveWithExemplar(0.5, prometheus.Labels{"trace_id": "4bf92f3577b34da6a3ce929d0e0e4736"})
	s := NewServer("127.0.0.1:0", reg, zaptest.NewLogger(t))
	hs := httptest.NewServer(s.Handler())
	t.Cleanup(hs.Close)

	req, _ := http.NewRequest(http.MethodGet, hs.URL+"/metrics", nil)
	req.Header.Set("Accept", "application/openmetrics-text; version=1.0.0")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/openmetrics-text") {
		t.Fatalf("Content-Type %q, want OpenMetrics", ct)
	}
	if !strings.Contains(string(body), `# {trace_id="4bf92f3577b34da6a3ce929d0e0e4736"} 0.5`) {
		t.Fatalf("no exemplar in:\n%s", body)
	}
	if _, plain := get(t, hs.URL+"/metrics"); strings.Contains(plain, "trace_id") {
		t.Fatalf("plain text format carries exemplars:\n%s", plain)
	}
}
