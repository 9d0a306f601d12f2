package llm

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"newsflow/internal/news"
)

// splitUsage divides u over stories in proportion to weight (their share
// of the input), so that the parts add up to u exactly.
func splitUsage(u news.Usage, weight []int) []news.Usage {
	total := 0
	for _, w := range weight {
		total += w
	}
	out := make([]news.Usage, len(weight))
	if total <= 0 {
		total = len(weight)
		weight = nil
	}
	part := func(n, cum int) int { return int((int64(n)*int64(cum) + int64(total)/2) / int64(total)) }
	cum := 0
	for i := range out {
		prev := cum
		if weight == nil {
			cum++
		} else {
			cum += weight[i]
		}
		out[i] = news.Usage{
			InputTokens:       part(u.InputTokens, cum) - part(u.InputTokens, prev),
			CachedInputTokens: part(u.CachedInputTokens, cum) - part(u.CachedInputTokens, prev),
			OutputTokens:      part(u.OutputTokens, cum) - part(u.OutputTokens, prev),
		}
	}
	return out
}

// Result is the outcome of one successful enrichment call.
type Result struct {
	// Enrichment is the validated answer; its Model is the provider's Model().
	Enrichment news.Enrichment
	// Usage is what the call cost in tokens, summed over a parse retry.
	Usage news.Usage
}

// Provider enriches one story per call. Implementations are safe for
// concurrent use.
type Provider interface {
	// Enrich asks the model about one story. An error that retrying cannot
	// fix has a Permanent() bool method returning true.
	Enrich(ctx context.Context, m news.Message) (Result, error)
	// Model names the provider and model, e.g. "gemini/gemini-2.5-flash". It
	// is what the llm_model column records.
	Model() string
	// Names returns the provider and the model separately, e.g. "gemini" and
	// "gemini-2.5-flash"; with the prompt version they make the cache key.
	Names() (provider, model string)
}

// StoryResult is one story's outcome in a multi-story call.
type StoryResult struct {
	// Enrichment is the validated answer when Err is nil; its Model is the
	// provider's Model().
	Enrichment news.Enrichment
	// Usage is the story's share of the call's tokens, by its share of the
	// input; the shares of a call add up to its usage.
	Usage news.Usage
	// Err is a *ParseError when the story was missing from the answer or its
	// part did not match the schema; the other stories of the call stand.
	Err error
}

// MultiProvider is a Provider that can enrich several stories in one
// request (Gemini and OpenAI do).
type MultiProvider interface {
	Provider
	// EnrichMany asks the model about ms in one request, at most
	// MaxStoriesPerCall of them. It returns one StoryResult per story, in
	// the order of ms, or an error that applies to the whole call (network,
	// HTTP status). It does not ask again for stories whose answers were
	// missing or invalid: that is the caller's choice.
	EnrichMany(ctx context.Context, ms []news.Message) ([]StoryResult, error)
}

// Provider names accepted by NewProvider (LLM_PROVIDER).
const (
	ProviderOffline = "offline"
	ProviderNone    = "none"
	ProviderGemini  = "gemini"
	ProviderOpenAI  = "openai"
)

// ProviderNames lists the names NewProvider accepts.
var ProviderNames = []string{ProviderOffline, ProviderNone, ProviderGemini, ProviderOpenAI}

// ProviderConfig holds what NewProvider needs for any provider; each field
// maps to one environment variable of the worker. Fields a provider does not
// use are ignored.
type ProviderConfig struct {
	// Model overrides the provider's default model (LLM_MODEL). Default:
	// gemini-2.5-flash for gemini, gpt-4o-mini for openai.
	Model string
	// GeminiAPIKey authenticates to Gemini (GEMINI_API_KEY). Required for gemini.
	GeminiAPIKey string
	// GeminiBaseURL overrides the Gemini endpoint (tests). Default
	// https://generativelanguage.googleapis.com.
	GeminiBaseURL string
	// OpenAIAPIKey authenticates to an OpenAI-compatible API (OPENAI_API_KEY).
	// Required for api.openai.com; optional for other base URLs.
	OpenAIAPIKey string
	// OpenAIBaseURL is the OpenAI-compatible API root (OPENAI_BASE_URL),
	// e.g. http://127.0.0.1:11434/v1 for Ollama. Default https://api.openai.com/v1.
	OpenAIBaseURL string
	// HTTPClient overrides the HTTP client. Default: one built on
	// NewTransport(Concurrency).
	HTTPClient *http.Client
	// Concurrency sizes the default transport: it keeps and opens at most
	// this many connections per host. Set it to the Client's Concurrency.
	// Default 8.
	Concurrency int
}

// String describes c without secrets.
func (c ProviderConfig) String() string {
	return fmt.Sprintf("model=%q gemini_api_key=%s gemini_base_url=%q openai_api_key=%s openai_base_url=%q concurrency=%d",
		c.Model, redact(c.GeminiAPIKey), c.GeminiBaseURL, redact(c.OpenAIAPIKey), c.OpenAIBaseURL, c.Concurrency)
}

func redact(s string) string {
	if s == "" {
		return "unset"
	}
	return "set"
}

