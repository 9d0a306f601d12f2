// Package llmtest provides fake LLM API servers for tests and benchmarks:
// httptest servers that speak the Gemini generateContent protocol and the
// OpenAI chat completions protocol as package llm uses them.
//
// A fake validates what a real API would reject (path, method, auth header,
// request shape, structured-output schema) and answers every story of a
// request (one or more, each under its key) with a deterministic enrichment
// derived from the story (see Expected), with usage numbers, including the
// cached-prefix tokens a provider's prompt cache would serve. It counts
// calls, stories per title and new TCP connections, and has knobs for
// latency (fixed and per token), a concurrency cap, a requests-per-minute
// limit, failures (e.g. 503, or 429 with Retry-After), garbage answers and
// answers that get one story wrong (MangleNext).
//
// A Server is safe for concurrent use; its knobs may be turned while calls
// are in flight. It is closed by t.Cleanup.
package llmtest

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"golang.org/x/time/rate"

	"newsflow/internal/news"
)

// DefaultAPIKey is the key a fake expects when Options.APIKey is empty.
const DefaultAPIKey = "test-key"

// storiesMarker precedes the stories (one JSON object per line with key,
// title and body) at the end of the user prompt; it must match package
// llm's prompt (llm.StoriesMarker, which this package cannot import
// without a cycle in llm's tests).
const storiesMarker = "\nStories:\n"

// minCachedTokens and cacheBlockTokens model OpenAI's prompt cache: a
// prefix of at least 1,024 tokens seen before is served from the cache, in
// blocks of 128 tokens.
const (
	minCachedTokens  = 1024
	cacheBlockTokens = 128
)

// garbageAnswer is the answer text sent by GarbageNext: cut-off JSON.
const garbageAnswer = `{"summary": "this answer was cut off mid`

// TB is the part of testing.TB the fakes use, so that tools outside tests
// (the benchmark harness) can run a fake too.
type TB interface {
	Helper()
	Cleanup(func())
}

// Options configure a fake server. The zero value expects DefaultAPIKey,
// accepts any model, answers at once, and has no concurrency cap.
type Options struct {
	// APIKey is the key requests must carry. Default DefaultAPIKey.
	APIKey string
	// NoAuth accepts requests without a key (like a local Ollama); a key
	// that is sent is still checked.
	NoAuth bool
	// Model, if set, is the only model the server knows; others get 404.
	Model string
	// Latency delays every answer (success or failure). Default 0.
	Latency time.Duration
	// MaxConcurrent caps the requests processed at once. Default 0: no cap.
	MaxConcurrent int
	// Queue makes requests over MaxConcurrent wait for a slot; by default
	// they are refused with 429 at once.
	Queue bool
	// OverloadRetryAfter is the Retry-After header on the 429s for requests
	// over MaxConcurrent, e.g. "1". Default: no header.
	OverloadRetryAfter string
	// LatencyPerInputToken and LatencyPerOutputToken add to Latency for
	// every uncached input token and every output token of an answer, as a
	// real model's prefill and decoding do. Default 0.
	LatencyPerInputToken, LatencyPerOutputToken time.Duration
	// RequestsPerMinute refuses requests over this rate with 429 and a
	// Retry-After header, like a provider's rate limit (a token bucket
	// holding one second's worth). Default 0: no limit.
	RequestsPerMinute int
	// DropShare leaves each story of a multi-story request out of the
	// answer with this probability, as a model sometimes does in a long
	// answer; a request about one story is always answered. Default 0.
	DropShare float64
	// NoPromptCache turns off the prompt-cache model: by default, a system
	// prompt of at least 1,024 tokens seen before is reported as cached
	// (OpenAI usage.prompt_tokens_details.cached_tokens, Gemini
	// usageMetadata.cachedContentTokenCount), in blocks of 128 tokens.
	NoPromptCache bool
}

// Mangle is a way MangleNext gets one story of an answer wrong.
type Mangle int

