package news

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"
	"github.com/valyala/fastjson"
)

// This file keeps the previous DecodeLimit and Validate (renamed) as the
// reference the current decoder is checked against, with the contract's
// later changes: a leading byte-order mark is ignored, invalid UTF-8 is an
// error only in a known field, published_at goes through parsePublishedAt,
// and an id must not hold control characters.

// decodeLimitRef is the previous DecodeLimit. It parses one message, rejecting it if it exceeds maxBytes, is not
// a single JSON object, or fails Validate. The returned Message is normalised.
//
// It parses with fastjson rather than encoding/json: decoding is the
// worker's hottest per-message step, and a pooled fastjson parser reads the
// flat message object without reflection and with one allocation per field
// (see BenchmarkDecode). The semantics match encoding/json's: unknown
// fields are ignored, null means absent, the last of duplicate keys wins.
func decodeLimitRef(b []byte, maxBytes int) (Message, error) {
	if maxBytes > 0 && len(b) > maxBytes {
		return Message{}, &DecodeError{Reason: fmt.Sprintf("size %d bytes exceeds limit %d", len(b), maxBytes)}
	}
	b = []byte(strings.TrimPrefix(string(b), "\ufeff"))
	p := refParsers.Get()
	defer refParsers.Put(p)
	v, err := p.ParseBytes(b)
	if err != nil {
		return Message{}, &DecodeError{Reason: "malformed JSON: " + jsonReason(err)}
	}
	o, err := v.Object()
	if err != nil {
		return Message{}, &DecodeError{Reason: "malformed JSON: not an object"}
	}
	var (
		m         Message
		published string
		bad       *DecodeError
	)
	o.Visit(func(key []byte, v *fastjson.Value) {
		var dst *string
		switch string(key) {
		case "id":
			dst = &m.ID
		case "source":
			dst = &m.Source
		case "title":
			dst = &m.Title
		case "body":
			dst = &m.Body
		case "url":
			dst = &m.URL
		case "lang":
			dst = &m.Lang
		case "published_at":
			dst = &published
		default:
			return
		}
		switch v.Type() {
		case fastjson.TypeNull:
			*dst = ""
		case fastjson.TypeString:
			sb, _ := v.StringBytes()
			*dst = string(sb)
		default:
			if bad == nil {
				bad = &DecodeError{Field: string(key), Reason: "must be a string, got " + v.Type().String()}
			}
		}
	})
	if bad != nil {
		return Message{}, bad
	}
	for _, f := range [...]struct{ name, v string }{{"id", m.ID}, {"source", m.Source}, {"title", m.Title}, {"body", m.Body}, {"url", m.URL}, {"lang", m.Lang}, {"published_at", published}} {
		if !utf8.ValidString(f.v) {
			return Message{}, &DecodeError{Field: f.name, Reason: "not valid UTF-8"}
		}
	}
	if published != "" {
		t, err := parsePublishedAt(published)
		if err != nil {
			return Message{}, err
		}
		m.PublishedAt = t
	}
	m.Normalize()
	if err := m.validateRef(); err != nil {
		return Message{}, err
	}
	return m, nil
}

// validateRef is the previous Validate. It checks the contract's rules on a decoded message: id of 1 to
// MaxIDBytes bytes, a source, and a title or a body. It returns a *DecodeError.
func (m *Message) validateRef() error {
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
		if !utf8.ValidString(f.v) {
			return &DecodeError{Field: f.name, Reason: "not valid UTF-8"}
		}
		if strings.IndexByte(f.v, 0) >= 0 {
			return &DecodeError{Field: f.name, Reason: "contains a NUL byte"}
		}
	}
	for _, r := range m.ID {
		if r < 0x20 || (r >= 0x7f && r < 0xa0) {
			return &DecodeError{Field: "id", Reason: "contains a control character"}
		}
	}
	return nil
}

// refParsers pools decodeLimitRef's parsers.
var refParsers fastjson.ParserPool

// checkDecodeMatchesReference requires DecodeLimit and decodeLimitRef to
// return the same message, or errors with the same Field and Reason.
func checkDecodeMatchesReference(t testing.TB, b []byte, maxBytes int) {
	t.Helper()
	want, wantErr := decodeLimitRef(b, maxBytes)
	for _, dec := range []struct {
		name string
		fn   func([]byte, int) (Message, error)
	}{{"DecodeLimit", DecodeLimit}, {"DecodeShared", DecodeShared}} {
		got, err := dec.fn(b, maxBytes)
		if (err == nil) != (wantErr == nil) {
			t.Fatalf("%s(%q, %d): error %v, the reference's %v", dec.name, b, maxBytes, err, wantErr)
		}
		if err != nil {
			var de, wantDE *DecodeError
			if !errors.As(err, &de) || !errors.As(wantErr, &wantDE) {
				t.Fatalf("%s(%q, %d): errors %T and %T, want *DecodeError", dec.name, b, maxBytes, err, wantErr)
			}
			if *de != *wantDE {
				t.Fatalf("%s(%q, %d): error %+v, the reference's %+v", dec.name, b, maxBytes, *de, *wantDE)
			}
			continue
		}
		if got != want {
			t.Fatalf("%s(%q, %d) differs from the reference (-ref +got)\n%s", dec.name, b, maxBytes, cmp.Diff(want, got))
		}
	}
}
