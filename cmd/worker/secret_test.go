package main

import (
	"bytes"
	"context"
	"strings"
	"sync"
	"testing"
	"time"
)

// secretForm is one way an operator hands the worker a secret: on the
// command line or in a variable. Every secret contains "SECRET".
type secretForm struct {
	name string
	args []string
	env  map[string]string
}

// secretForms are the forms, each pointing at an unreachable address.
func secretForms() []secretForm {
	return []secretForm{
		{name: "nats-url list", args: []string{"--nats-url", "nats://u:SECRETA@127.0.0.1:1,nats://u:SECRETB@127.0.0.1:2"}},
		{name: "nats-url list with space", args: []string{"--nats-url", "nats://u:SECRETA@127.0.0.1:1, nats://u:SECRETB@127.0.0.1:2"}},
		{name: "NATS_URL list", env: map[string]string{"NATS_URL": "nats://u:SECRETA@127.0.0.1:1, nats://u:SECRETB@127.0.0.1:2"}},
		{name: "nats token", args: []string{"--nats-url", "nats://TOKSECRETX@127.0.0.1:1"}},
		{name: "percent-encoded password", args: []string{"--nats-url", "nats://u:SECRET%2Fpct@127.0.0.1:1"}},
		{name: "key=value DSN", env: map[string]string{"DATABASE_URL": "host=127.0.0.1 port=1 user=news password=SECRETC dbname=news connect_timeout=5"}},
		{name: "quoted key=value DSN", args: []string{"--database-url", "host=127.0.0.1 port=1 user=news password='SECRET D' dbname=news connect_timeout=5"}},
		{name: "database URL", args: []string{"--database-url", "postgres://news:SECRETE@127.0.0.1:1/news?connect_timeout=5"}},
		{name: "REDIS_URL", env: map[string]string{"REDIS_URL": "redis://:SECRETF@127.0.0.1:1/0"}},
		{name: "API key", env: map[string]string{"LLM_PROVIDER": "gemini", "GEMINI_API_KEY": "AIzaSECRETG"}},
	}
}

// TestSecrets_NeverPrinted feeds each secret form through the failure path
// of every subcommand that connects somewhere, and looks for it in stdout,
// stderr and the error main prints.
func TestSecrets_NeverPrinted(t *testing.T) {
	subcommands := map[string][]string{
		"run":          {"run", "--http-addr", "127.0.0.1:0"},
		"lag":          {"lag", "--interval", "10ms"},
		"dlq list":     {"dlq", "list"},
		"top":          {"top"},
		"migrate":      {"migrate"},
		"stream apply": {"stream", "apply"},
		"ps":           {"ps"},
		"console":      {"console", "--addr", "127.0.0.1:0"},
		"config":       {"config"},
		"config json":  {"config", "--json"},
	}
	for name, sub := range subcommands {
		for _, f := range secretForms() {
			t.Run(name+"/"+f.name, func(t *testing.T) {
				t.Parallel()
				env := map[string]string{}
				for k, v := range f.env {
					env[k] = v
				}
				if _, ok := env["NATS_URL"]; !ok && !strings.Contains(strings.Join(f.args, " "), "nats://") {
					env["NATS_URL"] = "nats://127.0.0.1:1" // fail fast when the secret is elsewhere
				}
				if _, ok := env["DATABASE_URL"]; !ok && !strings.Contains(strings.Join(f.args, " "), "--database-url") {
					env["DATABASE_URL"] = "postgres://news@127.0.0.1:1/news?connect_timeout=5"
				}
				args := append(append([]string{}, sub...), f.args...)
				r := runWorker(t, env, args...)
				if r.err == nil && !strings.HasPrefix(name, "config") {
					t.Fatalf("worker %s succeeded against unreachable addresses", strings.Join(args, " "))
				}
				msg := ""
				if r.err != nil {
					msg = r.err.Error()
				}
				for _, out := range []string{msg, r.stdout, r.stderr} {
					if strings.Contains(out, "SECRET") {
						t.Errorf("worker %s printed a secret:\nerror: %s\nstdout: %s\nstderr: %s", strings.Join(args, " "), msg, r.stdout, r.stderr)
						break
					}
				}
				if strings.Contains(msg, "\n") {
					t.Errorf("error is not one line: %q", msg)
				}
			})
		}
	}
}

// startWatch cancels a context once its output contains a text.
type startWatch struct {
	mu     sync.Mutex
	buf    bytes.Buffer
	text   string
	cancel context.CancelFunc
}

func (w *startWatch) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf.Write(p)
	if strings.Contains(w.buf.String(), w.text) {
		w.cancel()
	}
	return len(p), nil
}

// TestSecrets_RunLogs: a worker that starts (embedded NATS, SQLite, an
// unreachable Redis with a password, API keys set) and stops logs at debug
// level without any secret.
func TestSecrets_RunLogs(t *testing.T) {
	t.Parallel()
	vars := map[string]string{
		"NEWSFLOW_DATA_DIR": t.TempDir(),
		"REDIS_URL":         "redis://:SECRETF@127.0.0.1:1/0",
		"OPENAI_API_KEY":    "sk-SECRETH",
		"GEMINI_API_KEY":    "AIzaSECRETG",
	}
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	stderr := &startWatch{text: `"worker start"`, cancel: cancel}
	var stdout bytes.Buffer
	err := run(ctx, []string{"run", "--log-level", "debug", "--http-addr", "127.0.0.1:0", "--lag-interval", "0"},
		func(k string) string { return vars[k] }, strings.NewReader(""), &stdout, stderr)
	out := stderr.buf.String()
	if !strings.Contains(out, `"worker start"`) {
		t.Fatalf("the worker did not start: %v\n%s", err, out)
	}
	if strings.Contains(out+stdout.String(), "SECRET") || err != nil && strings.Contains(err.Error(), "SECRET") {
		t.Errorf("worker run printed a secret: %v\n%s", err, out)
	}
}
