package feed

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"time"

	"golang.org/x/net/html/charset"

	"newsflow/internal/buildinfo"
)

// Defaults of the Fetcher.
const (
	DefaultMaxFeedBytes = 10 << 20
	DefaultFetchTimeout = 20 * time.Second
	// MaxRedirects is how many redirects one fetch follows.
	MaxRedirects = 5
)

// UserAgent is the User-Agent of every fetch: newsflow-feeds/<version>.
func UserAgent() string {
	v, _ := buildinfo.Get()
	return "newsflow-feeds/" + v
}

// Validators are what a server said identifies the version it sent; the
// next fetch sends them back exactly as received.
type Validators struct {
	ETag         string `json:"etag,omitempty"`
	LastModified string `json:"last_modified,omitempty"`
}

// Response is one successful fetch.
type Response struct {
	NotModified bool          // 304: nothing new, Body is empty
	Body        []byte        // decoded (gzip removed), converted to UTF-8 when the header named a charset
	ContentType string        // the Content-Type header
	Validators  Validators    // to send next time
	MaxAge      time.Duration // Cache-Control max-age, 0 when absent
	WireBytes   int64         // bytes read off the connection
}

// HTTPError is a fetch answered with a status other than 200 or 304.
type HTTPError struct {
	Status     int
	RetryAfter time.Duration // from Retry-After, 0 when absent
}

func (e *HTTPError) Error() string {
	s := fmt.Sprintf("HTTP %d %s", e.Status, http.StatusText(e.Status))
	if e.RetryAfter > 0 {
		s += fmt.Sprintf(" (Retry-After %s)", e.RetryAfter)
	}
	return s
}

// ErrTooLarge is a feed body over the Fetcher's MaxBytes.
var ErrTooLarge = errors.New("feed larger than --max-feed-bytes")

// Fetcher makes conditional GETs. Its zero value is not usable; use
// NewFetcher.
type Fetcher struct {
	client   *http.Client
	maxBytes int64
	timeout  time.Duration
	ua       string
}

// NewFetcher returns a Fetcher that bounds each fetch to timeout and each
// body (after decompression) to maxBytes, follows at most MaxRedirects
// redirects, and asks for gzip. transport may be nil for
// http.DefaultTransport's settings.
func NewFetcher(maxBytes int64, timeout time.Duration, transport http.RoundTripper) *Fetcher {
	if transport == nil {
		t := http.DefaultTransport.(*http.Transport).Clone()
		t.DisableCompression = true // gzip is asked for and decoded here, so the wire bytes are known
		t.MaxIdleConnsPerHost = 4
		transport = t
	}
	return &Fetcher{
		client: &http.Client{
			Transport: transport,
			CheckRedirect: func(_ *http.Request, via []*http.Request) error {
				if len(via) > MaxRedirects {
					return fmt.Errorf("more than %d redirects", MaxRedirects)
				}
				return nil
			},
		},
		maxBytes: maxBytes,
		timeout:  timeout,
		ua:       UserAgent(),
	}
}

