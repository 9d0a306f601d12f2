package tracing

import (
	"context"
	"net/textproto"

	"github.com/nats-io/nats.go"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
)

// The header keys of the W3C trace context in NATS messages: lower-case, as
// nats-server's message tracing and the other NATS clients write them (Go's
// propagation.HeaderCarrier would write Traceparent).
const (
	HeaderTraceparent = "traceparent"
	HeaderTracestate  = "tracestate"
)

// propagator is the one propagator newsflow uses, whatever the global one
// is: W3C trace context.
var propagator = propagation.TraceContext{}

// Carrier is a propagation.TextMapCarrier over NATS headers that writes
// keys as given (the propagator's lower-case ones) and reads them
// lower-case first, then in HTTP's canonical form, which other tools may
// have written.
type Carrier nats.Header

// Get returns the first value of key.
func (c Carrier) Get(key string) string {
	if v := c[key]; len(v) > 0 {
		return v[0]
	}
	if v := c[textproto.CanonicalMIMEHeaderKey(key)]; len(v) > 0 {
		return v[0]
	}
	return ""
}

// Set sets key to value, replacing any value in another case.
func (c Carrier) Set(key, value string) {
	if ck := textproto.CanonicalMIMEHeaderKey(key); ck != key {
		delete(c, ck)
	}
	c[key] = []string{value}
}

// Keys lists the keys present.
func (c Carrier) Keys() []string {
	keys := make([]string, 0, len(c))
	for k := range c {
		keys = append(keys, k)
	}
	return keys
}

// Inject writes the span context of ctx into h (traceparent, and tracestate
// when there is one). It does nothing when ctx holds no valid span context.
func Inject(ctx context.Context, h nats.Header) {
	if h == nil || !trace.SpanContextFromContext(ctx).IsValid() {
		return
	}
	propagator.Inject(ctx, Carrier(h))
}

// Extract returns the span context h carries, invalid when none (or when h
// is nil).
func Extract(h nats.Header) trace.SpanContext {
	if len(h) == 0 {
		return trace.SpanContext{}
	}
	return trace.SpanContextFromContext(propagator.Extract(context.Background(), Carrier(h)))
}
