// Package redistest isolates tests that use Redis: a per-test key prefix on the
// shared loopback Redis (removed in t.Cleanup), and a private redis-server
// process that a test can kill and restart on the same port.
//
// It is imported only from _test.go files. Everything here is safe for
// concurrent use by parallel tests.
package redistest

import (
	"context"
	"crypto/rand"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// DefaultURL is the shared test Redis used when NEWSFLOW_TEST_REDIS_URL is unset.
const DefaultURL = "redis://127.0.0.1:6379/0"

// ServerBinary is the redis-server executable StartServer runs.
var ServerBinary = "/usr/bin/redis-server"

// URL returns NEWSFLOW_TEST_REDIS_URL, or DefaultURL when it is unset.
func URL() string {
	if u := os.Getenv("NEWSFLOW_TEST_REDIS_URL"); u != "" {
		return u
	}
	return DefaultURL
}

// PatientTimeout is PatientURL's dial, read and write timeout; a test using
// PatientURL gives the cache the same per-call bound (cache.Config.CallTimeout).
const PatientTimeout = 10 * time.Second

// PatientURL is URL with 10 s dial, read and write timeouts, for tests that
// count exactly what happened while Redis was up: on a heavily loaded machine
// a loopback dial can outlast the cache's 1 s default, and the cache then
// rightly degrades to its memory tier, which such a test does not measure.
func PatientURL() string { return Patient(URL()) }

// Patient returns the Redis URL u with PatientTimeout as its dial, read and
// write timeouts.
func Patient(u string) string {
	sep := "?"
	if strings.Contains(u, "?") {
		sep = "&"
	}
	d := PatientTimeout.String()
	return u + sep + "dial_timeout=" + d + "&read_timeout=" + d + "&write_timeout=" + d
}

// Client returns a new client for the shared test Redis, closed in t.Cleanup.
// The test fails at once if Redis does not answer a PING.
func Client(tb testing.TB) *redis.Client {
	tb.Helper()
	opt, err := redis.ParseURL(URL())
	if err != nil {
		tb.Fatalf("redistest: parse NEWSFLOW_TEST_REDIS_URL: %v", err)
	}
	opt.DialTimeout, opt.ReadTimeout, opt.WriteTimeout = time.Second, time.Second, time.Second
	rdb := redis.NewClient(opt)
	tb.Cleanup(func() { _ = rdb.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := rdb.Ping(ctx).Err(); err != nil {
		tb.Fatalf("redistest: shared redis unreachable: %v", err)
	}
	return rdb
}

// Prefix returns a key prefix unique to this test ("test:<name>:<random>:").
// In t.Cleanup every key under it is deleted (SCAN + DEL) through rdb, which
// must still be open then: register Prefix after the client's own cleanup
// (cleanups run last-in first-out), as Client does.
func Prefix(tb testing.TB, rdb redis.UniversalClient) string {
	tb.Helper()
	name := strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '_', r == '-':
			return r
		}
		return '_'
	}, tb.Name())
	prefix := "test:" + name + ":" + strings.ToLower(rand.Text()[:8]) + ":"
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := DeletePrefix(ctx, rdb, prefix); err != nil {
			tb.Logf("redistest: clean up %q: %v", prefix, err)
		}
	})
	return prefix
}

// DeletePrefix deletes every key that starts with prefix, using SCAN so a
// large keyspace does not block the server; on a cluster, on every master.
func DeletePrefix(ctx context.Context, rdb redis.UniversalClient, prefix string) error {
	if c, ok := rdb.(*redis.ClusterClient); ok {
		return c.ForEachMaster(ctx, func(ctx context.Context, n *redis.Client) error {
			return DeletePrefix(ctx, n, prefix)
		})
	}
	var cursor uint64
	for {
		keys, next, err := rdb.Scan(ctx, cursor, escapeGlob(prefix)+"*", 500).Result()
		if err != nil {
			return fmt.Errorf("redistest: scan %q: %w", prefix, err)
		}
		if len(keys) > 0 {
			if err := rdb.Del(ctx, keys...).Err(); err != nil {
				return fmt.Errorf("redistest: delete %d keys: %w", len(keys), err)
			}
		}
		if next == 0 {
			return nil
		}
		cursor = next
	}
}

func escapeGlob(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch r {
		case '*', '?', '[', ']', '\\':
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	return b.String()
}

// Server is a private redis-server process on a loopback port, without
// persistence, so a test can kill it and start it again on the same port.
type Server struct {
	Port int

	tb   testing.TB
	dir  string
	args []string // extra redis-server arguments, set before Start

	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{}
}

// StartServer starts a private redis-server on a free loopback port and waits
// until it answers PING. It is killed in t.Cleanup. The test is skipped when
// the binary is missing.
func StartServer(tb testing.TB) *Server {
	tb.Helper()
	s := newServer(tb)
	s.Start()
	return s
}

// newServer prepares a server on a free port, killed in t.Cleanup, without
// starting it; it skips the test when the binary is missing.
func newServer(tb testing.TB) *Server {
	tb.Helper()
	if _, err := os.Stat(ServerBinary); err != nil {
		tb.Skipf("redistest: %s not available (install the redis-server package): %v", ServerBinary, err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatalf("redistest: find a free port: %v", err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	_ = l.Close()
	s := &Server{Port: port, tb: tb, dir: tb.TempDir()}
	tb.Cleanup(s.Kill)
	return s
}

// Addr is the server's host:port.
func (s *Server) Addr() string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(s.Port)) }

// URL is the server's redis:// URL (database 0).
func (s *Server) URL() string { return "redis://" + s.Addr() + "/0" }

// Start starts the server (again) on its port and waits until it answers
// PING. It fails the test if the server does not come up within 10s.
func (s *Server) Start() {
	s.tb.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd != nil {
		s.tb.Fatalf("redistest: server on port %d already running", s.Port)
	}
	cmd := exec.Command(ServerBinary, append([]string{
		"--port", strconv.Itoa(s.Port), "--bind", "127.0.0.1",
		"--save", "", "--appendonly", "no", "--dir", s.dir, "--loglevel", "warning"}, s.args...)...)
	if err := cmd.Start(); err != nil {
		s.tb.Fatalf("redistest: start redis-server: %v", err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	s.cmd, s.done = cmd, done

	rdb := redis.NewClient(&redis.Options{Addr: s.Addr(), DialTimeout: 200 * time.Millisecond, MaxRetries: -1})
	defer func() { _ = rdb.Close() }()
	deadline := time.Now().Add(10 * time.Second)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
		err := rdb.Ping(ctx).Err()
		cancel()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			s.tb.Fatalf("redistest: redis-server on port %d not ready: %v", s.Port, err)
		}
		select {
		case <-done:
			s.tb.Fatalf("redistest: redis-server on port %d exited at start (port taken?)", s.Port)
		case <-tick.C:
		}
	}
}

// Kill kills the server (SIGKILL) and waits until the process has exited.
// Killing a stopped server does nothing.
func (s *Server) Kill() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd == nil {
		return
	}
	_ = s.cmd.Process.Kill()
	<-s.done
	s.cmd, s.done = nil, nil
}
