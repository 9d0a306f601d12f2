package telemetry

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/pprof"
	"sort"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.uber.org/zap"
)

// Status is the state of one dependency as a readiness check sees it.
type Status string

// The statuses a check reports. Degraded still counts as ready: the worker
// keeps working, with reduced capacity (e.g. Redis down, in-process cache only).
const (
	StatusOK       Status = "ok"
	StatusDegraded Status = "degraded"
	StatusDown     Status = "down"
)

// CheckResult is the outcome of one readiness check.
type CheckResult struct {
	// Status is ok, degraded or down.
	Status Status `json:"status"`
	// Detail says why, for humans; never secrets or DSNs.
	Detail string `json:"detail,omitempty"`
}

// CheckFunc checks one dependency. It must honour ctx, which carries the
// server's per-check timeout; a check still running at the deadline counts
// as down.
type CheckFunc func(ctx context.Context) CheckResult

// Defaults of Server.
const (
	// DefaultAddr is the worker's metrics and health address.
	DefaultAddr = "127.0.0.1:8081"
	// DefaultCheckTimeout bounds each readiness check.
	DefaultCheckTimeout = 2 * time.Second
	// DefaultShutdownTimeout bounds the graceful shutdown in Run.
	DefaultShutdownTimeout = 5 * time.Second
)

// Server serves /metrics, /healthz and /readyz.
type Server struct {
	addr string
	reg  *prometheus.Registry
	log  *zap.Logger
	srv  *http.Server

	checkTimeout time.Duration // bounds each readiness check
	pprof        bool          // mount net/http/pprof

	mu     sync.Mutex
	mux    *http.ServeMux // built on first use
	checks map[string]CheckFunc
	mounts []mount
	ln     net.Listener
}

// mount is a handler Mount added.
type mount struct {
	pattern string
	h       http.Handler
}

// ServerOption configures a Server at construction.
type ServerOption func(*Server)

// WithPprof mounts net/http/pprof under /debug/pprof/. Off by default: a
// profile costs CPU and reveals internals.
func WithPprof(on bool) ServerOption { return func(s *Server) { s.pprof = on } }

// WithCheckTimeout bounds each readiness check. Default DefaultCheckTimeout.
func WithCheckTimeout(d time.Duration) ServerOption {
	return func(s *Server) { s.checkTimeout = cmp.Or(d, DefaultCheckTimeout) }
}

// NewServer returns a server for addr (host:port; port 0 picks a free one)
// exposing reg at /metrics. It adds the Go runtime and process collectors to
// reg. A nil reg means a fresh registry.
func NewServer(addr string, reg *prometheus.Registry, log *zap.Logger, opts ...ServerOption) *Server {
	if log == nil {
		log = zap.NewNop()
	}
	if reg == nil {
		reg = prometheus.NewRegistry()
	}
	for _, c := range []prometheus.Collector{
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	} {
		if err := reg.Register(c); err != nil {
			var are prometheus.AlreadyRegisteredError
			if !errors.As(err, &are) {
				log.Warn("register runtime collector", zap.Error(err))
			}
		}
	}
	s := &Server{addr: addr, reg: reg, log: log.Named("telemetry"), checks: map[string]CheckFunc{},
		checkTimeout: DefaultCheckTimeout}
	for _, o := range opts {
		o(s)
	}
	// Requests' contexts end when Shutdown begins, so that long-lived
	// responses (the console's event stream) end instead of holding the
	// shutdown until its timeout.
	base, cancel := context.WithCancel(context.Background())
	s.srv = &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { s.handler().ServeHTTP(w, r) }),
		ReadHeaderTimeout: 5 * time.Second, BaseContext: func(net.Listener) context.Context { return base }}
	s.srv.RegisterOnShutdown(cancel)
	return s
}

// Mount serves h at pattern (a net/http ServeMux pattern, e.g. "/" for
// everything the server's own routes do not match). Call it before the
// server serves its first request; later calls have no effect.
func (s *Server) Mount(pattern string, h http.Handler) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.mounts = append(s.mounts, mount{pattern, h})
}

// AddCheck registers (or replaces) the readiness check called name.
func (s *Server) AddCheck(name string, fn CheckFunc) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.checks[name] = fn
}

// Handler returns the server's HTTP handler, for tests and for mounting
// elsewhere.
func (s *Server) Handler() http.Handler { return s.handler() }

func (s *Server) handler() http.Handler {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.mux != nil {
		return s.mux
	}
	mux := http.NewServeMux()
	if s.pprof {
		mux.HandleFunc("/debug/pprof/", pprof.Index)
		mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
		mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
		mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
		mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	}
	// OpenMetrics when the scraper asks for it: only that format carries the
	// histograms' exemplars (trace ids).
	mux.Handle("GET /metrics", promhttp.HandlerFor(s.reg, promhttp.HandlerOpts{Registry: s.reg, EnableOpenMetrics: true}))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		rep := s.Ready(r.Context())
		code := http.StatusOK
		if !rep.Ready {
			code = http.StatusServiceUnavailable
		}
		writeJSON(w, code, rep)
	})
	for _, m := range s.mounts {
		mux.Handle(m.pattern, m.h)
	}
	s.mux = mux
	return mux
}

