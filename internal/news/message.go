package news

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
	"unsafe"

	"github.com/valyala/fastjson"
)

// Limits of the message contract (DESIGN.md).
const (
	// MaxIDBytes is the longest accepted message id.
	MaxIDBytes = 256
	// DefaultMaxBytes is the default limit on one encoded message: 64 KiB.
	DefaultMaxBytes = 64 << 10
	// MinPublishedYear and MaxPublishedYear bound published_at: a year
	// outside them is a zero value or a typo (0001, 0000, 20226), not news.
	MinPublishedYear = 1900
	MaxPublishedYear = 2199
)

// BOM is the UTF-8 byte-order mark some editors put at the start of a
// file; DecodeLimit ignores it at the start of a message, and `publisher
// send` strips it from the start of each line.
var BOM = []byte("\xef\xbb\xbf")

// Message is one news item as publishers send it, one JSON object per
// JetStream message.
type Message struct {
	// ID is the publisher's stable key for the story instance, e.g. "tg:channel:1234".
	ID string `json:"id"`
	// Source names where the story came from (a channel, a feed).
	Source string `json:"source"`
	// Title is the headline; Title or Body must be non-empty.
	Title string `json:"title,omitempty"`
	// Body is the story text.
	Body string `json:"body,omitempty"`
	// URL optionally links to the original.
	URL string `json:"url,omitempty"`
	// Lang is the optional language tag given by the publisher.
	Lang string `json:"lang,omitempty"`
	// PublishedAt is when the story was published; zero when absent, in which
	// case the consumer uses the JetStream message time.
	PublishedAt time.Time `json:"-"`
}

// wireMessage mirrors Message with published_at as text, so a bad timestamp is
// reported as a field error rather than a generic JSON one.
type wireMessage struct {
	ID          string `json:"id"`
	Source      string `json:"source"`
	Title       string `json:"title,omitempty"`
	Body        string `json:"body,omitempty"`
	URL         string `json:"url,omitempty"`
	Lang        string `json:"lang,omitempty"`
	PublishedAt string `json:"published_at,omitempty"`
}

// DecodeError says why a message does not meet the contract. It is permanent:
// redelivering the same bytes cannot succeed.
type DecodeError struct {
	// Field is the offending field, or "" for the message as a whole.
	Field string
	// Reason is a short human-readable explanation.
	Reason string
}

// Error implements error.
func (e *DecodeError) Error() string {
	if e.Field == "" {
		return "invalid message: " + e.Reason
	}
	return "invalid message: " + e.Field + ": " + e.Reason
}

// Decode parses and validates one message of at most DefaultMaxBytes.
func Decode(b []byte) (Message, error) { return DecodeLimit(b, DefaultMaxBytes) }

// DecodeLimit parses one message, rejecting it if it exceeds maxBytes, is not
// a single JSON object, or fails Validate. The returned Message is normalised.
//
// Decoding is the worker's hottest per-message step. A message as publishers
// send it, a flat object of strings, is read by a small scanner (scanFlat);
// anything else, malformed JSON included, goes to a pooled fastjson parser,
// whose errors the DecodeError quotes. The scanner exists because fastjson,
// the fastest general parser we found, copies the input and builds a value
// tree before we copy the strings out again; reading the flat shape directly
// is faster (README's Benchmarks; go test -bench DecodeGenerated
// ./internal/news/). Neither path
// uses reflection, and the string fields are copied out with one allocation
// for all of them, which they share. The semantics match encoding/json's:
// unknown fields are ignored, null means absent, the last of duplicate keys
// wins.
func DecodeLimit(b []byte, maxBytes int) (Message, error) { return decode(b, maxBytes, false) }

// DecodeShared is DecodeLimit for a buffer that nobody modifies afterwards,
// such as a NATS message's payload: the returned Message's string fields may
// share b's memory instead of being copied out of it. A field that has
// escapes in the JSON, and every field of a message that is not the flat
// shape of strings publishers send, is still copied. The caller must not
// change b while the Message or any string taken from it is in use.
//
// It exists because the copy was the worker's largest allocation per
// message: the consumer decodes every payload, which nats.go has already
// copied into a buffer of its own that nothing writes to (README's "CPU per
// message on the Postgres path"; go test -bench DecodeGenerated
// ./internal/news/).
func DecodeShared(b []byte, maxBytes int) (Message, error) { return decode(b, maxBytes, true) }

// decode is DecodeLimit and DecodeShared; share says whether the fields may
// alias b.
func decode(b []byte, maxBytes int, share bool) (Message, error) {
	if maxBytes > 0 && len(b) > maxBytes {
		return Message{}, &DecodeError{Reason: fmt.Sprintf("size %d bytes exceeds limit %d", len(b), maxBytes)}
	}
	b = bytes.TrimPrefix(b, BOM)
	// Valid UTF-8 input makes every decoded field valid UTF-8 too:
	// unescaping copies runs of the input split at ASCII backslashes, emits
	// ASCII or whole runes for the escapes, U+FFFD for a surrogate pair that
	// does not decode, and keeps a lone surrogate such as \ud800 as its six
	// ASCII characters (TestDecodeEscapes). Otherwise the known fields are
	// checked one by one: invalid bytes in a field we ignore do no harm.
	checkUTF8 := !utf8.Valid(b)
	var raw [numFields][]byte
	if scanFlat(b, &raw) {
		return decodeFields(&raw, true, share, checkUTF8)
	}
	return decodeFastjson(b, checkUTF8)
}

