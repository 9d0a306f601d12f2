package feed

import (
	"strings"
	"testing"
)

func TestText(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ name, in, want string }{
		{"plain", "  just   text\n here ", "just text here"},
		{"entities", "Tom &amp; Jerry &eacute;t&eacute; &#8212; &lt;b&gt;", "Tom & Jerry été — <b>"},
		{"paragraphs", "<p>One.</p><p>Two.</p>", "One.\n\nTwo."},
		{"br and li", "a<br>b<ul><li>x</li><li>y</li></ul>c", "a\nb\n\nx\ny\n\nc"},
		{"inline", "A <b>bold</b> <a href='#'>link</a>.", "A bold link."},
		{"script style comment", "<style>p{}</style>x<script>alert(1)</script><!-- hidden -->y", "xy"},
		{"iframe", "before<iframe src=x>inner</iframe>after", "beforeafter"},
		{"img alt", `see <img src="a.png" alt="a chart"> here`, "see a chart here"},
		{"pre keeps lines", "<pre>line 1\n  line 2</pre>", "line 1\n  line 2"},
		{"headings", "<h1>Title</h1>text", "Title\n\ntext"},
		{"table", "<table><tr><td>a</td><td>b</td></tr><tr><td>c</td></tr></table>", "a b\nc"},
		{"unclosed", "<p>open <b>bold", "open bold"},
		{"nbsp", "a&nbsp;b", "a b"},
		{"empty", "", ""},
		{"only tags", "<p></p><br/>", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := Text(tc.in); got != tc.want {
				t.Errorf("Text(%q) = %q, want %q", tc.in, got, tc.want)
			}
		})
	}
}

func TestTitleText(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"Council approves <new> sea wall": "Council approves <new> sea wall",
		"Big <b>news</b> today":           "Big news today",
		"AT&amp;T buys   T-Mobile":        "AT&T buys T-Mobile",
		"x < y > z":                       "x < y > z",
	} {
		if got := titleText(in); got != want {
			t.Errorf("titleText(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestClip(t *testing.T) {
	t.Parallel()
	s := strings.Repeat("é", 100) // 200 bytes
	got := clip(s, 51)
	if len(got) > 51 || !strings.HasSuffix(got, "…") {
		t.Errorf("clip = %q (%d bytes), want ≤ 51 bytes ending in …", got, len(got))
	}
	if clip("short", 10) != "short" {
		t.Error("clip changed a short string")
	}
}

func FuzzText(f *testing.F) {
	f.Add("<p>a &amp; b</p><script>x</script>")
	f.Fuzz(func(t *testing.T, s string) {
		_ = Text(s)
		_ = titleText(s)
	})
}
