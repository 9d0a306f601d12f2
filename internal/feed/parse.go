package feed

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/mmcdole/gofeed"
	ext "github.com/mmcdole/gofeed/extensions"
	"golang.org/x/net/html"
	"golang.org/x/net/html/atom"

	"newsflow/internal/news"
)

// Limits on one item's text, well inside the message contract's 64 KiB.
const (
	MaxTitleBytes = 1 << 10
	MaxBodyBytes  = 32 << 10
)

// Errors of Parse.
var (
	ErrNotFeed = errors.New("not a feed: the URL serves an HTML page")
	ErrEmpty   = errors.New("not a feed: the response is empty")
)

// Item is one parsed feed item.
type Item struct {
	Key string       // the item's part of its id: 16 hex digits, unique within its feed
	Msg news.Message // ready to publish; Msg.ID is ItemID(feed URL, Key)
}

// FeedKey is the feed's part of its items' ids: the first 16 hex digits of
// the SHA-256 of its URL.
func FeedKey(feedURL string) string { return shortHash(feedURL) }

// ItemID is the message id of item key of the feed at feedURL:
// "feed:<FeedKey>:<key>".
func ItemID(feedURL, key string) string { return "feed:" + FeedKey(feedURL) + ":" + key }

func shortHash(s string) string {
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:8])
}

// Parse parses body (RSS 0.9x/1.0/2.0, Atom or JSON Feed) fetched from src
// into messages, newest-first order kept. An item's key hashes its guid,
// else its link, else its title and raw date, else its text and raw date;
// an item with neither title nor text is skipped and counted in skipped.
// now is the first-seen time given to items without a usable date (none,
// before 1970 or over a day in the future).
func Parse(src Source, body []byte, now time.Time) (items []Item, skipped int, err error) {
	trimmed := bytes.TrimSpace(bytes.TrimPrefix(body, news.BOM))
	if len(trimmed) == 0 {
		return nil, 0, ErrEmpty
	}
	if looksHTML(trimmed) {
		return nil, 0, ErrNotFeed
	}
	f, err := gofeed.NewParser().Parse(bytes.NewReader(trimmed))
	if err != nil {
		if errors.Is(err, gofeed.ErrFeedTypeNotDetected) {
			return nil, 0, errors.New("not a feed: no RSS, Atom or JSON Feed root found")
		}
		return nil, 0, fmt.Errorf("malformed feed: %w", err)
	}
	if f.FeedType == "json" && f.FeedVersion == "" {
		return nil, 0, errors.New("not a feed: JSON without a JSON Feed version")
	}
	source := src.SourceName()
	feedLang := langOf(f.Language, f.DublinCoreExt)
	keys := make(map[string]bool, len(f.Items))
	for _, it := range f.Items {
		if it == nil {
			continue
		}
		title := clip(titleText(it.Title), MaxTitleBytes)
		raw := it.Content
		if strings.TrimSpace(raw) == "" {
			raw = it.Description
		}
		text := clip(Text(raw), MaxBodyBytes)
		if title == "" && text == "" {
			skipped++
			continue
		}
		link := strings.TrimSpace(it.Link)
		rawDate := it.Published
		if rawDate == "" {
			rawDate = it.Updated
		}
		var basis string
		switch {
		case strings.TrimSpace(it.GUID) != "":
			basis = "guid\x00" + strings.TrimSpace(it.GUID)
		case link != "":
			basis = "link\x00" + link
		case title != "":
			basis = "title\x00" + title + "\x00" + rawDate
		default:
			basis = "text\x00" + text + "\x00" + rawDate
		}
		key := shortHash(basis)
		if keys[key] {
			continue // the feed lists the same item twice
		}
		keys[key] = true
		lang := langOf("", it.DublinCoreExt)
		if lang == "" {
			lang = feedLang
		}
		items = append(items, Item{Key: key, Msg: news.Message{
			ID:          ItemID(src.URL, key),
			Source:      source,
			Title:       title,
			Body:        text,
			URL:         link,
			Lang:        lang,
			PublishedAt: itemTime(it, now),
		}})
	}
	return items, skipped, nil
}

// looksHTML reports whether b starts like an HTML page rather than a feed.
func looksHTML(b []byte) bool {
	head := bytes.ToLower(b[:min(len(b), 512)])
	return bytes.HasPrefix(head, []byte("<!doctype html")) || bytes.HasPrefix(head, []byte("<html")) ||
		(bytes.HasPrefix(head, []byte("<?xml")) && bytes.Contains(head, []byte("<html")))
}

// langOf is lang, else the first dc:language.
func langOf(lang string, dc *ext.DublinCoreExtension) string {
	if l := strings.TrimSpace(lang); l != "" {
		return l
	}
	if dc != nil {
		for _, l := range dc.Language {
			if l = strings.TrimSpace(l); l != "" {
				return l
			}
		}
	}
	return ""
}

// itemTime is the item's published (else updated) time, or now when it
// has none or it is before 1970 or more than a day ahead of now.
func itemTime(it *gofeed.Item, now time.Time) time.Time {
	t := it.PublishedParsed
	if t == nil {
		t = it.UpdatedParsed
	}
	if t == nil || t.Year() < 1970 || t.After(now.Add(24*time.Hour)) {
		return now.UTC().Truncate(time.Second)
	}
	return t.UTC()
}

// clip cuts s to at most n bytes at a rune boundary, ending it with "…".
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	cut := n - len("…")
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return strings.TrimSpace(s[:cut]) + "…"
}

// titleText is a title as plain text: entities decoded, white space
// collapsed, and markup removed only when it holds real HTML tags, so a
// title about "<new>" keeps its word.
func titleText(s string) string {
	if hasMarkup(s) {
		return collapse(Text(s))
	}
	return collapse(html.UnescapeString(s))
}

// hasMarkup reports whether s holds a tag of a known HTML element.
func hasMarkup(s string) bool {
	for i := strings.IndexByte(s, '<'); i >= 0; i = strings.IndexByte(s, '<') {
		s = s[i+1:]
		name := strings.TrimPrefix(s, "/")
		n := 0
		for n < len(name) && (name[n] >= 'a' && name[n] <= 'z' || name[n] >= 'A' && name[n] <= 'Z' || name[n] >= '0' && name[n] <= '9') {
			n++
		}
		if n > 0 && atom.Lookup([]byte(strings.ToLower(name[:n]))) != 0 {
			return true
		}
	}
	return false
}
