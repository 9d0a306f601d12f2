package redact

import (
	"bytes"
	"errors"
	"io/fs"
	"slices"
	"strings"
	"testing"
)

func TestString_ByForm(t *testing.T) {
	cases := []struct{ in, secret, keep string }{
		{"connect nats://u:SECRETA@h1:4222,nats://u:SECRETB@h2:4222 failed", "SECRET", "nats://u:xxxxx@h1:4222,nats://u:xxxxx@h2:4222"},
		{"nats://u:SECRETA@h1:4222, nats://u:SECRETB@h2:4222", "SECRET", "nats://u:xxxxx@h2:4222"},
		{"nats://TOKENSECRET@h1:4222", "TOKENSECRET", "nats://xxxxx@h1:4222"},
		{"postgres://news:PGSECRET@db:5432/news?sslmode=disable", "PGSECRET", "postgres://news:xxxxx@db"},
		{"redis://:REDISSECRET@127.0.0.1:1/0", "REDISSECRET", "redis://:xxxxx@127.0.0.1"},
		{"host=db user=news password=DSNSECRET dbname=news", "DSNSECRET", "password=xxxxx dbname=news"},
		{"host=db password='DSN SECRET\\' x' dbname=news", "SECRET", "dbname=news"},
		{`host=db password="DSNSECRET" sslmode=disable`, "DSNSECRET", "sslmode=disable"},
		{"postgres://db/news?user=news&password=QSECRET&sslmode=disable", "QSECRET", "&sslmode=disable"},
		{`Get "https://example.com/v1/models?key=APIKEYSECRET": EOF`, "APIKEYSECRET", `?key=xxxxx": EOF`},
		{"Authorization: Bearer sk-BEARERSECRET", "BEARERSECRET", "Bearer xxxxx"},
		{`{"api_key": "FIELDSECRET"}`, "FIELDSECRET", `"api_key": "xxxxx"`},
		{"GEMINI_API_KEY=ENVSECRET", "ENVSECRET", "GEMINI_API_KEY=xxxxx"},
	}
	for _, c := range cases {
		got := String(c.in)
		if strings.Contains(got, c.secret) || !strings.Contains(got, c.keep) {
			t.Errorf("String(%q) = %q: want no %q and %q kept", c.in, got, c.secret, c.keep)
		}
	}
	// What is not a secret stays.
	for _, s := range []string{
		"postgres://news@db:5432/news", "http://127.0.0.1:8081/metrics?x=1", `invalid value "0" for --committers: want a whole number ≥ 1`,
		`invalid value "" for --gemini-api-key: want a key`, "nats://h1:4222,nats://h2:4222",
	} {
		if got := String(s); got != s {
			t.Errorf("String(%q) = %q: want it unchanged", s, got)
		}
	}
}

func TestRedactor_Literals(t *testing.T) {
	r := New("AIzaLITERAL/+key", "ab") // too short a literal is ignored
	for _, in := range []string{"key AIzaLITERAL/+key refused", "url ...%2Fkey=AIzaLITERAL%2F%2Bkey", "path AIzaLITERAL%2F+key"} {
		if got := r.String(in); strings.Contains(got, "LITERAL") {
			t.Errorf("String(%q) = %q", in, got)
		}
	}
	if got := r.String("about ab"); got != "about ab" {
		t.Errorf("short literal replaced: %q", got)
	}
	var nilR *Redactor
	if got := nilR.String("nats://u:p4ss@h"); got != "nats://u:xxxxx@h" {
		t.Errorf("nil Redactor: %q", got)
	}
}

func TestSecrets(t *testing.T) {
	cases := []struct {
		in   string
		want []string
	}{
		{"nats://u:SECRETA@h1:4222, nats://u:SECRETB@h2:4222", []string{"SECRETA", "SECRETB"}},
		{"nats://TOKEN1@h1", []string{"TOKEN1"}},
		{"redis://:p%40ss@h:6379", []string{"p%40ss", "p@ss"}},
		{"host=h password='a b' user=x", []string{"a b"}},
		{"postgres://news@db/news", nil},
	}
	for _, c := range cases {
		if got := Secrets(c.in); !slices.Equal(got, c.want) {
			t.Errorf("Secrets(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

func TestErrorAndWriter(t *testing.T) {
	r := New("LITERALKEY")
	base := &fs.PathError{Op: "open", Path: "nats://u:PW1234@h", Err: fs.ErrNotExist}
	err := r.Error(base)
	if strings.Contains(err.Error(), "PW1234") {
		t.Errorf("Error: %v", err)
	}
	var pe *fs.PathError
	if !errors.As(err, &pe) || !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("redacted error does not unwrap to the original")
	}
	if r.Error(nil) != nil {
		t.Error("Error(nil) != nil")
	}
	var buf bytes.Buffer
	w := r.Writer(&buf)
	in := []byte(`{"msg":"dial","url":"redis://:PW1234@h","key":"LITERALKEY"}` + "\n")
	n, werr := w.Write(in)
	if werr != nil || n != len(in) {
		t.Fatalf("Write = %d, %v", n, werr)
	}
	if s := buf.String(); strings.Contains(s, "PW1234") || strings.Contains(s, "LITERALKEY") {
		t.Errorf("Writer passed a secret: %s", s)
	}
}
