package llm

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"newsflow/internal/news"
)

// Why net/http and not the vendors' SDKs: each call is one JSON POST with a
// small, stable request and response shape; the official SDKs pull in large
// dependency trees (gRPC, auth libraries, telemetry) and hide the transport,
// while we need control over keep-alive pooling, timeouts and retries (the
// Client does those, once, for every provider).

// maxAnswerBytes bounds how much of a response body is read.
const maxAnswerBytes = 4 << 20

// NewTransport returns an HTTP transport for concurrency parallel calls to
// one host: it keeps that many idle keep-alive connections per host
// (MaxIdleConnsPerHost ≥ concurrency), so steady traffic reuses connections
// instead of paying a TCP and TLS handshake per call. It also opens at most
// concurrency connections per host (MaxConnsPerHost): otherwise a call that
// starts just as another one ends dials afresh, because the finished call's
// connection goes back to the pool a moment after its body is read. More
// parallel calls than that wait for a connection. Timeouts per call are the
// Client's job (context deadlines), so the transport only bounds dialing
// and handshakes.
func NewTransport(concurrency int) *http.Transport {
	if concurrency < 1 {
		concurrency = DefaultConcurrency
	}
	d := &net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}
	return &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           d.DialContext,
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          max(100, 2*concurrency),
		MaxIdleConnsPerHost:   concurrency,
		MaxConnsPerHost:       concurrency,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   10 * time.Second,
		ExpectContinueTimeout: time.Second,
	}
}

func defaultHTTPClient(hc *http.Client, concurrency int) *http.Client {
	if hc != nil {
		return hc
	}
	return &http.Client{Transport: NewTransport(concurrency)}
}

// postJSON sends body as JSON to url and returns the response body of a 2xx
// answer. Any other status becomes a *StatusError, with errMsg extracting the
// provider's message from the error body. The response body is always read
// to the end and closed, so the connection goes back to the pool.
func postJSON(ctx context.Context, hc *http.Client, provider, url string, hdr http.Header, body any,
	errInfo func([]byte) (string, time.Duration)) ([]byte, error) {
	b, err := json.Marshal(body)
	if err != nil {
		return nil, &permanentError{fmt.Errorf("llm: %s: encode request: %w", provider, err)}
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(b))
	if err != nil {
		return nil, &permanentError{fmt.Errorf("llm: %s: build request: %w", provider, err)}
	}
	req.Header = hdr.Clone()
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	resp, err := hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("llm: %s: %w", provider, scrubURLError(err))
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswerBytes))
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10)) // let a slightly oversized body still free the connection
	if err != nil {
		return nil, fmt.Errorf("llm: %s: read answer: %w", provider, err)
	}
	if resp.StatusCode/100 != 2 {
		se := &StatusError{Provider: provider, StatusCode: resp.StatusCode}
		var hint time.Duration
		se.Message, hint = errInfo(data)
		se.Message = shorten(strings.TrimSpace(se.Message), 200)
		se.RetryAfter = parseRetryAfter(resp.Header.Get("Retry-After"), time.Now())
		if se.RetryAfter == 0 {
			se.RetryAfter = hint
		}
		return nil, se
	}
	return data, nil
}

// scrubURLError drops the *url.Error wrapper and with it the URL, which for
// some APIs carries a key in its query; the cause stays inspectable.
func scrubURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

// parseRetryAfter reads a Retry-After header: delay-seconds or an HTTP date.
// It returns 0 for an absent, malformed or past value.
func parseRetryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if secs, err := strconv.ParseFloat(v, 64); err == nil {
		if secs <= 0 || secs > 24*3600 {
			return 0
		}
		return time.Duration(secs * float64(time.Second))
	}
	if t, err := http.ParseTime(v); err == nil {
		if d := t.Sub(now); d > 0 {
			return d
		}
	}
	return 0
}

// askFunc makes one request for req and returns the answer text and the
// usage reported. An answer it cannot read is "" with a nil error: a bad
// answer, not a failed call.
type askFunc func(ctx context.Context, req request) (string, news.Usage, error)

// enrichMany makes one request for ms and parses its answer per story: the
// stories it answered well succeed, the others get a *ParseError. model is
// set on every enrichment. The call's usage is split over the stories by
// their share of the input.
func enrichMany(ctx context.Context, ms []news.Message, model string, ask askFunc) ([]StoryResult, error) {
	if len(ms) == 0 {
		return nil, nil
	}
	if len(ms) > MaxStoriesPerCall {
		return nil, &permanentError{fmt.Errorf("llm: %d stories in one call, at most %d", len(ms), MaxStoriesPerCall)}
	}
	req := newRequest(ms)
	text, u, err := ask(ctx, req)
	if err != nil {
		return nil, err
	}
	got, reasons := parseAnswers(text, req.keys)
	shares := splitUsage(u, req.weight)
	out := make([]StoryResult, len(ms))
	for j, i := range req.order {
		out[i].Usage = shares[i]
		if reasons[j] != "" {
			out[i].Err = &ParseError{Reason: reasons[j], Attempts: 1}
			continue
		}
		got[j].Model = model
		out[i].Enrichment = got[j]
	}
	return out, nil
}

// enrichOne asks about m alone; an answer that does not match the schema
// is asked for once more, then the call fails with a permanent *ParseError.
// Usage adds up over both attempts.
func enrichOne(ctx context.Context, m news.Message, many func(context.Context, []news.Message) ([]StoryResult, error)) (Result, error) {
	var total news.Usage
	reason := "no answer"
	for range 2 {
		rs, err := many(ctx, []news.Message{m})
		if err != nil {
			return Result{Usage: total}, err
		}
		r := rs[0]
		total = total.Add(r.Usage)
		if r.Err == nil {
			return Result{Enrichment: r.Enrichment, Usage: total}, nil
		}
		var pe *ParseError
		if errors.As(r.Err, &pe) {
			reason = pe.Reason
		}
	}
	return Result{Usage: total}, &ParseError{Reason: reason, Attempts: 2}
}
