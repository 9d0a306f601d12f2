package llm

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"newsflow/internal/news"
)

// OpenAI defaults.
const (
	DefaultOpenAIModel   = "gpt-4o-mini"
	DefaultOpenAIBaseURL = "https://api.openai.com/v1"
)

// OpenAIConfig configures an OpenAI-compatible provider.
type OpenAIConfig struct {
	// APIKey is sent as a Bearer token (OPENAI_API_KEY). Required for
	// api.openai.com; optional elsewhere (a local Ollama needs none).
	APIKey string
	// Model is the model name. Default gpt-4o-mini.
	Model string
	// BaseURL is the API root that /chat/completions is appended to
	// (OPENAI_BASE_URL), e.g. http://127.0.0.1:11434/v1. Default
	// https://api.openai.com/v1.
	BaseURL string
	// HTTPClient overrides the HTTP client. Default: NewTransport(Concurrency).
	HTTPClient *http.Client
	// Concurrency sizes the default transport: it keeps and opens at most this
	// many connections per host. Set it to the Client's Concurrency. Default DefaultConcurrency.
	Concurrency int
}

// String describes c without the key.
func (c OpenAIConfig) String() string {
	return fmt.Sprintf("model=%q base_url=%q api_key=%s", c.Model, c.BaseURL, redact(c.APIKey))
}

// OpenAI enriches stories with an OpenAI-compatible chat completions API
// and a strict json_schema response format: OpenAI itself, Ollama, vLLM,
// llama.cpp's server, LiteLLM.
type OpenAI struct {
	url   string
	model string
	hdr   http.Header
	hc    *http.Client
}

// NewOpenAI returns an OpenAI-compatible provider. It fails without an API
// key when the base URL is api.openai.com.
func NewOpenAI(cfg OpenAIConfig) (*OpenAI, error) {
	base := strings.TrimRight(cmp.Or(strings.TrimSpace(cfg.BaseURL), DefaultOpenAIBaseURL), "/")
	u, err := url.Parse(base)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("llm: openai: OPENAI_BASE_URL %q is not an http(s) URL", base)
	}
	key := strings.TrimSpace(cfg.APIKey)
	if key == "" && strings.EqualFold(u.Hostname(), "api.openai.com") {
		return nil, errors.New("llm: openai needs an API key: set OPENAI_API_KEY (or OPENAI_BASE_URL for a local server)")
	}
	o := &OpenAI{
		url:   base + "/chat/completions",
		model: cmp.Or(strings.TrimSpace(cfg.Model), DefaultOpenAIModel),
		hdr:   http.Header{},
		hc:    defaultHTTPClient(cfg.HTTPClient, cfg.Concurrency),
	}
	if key != "" {
		o.hdr.Set("Authorization", "Bearer "+key)
	}
	return o, nil
}

// Model returns "openai/" and the model name.
func (o *OpenAI) Model() string { return ProviderOpenAI + "/" + o.model }

// Names returns "openai" and the model name.
func (o *OpenAI) Names() (provider, model string) { return ProviderOpenAI, o.model }

// CloseIdleConnections closes the transport's idle keep-alive connections.
func (o *OpenAI) CloseIdleConnections() { o.hc.CloseIdleConnections() }

type openAIMessage struct {
	Role    string `json:"role"`
	Content string `json:"content"`
}

type openAIRequest struct {
	Model          string          `json:"model"`
	Messages       []openAIMessage `json:"messages"`
	Temperature    float64         `json:"temperature"`
	ResponseFormat map[string]any  `json:"response_format"`
}

type openAIResponse struct {
	Choices []struct {
		Message struct {
			Content *string `json:"content"`
			Refusal *string `json:"refusal"`
		} `json:"message"`
		FinishReason string `json:"finish_reason"`
	} `json:"choices"`
	Usage struct {
		PromptTokens        int `json:"prompt_tokens"`
		CompletionTokens    int `json:"completion_tokens"`
		PromptTokensDetails *struct {
			CachedTokens int `json:"cached_tokens"`
		} `json:"prompt_tokens_details"`
	} `json:"usage"`
}

// Enrich asks the model about m alone.
func (o *OpenAI) Enrich(ctx context.Context, m news.Message) (Result, error) {
	return enrichOne(ctx, m, o.EnrichMany)
}

// EnrichMany asks the model about ms in one request.
func (o *OpenAI) EnrichMany(ctx context.Context, ms []news.Message) ([]StoryResult, error) {
	return enrichMany(ctx, ms, o.Model(), o.ask)
}

// ask sends one request. The system message (the fixed prefix) comes
// first, so OpenAI's automatic prompt caching can serve it.
func (o *OpenAI) ask(ctx context.Context, r request) (string, news.Usage, error) {
	req := openAIRequest{
		Model: o.model,
		Messages: []openAIMessage{
			{Role: "system", Content: systemPrompt},
			{Role: "user", Content: r.user},
		},
		ResponseFormat: map[string]any{
			"type": "json_schema",
			"json_schema": map[string]any{
				"name":   "enrichment",
				"strict": true,
				"schema": answerSchema(r.keys),
			},
		},
	}
	data, err := postJSON(ctx, o.hc, ProviderOpenAI, o.url, o.hdr, req, openAIErrorInfo)
	if err != nil {
		return "", news.Usage{}, err
	}
	var resp openAIResponse
	if err := json.Unmarshal(data, &resp); err != nil {
		return "", news.Usage{}, nil // an undecodable envelope counts as a bad answer
	}
	u := news.Usage{InputTokens: resp.Usage.PromptTokens, OutputTokens: resp.Usage.CompletionTokens}
	if d := resp.Usage.PromptTokensDetails; d != nil {
		u.CachedInputTokens = min(d.CachedTokens, u.InputTokens)
	}
	if len(resp.Choices) == 0 || resp.Choices[0].Message.Content == nil {
		return "", u, nil // includes a refusal
	}
	return *resp.Choices[0].Message.Content, u, nil
}

// openAIErrorInfo extracts the message from {"error":{"message":"…"}}.
// OpenAI-compatible servers send Retry-After as a header, if at all.
func openAIErrorInfo(body []byte) (string, time.Duration) {
	var e struct {
		Error json.RawMessage `json:"error"`
	}
	if json.Unmarshal(body, &e) != nil || len(e.Error) == 0 {
		return "", 0
	}
	var obj struct {
		Message string `json:"message"`
	}
	if json.Unmarshal(e.Error, &obj) == nil && obj.Message != "" {
		return obj.Message, 0
	}
	var s string // some servers (vLLM, llama.cpp) send {"error": "text"}
	if json.Unmarshal(e.Error, &s) == nil {
		return s, 0
	}
	return "", 0
}
