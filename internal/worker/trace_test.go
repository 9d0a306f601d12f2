package worker_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"go.opentelemetry.io/otel/attribute"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"
	"go.uber.org/zap/zaptest/observer"

	"newsflow/internal/batcher"
	"newsflow/internal/consumer"
	"newsflow/internal/llm/llmtest"
	"newsflow/internal/news"
	"newsflow/internal/publish"
	"newsflow/internal/worker"
)

// traced is an in-memory span recorder for one test.
type traced struct {
	tp  *sdktrace.TracerProvider
	exp *tracetest.InMemoryExporter
}

func newTraced(t *testing.T) *traced {
	exp := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
	t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	return &traced{tp: tp, exp: exp}
}

// named returns the ended spans called name.
func (tr *traced) named(name string) []tracetest.SpanStub {
	var out []tracetest.SpanStub
	for _, s := range tr.exp.GetSpans() {
		if s.Name == name {
			out = append(out, s)
		}
	}
	return out
}

func attrs(kvs []attribute.KeyValue) map[string]any {
	m := make(map[string]any, len(kvs))
	for _, kv := range kvs {
		m[string(kv.Key)] = kv.Value.AsInterface()
	}
	return m
}

// publishTraced publishes ms through the publish engine under a known
// parent span and returns the parent's span context.
func (b *bundle) publishTraced(t *testing.T, tr *traced, ms []news.Message) trace.SpanContext {
	t.Helper()
	ctx, parent := tr.tp.Tracer("test").Start(t.Context(), "known parent")
	e, err := publish.New(t.Context(), b.nc, publish.DefaultConfig(), zaptest.NewLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range ms {
		if err := e.Publish(ctx, b.subject, encode(t, m), m.ID, m.ID); err != nil {
			t.Fatal(err)
		}
	}
	if c := e.Close(); c.Published != int64(len(ms)) {
		t.Fatalf("published %+v, want %d", c, len(ms))
	}
	parent.End()
	return parent.SpanContext()
}

// TestWorker_TraceSpanTree: three messages published under a known parent,
// each with its send span, are enriched (fake OpenAI server) and committed
// (Postgres) in one batch whose process span links the three send spans and
// has the story.lookup, enrich → cache.lookup, llm.call, commit and ack
// children; the commit histogram's exemplar names the batch's trace.
func TestWorker_TraceSpanTree(t *testing.T) {
	t.Parallel()
	b := setup(t)
	tr := newTraced(t)
	fake := llmtest.NewOpenAIServer(t, llmtest.Options{})
	ms := []news.Message{b.story(1, 0), b.story(2, 0), b.story(3, 0)}
	parent := b.publishTraced(t, tr, ms)

	sends := map[trace.SpanID]string{}
	for _, s := range tr.exp.GetSpans() {
		if s.Name == "send "+b.subject {
			if s.Parent.SpanID() != parent.SpanID() || s.SpanContext.TraceID() != parent.TraceID() {
				t.Fatalf("send span's parent %v, want the known parent %v", s.Parent, parent)
			}
			sends[s.SpanContext.SpanID()] = attrs(s.Attributes)["messaging.message.id"].(string)
		}
	}
	if len(sends) != 3 {
		t.Fatalf("%d send spans, want 3", len(sends))
	}

	p := b.startProc(t, fake, procConfig{nearDup: true, worker: worker.Config{TracerProvider: tr.tp,
		Batch: batcher.Config{MaxMessages: 3, MaxWait: time.Minute}}})
	b.drained(t, 3, time.Minute)
	eventually(t, 30*time.Second, "a process span", func() (bool, string) {
		n := len(tr.named("process"))
		return n > 0, fmt.Sprintf("%d process spans", n)
	})
	if err := p.stop(t); err != nil {
		t.Fatal(err)
	}

	procs := tr.named("process")
	if len(procs) != 1 {
		t.Fatalf("%d process spans, want 1", len(procs))
	}
	ps := procs[0]
	if ps.Parent.IsValid() || ps.SpanKind != trace.SpanKindConsumer {
		t.Errorf("process span: parent %v, kind %v; want a root of kind consumer", ps.Parent, ps.SpanKind)
	}
	pa := attrs(ps.Attributes)
	for k, want := range map[string]any{"messaging.system": "nats", "messaging.operation.type": "process",
		"messaging.batch.message_count": int64(3), "messaging.destination.name": b.subject, "newsflow.flush_reason": "size"} {
		if pa[k] != want {
			t.Errorf("process span %s = %v, want %v", k, pa[k], want)
		}
	}
	if len(ps.Links) != 3 {
		t.Fatalf("process span has %d links, want 3", len(ps.Links))
	}
	for _, l := range ps.Links {
		id, ok := sends[l.SpanContext.SpanID()]
		if !ok || l.SpanContext.TraceID() != parent.TraceID() || attrs(l.Attributes)["messaging.message.id"] != id {
			t.Errorf("link %v (%v) is not one of the send spans", l.SpanContext, attrs(l.Attributes))
		}
	}

	// The children, and their attributes.
	child := func(name string, of trace.SpanID) tracetest.SpanStub {
		t.Helper()
		ss := tr.named(name)
		if len(ss) != 1 || ss[0].Parent.SpanID() != of || ss[0].SpanContext.TraceID() != ps.SpanContext.TraceID() {
			t.Fatalf("%d %s spans (%v), want 1 under %v", len(ss), name, ss, of)
		}
		return ss[0]
	}
	if a := attrs(child("story.lookup", ps.SpanContext.SpanID()).Attributes); a["newsflow.rows"] != int64(3) || a["newsflow.stories"] != int64(3) {
		t.Errorf("story.lookup attributes %v", a)
	}
	enr := child("enrich", ps.SpanContext.SpanID())
	if a := attrs(enr.Attributes); a["newsflow.rows"] != int64(3) || a["newsflow.rows_failed"] != int64(0) {
		t.Errorf("enrich attributes %v", a)
	}
	if a := attrs(child("cache.lookup", enr.SpanContext.SpanID()).Attributes); a["newsflow.cache.misses"] != int64(3) || a["newsflow.cache.hits"] != int64(0) {
		t.Errorf("cache.lookup attributes %v", a)
	}
	calls := tr.named("llm.call")
	if len(calls) != 3 {
		t.Fatalf("%d llm.call spans, want 3 (one per story)", len(calls))
	}
	for _, c := range calls {
		a := attrs(c.Attributes)
		if c.Parent.SpanID() != enr.SpanContext.SpanID() || a["gen_ai.system"] != "openai" || a["newsflow.outcome"] != "ok" ||
			a["newsflow.stories"] != int64(1) || a["newsflow.retries"] != int64(0) || a["gen_ai.usage.input_tokens"].(int64) <= 0 {
			t.Errorf("llm.call under %v with %v", c.Parent.SpanID(), a)
		}
	}
	if a := attrs(child("commit", ps.SpanContext.SpanID()).Attributes); a["newsflow.rows"] != int64(3) || a["newsflow.inserted"] != int64(3) || a["newsflow.attempt"] != int64(0) {
		t.Errorf("commit attributes %v", a)
	}
	child("ack", ps.SpanContext.SpanID())

	// Exemplars point at the batch's trace.
	for _, name := range []string{"newsflow_batch_commit_seconds", "newsflow_publish_to_commit_seconds", "newsflow_llm_call_seconds"} {
		if got := exemplarTraceIDs(t, p.reg, name); !got[ps.SpanContext.TraceID().String()] {
			t.Errorf("%s exemplars %v, want trace %s", name, got, ps.SpanContext.TraceID())
		}
	}
}

// exemplarTraceIDs returns the trace ids of the exemplars of histogram name.
func exemplarTraceIDs(t *testing.T, reg *prometheus.Registry, name string) map[string]bool {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	ids := map[string]bool{}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			var exs []*dto.Exemplar
			for _, bk := range m.GetHistogram().GetBucket() {
				exs = append(exs, bk.GetExemplar())
			}
			for _, ex := range exs {
				for _, lp := range ex.GetLabel() {
					if lp.GetName() == "trace_id" {
						ids[lp.GetValue()] = true
					}
				}
			}
		}
	}
	return ids
}

