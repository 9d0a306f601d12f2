package e2e

import (
	"fmt"
	"os"
	"testing"
	"time"

	"newsflow/internal/telemetry"
	"newsflow/internal/workerproc"
)

// TestE2E_WorkerRegistry: three worker processes register; `worker ps`
// lists them; one SIGKILLed drops out within the heartbeat TTL, one stopped
// with SIGTERM drops out at once; the live count follows in `worker lag`
// (WORKERS) and in newsflow_consumer_live_workers, and the replica hint of
// a consumer with no backlog is the minimum (1), not the waiting pulls.
func TestE2E_WorkerRegistry(t *testing.T) {
	t.Parallel()
	const interval = time.Second
	ttl := telemetry.HeartbeatTTL(interval)
	w := setup(t, "NEWSFLOW_HEARTBEAT_INTERVAL="+interval.String(), "NEWSFLOW_LAG_INTERVAL=200ms")
	procs := []*workerproc.Proc{w.start(t), w.start(t), w.start(t)}

	ps := func() []telemetry.Entry {
		t.Helper()
		out, errOut, code := w.cli(t, "ps", "--json", "--consumer", w.name)
		if code != 0 {
			t.Fatalf("worker ps --json: exit %d, stderr %s", code, errOut)
		}
		return decodeLines[telemetry.Entry](t, out)
	}
	pids := func(es []telemetry.Entry) map[string]bool {
		m := map[string]bool{}
		for _, e := range es {
			m[e.ID] = true
		}
		return m
	}
	host, err := os.Hostname()
	if err != nil {
		t.Fatal(err)
	}
	id := func(p *workerproc.Proc) string { return telemetry.WorkerID(host, p.Pid()) }

	var entries []telemetry.Entry
	eventually(t, time.Minute, "3 workers in worker ps", func() (bool, string) {
		entries = ps()
		return len(entries) == 3, fmt.Sprintf("%d entries: %v", len(entries), pids(entries))
	})
	for _, p := range procs {
		if !pids(entries)[id(p)] {
			t.Errorf("worker pid %d (%s) not listed: %v", p.Pid(), id(p), pids(entries))
		}
	}
	for _, e := range entries {
		if e.Stream != w.name || e.Consumer != w.name || e.Version == "" || e.Breaker != telemetry.StateClosed ||
			e.Redis != telemetry.StateNone || e.Heartbeat.Before(e.Started) {
			t.Errorf("entry %+v: want stream and consumer %s, a version, breaker closed (offline provider), redis none", e, w.name)
		}
	}
	lag := func() telemetry.Lag {
		t.Helper()
		out, errOut, code := w.cli(t, "lag", "--json", "--interval=200ms", "--registry-bucket", w.bucket)
		if code != 0 {
			t.Fatalf("worker lag --json: exit %d, stderr %s", code, errOut)
		}
		ls := decodeLines[telemetry.Lag](t, out)
		if len(ls) != 1 {
			t.Fatalf("worker lag --json printed %q, want one consumer", out)
		}
		return ls[0]
	}
	// Awaited, not asserted once: on a loaded machine a beat can be late
	// enough for an entry to lapse for a moment.
	eventually(t, time.Minute, "worker lag: 3 workers, hint 1", func() (bool, string) {
		l := lag()
		return l.Workers == 3 && l.ReplicasHint == 1, fmt.Sprintf("workers %d, hint %d (waiting pulls %d)", l.Workers, l.ReplicasHint, l.NumWaiting)
	})

	// SIGKILL: no chance to delete the entry; it must go within the TTL of
	// its last beat (at most ttl after the kill, plus ps's own time).
	killed := id(procs[0])
	procs[0].Kill()
	kill := time.Now()
	eventually(t, time.Minute, "the killed worker gone from worker ps", func() (bool, string) {
		es := ps()
		return !pids(es)[killed] && len(es) == 2, fmt.Sprint(pids(es))
	})
	took := time.Since(kill)
	t.Logf("killed worker gone from worker ps %s after SIGKILL (TTL %s)", took.Round(time.Millisecond), ttl)
	if took > ttl+10*time.Second {
		t.Errorf("killed worker listed for %s, more than its TTL %s (+10s of slack)", took, ttl)
	}
	eventually(t, time.Minute, "worker lag: 2 workers, hint 1", func() (bool, string) {
		l := lag()
		return l.Workers == 2 && l.ReplicasHint == 1, fmt.Sprintf("workers %d, hint %d", l.Workers, l.ReplicasHint)
	})
	addr := httpAddr(t, procs[1])
	eventually(t, 30*time.Second, "newsflow_consumer_live_workers 2", func() (bool, string) {
		fams, err := scrape(addr)
		if err != nil {
			return false, err.Error()
		}
		v := fams.value("newsflow_consumer_live_workers", "consumer", w.name)
		return v == 2, fmt.Sprintf("live workers gauge %v, hint %v", v, fams.value("newsflow_replicas_hint", "consumer", w.name))
	})

	// SIGTERM: the worker deletes its entry before it exits.
	stopped := id(procs[2])
	if res, err := procs[2].Stop(30 * time.Second); err != nil || res.ExitCode != 0 {
		t.Fatalf("worker stop: %+v, %v", res, err)
	}
	if es := ps(); pids(es)[stopped] {
		t.Errorf("right after a clean stop worker ps lists %v; want %s gone", pids(es), stopped)
	}
}