// Fetch GETs url, sending v as If-None-Match / If-Modified-Since. A 304
// returns a Response with NotModified and v kept where the server omitted
// a validator; a 200 returns the body and the new validators (none when the
// server sent none); anything else is an *HTTPError or a network error.
func (f *Fetcher) Fetch(ctx context.Context, url string, v Validators) (*Response, error) {
	ctx, cancel := context.WithTimeout(ctx, f.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("User-Agent", f.ua)
	req.Header.Set("Accept", "application/rss+xml, application/atom+xml, application/feed+json, application/xml;q=0.9, text/xml;q=0.9, application/json;q=0.8, */*;q=0.5")
	req.Header.Set("Accept-Encoding", "gzip")
	if v.ETag != "" {
		req.Header.Set("If-None-Match", v.ETag)
	}
	if v.LastModified != "" {
		req.Header.Set("If-Modified-Since", v.LastModified)
	}
	resp, err := f.client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	out := &Response{ContentType: resp.Header.Get("Content-Type"), MaxAge: maxAge(resp.Header.Get("Cache-Control"))}
	switch resp.StatusCode {
	case http.StatusNotModified:
		out.NotModified = true
		out.Validators = v
		if e := resp.Header.Get("ETag"); e != "" {
			out.Validators.ETag = e
		}
		if lm := resp.Header.Get("Last-Modified"); lm != "" {
			out.Validators.LastModified = lm
		}
		n, _ := io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
		out.WireBytes = n
		return out, nil
	case http.StatusOK:
	default:
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
		return nil, &HTTPError{Status: resp.StatusCode, RetryAfter: retryAfter(resp.Header.Get("Retry-After"), time.Now())}
	}
	out.Validators = Validators{ETag: resp.Header.Get("ETag"), LastModified: resp.Header.Get("Last-Modified")}
	wire := &countingReader{r: resp.Body}
	var body io.Reader = wire
	if strings.EqualFold(resp.Header.Get("Content-Encoding"), "gzip") {
		zr, err := gzip.NewReader(wire)
		if err != nil {
			return nil, fmt.Errorf("gzip: %w", err)
		}
		body = zr
	}
	b, err := io.ReadAll(io.LimitReader(body, f.maxBytes+1))
	out.WireBytes = wire.n
	if err != nil {
		return nil, fmt.Errorf("read body: %w", err)
	}
	if int64(len(b)) > f.maxBytes {
		return nil, fmt.Errorf("%w (%d bytes)", ErrTooLarge, f.maxBytes)
	}
	if b, err = toUTF8(b, out.ContentType); err != nil {
		return nil, err
	}
	out.Body = b
	return out, nil
}

type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

var prologEncoding = regexp.MustCompile(`^(\s*<\?xml[^>]*?encoding\s*=\s*)["'][^"']*["']`)

// toUTF8 converts an XML body whose Content-Type names a charset other than
// UTF-8 and rewrites its prolog to say UTF-8: the header wins over the
// prolog (RFC 7303). A charset named only in the prolog is left to the
// parser, which converts it the same way.
func toUTF8(b []byte, contentType string) ([]byte, error) {
	_, params, err := mime.ParseMediaType(contentType)
	if err != nil {
		return b, nil
	}
	label := strings.ToLower(strings.TrimSpace(params["charset"]))
	if label == "" || label == "utf-8" || label == "utf8" || label == "us-ascii" {
		return b, nil
	}
	r, err := charset.NewReaderLabel(label, bytes.NewReader(b))
	if err != nil {
		return nil, fmt.Errorf("unsupported charset %q in Content-Type", label)
	}
	u, err := io.ReadAll(r)
	if err != nil {
		return nil, fmt.Errorf("convert charset %q: %w", label, err)
	}
	return prologEncoding.ReplaceAll(u, []byte(`${1}"UTF-8"`)), nil
}

// maxAge returns Cache-Control's max-age, 0 when absent or invalid.
func maxAge(cc string) time.Duration {
	for _, d := range strings.Split(cc, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(d), "=")
		if ok && strings.EqualFold(k, "max-age") {
			if n, err := strconv.ParseInt(strings.Trim(v, `"`), 10, 64); err == nil && n > 0 && n < 1<<31 {
				return time.Duration(n) * time.Second
			}
		}
	}
	return 0
}

// retryAfter parses Retry-After (seconds or an HTTP date); 0 when absent,
// invalid or past.
func retryAfter(s string, now time.Time) time.Duration {
	s = strings.TrimSpace(s)
	if s == "" {
		return 0
	}
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		if n <= 0 || n > 1<<31 {
			return 0
		}
		return time.Duration(n) * time.Second
	}
	if t, err := http.ParseTime(s); err == nil && t.After(now) {
		return t.Sub(now)
	}
	return 0
}
