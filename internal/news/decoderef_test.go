package news

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"
	"github.com/valyala/fastjson"
)

// This file keeps the previous DecodeLimit and Validate verbatim (renamed) as
// the reference the current decoder is checked against.

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
	if !utf8.Valid(b) {
		return Message{}, &DecodeError{Reason: "not valid UTF-8"}
	}
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
	if published != "" {
		t, err := time.Parse(time.RFC3339, strings.TrimSpace(published))
		if err != nil {
			return Message{}, &DecodeError{Field: "published_at", Reason: "not an RFC 3339 time"}
		}
		m.PublishedAt = t.UTC()
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
	return nil
}

// refParsers pools decodeLimitRef's parsers.
var refParsers fastjson.ParserPool

// checkDecodeMatchesReference requires DecodeLimit and decodeLimitRef to
// return the same message, or errors with the same Field and Reason.
func checkDecodeMatchesReference(t testing.TB, b []byte, maxBytes int) {
	t.Helper()
	want, wantErr := decodeLimitRef(b, maxBytes)
	got, err := DecodeLimit(b, maxBytes)
	if (err == nil) != (wantErr == nil) {
		t.Fatalf("DecodeLimit(%q, %d): error %v, the reference's %v", b, maxBytes, err, wantErr)
	}
	if err != nil {
		var de, wantDE *DecodeError
		if !errors.As(err, &de) || !errors.As(wantErr, &wantDE) {
			t.Fatalf("DecodeLimit(%q, %d): errors %T and %T, want *DecodeError", b, maxBytes, err, wantErr)
		}
		if *de != *wantDE {
			t.Fatalf("DecodeLimit(%q, %d): error %+v, the reference's %+v", b, maxBytes, *de, *wantDE)
		}
		return
	}
	if got != want {
		t.Fatalf("DecodeLimit(%q, %d) differs from the reference (-ref +got)\n%s", b, maxBytes, cmp.Diff(want, got))
	}
}
