package logging

import (
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"
)

func TestNew(t *testing.T) {
	t.Parallel()
	env := func(kv map[string]string) func(string) string { return func(k string) string { return kv[k] } }
	var b strings.Builder
	log, err := New(env(nil), &b, JSON)
	if err != nil {
		t.Fatal(err)
	}
	log.Debug("hidden")
	log.Info("shown")
	if s := b.String(); strings.Contains(s, "hidden") || !strings.Contains(s, `"msg":"shown"`) {
		t.Fatalf("want info and above as JSON, got %q", s)
	}
	b.Reset()
	log, err = New(env(map[string]string{"NEWSFLOW_LOG_LEVEL": "debug", "NEWSFLOW_LOG_FORMAT": "console"}), &b, JSON)
	if err != nil {
		t.Fatal(err)
	}
	log.Debug("now shown")
	if s := b.String(); !strings.Contains(s, "DEBUG\tnow shown") {
		t.Fatalf("want console debug output, got %q", s)
	}
	for k, v := range map[string]string{"NEWSFLOW_LOG_LEVEL": "loud", "NEWSFLOW_LOG_FORMAT": "xml"} {
		if _, err := New(env(map[string]string{k: v}), &b, JSON); err == nil || !strings.Contains(err.Error(), k) || !strings.Contains(err.Error(), v) {
			t.Errorf("%s=%s: got %v, want an error naming both", k, v, err)
		}
	}
}

func TestBuild_DefaultsAndDurations(t *testing.T) {
	t.Parallel()
	var b strings.Builder
	log, err := Build(&b, "", "", "warn", JSON)
	if err != nil {
		t.Fatal(err)
	}
	log.Info("hidden")
	log.Warn("shown", zap.Duration("wait", 1500*time.Millisecond))
	if s := b.String(); strings.Contains(s, "hidden") || !strings.Contains(s, `"wait":"1.5s"`) {
		t.Fatalf("want warn and above with durations in units, got %q", s)
	}
	var l Level
	var f Format
	for _, bad := range []string{"loud", "fatal", "dpanic"} {
		if l.Set(bad) == nil {
			t.Errorf("level %q accepted", bad)
		}
	}
	if f.Set("xml") == nil || f.Set("console") != nil || l.Set("debug") != nil {
		t.Error("Format/Level Set")
	}
}
