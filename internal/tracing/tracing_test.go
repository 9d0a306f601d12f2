package tracing_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/propagation"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	"go.uber.org/goleak"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"
	"google.golang.org/protobuf/proto"

	"newsflow/internal/tracing"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// recorded returns a provider that keeps every span in memory.
func recorded(t *testing.T) (*sdktrace.TracerProvider, *tracetest.InMemoryExporter) {
	exp := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
	t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	return tp, exp
}

func TestCarrier_LowerCaseRoundTrip(t *testing.T) {
	t.Parallel()
	tp, _ := recorded(t)
	ts, err := trace.ParseTraceState("vendor=abc")
	if err != nil {
		t.Fatal(err)
	}
	ctx, span := tp.Tracer("test").Start(context.Background(), "send")
	defer span.End()
	ctx = trace.ContextWithSpanContext(ctx, span.SpanContext().WithTraceState(ts))

	h := nats.Header{"Nats-Msg-Id": []string{"x"}}
	tracing.Inject(ctx, h)
	var keys []string
	for k := range h {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	if want := []string{"Nats-Msg-Id", "traceparent", "tracestate"}; !slices.Equal(keys, want) {
		t.Fatalf("header keys %q, want %q (trace context in lower case)", keys, want)
	}

	// The Go SDK's own propagator reads what we wrote, through our carrier.
	got := trace.SpanContextFromContext(propagation.TraceContext{}.Extract(context.Background(), tracing.Carrier(h)))
	if got.TraceID() != span.SpanContext().TraceID() || got.SpanID() != span.SpanContext().SpanID() || got.TraceState().String() != "vendor=abc" {
		t.Fatalf("SDK propagator extracted %v, want the span's context with its trace state", got)
	}
	if got := tracing.Extract(h); !got.Equal(trace.NewSpanContext(trace.SpanContextConfig{TraceID: got.TraceID(), SpanID: span.SpanContext().SpanID(),
		TraceFlags: trace.FlagsSampled, TraceState: ts, Remote: true})) || got.TraceID() != span.SpanContext().TraceID() {
		t.Fatalf("Extract gave %v", got)
	}

	// What Go's HeaderCarrier writes (Traceparent) is read too.
	hh := http.Header{}
	propagation.TraceContext{}.Inject(ctx, propagation.HeaderCarrier(hh))
	if _, ok := hh["Traceparent"]; !ok {
		t.Fatalf("HeaderCarrier wrote %v; this test expects its canonical keys", hh)
	}
	if got := tracing.Extract(nats.Header(hh)); got.TraceID() != span.SpanContext().TraceID() {
		t.Fatalf("Extract of canonical keys gave %v", got)
	}
	// And Set replaces a canonical key instead of adding a second one.
	tracing.Inject(ctx, nats.Header(hh))
	if _, ok := hh["Traceparent"]; ok || hh.Get("traceparent") != "" && len(nats.Header(hh)["traceparent"]) != 1 {
		t.Fatalf("after Inject over canonical keys: %v", hh)
	}
	if tracing.Extract(nil).IsValid() || tracing.Extract(nats.Header{}).IsValid() {
		t.Fatal("Extract of no header gave a valid span context")
	}
	empty := nats.Header{}
	tracing.Inject(context.Background(), empty)
	if len(empty) != 0 {
		t.Fatalf("Inject without a span wrote %v", empty)
	}
}

func TestChild_OnlyUnderRecordingParent(t *testing.T) {
	t.Parallel()
	tp, exp := recorded(t)
	if _, span := tracing.Child(context.Background(), "orphan"); span.IsRecording() || span.SpanContext().IsValid() {
		t.Fatal("Child without a parent started a span")
	}
	ctx, parent := tp.Tracer("test").Start(context.Background(), "parent")
	cctx, child := tracing.Child(ctx, "child")
	_, grand := tracing.Start(cctx, "grandchild", trace.SpanKindInternal)
	grand.End()
	child.End()
	parent.End()
	spans := exp.GetSpans()
	if len(spans) != 3 {
		t.Fatalf("got %d spans, want 3", len(spans))
	}
	if spans[0].Parent.SpanID() != child.SpanContext().SpanID() || spans[1].Parent.SpanID() != parent.SpanContext().SpanID() {
		t.Fatalf("wrong parents: %v %v", spans[0].Parent, spans[1].Parent)
	}

	// Under a parent that was not sampled, nothing records.
	never := sdktrace.NewTracerProvider(sdktrace.WithSampler(sdktrace.NeverSample()))
	ctx, p := never.Tracer("test").Start(context.Background(), "unsampled")
	if _, c := tracing.Child(ctx, "child"); c.IsRecording() {
		t.Fatal("Child of an unsampled span records")
	}
	p.End()
}

// TestOff_NoAllocations: with tracing off the helpers the hot path calls
// allocate nothing.
func TestOff_NoAllocations(t *testing.T) {
	if tracing.Enabled() {
		t.Fatal("tracing on without Setup")
	}
	h := prometheus.NewHistogram(prometheus.HistogramOpts{Name: "h"})
	ctx := context.Background()
	allocs := testing.AllocsPerRun(1000, func() { offPath(ctx, h) })
	if allocs != 0 {
		t.Fatalf("tracing off: %v allocations per message, want 0", allocs)
	}
}

// offPath is what a message costs the stages when tracing is off.
func offPath(ctx context.Context, h prometheus.Observer) {
	if tracing.Active(ctx) {
		panic("active")
	}
	pctx, span := tracing.Start(ctx, "process", trace.SpanKindConsumer)
	cctx, child := tracing.Child(pctx, "commit")
	if child.IsRecording() {
		child.SetAttributes(tracing.NewsflowRows.Int(1))
	}
	tracing.Observe(h, 0.1, trace.SpanFromContext(cctx))
	child.End()
	span.End()
}

// BenchmarkOff is the per-message cost of the tracing calls with tracing
// off (calls), against the histogram observation alone (baseline).
func BenchmarkOff(b *testing.B) {
	h := prometheus.NewHistogram(prometheus.HistogramOpts{Name: "h"})
	ctx := context.Background()
	b.Run("baseline", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			h.Observe(0.1)
		}
	})
	b.Run("calls", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			offPath(ctx, h)
		}
	})
}