// Readiness is the /readyz body.
type Readiness struct {
	// Ready is false when any check is down.
	Ready bool `json:"ready"`
	// Status is "ready" or "not_ready".
	Status string `json:"status"`
	// Checks holds each check's result by name.
	Checks map[string]CheckResult `json:"checks"`
}

// Ready runs every check concurrently, each bounded by CheckTimeout, and
// reports the worker ready when none is down.
func (s *Server) Ready(ctx context.Context) Readiness {
	s.mu.Lock()
	checks := make(map[string]CheckFunc, len(s.checks))
	for n, fn := range s.checks {
		checks[n] = fn
	}
	timeout := s.checkTimeout
	s.mu.Unlock()

	rep := Readiness{Ready: true, Status: "ready", Checks: make(map[string]CheckResult, len(checks))}
	var (
		mu sync.Mutex
		wg sync.WaitGroup
	)
	for name, fn := range checks {
		wg.Add(1)
		go func() {
			defer wg.Done()
			res := runCheck(ctx, fn, timeout)
			mu.Lock()
			rep.Checks[name] = res
			mu.Unlock()
		}()
	}
	wg.Wait()
	names := make([]string, 0, len(rep.Checks))
	for n, r := range rep.Checks {
		if r.Status != StatusOK && r.Status != StatusDegraded {
			rep.Ready, rep.Status = false, "not_ready"
			names = append(names, n)
		}
	}
	if len(names) > 0 {
		sort.Strings(names)
		s.log.Debug("not ready", zap.Strings("down", names))
	}
	return rep
}

// runCheck runs fn with a deadline; a check that overruns it, panics or
// returns an unknown status is down.
func runCheck(ctx context.Context, fn CheckFunc, timeout time.Duration) CheckResult {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	done := make(chan CheckResult, 1)
	go func() {
		defer func() {
			if p := recover(); p != nil {
				done <- CheckResult{Status: StatusDown, Detail: fmt.Sprintf("check panicked: %v", p)}
			}
		}()
		done <- fn(ctx)
	}()
	select {
	case res := <-done:
		switch res.Status {
		case StatusOK, StatusDegraded, StatusDown:
		default:
			res = CheckResult{Status: StatusDown, Detail: fmt.Sprintf("unknown status %q: %s", res.Status, res.Detail)}
		}
		return res
	case <-ctx.Done():
		return CheckResult{Status: StatusDown, Detail: fmt.Sprintf("check timed out after %s", timeout)}
	}
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}

// Listen binds the server's address. Run calls it when it was not called
// before; call it first to learn the address of port 0 through Addr.
func (s *Server) Listen() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ln != nil {
		return nil
	}
	ln, err := net.Listen("tcp", s.addr)
	if err != nil {
		return fmt.Errorf("telemetry: listen on %s: %w", s.addr, err)
	}
	s.ln = ln
	return nil
}

// Addr returns the bound address, or nil before Listen.
func (s *Server) Addr() net.Addr {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ln == nil {
		return nil
	}
	return s.ln.Addr()
}

// Run serves until ctx is done, then shuts down gracefully within
// DefaultShutdownTimeout. It returns nil after a clean shutdown.
func (s *Server) Run(ctx context.Context) error {
	if err := s.Listen(); err != nil {
		return err
	}
	s.mu.Lock()
	ln := s.ln
	s.mu.Unlock()
	s.log.Info("serving metrics and health", zap.String("addr", ln.Addr().String()))
	errc := make(chan error, 1)
	go func() { errc <- s.srv.Serve(ln) }()
	select {
	case err := <-errc:
		if errors.Is(err, http.ErrServerClosed) {
			return nil
		}
		return fmt.Errorf("telemetry: serve: %w", err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), DefaultShutdownTimeout)
	defer cancel()
	err := s.Shutdown(sctx)
	if serr := <-errc; serr != nil && !errors.Is(serr, http.ErrServerClosed) && err == nil {
		err = fmt.Errorf("telemetry: serve: %w", serr)
	}
	return err
}

// Shutdown stops the server gracefully: no new connections, in-flight
// requests finish until ctx ends.
func (s *Server) Shutdown(ctx context.Context) error {
	if err := s.srv.Shutdown(ctx); err != nil {
		return fmt.Errorf("telemetry: shutdown: %w", err)
	}
	return nil
}

// NATSCheck reports ok while nc is connected, down while it is reconnecting
// or closed.
func NATSCheck(nc *nats.Conn) CheckFunc {
	return func(context.Context) CheckResult {
		switch st := nc.Status(); st {
		case nats.CONNECTED:
			return CheckResult{Status: StatusOK, Detail: "connected to " + nc.ConnectedServerId()}
		default:
			return CheckResult{Status: StatusDown, Detail: "nats " + st.String()}
		}
	}
}

// PingCheck reports ok when ping returns nil and down with its error
// otherwise. The error text must not carry secrets; pgx and go-redis errors
// do not carry passwords.
func PingCheck(ping func(context.Context) error) CheckFunc {
	return func(ctx context.Context) CheckResult {
		if err := ping(ctx); err != nil {
			return CheckResult{Status: StatusDown, Detail: err.Error()}
		}
		return CheckResult{Status: StatusOK}
	}
}
