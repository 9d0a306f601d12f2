package worker

import (
	"context"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"
	"go.uber.org/zap"

	"newsflow/internal/consumer"
	"newsflow/internal/tracing"
)

// The batch's spans follow OpenTelemetry's messaging conventions for a
// batch receive: a batch has many parents, so its "process" span is a new
// root (consumer kind) with a link to each message's producer span, and the
// steps of the batch are its children: "enrich" per attempt (with the
// enrich stage's "cache.lookup" and the LLM client's "llm.call" below it),
// "commit" per attempt, "ack". A dead-lettered message is a "dead_letter"
// event naming the message and its producer's span.

// noSpan is the span of an untraced batch: every call on it does nothing.
var noSpan = trace.SpanFromContext(context.Background())

// processOpts start a batch's span.
var processOpts = []trace.SpanStartOption{trace.WithNewRoot(), trace.WithSpanKind(trace.SpanKindConsumer)}

// startProcess starts the span of batch b, when tracing is on; links and
// attributes are built only when the span records (it was sampled).
func (w *Worker) startProcess(ctx context.Context, b batch) (context.Context, trace.Span) {
	if w.tracer == nil {
		return ctx, noSpan
	}
	ctx, span := w.tracer.Start(ctx, "process", processOpts...)
	if !span.IsRecording() {
		return ctx, span
	}
	span.SetAttributes(tracing.SystemNATS,
		tracing.MessagingOperationName.String("process"), tracing.MessagingOperationType.String("process"),
		tracing.MessagingBatchMessageCount.Int(len(b.ds)), tracing.NewsflowFlushReason.String(string(b.reason)))
	if dest := commonSubject(b.ds); dest != "" {
		span.SetAttributes(tracing.MessagingDestinationName.String(dest))
	}
	for _, d := range b.ds {
		if sc := tracing.Extract(d.Header()); sc.IsValid() {
			span.AddLink(trace.Link{SpanContext: sc, Attributes: []attribute.KeyValue{
				tracing.MessagingMessageID.String(d.Message.ID), tracing.MessagingDestinationName.String(d.Subject),
				tracing.NewsflowStreamSeq.Int64(int64(d.StreamSeq)), tracing.NewsflowNumDelivered.Int64(int64(d.NumDelivered)),
			}})
		}
	}
	return ctx, span
}

// commonSubject is the subject of every delivery, or "" when they differ.
func commonSubject(ds []*consumer.Delivery) string {
	if len(ds) == 0 {
		return ""
	}
	s := ds[0].Subject
	for _, d := range ds[1:] {
		if d.Subject != s {
			return ""
		}
	}
	return s
}

// event records on the batch's span (the span in ctx) that d was settled
// otherwise than by the batch's commit (dead_letter, retry), naming d, the
// reason, and its producer's span, since a link cannot carry events.
func event(ctx context.Context, name string, d *consumer.Delivery, reason error) {
	span := trace.SpanFromContext(ctx)
	if !span.IsRecording() {
		return
	}
	attrs := []attribute.KeyValue{tracing.MessagingMessageID.String(d.Message.ID),
		tracing.NewsflowStreamSeq.Int64(int64(d.StreamSeq)), tracing.NewsflowReason.String(reason.Error())}
	if sc := tracing.Extract(d.Header()); sc.IsValid() {
		attrs = append(attrs, tracing.NewsflowLinkedTraceID.String(sc.TraceID().String()),
			tracing.NewsflowLinkedSpanID.String(sc.SpanID().String()))
	}
	span.AddEvent(name, trace.WithAttributes(attrs...))
}

// logCommitted logs, at debug level, each committed message with its
// producer's trace id: how to find the trace of a row (see README's
// Tracing). Nothing is built unless debug logging is on.
func (w *Worker) logCommitted(ctx context.Context, ds []*consumer.Delivery) {
	if !w.log.Core().Enabled(zap.DebugLevel) {
		return
	}
	batch := trace.SpanContextFromContext(ctx)
	for _, d := range ds {
		fields := []zap.Field{zap.String("msg_id", d.Message.ID), zap.Uint64("stream_seq", d.StreamSeq)}
		if sc := tracing.Extract(d.Header()); sc.IsValid() {
			fields = append(fields, zap.Stringer("trace_id", sc.TraceID()))
		}
		if batch.IsValid() {
			fields = append(fields, zap.Stringer("batch_trace_id", batch.TraceID()))
		}
		w.log.Debug("committed", fields...)
	}
}