// NewProvider builds the provider called name: offline, none, gemini or
// openai. An unknown name or a missing API key is an error that says what to
// set.
func NewProvider(name string, cfg ProviderConfig) (Provider, error) {
	switch strings.ToLower(strings.TrimSpace(name)) {
	case ProviderOffline:
		return NewOffline(), nil
	case ProviderNone:
		return NewNone(), nil
	case ProviderGemini:
		return NewGemini(GeminiConfig{APIKey: cfg.GeminiAPIKey, Model: cfg.Model, BaseURL: cfg.GeminiBaseURL,
			HTTPClient: cfg.HTTPClient, Concurrency: cfg.Concurrency})
	case ProviderOpenAI:
		return NewOpenAI(OpenAIConfig{APIKey: cfg.OpenAIAPIKey, Model: cfg.Model, BaseURL: cfg.OpenAIBaseURL,
			HTTPClient: cfg.HTTPClient, Concurrency: cfg.Concurrency})
	default:
		return nil, fmt.Errorf("llm: unknown provider %q (LLM_PROVIDER): valid names are %s", name, strings.Join(ProviderNames, ", "))
	}
}

// ErrBreakerOpen is returned by Client.Enrich while the circuit breaker is
// open. It is not permanent: the story should be retried later.
var ErrBreakerOpen = errors.New("llm: circuit breaker open")

// ErrAuth is wrapped by errors for HTTP 401 and 403 answers: the API key is
// missing, wrong or lacks permission. Such errors are permanent for the call,
// but say nothing about the story; callers may prefer to stop rather than
// dead-letter (errors.Is(err, llm.ErrAuth)).
var ErrAuth = errors.New("llm: API key rejected")

// StatusError is a non-2xx HTTP answer from a provider.
type StatusError struct {
	// Provider is "gemini" or "openai".
	Provider string
	// StatusCode is the HTTP status.
	StatusCode int
	// Message is the provider's error message, shortened; never a secret.
	Message string
	// RetryAfter is the delay the server asked for (Retry-After header or
	// Gemini's RetryInfo), zero when none.
	RetryAfter time.Duration
}

// Error implements error.
func (e *StatusError) Error() string {
	s := fmt.Sprintf("llm: %s: HTTP %d", e.Provider, e.StatusCode)
	if e.Message != "" {
		s += ": " + e.Message
	}
	if e.StatusCode == http.StatusUnauthorized || e.StatusCode == http.StatusForbidden {
		s += " (check " + keyEnv(e.Provider) + ")"
	}
	return s
}

// Permanent reports whether retrying cannot help: every 4xx except 408 and 429.
func (e *StatusError) Permanent() bool {
	return e.StatusCode >= 400 && e.StatusCode < 500 &&
		e.StatusCode != http.StatusTooManyRequests && e.StatusCode != http.StatusRequestTimeout
}

// Unwrap lets errors.Is(err, ErrAuth) match 401 and 403.
func (e *StatusError) Unwrap() error {
	if e.StatusCode == http.StatusUnauthorized || e.StatusCode == http.StatusForbidden {
		return ErrAuth
	}
	return nil
}

// ServiceFault reports whether the answer says the service, or our access
// to it, is failing rather than this request: 401, 403 (the key), 404 (the
// model), 408, 429 and 5xx.
func (e *StatusError) ServiceFault() bool {
	switch e.StatusCode {
	case http.StatusUnauthorized, http.StatusForbidden, http.StatusNotFound,
		http.StatusRequestTimeout, http.StatusTooManyRequests:
		return true
	}
	return e.StatusCode >= 500
}

func keyEnv(provider string) string {
	if provider == ProviderGemini {
		return "GEMINI_API_KEY"
	}
	return "OPENAI_API_KEY"
}

// ParseError says the model's answer did not match the enrichment schema,
// even after one retry. It is permanent for the call.
type ParseError struct {
	// Reason says what was wrong, e.g. `category "weather" not allowed`.
	Reason string
	// Attempts is how many answers were rejected.
	Attempts int
}

// Error implements error.
func (e *ParseError) Error() string {
	return fmt.Sprintf("llm: answer does not match the schema after %d attempts: %s", e.Attempts, e.Reason)
}

// Permanent reports that retrying the call again is not expected to help.
func (e *ParseError) Permanent() bool { return true }

// ErrBadRequest is wrapped by errors building or encoding a request: the
// story cannot be sent as it is, so retrying the call cannot help.
var ErrBadRequest = errors.New("llm: request could not be built")

// permanentError marks a request error as permanent; it matches ErrBadRequest.
type permanentError struct{ err error }

func (e *permanentError) Error() string   { return e.err.Error() }
func (e *permanentError) Unwrap() []error { return []error{ErrBadRequest, e.err} }
func (e *permanentError) Permanent() bool { return true }

// isPermanent reports whether err says so.
func isPermanent(err error) bool {
	var p interface{ Permanent() bool }
	return errors.As(err, &p) && p.Permanent()
}

// validCategory is news.ValidCategory, kept local for the parser's use.
func validCategory(c string) bool { return slices.Contains(news.Categories, c) }
