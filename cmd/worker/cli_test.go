package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"newsflow/internal/cli"
)

// result is one run of the program as main would see it.
type result struct {
	err            error
	code           int
	stdout, stderr string
}

// runWorker runs the program with args and the variables env; unless env
// says otherwise, its data dir is a fresh one and NATS unreachable, so a
// command that is wrongly accepted fails instead of touching shared state.
func runWorker(t *testing.T, env map[string]string, args ...string) result {
	t.Helper()
	getenv := func(k string) string {
		if v, ok := env[k]; ok {
			return v
		}
		switch k {
		case "NEWSFLOW_DATA_DIR":
			return filepath.Join(t.TempDir(), "data")
		case "NATS_URL":
			return "nats://127.0.0.1:1"
		}
		return ""
	}
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	var out, errOut bytes.Buffer
	err := run(ctx, args, getenv, strings.NewReader(""), &out, &errOut)
	return result{err: err, code: cli.ExitCode(err), stdout: out.String(), stderr: errOut.String()}
}

// commands lists every command path of the program ("run", "dlq show", ...).
func commands() [][]string {
	var out [][]string
	var walk func(c *cobra.Command, path []string)
	walk = func(c *cobra.Command, path []string) {
		for _, s := range c.Commands() {
			p := append(append([]string{}, path...), s.Name())
			out = append(out, p)
			walk(s, p)
		}
	}
	walk(newRoot(&env{getenv: os.Getenv}), nil)
	return out
}

// badValue is an invalid value for a flag of pflag type typ, "" when any
// string is valid at parse time.
func badValue(typ string) string {
	switch typ {
	case "int", "int64", "uint64":
		return "lots"
	case "duration":
		return "soon"
	case "float64":
		return "half"
	case "bool":
		return "maybe"
	case "durations":
		return "1s,later"
	case "seqs":
		return "first"
	}
	return ""
}

// TestCLI_Table runs every subcommand with --help, every flag with a bad
// value on the command line and, for configuration, in its variable, and
// checks every flag is classified (configuration or option).
func TestCLI_Table(t *testing.T) {
	t.Parallel()
	if u := cli.Unclassified(newRoot(&env{getenv: os.Getenv})); len(u) > 0 {
		t.Errorf("flags neither configuration nor option: %v", u)
	}
	for _, path := range append([][]string{nil}, commands()...) {
		name := "worker " + strings.Join(path, " ")
		r := runWorker(t, nil, append(path, "--help")...)
		if r.code != 0 || !strings.Contains(r.stdout, "Usage:") {
			t.Errorf("%s --help: exit %d (%v), stdout %q", name, r.code, r.err, r.stdout)
		}
		if len(path) == 0 || path[0] == "completion" || path[0] == "help" {
			continue
		}
		c, _, _ := newRoot(&env{getenv: os.Getenv}).Find(path)
		if !c.Runnable() || c.HasSubCommands() {
			continue
		}
		args := path
		if c.Name() == "show" {
			args = append(args, "1")
		}
		c.LocalFlags().VisitAll(func(f *pflag.Flag) {
			bad := badValue(f.Value.Type())
			if bad == "" || f.Hidden {
				return
			}
			r := runWorker(t, nil, append(args, "--"+f.Name+"="+bad)...)
			if r.code != 2 || !strings.Contains(r.err.Error(), "--"+f.Name) || !strings.Contains(r.err.Error(), bad) ||
				strings.Contains(r.err.Error(), "\n") {
				t.Errorf("%s --%s=%s: exit %d, error %v; want exit 2 and one line naming the flag and the value", name, f.Name, bad, r.code, r.err)
			}
			if v := cli.Env(f); v != "" {
				r := runWorker(t, map[string]string{v: bad}, args...)
				if r.code != 2 || !strings.Contains(r.err.Error(), v+" (--"+f.Name+")") || !strings.Contains(r.err.Error(), bad) {
					t.Errorf("%s with %s=%s: exit %d, error %v; want exit 2 naming the variable, the flag and the value", name, v, bad, r.code, r.err)
				}
			}
		})
	}
}

