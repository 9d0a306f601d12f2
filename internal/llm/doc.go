// Package llm owns the enrichment stage's one external dependency: a large
// language model that summarises, categorises, scores and language-tags news
// stories, one or several per request.
//
// A Provider turns one news.Message into a news.Enrichment; a MultiProvider
// (Gemini, OpenAI) also takes up to MaxStoriesPerCall stories in one request,
// each under a short key ("s1", "s2", … in a stable order), with a response
// schema that requires every key and checks every story strictly. An answer
// that leaves out or botches one story fails only that story (a *ParseError
// in its StoryResult); an answer cut off keeps the stories complete before
// the cut. There are four providers:
//
//   - Gemini speaks the Google Generative Language API (generateContent with a
//     JSON response schema);
//   - OpenAI speaks the OpenAI-compatible chat completions API with a strict
//     json_schema response format, so it also works with Ollama, vLLM,
//     llama.cpp's server and LiteLLM via OPENAI_BASE_URL;
//   - Offline is deterministic, needs no network and costs nothing: an
//     extractive summary, keyword categories, heuristic importance and a
//     stop-word language guess;
//   - None returns an empty enrichment (enrichment disabled).
//
// NewProvider builds one by name (LLM_PROVIDER). Providers make exactly one
// HTTP request per call, except that Enrich asks once more for an answer that
// does not match the schema before it fails with a permanent *ParseError
// (EnrichMany leaves that choice to its caller).
// They do not retry transport or HTTP errors, rate limit, or bound
// concurrency: wrap a Provider in a Client for that. The Client adds
// requests- and tokens-per-minute limits, bounded concurrency, a per-call
// timeout, retries with jittered exponential backoff that honour Retry-After,
// a circuit breaker, and metrics.
//
// Every prompt is versioned (PromptVersion); the cache key of an enrichment
// includes the provider, the model and the prompt version, so changing the
// prompt invalidates cached answers. Every request starts with the same
// system prompt of about 1,500 tokens (instructions, category definitions
// with examples, an importance rubric with anchors), byte for byte, so that
// the providers' prompt caches serve it at the cached rate; the stories come
// after it. The cached part is read from the usage each provider reports and
// counted as direction "input_cached".
//
// This package does not cache and does not deduplicate: that is the job of
// the enrichment stage that consumes it.
//
// Concurrency: Providers and Clients are safe for concurrent use. Each HTTP
// provider owns one keep-alive http.Transport, shared by all its calls and
// sized for the concurrency it is given (NewTransport): give the provider the
// Client's Concurrency so that connections are reused, not re-dialled. The
// package starts no goroutines of its own.
package llm
