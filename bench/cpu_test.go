package main

import (
	"context"
	"net"
	"os"
	"testing"

	"github.com/jackc/pgx/v5"

	"newsflow/internal/store/storetest"
)

// TestListenerPID: a listener this test opens is found as this process,
// and a closed port as none.
func TestListenerPID(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	if got := listenerPID(port); got != os.Getpid() {
		t.Errorf("listenerPID(%d) = %d; want this process, %d", port, got, os.Getpid())
	}
	g := findServer("self", port)
	if s := g.sample(nil); len(s) != 1 {
		t.Errorf("sample = %v; want this process alone", s)
	} else if _, ok := s[os.Getpid()]; !ok {
		t.Errorf("sample = %v; want this process", s)
	}
	l.Close()
	if got := listenerPID(port); got != 0 {
		t.Errorf("listenerPID(%d) after close = %d; want 0", port, got)
	}
}

func TestPortOf(t *testing.T) {
	for in, want := range map[string]int{
		"nats://127.0.0.1:4333":                           4333,
		"postgres://root@127.0.0.1:5433/test?sslmode=off": 5433,
		"postgres://root@localhost/test":                  5432,
		"host=127.0.0.1 port=5434":                        5432,
	} {
		if got := portOf(in, 5432); got != want {
			t.Errorf("portOf(%q) = %d; want %d", in, got, want)
		}
	}
}

// TestForeignBackends: of two connections with different application
// names, the other application's backend is foreign and the phase's is not.
func TestForeignBackends(t *testing.T) {
	ctx := t.Context()
	base := storetest.DatabaseURL()
	pid := func(app string) int {
		t.Helper()
		cfg, err := pgx.ParseConfig(base)
		if err != nil {
			t.Fatal(err)
		}
		cfg.RuntimeParams["application_name"] = app
		conn, err := pgx.ConnectConfig(ctx, cfg)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { conn.Close(context.Background()) })
		var p int32
		if err := conn.QueryRow(ctx, "SELECT pg_backend_pid()").Scan(&p); err != nil {
			t.Fatal(err)
		}
		return int(p)
	}
	ours, theirs := pid("bench_fb_ours"), pid("bench_fb_theirs")
	got := foreignBackends(ctx, base, "bench_fb_ours")
	if got[ours] || !got[theirs] {
		t.Errorf("foreignBackends: ours (%d) %v, theirs (%d) %v; want false, true", ours, got[ours], theirs, got[theirs])
	}
}
