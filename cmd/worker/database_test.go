package main

import (
	"strings"
	"testing"
)

// A --database-url that is no Postgres URL or DSN is rejected the same way
// by every command that uses the database, from the flag or the variable,
// before anything is opened: exit 2 and one line naming where the value
// came from, without the value (it may hold a password).
func TestDatabaseURL_RejectedAlike(t *testing.T) {
	t.Parallel()
	const want = "want a URL like postgres://user@host:5432/db or a key=value DSN"
	commands := [][]string{
		{"top"},
		{"migrate"},
		{"console", "--addr", "127.0.0.1:0"},
		{"run", "--http-addr", "127.0.0.1:0"},
		{"config"},
	}
	for _, tc := range []struct {
		name string
		args []string
		env  map[string]string
		line string
	}{
		{"flag", []string{"--database-url", "bogus://x"}, nil,
			`invalid value for --database-url: scheme "bogus" is not postgres; ` + want},
		{"variable", nil, map[string]string{"DATABASE_URL": "bogus://u:SECRETX@x/db"},
			`invalid value for DATABASE_URL (--database-url): scheme "bogus" is not postgres; ` + want},
		{"malformed URL", []string{"--database-url", "postgres://u:SECRETY@x:port/db"}, nil,
			"invalid value for --database-url: " + want},
		{"malformed DSN", nil, map[string]string{"DATABASE_URL": "host=x password=SECRETZ port"},
			"invalid value for DATABASE_URL (--database-url): " + want},
	} {
		for _, cmd := range commands {
			t.Run(tc.name+"/"+cmd[0], func(t *testing.T) {
				t.Parallel()
				args := append(append([]string{}, cmd...), tc.args...)
				r := runWorker(t, tc.env, args...)
				if r.code != 2 || r.err == nil || r.err.Error() != tc.line {
					t.Fatalf("worker %s %v: exit %d, error %v; want exit 2 and %q", strings.Join(args, " "), tc.env, r.code, r.err, tc.line)
				}
				if strings.Contains(r.stdout+r.stderr, "SECRET") {
					t.Errorf("worker %s printed a secret:\nstdout: %s\nstderr: %s", strings.Join(args, " "), r.stdout, r.stderr)
				}
			})
		}
	}
}
