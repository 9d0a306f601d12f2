package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestSecrets_NeverPrinted feeds each form of NATS credentials through the
// failure path of send (a file and stdin) and gen against unreachable
// addresses, and looks for the secret in stdout, stderr and the error main
// prints.
func TestSecrets_NeverPrinted(t *testing.T) {
	file := filepath.Join(t.TempDir(), "news.jsonl")
	if err := os.WriteFile(file, []byte(line("1", "wire", "a title")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	forms := []struct {
		name string
		args []string
		env  map[string]string
	}{
		{name: "nats-url list", args: []string{"--nats-url", "nats://u:SECRETA@127.0.0.1:1,nats://u:SECRETB@127.0.0.1:2"}},
		{name: "nats-url list with space", args: []string{"--nats-url", "nats://u:SECRETA@127.0.0.1:1, nats://u:SECRETB@127.0.0.1:2"}},
		{name: "NATS_URL list", env: map[string]string{"NATS_URL": "nats://u:SECRETA@127.0.0.1:1, nats://u:SECRETB@127.0.0.1:2"}},
		{name: "nats token", args: []string{"--nats-url", "nats://TOKSECRETX@127.0.0.1:1"}},
		{name: "percent-encoded password", args: []string{"--nats-url", "nats://u:SECRET%2Fpct@127.0.0.1:1"}},
	}
	subcommands := map[string][]string{
		"send file":  {"send", file},
		"send stdin": {"send"},
		"gen":        {"gen", "--count", "3"},
	}
	for name, sub := range subcommands {
		for _, f := range forms {
			t.Run(name+"/"+f.name, func(t *testing.T) {
				env := map[string]string{"NEWSFLOW_LOG_LEVEL": "debug"}
				for k, v := range f.env {
					env[k] = v
				}
				args := append(append([]string{}, sub...), f.args...)
				r := runCmd(t, env, line("2", "wire", "b")+"\n", args...)
				if r.err == nil {
					t.Fatalf("publisher %s succeeded against unreachable addresses", strings.Join(args, " "))
				}
				if strings.Contains(r.stdout+r.stderr, "SECRET") {
					t.Errorf("publisher %s printed a secret:\nstdout: %s\nstderr: %s", strings.Join(args, " "), r.stdout, r.stderr)
				}
			})
		}
	}
}
