package main

import (
	"bytes"
	"strings"
	"testing"

	"github.com/nats-io/nats.go/jetstream"

	"newsflow/internal/natstest"
)

// `worker stream apply` creates both streams, then applies new settings to
// the existing ones and says which.
func TestStreamApply(t *testing.T) {
	t.Parallel()
	js, _ := natstest.JetStream(t)
	name := natstest.Name(t)
	natstest.DeleteStreamOnCleanup(t, js, name)
	natstest.DeleteStreamOnCleanup(t, js, name+"_DLQ")
	base := []string{"apply", "--nats-url", natstest.URL(), "--stream", name, "--subjects", name + ".>",
		"--dlq-stream", name + "_DLQ", "--dlq-subject-prefix", strings.ToLower(name) + "-dlq", "--stream-storage", "memory"}
	apply := func(extra ...string) string {
		t.Helper()
		var out bytes.Buffer
		if err := runStream(t.Context(), append(append([]string{}, base...), extra...), opsEnv(t, &out)); err != nil {
			t.Fatalf("stream apply %v: %v\n%s", extra, err, out.String())
		}
		return out.String()
	}
	if got, want := apply(), name+": created\n"+name+"_DLQ: created\n"; got != want {
		t.Errorf("first apply printed %q, want %q", got, want)
	}
	got := apply("--stream-max-bytes", "1000000", "--stream-discard", "new")
	for _, want := range []string{name + ": discard: stream has DiscardOld, flags want DiscardNew → applied",
		name + ": max_bytes: stream has unlimited, flags want 1000000 → applied", name + "_DLQ: up to date"} {
		if !strings.Contains(got, want) {
			t.Errorf("second apply printed %q, want a line %q", got, want)
		}
	}
	s, err := js.Stream(t.Context(), name)
	if err != nil {
		t.Fatal(err)
	}
	if c := s.CachedInfo().Config; c.MaxBytes != 1000000 || c.Discard != jetstream.DiscardNew {
		t.Errorf("stream max_bytes %d, discard %v; want 1000000, new", c.MaxBytes, c.Discard)
	}
	var out bytes.Buffer
	if err := runStream(t.Context(), []string{"list"}, opsEnv(t, &out)); err == nil {
		t.Error("stream list: want an error naming the subcommand")
	}
}
