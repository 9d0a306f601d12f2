package main

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/spf13/cobra"
)

func TestConfig_JSONSourcesAndSecrets(t *testing.T) {
	r := runWorker(t, map[string]string{
		"NEWSFLOW_BATCH_SIZE": "50",
		"DATABASE_URL":        "postgres://news:DBSECRET1@db:5432/news",
		"GEMINI_API_KEY":      "AIzaKEYSECRET",
	}, "config", "--json", "--committers", "3", "--redis-url", "redis://:REDISSECRET@h:6379/0")
	if r.err != nil {
		t.Fatalf("config: %v\n%s", r.err, r.stderr)
	}
	if strings.Contains(r.stdout+r.stderr, "SECRET") {
		t.Errorf("config printed a secret:\n%s", r.stdout)
	}
	rows := map[string]configRow{}
	for l := range strings.Lines(r.stdout) {
		var row configRow
		if err := json.Unmarshal([]byte(l), &row); err != nil {
			t.Fatalf("line %q: %v", l, err)
		}
		rows[row.Flag] = row
	}
	want := map[string]configRow{
		"committers":     {Flag: "committers", Value: "3", Variable: "NEWSFLOW_COMMITTERS", Group: "Batching", Source: "flag"},
		"batch-size":     {Flag: "batch-size", Value: "50", Variable: "NEWSFLOW_BATCH_SIZE", Group: "Batching", Source: "env"},
		"ack-wait":       {Flag: "ack-wait", Value: "30s", Variable: "NEWSFLOW_ACK_WAIT", Group: "Consumer", Source: "default"},
		"database-url":   {Flag: "database-url", Value: "postgres://news:xxxxx@db:5432/news", Variable: "DATABASE_URL", Group: "Database", Source: "env"},
		"gemini-api-key": {Flag: "gemini-api-key", Value: "xxxxx", Variable: "GEMINI_API_KEY", Group: "LLM", Source: "env"},
		"redis-url":      {Flag: "redis-url", Value: "redis://:xxxxx@h:6379/0", Variable: "REDIS_URL", Group: "Cache", Source: "flag"},
	}
	for k, w := range want {
		if rows[k] != w {
			t.Errorf("--%s: got %+v, want %+v", k, rows[k], w)
		}
	}
	// Every configuration flag of run is shown.
	var run *cobra.Command
	for _, c := range newRoot(&env{getenv: func(string) string { return "" }}).Commands() {
		if c.Name() == "run" {
			run = c
		}
	}
	n := 0
	for _, row := range configRowsOf(run) {
		n++
		if _, ok := rows[row]; !ok {
			t.Errorf("--%s of run missing from config", row)
		}
	}
	if rows["log-level"].Group != "Logging" {
		t.Errorf("--log-level: %+v", rows["log-level"])
	}
	if n < 50 || len(rows) != n+2 { // and --log-level, --log-format
		t.Errorf("config shows %d settings, run has %d", len(rows), n)
	}
}

func configRowsOf(c *cobra.Command) []string {
	var out []string
	for _, r := range configRows(c.Flags()) {
		out = append(out, r.Flag)
	}
	return out
}

func TestConfig_TableAndInvalid(t *testing.T) {
	r := runWorker(t, nil, "config")
	if r.err != nil {
		t.Fatalf("config: %v", r.err)
	}
	for _, s := range []string{"Connections:", "Batching:", "LLM:", "--committers", "NEWSFLOW_COMMITTERS", "default"} {
		if !strings.Contains(r.stdout, s) {
			t.Errorf("table lacks %q:\n%s", s, r.stdout)
		}
	}
	for _, args := range [][]string{
		{"config", "--committers", "0"},               // a value rule
		{"config", "--fetch-batch", "30000"},          // a cross check of run
		{"config", "--json", "--redis-url", "foo://"}, // a URL run would reject
	} {
		r := runWorker(t, nil, args...)
		if r.code != 2 || !strings.Contains(r.stdout, "committers") || strings.Contains(r.err.Error(), "\n") {
			t.Errorf("worker %s: exit %d (want 2 after printing), error %v, stdout %d bytes", strings.Join(args, " "), r.code, r.err, len(r.stdout))
		}
	}
	if r := runWorker(t, map[string]string{"NEWSFLOW_COMMITTERS": "-1"}, "config"); r.code != 2 || !strings.Contains(r.err.Error(), "NEWSFLOW_COMMITTERS (--committers)") {
		t.Errorf("bad variable: exit %d, %v", r.code, r.err)
	}
}
