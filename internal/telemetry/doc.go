// Package telemetry owns the worker's operational surface: the HTTP server
// with /metrics (Prometheus, on a registry passed in), /healthz (the process
// is alive) and /readyz (named dependency checks, JSON detail, 503 when any
// is down), and consumer lag — a LagMeter that turns JetStream consumer state
// into lag in messages and in seconds, a processing rate, a drain estimate and
// a replica hint, and a Poller that publishes those as gauges.
//
// It does not own the dependencies it checks: callers register a CheckFunc per
// dependency (NATSCheck and PingCheck cover the common cases). It reads
// JetStream state only; it never acks, naks or publishes.
//
// Concurrency: Server methods are safe for concurrent use; AddCheck may be
// called while the server runs. A LagMeter keeps per-consumer rate state and
// is safe for concurrent use, but its rate is only meaningful when one caller
// samples it at a steady interval (the Poller, or `worker lag`).
package telemetry
