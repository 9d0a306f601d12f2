// Package redact removes secrets from text a newsflow command prints: its
// errors and its logs. It is the one place that knows what a secret looks
// like.
//
// Two kinds of secret are removed:
//   - by form, whatever the value: the password (or NATS token) of every URL,
//     also in comma-separated URL lists with or without spaces; password=
//     in key=value DSNs (quoted or not) and URL queries; API-key query
//     parameters (?key=, api_key=, access_token=, token=); Bearer
//     credentials; api_key=… and "apiKey": "…" fields;
//   - by value: literal secrets the command was given (API keys, passwords
//     parsed out of its URL and DSN settings), as written and percent-encoded.
//
// Every secret is replaced by Mask. A Redactor is safe for concurrent use
// once built; Add must not run concurrently with String.
package redact

import (
	"io"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"sync"
)

// Mask replaces every secret.
const Mask = "xxxxx"

// minLiteral is the shortest literal secret replaced by value; shorter ones
// ("a", "pw") would mangle unrelated text and are still removed by form.
const minLiteral = 4

var (
	// userinfo of a URL: scheme://userinfo@ (no '/', '@' or space inside).
	urlUserinfo = regexp.MustCompile(`([A-Za-z][A-Za-z0-9+.\-]*://)([^\s/@]+)@`)
	// password=… in key=value DSNs and URL queries, quoted or not.
	passwordKV = regexp.MustCompile(`(?i)((?:password|passwd|pwd)\s*=\s*)('(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*"|[^\s&;,'"]+)`)
	// API keys and tokens in URL queries.
	keyQuery = regexp.MustCompile(`(?i)([?&](?:key|api[_-]?key|access_token|token|secret)=)([^&\s"'#]+)`)
	// Bearer credentials.
	bearer = regexp.MustCompile(`(?i)(\bBearer\s+)([A-Za-z0-9._~+/=\-]+)`)
	// api_key=… and "apiKey": "…" (a JSON field or quoted header).
	keyField = regexp.MustCompile(`(?i)(api[_-]?key\s*=\s*["']?|api[_-]?key["']\s*:\s*["']?)([^\s"'&,;]+)`)
)

// tokenSchemes are the URL schemes whose lone userinfo (scheme://x@host) is
// a token, not a user name.
var tokenSchemes = []string{"nats://", "tls://", "ws://", "wss://"}

// String returns s with every secret of a known form replaced by Mask.
func String(s string) string { return byForm(s) }

// byForm applies each pattern only when a cheap substring test says it may
// match: most log lines hold no secret, and the patterns are costly.
func byForm(s string) string {
	lower := strings.ToLower(s)
	if strings.Contains(s, "://") && strings.Contains(s, "@") {
		s = byURL(s)
	}
	if strings.Contains(lower, "pass") || strings.Contains(lower, "pwd") {
		s = passwordKV.ReplaceAllString(s, "${1}"+Mask)
	}
	if strings.Contains(lower, "key") || strings.Contains(lower, "token=") || strings.Contains(lower, "secret=") {
		s = keyQuery.ReplaceAllString(s, "${1}"+Mask)
		s = keyField.ReplaceAllString(s, "${1}"+Mask)
	}
	if strings.Contains(lower, "bearer") {
		s = bearer.ReplaceAllString(s, "${1}"+Mask)
	}
	return s
}

func byURL(s string) string {
	return urlUserinfo.ReplaceAllStringFunc(s, func(m string) string {
		sub := urlUserinfo.FindStringSubmatch(m)
		scheme, info := sub[1], sub[2]
		kept, _, ok := userinfoSecret(scheme, info)
		if !ok {
			return m // a user name alone is not a secret
		}
		return scheme + kept + Mask + "@"
	})
}

