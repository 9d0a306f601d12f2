package feed

import (
	"context"
	"testing"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
)

// TestPoller_TracedPoll: a traced poll is a "poll" span whose children are
// the send spans of the items it published.
func TestPoller_TracedPoll(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.feeds.set("a", 3, 0)
	src := b.feeds.source("a")
	p := b.poller(t, "r1", testConfig(), []Source{src})
	exp := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
	defer func() { _ = tp.Shutdown(context.Background()) }()
	ctx, parent := tp.Tracer("test").Start(t.Context(), "run")
	if sum, err := p.Once(ctx); err != nil || sum.Items != 3 {
		t.Fatalf("Once = %+v, %v; want 3 items", sum, err)
	}
	parent.End()
	var poll tracetest.SpanStub
	sends := 0
	for _, s := range exp.GetSpans() {
		if s.Name == "poll" {
			poll = s
		}
	}
	if poll.Parent.SpanID() != parent.SpanContext().SpanID() {
		t.Fatalf("poll span %v, want one under the caller's span", poll.Name)
	}
	for _, kv := range poll.Attributes {
		if kv.Key == "newsflow.feed.published" && kv.Value.AsInt64() != 3 {
			t.Errorf("poll published = %v, want 3", kv.Value.AsInt64())
		}
	}
	for _, s := range exp.GetSpans() {
		if s.Name != "poll" && s.Name != "run" {
			if s.Parent.SpanID() != poll.SpanContext.SpanID() {
				t.Errorf("span %s under %v, want under the poll span", s.Name, s.Parent.SpanID())
			}
			sends++
		}
	}
	if sends != 3 {
		t.Fatalf("%d send spans, want 3", sends)
	}
}
