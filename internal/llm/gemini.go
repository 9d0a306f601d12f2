package llm

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"newsflow/internal/news"
)

// Gemini defaults.
const (
	DefaultGeminiModel   = "gemini-2.5-flash"
	DefaultGeminiBaseURL = "https://generativelanguage.googleapis.com"
)

// GeminiConfig configures a Gemini provider.
type GeminiConfig struct {
	// APIKey is sent as x-goog-api-key (GEMINI_API_KEY). Required.
	APIKey string
	// Model is the model id, with or without "models/". Default gemini-2.5-flash.
	Model string
	// BaseURL is the API root, without /v1beta. Default
	// https://generativelanguage.googleapis.com.
	BaseURL string
	// HTTPClient overrides the HTTP client. Default: NewTransport(Concurrency).
	HTTPClient *http.Client
	// Concurrency sizes the default transport: it keeps and opens at most this
	// many connections per host. Set it to the Client's Concurrency. Default DefaultConcurrency.
	Concurrency int
	// ThinkingBudget caps the model's thinking tokens, which are billed as
	// output. Default (nil): 0, thinking off, for gemini-2.5-flash models
	// (enough for this task, and cheapest); the model's own default otherwise.
	ThinkingBudget *int
}

// String describes c without the key.
func (c GeminiConfig) String() string {
	return fmt.Sprintf("model=%q base_url=%q api_key=%s", c.Model, c.BaseURL, redact(c.APIKey))
}

// Gemini enriches stories with the Google Generative Language API
// (generateContent with a JSON response schema).
type Gemini struct {
	url      string
	model    string
	hdr      http.Header
	hc       *http.Client
	thinking *int
}

// NewGemini returns a Gemini provider. It fails without an API key.
func NewGemini(cfg GeminiConfig) (*Gemini, error) {
	if strings.TrimSpace(cfg.APIKey) == "" {
		return nil, errors.New("llm: gemini needs an API key: set GEMINI_API_KEY")
	}
	model := strings.TrimPrefix(cmp.Or(strings.TrimSpace(cfg.Model), DefaultGeminiModel), "models/")
	if strings.ContainsAny(model, "/?#: ") {
		return nil, fmt.Errorf("llm: gemini: invalid model name %q", model)
	}
	base := strings.TrimRight(cmp.Or(cfg.BaseURL, DefaultGeminiBaseURL), "/")
	g := &Gemini{
		url:      base + "/v1beta/models/" + model + ":generateContent",
		model:    model,
		hdr:      http.Header{"X-Goog-Api-Key": []string{cfg.APIKey}},
		hc:       defaultHTTPClient(cfg.HTTPClient, cfg.Concurrency),
		thinking: cfg.ThinkingBudget,
	}
	if g.thinking == nil && strings.HasPrefix(model, "gemini-2.5-flash") {
		zero := 0
		g.thinking = &zero
	}
	return g, nil
}

// Model returns "gemini/" and the model id.
func (g *Gemini) Model() string { return ProviderGemini + "/" + g.model }

// Names returns "gemini" and the model id.
func (g *Gemini) Names() (provider, model string) { return ProviderGemini, g.model }

// CloseIdleConnections closes the transport's idle keep-alive connections.
func (g *Gemini) CloseIdleConnections() { g.hc.CloseIdleConnections() }

type geminiPart struct {
	Text string `json:"text"`
}

type geminiContent struct {
	Role  string       `json:"role,omitempty"`
	Parts []geminiPart `json:"parts"`
}

type geminiRequest struct {
	Contents          []geminiContent `json:"contents"`
	SystemInstruction *geminiContent  `json:"systemInstruction,omitempty"`
	GenerationConfig  map[string]any  `json:"generationConfig"`
}

type geminiResponse struct {
	Candidates []struct {
		Content      geminiContent `json:"content"`
		FinishReason string        `json:"finishReason"`
	} `json:"candidates"`
	PromptFeedback *struct {
		BlockReason string `json:"blockReason"`
	} `json:"promptFeedback"`
	UsageMetadata struct {
		PromptTokenCount        int `json:"promptTokenCount"`
		CachedContentTokenCount int `json:"cachedContentTokenCount"`
		CandidatesTokenCount    int `json:"candidatesTokenCount"`
		ThoughtsTokenCount      int `json:"thoughtsTokenCount"`
	} `json:"usageMetadata"`
}

// Enrich asks Gemini about m alone.
func (g *Gemini) Enrich(ctx context.Context, m news.Message) (Result, error) {
	return enrichOne(ctx, m, g.EnrichMany)
}

// EnrichMany asks Gemini about ms in one request.
func (g *Gemini) EnrichMany(ctx context.Context, ms []news.Message) ([]StoryResult, error) {
	return enrichMany(ctx, ms, g.Model(), g.ask)
}

// ask sends one request. The system instruction (the fixed prefix) comes
// first, so Gemini's implicit caching can serve it.
func (g *Gemini) ask(ctx context.Context, r request) (string, news.Usage, error) {
	gen := map[string]any{
		"responseMimeType": "application/json",
		"responseSchema":   geminiSchema(r.keys),
		"temperature":      0,
		"candidateCount":   1,
	}
	if g.thinking != nil {
		gen["thinkingConfig"] = map[string]any{"thinkingBudget": *g.thinking}
	}
	req := geminiRequest{
		Contents:          []geminiContent{{Role: "user", Parts: []geminiPart{{Text: r.user}}}},
		SystemInstruction: &geminiContent{Parts: []geminiPart{{Text: systemPrompt}}},
		GenerationConfig:  gen,
	}
	data, err := postJSON(ctx, g.hc, ProviderGemini, g.url, g.hdr, req, geminiErrorInfo)
	if err != nil {
		return "", news.Usage{}, err
	}
	var resp geminiResponse
	if err := json.Unmarshal(data, &resp); err != nil {
		return "", news.Usage{}, nil // an undecodable envelope counts as a bad answer
	}
	md := resp.UsageMetadata
	u := news.Usage{InputTokens: md.PromptTokenCount, CachedInputTokens: min(md.CachedContentTokenCount, md.PromptTokenCount),
		OutputTokens: md.CandidatesTokenCount + md.ThoughtsTokenCount}
	if len(resp.Candidates) == 0 || len(resp.Candidates[0].Content.Parts) == 0 {
		return "", u, nil
	}
	var text strings.Builder
	for _, p := range resp.Candidates[0].Content.Parts { // a long answer may come in several parts
		text.WriteString(p.Text)
	}
	return text.String(), u, nil
}

// geminiErrorInfo extracts the message and RetryInfo delay from a Google
// API error body: {"error":{"code":429,"message":"…","status":"…",
// "details":[{"@type":"type.googleapis.com/google.rpc.RetryInfo","retryDelay":"27s"}]}}.
func geminiErrorInfo(body []byte) (string, time.Duration) {
	var e struct {
		Error struct {
			Message string `json:"message"`
			Status  string `json:"status"`
			Details []struct {
				Type       string `json:"@type"`
				RetryDelay string `json:"retryDelay"`
			} `json:"details"`
		} `json:"error"`
	}
	if json.Unmarshal(body, &e) != nil {
		return "", 0
	}
	var d time.Duration
	for _, det := range e.Error.Details {
		if strings.HasSuffix(det.Type, "google.rpc.RetryInfo") {
			if v, err := time.ParseDuration(det.RetryDelay); err == nil && v > 0 {
				d = v
			}
		}
	}
	msg := e.Error.Message
	if e.Error.Status != "" {
		msg = e.Error.Status + ": " + msg
	}
	return msg, d
}
