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
	if !strings.Contains(p, StoriesMarker+`{"key":"s1","title":"Quake \"hits\" <city>","body":"`) {
		t.Errorf("prompt does not end with the story JSON:\n%s", shorten(p, 2000))
	}
	if len(p) > maxPromptBodyBytes+300 {
		t.Errorf("prompt is %d bytes: body not capped", len(p))
	}
}

func TestUserPrompt_StableOrder(t *testing.T) {
	t.Parallel()
	a, b, c := news.Message{Title: "b"}, news.Message{Title: "a", Body: "2"}, news.Message{Title: "a", Body: "1"}
	p1, p2 := UserPrompt(a, b, c), UserPrompt(c, a, b)
	if p1 != p2 {
		t.Errorf("the same stories in another order make another prompt:\n%s\n---\n%s", p1, p2)
	}
	want := `{"key":"s1","title":"a","body":"1"}` + "\n" + `{"key":"s2","title":"a","body":"2"}` + "\n" + `{"key":"s3","title":"b","body":""}`
	if !strings.HasSuffix(p1, StoriesMarker+want) {
		t.Errorf("prompt = %q, want it to end with %q", p1, want)
	}
	if !strings.Contains(p1, "each on its own") {
		t.Errorf("a multi-story prompt does not say each story is judged on its own: %q", p1)
	}
}

// TestSystemPrompt_Cacheable checks that the fixed prefix passes the
// providers' caching minimum of 1,024 tokens with a margin: English prose
// runs at about 4–4.5 bytes per token, so 1,024 tokens need ~4,600 bytes.
func TestSystemPrompt_Cacheable(t *testing.T) {
	t.Parallel()
	if n := len(SystemPrompt()); n < 5200 {
		t.Errorf("system prompt is %d bytes, want ≥ 5,200 (≥ 1,024 tokens at 5 bytes per token)", n)
	}
	for _, c := range news.Categories {
		if !strings.Contains(SystemPrompt(), `- "`+c+`": `) {
			t.Errorf("system prompt does not define category %q", c)
		}
	}
	for _, anchor := range []string{"0 to 10", "91 to 100", "judge each story on its own"} {
		if !strings.Contains(strings.ToLower(SystemPrompt()), strings.ToLower(anchor)) {
			t.Errorf("system prompt lacks %q", anchor)
		}
	}
}

func TestParseAnswers(t *testing.T) {
	t.Parallel()
	ok := `{"summary":"S.","category":"science","importance":42,"language":"en"}`
	okE := news.Enrichment{Summary: "S.", Category: "science", Importance: 42, Language: "en"}
	keys := []string{"s1", "s2", "s3"}
	tests := []struct {
		name    string
		text    string
		reasons []string // per key; "" = ok
	}{
		{"all", `{"s1":` + ok + `,"s2":` + ok + `,"s3":` + ok + `}`, []string{"", "", ""}},
		{"reordered", `{"s3":` + ok + `,"s1":` + ok + `,"s2":` + ok + `}`, []string{"", "", ""}},
		{"extra key", `{"s1":` + ok + `,"s9":` + ok + `,"s2":` + ok + `,"s3":` + ok + `}`, []string{"", "", ""}},
		{"one missing", `{"s1":` + ok + `,"s3":` + ok + `}`, []string{"", "missing", ""}},
		{"one invalid", `{"s1":` + ok + `,"s2":{"summary":"x","category":"weather","importance":1,"language":"en"},"s3":` + ok + `}`,
			[]string{"", `category "weather"`, ""}},
		{"twice", `{"s1":` + ok + `,"s1":` + ok + `,"s2":` + ok + `,"s3":` + ok + `}`, []string{"twice", "", ""}},
		{"truncated", `{"s1":` + ok + `,"s2":` + ok + `,"s3":{"summary":"cut`, []string{"", "", "missing"}},
		{"fenced", "```json\n{\"s1\":" + ok + `,"s2":` + ok + `,"s3":` + ok + "}\n```", []string{"", "", ""}},
		{"garbage", `nope`, []string{"not a JSON object", "not a JSON object", "not a JSON object"}},
		{"array", `[` + ok + `]`, []string{"not a JSON object", "not a JSON object", "not a JSON object"}},
		{"empty", ``, []string{"empty", "empty", "empty"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, reasons := parseAnswers(tt.text, keys)
			for j := range keys {
				switch {
				case tt.reasons[j] == "" && reasons[j] != "":
					t.Errorf("%s: reason %q, want success", keys[j], reasons[j])
				case tt.reasons[j] == "" && got[j] != okE:
					t.Errorf("%s: got %+v, want %+v", keys[j], got[j], okE)
				case tt.reasons[j] != "" && !strings.Contains(reasons[j], tt.reasons[j]):
					t.Errorf("%s: reason %q, want one containing %q", keys[j], reasons[j], tt.reasons[j])
				}
			}
		})
	}
}

func FuzzParseAnswers(f *testing.F) {
	f.Add(`{"s1":{"summary":"S.","category":"science","importance":42,"language":"en"},"s2":{}}`)
	f.Fuzz(func(t *testing.T, text string) {
		got, reasons := parseAnswers(text, []string{"s1", "s2"})
		for j := range got {
			if reasons[j] == "" && (got[j].Summary == "" || !validCategory(got[j].Category) || !isLangCode(got[j].Language)) {
				t.Fatalf("parseAnswers(%q) accepted an invalid enrichment %+v", text, got[j])
			}
		}
	})
}

func TestSplitUsage(t *testing.T) {
	t.Parallel()
	u := news.Usage{InputTokens: 1001, CachedInputTokens: 777, OutputTokens: 95}
	parts := splitUsage(u, []int{1, 2, 3, 0})
	var sum news.Usage
	for _, p := range parts {
		sum = sum.Add(p)
	}
	if sum != u {
		t.Errorf("parts %+v add up to %+v, want %+v", parts, sum, u)
	}
	if d := parts[2].InputTokens - 3*parts[0].InputTokens; d < -3 || d > 3 {
		t.Errorf("parts %+v not in proportion 1:2:3:0", parts)
	}
	if parts[3] != (news.Usage{}) {
		t.Errorf("a story of weight 0 got %+v", parts[3])
	}
}
