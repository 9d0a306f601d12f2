package llm_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"newsflow/internal/llm"
	"newsflow/internal/llm/llmtest"
	"newsflow/internal/news"
)

// protocol is one HTTP provider with its fake.
type protocol struct {
	name        string
	model       string
	newServer   func(llmtest.TB, llmtest.Options) *llmtest.Server
	newProvider func(t testing.TB, s *llmtest.Server, key string) llm.Provider
}

var protocols = []protocol{
	{
		name:      "gemini",
		model:     "gemini/gemini-2.5-flash",
		newServer: llmtest.NewGeminiServer,
		newProvider: func(t testing.TB, s *llmtest.Server, key string) llm.Provider {
			p, err := llm.NewGemini(llm.GeminiConfig{APIKey: key, BaseURL: s.URL, Concurrency: 4})
			if err != nil {
				t.Fatal(err)
			}
			return p
		},
	},
	{
		name:      "openai",
		model:     "openai/gpt-4o-mini",
		newServer: llmtest.NewOpenAIServer,
		newProvider: func(t testing.TB, s *llmtest.Server, key string) llm.Provider {
			p, err := llm.NewOpenAI(llm.OpenAIConfig{APIKey: key, BaseURL: s.URL, Concurrency: 4})
			if err != nil {
				t.Fatal(err)
			}
			return p
		},
	},
}

// forEachProtocol runs f as a parallel subtest per protocol with a fresh
// fake and a provider pointed at it.
func forEachProtocol(t *testing.T, opts llmtest.Options, f func(t *testing.T, s *llmtest.Server, p llm.Provider)) {
	for _, proto := range protocols {
		t.Run(proto.name, func(t *testing.T) {
			t.Parallel()
			s := proto.newServer(t, opts)
			f(t, s, proto.newProvider(t, s, s.APIKey()))
		})
	}
}

func story(title string) news.Message {
	return news.Message{ID: "t:" + title, Source: "test", Title: title,
		Body: "The body of the story about " + title + ". It has two sentences."}
}

func TestProvider_HappyPath(t *testing.T) {
	t.Parallel()
	for _, proto := range protocols {
		t.Run(proto.name, func(t *testing.T) {
			t.Parallel()
			s := proto.newServer(t, llmtest.Options{})
			p := proto.newProvider(t, s, s.APIKey())
			if got := p.Model(); got != proto.model {
				t.Errorf("Model() = %q, want %q", got, proto.model)
			}
			m := story("Markets rally")
			res, err := p.Enrich(t.Context(), m)
			if err != nil {
				t.Fatalf("Enrich: %v (server saw %v)", err, s.BadRequests())
			}
			want := llmtest.Expected(m.Title, m.Body)
			want.Model = proto.model
			if d := cmp.Diff(want, res.Enrichment); d != "" {
				t.Errorf("enrichment (-want +got):\n%s", d)
			}
			in, out := s.Tokens()
			if got, want := res.Usage, (news.Usage{InputTokens: in, OutputTokens: out}); got != want || in == 0 || out == 0 {
				t.Errorf("usage = %+v, want %+v (non-zero)", got, want)
			}
			if s.Calls() != 1 || s.CallsFor(m.Title) != 1 {
				t.Errorf("calls = %d, for title %d; want 1, 1", s.Calls(), s.CallsFor(m.Title))
			}
		})
	}
}

// TestProvider_CachedTokens checks that both providers read the cached part
// of the prompt from the usage the API reports: none on the first call, the
// shared prefix on the next.
func TestProvider_CachedTokens(t *testing.T) {
	t.Parallel()
	forEachProtocol(t, llmtest.Options{}, func(t *testing.T, s *llmtest.Server, p llm.Provider) {
		first, err := p.Enrich(t.Context(), story("one"))
		if err != nil {
			t.Fatal(err)
		}
		second, err := p.Enrich(t.Context(), story("two"))
		if err != nil {
			t.Fatal(err)
		}
		if first.Usage.CachedInputTokens != 0 {
			t.Errorf("first call: cached = %d, want 0", first.Usage.CachedInputTokens)
		}
		got := second.Usage.CachedInputTokens
		if got != s.CachedTokens() || got < 1024 || got > second.Usage.InputTokens {
			t.Errorf("second call: cached = %d of %d input, server reported %d; want the same, ≥ 1024",
				got, second.Usage.InputTokens, s.CachedTokens())
		}
	})
}

func TestProvider_GarbageRetriedOnceThenPermanent(t *testing.T) {
	t.Parallel()
	forEachProtocol(t, llmtest.Options{}, func(t *testing.T, s *llmtest.Server, p llm.Provider) {
		s.GarbageNext(1)
		res, err := p.Enrich(t.Context(), story("once"))
		if err != nil {
			t.Fatalf("one garbage answer: Enrich: %v", err)
		}
		if s.Calls() != 2 {
			t.Errorf("calls = %d, want 2 (garbage, then the retry)", s.Calls())
		}
		in, out := s.Tokens()
		if res.Usage.InputTokens != in || res.Usage.OutputTokens != out {
			t.Errorf("usage %+v does not add up both attempts (%d, %d)", res.Usage, in, out)
		}

		s.GarbageNext(2)
		_, err = p.Enrich(t.Context(), story("twice"))
		var pe *llm.ParseError
		if !errors.As(err, &pe) || !pe.Permanent() || pe.Attempts != 2 {
			t.Fatalf("two garbage answers: err = %v, want a permanent *ParseError after 2 attempts", err)
		}
		if got := s.CallsFor("twice"); got != 2 {
			t.Errorf("calls for the story = %d, want 2", got)
		}
	})
}

