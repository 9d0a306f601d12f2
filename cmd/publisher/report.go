package main

import (
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"golang.org/x/term"
)

// summary formats the final line.
func summary(c *counts, elapsed time.Duration) string {
	pub, dup := c.published.Load(), c.duplicates.Load()
	rate := 0.0
	if s := elapsed.Seconds(); s > 0 {
		rate = float64(pub+dup) / s
	}
	return fmt.Sprintf("published %d, duplicates %d (dropped by JetStream), invalid %d, failed %d, %.0f msgs/s",
		pub, dup, c.invalid.Load(), c.failed.Load(), rate)
}

// progress redraws a status line on a terminal while publishing.
type progress struct {
	stop chan struct{}
	wg   sync.WaitGroup
}

// isTerminal reports whether w is a terminal.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// startProgress shows counts on w every 250ms when w is a terminal, and
// does nothing otherwise (piped output stays clean).
func startProgress(w io.Writer, c *counts, start time.Time) *progress {
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
				fmt.Fprint(w, "\r\x1b[K", summary(c, time.Since(start)))
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
