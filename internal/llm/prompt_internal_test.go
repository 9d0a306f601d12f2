package llm

import (
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"newsflow/internal/news"
)

func TestParseAnswer(t *testing.T) {
	t.Parallel()
	ok := news.Enrichment{Summary: "A thing happened.", Category: "science", Importance: 42, Language: "en"}
	tests := []struct {
		name   string
		text   string
		want   news.Enrichment
		reason string // substring of the error; "" = success
	}{
		{"plain", `{"summary":"A thing happened.","category":"science","importance":42,"language":"en"}`, ok, ""},
		{"fenced", "```json\n{\"summary\":\"A thing happened.\",\"category\":\"Science\",\"importance\":42.0,\"language\":\"EN\"}\n```", ok, ""},
		{"extra field ignored", `{"summary":"A thing happened.","category":"science","importance":42,"language":"en","x":1}`, ok, ""},
		{"bounds", `{"summary":"s","category":"other","importance":100,"language":"uk"}`,
			news.Enrichment{Summary: "s", Category: "other", Importance: 100, Language: "uk"}, ""},
		{"empty", ``, news.Enrichment{}, "empty answer"},
		{"garbage", `{"summary": "cut off`, news.Enrichment{}, "not a JSON object"},
		{"array", `[1,2]`, news.Enrichment{}, "not a JSON object"},
		{"trailing", `{"summary":"s","category":"other","importance":1,"language":"en"} {}`, news.Enrichment{}, "trailing data"},
		{"missing summary", `{"category":"other","importance":1,"language":"en"}`, news.Enrichment{}, "missing summary"},
		{"missing category", `{"summary":"s","importance":1,"language":"en"}`, news.Enrichment{}, "missing category"},
		{"missing importance", `{"summary":"s","category":"other","language":"en"}`, news.Enrichment{}, "missing importance"},
		{"missing language", `{"summary":"s","category":"other","importance":1}`, news.Enrichment{}, "missing language"},
		{"null summary", `{"summary":null,"category":"other","importance":1,"language":"en"}`, news.Enrichment{}, "missing summary"},
		{"blank summary", `{"summary":"  ","category":"other","importance":1,"language":"en"}`, news.Enrichment{}, "empty summary"},
		{"unknown category", `{"summary":"s","category":"weather","importance":1,"language":"en"}`, news.Enrichment{}, `category "weather"`},
		{"importance high", `{"summary":"s","category":"other","importance":101,"language":"en"}`, news.Enrichment{}, "importance 101"},
		{"importance negative", `{"summary":"s","category":"other","importance":-1,"language":"en"}`, news.Enrichment{}, "importance -1"},
		{"importance fraction", `{"summary":"s","category":"other","importance":4.5,"language":"en"}`, news.Enrichment{}, "importance 4.5"},
		{"importance string", `{"summary":"s","category":"other","importance":"50","language":"en"}`, news.Enrichment{}, "not a number"},
		{"language long", `{"summary":"s","category":"other","importance":1,"language":"english"}`, news.Enrichment{}, "language"},
		{"summary too long", `{"summary":"` + strings.Repeat("a", 2001) + `","category":"other","importance":1,"language":"en"}`, news.Enrichment{}, "longer than"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := ParseAnswer(tt.text)
			if tt.reason == "" {
				if err != nil {
					t.Fatalf("ParseAnswer: %v", err)
				}
				if d := cmp.Diff(tt.want, got); d != "" {
					t.Errorf("ParseAnswer (-want +got):\n%s", d)
				}
				return
			}
			var pe *ParseError
			if !errors.As(err, &pe) || !pe.Permanent() || !strings.Contains(pe.Reason, tt.reason) {
				t.Fatalf("ParseAnswer error = %v, want a permanent *ParseError containing %q", err, tt.reason)
			}
		})
	}
}

func FuzzParseAnswer(f *testing.F) {
	f.Add(`{"summary":"A thing happened.","category":"science","importance":42,"language":"en"}`)
	f.Add("```json\n{\"summary\":\"x\",\"category\":\"other\",\"importance\":0,\"language\":\"de\"}\n```")
	f.Add(`{"summary": "cut off`)
	f.Add(`{"summary":"s","category":"other","importance":1e2,"language":"en"}`)
	f.Add(`{"summary":"s","category":"other","importance":1e400,"language":"en"}`)
	f.Fuzz(func(t *testing.T, text string) {
		e, err := ParseAnswer(text)
		if err != nil {
			return // rejecting is fine; panicking is not
		}
		if strings.TrimSpace(e.Summary) == "" || !news.ValidCategory(e.Category) || e.Importance < 0 || e.Importance > 100 || !isLangCode(e.Language) || e.Model != "" {
			t.Fatalf("ParseAnswer(%q) accepted an invalid enrichment %+v", text, e)
		}
	})
}

func TestParseRetryAfter(t *testing.T) {
	t.Parallel()
	now := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	tests := []struct {
		in   string
		want time.Duration
	}{
		{"", 0},
		{"3", 3 * time.Second},
		{" 1.5 ", 1500 * time.Millisecond},
		{"0", 0},
		{"-4", 0},
		{"soon", 0},
		{now.Add(90 * time.Second).Format(http.TimeFormat), 90 * time.Second},
		{now.Add(-time.Minute).Format(http.TimeFormat), 0},
	}
	for _, tt := range tests {
		if got := parseRetryAfter(tt.in, now); got != tt.want {
			t.Errorf("parseRetryAfter(%q) = %s, want %s", tt.in, got, tt.want)
		}
	}
}

func TestUserPrompt(t *testing.T) {
	t.Parallel()
	m := news.Message{Title: `Quake "hits" <city>`, Body: strings.Repeat("é", maxPromptBodyBytes)}
	p := UserPrompt(m)
	if !strings.Contains(p, storyMarker+`{"title":"Quake \"hits\" <city>","body":"`) {
		t.Errorf("prompt does not end with the story JSON:\n%s", shorten(p, 2000))
	}
	if len(p) > len(userPromptHead)+maxPromptBodyBytes+200 {
		t.Errorf("prompt is %d bytes: body not capped", len(p))
	}
	for _, c := range news.Categories {
		if !strings.Contains(p, c) {
			t.Errorf("prompt does not list category %q", c)
		}
	}
}