// Mangles.
const (
	// Omit leaves the story out of the answer.
	Omit Mangle = iota + 1
	// Invalid answers the story with a category outside the enum.
	Invalid
	// Truncate cuts the answer off in the middle of the story's part (the
	// stories after it are lost too).
	Truncate
	// Reorder answers the keys in reverse order (all stories stay valid).
	Reorder
	// ExtraKey adds a key that was not asked for, before the story's.
	ExtraKey
)

// failure is one queued FailNext answer.
type failure struct {
	status     int
	retryAfter string
}

// Server is a fake LLM API. Point a provider at URL.
type Server struct {
	// URL is the base URL to configure the provider with: the server root
	// for Gemini (GeminiBaseURL), the root plus "/v1" for OpenAI
	// (OpenAIBaseURL).
	URL string

	srv     *httptest.Server
	opts    Options
	gemini  bool
	slots   chan struct{} // nil: no cap
	closing chan struct{}
	once    sync.Once

	mu          sync.Mutex
	calls       int
	answered    int
	overloaded  int
	perTitle    map[string]int
	newConns    int
	inFlight    int
	maxInFlight int
	failures    []failure
	garbage     int
	latency     time.Duration
	bad         []string
	tokensIn    int
	tokensCache int
	tokensOut   int
	stories     int
	mangles     map[string]mangle // by title: applied to the next requests carrying it
	prefixes    map[string]bool   // system prompts seen (prompt cache)
	limiter     *rate.Limiter     // nil: no RPM limit
	limited     int
}

// NewGeminiServer starts a fake of the Gemini API:
// POST /v1beta/models/{model}:generateContent with x-goog-api-key.
func NewGeminiServer(t TB, opts Options) *Server { return newServer(t, opts, true) }

// NewOpenAIServer starts a fake of an OpenAI-compatible API:
// POST /v1/chat/completions with "Authorization: Bearer".
func NewOpenAIServer(t TB, opts Options) *Server { return newServer(t, opts, false) }

func newServer(t TB, opts Options, gemini bool) *Server {
	t.Helper()
	if opts.APIKey == "" {
		opts.APIKey = DefaultAPIKey
	}
	s := &Server{opts: opts, gemini: gemini, closing: make(chan struct{}), perTitle: map[string]int{}, latency: opts.Latency,
		mangles: map[string]mangle{}, prefixes: map[string]bool{}}
	if opts.RequestsPerMinute > 0 {
		s.limiter = rate.NewLimiter(rate.Limit(float64(opts.RequestsPerMinute)/60), max(1, opts.RequestsPerMinute/60))
	}
	if opts.MaxConcurrent > 0 {
		s.slots = make(chan struct{}, opts.MaxConcurrent)
	}
	s.srv = httptest.NewUnstartedServer(http.HandlerFunc(s.handle))
	s.srv.Config.ConnState = func(_ net.Conn, st http.ConnState) {
		if st == http.StateNew {
			s.mu.Lock()
			s.newConns++
			s.mu.Unlock()
		}
	}
	s.srv.Start()
	s.URL = s.srv.URL
	if !gemini {
		s.URL += "/v1"
	}
	t.Cleanup(s.Close)
	return s
}

// Close stops the server, cutting short calls that wait (latency, queue).
// It is idempotent; t.Cleanup calls it.
func (s *Server) Close() {
	s.once.Do(func() {
		close(s.closing)
		s.srv.CloseClientConnections()
		s.srv.Close()
	})
}

// APIKey returns the key the server expects.
func (s *Server) APIKey() string { return s.opts.APIKey }

// Calls returns how many requests arrived, whatever their fate.
func (s *Server) Calls() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls
}

// Stories returns how many stories well-formed requests asked about, over
// all requests.
func (s *Server) Stories() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.stories
}

// RateLimited returns how many requests were refused with 429 for
// exceeding RequestsPerMinute.
func (s *Server) RateLimited() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.limited
}

// CachedTokens returns the input tokens reported as served from the prompt
// cache, over all answers (a part of Tokens' in).
func (s *Server) CachedTokens() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.tokensCache
}

