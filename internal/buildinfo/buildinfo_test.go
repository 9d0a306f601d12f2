package buildinfo

import (
	"strings"
	"testing"
)

func TestGet_NeverEmpty(t *testing.T) {
	v, c := Get()
	if v == "" || c == "" {
		t.Fatalf("Get() = %q, %q; want both set", v, c)
	}
	if s := String(); !strings.Contains(s, v) || !strings.Contains(s, GoVersion()) {
		t.Fatalf("String() = %q; want the version %q and %q in it", s, v, GoVersion())
	}
}
