// Package news owns newsflow's message contract: the JSON shape publishers send,
// its decoding and validation, normalisation, and the content hash that
// identifies a story across reposts.
//
// It does no I/O and holds no state; every function is safe for concurrent use.
// Other stages share its types (Message, Enrichment, Article) so that no stage
// needs to import another.
package news
