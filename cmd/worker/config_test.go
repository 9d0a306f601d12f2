package main

import (
	"io"
	"strings"
	"testing"

	"github.com/spf13/pflag"

	"newsflow/internal/cache"
	"newsflow/internal/cli"
	"newsflow/internal/enrich"
	"newsflow/internal/llm"
	"newsflow/internal/store"
	"newsflow/internal/worker"
)

func parseRun(t *testing.T, args ...string) (*runConfig, error) {
	t.Helper()
	fs := pflag.NewFlagSet("worker run", pflag.ContinueOnError)
	fs.SetOutput(io.Discard)
	var c runConfig
	c.register(fs)
	if err := fs.Parse(args); err != nil {
		t.Fatal(err)
	}
	if err := cli.Load(fs, func(string) string { return "" }); err != nil {
		return &c, err
	}
	return &c, c.validate(func(n string) string { return cli.Name(fs, n) })
}

// An explicit 0 is honoured where it means something, never replaced by a default.
func TestRunConfig_ZeroIsHonoured(t *testing.T) {
	t.Parallel()
	c, err := parseRun(t, "--llm-max-retries=0", "--llm-breaker-failures=0", "--db-min-idle-conns=0",
		"--batch-idle=0", "--lag-interval=0", "--max-replicas=0", "--llm-rpm=0")
	if err != nil {
		t.Fatal(err)
	}
	s := c.settings()
	if s.Client.MaxRetries != 0 || s.Client.BreakerFailures != 0 || s.Pool.MinIdleConns != 0 ||
		s.Pipeline.Batch.MaxIdle != 0 || s.LagInterval != 0 || s.MaxReplicas != 0 || s.Client.RequestsPerMinute != 0 {
		t.Errorf("zeros replaced: %+v", s)
	}
	if err := s.Client.Validate(); err != nil {
		t.Errorf("the LLM client rejects the zeros: %v", err)
	}
	if err := s.Pool.Validate(); err != nil {
		t.Errorf("the pool rejects the zeros: %v", err)
	}
}

// A 0 or a negative without meaning is rejected with the flag's name and value.
func TestRunConfig_MeaninglessValueRejected(t *testing.T) {
	t.Parallel()
	for _, arg := range []string{
		"--committers=0", "--llm-concurrency=0", "--batch-size=0", "--batch-bytes=0", "--db-max-conns=0",
		"--cache-entries=0", "--max-deliver=0", "--fetch-batch=0", "--max-message-bytes=0", "--commit-timeout=0s",
		"--grace=0s", "--llm-timeout=0s", "--lag-target=0s", "--llm-max-retries=-1", "--llm-breaker-failures=-1",
		"--db-min-idle-conns=-1", "--batch-idle=-1s", "--llm-price-input=-1",
		"--llm-stories-per-call=0", "--llm-stories-per-call=21", "--cache-memory-bytes=100",
	} {
		_, err := parseRun(t, arg)
		name, value, _ := strings.Cut(strings.TrimPrefix(arg, "--"), "=")
		if err == nil || !strings.Contains(err.Error(), "--"+name) || !strings.Contains(err.Error(), strings.TrimSuffix(value, "s")) {
			t.Errorf("%s: got %v, want an error naming --%s and %s", arg, err, name, value)
		}
	}
}

// The flags' defaults are the packages' constants.
func TestRunConfig_Defaults(t *testing.T) {
	t.Parallel()
	c, err := parseRun(t)
	if err != nil {
		t.Fatal(err)
	}
	s := c.settings()
	if s.Client.MaxRetries != llm.DefaultMaxRetries || s.Client.BreakerFailures != llm.DefaultBreakerFailures ||
		s.Client.Concurrency != llm.DefaultConcurrency || s.Pool.MinIdleConns != store.DefaultMinIdleConns ||
		s.Pipeline.Committers != worker.DefaultCommitters || s.Pipeline.DrainTimeout != worker.DefaultDrainTimeout ||
		s.Pipeline.Batch.DrainTimeout != worker.DefaultDrainTimeout ||
		s.StoriesPerCall != enrich.DefaultStoriesPerCall || s.Cache.MemoryBytes != cache.DefaultMemoryBytes {
		t.Errorf("defaults differ from the package constants: %+v", s)
	}
}
