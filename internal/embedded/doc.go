// Package embedded runs newsflow's embedded mode NATS: an in-process
// nats-server with JetStream that stores its data under a data directory, and
// advertises its client URL in <data-dir>/nats.url so that other commands on
// the same machine (publisher, worker lag, ...) find it without NATS_URL.
//
// It does not create streams or consumers; internal/consumer does that over
// an ordinary client connection, exactly as against an external server.
//
// A *NATS is safe for concurrent use. StartNATS and Shutdown are meant to be
// called once each, from the process's main goroutine.
package embedded
