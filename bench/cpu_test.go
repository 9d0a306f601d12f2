package main

import (
	"net"
	"os"
	"testing"
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