// TestWorker_TraceDeadLetter: a row the database rejects is dead-lettered
// with a dead_letter event on its batch's span naming the message, the
// reason and its producer's span.
func TestWorker_TraceDeadLetter(t *testing.T) {
	t.Parallel()
	b := setup(t)
	tr := newTraced(t)
	ms := []news.Message{b.story(1, 0), b.story(2, 0)}
	b.publishTraced(t, tr, ms)
	var poisonSpan trace.SpanContext
	for _, s := range tr.named("send " + b.subject) {
		if attrs(s.Attributes)["messaging.message.id"] == ms[1].ID {
			poisonSpan = s.SpanContext
		}
	}
	r := b.start(t, worker.Config{TracerProvider: tr.tp, Batch: batcher.Config{MaxMessages: 2, MaxWait: time.Minute}},
		poisonStore{b.store, map[string]bool{ms[1].ID: true}})
	b.drained(t, 1, time.Minute)
	if err := r.stop(t); err != nil {
		t.Fatal(err)
	}
	procs := tr.named("process")
	if len(procs) != 1 {
		t.Fatalf("%d process spans, want 1", len(procs))
	}
	var found bool
	for _, ev := range procs[0].Events {
		a := attrs(ev.Attributes)
		if ev.Name == "dead_letter" && a["messaging.message.id"] == ms[1].ID && a["newsflow.producer.span_id"] == poisonSpan.SpanID().String() &&
			a["newsflow.producer.trace_id"] == poisonSpan.TraceID().String() && a["newsflow.reason"] != "" {
			found = true
		}
	}
	if !found {
		t.Fatalf("no dead_letter event for %s (producer span %v) in %v", ms[1].ID, poisonSpan, procs[0].Events)
	}
	// A failed commit attempt (the whole batch, before the split) is marked failed.
	failed := 0
	for _, c := range tr.named("commit") {
		if c.Status.Code.String() == "Error" {
			failed++
		}
	}
	if failed == 0 {
		t.Error("no commit span marked failed")
	}
}

