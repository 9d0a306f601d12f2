package embedded

import (
	"cmp"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"go.uber.org/zap"
)

// URLFile is the name of the file, inside the data directory, that holds the
// running embedded server's client URL.
const URLFile = "nats.url"

// Defaults of NATSConfig.
const (
	DefaultHost = "127.0.0.1"
	DefaultPort = 4222
)

// readyTimeout bounds how long StartNATS waits for the server to accept clients.
const readyTimeout = 10 * time.Second

// NATSConfig configures the embedded server. Zero fields take the defaults.
type NATSConfig struct {
	// DataDir holds the JetStream store (DataDir/nats/jetstream) and nats.url. Required.
	DataDir string
	// Host is the interface to listen on. Default 127.0.0.1.
	Host string
	// Port is the client port. Default 4222; when it is taken, a free port is
	// used instead. -1 always picks a free port.
	Port int
}

// NATS is a running embedded server.
type NATS struct {
	srv     *server.Server
	url     string
	urlPath string
	log     *zap.Logger
}

// StartNATS starts an in-process nats-server with JetStream under
// cfg.DataDir, waits until it accepts connections, and writes its client URL
// to <DataDir>/nats.url.
func StartNATS(cfg NATSConfig, log *zap.Logger) (*NATS, error) {
	if log == nil {
		log = zap.NewNop()
	}
	if cfg.DataDir == "" {
		return nil, errors.New("embedded: NATSConfig.DataDir is required")
	}
	cfg.Host = cmp.Or(cfg.Host, DefaultHost)
	cfg.Port = cmp.Or(cfg.Port, DefaultPort)
	if cfg.Port < -1 || cfg.Port > 65535 {
		return nil, fmt.Errorf("embedded: invalid NATS port %d", cfg.Port)
	}
	log = log.Named("embedded")
	storeDir := filepath.Join(cfg.DataDir, "nats")
	if err := os.MkdirAll(storeDir, 0o755); err != nil {
		return nil, fmt.Errorf("embedded: create data dir: %w", err)
	}
	port := cfg.Port
	if port != server.RANDOM_PORT && !portFree(cfg.Host, port) {
		log.Info("NATS port taken, using a free port", zap.Int("port", port))
		port = server.RANDOM_PORT
	}
	opts := &server.Options{
		ServerName: "newsflow-embedded",
		Host:       cfg.Host,
		Port:       port,
		JetStream:  true,
		StoreDir:   storeDir,
		NoSigs:     true,
		// No HTTP monitoring, cluster or leaf ports: nothing else listens.
	}
	srv, err := server.NewServer(opts)
	if err != nil {
		return nil, fmt.Errorf("embedded: configure NATS server: %w", err)
	}
	srv.SetLoggerV2(serverLogger{log.Named("nats-server").Sugar()}, false, false, false)
	srv.Start()
	if !srv.ReadyForConnections(readyTimeout) {
		srv.Shutdown()
		srv.WaitForShutdown()
		return nil, fmt.Errorf("embedded: NATS server on %s not ready after %s", net.JoinHostPort(cfg.Host, strconv.Itoa(cfg.Port)), readyTimeout)
	}
	n := &NATS{srv: srv, url: srv.ClientURL(), urlPath: filepath.Join(cfg.DataDir, URLFile), log: log}
	if err := writeFileAtomic(n.urlPath, []byte(n.url+"\n")); err != nil {
		srv.Shutdown()
		srv.WaitForShutdown()
		return nil, fmt.Errorf("embedded: advertise URL: %w", err)
	}
	log.Info("embedded NATS server started", zap.String("url", n.url), zap.String("data_dir", cfg.DataDir))
	return n, nil
}

// URL returns the server's client URL, e.g. nats://127.0.0.1:4222.
func (n *NATS) URL() string { return n.url }

// Shutdown removes nats.url (if it still names this server), stops the server
// and waits until it has stopped.
func (n *NATS) Shutdown() {
	if b, err := os.ReadFile(n.urlPath); err == nil && strings.TrimSpace(string(b)) == n.url {
		if err := os.Remove(n.urlPath); err != nil {
			n.log.Warn("remove nats.url", zap.Error(err))
		}
	}
	n.srv.Shutdown()
	n.srv.WaitForShutdown()
	n.log.Info("embedded NATS server stopped", zap.String("url", n.url))
}

// ErrNotRunning is matched (errors.Is) by DiscoverNATSURL's error when no
// embedded server is reachable.
var ErrNotRunning = errors.New("embedded: no running embedded NATS server")

// notFoundError is DiscoverNATSURL's one-line, actionable error.
type notFoundError struct{ dir string }

func (e *notFoundError) Error() string {
	return fmt.Sprintf("no NATS_URL set and no embedded worker found in %s (start \"worker run\" or set NATS_URL)", e.dir)
}

func (e *notFoundError) Is(target error) bool { return target == ErrNotRunning }

// dialTimeout bounds DiscoverNATSURL's liveness check.
const dialTimeout = 500 * time.Millisecond

// DiscoverNATSURL returns the client URL of the embedded server running with
// dataDir, after checking that something listens there. Otherwise it returns
// an error matching ErrNotRunning that tells the user what to do.
func DiscoverNATSURL(dataDir string) (string, error) {
	b, err := os.ReadFile(filepath.Join(dataDir, URLFile))
	if err != nil {
		return "", &notFoundError{dir: dataDir}
	}
	u := strings.TrimSpace(string(b))
	hostPort, ok := strings.CutPrefix(u, "nats://")
	if !ok || hostPort == "" {
		return "", &notFoundError{dir: dataDir}
	}
	c, err := net.DialTimeout("tcp", hostPort, dialTimeout)
	if err != nil {
		return "", &notFoundError{dir: dataDir}
	}
	_ = c.Close()
	return u, nil
}

// portFree reports whether host:port can be listened on now.
func portFree(host string, port int) bool {
	l, err := net.Listen("tcp", net.JoinHostPort(host, strconv.Itoa(port)))
	if err != nil {
		return false
	}
	_ = l.Close()
	return true
}

// writeFileAtomic writes b to path through a temporary file in the same
// directory and a rename, so readers never see a partial file.
func writeFileAtomic(path string, b []byte) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	if _, err := f.Write(b); err != nil {
		_ = f.Close()
		_ = os.Remove(tmp)
		return err
	}
	if err := f.Close(); err != nil {
		_ = os.Remove(tmp)
		return err
	}
	if err := os.Chmod(tmp, 0o644); err != nil {
		_ = os.Remove(tmp)
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		_ = os.Remove(tmp)
		return err
	}
	return nil
}

// serverLogger adapts zap to nats-server's Logger. The server's notices are
// start-up chatter, so they go to Debug; our own Info line says it started.
type serverLogger struct{ s *zap.SugaredLogger }

func (l serverLogger) Noticef(format string, v ...any) { l.s.Debugf(format, v...) }
func (l serverLogger) Warnf(format string, v ...any)   { l.s.Warnf(format, v...) }
func (l serverLogger) Fatalf(format string, v ...any)  { l.s.Errorf(format, v...) }
func (l serverLogger) Errorf(format string, v ...any)  { l.s.Errorf(format, v...) }
func (l serverLogger) Debugf(format string, v ...any)  { l.s.Debugf(format, v...) }
func (l serverLogger) Tracef(format string, v ...any)  { l.s.Debugf(format, v...) }
