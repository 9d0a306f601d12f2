package feed

import (
	"strings"

	"golang.org/x/net/html"
	"golang.org/x/net/html/atom"
)

// Text turns an HTML fragment into plain text: tags removed, entities
// decoded, script/style/iframe/noscript content and comments dropped;
// block elements (p, div, headings, lists, tables, blockquote, pre…) become
// a blank line, li, tr and br a line break; runs of white space collapse to
// one space except inside <pre>; an image's alt text is kept. Plain text
// without markup comes back with its entities decoded and spaces collapsed.
func Text(s string) string {
	if !strings.ContainsAny(s, "<&") {
		return collapse(s)
	}
	z := html.NewTokenizer(strings.NewReader(s))
	var b strings.Builder
	skip, pre := 0, 0
	brk := 0 // pending line breaks: 1 line break, 2 paragraph
	space := false
	emit := func(t string) {
		if t == "" {
			return
		}
		if b.Len() > 0 {
			switch {
			case brk >= 2:
				b.WriteString("\n\n")
			case brk == 1:
				b.WriteString("\n")
			case space:
				b.WriteString(" ")
			}
		}
		brk, space = 0, false
		b.WriteString(t)
	}
	for {
		tt := z.Next()
		switch tt {
		case html.ErrorToken:
			return strings.TrimSpace(b.String())
		case html.CommentToken, html.DoctypeToken:
		case html.TextToken:
			if skip > 0 {
				continue
			}
			t := string(z.Text())
			if pre > 0 {
				lines := strings.Split(t, "\n")
				for i, l := range lines {
					if i > 0 {
						brk = max(brk, 1)
					}
					emit(strings.TrimRight(l, " \t\r"))
				}
				continue
			}
			if t != "" && isSpace(t[0]) {
				space = true
			}
			f := strings.Fields(t)
			for i, w := range f {
				if i > 0 {
					space = true
				}
				emit(w)
			}
			if t != "" && isSpace(t[len(t)-1]) {
				space = true
			}
		case html.StartTagToken, html.EndTagToken, html.SelfClosingTagToken:
			name, hasAttr := z.TagName()
			a := atom.Lookup(name)
			switch a {
			case atom.Script, atom.Style, atom.Iframe, atom.Noscript, atom.Template, atom.Object, atom.Svg, atom.Head, atom.Title:
				if tt == html.StartTagToken {
					skip++
				} else if tt == html.EndTagToken && skip > 0 {
					skip--
				}
				continue
			case atom.Pre:
				if tt == html.StartTagToken {
					pre++
				} else if tt == html.EndTagToken && pre > 0 {
					pre--
				}
				brk = 2
			case atom.Br:
				brk = max(brk, 1)
			case atom.Li, atom.Tr, atom.Dt, atom.Dd:
				brk = max(brk, 1)
			case atom.Td, atom.Th:
				space = true
			case atom.P, atom.Div, atom.H1, atom.H2, atom.H3, atom.H4, atom.H5, atom.H6, atom.Ul, atom.Ol, atom.Dl,
				atom.Table, atom.Blockquote, atom.Section, atom.Article, atom.Header, atom.Footer, atom.Figure,
				atom.Figcaption, atom.Hr, atom.Aside, atom.Nav, atom.Main, atom.Address:
				brk = 2
			case atom.Img:
				if skip == 0 && hasAttr {
					for {
						k, v, more := z.TagAttr()
						if string(k) == "alt" {
							if alt := collapse(string(v)); alt != "" {
								space = true
								emit(alt)
								space = true
							}
						}
						if !more {
							break
						}
					}
				}
			}
		}
	}
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' }

// collapse trims s and collapses its runs of white space to one space.
func collapse(s string) string { return strings.Join(strings.Fields(s), " ") }