// userinfoSecret splits a URL's userinfo into what is kept and the secret:
// "user:" and the password after it, or "" and the whole userinfo when the
// scheme takes a lone token (tokenSchemes). ok is false when the userinfo is
// a user name alone, which is not a secret.
func userinfoSecret(scheme, info string) (kept, secret string, ok bool) {
	if u, p, has := strings.Cut(info, ":"); has {
		return u + ":", p, true
	}
	if slices.Contains(tokenSchemes, strings.ToLower(scheme)) {
		return "", info, true
	}
	return "", "", false
}

// Redactor removes secrets by form and the literal secrets it was given.
type Redactor struct {
	mu       sync.RWMutex
	literals []string // longest first
}

// New returns a Redactor that also removes the given literal secrets.
func New(secrets ...string) *Redactor {
	r := &Redactor{}
	r.Add(secrets...)
	return r
}

// Add adds literal secrets, each also in its percent-encoded forms; empty
// and very short values are ignored.
func (r *Redactor) Add(secrets ...string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, s := range secrets {
		for _, v := range []string{s, url.QueryEscape(s), url.PathEscape(s), strings.TrimSpace(s)} {
			if len(v) >= minLiteral && !slices.Contains(r.literals, v) {
				r.literals = append(r.literals, v)
			}
		}
	}
	slices.SortFunc(r.literals, func(a, b string) int { return len(b) - len(a) })
}

// String returns s with every secret replaced by Mask. A nil Redactor
// removes secrets by form only.
func (r *Redactor) String(s string) string {
	if r != nil {
		r.mu.RLock()
		for _, l := range r.literals {
			s = strings.ReplaceAll(s, l, Mask)
		}
		r.mu.RUnlock()
	}
	return byForm(s)
}

// Error returns err with its message redacted, or nil for nil. The result
// unwraps to err, so errors.As and errors.Is still see what it wraps.
func (r *Redactor) Error(err error) error {
	if err == nil {
		return nil
	}
	msg := r.String(err.Error())
	if msg == err.Error() {
		return err
	}
	return &redacted{msg: msg, err: err}
}

type redacted struct {
	msg string
	err error
}

func (e *redacted) Error() string { return e.msg }
func (e *redacted) Unwrap() error { return e.err }

// Writer returns a writer that redacts each Write on its own before passing
// it to w; a secret split across two writes is not recognised, which suits
// loggers that write whole entries (zap). It reports len(p) written when w
// took the whole redacted text.
func (r *Redactor) Writer(w io.Writer) io.Writer { return &writer{r: r, w: w} }

type writer struct {
	r *Redactor
	w io.Writer
}

// Unwrap returns the writer it writes to, for callers that ask whether the
// destination is a terminal.
func (w *writer) Unwrap() io.Writer { return w.w }

func (w *writer) Write(p []byte) (int, error) {
	out := w.r.String(string(p))
	if _, err := io.WriteString(w.w, out); err != nil {
		return 0, err
	}
	return len(p), nil
}

// Secrets returns the literal secrets in a connection setting: the
// passwords and NATS tokens of a URL or a comma-separated URL list, and the
// password of a key=value DSN, each decoded as well as written.
func Secrets(setting string) []string {
	var out []string
	for _, m := range urlUserinfo.FindAllStringSubmatch(setting, -1) {
		_, secret, ok := userinfoSecret(m[1], m[2])
		if !ok || secret == "" {
			continue
		}
		out = append(out, secret)
		if d, err := url.PathUnescape(secret); err == nil && d != secret {
			out = append(out, d)
		}
	}
	for _, m := range passwordKV.FindAllStringSubmatch(setting, -1) {
		v := m[2]
		if len(v) >= 2 && (v[0] == '\'' || v[0] == '"') {
			v = v[1 : len(v)-1]
			v = strings.NewReplacer(`\'`, `'`, `\"`, `"`, `\\`, `\`).Replace(v)
		}
		if v == "" {
			continue
		}
		out = append(out, v)
		if d, err := url.QueryUnescape(v); err == nil && d != v {
			out = append(out, d)
		}
	}
	return out
}
