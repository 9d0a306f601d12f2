// Package console serves the operator's console: a few server-rendered
// pages over the worker's own state.
//
//   - Overview (/): throughput, consumer lag in messages and seconds, drain
//     ETA and replica hint as live charts over the last 15 minutes, LLM calls
//     and calls saved, cache hit ratio by tier, dead letters, breaker and
//     Redis state. A Sampler reads them from a Prometheus registry every
//     few seconds into a ring buffer, so the page has history the moment it
//     opens; the page follows new samples over server-sent events.
//   - Workers (/workers): the live worker registry; a worker that stopped
//     heartbeating shows as gone.
//   - Dead letters (/dlq): list with filter, show one, replay or purge the
//     selected ones after a confirmation page, through internal/deadletter
//     (the code paths of `worker dlq`).
//   - Stories (/stories): the top stories of a window and category.
//
// Every page is HTML rendered on the server (the tables work without
// JavaScript) with a JSON twin under /api/. Templates, style sheet and the
// small script are embedded in the binary; nothing is fetched from
// elsewhere at run time.
//
// Writes: the console's address is unauthenticated, so replay and purge are
// refused (403) unless Config.Write is set, are POST only, and are refused
// when the browser says the request comes from another origin
// (http.CrossOriginProtection). Reads never change anything.
//
// Cost: nothing on the message path. With nobody watching, the Sampler
// gathers the registry once per interval (DefaultInterval); handlers run
// only when a page is open.
package console
