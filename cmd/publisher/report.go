package main

import (
	"fmt"
	"io"
	"sync"
	"time"

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

// progress redraws a status line on a terminal while publishing.
type progress struct {
	stop chan struct{}
	wg   sync.WaitGroup
}

// isTerminal reports whether w is a terminal.
func isTerminal(w io.Writer) bool { return cli.IsTerminal(w) }

// startProgress shows counts on w every 250ms when w is a terminal, and
// does nothing otherwise (piped output stays clean).
func startProgress(w io.Writer, line func() string) *progress {
	p := &progress{stop: make(chan struct{})}
	if !isTerminal(w) {
		return p
	}
	p.wg.Go(func() {
		t := time.NewTicker(250 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-p.stop:
				fmt.Fprint(w, "\r\x1b[K")
				return
			case <-t.C:
				fmt.Fprint(w, "\r\x1b[K", line())
			}
		}
	})
	return p
}

// end stops the progress line and clears it.
func (p *progress) end() {
	close(p.stop)
	p.wg.Wait()
}
