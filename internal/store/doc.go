// Package store owns the database stage of newsflow: the articles table, its
// schema migrations, committing one batch of enriched articles per
// transaction, and the read queries behind `worker top`.
//
// Two implementations share one method set: Postgres (pgx v5 connection pool),
// the production store, and SQLite (modernc.org/sqlite, pure Go, WAL mode), the
// embedded store used when DATABASE_URL is unset. Both pass the conformance
// suite in package storetest.
//
// Commit is idempotent by message id (ON CONFLICT (id) DO NOTHING): committing
// a redelivered batch inserts nothing and changes nothing. On Postgres a batch
// is one statement, so it is one transaction in one round trip: a binary COPY
// straight into the table, or, once that met a stored id, INSERT ... SELECT
// unnest(one array per column) ... ON CONFLICT (id) DO NOTHING;
// BenchmarkCommit compares them with the alternatives. An error caused by
// the data itself (a check violation, invalid text) is a *DataError, which is
// permanent; every other error (connection loss, serialization failure,
// deadlock, context end) is retryable, see IsRetryable.
//
// The store does not decode, validate or enrich messages, and does not ack
// them; the caller acks only after Commit returns nil.
//
// Concurrency: *Postgres and *SQLite are safe for concurrent use. Migrate may
// run in several processes at once: Postgres serialises it with an advisory
// lock per schema, SQLite with BEGIN IMMEDIATE.
package store