// mangle is a queued MangleNext.
type mangle struct {
	how Mangle
	n   int
}

// MangleNext makes the next n requests that carry a story with this title
// get that story wrong in the way m says; the other stories of those
// requests are answered well.
func (s *Server) MangleNext(title string, m Mangle, n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.mangles[title] = mangle{how: m, n: n}
}

// CallsFor returns how many well-formed requests asked about a story with
// this title (exact match, as sent).
func (s *Server) CallsFor(title string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.perTitle[title]
}

// Titles returns how many distinct titles were asked about.
func (s *Server) Titles() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.perTitle)
}

// Answered returns how many requests got valid enrichments (all stories
// answered).
func (s *Server) Answered() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.answered
}

// Overloaded returns how many requests were refused with 429 for exceeding
// MaxConcurrent.
func (s *Server) Overloaded() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.overloaded
}

// NewConns returns how many TCP connections clients opened.
func (s *Server) NewConns() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.newConns
}

// MaxInFlight returns the most requests processed at once so far (those
// refused or queued by MaxConcurrent excluded).
func (s *Server) MaxInFlight() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.maxInFlight
}

// Tokens returns the input and output tokens reported in all answers.
func (s *Server) Tokens() (in, out int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.tokensIn, s.tokensOut
}

// BadRequests returns why each rejected malformed request (400, 401, 404,
// 405) was rejected, oldest first.
func (s *Server) BadRequests() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.bad)
}

// FailNext makes the next n well-formed requests fail with HTTP status, in
// the provider's error format. A non-empty retryAfter is sent as the
// Retry-After header (delay-seconds or an HTTP date); the Gemini fake also
// puts whole seconds into a google.rpc.RetryInfo detail. Calls add up.
func (s *Server) FailNext(n, status int, retryAfter string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for range n {
		s.failures = append(s.failures, failure{status: status, retryAfter: retryAfter})
	}
}

// GarbageNext makes the next n well-formed requests answer 200 with answer
// text that is not valid JSON (after any queued failures).
func (s *Server) GarbageNext(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.garbage += n
}

// SetLatency changes the delay of every later answer.
func (s *Server) SetLatency(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.latency = d
}

// Expected returns the enrichment a fake answers for a story, without
// Model: summary "Summary: " + title (or the body's start if there is no
// title), category and importance from a SHA-256 of title and body, and
// language "en" (or "ru" for Cyrillic text).
func Expected(title, body string) news.Enrichment {
	h := sha256.Sum256([]byte(title + "\n" + body))
	lead := title
	if lead == "" {
		lead = body
	}
	if len(lead) > 200 {
		n := 200
		for n > 0 && !utf8.RuneStart(lead[n]) {
			n--
		}
		lead = lead[:n]
	}
	lang := "en"
	if strings.ContainsFunc(title+body, func(r rune) bool { return r >= 0x400 && r <= 0x4FF }) {
		lang = "ru"
	}
	return news.Enrichment{
		Summary:    "Summary: " + strings.TrimSpace(lead),
		Category:   news.Categories[int(h[0])%len(news.Categories)],
		Importance: int(binary.BigEndian.Uint16(h[1:3]) % 101),
		Language:   lang,
	}
}

// tokens is the fakes' token count: a quarter of the bytes, rounded up.
func tokens(s string) int { return (len(s) + 3) / 4 }

// story is one story of a request.
type story struct {
	Key   *string `json:"key"`
	Title *string `json:"title"`
	Body  *string `json:"body"`
}

// call is a request the protocol handler has validated.
type call struct {
	system  string // system text
	prompt  string // system and user text
	stories []story
}

