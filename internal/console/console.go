package console

import (
	"bytes"
	"cmp"
	"context"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"strings"
	"time"

	"go.uber.org/zap"

	"newsflow/internal/deadletter"
	"newsflow/internal/store"
)

//go:embed assets
var assets embed.FS

// Stories is what the Stories page needs of a store.
type Stories interface {
	Top(ctx context.Context, q store.TopQuery) ([]store.TopStory, error)
}

// Config is what a Console shows and whether it may change anything.
type Config struct {
	// Sampler feeds the overview. Required.
	Sampler *Sampler
	// DLQ is the dead-letter stream; nil: the page says it is not available.
	DLQ *deadletter.DLQ
	// Stories is the database; nil: the page says it is not available.
	Stories Stories
	// Workers lists the live workers; nil: the page says it is not available.
	Workers WorkerLister
	// Write allows replay and purge of dead letters. Off by default: the
	// console's address is unauthenticated.
	Write bool
	// Subtitle names what is watched (e.g. the stream and consumer).
	Subtitle string
	// StaleAfter is the heartbeat age past which a listed worker shows as
	// gone. Default DefaultStaleAfter.
	StaleAfter time.Duration
}

// Console serves the console's pages and their JSON twins.
type Console struct {
	cfg   Config
	log   *zap.Logger
	pages map[string]*template.Template
	seen  roster
	mux   *http.ServeMux
	now   func() time.Time
}

// requestTimeout bounds the work a page does against NATS or the database.
const requestTimeout = 10 * time.Second

// New returns a console over cfg. A nil log discards logs.
func New(cfg Config, log *zap.Logger) (*Console, error) {
	if cfg.Sampler == nil {
		return nil, errors.New("console: need a Sampler")
	}
	if log == nil {
		log = zap.NewNop()
	}
	cfg.StaleAfter = cmp.Or(cfg.StaleAfter, DefaultStaleAfter)
	c := &Console{cfg: cfg, log: log.Named("console"), pages: map[string]*template.Template{}, now: time.Now}
	layout, err := template.New("layout.html").Funcs(funcs).ParseFS(assets, "assets/layout.html")
	if err != nil {
		return nil, fmt.Errorf("console: templates: %w", err)
	}
	names, err := fs.Glob(assets, "assets/page_*.html")
	if err != nil {
		return nil, err
	}
	for _, n := range names {
		t, err := template.Must(layout.Clone()).ParseFS(assets, n)
		if err != nil {
			return nil, fmt.Errorf("console: templates: %w", err)
		}
		c.pages[n[len("assets/page_"):len(n)-len(".html")]] = t
	}
	c.routes()
	return c, nil
}

// ServeHTTP serves the console. Mount it at "/".
func (c *Console) ServeHTTP(w http.ResponseWriter, r *http.Request) { c.mux.ServeHTTP(w, r) }

func (c *Console) routes() {
	mux := http.NewServeMux()
	static, _ := fs.Sub(assets, "assets/static")
	mux.Handle("GET /static/", http.StripPrefix("/static/", http.FileServerFS(static)))

	mux.HandleFunc("GET /{$}", c.overview)
	mux.HandleFunc("GET /api/samples", c.apiSamples)
	mux.HandleFunc("GET /api/events", c.events)
	mux.HandleFunc("GET /workers", c.workers)
	mux.HandleFunc("GET /api/workers", c.apiWorkers)
	mux.HandleFunc("GET /dlq", c.dlqList)
	mux.HandleFunc("GET /api/dlq", c.apiDLQList)
	mux.HandleFunc("GET /dlq/{seq}", c.dlqShow)
	mux.HandleFunc("GET /api/dlq/{seq}", c.apiDLQShow)
	mux.HandleFunc("GET /stories", c.stories)
	mux.HandleFunc("GET /api/stories", c.apiStories)

	// Writes: POST only, refused unless Write, refused cross-origin.
	guard := http.NewCrossOriginProtection()
	write := func(h http.HandlerFunc) http.Handler {
		return guard.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if !c.cfg.Write {
				c.fail(w, r, http.StatusForbidden, errors.New("the console is read-only: start it with --console-write to replay or purge dead letters"))
				return
			}
			h(w, r)
		}))
	}
	mux.Handle("POST /dlq/confirm", write(c.dlqConfirm))
	mux.Handle("POST /dlq/{action}", write(c.dlqAct))
	c.mux = mux
}

// page is what every template gets.
type page struct {
	Title    string
	Nav      string
	Subtitle string
	Write    bool
	Data     any
}

// render writes the named page with status code.
func (c *Console) render(w http.ResponseWriter, code int, name, title string, data any) {
	var buf bytes.Buffer
	err := c.pages[name].ExecuteTemplate(&buf, "layout.html", page{Title: title, Nav: name, Subtitle: c.cfg.Subtitle, Write: c.cfg.Write, Data: data})
	if err != nil {
		c.log.Error("render page", zap.String("page", name), zap.Error(err))
		http.Error(w, "console: render "+name+": "+err.Error(), http.StatusInternalServerError)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; frame-ancestors 'none'")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(code)
	_, _ = w.Write(buf.Bytes())
}

// fail answers an error: JSON under /api/, else the error page.
func (c *Console) fail(w http.ResponseWriter, r *http.Request, code int, err error) {
	if code >= 500 {
		c.log.Warn("console request failed", zap.String("path", r.URL.Path), zap.Error(err))
	}
	if isAPI(r) {
		writeJSON(w, code, map[string]string{"error": err.Error()})
		return
	}
	c.render(w, code, "error", http.StatusText(code), err.Error())
}

func isAPI(r *http.Request) bool { return strings.HasPrefix(r.URL.Path, "/api/") }

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}

// errUnavailable marks a part the console was not given (a standalone
// console without a database, a worker without a registry).
var errUnavailable = errors.New("not available here")

// errNotAvailable says what the console was not given and how to give it.
func errNotAvailable(what, how string) error {
	return fmt.Errorf("%s: %w (%s)", what, errUnavailable, how)
}

// statusOf maps an error of a read to its HTTP status.
func statusOf(err error) int {
	switch {
	case errors.Is(err, deadletter.ErrNotFound):
		return http.StatusNotFound
	case errors.Is(err, errUnavailable):
		return http.StatusServiceUnavailable
	}
	return http.StatusBadGateway
}
