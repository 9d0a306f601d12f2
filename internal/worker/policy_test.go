package worker

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"newsflow/internal/cache"
	"newsflow/internal/llm"
	"newsflow/internal/news"
	"newsflow/internal/store"
)

// TestClassify states the pipeline's policy for every kind of error.
func TestClassify(t *testing.T) {
	t.Parallel()
	status := func(code int) error {
		return fmt.Errorf("llm: gemini: giving up after 4 attempts: %w", &llm.StatusError{Provider: "gemini", StatusCode: code})
	}
	for _, tc := range []struct {
		kind string
		err  error
		want action
	}{
		{"success", nil, ack},
		{"undecodable or invalid message", &news.DecodeError{Field: "id", Reason: "missing"}, deadLetter},
		{"row the database rejects", fmt.Errorf("store: commit 3 rows: %w", &store.DataError{SQLState: "23514"}), deadLetter},
		{"database unreachable", errors.New("store: commit: dial tcp 127.0.0.1:5432: connection refused"), holdWhileDown},
		{"serialization failure", fmt.Errorf("store: commit: %w", errors.New("ERROR: could not serialize access (SQLSTATE 40001)")), holdWhileDown},
		{"commit timed out", fmt.Errorf("store: commit: %w", context.DeadlineExceeded), holdWhileDown},
		{"LLM bad request", status(400), retryLater},
		{"LLM request too large", status(413), retryLater},
		{"LLM API key rejected", status(401), holdWhileDown},
		{"LLM forbidden", status(403), holdWhileDown},
		{"LLM model not found", status(404), holdWhileDown},
		{"LLM timeout answer", status(408), holdWhileDown},
		{"LLM rate limited", status(429), holdWhileDown},
		{"LLM server error", status(503), holdWhileDown},
		{"LLM answer off-schema", &llm.ParseError{Reason: "category", Attempts: 2}, retryLater},
		{"LLM request not buildable", fmt.Errorf("llm: openai: encode request: %w", llm.ErrBadRequest), retryLater},
		{"LLM breaker open", llm.ErrBreakerOpen, holdWhileDown},
		{"LLM call timed out", fmt.Errorf("llm: call timed out: %w", context.DeadlineExceeded), holdWhileDown},
		{"cache lease wait", fmt.Errorf("cache: key k: %w", cache.ErrLeaseWait), holdWhileDown},
	} {
		if got := classify(tc.err); got != tc.want {
			t.Errorf("%s (%v): classify = %s, want %s", tc.kind, tc.err, got, tc.want)
		}
	}
}