func (s *Server) handle(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	s.calls++
	s.mu.Unlock()

	var c call
	var err error
	status := http.StatusBadRequest
	if s.gemini {
		c, status, err = s.parseGemini(r)
	} else {
		c, status, err = s.parseOpenAI(r)
	}
	if err != nil {
		s.mu.Lock()
		s.bad = append(s.bad, fmt.Sprintf("%d %s", status, err))
		s.mu.Unlock()
		s.writeError(w, status, err.Error(), "")
		return
	}
	s.mu.Lock()
	for _, st := range c.stories {
		s.perTitle[*st.Title]++
	}
	s.stories += len(c.stories)
	s.mu.Unlock()

	if s.limiter != nil {
		if r := s.limiter.Reserve(); r.Delay() > 0 {
			wait := r.Delay()
			r.Cancel()
			s.mu.Lock()
			s.limited++
			s.mu.Unlock()
			s.writeError(w, http.StatusTooManyRequests, "rate limit reached for requests per minute",
				strconv.Itoa(int(math.Ceil(wait.Seconds()))))
			return
		}
	}

	if s.slots != nil {
		select {
		case s.slots <- struct{}{}:
		default:
			if !s.opts.Queue {
				s.mu.Lock()
				s.overloaded++
				s.mu.Unlock()
				s.writeError(w, http.StatusTooManyRequests, "too many concurrent requests", s.opts.OverloadRetryAfter)
				return
			}
			select {
			case s.slots <- struct{}{}:
			case <-r.Context().Done():
				return
			case <-s.closing:
				return
			}
		}
		defer func() { <-s.slots }()
	}

	s.mu.Lock()
	s.inFlight++
	s.maxInFlight = max(s.maxInFlight, s.inFlight)
	latency := s.latency
	var fail *failure
	garbage := false
	if len(s.failures) > 0 {
		fail = &s.failures[0]
		s.failures = s.failures[1:]
	} else if s.garbage > 0 {
		s.garbage--
		garbage = true
	}
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		s.inFlight--
		s.mu.Unlock()
	}()

	answer := garbageAnswer
	if fail == nil && !garbage {
		answer = s.answer(c.stories)
	}
	in, out := tokens(c.prompt), tokens(answer)
	cached := 0
	s.mu.Lock()
	if fail != nil {
		in, out = 0, 0 // an error answer costs no model time
	} else if !s.opts.NoPromptCache {
		if n := tokens(c.system); n >= minCachedTokens && s.prefixes[c.system] {
			cached = n / cacheBlockTokens * cacheBlockTokens
		}
		s.prefixes[c.system] = true
	}
	s.mu.Unlock()
	latency += time.Duration(in-cached)*s.opts.LatencyPerInputToken + time.Duration(out)*s.opts.LatencyPerOutputToken
	if latency > 0 {
		t := time.NewTimer(latency)
		select {
		case <-t.C:
		case <-r.Context().Done():
			t.Stop()
			return
		case <-s.closing:
			t.Stop()
			return
		}
	}
	if fail != nil {
		s.writeError(w, fail.status, http.StatusText(fail.status), fail.retryAfter)
		return
	}
	s.mu.Lock()
	s.tokensIn += in
	s.tokensCache += cached
	s.tokensOut += out
	if !garbage {
		s.answered++
	}
	s.mu.Unlock()
	var resp any
	if s.gemini {
		resp = map[string]any{
			"candidates": []any{map[string]any{
				"content":      map[string]any{"role": "model", "parts": []any{map[string]any{"text": answer}}},
				"finishReason": "STOP",
				"index":        0,
			}},
			"usageMetadata": map[string]any{"promptTokenCount": in, "cachedContentTokenCount": cached, "candidatesTokenCount": out, "totalTokenCount": in + out},
			"modelVersion":  "fake",
		}
	} else {
		resp = map[string]any{
			"id":     "chatcmpl-fake",
			"object": "chat.completion",
			"model":  "fake",
			"choices": []any{map[string]any{
				"index":         0,
				"message":       map[string]any{"role": "assistant", "content": answer, "refusal": nil},
				"finish_reason": "stop",
			}},
			"usage": map[string]any{"prompt_tokens": in, "completion_tokens": out, "total_tokens": in + out,
				"prompt_tokens_details": map[string]any{"cached_tokens": cached}},
		}
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(resp)
}