func TestProvider_StatusErrors(t *testing.T) {
	t.Parallel()
	forEachProtocol(t, llmtest.Options{}, func(t *testing.T, s *llmtest.Server, p llm.Provider) {
		for _, tt := range []struct {
			status    int
			permanent bool
		}{{400, true}, {401, true}, {403, true}, {404, true}, {408, false}, {429, false}, {500, false}, {503, false}} {
			s.FailNext(1, tt.status, "")
			_, err := p.Enrich(t.Context(), story("status"))
			var se *llm.StatusError
			if !errors.As(err, &se) || se.StatusCode != tt.status {
				t.Fatalf("HTTP %d: err = %v, want *StatusError", tt.status, err)
			}
			if se.Permanent() != tt.permanent {
				t.Errorf("HTTP %d: Permanent() = %t, want %t", tt.status, se.Permanent(), tt.permanent)
			}
			if auth := tt.status == 401 || tt.status == 403; errors.Is(err, llm.ErrAuth) != auth {
				t.Errorf("HTTP %d: errors.Is(err, ErrAuth) = %t, want %t", tt.status, !auth, auth)
			}
		}
	})
}

func TestProvider_WrongKey(t *testing.T) {
	t.Parallel()
	for _, proto := range protocols {
		t.Run(proto.name, func(t *testing.T) {
			t.Parallel()
			s := proto.newServer(t, llmtest.Options{})
			p := proto.newProvider(t, s, "wrong-key")
			_, err := p.Enrich(t.Context(), story("x"))
			var se *llm.StatusError
			if !errors.As(err, &se) || se.StatusCode != 401 || !se.Permanent() || !errors.Is(err, llm.ErrAuth) {
				t.Fatalf("err = %v, want a permanent 401 *StatusError wrapping ErrAuth", err)
			}
			if !strings.Contains(err.Error(), "_API_KEY") || strings.Contains(err.Error(), "wrong-key") {
				t.Errorf("error %q should name the env var and not the key", err)
			}
		})
	}
}

func TestProvider_RetryAfterParsed(t *testing.T) {
	t.Parallel()
	forEachProtocol(t, llmtest.Options{}, func(t *testing.T, s *llmtest.Server, p llm.Provider) {
		s.FailNext(1, 429, "7")
		_, err := p.Enrich(t.Context(), story("x"))
		var se *llm.StatusError
		if !errors.As(err, &se) || se.RetryAfter.Seconds() != 7 {
			t.Fatalf("err = %#v, want a 429 *StatusError with RetryAfter 7s", err)
		}
	})
}

func TestOpenAI_LocalServerWithoutKey(t *testing.T) {
	t.Parallel()
	s := llmtest.NewOpenAIServer(t, llmtest.Options{NoAuth: true, Model: "llama3.2"})
	p, err := llm.NewOpenAI(llm.OpenAIConfig{BaseURL: s.URL, Model: "llama3.2"})
	if err != nil {
		t.Fatalf("NewOpenAI without a key for a local base URL: %v", err)
	}
	if _, err := p.Enrich(t.Context(), story("local")); err != nil {
		t.Fatalf("Enrich: %v (server saw %v)", err, s.BadRequests())
	}
	if got := p.Model(); got != "openai/llama3.2" {
		t.Errorf("Model() = %q", got)
	}
}

func TestNewProvider(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name    string
		cfg     llm.ProviderConfig
		model   string
		wantErr string
	}{
		{"offline", llm.ProviderConfig{}, "offline/v1", ""},
		{"none", llm.ProviderConfig{}, "none", ""},
		{"gemini", llm.ProviderConfig{GeminiAPIKey: "k"}, "gemini/gemini-2.5-flash", ""},
		{"gemini", llm.ProviderConfig{GeminiAPIKey: "k", Model: "models/gemini-2.5-pro"}, "gemini/gemini-2.5-pro", ""},
		{"openai", llm.ProviderConfig{OpenAIAPIKey: "k"}, "openai/gpt-4o-mini", ""},
		{"openai", llm.ProviderConfig{OpenAIBaseURL: "http://127.0.0.1:11434/v1", Model: "qwen2.5"}, "openai/qwen2.5", ""},
		{"gemini", llm.ProviderConfig{}, "", "GEMINI_API_KEY"},
		{"openai", llm.ProviderConfig{}, "", "OPENAI_API_KEY"},
		{"openai", llm.ProviderConfig{OpenAIBaseURL: "ftp://x"}, "", "OPENAI_BASE_URL"},
		{"claude", llm.ProviderConfig{}, "", "offline, none, gemini, openai"},
	} {
		p, err := llm.NewProvider(tt.name, tt.cfg)
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("NewProvider(%q, %v) error = %v, want one mentioning %q", tt.name, tt.cfg, err, tt.wantErr)
			}
			continue
		}
		if err != nil {
			t.Errorf("NewProvider(%q, %v): %v", tt.name, tt.cfg, err)
			continue
		}
		if p.Model() != tt.model {
			t.Errorf("NewProvider(%q, %v).Model() = %q, want %q", tt.name, tt.cfg, p.Model(), tt.model)
		}
	}
	if s := (llm.ProviderConfig{GeminiAPIKey: "secret-1", OpenAIAPIKey: "secret-2"}).String(); strings.Contains(s, "secret") {
		t.Errorf("ProviderConfig.String() leaks a key: %s", s)
	}
}

func TestNone(t *testing.T) {
	t.Parallel()
	res, err := llm.NewNone().Enrich(context.Background(), story("x"))
	if err != nil || res != (llm.Result{Enrichment: news.Enrichment{Model: "none"}}) {
		t.Errorf("None.Enrich = %+v, %v", res, err)
	}
}
