package feed

import (
	"encoding/json"
	"flag"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

var update = flag.Bool("update", false, "rewrite testdata/golden")

// contentTypes is how the test server labels each testdata file; cp1251.xml
// names its charset only in the header, latin1.xml only in its prolog.
var contentTypes = map[string]string{
	"rss2.xml":   "application/rss+xml; charset=utf-8",
	"atom.xml":   "application/atom+xml",
	"rss1.rdf":   "application/rdf+xml",
	"feed.json":  "application/feed+json",
	"latin1.xml": "text/xml",
	"cp1251.xml": "application/rss+xml; charset=windows-1251",
	"page.html":  "text/html; charset=utf-8",
}

// fileServer serves testdata files with their content types.
func fileServer(t *testing.T) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		name := strings.TrimPrefix(r.URL.Path, "/")
		b, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", contentTypes[name])
		_, _ = w.Write(b)
	}))
	t.Cleanup(srv.Close)
	return srv
}

type goldenItem struct {
	Key         string `json:"key"`
	ID          string `json:"id"`
	Source      string `json:"source"`
	Title       string `json:"title,omitempty"`
	Body        string `json:"body,omitempty"`
	URL         string `json:"url,omitempty"`
	Lang        string `json:"lang,omitempty"`
	PublishedAt string `json:"published_at"`
}

type golden struct {
	Items   []goldenItem `json:"items"`
	Skipped int          `json:"skipped"`
	Error   string       `json:"error,omitempty"`
}

// TestParse_Golden fetches each real feed file from an httptest server and
// compares the messages with testdata/golden/<file>.json (go test -update
// rewrites them).
func TestParse_Golden(t *testing.T) {
	t.Parallel()
	srv := fileServer(t)
	f := NewFetcher(DefaultMaxFeedBytes, 10*time.Second, nil)
	now := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	for name := range contentTypes {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			src := Source{URL: srv.URL + "/" + name}
			if name == "rss2.xml" {
				src.Name = "gazette"
			}
			var got golden
			resp, err := f.Fetch(t.Context(), src.URL, Validators{})
			if err != nil {
				t.Fatalf("fetch: %v", err)
			}
			items, skipped, err := Parse(src, resp.Body, now)
			if err != nil {
				got.Error = err.Error()
			}
			got.Skipped = skipped
			for _, it := range items {
				m := it.Msg
				if m.ID != ItemID(src.URL, it.Key) {
					t.Errorf("id %q, want ItemID(url, %q)", m.ID, it.Key)
				}
				// The server's port changes between runs; ids are compared through the key.
				got.Items = append(got.Items, goldenItem{Key: it.Key, ID: strings.Replace(m.ID, FeedKey(src.URL), "FEED", 1),
					Source: strings.Replace(m.Source, "127.0.0.1", "HOST", 1), Title: m.Title, Body: m.Body, URL: m.URL,
					Lang: m.Lang, PublishedAt: m.PublishedAt.Format(time.RFC3339)})
			}
			path := filepath.Join("testdata", "golden", name+".json")
			if *update {
				b, _ := json.MarshalIndent(got, "", "  ")
				if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(path, append(b, '\n'), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			b, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run go test -update to create it)", err)
			}
			var want golden
			if err := json.Unmarshal(b, &want); err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("%s (-want +got):\n%s", name, diff)
			}
		})
	}
}

func TestParse_BadInput(t *testing.T) {
	t.Parallel()
	src := Source{URL: "https://x.example/feed"}
	for _, tc := range []struct {
		name, body, want string
	}{
		{"empty", "", "response is empty"},
		{"blank", " \n\t", "response is empty"},
		{"html", "<!doctype html><html><body>hi</body></html>", "HTML page"},
		{"json not feed", `{"hello": "world"}`, "JSON without a JSON Feed version"},
		{"broken json", `{"version": "https://jsonfeed.org/version/1.1", "items": [`, "malformed feed"},
		{"text", "just some words", "no RSS, Atom or JSON Feed"},
		{"truncated xml", `<?xml version="1.0"?><rss version="2.0"><channel><item><title>x`, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := Parse(src, []byte(tc.body), time.Now())
			if tc.want == "" {
				return // must not panic; gofeed may accept a truncated document
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Parse(%q) = %v, want an error containing %q", tc.body, err, tc.want)
			}
		})
	}
}

func TestItemID(t *testing.T) {
	t.Parallel()
	id := ItemID("https://a.example/rss", "0123456789abcdef")
	if !strings.HasPrefix(id, "feed:") || len(id) != len("feed:")+16+1+16 {
		t.Errorf("ItemID = %q, want feed:<16 hex>:<16 hex>", id)
	}
	if FeedKey("https://a.example/rss") == FeedKey("https://a.example/rss2") {
		t.Error("two feed URLs share a key")
	}
}

func FuzzParse(f *testing.F) {
	for name := range contentTypes {
		b, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		items, _, err := Parse(Source{URL: "https://f.example/"}, b, time.Now())
		if err != nil {
			return
		}
		for _, it := range items {
			if it.Msg.Title == "" && it.Msg.Body == "" {
				t.Fatalf("item without title and body: %+v", it)
			}
			if len(it.Msg.Title) > MaxTitleBytes || len(it.Msg.Body) > MaxBodyBytes {
				t.Fatalf("item over the limits: %d/%d bytes", len(it.Msg.Title), len(it.Msg.Body))
			}
		}
	})
}