// writeError answers status in the provider's error format.
func (s *Server) writeError(w http.ResponseWriter, status int, msg, retryAfter string) {
	if retryAfter != "" {
		w.Header().Set("Retry-After", retryAfter)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	var body any
	if s.gemini {
		e := map[string]any{"code": status, "message": msg, "status": geminiStatus(status)}
		var secs int
		if _, err := fmt.Sscanf(retryAfter, "%d", &secs); err == nil && status == http.StatusTooManyRequests {
			e["details"] = []any{map[string]any{"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": fmt.Sprintf("%ds", secs)}}
		}
		body = map[string]any{"error": e}
	} else {
		body = map[string]any{"error": map[string]any{"message": msg, "type": "fake_error", "code": status}}
	}
	_ = json.NewEncoder(w).Encode(body)
}

func geminiStatus(code int) string {
	switch code {
	case 400:
		return "INVALID_ARGUMENT"
	case 401:
		return "UNAUTHENTICATED"
	case 403:
		return "PERMISSION_DENIED"
	case 404:
		return "NOT_FOUND"
	case 429:
		return "RESOURCE_EXHAUSTED"
	case 503:
		return "UNAVAILABLE"
	}
	if code >= 500 {
		return "INTERNAL"
	}
	return "FAILED_PRECONDITION"
}

// readJSON decodes the request body into v.
func readJSON(r *http.Request, v any) error {
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		return fmt.Errorf("content type %q, want application/json", ct)
	}
	b, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		return fmt.Errorf("read body: %w", err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("body is not JSON: %w", err)
	}
	return nil
}

// answer is the answer text for stories: one object keyed by the stories'
// keys, with any queued MangleNext applied.
func (s *Server) answer(stories []story) string {
	type part struct {
		key string
		val []byte
	}
	parts := make([]part, 0, len(stories)+1)
	reverse, truncateAt := false, -1
	s.mu.Lock()
	for _, st := range stories {
		m := s.mangles[*st.Title]
		if m.n--; m.n > 0 {
			s.mangles[*st.Title] = m
		} else {
			delete(s.mangles, *st.Title)
		}
		e := Expected(*st.Title, *st.Body)
		if len(stories) > 1 && s.opts.DropShare > 0 && rand.Float64() < s.opts.DropShare {
			m.how = Omit
		}
		switch m.how {
		case Omit:
			continue
		case Invalid:
			e.Category = "weather"
		case Truncate:
			truncateAt = len(parts)
		case Reorder:
			reverse = true
		case ExtraKey:
			b, _ := json.Marshal(e)
			parts = append(parts, part{key: "zz" + *st.Key, val: b})
		}
		b, _ := json.Marshal(struct {
			Summary    string `json:"summary"`
			Category   string `json:"category"`
			Importance int    `json:"importance"`
			Language   string `json:"language"`
		}{e.Summary, e.Category, e.Importance, e.Language})
		parts = append(parts, part{key: *st.Key, val: b})
	}
	s.mu.Unlock()
	if reverse {
		slices.Reverse(parts)
	}
	var b strings.Builder
	b.WriteByte('{')
	for i, p := range parts {
		if i > 0 {
			b.WriteByte(',')
		}
		k, _ := json.Marshal(p.key)
		b.Write(k)
		b.WriteByte(':')
		if i == truncateAt {
			b.Write(p.val[:len(p.val)/2])
			return b.String()
		}
		b.Write(p.val)
	}
	b.WriteByte('}')
	return b.String()
}

// storiesFromPrompt finds the stories after the marker in the user prompt.
func storiesFromPrompt(user string) ([]story, error) {
	i := strings.LastIndex(user, storiesMarker)
	if i < 0 {
		return nil, fmt.Errorf("prompt has no %q marker", strings.TrimSpace(storiesMarker))
	}
	var out []story
	seen := map[string]bool{}
	for line := range strings.SplitSeq(user[i+len(storiesMarker):], "\n") {
		var st story
		if err := json.Unmarshal([]byte(line), &st); err != nil || st.Key == nil || st.Title == nil || st.Body == nil || *st.Key == "" {
			return nil, fmt.Errorf("story line after the marker is not a JSON object with key, title and body")
		}
		if seen[*st.Key] {
			return nil, fmt.Errorf("story key %q given twice", *st.Key)
		}
		seen[*st.Key] = true
		out = append(out, st)
	}
	return out, nil
}

