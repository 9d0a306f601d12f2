package stream_test

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap/zaptest"

	"newsflow/internal/natstest"
	"newsflow/internal/stream"
)

func TestDiff(t *testing.T) {
	t.Parallel()
	base := jetstream.StreamConfig{Name: "S", Subjects: []string{"a.>", "b.>"}, MaxBytes: -1, MaxMsgs: -1, Duplicates: 2 * time.Minute, Replicas: 1}
	for _, tc := range []struct {
		name   string
		modify func(*jetstream.StreamConfig)
		want   []stream.Difference
	}{
		{"same", func(*jetstream.StreamConfig) {}, nil},
		{"subject order and 0 for unlimited", func(c *jetstream.StreamConfig) { c.Subjects = []string{"b.>", "a.>"}; c.MaxBytes = 0; c.Replicas = 0 }, nil},
		{"cap", func(c *jetstream.StreamConfig) { c.MaxBytes = 5 << 20 }, []stream.Difference{{"max_bytes", "unlimited", "5242880"}}},
		{"discard and age", func(c *jetstream.StreamConfig) { c.Discard = jetstream.DiscardNew; c.MaxAge = time.Hour },
			[]stream.Difference{{"discard", "DiscardOld", "DiscardNew"}, {"max_age", "unlimited", "1h0m0s"}}},
		{"replicas", func(c *jetstream.StreamConfig) { c.Replicas = 3 }, []stream.Difference{{"replicas", "1", "3"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			want := base
			want.Subjects = append([]string(nil), base.Subjects...)
			tc.modify(&want)
			if diff := cmp.Diff(tc.want, stream.Diff(base, want)); diff != "" {
				t.Errorf("Diff (-want +got):\n%s", diff)
			}
		})
	}
}

// A stream is created when missing; a program started with other limits
// leaves it alone unless told to update it.
func TestApply_CreateKeepUpdate(t *testing.T) {
	t.Parallel()
	js, _ := natstest.JetStream(t)
	name := natstest.Name(t)
	natstest.DeleteStreamOnCleanup(t, js, name)
	log := zaptest.NewLogger(t)
	capped := jetstream.StreamConfig{Name: name, Subjects: []string{name + ".>"}, MaxBytes: 1 << 20, MaxMsgs: -1,
		Discard: jetstream.DiscardNew, Duplicates: time.Minute, Storage: jetstream.MemoryStorage}
	if _, diff, err := stream.Apply(t.Context(), js, capped, false, log); err != nil || diff != nil {
		t.Fatalf("create: diff %v, err %v", diff, err)
	}
	uncapped := capped
	uncapped.MaxBytes, uncapped.Discard = -1, jetstream.DiscardOld
	s, diff, err := stream.Apply(t.Context(), js, uncapped, false, log)
	if err != nil {
		t.Fatal(err)
	}
	if len(diff) != 2 {
		t.Errorf("differences %v, want discard and max_bytes", diff)
	}
	if got := s.CachedInfo().Config.MaxBytes; got != 1<<20 {
		t.Errorf("without update the stream's max_bytes became %d, want it kept at %d", got, 1<<20)
	}
	s, _, err = stream.Apply(t.Context(), js, uncapped, true, log)
	if err != nil {
		t.Fatal(err)
	}
	if c := s.CachedInfo().Config; c.MaxBytes != -1 || c.Discard != jetstream.DiscardOld {
		t.Errorf("after update max_bytes %d, discard %v; want unlimited, old", c.MaxBytes, c.Discard)
	}
	if _, diff, err := stream.Apply(t.Context(), js, uncapped, false, log); err != nil || diff != nil {
		t.Errorf("again: diff %v, err %v; want none", diff, err)
	}
}
