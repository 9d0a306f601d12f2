package logging

import (
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"
)

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