// checkSchema checks a structured-output schema (either dialect): an object
// with one required property per story key, each an object with the four
// enrichment fields and the category enum; strict OpenAI schemas also need
// additionalProperties false at both levels.
func checkSchema(schema map[string]any, typeObject string, stories []story, strict bool) error {
	if schema == nil {
		return fmt.Errorf("no response schema")
	}
	if t, _ := schema["type"].(string); t != typeObject {
		return fmt.Errorf("schema type %q, want %q", t, typeObject)
	}
	if ap, ok := schema["additionalProperties"].(bool); strict && (!ok || ap) {
		return fmt.Errorf("strict schema needs additionalProperties false")
	}
	props, _ := schema["properties"].(map[string]any)
	req, _ := schema["required"].([]any)
	if len(props) != len(stories) {
		return fmt.Errorf("schema has %d properties for %d stories", len(props), len(stories))
	}
	for _, st := range stories {
		if !slices.Contains(req, any(*st.Key)) {
			return fmt.Errorf("schema does not require story key %q", *st.Key)
		}
		sub, _ := props[*st.Key].(map[string]any)
		if err := checkStorySchema(sub, typeObject, strict); err != nil {
			return fmt.Errorf("story %q: %w", *st.Key, err)
		}
	}
	return nil
}

// checkStorySchema checks one story's schema.
func checkStorySchema(schema map[string]any, typeObject string, strict bool) error {
	if schema == nil {
		return fmt.Errorf("no schema")
	}
	if t, _ := schema["type"].(string); t != typeObject {
		return fmt.Errorf("schema type %q, want %q", t, typeObject)
	}
	if ap, ok := schema["additionalProperties"].(bool); strict && (!ok || ap) {
		return fmt.Errorf("strict schema needs additionalProperties false")
	}
	props, _ := schema["properties"].(map[string]any)
	req, _ := schema["required"].([]any)
	for _, f := range []string{"summary", "category", "importance", "language"} {
		if _, ok := props[f]; !ok {
			return fmt.Errorf("schema lacks property %q", f)
		}
		if !slices.Contains(req, any(f)) {
			return fmt.Errorf("schema does not require %q", f)
		}
	}
	cat, _ := props["category"].(map[string]any)
	enum, _ := cat["enum"].([]any)
	for _, c := range news.Categories {
		if !slices.Contains(enum, any(c)) {
			return fmt.Errorf("category enum lacks %q", c)
		}
	}
	return nil
}

