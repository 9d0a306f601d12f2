// Package tracing is newsflow's OpenTelemetry tracing: the set-up of both
// programs from the standard OTEL_* environment, the W3C trace context
// carried in NATS message headers under lower-case keys, cheap span helpers
// for the stages, exemplars for the latency histograms, and the attribute
// names the spans use.
//
// Tracing is off unless OTEL_TRACES_EXPORTER names an exporter (otlp or
// console). Off, Setup installs nothing: no provider, no exporter
// goroutine, and Start, Child and Observe cost a context lookup and an
// atomic load, without allocating (BenchmarkOff).
//
// What it does not do: it never decides what a span means; the stage that
// owns the work names it and sets its attributes (behind IsRecording, so an
// unsampled span costs nothing either).
//
// Concurrency: Setup and Flush are called once each, by main; everything
// else is safe for concurrent use.
package tracing
