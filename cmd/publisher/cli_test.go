package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"newsflow/internal/cli"
)

// root is the publisher's command tree.
func root() *cobra.Command { return newRoot(&env{getenv: os.Getenv}) }

func badValue(typ string) string {
	switch typ {
	case "int", "int64":
		return "lots"
	case "duration":
		return "soon"
	case "float64":
		return "half"
	case "bool":
		return "maybe"
	case "rate":
		return "fast"
	}
	return ""
}

// TestCLI_Table runs every subcommand with --help, every flag with a bad
// value on the command line and, for configuration, in its variable, and
// checks every flag is classified.
func TestCLI_Table(t *testing.T) {
	t.Parallel()
	if u := cli.Unclassified(root()); len(u) > 0 {
		t.Errorf("flags neither configuration nor option: %v", u)
	}
	safe := map[string]string{"NATS_URL": "nats://127.0.0.1:1", "NEWSFLOW_DATA_DIR": filepath.Join(t.TempDir(), "data")}
	for _, path := range [][]string{nil, {"send"}, {"gen"}, {"completion"}, {"completion", "bash"}} {
		r := runCmd(t, nil, "", append(path, "--help")...)
		if r.code != 0 || !strings.Contains(r.stdout, "Usage:") {
			t.Errorf("publisher %v --help: exit %d (%v), stdout %q", path, r.code, r.err, r.stdout)
		}
	}
	for _, c := range root().Commands() {
		args := []string{c.Name()}
		if c.Name() == "gen" {
			args = append(args, "--count", "1")
		}
		c.LocalFlags().VisitAll(func(f *pflag.Flag) {
			bad := badValue(f.Value.Type())
			if bad == "" {
				return
			}
			r := runCmd(t, safe, "", append(args, "--"+f.Name+"="+bad)...)
			if r.code != 2 || !strings.Contains(r.err.Error(), "--"+f.Name) || !strings.Contains(r.err.Error(), bad) ||
				strings.Contains(r.err.Error(), "\n") {
				t.Errorf("%v --%s=%s: exit %d, error %v; want exit 2 and one line naming the flag and the value", args, f.Name, bad, r.code, r.err)
			}
			if v := cli.Env(f); v != "" {
				env := map[string]string{v: bad}
				for k, x := range safe {
					if k != v {
						env[k] = x
					}
				}
				r := runCmd(t, env, "", args...)
				if r.code != 2 || !strings.Contains(r.err.Error(), v+" (--"+f.Name+")") || !strings.Contains(r.err.Error(), bad) {
					t.Errorf("%v with %s=%s: exit %d, error %v; want exit 2 naming the variable, the flag and the value", args, v, bad, r.code, r.err)
				}
			}
		})
	}
}

// A flag after a file argument applies: the URL given after the file is
// the one dialled, and the file was opened first.
func TestCLI_FlagAfterPositional(t *testing.T) {
	t.Parallel()
	f := filepath.Join(t.TempDir(), "in.jsonl")
	if err := os.WriteFile(f, []byte(line("a:1", "a", "t")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	r := runCmd(t, nil, "", "send", f, "--subject", "news.x", "--nats-url", "nats://127.0.0.1:1")
	if r.code != 1 || !strings.Contains(r.err.Error(), "127.0.0.1:1") {
		t.Errorf("send FILE --subject x --nats-url ...: exit %d, error %v; want a connection failure to 127.0.0.1:1", r.code, r.err)
	}
	r = runCmd(t, nil, "", "send", filepath.Join(t.TempDir(), "missing.jsonl"), "--subject", "news.x", "--nats-url", "nats://127.0.0.1:1")
	if r.code != 1 || !strings.Contains(r.err.Error(), "missing.jsonl") {
		t.Errorf("send MISSING: exit %d, error %v; want the open error", r.code, r.err)
	}
	if r := runCmd(t, nil, "", "gen", "extra", "--count", "1"); r.code != 2 || !strings.Contains(r.err.Error(), `"extra"`) {
		t.Errorf("gen extra: exit %d, error %v", r.code, r.err)
	}
	if r := runCmd(t, nil, "", "--version"); r.code != 0 || !strings.HasPrefix(r.stdout, "publisher ") {
		t.Errorf("--version: exit %d, stdout %q", r.code, r.stdout)
	}
}
