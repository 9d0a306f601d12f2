// Package gen generates synthetic news deterministically: the same Config
// (seed included) gives the same sequence of messages, so benchmarks and
// tests can be repeated exactly.
//
// Stories are composed from per-category templates (politics, world,
// business, technology, science, health, sports, entertainment, environment,
// crime, and a few human-interest "other" stories) that carry the keywords
// the offline enricher recognises, with bodies of plausible English
// sentences. A body's sentences are drawn from shared frames filled with
// short phrases (the category's actors, topics and events among them), so
// that two unrelated stories share few 3-word runs, as unrelated real news
// does; Corpus keeps the older stock templates, whose stories of a category
// share whole sentences. A share of messages (Config.DupContent) are reposts: an earlier
// story's exact title and body under a new id from another source, so they
// share its content hash; this is what the worker's enrichment dedupes.
//
// gen does no I/O. A Generator is not safe for concurrent use; give each
// goroutine its own (with different seeds or id prefixes).
package gen
