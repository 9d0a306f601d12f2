// Package feed owns `publisher feeds`: it reads a feed list, polls RSS,
// Atom and JSON Feed sources with conditional GETs, turns their items into
// news messages and hands the new ones to a Publisher. Any number of
// replicas share one feed list through a JetStream KV bucket.
//
// What it guarantees:
//   - A feed is polled only by the replica holding its lease: a lease is
//     taken and given back by compare-and-set on the feed's KV revision and
//     expires LeaseTTL after it was last renewed, so a replica that dies
//     loses its feeds to the others within LeaseTTL. A replica renews the
//     leases it polls under; when a renewal fails the poll is abandoned
//     before anything is recorded.
//   - An item is published once: its key (see ItemID) is recorded in the
//     feed's seen set only after the Publisher reported every item of the
//     poll stored, and an item whose key was seen is not published again,
//     even when its content changed (an edit is not news; the first version
//     stays the story). A poll whose publish failed records nothing, so its
//     items are published again by the next poll, with the same
//     Nats-Msg-Id. The seen set keeps the newest MaxSeen keys of a feed.
//   - A failing feed is polled again after a capped exponential backoff
//     (honouring Retry-After) and never given up; other feeds go on.
//
// It does not validate messages beyond the contract's size limits (the
// worker does), nor choose subjects (the Publisher does).
//
// Concurrency: a Poller runs its polls concurrently within a global and a
// per-host limit; Fetcher and Parse are safe for concurrent use.
package feed