func (s *Server) parseGemini(r *http.Request) (call, int, error) {
	model, ok := strings.CutPrefix(r.URL.Path, "/v1beta/models/")
	if !ok || !strings.HasSuffix(model, ":generateContent") {
		return call{}, http.StatusNotFound, fmt.Errorf("unknown path %s", r.URL.Path)
	}
	model = strings.TrimSuffix(model, ":generateContent")
	if r.Method != http.MethodPost {
		return call{}, http.StatusMethodNotAllowed, fmt.Errorf("method %s, want POST", r.Method)
	}
	key := r.Header.Get("X-Goog-Api-Key")
	if key == "" {
		key = r.URL.Query().Get("key")
	}
	if key != s.opts.APIKey && (key != "" || !s.opts.NoAuth) {
		return call{}, http.StatusUnauthorized, errors.New("API key not valid, pass a valid API key")
	}
	if model == "" || (s.opts.Model != "" && model != s.opts.Model) {
		return call{}, http.StatusNotFound, fmt.Errorf("models/%s is not found", model)
	}
	var req struct {
		Contents []struct {
			Role  string `json:"role"`
			Parts []struct {
				Text string `json:"text"`
			} `json:"parts"`
		} `json:"contents"`
		SystemInstruction *struct {
			Parts []struct {
				Text string `json:"text"`
			} `json:"parts"`
		} `json:"systemInstruction"`
		GenerationConfig struct {
			ResponseMimeType string         `json:"responseMimeType"`
			ResponseSchema   map[string]any `json:"responseSchema"`
		} `json:"generationConfig"`
	}
	if err := readJSON(r, &req); err != nil {
		return call{}, http.StatusBadRequest, err
	}
	if len(req.Contents) == 0 || len(req.Contents[len(req.Contents)-1].Parts) == 0 {
		return call{}, http.StatusBadRequest, fmt.Errorf("contents is empty")
	}
	if req.GenerationConfig.ResponseMimeType != "application/json" {
		return call{}, http.StatusBadRequest, fmt.Errorf("responseMimeType %q, want application/json", req.GenerationConfig.ResponseMimeType)
	}
	var prompt, user strings.Builder
	if req.SystemInstruction != nil {
		for _, p := range req.SystemInstruction.Parts {
			prompt.WriteString(p.Text)
		}
	}
	for _, p := range req.Contents[len(req.Contents)-1].Parts {
		user.WriteString(p.Text)
	}
	system := prompt.String()
	prompt.WriteString(user.String())
	stories, err := storiesFromPrompt(user.String())
	if err != nil {
		return call{}, http.StatusBadRequest, err
	}
	if err := checkSchema(req.GenerationConfig.ResponseSchema, "OBJECT", stories, false); err != nil {
		return call{}, http.StatusBadRequest, err
	}
	return call{system: system, prompt: prompt.String(), stories: stories}, 0, nil
}

func (s *Server) parseOpenAI(r *http.Request) (call, int, error) {
	if r.URL.Path != "/v1/chat/completions" {
		return call{}, http.StatusNotFound, fmt.Errorf("unknown path %s", r.URL.Path)
	}
	if r.Method != http.MethodPost {
		return call{}, http.StatusMethodNotAllowed, fmt.Errorf("method %s, want POST", r.Method)
	}
	auth := r.Header.Get("Authorization")
	if auth != "Bearer "+s.opts.APIKey && (auth != "" || !s.opts.NoAuth) {
		return call{}, http.StatusUnauthorized, errors.New("incorrect API key provided")
	}
	var req struct {
		Model    string `json:"model"`
		Messages []struct {
			Role    string `json:"role"`
			Content string `json:"content"`
		} `json:"messages"`
		ResponseFormat struct {
			Type       string `json:"type"`
			JSONSchema struct {
				Name   string         `json:"name"`
				Strict bool           `json:"strict"`
				Schema map[string]any `json:"schema"`
			} `json:"json_schema"`
		} `json:"response_format"`
	}
	if err := readJSON(r, &req); err != nil {
		return call{}, http.StatusBadRequest, err
	}
	if req.Model == "" {
		return call{}, http.StatusBadRequest, fmt.Errorf("you must provide a model parameter")
	}
	if s.opts.Model != "" && req.Model != s.opts.Model {
		return call{}, http.StatusNotFound, fmt.Errorf("the model %q does not exist", req.Model)
	}
	rf := req.ResponseFormat
	if rf.Type != "json_schema" || rf.JSONSchema.Name == "" || !rf.JSONSchema.Strict {
		return call{}, http.StatusBadRequest, fmt.Errorf("response_format must be a strict, named json_schema")
	}
	var prompt, system strings.Builder
	user := ""
	for _, m := range req.Messages {
		prompt.WriteString(m.Content)
		switch m.Role {
		case "user":
			user = m.Content
		case "system", "developer":
			system.WriteString(m.Content)
		}
	}
	if user == "" {
		return call{}, http.StatusBadRequest, fmt.Errorf("no user message")
	}
	stories, err := storiesFromPrompt(user)
	if err != nil {
		return call{}, http.StatusBadRequest, err
	}
	if err := checkSchema(rf.JSONSchema.Schema, "object", stories, true); err != nil {
		return call{}, http.StatusBadRequest, err
	}
	return call{system: system.String(), prompt: prompt.String(), stories: stories}, 0, nil
}
