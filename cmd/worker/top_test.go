package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"go.uber.org/zap/zaptest"

	"newsflow/internal/news"
	"newsflow/internal/store"
)

func TestTop_SQLiteOrderAndReposts(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	dir := t.TempDir()
	st, err := store.OpenSQLite(ctx, filepath.Join(dir, "newsflow.db"), zaptest.NewLogger(t), nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC().Truncate(time.Second)
	art := func(id, source, title string, importance int, category string, age time.Duration) news.Article {
		return news.Article{
			Message:    news.Message{ID: id, Source: source, Title: title, Body: "body of " + title, PublishedAt: now.Add(-age)},
			IngestedAt: now,
			Enrichment: news.Enrichment{Summary: "about " + title, Category: category, Importance: importance, Language: "en", Model: "offline/v1"},
		}
	}
	rows := []news.Article{
		art("a:1", "a", "Quake", 90, "world", time.Hour),
		art("b:1", "b", "Quake", 90, "world", 50*time.Minute), // repost: same content
		art("c:1", "c", "Quake", 90, "world", 40*time.Minute), // repost
		art("a:2", "a", "Rates", 90, "business", 10*time.Minute),
		art("a:3", "a", "Match", 40, "sports", time.Minute),
		art("a:4", "a", "Old news", 100, "world", 48*time.Hour),
		art("d:1", "d", "Quake, reworded", 80, "world", 30*time.Minute), // near-duplicate: Quake's story id
	}
	rows[len(rows)-1].StoryID = rows[0].Message.ContentHash()
	if _, err := st.Commit(ctx, rows); err != nil {
		t.Fatal(err)
	}
	st.Close()

	top := func(args ...string) []topRow {
		t.Helper()
		var out bytes.Buffer
		if err := runTop(ctx, append([]string{"--data-dir", dir, "--json"}, args...), opsEnv(t, &out)); err != nil {
			t.Fatalf("top %v: %v", args, err)
		}
		var got []topRow
		sc := bufio.NewScanner(&out)
		for sc.Scan() {
			var r topRow
			if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
				t.Fatalf("line %q: %v", sc.Text(), err)
			}
			got = append(got, r)
		}
		return got
	}
	type brief struct {
		Title      string
		Importance int
		Sources    int
	}
	briefs := func(rs []topRow) []brief {
		out := []brief{}
		for _, r := range rs {
			out = append(out, brief{r.Title, r.Importance, len(r.Sources)})
		}
		return out
	}

	// Importance first, then recency; the 48h-old story is outside 24h.
	want := []brief{{"Rates", 90, 1}, {"Quake", 90, 4}, {"Match", 40, 1}}
	if d := cmp.Diff(want, briefs(top())); d != "" {
		t.Errorf("top (-want +got):\n%s", d)
	}
	if d := cmp.Diff(want[:1], briefs(top("-n", "1"))); d != "" {
		t.Errorf("top -n 1 (-want +got):\n%s", d)
	}
	if d := cmp.Diff([]brief{{"Old news", 100, 1}, {"Quake", 90, 4}}, briefs(top("--since", "0", "--category", "world"))); d != "" {
		t.Errorf("top --since 0 --category world (-want +got):\n%s", d)
	}
	if r := top("-n", "2")[1]; r.Reposts != 4 || r.Variants != 2 || !cmp.Equal(r.Sources, []string{"a", "b", "c", "d"}) ||
		r.Summary != "about Quake" || !cmp.Equal(r.IDs, []string{"a:1", "b:1", "c:1", "d:1"}) || r.StoryID != rows[0].Message.ContentHash().String() {
		t.Errorf("collapsed story = %+v; want 4 reposts of 2 texts from a, b, c, d", r)
	}

	var out bytes.Buffer
	if err := runTop(ctx, []string{"--data-dir", dir}, opsEnv(t, &out)); err != nil {
		t.Fatal(err)
	}
	if lines := strings.Split(strings.TrimSpace(out.String()), "\n"); len(lines) != 4 || !strings.Contains(lines[2], "Quake") {
		t.Errorf("table:\n%s", out.String())
	}
}

func TestTop_NoDatabase(t *testing.T) {
	t.Parallel()
	var out bytes.Buffer
	err := runTop(t.Context(), []string{"--data-dir", t.TempDir()}, opsEnv(t, &out))
	if err == nil || !strings.Contains(err.Error(), "no database") {
		t.Errorf("top on an empty data dir: %v, want 'no database'", err)
	}
}
