package news

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"time"
	"unsafe"

	"github.com/google/go-cmp/cmp"
)

func TestDecode(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("x", MaxIDBytes+1)
	tests := []struct {
		name      string
		in        string
		want      Message
		wantField string // "" with wantErr means a message-level error
		wantErr   bool
		reason    string // part of the error's reason, when set
	}{
		{name: "minimal", in: `{"id":"tg:c:1","source":"tg","title":"t"}`, want: Message{ID: "tg:c:1", Source: "tg", Title: "t"}},
		{name: "full", in: `{"id":"a","source":"s","title":"T","body":"B","url":"https://x","lang":"EN","published_at":"2026-01-02T03:04:05+01:00","extra":1}`,
			want: Message{ID: "a", Source: "s", Title: "T", Body: "B", URL: "https://x", Lang: "en", PublishedAt: time.Date(2026, 1, 2, 2, 4, 5, 0, time.UTC)}},
		{name: "trimmed", in: `{"id":"  a ","source":" s ","body":"  b  "}`, want: Message{ID: "a", Source: "s", Body: "b"}},
		{name: "missing id", in: `{"source":"s","title":"t"}`, wantErr: true, wantField: "id"},
		{name: "blank id", in: `{"id":"   ","source":"s","title":"t"}`, wantErr: true, wantField: "id"},
		{name: "long id", in: `{"id":"` + long + `","source":"s","title":"t"}`, wantErr: true, wantField: "id"},
		{name: "missing source", in: `{"id":"a","title":"t"}`, wantErr: true, wantField: "source"},
		{name: "no title or body", in: `{"id":"a","source":"s"}`, wantErr: true, wantField: "title"},
		{name: "bad time", in: `{"id":"a","source":"s","title":"t","published_at":"yesterday"}`, wantErr: true, wantField: "published_at"},
		{name: "wrong type", in: `{"id":5,"source":"s","title":"t"}`, wantErr: true, wantField: "id"},
		{name: "null is absent", in: `{"id":"a","source":"s","title":"t","url":null}`, want: Message{ID: "a", Source: "s", Title: "t"}},
		{name: "last duplicate wins", in: `{"id":"a","id":"b","source":"s","title":"t"}`, want: Message{ID: "b", Source: "s", Title: "t"}},
		{name: "escapes", in: `{"id":"a","source":"s","title":"caf\u00e9 \"q\""}`, want: Message{ID: "a", Source: "s", Title: "café \"q\""}},
		{name: "not json", in: `hello`, wantErr: true},
		{name: "array", in: `[1]`, wantErr: true},
		{name: "trailing", in: `{"id":"a","source":"s","title":"t"} {}`, wantErr: true},
		{name: "invalid utf8", in: "{\"id\":\"a\",\"source\":\"s\",\"title\":\"\xff\"}", wantErr: true, wantField: "title", reason: "not valid UTF-8"},
		{name: "invalid utf8 in lang, not replaced", in: "{\"id\":\"a\",\"source\":\"s\",\"title\":\"t\",\"lang\":\"e\xffn\"}", wantErr: true, wantField: "lang"},
		{name: "invalid utf8 only in an unknown field", in: "{\"id\":\"a\",\"source\":\"s\",\"title\":\"t\",\"extra\":\"\xff\xfe\"}", want: Message{ID: "a", Source: "s", Title: "t"}},
		{name: "invalid utf8 in an unknown key and nested value", in: "{\"\xff\":\"x\",\"id\":\"a\",\"source\":\"s\",\"title\":\"t\",\"x\":{\"y\":[\"\xc0\"]}}", want: Message{ID: "a", Source: "s", Title: "t"}},
		{name: "invalid utf8 in malformed json", in: "{\"id\":\"\xff", wantErr: true, reason: "malformed JSON"},
		{name: "byte-order mark", in: "\ufeff{\"id\":\"a\",\"source\":\"s\",\"title\":\"t\"}", want: Message{ID: "a", Source: "s", Title: "t"}},
		{name: "byte-order mark, fastjson path", in: "\ufeff{\"id\":\"a\",\"source\":\"s\",\"title\":\"t\",\"n\":1}", want: Message{ID: "a", Source: "s", Title: "t"}},
		{name: "byte-order mark twice", in: "\ufeff\ufeff{\"id\":\"a\",\"source\":\"s\",\"title\":\"t\"}", wantErr: true, reason: "malformed JSON"},
		{name: "byte-order mark after white space", in: " \ufeff{\"id\":\"a\",\"source\":\"s\",\"title\":\"t\"}", wantErr: true, reason: "malformed JSON"},
		{name: "leap second", in: `{"id":"a","source":"s","title":"t","published_at":"2016-12-31T23:59:60Z"}`,
			want: Message{ID: "a", Source: "s", Title: "t", PublishedAt: time.Date(2017, 1, 1, 0, 0, 0, 0, time.UTC)}},
		{name: "leap second with fraction and zone", in: `{"id":"a","source":"s","title":"t","published_at":"2016-12-31T23:59:60.5-01:00"}`,
			want: Message{ID: "a", Source: "s", Title: "t", PublishedAt: time.Date(2017, 1, 1, 1, 0, 0, 5e8, time.UTC)}},
		{name: "second 61", in: `{"id":"a","source":"s","title":"t","published_at":"2016-12-31T23:59:61Z"}`, wantErr: true, wantField: "published_at"},
		{name: "second 60 without a zone", in: `{"id":"a","source":"s","title":"t","published_at":"2016-12-31T23:59:60"}`, wantErr: true, wantField: "published_at"},
		{name: "year 0000", in: `{"id":"a","source":"s","title":"t","published_at":"0000-01-01T00:00:00Z"}`, wantErr: true, wantField: "published_at", reason: "year 0 is outside 1900 to 2199"},
		{name: "zero time", in: `{"id":"a","source":"s","title":"t","published_at":"0001-01-01T00:00:00Z"}`, wantErr: true, wantField: "published_at"},
		{name: "year 1899", in: `{"id":"a","source":"s","title":"t","published_at":"1899-12-31T23:59:59Z"}`, wantErr: true, wantField: "published_at"},
		{name: "year 1900", in: `{"id":"a","source":"s","title":"t","published_at":"1900-01-01T00:00:00Z"}`,
			want: Message{ID: "a", Source: "s", Title: "t", PublishedAt: time.Date(1900, 1, 1, 0, 0, 0, 0, time.UTC)}},
		{name: "year 2199", in: `{"id":"a","source":"s","title":"t","published_at":"2199-12-31T23:59:59Z"}`,
			want: Message{ID: "a", Source: "s", Title: "t", PublishedAt: time.Date(2199, 12, 31, 23, 59, 59, 0, time.UTC)}},
		{name: "year 2200 by its zone", in: `{"id":"a","source":"s","title":"t","published_at":"2199-12-31T23:00:00-02:00"}`, wantErr: true, wantField: "published_at"},
		{name: "year 10000", in: `{"id":"a","source":"s","title":"t","published_at":"10000-01-01T00:00:00Z"}`, wantErr: true, wantField: "published_at"},
		{name: "id with LF", in: `{"id":"a\nb","source":"s","title":"t"}`, wantErr: true, wantField: "id", reason: "control character"},
		{name: "id with CR", in: `{"id":"a\rb","source":"s","title":"t"}`, wantErr: true, wantField: "id", reason: "control character"},
		{name: "id with tab", in: "{\"id\":\"a\tb\",\"source\":\"s\",\"title\":\"t\"}", wantErr: true, wantField: "id"},
		{name: "id with DEL", in: `{"id":"a\u007fb","source":"s","title":"t"}`, wantErr: true, wantField: "id"},
		{name: "id with C1 control", in: `{"id":"a\u0085b","source":"s","title":"t"}`, wantErr: true, wantField: "id"},
		{name: "id with surrounding line breaks is trimmed", in: `{"id":"\r\na\r\n","source":"s","title":"t"}`, want: Message{ID: "a", Source: "s", Title: "t"}},
		{name: "title with line breaks", in: `{"id":"a","source":"s","title":"t\nu"}`, want: Message{ID: "a", Source: "s", Title: "t\nu"}},
		{name: "nesting too deep keeps its cause", in: `{"id":"a","source":"s","title":"t","x":` + strings.Repeat("[", 10000) + strings.Repeat("]", 10000) + `}`,
			wantErr: true, reason: "too big depth for the nested JSON; it exceeds 300 (at depth 300)"},
		{name: "nul byte", in: `{"id":"a","source":"s","title":"a\u0000b"}`, wantErr: true, wantField: "title"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := Decode([]byte(tt.in))
			if tt.wantErr {
				var de *DecodeError
				if !errors.As(err, &de) {
					t.Fatalf("got %v, want a *DecodeError", err)
				}
				if de.Field != tt.wantField {
					t.Fatalf("error field %q, want %q (%v)", de.Field, tt.wantField, err)
				}
				if !strings.Contains(de.Reason, tt.reason) {
					t.Fatalf("reason %q, want it to contain %q", de.Reason, tt.reason)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if d := cmp.Diff(tt.want, got); d != "" {
				t.Fatalf("(-want +got)\n%s", d)
			}
		})
	}
}

func TestDecodeLimit(t *testing.T) {
	t.Parallel()
	msg := `{"id":"a","source":"s","body":"` + strings.Repeat("b", 100) + `"}`
	if _, err := DecodeLimit([]byte(msg), 50); err == nil || !strings.Contains(err.Error(), "exceeds limit 50") {
		t.Fatalf("got %v, want a size error", err)
	}
	if _, err := DecodeLimit([]byte(msg), 0); err != nil {
		t.Fatalf("limit 0 means unlimited: %v", err)
	}
}

func TestMessage_JSONRoundTrip(t *testing.T) {
	t.Parallel()
	m := Message{ID: "a", Source: "s", Title: "T", PublishedAt: time.Date(2026, 5, 1, 0, 0, 0, 0, time.UTC)}
	b, err := m.MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	got, err := Decode(b)
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(m, got); d != "" {
		t.Fatalf("(-want +got)\n%s", d)
	}
}

func TestContentHash(t *testing.T) {
	t.Parallel()
	a := Message{ID: "1", Source: "x", Title: "Quake  hits City", Body: "Details\n follow."}
	b := Message{ID: "2", Source: "y", URL: "u", Title: "quake hits city", Body: " details follow. "}
	c := Message{ID: "3", Source: "x", Title: "Quake hits city", Body: "Other details."}
	d := Message{ID: "4", Source: "x", Title: "quake hits", Body: "city details follow."}
	if a.ContentHash() != b.ContentHash() {
		t.Error("case and white space must not change the content hash")
	}
	if a.ContentHash() == c.ContentHash() {
		t.Error("different bodies must hash differently")
	}
	if a.ContentHash() == d.ContentHash() {
		t.Error("moving words between title and body must change the hash")
	}
	if got := b.NormalizedText(); got != "quake hits city\ndetails follow." {
		t.Errorf("NormalizedText = %q", got)
	}
	if u := (&Message{Title: "ÄRGER"}).NormalizedText(); u != "ärger\n" {
		t.Errorf("unicode case folding: %q", u)
	}
}

func FuzzDecode(f *testing.F) {
	f.Add([]byte(`{"id":"tg:c:1","source":"tg","title":"t"}`))
	f.Add([]byte(`{"id":"a","source":"s","body":"b","published_at":"2026-01-02T03:04:05Z"}`))
	f.Add([]byte(`{"id":"","source":"s"}`))
	f.Add([]byte("\ufeff{\"id\":\"a\",\"source\":\"s\",\"title\":\"t\"}"))
	f.Add([]byte(`{"id":"a","source":"s","title":"t","published_at":"2016-12-31T23:59:60Z"}`))
	f.Add([]byte(`{"id":"a","source":"s","title":"t","published_at":"2199-12-31T23:59:60+00:00"}`))
	f.Add([]byte(`{"id":"a\r\nb","source":"s","title":"t"}`))
	f.Add([]byte("{\"id\":\"a\",\"source\":\"s\",\"title\":\"t\",\"x\":\"\xff\"}"))
	f.Add([]byte(`{"id":"a","source":"s","title":"t","x":` + strings.Repeat("[", 400) + `}`))
	for _, c := range decodeEdgeCases() {
		if len(c) < 1000 {
			f.Add([]byte(c))
		}
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		checkDecodeMatchesReference(t, b, DefaultMaxBytes)
		m, err := Decode(b)
		if err != nil {
			return // rejecting is fine; panicking is not
		}
		if m.Validate() != nil {
			t.Fatalf("Decode accepted an invalid message: %q", b)
		}
		out, err := m.MarshalJSON()
		if err != nil {
			t.Fatal(err)
		}
		again, err := Decode(out)
		if err != nil {
			t.Fatalf("re-decoding an accepted message failed: %v", err)
		}
		if again.ContentHash() != m.ContentHash() {
			t.Fatal("content hash changed across a JSON round trip")
		}
	})
}

