// Package await lets tests wait for a condition that has no channel to wait
// on (a row count, a consumer's state on the server): it polls the condition
// until it holds, and fails the test at a deadline with the last state the
// condition reported. It is test support; the product never imports it.
package await

import (
	"testing"
	"time"
)

// Interval is how often Until polls.
const Interval = 20 * time.Millisecond

// Until polls cond until it reports true, failing tb after timeout with what
// was awaited and cond's last description of the state.
func Until(tb testing.TB, timeout time.Duration, what string, cond func() (ok bool, state string)) {
	tb.Helper()
	deadline := time.Now().Add(timeout)
	var state string
	for {
		var ok bool
		if ok, state = cond(); ok {
			return
		}
		if time.Now().After(deadline) {
			tb.Fatalf("timed out after %s waiting for %s; last state: %s", timeout, what, state)
		}
		time.Sleep(Interval) // polling interval, not synchronisation
	}
}
