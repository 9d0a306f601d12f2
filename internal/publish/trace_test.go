package publish

import (
	"context"
	"testing"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
	"go.uber.org/zap/zaptest"

	"newsflow/internal/tracing"
)

// A traced publish gives each message a producer span under the caller's
// span, ended with the stream sequence, and stores its context in the
// message's lower-case traceparent header.
func TestEngine_TracedPublish(t *testing.T) {
	t.Parallel()
	nc, s, name := setup(t)
	exp := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
	defer func() { _ = tp.Shutdown(context.Background()) }()
	ctx, parent := tp.Tracer("test").Start(t.Context(), "poll")

	e, err := New(t.Context(), nc, testConfig(), zaptest.NewLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"t:1", "t:2", "t:1"} {
		if err := e.Publish(ctx, name+".x", []byte(`{"id":"`+id+`"}`), id, id); err != nil {
			t.Fatal(err)
		}
		e.active.Wait() // the duplicate must follow the original
	}
	e.Close()
	parent.End()

	spans := exp.GetSpans()
	bySeq := map[int64]tracetest.SpanStub{}
	dups := 0
	for _, sp := range spans {
		if sp.Name == "poll" {
			continue
		}
		attrs := map[string]any{}
		for _, kv := range sp.Attributes {
			attrs[string(kv.Key)] = kv.Value.AsInterface()
		}
		if sp.Name != "send "+name+".x" || sp.SpanKind != trace.SpanKindProducer || sp.Parent.SpanID() != parent.SpanContext().SpanID() ||
			attrs["messaging.system"] != "nats" || attrs["messaging.destination.name"] != name+".x" || attrs["messaging.operation.type"] != "send" {
			t.Errorf("span %s kind %v parent %v attrs %v", sp.Name, sp.SpanKind, sp.Parent.SpanID(), attrs)
		}
		if attrs["newsflow.duplicate"] == true {
			dups++
			continue
		}
		bySeq[attrs["newsflow.stream_seq"].(int64)] = sp
	}
	if len(spans) != 4 || len(bySeq) != 2 || dups != 1 {
		t.Fatalf("got %d spans, %d stored and %d duplicates; want 4, 2, 1", len(spans), len(bySeq), dups)
	}
	for seq, sp := range bySeq {
		m, err := s.GetMsg(t.Context(), uint64(seq))
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := m.Header["traceparent"]; !ok {
			t.Fatalf("stored message %d has headers %v, want lower-case traceparent", seq, m.Header)
		}
		if got := tracing.Extract(m.Header); got.SpanID() != sp.SpanContext.SpanID() || got.TraceID() != parent.SpanContext().TraceID() {
			t.Errorf("message %d carries %v, want its send span %v", seq, got, sp.SpanContext)
		}
	}
}

// Untraced (tracing off, no span in ctx), a message carries no trace headers.
func TestEngine_UntracedPublishHasNoTraceHeaders(t *testing.T) {
	t.Parallel()
	nc, s, name := setup(t)
	e, err := New(t.Context(), nc, testConfig(), zaptest.NewLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Publish(t.Context(), name+".x", []byte(`{}`), "u:1", ""); err != nil {
		t.Fatal(err)
	}
	e.Close()
	m, err := s.GetMsg(t.Context(), 1)
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Header) != 1 || m.Header.Get("Nats-Msg-Id") != "u:1" {
		t.Fatalf("headers %v, want only Nats-Msg-Id", m.Header)
	}
}