func BenchmarkDecode(b *testing.B) {
	msg := []byte(`{"id":"tg:channel:123456","source":"tg:channel","title":"Central bank raises rates","body":"` + strings.Repeat("The decision was widely expected by analysts. ", 22) + `","url":"https://example.org/a","lang":"en","published_at":"2026-11-21T10:00:00Z"}`)
	b.SetBytes(int64(len(msg)))
	b.ReportAllocs()
	for b.Loop() {
		m, err := Decode(msg)
		if err != nil {
			b.Fatal(err)
		}
		_ = m.ContentHash()
	}
}

func BenchmarkContentHash(b *testing.B) {
	m := Message{Title: "Central bank raises rates", Body: strings.Repeat("The decision was widely expected by analysts. ", 22)}
	b.SetBytes(int64(len(m.Title) + len(m.Body)))
	b.ReportAllocs()
	for b.Loop() {
		_ = m.ContentHash()
	}
}

// decodeEdgeCases are inputs on which DecodeLimit must agree with the
// previous implementation; FuzzDecode starts from them too.
func decodeEdgeCases() []string {
	values := []string{
		`""`, `" "`, `"x"`, `null`, `0`, `-1.5e3`, `true`, `false`, `{}`, `[]`, `{"a":"b"}`, `["x"]`, `NaN`, `-Inf`,
		`"a\nb"`, `"\t x \r\n"`, `"caf\u00e9"`, `"\u00C9T\u00C9"`, `"\ud83d\ude00"`, `"\ud800"`, `"x\ud800y"`,
		`"\ud800\u0041"`, `"\ud800\udc00"`, `"\udc00"`, `"\ud800\"`, `"\ud800\u12"`, `"\ud800\uzzzz"`,
		`"\u12"`, `"\u"`, `"\uzzzz"`, `"\u+123"`, `"\x"`, `"\é"`, `"\\"`, `"\/"`, `"\b\f"`, `"\"q\""`, `"\\\""`,
		`"a\u0000b"`, "\"a\x00b\"", "\"a\x01\x1fb\"", `"\u0000"`, `"é\u00e9é"`, "\"\u00a0x\u2003\"", "\"\u0085\"",
		"\"\xff\"", "\"\xed\xa0\x80\"", "\"\xc0\xaf\"", "\"\xe2\x82\"",
		`"2026-01-02T03:04:05Z"`, `" 2026-01-02T03:04:05+01:00 "`, `"2026-01-02T03:04:05.123456789-07:30"`,
		`"2026-01-02 03:04:05Z"`, `"2026-13-02T03:04:05Z"`, `"   "`, `"2026-01-02T03:04:05\u005a"`,
		`"EN"`, `"İ"`, `"De-AT"`,
		`"` + strings.Repeat("y", MaxIDBytes) + `"`, `"` + strings.Repeat("y", MaxIDBytes+1) + `"`,
		`"` + strings.Repeat("é", MaxIDBytes/2) + ` "`, `"` + strings.Repeat("word \n", 10000) + `"`,
	}
	keys := []string{"id", "source", "title", "body", "url", "lang", "published_at", "extra", "ID", `\u0069d`, `bod\u0079`, "", "\xff"}
	var cases []string
	for _, k := range keys {
		for _, v := range values {
			kv := `"` + k + `":` + v
			cases = append(cases,
				`{"id":"a","source":"s","title":"t",`+kv+`}`,
				`{`+kv+`,"id":"a","source":"s","body":"b"}`,
				`{"id":"a",`+kv+`,"source":"s","title":"t",`+kv+`}`,
				`{"source":"s",`+kv+`}`,
			)
		}
	}
	return append(cases,
		``, ` `, `{}`, `{ }`, ` { } `, `null`, `"s"`, `1`, `[]`, `[{"id":"a"}]`, `{`, `}`, `{"id"}`, `{"id":}`, `{"id":"a"`,
		`{"id":"a",}`, `{,"id":"a"}`, `{"id":"a" "source":"s"}`, `{"id":"a","source":"s","title":"t"}x`,
		`{"id":"a","source":"s","title":"t"} `, "\t\r\n{\"id\":\"a\",\"source\":\"s\",\"title\":\"t\"}\n",
		` {"id" : "a" , "source" :"s","title": "t" } `, "{\"id\":\"a\",\"source\":\"s\",\"title\":\"t\"}\x00",
		`{"id":"a","source":"s","title":"t","x":{"y":[1,{"z":null}]}}`,
		`{"id":"a","source":"s","title":"t","x":`+strings.Repeat("[", 300)+strings.Repeat("]", 300)+`}`,
		`{"id":"a","source":"s","title":"t","x":`+strings.Repeat("[", 299)+strings.Repeat("]", 299)+`}`,
		`{"id":"a","source":"s","title":"t","x":1.2.3}`, `{"id":"a","source":"s","title":"t","x":+inf}`,
		`{"id":"a","source":"s","title":"t","x":nul}`, `{"id":"a","source":"s","title":"t","x":tru}`,
		`{"id":"a","id":"b","source":"s","title":"t"}`, `{"id":"a","id":null,"source":"s","title":"t"}`,
		`{"id":1,"id":"a","source":"s","title":"t"}`, `{"id":"a","source":2,"title":false}`,
		`{"id":"","source":"","title":"","body":"","url":"","lang":"","published_at":""}`,
		`{"id":"a\"","source":"s\\","title":"t\\\""}`, `{"id":"a\\\\","source":"s","title":"t"}`,
		`{"i\"d":"a","source":"s","title":"t"}`, `{"id\\":"a","source":"s","title":"t"}`,
		`{"id":"a"  ,  "source":"s" ,"title":"t"  }`, `{"id":"a","source":"s","title":"t"}}`, `{"id":"a","source":"s","title":"t" , }`,
		`{"id":"a","source":"s","title":nullx}`, `{"id":"a","source":"s","title":"t","body":nul}`, `{"id":"a","source":"s","title":"t","x":null`,
		"{\f\"id\":\"a\",\"source\":\"s\",\"title\":\"t\"}", "{\"id\":\"a\"\v,\"source\":\"s\",\"title\":\"t\"}",
		`{"id":"a`, `{"id":"a\"}`, `{"id":"a\\"}`, `{"id":"a\\\"}`, `{"id`, `{"id":`, `{"id":"a",`, `{"id":"a","source":"s","title":"t\`,
		`{"id":"\\","source":"\\\\","title":"\\\""}`, `{"id":"a","source":"s","title":"\"\"\""}`,
		`{"id":"a","source":"s","title":"t"`+strings.Repeat(`,"body":"`+strings.Repeat("b", 100)+`"`, 500)+`}`,
	)
}

func TestDecodeMatchesReference(t *testing.T) {
	t.Parallel()
	for _, c := range decodeEdgeCases() {
		for _, limit := range []int{DefaultMaxBytes, 0, len(c), len(c) - 1} {
			checkDecodeMatchesReference(t, []byte(c), limit)
		}
	}
}

// TestDecodeShared checks which fields DecodeShared takes from the buffer
// and which it copies, and that DecodeLimit copies every one.
func TestDecodeShared(t *testing.T) {
	t.Parallel()
	b := []byte("\ufeff{\"id\":\" tg:c:1 \",\"source\":\"tg\",\"title\":\"Rates \\\"up\\\"\",\"body\":\"Plain body.\",\"lang\":\"EN\",\"x\":1.5}")
	in := func(s string) bool {
		p := uintptr(unsafe.Pointer(unsafe.StringData(s)))
		start := uintptr(unsafe.Pointer(&b[0]))
		return p >= start && p < start+uintptr(len(b))
	}
	// x is a number: not the flat shape, so fastjson decodes it and every field is copied.
	m, err := DecodeShared(b, DefaultMaxBytes)
	if err != nil {
		t.Fatal(err)
	}
	if in(m.ID) || in(m.Body) {
		t.Error("DecodeShared shared a field of a message fastjson decoded")
	}
	b = bytes.Replace(b, []byte(`"x":1.5`), []byte(`"x":"1.5"`), 1)
	m, err = DecodeShared(b, DefaultMaxBytes)
	if err != nil {
		t.Fatal(err)
	}
	want := Message{ID: "tg:c:1", Source: "tg", Title: `Rates "up"`, Body: "Plain body.", Lang: "en"}
	if m != want {
		t.Fatalf("DecodeShared = %+v, want %+v", m, want)
	}
	for _, f := range []struct {
		name, v string
		shared  bool
	}{{"id", m.ID, true}, {"source", m.Source, true}, {"title", m.Title, false}, {"body", m.Body, true}} {
		if in(f.v) != f.shared {
			t.Errorf("DecodeShared: %s shares the buffer: %v, want %v", f.name, in(f.v), f.shared)
		}
	}
	m, err = DecodeLimit(b, DefaultMaxBytes)
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range []string{m.ID, m.Source, m.Title, m.Body, m.Lang} {
		if in(v) {
			t.Errorf("DecodeLimit: %q shares the buffer", v)
		}
	}
}

// TestDecodeEscapes pins how fastjson unescapes strings: DecodeLimit relies
// on unescaping valid UTF-8 giving valid UTF-8.
func TestDecodeEscapes(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct{ in, want string }{
		{`a\nb\t\"\\\/`, "a\nb\t\"\\/"},
		{`caf\u00e9`, "café"},
		{`\ud83d\ude00`, "😀"},
		{`\ud800`, `\ud800`},
		{`x\udc00y`, `x\udc00y`},
		{`\ud800\u0041`, "\uFFFD"},
		{`\ud800\udbff`, "\uFFFD"},
		{`\ud800\u12`, `\ud800\u12`},
		{`\u12`, `\u12`},
		{`\uzzzz`, `\uzzzz`},
		{`\x\é`, `\x\é`},
	} {
		in := `{"id":"a","source":"s","title":"t","body":"` + tt.in + `"}`
		m, err := Decode([]byte(in))
		if err != nil {
			t.Errorf("%s: %v", in, err)
			continue
		}
		if m.Body != tt.want {
			t.Errorf("%s: body %q, want %q", in, m.Body, tt.want)
		}
	}
}