func TestObserve_ExemplarWhenSampled(t *testing.T) {
	t.Parallel()
	tp, _ := recorded(t)
	h := prometheus.NewHistogram(prometheus.HistogramOpts{Name: "h", Buckets: []float64{1}})
	tracing.Observe(h, 0.5, trace.SpanFromContext(context.Background())) // no span: no exemplar
	if ex := exemplar(t, h); ex != nil {
		t.Fatalf("exemplar without a span: %v", ex)
	}
	_, span := tp.Tracer("test").Start(context.Background(), "x")
	tracing.Observe(h, 0.5, span)
	span.End()
	ex := exemplar(t, h)
	if ex == nil || ex.GetLabel()[0].GetName() != tracing.ExemplarLabel || ex.GetLabel()[0].GetValue() != span.SpanContext().TraceID().String() {
		t.Fatalf("exemplar %v, want trace_id=%s", ex, span.SpanContext().TraceID())
	}
}

func exemplar(t *testing.T, h prometheus.Histogram) *dto.Exemplar {
	t.Helper()
	var m dto.Metric
	if err := h.Write(&m); err != nil {
		t.Fatal(err)
	}
	return m.GetHistogram().GetBucket()[0].GetExemplar()
}

func TestSetup_OffByDefault(t *testing.T) {
	for _, v := range []string{"", "none"} {
		t.Setenv("OTEL_TRACES_EXPORTER", v)
		on, err := tracing.Setup(t.Context(), "test", io.Discard)
		if err != nil || on || tracing.Enabled() {
			t.Fatalf("OTEL_TRACES_EXPORTER=%q: on=%v err=%v, want off", v, on, err)
		}
		if err := tracing.Flush(); err != nil {
			t.Fatal(err)
		}
	}
	// goleak (TestMain) checks that no exporter goroutine was started.
}

func TestSetup_BadEnvironment(t *testing.T) {
	for _, tc := range []struct{ key, val, want string }{
		{"OTEL_TRACES_EXPORTER", "zipkin", "OTEL_TRACES_EXPORTER=\"zipkin\""},
		{"OTEL_EXPORTER_OTLP_PROTOCOL", "http/json", "OTEL_EXPORTER_OTLP_PROTOCOL=\"http/json\""},
		{"OTEL_TRACES_SAMPLER", "sometimes", "OTEL_TRACES_SAMPLER=\"sometimes\""},
		{"OTEL_TRACES_SAMPLER_ARG", "1.5", "OTEL_TRACES_SAMPLER_ARG=\"1.5\""},
	} {
		t.Run(tc.key, func(t *testing.T) {
			t.Setenv("OTEL_TRACES_EXPORTER", "otlp")
			t.Setenv("OTEL_TRACES_SAMPLER", "parentbased_traceidratio")
			t.Setenv(tc.key, tc.val)
			on, err := tracing.Setup(t.Context(), "test", io.Discard)
			if err == nil || on || !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), "\n") {
				t.Fatalf("err %v, want one line naming %s", err, tc.want)
			}
		})
	}
}

