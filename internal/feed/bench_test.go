package feed

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// bigFeed is an RSS 2.0 feed of n items, each with ~2 KiB of HTML content.
func bigFeed(n int) []byte {
	var b strings.Builder
	b.WriteString(`<?xml version="1.0" encoding="UTF-8"?><rss version="2.0" xmlns:content="http://purl.org/rss/1.0/modules/content/"><channel><title>bench</title><language>en</language>`)
	para := strings.Repeat("The council met on Tuesday to discuss the harbour &amp; the <b>new</b> sea wall. ", 6)
	for i := range n {
		fmt.Fprintf(&b, `<item><title>Story %d about the harbour</title><link>https://bench.example/%d</link><guid>bench-%d</guid><pubDate>Tue, 01 Dec 2026 08:00:00 GMT</pubDate><content:encoded><![CDATA[<p>%s</p><p>%s</p><ul><li>one</li><li>two</li></ul><p>%s</p>]]></content:encoded></item>`,
			i, i, i, para, para, para)
	}
	b.WriteString(`</channel></rss>`)
	return []byte(b.String())
}

// BenchmarkParse: a 100-item feed parsed into messages (gofeed + Text).
func BenchmarkParse(b *testing.B) {
	body := bigFeed(100)
	src := Source{URL: "https://bench.example/rss"}
	now := time.Now()
	b.SetBytes(int64(len(body)))
	items := 0
	for b.Loop() {
		its, _, err := Parse(src, body, now)
		if err != nil {
			b.Fatal(err)
		}
		items += len(its)
	}
	b.ReportMetric(float64(items)/b.Elapsed().Seconds(), "items/s")
}

// BenchmarkText: one item's HTML content to plain text.
func BenchmarkText(b *testing.B) {
	para := strings.Repeat("The council met on Tuesday to discuss the harbour &amp; the <b>new</b> sea wall. ", 6)
	html := "<p>" + para + "</p><p>" + para + "</p><ul><li>one</li><li>two</li></ul><script>x()</script><p>" + para + "</p>"
	b.SetBytes(int64(len(html)))
	for b.Loop() {
		_ = Text(html)
	}
}
