package feed

import (
	"bufio"
	"bytes"
	"encoding/xml"
	"fmt"
	"io"
	"net/url"
	"strings"

	"newsflow/internal/redact"
)

// Source is one configured feed.
type Source struct {
	URL  string // absolute http or https URL
	Name string // the messages' source; "" means the feed URL's host
}

// SourceName is the name messages from s carry: its Name, else the host of
// its URL without "www.".
func (s Source) SourceName() string {
	if s.Name != "" {
		return s.Name
	}
	u, err := url.Parse(s.URL)
	if err != nil {
		return s.URL
	}
	return strings.TrimPrefix(strings.ToLower(u.Hostname()), "www.")
}

// ParseList reads a feed list named name (for errors): an OPML document
// (recognised by its <opml> root) or a plain list with one feed URL a line,
// optionally followed by whitespace and a source name; blank lines and
// lines starting with # are skipped. A URL listed twice keeps its first
// entry. A bad line is an error naming the file and line.
func ParseList(name string, r io.Reader) ([]Source, error) {
	b, err := io.ReadAll(io.LimitReader(r, 64<<20))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", name, err)
	}
	if isOPML(b) {
		return parseOPML(name, b)
	}
	var out []Source
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if n == 1 {
			line = strings.TrimPrefix(line, "\ufeff")
		}
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		u, rest, _ := strings.Cut(line, " ")
		if i := strings.IndexAny(u, "\t"); i >= 0 {
			u, rest = u[:i], u[i+1:]+" "+rest
		}
		s := Source{URL: u, Name: strings.TrimSpace(rest)}
		if err := checkURL(s.URL); err != nil {
			return nil, fmt.Errorf("%s:%d: %w", name, n, err)
		}
		out = append(out, s)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read %s: %w", name, err)
	}
	return Dedupe(out), nil
}

// Dedupe returns srcs with only the first entry of each URL, in order. It
// reuses srcs' array.
func Dedupe(srcs []Source) []Source {
	seen := make(map[string]bool, len(srcs))
	out := srcs[:0]
	for _, s := range srcs {
		if !seen[s.URL] {
			seen[s.URL] = true
			out = append(out, s)
		}
	}
	return out
}

// checkURL accepts absolute http and https URLs with a host.
func checkURL(s string) error {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("invalid feed URL %q: want an absolute http or https URL", s)
	}
	return nil
}

// isOPML reports whether b's root element is <opml>.
func isOPML(b []byte) bool {
	d := xml.NewDecoder(bytes.NewReader(b))
	for {
		tok, err := d.Token()
		if err != nil {
			return false
		}
		if se, ok := tok.(xml.StartElement); ok {
			return strings.EqualFold(se.Name.Local, "opml")
		}
	}
}

// parseOPML collects every <outline xmlUrl="..."> at any depth; the
// outline's title, else its text, names the source.
func parseOPML(name string, b []byte) ([]Source, error) {
	d := xml.NewDecoder(bytes.NewReader(b))
	d.Strict = false
	var out []Source
	for {
		tok, err := d.Token()
		if err == io.EOF {
			return Dedupe(out), nil
		}
		if err != nil {
			line, _ := d.InputPos()
			return nil, fmt.Errorf("%s:%d: invalid OPML: %w", name, line, err)
		}
		se, ok := tok.(xml.StartElement)
		if !ok || !strings.EqualFold(se.Name.Local, "outline") {
			continue
		}
		var s Source
		var text string
		for _, a := range se.Attr {
			switch strings.ToLower(a.Name.Local) {
			case "xmlurl":
				s.URL = strings.TrimSpace(a.Value)
			case "title":
				s.Name = strings.TrimSpace(a.Value)
			case "text":
				text = strings.TrimSpace(a.Value)
			}
		}
		if s.URL == "" {
			continue
		}
		if s.Name == "" {
			s.Name = text
		}
		if err := checkURL(s.URL); err != nil {
			line, _ := d.InputPos()
			return nil, fmt.Errorf("%s:%d: %w", name, line, err)
		}
		out = append(out, s)
	}
}

// Redact returns u with its secrets (the password of its user information,
// API keys and tokens in its query) replaced by "xxxxx", for logs and status
// output; it is redact.String.
func Redact(u string) string { return redact.String(u) }