// decodeFastjson decodes with fastjson what scanFlat does not take: other
// values than strings and null, escaped keys, and malformed JSON, whose
// errors quote the parser.
func decodeFastjson(b []byte, checkUTF8 bool) (Message, error) {
	p := parsers.Get()
	defer parsers.Put(p)
	v, err := p.ParseBytes(b)
	if err != nil {
		return Message{}, &DecodeError{Reason: "malformed JSON: " + jsonReason(err)}
	}
	o, err := v.Object()
	if err != nil {
		return Message{}, &DecodeError{Reason: "malformed JSON: not an object"}
	}
	// The unescaped values, pointing into the parser's buffer; nil when
	// absent or null.
	var (
		raw [numFields][]byte
		bad *DecodeError
	)
	o.Visit(func(key []byte, v *fastjson.Value) {
		f := fieldOf(key)
		if f < 0 {
			return
		}
		switch v.Type() {
		case fastjson.TypeNull:
			raw[f] = nil
		case fastjson.TypeString:
			raw[f], _ = v.StringBytes()
		default:
			if bad == nil {
				bad = &DecodeError{Field: fieldNames[f], Reason: "must be a string, got " + v.Type().String()}
			}
		}
	})
	if bad != nil {
		return Message{}, bad
	}
	return decodeFields(&raw, false, false, checkUTF8)
}

// decodeFields makes the normalised and validated message of its fields'
// string contents, indexed by field (nil when absent or null), which are
// still JSON-escaped if escaped is set. They must be valid UTF-8 unless
// checkUTF8 is set. With share, a field without escapes becomes a string
// sharing its bytes (DecodeShared); the others are copied out with one
// allocation for all of them, which they share.
func decodeFields(raw *[numFields][]byte, escaped, share, checkUTF8 bool) (Message, error) {
	var (
		fields [numFields]string
		copied [numFields]bool
	)
	n := 0
	for i, r := range raw {
		if share && len(r) > 0 && bytes.IndexByte(r, '\\') < 0 {
			fields[i] = unsafe.String(&r[0], len(r))
			continue
		}
		copied[i] = true
		n += len(r) // unescaping never lengthens
	}
	if n > 0 {
		var (
			sb   strings.Builder
			ends [numFields]int
		)
		sb.Grow(n)
		for i, r := range raw {
			if copied[i] {
				if escaped {
					writeUnescaped(&sb, r)
				} else {
					sb.Write(r)
				}
			}
			ends[i] = sb.Len()
		}
		all := sb.String()
		start := 0
		for i, end := range ends {
			if copied[i] {
				fields[i] = all[start:end]
			}
			start = end
		}
	}
	if checkUTF8 {
		for i, f := range fields {
			if !utf8.ValidString(f) {
				return Message{}, &DecodeError{Field: fieldNames[i], Reason: "not valid UTF-8"}
			}
		}
	}
	m := Message{ID: fields[fieldID], Source: fields[fieldSource], Title: fields[fieldTitle], Body: fields[fieldBody], URL: fields[fieldURL], Lang: fields[fieldLang]}
	if published := fields[fieldPublishedAt]; published != "" {
		t, err := parsePublishedAt(published)
		if err != nil {
			return Message{}, err
		}
		m.PublishedAt = t
	}
	m.Normalize()
	if err := m.validate(false); err != nil {
		return Message{}, err
	}
	return m, nil
}

// The message's fields as DecodeLimit collects them.
const (
	fieldID = iota
	fieldSource
	fieldTitle
	fieldBody
	fieldURL
	fieldLang
	fieldPublishedAt
	numFields
)

// fieldNames are the fields' JSON keys.
var fieldNames = [numFields]string{"id", "source", "title", "body", "url", "lang", "published_at"}

// fieldOf returns the field with the given JSON key, or -1 for an unknown key.
func fieldOf(key []byte) int {
	switch string(key) {
	case "id":
		return fieldID
	case "source":
		return fieldSource
	case "title":
		return fieldTitle
	case "body":
		return fieldBody
	case "url":
		return fieldURL
	case "lang":
		return fieldLang
	case "published_at":
		return fieldPublishedAt
	}
	return -1
}

// parsers pools fastjson parsers, which are not safe for concurrent use but
// are reusable.
var parsers fastjson.ParserPool

