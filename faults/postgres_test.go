package faults_test

import (
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"newsflow/internal/await"
	"newsflow/internal/natstest"
)

// pgServer is a private Postgres cluster made by initdb, run as the
// postgres user, on a free loopback port.
type pgServer struct {
	t    *testing.T
	bin  string // directory of initdb and pg_ctl
	dir  string // data directory
	port int
}

// startPostgres creates and starts a private Postgres, skipping the test
// when the binaries or the postgres user are missing, and removes it in
// t.Cleanup.
func startPostgres(t *testing.T) *pgServer {
	t.Helper()
	bins, _ := filepath.Glob("/usr/lib/postgresql/*/bin/pg_ctl")
	if len(bins) == 0 {
		t.Skip("no pg_ctl under /usr/lib/postgresql")
	}
	u, err := user.Lookup("postgres")
	if err != nil {
		t.Skipf("no postgres user: %v", err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	root, err := os.MkdirTemp("", "newsflow-pg-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(root) })
	if err := os.Chown(root, uid, gid); err != nil {
		t.Fatal(err)
	}
	s := &pgServer{t: t, bin: filepath.Dir(bins[len(bins)-1]), dir: filepath.Join(root, "data"), port: freePort(t)}
	s.run("initdb", "-D", s.dir, "-A", "trust", "-U", "root", "--no-sync")
	s.start()
	t.Cleanup(func() { s.stop("fast") })
	return s
}

// run runs a Postgres binary as the postgres user.
func (s *pgServer) run(name string, args ...string) {
	s.t.Helper()
	cmd := exec.Command("runuser", append([]string{"-u", "postgres", "--", filepath.Join(s.bin, name)}, args...)...)
	if out, err := cmd.CombinedOutput(); err != nil {
		s.t.Fatalf("%s %v: %v\n%s", name, args, err, out)
	}
}

func (s *pgServer) dsn() string {
	return fmt.Sprintf("postgres://root@127.0.0.1:%d/postgres?sslmode=disable", s.port)
}

func (s *pgServer) start() {
	s.t.Helper()
	s.run("pg_ctl", "-D", s.dir, "-l", filepath.Join(filepath.Dir(s.dir), "server.log"), "-w", "-o",
		fmt.Sprintf("-p %d -k %s -c listen_addresses=127.0.0.1 -c fsync=off", s.port, filepath.Dir(s.dir)), "start")
}

// stop stops the server; mode "immediate" is a crash (no checkpoint,
// connections cut).
func (s *pgServer) stop(mode string) {
	cmd := exec.Command("runuser", "-u", "postgres", "--", filepath.Join(s.bin, "pg_ctl"), "-D", s.dir, "-m", mode, "-w", "stop")
	_ = cmd.Run()
}

// Postgres is stopped hard (pg_ctl stop -m immediate) for 10 s while a
// worker commits a steady inflow: the worker holds its batches (no
// redelivery into the dead-letter stream), commits resume soon after the
// server is back, and every message becomes one row.
func TestFault_PostgresStoppedHard(t *testing.T) {
	t.Parallel()
	dir := need(t)
	pg := startPostgres(t)
	js := jetStream(t, natstest.URL())
	n := newNames(t)
	natstest.DeleteStreamOnCleanup(t, js, n.stream)
	natstest.DeleteStreamOnCleanup(t, js, n.dlq)

	const count, rate, outage = 8000, 1000, 10 * time.Second
	w := start(t, dir, "worker", n.workerArgs(t, natstest.URL(), 1, pg.dsn())...)
	pub := start(t, dir, "publisher gen", n.genArgs(natstest.URL(), 1, count, rate)...)
	var stopped, back time.Time
	p := watch(t, 2*time.Minute, func() int64 { return rows(t, pg.dsn()) }, func(got int64) bool {
		switch {
		case stopped.IsZero() && got >= count/5:
			t.Logf("stopping Postgres (immediate) at %d rows", got)
			pg.stop("immediate")
			stopped = time.Now()
		case !stopped.IsZero() && back.IsZero() && time.Since(stopped) >= outage:
			pg.start()
			back = time.Now()
		}
		return got == count
	})
	resumed := p.longestFrom.Add(p.longest)
	t.Logf("longest pause between commits %s; commits resumed %s after Postgres was back", p.longest.Round(time.Millisecond),
		resumed.Sub(back).Round(time.Millisecond))
	if resumed.Sub(back) > 10*time.Second {
		t.Errorf("commits resumed %s after Postgres returned, want < 10s", resumed.Sub(back))
	}
	if code := pub.wait(t, time.Minute); code != 0 {
		t.Errorf("publisher exit status %d, want 0; log: %s", code, pub.tail())
	}
	w.signal(t, syscall.SIGTERM)
	if code := w.wait(t, 40*time.Second); code != 0 {
		t.Errorf("worker exit status %d, want 0; log: %s", code, w.tail())
	}
	if got := rows(t, pg.dsn()); got != count {
		t.Errorf("%d rows, want %d", got, count)
	}
	if d := streamMsgs(t, js, n.dlq); d != 0 {
		t.Errorf("%d dead letters, want 0", d)
	}
}

// One of two workers is frozen with SIGSTOP past its ack wait, mid-batch,
// and resumed once the other one has committed everything: every message
// is one row, the frozen worker's late commit changes nothing, both exit 0.
func TestFault_WorkerFrozenPastAckWait(t *testing.T) {
	t.Parallel()
	dir := need(t)
	pg := startPostgres(t)
	js := jetStream(t, natstest.URL())
	n := newNames(t)
	natstest.DeleteStreamOnCleanup(t, js, n.stream)
	natstest.DeleteStreamOnCleanup(t, js, n.dlq)

	const count, rate = 6000, 1500
	fast := []string{"--ack-wait", "3s", "--batch-wait", "500ms", "--commit-timeout", "2s"}
	a := start(t, dir, "worker A", n.workerArgs(t, natstest.URL(), 1, pg.dsn(), fast...)...)
	b := start(t, dir, "worker B", n.workerArgs(t, natstest.URL(), 1, pg.dsn(), fast...)...)
	pub := start(t, dir, "publisher gen", n.genArgs(natstest.URL(), 1, count, rate)...)
	await.Until(t, time.Minute, "a fifth of the rows", func() (bool, string) {
		got := rows(t, pg.dsn())
		return got >= count/5, fmt.Sprint(got, " rows")
	})
	a.signal(t, syscall.SIGSTOP)
	frozen := time.Now()
	p := watch(t, 2*time.Minute, func() int64 { return rows(t, pg.dsn()) }, func(got int64) bool { return got == count })
	t.Logf("worker B committed everything %s after A froze; longest pause %s", time.Since(frozen).Round(time.Millisecond), p.longest.Round(time.Millisecond))
	a.signal(t, syscall.SIGCONT)
	if code := pub.wait(t, time.Minute); code != 0 {
		t.Errorf("publisher exit status %d, want 0; log: %s", code, pub.tail())
	}
	for _, w := range []*proc{a, b} {
		w.signal(t, syscall.SIGTERM)
		if code := w.wait(t, 40*time.Second); code != 0 {
			t.Errorf("%s exit status %d, want 0; log: %s", w.name, code, w.tail())
		}
	}
	if got := rows(t, pg.dsn()); got != count {
		t.Errorf("%d rows, want %d", got, count)
	}
	if d := streamMsgs(t, js, n.dlq); d != 0 {
		t.Errorf("%d dead letters, want 0", d)
	}
}
