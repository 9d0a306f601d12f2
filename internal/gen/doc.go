// Package gen generates synthetic news deterministically: the same Config
// (seed included) gives the same sequence of messages, so benchmarks and
// tests can be repeated exactly.
//
// Stories are composed from per-category templates (politics, world,
// business, technology, science, health, sports, entertainment, environment,
// crime, and a few human-interest "other" stories) that carry the keywords
// the offline enricher recognises, with bodies of plausible English
// sentences. A share of messages (Config.DupContent) are reposts: an earlier
// story's exact title and body under a new id from another source, so they
// share its content hash; this is what the worker's enrichment dedupes.
//
// gen does no I/O. A Generator is not safe for concurrent use; give each
// goroutine its own (with different seeds or id prefixes).
package gen
