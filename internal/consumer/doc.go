// Package consumer is newsflow's JetStream stage: it ensures the NEWS stream,
// the dead-letter stream and the durable pull consumer shared by every
// worker, fetches messages, decodes and validates them (news.DecodeLimit),
// and hands valid ones to the next stage as *Delivery values. It is the only
// code in newsflow that acks, naks or terminates a JetStream message.
//
// What it does not do: batching, enrichment or storage. The worker's
// pipeline reports each delivery's fate back through Ack (after its batch
// committed), Retry (nak with the backoff for its delivery count, or
// dead-letter on its last delivery), DeadLetter (bad data) or NakAll (hand
// back at once). Which of them applies is the pipeline's decision
// (internal/worker's classify), not this package's.
//
// Invalid messages (malformed JSON, contract violations, too large) never
// reach the output channel: they are published to the dead-letter stream
// with the Newsflow-* headers, their PubAck awaited, and then terminated.
// If the dead-letter publish fails the message is naked with a delay
// instead, so nothing is lost.
//
// Keep-alive: every delivery handed out and not yet settled is tracked; a
// ticker sends InProgress for those held longer than AckWait/3, so a batch
// stuck behind a dead dependency is not redelivered. When the output channel
// blocks for longer than AckWait/3 (backpressure), Run stops fetching and
// pulls the client-side prefetch buffer into its own tracked backlog, so
// those messages are kept alive as well.
//
// Concurrency: one goroutine calls Run per Consumer at a time; Ack, Retry,
// DeadLetter, NakAll and Info are safe for concurrent use. Any
// number of Consumers (in one process or many) may share one durable; the
// server splits the messages between them. Close stops the keep-alive
// ticker; call it after the last delivery was settled.
//
// Shutdown: cancel Run's context. Run stops fetching (Drain, not Stop),
// naks without delay everything it prefetched but did not hand out, closes
// the output channel and returns nil. The reader keeps reading until the
// channel is closed, settles what it got (with a fresh context), and then the
// owner calls Close, and finally drains the NATS connection so late acks go
// out.
package consumer
