package natstest

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"
)

// ServerBinary is the nats-server executable StartServer runs; the
// NEWSFLOW_TEST_NATS_SERVER variable overrides it.
const ServerBinary = "/usr/sbin/nats-server"

// Server is a private nats-server process with JetStream, listening on a
// free loopback port and storing its data in a t.TempDir(). Stop and Start
// restart it on the same port and store, for tests of outages.
type Server struct {
	t        testing.TB
	bin      string
	port     int
	storeDir string

	mu  sync.Mutex
	cmd *exec.Cmd
	out *os.File
}

// StartServer starts a private server and stops it in t.Cleanup. It skips
// the test when the binary is missing.
func StartServer(t testing.TB) *Server {
	t.Helper()
	s := &Server{t: t, bin: serverBinary(t), port: freePorts(t, 1)[0], storeDir: t.TempDir()}
	s.Start()
	t.Cleanup(s.Stop)
	return s
}

// URL is the server's client URL.
func (s *Server) URL() string { return "nats://127.0.0.1:" + strconv.Itoa(s.port) }

// Start (re)starts the server process and waits until it accepts
// connections. It is a no-op while the server runs.
func (s *Server) Start() {
	s.t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd != nil {
		return
	}
	s.cmd, s.out = startProcess(s.t, "server", s.bin, s.storeDir, s.port,
		"-js", "-a", "127.0.0.1", "-p", strconv.Itoa(s.port), "-sd", s.storeDir)
}

// Stop terminates the server process and waits for it to exit. It is a
// no-op when the server is not running.
func (s *Server) Stop() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.stopLocked()
}

func (s *Server) stopLocked() {
	if s.cmd == nil {
		return
	}
	_ = s.cmd.Process.Signal(os.Interrupt)
	done := make(chan struct{})
	go func() { _ = s.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		_ = s.cmd.Process.Kill()
		<-done
	}
	_ = s.out.Close()
	s.cmd, s.out = nil, nil
}

// serverBinary returns the nats-server to run, ServerBinary or
// NEWSFLOW_TEST_NATS_SERVER, and skips t when it is missing.
func serverBinary(t testing.TB) string {
	t.Helper()
	bin := ServerBinary
	if b := os.Getenv("NEWSFLOW_TEST_NATS_SERVER"); b != "" {
		bin = b
	}
	if _, err := os.Stat(bin); err != nil {
		t.Skipf("natstest: no nats-server binary: %v", err)
	}
	return bin
}

// startProcess runs bin with args, its output appended to dir/server.log,
// and waits until it accepts connections on port. When it does not, it kills
// the process and fails t, naming what (the server, a node).
func startProcess(t testing.TB, what, bin, dir string, port int, args ...string) (*exec.Cmd, *os.File) {
	t.Helper()
	logf, err := os.OpenFile(filepath.Join(dir, "server.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		t.Fatalf("natstest: server log: %v", err)
	}
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		_ = logf.Close()
		t.Fatalf("natstest: start %s: %v", bin, err)
	}
	if err := waitListening(port, 10*time.Second); err != nil {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		_ = logf.Close()
		t.Fatalf("natstest: %s did not start: %v (log in %s)", what, err, logf.Name())
	}
	return cmd, logf
}

func waitListening(port int, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	var d net.Dialer
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		c, err := d.DialContext(ctx, "tcp", "127.0.0.1:"+strconv.Itoa(port))
		if err == nil {
			_ = c.Close()
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("port %d: %w", port, err)
		case <-tick.C:
		}
	}
}