// The cases: each rejected with exit 2, naming the flag, before
// anything is created.
func TestRun_RejectedBeforeStart(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		args []string
		env  map[string]string
		want string
	}{
		{[]string{"--committers", "0"}, nil, "--committers"},
		{[]string{"--batch-size", "0"}, nil, "--batch-size"},
		{[]string{"--fetch-batch", "0"}, nil, "--fetch-batch"},
		{[]string{"--llm-concurrency", "0"}, nil, "--llm-concurrency"},
		{[]string{"--llm-timeout", "0"}, nil, "--llm-timeout"},
		{[]string{"--cache-ttl", "0"}, nil, "--cache-ttl"},
		{[]string{"--lag-interval", "-1s"}, nil, "--lag-interval"},
		{[]string{"--batch-wait=-1s"}, nil, "--batch-wait"},
		{[]string{"--cache-entries", "-1"}, nil, "--cache-entries"},
		{[]string{"--llm-rpm", "-3"}, nil, "--llm-rpm"},
		{[]string{"--max-message-bytes", "10"}, nil, "--max-message-bytes"},
		{[]string{"--redis-url", "foo"}, nil, "--redis-url"},
		{nil, map[string]string{"REDIS_URL": "foo"}, "REDIS_URL (--redis-url)"},
		{[]string{"--redis-mode", "sentinel"}, nil, `invalid value "sentinel" for --redis-mode: want single or cluster`},
		{nil, map[string]string{"NEWSFLOW_REDIS_MODE": "Cluster"}, "NEWSFLOW_REDIS_MODE (--redis-mode)"},
		{[]string{"--redis-mode", "cluster"}, nil, "--redis-mode cluster needs --redis-url"},
		{[]string{"--redis-url", "redis://h1:7000?addr=h2:7001"}, nil, "for Redis Cluster set --redis-mode cluster"},
		{[]string{"--redis-mode", "cluster", "--redis-url", "redis://h1:7000/2?addr=h2:7001"}, nil, "only database 0"},
		{[]string{"--redis-mode", "cluster", "--redis-url", "redis://h1:7000?addr=h2"}, nil, "--redis-url with --redis-mode cluster"},
		{[]string{"--database-url", "mysql://x"}, nil, "--database-url"},
		{[]string{"--http-addr", "nowhere"}, nil, "--http-addr"},
		{[]string{"--llm-provider", "gpt5"}, nil, "--llm-provider"},
		{[]string{"--batch-wait", "40s"}, nil, "--ack-wait"},
		{[]string{"--dlq-stream", "NEWS"}, nil, "--dlq-stream"},
		{[]string{"extra"}, nil, `unexpected argument "extra"`},
	} {
		dir := filepath.Join(t.TempDir(), "data")
		r := runWorker(t, tc.env, append([]string{"run", "--data-dir", dir, "--http-addr", "127.0.0.1:0"}, tc.args...)...)
		if r.code != 2 || !strings.Contains(r.err.Error(), tc.want) {
			t.Errorf("run %v %v: exit %d, error %v; want exit 2 naming %s", tc.args, tc.env, r.code, r.err, tc.want)
		}
		if _, err := os.Stat(dir); !os.IsNotExist(err) {
			t.Errorf("run %v %v created the data dir", tc.args, tc.env)
		}
	}
}

// Flags after positional arguments are parsed: the NATS URL given after
// the sequence is the one dialled.
func TestCLI_FlagAfterPositional(t *testing.T) {
	t.Parallel()
	r := runWorker(t, map[string]string{"NATS_URL": ""}, "dlq", "show", "11", "--json", "--nats-url", "nats://127.0.0.1:1")
	if r.code != 1 || !strings.Contains(r.err.Error(), "127.0.0.1:1") {
		t.Errorf("dlq show 11 --json --nats-url ...: exit %d, error %v; want a connection failure to 127.0.0.1:1", r.code, r.err)
	}
}

func TestCLI_VersionAndCompletion(t *testing.T) {
	t.Parallel()
	if r := runWorker(t, nil, "--version"); r.code != 0 || !strings.HasPrefix(r.stdout, "worker ") {
		t.Errorf("--version: exit %d, stdout %q", r.code, r.stdout)
	}
	for _, sh := range []string{"bash", "zsh", "fish"} {
		if r := runWorker(t, nil, "completion", sh); r.code != 0 || !strings.Contains(r.stdout, "worker") {
			t.Errorf("completion %s: exit %d (%v)", sh, r.code, r.err)
		}
	}
	if r := runWorker(t, nil, "runn"); r.code != 2 || !strings.Contains(r.err.Error(), "did you mean run?") {
		t.Errorf("runn: exit %d, error %v", r.code, r.err)
	}
	if r := runWorker(t, nil); r.code != 2 {
		t.Errorf("no command: exit %d, want 2", r.code)
	}
}
