package feed

import (
	"os"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestParseList(t *testing.T) {
	t.Parallel()
	t.Run("Plain", func(t *testing.T) {
		in := "\ufeff# my feeds\n\nhttps://a.example/rss.xml  Agency A\nhttp://b.example/feed\n\thttps://a.example/rss.xml dup\nhttps://c.example/x\tC  News\n"
		got, err := ParseList("feeds.txt", strings.NewReader(in))
		if err != nil {
			t.Fatal(err)
		}
		want := []Source{{"https://a.example/rss.xml", "Agency A"}, {"http://b.example/feed", ""}, {"https://c.example/x", "C  News"}}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("(-want +got):\n%s", diff)
		}
	})
	t.Run("OPML", func(t *testing.T) {
		f, err := os.Open("testdata/list.opml")
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		got, err := ParseList("list.opml", f)
		if err != nil {
			t.Fatal(err)
		}
		want := []Source{{"https://gazette.example/rss.xml", "gazette"}, {"https://bergblatt.example/atom.xml", "Bergblatt"}}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("(-want +got):\n%s", diff)
		}
	})
	for _, tc := range []struct{ name, in, want string }{
		{"RelativeURL", "https://ok.example/\n/feed.xml\n", `feeds.txt:2: invalid feed URL "/feed.xml": want an absolute http or https URL`},
		{"FTP", "ftp://x.example/f\n", `feeds.txt:1: invalid feed URL "ftp://x.example/f"`},
		{"OPMLBadURL", `<opml><body><outline xmlUrl="nope"/></body></opml>`, `feeds.txt:1: invalid feed URL "nope"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseList("feeds.txt", strings.NewReader(tc.in))
			if err == nil || !strings.HasPrefix(err.Error(), tc.want) {
				t.Errorf("err = %v, want it to start with %q", err, tc.want)
			}
		})
	}
}

func TestSourceName(t *testing.T) {
	t.Parallel()
	if got := (Source{URL: "https://www.Example.com/rss"}).SourceName(); got != "example.com" {
		t.Errorf("SourceName = %q, want example.com", got)
	}
	if got := (Source{URL: "https://x.example/", Name: "X"}).SourceName(); got != "X" {
		t.Errorf("SourceName = %q, want X", got)
	}
}

func TestRedact(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"https://user:secret@x.example/rss": "https://user:xxxxx@x.example/rss",
		"https://x.example/rss?a=1":         "https://x.example/rss?a=1",
	} {
		if got := Redact(in); got != want {
			t.Errorf("Redact(%q) = %q, want %q", in, got, want)
		}
	}
}