// TestSetup_OTLPExporterSends runs the OTLP/HTTP exporter Setup configures
// against a receiver that decodes the protobuf request.
func TestSetup_OTLPExporterSends(t *testing.T) {
	var (
		mu   sync.Mutex
		reqs []*coltracepb.ExportTraceServiceRequest
		got  = make(chan struct{}, 10)
	)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if r.URL.Path != "/v1/traces" || r.Header.Get("Content-Type") != "application/x-protobuf" || err != nil {
			http.Error(w, "want protobuf on /v1/traces", http.StatusBadRequest)
			return
		}
		var req coltracepb.ExportTraceServiceRequest
		if err := proto.Unmarshal(body, &req); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		mu.Lock()
		reqs = append(reqs, &req)
		mu.Unlock()
		w.Header().Set("Content-Type", "application/x-protobuf")
		out, _ := proto.Marshal(&coltracepb.ExportTraceServiceResponse{})
		_, _ = w.Write(out)
		got <- struct{}{}
	}))
	defer srv.Close()
	t.Setenv("OTEL_TRACES_EXPORTER", "otlp")
	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", srv.URL)
	t.Setenv("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf")
	t.Setenv("OTEL_SERVICE_NAME", "")
	t.Setenv("OTEL_RESOURCE_ATTRIBUTES", "deployment.environment=test")
	t.Setenv("OTEL_TRACES_SAMPLER", "always_on")
	on, err := tracing.Setup(t.Context(), "newsflow-test", io.Discard)
	if err != nil || !on {
		t.Fatalf("Setup: on=%v err=%v", on, err)
	}
	ctx, span := tracing.Start(context.Background(), "send news.ingest.t", trace.SpanKindProducer)
	_, child := tracing.Child(ctx, "child")
	child.End()
	span.End()
	if err := tracing.Flush(); err != nil {
		t.Fatal(err)
	}
	if tracing.Enabled() {
		t.Fatal("still on after Flush")
	}
	select {
	case <-got:
	case <-time.After(10 * time.Second):
		t.Fatal("the receiver got no request")
	}
	mu.Lock()
	defer mu.Unlock()
	var names []string
	attrs := map[string]string{}
	for _, req := range reqs {
		for _, rs := range req.GetResourceSpans() {
			for _, kv := range rs.GetResource().GetAttributes() {
				attrs[kv.GetKey()] = kv.GetValue().GetStringValue()
			}
			for _, ss := range rs.GetScopeSpans() {
				for _, s := range ss.GetSpans() {
					names = append(names, s.GetName())
					if !bytes.Equal(s.GetTraceId(), traceID(span)) {
						t.Errorf("span %s has trace id %x, want %x", s.GetName(), s.GetTraceId(), traceID(span))
					}
				}
			}
		}
	}
	slices.Sort(names)
	if want := []string{"child", "send news.ingest.t"}; !slices.Equal(names, want) {
		t.Fatalf("received spans %q, want %q", names, want)
	}
	if attrs["service.name"] != "newsflow-test" || attrs["deployment.environment"] != "test" {
		t.Fatalf("resource attributes %v, want service.name=newsflow-test and OTEL_RESOURCE_ATTRIBUTES'", attrs)
	}
}

func traceID(s trace.Span) []byte { id := s.SpanContext().TraceID(); return id[:] }

// TestLogErrors: OpenTelemetry's errors reach the logger, rate-limited.
func TestLogErrors(t *testing.T) {
	core, logs := observer.New(zap.WarnLevel)
	tracing.LogErrors(zap.New(core))
	defer otel.SetErrorHandler(otel.ErrorHandlerFunc(func(error) {}))
	for range 3 {
		otel.Handle(errors.New("connection refused"))
	}
	got := logs.FilterMessage("tracing: spans not exported").AllUntimed()
	if len(got) != 1 || got[0].ContextMap()["error"] != "connection refused" {
		t.Fatalf("logged %v, want one line with the error", got)
	}
}
