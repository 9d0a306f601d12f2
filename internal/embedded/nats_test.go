package embedded

import (
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/goleak"
	"go.uber.org/zap/zaptest"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

func TestStartNATS_PortTakenJetStreamDiscoverShutdown(t *testing.T) {
	t.Parallel()
	// Hold the standard port ourselves if nobody does, so the fallback is always exercised.
	if l, err := net.Listen("tcp", "127.0.0.1:4222"); err == nil {
		t.Cleanup(func() { _ = l.Close() })
	}
	dir := t.TempDir()
	n, err := StartNATS(NATSConfig{DataDir: dir}, zaptest.NewLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	shut := false
	t.Cleanup(func() {
		if !shut {
			n.Shutdown()
		}
	})
	if n.URL() == "" || strings.HasSuffix(n.URL(), ":4222") {
		t.Fatalf("URL %q: want a free port other than the taken 4222", n.URL())
	}

	got, err := DiscoverNATSURL(dir)
	if err != nil || got != n.URL() {
		t.Fatalf("DiscoverNATSURL = %q, %v; want %q", got, err, n.URL())
	}

	nc, err := nats.Connect(got)
	if err != nil {
		t.Fatal(err)
	}
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	s, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "T", Subjects: []string{"t.>"}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := js.Publish(ctx, "t.x", []byte("hello")); err != nil {
		t.Fatal(err)
	}
	m, err := s.GetMsg(ctx, 1)
	if err != nil || string(m.Data) != "hello" || m.Subject != "t.x" {
		t.Fatalf("GetMsg(1) = %+v, %v", m, err)
	}
	if _, err := os.Stat(filepath.Join(dir, "nats", "jetstream")); err != nil {
		t.Fatalf("JetStream store not under the data dir: %v", err)
	}
	nc.Close()

	n.Shutdown()
	shut = true
	if _, err := os.Stat(filepath.Join(dir, URLFile)); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("nats.url still there after Shutdown: %v", err)
	}
	_, err = DiscoverNATSURL(dir)
	if !errors.Is(err, ErrNotRunning) || !strings.Contains(err.Error(), dir) || !strings.Contains(err.Error(), `start "worker run" or set NATS_URL`) || strings.Contains(err.Error(), "\n") {
		t.Fatalf("DiscoverNATSURL after Shutdown: %v", err)
	}
}

func TestDiscoverNATSURL_StaleFile(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	_ = l.Close() // nothing listens there any more
	if err := os.WriteFile(filepath.Join(dir, URLFile), []byte("nats://"+addr+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := DiscoverNATSURL(dir); !errors.Is(err, ErrNotRunning) {
		t.Fatalf("stale nats.url: got %v, want ErrNotRunning", err)
	}
	if _, err := DiscoverNATSURL(filepath.Join(dir, "missing")); !errors.Is(err, ErrNotRunning) {
		t.Fatalf("missing dir: got %v, want ErrNotRunning", err)
	}
}

func TestStartNATS_RestartKeepsData(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	log := zaptest.NewLogger(t)
	for i := range 2 {
		n, err := StartNATS(NATSConfig{DataDir: dir, Port: -1}, log)
		if err != nil {
			t.Fatal(err)
		}
		func() {
			defer n.Shutdown()
			nc, err := nats.Connect(n.URL())
			if err != nil {
				t.Fatal(err)
			}
			defer nc.Close()
			js, _ := jetstream.New(nc)
			ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
			defer cancel()
			s, err := js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{Name: "R", Subjects: []string{"r.>"}})
			if err != nil {
				t.Fatal(err)
			}
			if i == 0 {
				if _, err := js.Publish(ctx, "r.x", []byte("kept")); err != nil {
					t.Fatal(err)
				}
				return
			}
			if m, err := s.GetMsg(ctx, 1); err != nil || string(m.Data) != "kept" {
				t.Fatalf("after restart GetMsg(1) = %v, %v", m, err)
			}
		}()
	}
}
