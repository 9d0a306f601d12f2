package main

import (
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"time"

	"github.com/schollz/progressbar/v3"

	"newsflow/internal/cli"
	"newsflow/internal/publish"
)

// summary formats the final line: what was stored (and how many of those
// needed retries), dropped as duplicates of earlier input, skipped as
// invalid, not stored, and never tried.
func summary(c publish.Counts, invalid int64, elapsed time.Duration) string {
	rate := 0.0
	if s := elapsed.Seconds(); s > 0 {
		rate = float64(c.Published+c.Duplicates) / s
	}
	return fmt.Sprintf("published %d (retried %d), duplicates %d (in the input, dropped by JetStream), invalid %d, failed %d, not attempted %d, %.0f msgs/s",
		c.Published, c.Retried, c.Duplicates, invalid, c.Failed, c.NotAttempted, rate)
}

// progress shows a progress bar (schollz/progressbar) on stderr while
// publishing, when stderr is a terminal; elsewhere it does nothing, so piped
// and logged output stays clean.
type progress struct {
	bar  *progressbar.ProgressBar
	stop chan struct{}
	wg   sync.WaitGroup
}

// progressTotal is what a bar counts towards: total of unit ("msgs" or
// bytes), or an unknown total (total < 0: a running count of messages).
type progressTotal struct {
	total int64
	bytes bool
}

// startProgress draws a bar on w every 200ms from current(): with a
// percentage and an ETA when t.total is known (gen --count in messages,
// send of regular files in bytes read), a running count otherwise (stdin).
func startProgress(w io.Writer, t progressTotal, current func() int64) *progress {
	p := &progress{stop: make(chan struct{})}
	if !cli.IsTerminal(w) {
		return p
	}
	opts := []progressbar.Option{
		progressbar.OptionSetWriter(w),
		progressbar.OptionThrottle(100 * time.Millisecond),
		progressbar.OptionClearOnFinish(),
		progressbar.OptionSetWidth(30),
		progressbar.OptionSetRenderBlankState(true),
	}
	switch {
	case t.total < 0:
		opts = append(opts, progressbar.OptionSetDescription("published"), progressbar.OptionShowCount(),
			progressbar.OptionShowIts(), progressbar.OptionSetItsString("msgs"), progressbar.OptionSpinnerType(14))
	case t.bytes:
		opts = append(opts, progressbar.OptionSetDescription("sending"), progressbar.OptionShowBytes(true),
			progressbar.OptionShowTotalBytes(true), progressbar.OptionSetPredictTime(true))
	default:
		opts = append(opts, progressbar.OptionSetDescription("publishing"), progressbar.OptionShowCount(),
			progressbar.OptionShowIts(), progressbar.OptionSetItsString("msgs"), progressbar.OptionSetPredictTime(true))
	}
	p.bar = progressbar.NewOptions64(t.total, opts...)
	p.wg.Go(func() {
		tk := time.NewTicker(200 * time.Millisecond)
		defer tk.Stop()
		for {
			select {
			case <-p.stop:
				return
			case <-tk.C:
				_ = p.bar.Set64(current())
			}
		}
	})
	return p
}

// end stops the bar and clears its line.
func (p *progress) end() {
	close(p.stop)
	p.wg.Wait()
	if p.bar != nil {
		_ = p.bar.Clear()
	}
}

// countingReader counts the bytes read through it.
type countingReader struct {
	r io.Reader
	n *atomic.Int64
}

func (c countingReader) Read(b []byte) (int, error) {
	n, err := c.r.Read(b)
	c.n.Add(int64(n))
	return n, err
}