// parsePublishedAt parses an RFC 3339 time, also one at a leap second
// (23:59:60Z, which Go's parser refuses; it becomes the next second), and
// requires its year, in UTC, to be within MinPublishedYear and
// MaxPublishedYear.
func parsePublishedAt(s string) (time.Time, error) {
	s = strings.TrimSpace(s)
	t, err := time.Parse(time.RFC3339, s)
	if err != nil && len(s) >= 20 && s[10] == 'T' && s[16:19] == ":60" {
		// hh:mm:60 → hh:mm:59 + 1s; the second fraction and zone stay.
		t, err = time.Parse(time.RFC3339, s[:17]+"59"+s[19:])
		t = t.Add(time.Second)
	}
	if err != nil {
		return time.Time{}, &DecodeError{Field: "published_at", Reason: "not an RFC 3339 time"}
	}
	t = t.UTC()
	if y := t.Year(); y < MinPublishedYear || y > MaxPublishedYear {
		return time.Time{}, &DecodeError{Field: "published_at",
			Reason: fmt.Sprintf("year %d is outside %d to %d", y, MinPublishedYear, MaxPublishedYear)}
	}
	return t, nil
}

// jsonReason shortens a parser error to what a publisher can act on, without
// echoing the message's content (which may end up in logs). The parser
// names every enclosing object and array before the cause ("cannot parse
// object: cannot parse object value: cannot parse array: …"); those become
// a depth, so that the cause survives the length limit.
func jsonReason(err error) string {
	r := err.Error()
	if i := strings.Index(r, "; unparsed tail"); i >= 0 {
		r = r[:i]
	}
	r = strings.TrimPrefix(r, "cannot parse JSON: ")
	depth := 0
	for {
		switch {
		case strings.HasPrefix(r, "cannot parse object: "), strings.HasPrefix(r, "cannot parse array: "):
			depth++
		case strings.HasPrefix(r, "cannot parse object value: "), strings.HasPrefix(r, "cannot parse array value: "):
		default:
			if depth > 0 {
				r += " (at depth " + strconv.Itoa(depth) + ")"
			}
			if len(r) > 120 {
				r = r[:120]
			}
			return r
		}
		r = r[strings.Index(r, ": ")+2:]
	}
}

// Normalize trims surrounding white space from every field and lower-cases Lang.
// Decode calls it; publishers building messages in code may too.
func (m *Message) Normalize() {
	m.ID = strings.TrimSpace(m.ID)
	m.Source = strings.TrimSpace(m.Source)
	m.Title = strings.TrimSpace(m.Title)
	m.Body = strings.TrimSpace(m.Body)
	m.URL = strings.TrimSpace(m.URL)
	m.Lang = strings.ToLower(strings.TrimSpace(m.Lang))
}

// Validate checks the contract's rules on a decoded message: id of 1 to
// MaxIDBytes bytes without control characters, a source, and a title or a
// body, all valid UTF-8 without NUL bytes. It returns a *DecodeError.
func (m *Message) Validate() error { return m.validate(true) }

// validate is Validate, checking the fields for valid UTF-8 only if
// checkUTF8 is set: DecodeLimit has checked its whole input.
func (m *Message) validate(checkUTF8 bool) error {
	switch {
	case m.ID == "":
		return &DecodeError{Field: "id", Reason: "required"}
	case len(m.ID) > MaxIDBytes:
		return &DecodeError{Field: "id", Reason: fmt.Sprintf("%d bytes exceeds %d", len(m.ID), MaxIDBytes)}
	case m.Source == "":
		return &DecodeError{Field: "source", Reason: "required"}
	case m.Title == "" && m.Body == "":
		return &DecodeError{Field: "title", Reason: "title or body must be non-empty"}
	}
	for _, f := range [...]struct{ name, v string }{{"id", m.ID}, {"source", m.Source}, {"title", m.Title}, {"body", m.Body}, {"url", m.URL}, {"lang", m.Lang}} {
		if checkUTF8 && !utf8.ValidString(f.v) {
			return &DecodeError{Field: f.name, Reason: "not valid UTF-8"}
		}
		if strings.IndexByte(f.v, 0) >= 0 {
			return &DecodeError{Field: f.name, Reason: "contains a NUL byte"}
		}
	}
	if strings.IndexFunc(m.ID, unicode.IsControl) >= 0 {
		// A line break would split the Nats-Msg-Id header and a log line.
		return &DecodeError{Field: "id", Reason: "contains a control character"}
	}
	return nil
}

// MarshalJSON encodes m in the wire format, with published_at in RFC 3339
// when set.
func (m Message) MarshalJSON() ([]byte, error) {
	w := wireMessage{ID: m.ID, Source: m.Source, Title: m.Title, Body: m.Body, URL: m.URL, Lang: m.Lang}
	if !m.PublishedAt.IsZero() {
		w.PublishedAt = m.PublishedAt.UTC().Format(time.RFC3339)
	}
	return json.Marshal(w)
}

// UnmarshalJSON decodes the wire format without validating; use Decode to
// validate too.
func (m *Message) UnmarshalJSON(b []byte) error {
	var w wireMessage
	if err := json.Unmarshal(b, &w); err != nil {
		return err
	}
	*m = Message{ID: w.ID, Source: w.Source, Title: w.Title, Body: w.Body, URL: w.URL, Lang: w.Lang}
	if w.PublishedAt != "" {
		t, err := parsePublishedAt(w.PublishedAt)
		if err != nil {
			return err
		}
		m.PublishedAt = t
	}
	return nil
}
