package feed

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

const tinyRSS = `<?xml version="1.0"?><rss version="2.0"><channel><title>t</title><item><title>One</title><guid>1</guid></item></channel></rss>`

func TestFetch_ConditionalGET(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	var got []http.Header
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		got = append(got, r.Header.Clone())
		mu.Unlock()
		if r.Header.Get("If-None-Match") == `W/"v1"` {
			w.WriteHeader(http.StatusNotModified)
			return
		}
		w.Header().Set("ETag", `W/"v1"`)
		w.Header().Set("Last-Modified", "Tue, 01 Dec 2026 08:00:00 GMT")
		w.Header().Set("Cache-Control", "public, max-age=900")
		_, _ = w.Write([]byte(tinyRSS))
	}))
	defer srv.Close()
	f := NewFetcher(DefaultMaxFeedBytes, 10*time.Second, nil)
	r1, err := f.Fetch(t.Context(), srv.URL, Validators{})
	if err != nil {
		t.Fatal(err)
	}
	want := Validators{ETag: `W/"v1"`, LastModified: "Tue, 01 Dec 2026 08:00:00 GMT"}
	if r1.NotModified || r1.Validators != want || r1.MaxAge != 15*time.Minute || string(r1.Body) != tinyRSS {
		t.Fatalf("first fetch = %+v", r1)
	}
	r2, err := f.Fetch(t.Context(), srv.URL, r1.Validators)
	if err != nil {
		t.Fatal(err)
	}
	if !r2.NotModified || r2.Validators != want || len(r2.Body) != 0 {
		t.Errorf("second fetch = %+v, want not modified with the validators kept", r2)
	}
	mu.Lock()
	defer mu.Unlock()
	if h := got[0]; h.Get("If-None-Match") != "" || h.Get("If-Modified-Since") != "" {
		t.Errorf("first request sent validators: %v", h)
	}
	if h := got[1]; h.Get("If-None-Match") != want.ETag || h.Get("If-Modified-Since") != want.LastModified {
		t.Errorf("second request validators = %q, %q; want %q, %q", h.Get("If-None-Match"), h.Get("If-Modified-Since"), want.ETag, want.LastModified)
	}
	if ua := got[0].Get("User-Agent"); !strings.HasPrefix(ua, "newsflow-feeds/") {
		t.Errorf("User-Agent = %q", ua)
	}
}

func TestFetch_Gzip(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	_, _ = zw.Write([]byte(strings.Repeat(tinyRSS, 50)))
	_ = zw.Close()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Accept-Encoding") != "gzip" {
			t.Errorf("Accept-Encoding = %q", r.Header.Get("Accept-Encoding"))
		}
		w.Header().Set("Content-Encoding", "gzip")
		_, _ = w.Write(buf.Bytes())
	}))
	defer srv.Close()
	r, err := NewFetcher(DefaultMaxFeedBytes, 10*time.Second, nil).Fetch(t.Context(), srv.URL, Validators{})
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Body) != 50*len(tinyRSS) || r.WireBytes != int64(buf.Len()) {
		t.Errorf("body %d bytes (want %d), wire %d (want %d)", len(r.Body), 50*len(tinyRSS), r.WireBytes, buf.Len())
	}
	// The cap applies after decompression: a small gzip body can be a big feed.
	if _, err := NewFetcher(1000, 10*time.Second, nil).Fetch(t.Context(), srv.URL, Validators{}); !errors.Is(err, ErrTooLarge) {
		t.Errorf("err = %v, want ErrTooLarge", err)
	}
}

func TestFetch_Errors(t *testing.T) {
	t.Parallel()
	mux := http.NewServeMux()
	mux.HandleFunc("/429", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Retry-After", "120")
		w.WriteHeader(http.StatusTooManyRequests)
	})
	mux.HandleFunc("/500", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(500) })
	mux.HandleFunc("/loop", func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, "/loop", http.StatusFound) })
	mux.HandleFunc("/big", func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write(make([]byte, 50<<20)) })
	block := make(chan struct{})
	defer close(block)
	mux.HandleFunc("/slow", func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-block:
		case <-r.Context().Done():
		}
	})
	srv := httptest.NewServer(mux)
	defer srv.Close()
	f := NewFetcher(DefaultMaxFeedBytes, 2*time.Second, nil)
	_, err := f.Fetch(t.Context(), srv.URL+"/429", Validators{})
	var he *HTTPError
	if !errors.As(err, &he) || he.Status != 429 || he.RetryAfter != 2*time.Minute {
		t.Errorf("429: err = %v, want HTTPError 429 with Retry-After 2m", err)
	}
	if _, err := f.Fetch(t.Context(), srv.URL+"/500", Validators{}); !errors.As(err, &he) || he.Status != 500 {
		t.Errorf("500: err = %v", err)
	}
	if _, err := f.Fetch(t.Context(), srv.URL+"/loop", Validators{}); err == nil || !strings.Contains(err.Error(), "redirects") {
		t.Errorf("redirect loop: err = %v", err)
	}
	if _, err := NewFetcher(1<<20, time.Minute, nil).Fetch(t.Context(), srv.URL+"/big", Validators{}); !errors.Is(err, ErrTooLarge) {
		t.Errorf("50 MB: err = %v, want ErrTooLarge", err)
	}
	if _, err := f.Fetch(t.Context(), srv.URL+"/slow", Validators{}); err == nil || !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("slow: err = %v, want a deadline error", err)
	}
	tls := httptest.NewTLSServer(mux) // a certificate nobody trusts
	defer tls.Close()
	if _, err := f.Fetch(t.Context(), tls.URL+"/500", Validators{}); err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Errorf("TLS: err = %v, want a certificate error", err)
	}
}

func TestRetryAfter(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	for in, want := range map[string]time.Duration{
		"":                              0,
		"30":                            30 * time.Second,
		"-5":                            0,
		"soon":                          0,
		"Tue, 01 Dec 2026 10:05:00 GMT": 5 * time.Minute,
		"Tue, 01 Dec 2026 09:00:00 GMT": 0,
	} {
		if got := retryAfter(in, now); got != want {
			t.Errorf("retryAfter(%q) = %s, want %s", in, got, want)
		}
	}
	for in, want := range map[string]time.Duration{"max-age=60": time.Minute, "no-cache": 0, "private, max-age=\"30\"": 30 * time.Second, "max-age=x": 0} {
		if got := maxAge(in); got != want {
			t.Errorf("maxAge(%q) = %s, want %s", in, got, want)
		}
	}
}

func TestToUTF8_HeaderWins(t *testing.T) {
	t.Parallel()
	in := []byte("<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?><rss><channel><title>\xcf\xf0\xe8\xe2\xe5\xf2</title></channel></rss>")
	out, err := toUTF8(in, "text/xml; charset=windows-1251")
	if err != nil {
		t.Fatal(err)
	}
	want := `<?xml version="1.0" encoding="UTF-8"?><rss><channel><title>Привет</title></channel></rss>`
	if string(out) != want {
		t.Errorf("toUTF8 = %q, want %q", out, want)
	}
	if _, err := toUTF8(in, "text/xml; charset=klingon"); err == nil || !strings.Contains(err.Error(), `unsupported charset "klingon"`) {
		t.Errorf("unknown charset: err = %v", err)
	}
}
