package console

import (
	"cmp"
	"context"
	"slices"
	"strings"
	"sync"
	"time"

	"newsflow/internal/telemetry"
)

// Worker is one worker as the worker registry describes it (also a line of
// `worker ps --json`).
type Worker = telemetry.Entry

// WorkerLister lists the live workers. The worker registry provides one
// (over its KV bucket); a worker without it lists itself.
type WorkerLister func(ctx context.Context) ([]Worker, error)

// WorkerRow is a Worker as the Workers page shows it.
type WorkerRow struct {
	Worker
	// State is "live", or "gone" for a worker listed before that the
	// registry no longer lists or whose heartbeat is older than the
	// console's staleness bound.
	State string `json:"state"`
	// UptimeSeconds is the time since Started, at the last heartbeat for a
	// gone worker.
	UptimeSeconds float64 `json:"uptime_seconds"`
}

// Worker states.
const (
	WorkerLive = "live"
	WorkerGone = "gone"
)

// DefaultStaleAfter is how old a heartbeat may be before the console shows
// the worker as gone even though the registry still lists it (three
// heartbeats of the registry's default 5 s, the bucket's own TTL).
const DefaultStaleAfter = 15 * time.Second

// goneFor is how long a gone worker stays on the page.
const goneFor = DefaultWindow

// roster remembers the workers listed recently, so that one that vanished
// from the registry shows as gone for a while instead of disappearing.
type roster struct {
	mu   sync.Mutex
	seen map[string]Worker
}

// rows merges a listing into what was seen before, at now.
func (r *roster) rows(listed []Worker, now time.Time, staleAfter time.Duration) []WorkerRow {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.seen == nil {
		r.seen = map[string]Worker{}
	}
	live := map[string]bool{}
	out := make([]WorkerRow, 0, len(listed))
	for _, w := range listed {
		live[w.ID] = true
		r.seen[w.ID] = w
		st := WorkerLive
		if !w.Heartbeat.IsZero() && now.Sub(w.Heartbeat) > staleAfter {
			st = WorkerGone
		}
		out = append(out, WorkerRow{Worker: w, State: st, UptimeSeconds: uptime(w, now, st)})
	}
	for id, w := range r.seen {
		switch {
		case live[id]:
		case now.Sub(w.Heartbeat) > goneFor:
			delete(r.seen, id)
		default:
			out = append(out, WorkerRow{Worker: w, State: WorkerGone, UptimeSeconds: uptime(w, now, WorkerGone)})
		}
	}
	slices.SortFunc(out, func(a, b WorkerRow) int {
		// Live before gone, then by host and id.
		return cmp.Or(strings.Compare(b.State, a.State), strings.Compare(a.Host, b.Host), strings.Compare(a.ID, b.ID))
	})
	return out
}

func uptime(w Worker, now time.Time, state string) float64 {
	if w.Started.IsZero() {
		return 0
	}
	end := now
	if state == WorkerGone && !w.Heartbeat.IsZero() {
		end = w.Heartbeat
	}
	return max(end.Sub(w.Started).Seconds(), 0)
}
