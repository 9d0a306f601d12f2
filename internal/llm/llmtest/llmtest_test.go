package llmtest_test

import (
	"errors"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"newsflow/internal/llm"
	"newsflow/internal/llm/llmtest"
	"newsflow/internal/news"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func msg(title string) news.Message {
	return news.Message{ID: title, Source: "s", Title: title, Body: "body of " + title}
}

func TestServer_OverloadRejects(t *testing.T) {
	t.Parallel()
	s := llmtest.NewOpenAIServer(t, llmtest.Options{MaxConcurrent: 1, Latency: 100 * time.Millisecond, OverloadRetryAfter: "2"})
	p, err := llm.NewOpenAI(llm.OpenAIConfig{APIKey: s.APIKey(), BaseURL: s.URL})
	if err != nil {
		t.Fatal(err)
	}
	defer p.CloseIdleConnections()
	var wg sync.WaitGroup
	errs := make([]error, 3)
	for i := range errs {
		wg.Go(func() { _, errs[i] = p.Enrich(t.Context(), msg("x")) })
	}
	wg.Wait()
	var rejected int
	for _, err := range errs {
		var se *llm.StatusError
		if errors.As(err, &se) && se.StatusCode == http.StatusTooManyRequests && se.RetryAfter == 2*time.Second {
			rejected++
		}
	}
	// With 100 ms latency all three overlap, unless the machine stalls one.
	if rejected != s.Overloaded() || rejected < 1 || s.MaxInFlight() != 1 {
		t.Errorf("rejected %d (server says %d), max in flight %d; want ≥ 1 rejected, 1 in flight: %v",
			rejected, s.Overloaded(), s.MaxInFlight(), errs)
	}
}

func TestServer_OverloadQueues(t *testing.T) {
	t.Parallel()
	s := llmtest.NewGeminiServer(t, llmtest.Options{MaxConcurrent: 2, Queue: true, Latency: 10 * time.Millisecond})
	p, err := llm.NewGemini(llm.GeminiConfig{APIKey: s.APIKey(), BaseURL: s.URL})
	if err != nil {
		t.Fatal(err)
	}
	defer p.CloseIdleConnections()
	var wg sync.WaitGroup
	for i := range 6 {
		wg.Go(func() {
			if _, err := p.Enrich(t.Context(), msg(string(rune('a'+i)))); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if s.MaxInFlight() > 2 || s.Answered() != 6 || s.Titles() != 6 || s.Overloaded() != 0 {
		t.Errorf("max in flight %d, answered %d, titles %d, overloaded %d; want ≤ 2, 6, 6, 0",
			s.MaxInFlight(), s.Answered(), s.Titles(), s.Overloaded())
	}
}

func TestServer_RejectsMalformedRequests(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		new  func(llmtest.TB, llmtest.Options) *llmtest.Server
		path string
		hdr  map[string]string
		body string
		want string
	}{
		{"gemini path", llmtest.NewGeminiServer, "/v1/models/m:generateContent", map[string]string{"x-goog-api-key": llmtest.DefaultAPIKey}, `{}`, "404 unknown path"},
		{"gemini key", llmtest.NewGeminiServer, "/v1beta/models/m:generateContent", nil, `{}`, "401"},
		{"gemini mime", llmtest.NewGeminiServer, "/v1beta/models/m:generateContent", map[string]string{"x-goog-api-key": llmtest.DefaultAPIKey},
			`{"contents":[{"parts":[{"text":"hi"}]}]}`, "responseMimeType"},
		{"openai format", llmtest.NewOpenAIServer, "/v1/chat/completions", map[string]string{"Authorization": "Bearer " + llmtest.DefaultAPIKey},
			`{"model":"m","messages":[{"role":"user","content":"hi"}],"response_format":{"type":"json_object"}}`, "json_schema"},
		{"openai marker", llmtest.NewOpenAIServer, "/v1/chat/completions", map[string]string{"Authorization": "Bearer " + llmtest.DefaultAPIKey},
			`{"model":"m","messages":[{"role":"user","content":"hi"}],"response_format":{"type":"json_schema","json_schema":{"name":"e","strict":true,"schema":` +
				`{"type":"object","properties":{"summary":{},"category":{"enum":["politics","world","business","technology","science","health","sports","entertainment","environment","crime","other"]},"importance":{},"language":{}},` +
				`"required":["summary","category","importance","language"],"additionalProperties":false}}}}`, "marker"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := tc.new(t, llmtest.Options{})
			root := strings.TrimSuffix(s.URL, "/v1")
			req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, root+tc.path, strings.NewReader(tc.body))
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("Content-Type", "application/json")
			for k, v := range tc.hdr {
				req.Header.Set(k, v)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			bad := s.BadRequests()
			if resp.StatusCode < 400 || len(bad) != 1 || !strings.Contains(bad[0], tc.want) {
				t.Errorf("status %d, bad requests %q; want one mentioning %q", resp.StatusCode, bad, tc.want)
			}
		})
	}
}

func TestExpected_Deterministic(t *testing.T) {
	t.Parallel()
	a, b := llmtest.Expected("t", "b"), llmtest.Expected("t", "b")
	if a != b || !news.ValidCategory(a.Category) || a.Importance < 0 || a.Importance > 100 || a.Summary != "Summary: t" {
		t.Errorf("Expected = %+v, %+v", a, b)
	}
	if got := llmtest.Expected("", "Привет мир").Language; got != "ru" {
		t.Errorf("language of Cyrillic = %q", got)
	}
}
