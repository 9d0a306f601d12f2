package console_test

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"newsflow/internal/browsertest"
)

// TestConsole_Browser clicks through the console in headless Chromium: the
// lag chart fills from the event stream as samples arrive, and a dead
// letter is purged through the list, the confirmation page and its button.
func TestConsole_Browser(t *testing.T) {
	t.Parallel()
	f := setupSampling(t, true, 100*time.Millisecond)
	sctx, stop := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); f.sampler.Run(sctx) }()
	t.Cleanup(func() { stop(); <-done })
	// The gauge moves, so the chart's points differ.
	go func() {
		for i := 0; sctx.Err() == nil; i++ {
			select {
			case <-sctx.Done():
			case <-time.After(50 * time.Millisecond):
				f.pending.Set(float64(10 + i%7))
			}
		}
	}()

	ctx := browsertest.New(t)
	step := func(what string, a chromedp.Action[chromedp.Void]) {
		t.Helper()
		browsertest.Step(t, ctx, time.Minute, what, a)
	}
	text := func(sel string) string { t.Helper(); return browsertest.Text(t, ctx, sel) }

	step("open the overview", chromedp.Navigate(f.srv.URL+"/"))
	// The page draws the history it was served with, then adds the
	// samples the event stream brings.
	c, cancel := context.WithTimeout(ctx, time.Minute)
	loaded, err := chromedp.Run(c, chromedp.Evaluate[int](`document.querySelector("#chart-lag_messages polyline").points.numberOfItems`))
	cancel()
	if err != nil {
		t.Fatal(err)
	}
	step("the lag chart gets points from the event stream", chromedp.Poll[chromedp.Void](
		`document.querySelector("#chart-lag_messages polyline").points.numberOfItems >= `+strconv.Itoa(loaded+3),
		chromedp.WithPollingTimeout(time.Minute)))
	if s := text(`[data-stat="lag_messages"]`); !strings.HasSuffix(s, " msg") {
		t.Errorf("lag figure %q, want messages", s)
	}

	seq := strconv.FormatUint(f.seqs[1], 10)
	step("open the dead letters", chromedp.Navigate(f.srv.URL+"/dlq"))
	step("select one", chromedp.Click(chromedp.CSS(`input[name="seq"][value="`+seq+`"]`)))
	step("ask to purge it", chromedp.Click(chromedp.CSS(`#purge`)))
	step("the confirmation page", chromedp.WaitVisible(chromedp.CSS(`#confirm-purge`)))
	if s := text(`#confirm`); !strings.Contains(s, "\tb2\t") || strings.Contains(s, "\ta1\t") {
		t.Fatalf("confirmation lists %q, want b2 only", s)
	}
	step("confirm", chromedp.Click(chromedp.CSS(`#confirm-purge`)))
	step("the result page", chromedp.WaitVisible(chromedp.CSS(`#result`)))
	if s := text(`#result`); !strings.Contains(s, "Purged 1 dead letter(s): "+seq) {
		t.Fatalf("result %q", s)
	}
	if got := f.dlqSeqs(t); len(got) != 2 || got[0] != f.seqs[0] || got[1] != f.seqs[2] {
		t.Fatalf("DLQ after the purge: %v, want %d and %d", got, f.seqs[0], f.seqs[2])
	}
}
