package main

import (
	"strings"
	"testing"
	"time"

	"newsflow/internal/story"
)

func TestNearDupFlags(t *testing.T) {
	t.Parallel()
	c, err := parseRun(t)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := c.settings().NearDup, (story.Config{Threshold: story.DefaultThreshold, Window: story.DefaultWindow}); got != want {
		t.Errorf("defaults = %+v, want %+v", got, want)
	}
	if c, err = parseRun(t, "--near-dup=off", "--near-dup-threshold=0.9", "--near-dup-window=24h"); err != nil {
		t.Fatal(err)
	}
	if got, want := c.settings().NearDup, (story.Config{Off: true, Threshold: 0.9, Window: 24 * time.Hour}); got != want {
		t.Errorf("settings = %+v, want %+v", got, want)
	}
	for _, arg := range []string{"--near-dup=maybe", "--near-dup-threshold=0", "--near-dup-threshold=1.2", "--near-dup-window=30s"} {
		_, err := parseRun(t, arg)
		name, value, _ := strings.Cut(strings.TrimPrefix(arg, "--"), "=")
		if err == nil || !strings.Contains(err.Error(), "--"+name) || !strings.Contains(err.Error(), value) {
			t.Errorf("%s: got %v, want an error naming --%s and %s", arg, err, name, value)
		}
	}
}

func TestNearDupFlags_Env(t *testing.T) {
	t.Parallel()
	r := runWorker(t, map[string]string{"NEWSFLOW_NEAR_DUP": "sometimes"}, "run")
	if r.code != 2 || !strings.Contains(r.err.Error(), "NEWSFLOW_NEAR_DUP (--near-dup)") || !strings.Contains(r.err.Error(), "sometimes") {
		t.Errorf("NEWSFLOW_NEAR_DUP=sometimes: exit %d, error %v; want exit 2 naming the variable and the value", r.code, r.err)
	}
}