// TestWorker_UntracedHasNoSpans: without a TracerProvider (and tracing off)
// a batch records nothing, even when its messages carry trace context.
func TestWorker_UntracedHasNoSpans(t *testing.T) {
	t.Parallel()
	b := setup(t)
	tr := newTraced(t)
	b.publishTraced(t, tr, []news.Message{b.story(1, 0)})
	before := len(tr.exp.GetSpans())
	r := b.start(t, worker.Config{Batch: batcher.Config{MaxMessages: 1}}, nil)
	b.drained(t, 1, time.Minute)
	if err := r.stop(t); err != nil {
		t.Fatal(err)
	}
	if after := len(tr.exp.GetSpans()); after != before {
		t.Fatalf("%d spans recorded by an untraced worker", after-before)
	}
}

// TestWorker_CommittedTraceIDLogged: with debug logging, each committed
// message is logged with its producer's trace id, tracing on or off in the
// worker.
func TestWorker_CommittedTraceIDLogged(t *testing.T) {
	t.Parallel()
	b := setup(t)
	tr := newTraced(t)
	ms := []news.Message{b.story(1, 0)}
	parent := b.publishTraced(t, tr, ms)
	core, logs := observer.New(zap.DebugLevel)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	cons, err := consumer.New(ctx, b.js, b.cfg, zap.New(core), prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	defer cons.Close()
	w, err := worker.New(worker.Config{Batch: batcher.Config{MaxMessages: 1}}, cons, b.store, nil, nil, zap.New(core), nil)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()
	b.drained(t, 1, time.Minute)
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	got := logs.FilterMessage("committed").AllUntimed()
	if len(got) != 1 {
		t.Fatalf("%d committed lines, want 1", len(got))
	}
	f := got[0].ContextMap()
	if f["msg_id"] != ms[0].ID || f["trace_id"] != parent.TraceID().String() {
		t.Fatalf("committed line %v, want msg_id %s and trace_id %s", f, ms[0].ID, parent.TraceID())
	}
	if _, ok := f["batch_trace_id"]; ok {
		t.Fatalf("untraced batch logged a batch_trace_id: %v", f)
	}
}
