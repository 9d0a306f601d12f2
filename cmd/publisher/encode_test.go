package main

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"newsflow/internal/gen"
	"newsflow/internal/news"
)

func TestAppendMessageJSON_RoundTrips(t *testing.T) {
	t.Parallel()
	msgs := []news.Message{
		{ID: "a", Source: "s"},
		{ID: "q\"uote\\", Source: "tab\there", Title: "new\nline\r\x01\x1f", Body: "ünï cødé — “quotes” <&>", URL: "https://x/?a=1&b=2", Lang: "en",
			PublishedAt: time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)},
	}
	g, err := gen.New(gen.Config{Seed: 4, DupContent: 0.3})
	if err != nil {
		t.Fatal(err)
	}
	for range 300 {
		msgs = append(msgs, g.Next())
	}
	for _, m := range msgs {
		b := appendMessageJSON(nil, &m)
		if !json.Valid(b) {
			t.Fatalf("invalid JSON: %s", b)
		}
		var got news.Message
		if err := got.UnmarshalJSON(b); err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(m, got); diff != "" {
			t.Fatalf("round trip (-want +got):\n%s", diff)
		}
	}
	if got := string(appendJSONString(nil, "a\xffb")); got != `"a\ufffdb"` {
		t.Errorf("invalid UTF-8 encoded as %s", got)
	}
}

func BenchmarkAppendMessageJSON(b *testing.B) {
	g, _ := gen.New(gen.Config{Seed: 1})
	m := g.Next()
	var buf []byte
	for b.Loop() {
		buf = appendMessageJSON(buf[:0], &m)
	}
	b.SetBytes(int64(len(buf)))
}

func BenchmarkMarshalJSON(b *testing.B) {
	g, _ := gen.New(gen.Config{Seed: 1})
	m := g.Next()
	var n int
	for b.Loop() {
		buf, _ := m.MarshalJSON()
		n = len(buf)
	}
	b.SetBytes(int64(n))
}
