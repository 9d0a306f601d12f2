package envflag

import (
	"errors"
	"flag"
	"io"
	"strings"
	"testing"
	"time"
)

func TestEnvName(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"batch-size": "NEWSFLOW_BATCH_SIZE",
		"nats-url":   "NATS_URL",
		"http-addr":  "NEWSFLOW_HTTP_ADDR",
		"data-dir":   "NEWSFLOW_DATA_DIR",
	} {
		if got := EnvName(in); got != want {
			t.Errorf("EnvName(%q) = %q, want %q", in, got, want)
		}
	}
}

func newSet() (*flag.FlagSet, *int, *time.Duration, *string) {
	fs := flag.NewFlagSet("worker run", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	n := fs.Int("batch-size", 100, "messages per batch")
	d := fs.Duration("batch-wait", 5*time.Second, "max wait")
	u := fs.String("nats-url", "", "NATS server")
	return fs, n, d, u
}

func TestParse_EnvAndFlags(t *testing.T) {
	t.Parallel()
	fs, n, d, u := newSet()
	env := map[string]string{"NEWSFLOW_BATCH_SIZE": "7", "NEWSFLOW_BATCH_WAIT": "2s", "NATS_URL": "nats://x:1"}
	if err := Parse(fs, []string{"--batch-size=9"}, func(k string) string { return env[k] }); err != nil {
		t.Fatal(err)
	}
	if *n != 9 || *d != 2*time.Second || *u != "nats://x:1" {
		t.Fatalf("got %d %s %q; the flag must win over the env, the env over the default", *n, *d, *u)
	}
}

func TestParse_BadValuesNameFlagAndValue(t *testing.T) {
	t.Parallel()
	fs, _, _, _ := newSet()
	err := Parse(fs, nil, func(k string) string {
		if k == "NEWSFLOW_BATCH_WAIT" {
			return "5 parsecs"
		}
		return ""
	})
	if err == nil || !strings.Contains(err.Error(), "NEWSFLOW_BATCH_WAIT") || !strings.Contains(err.Error(), "5 parsecs") || strings.Contains(err.Error(), "\n") {
		t.Fatalf("want one line naming the variable and value, got %v", err)
	}
	fs, _, _, _ = newSet()
	err = Parse(fs, []string{"--batch-size=many"}, func(string) string { return "" })
	if err == nil || !strings.Contains(err.Error(), "batch-size") || !strings.Contains(err.Error(), "many") {
		t.Fatalf("want an error naming the flag and value, got %v", err)
	}
}

func TestParse_Help(t *testing.T) {
	t.Parallel()
	fs, _, _, _ := newSet()
	var b strings.Builder
	fs.SetOutput(&b)
	fs.Usage = Usage(fs, "worker run [flags]")
	if err := Parse(fs, []string{"--help"}, func(string) string { return "" }); !errors.Is(err, ErrHelp) {
		t.Fatalf("got %v, want ErrHelp", err)
	}
	if !strings.Contains(b.String(), "NEWSFLOW_BATCH_SIZE") || !strings.Contains(b.String(), "(default 100)") {
		t.Fatalf("help must show env names and defaults:\n%s", b.String())
	}
}

func TestSplitList(t *testing.T) {
	t.Parallel()
	if got := SplitList(" a, b,,c ,"); strings.Join(got, "|") != "a|b|c" {
		t.Fatalf("SplitList = %q, want [a b c]", got)
	}
	if got := SplitList(" , "); got != nil {
		t.Fatalf("SplitList of blanks = %q, want nil", got)
	}
}
