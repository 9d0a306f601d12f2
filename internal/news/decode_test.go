package news_test

import (
	"testing"

	"newsflow/internal/news"
)

// TestDecodeGeneratedMatchesReference decodes generated wire messages, some
// of them mangled, with DecodeLimit and the previous implementation and
// requires the same message or the same error.
func TestDecodeGeneratedMatchesReference(t *testing.T) {
	t.Parallel()
	wire, _ := genWire(t, 1024)
	for i, w := range wire {
		news.CheckDecodeMatchesReference(t, w, news.DefaultMaxBytes)
		// Cut short: malformed JSON with a parser error.
		news.CheckDecodeMatchesReference(t, w[:len(w)*i/len(wire)], news.DefaultMaxBytes)
		// Over a limit just below or at its size.
		news.CheckDecodeMatchesReference(t, w, len(w)-i%2)
	}
}
