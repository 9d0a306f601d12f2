// Package deadletter is the operator's side of the dead-letter stream
// (NEWS_DLQ on news-dlq.>): list and show dead letters with the reason the
// consumer recorded in their Newsflow-* headers, replay selected ones onto
// their original subject, and purge them.
//
// Replay publishes the original payload with a fresh Nats-Msg-Id
// ("<message id>#replay-<dlq seq>") — the original id would be dropped by the
// news stream's duplicate window — awaits the stream's PubAck, and only then
// deletes the dead letter, so a crash in between leaves a copy in the DLQ,
// and replaying again is deduplicated by the same replay id. The worker's
// database key is the id inside the JSON, so a replayed message that had in
// fact been committed before changes nothing.
//
// No secret leaves through it: the consumer records the reason without
// secrets (consumer.Config.Redactor), and the reason is redacted again as it
// is read (internal/redact, secrets of a known form), for dead letters
// recorded before that.
//
// It does not write dead letters (internal/consumer does) and never acks
// anything. A DLQ is safe for concurrent use; two operators replaying the same
// letters at once publish each at most once within the duplicate window.
package deadletter
