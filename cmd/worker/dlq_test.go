package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"newsflow/internal/deadletter"
	"newsflow/internal/natstest"
	"newsflow/internal/stream"
)

func TestDLQ_ListShowReplay(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	js, _ := natstest.JetStream(t)
	news := natstest.Stream(t, js)
	name := news.CachedInfo().Config.Name
	dlqName := name + "_DLQ"
	if _, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: dlqName, Subjects: []string{name + "-dlq.>"}}); err != nil {
		t.Fatal(err)
	}
	natstest.DeleteStreamOnCleanup(t, js, dlqName)
	orig := name + ".ingest.tg"
	m := nats.NewMsg(name + "-dlq." + orig)
	m.Data = []byte(`{"id":"tg:c:7","source":"tg","title":"fixed now"}`)
	m.Header.Set(stream.HeaderError, "store: data rejected")
	m.Header.Set(stream.HeaderStreamSeq, "7")
	m.Header.Set(stream.HeaderDeliveries, "10")
	m.Header.Set(stream.HeaderOriginalSubject, orig)
	if _, err := js.PublishMsg(ctx, m); err != nil {
		t.Fatal(err)
	}

	dlq := func(args ...string) (string, error) {
		var out bytes.Buffer
		args = append([]string{args[0], "--nats-url", natstest.URL(), "--dlq-stream", dlqName}, args[1:]...)
		err := runDLQ(ctx, args, opsEnv(t, &out))
		return out.String(), err
	}

	out, err := dlq("list", "--json")
	if err != nil {
		t.Fatal(err)
	}
	var e deadletter.Entry
	if err := json.Unmarshal([]byte(out), &e); err != nil || e.Seq != 1 || e.MsgID != "tg:c:7" || e.Deliveries != 10 || e.OriginalSubject != orig {
		t.Fatalf("list --json = %q (%v); want seq 1, id tg:c:7, 10 deliveries", out, err)
	}
	if out, err := dlq("list"); err != nil || !strings.Contains(out, "tg:c:7") || !strings.Contains(out, "1 dead letter(s)") {
		t.Errorf("list = %q, %v", out, err)
	}
	if out, err := dlq("show", "1"); err != nil || !strings.Contains(out, "store: data rejected") || !strings.Contains(out, `"title":"fixed now"`) {
		t.Errorf("show 1 = %q, %v", out, err)
	}
	if _, err := dlq("replay"); err == nil || !strings.Contains(err.Error(), "--all") {
		t.Errorf("replay without a selection: %v, want an error naming the flags", err)
	}
	if out, err := dlq("replay", "--seq", "1,2"); !errors.Is(err, deadletter.ErrNotFound) || !strings.Contains(out, "replayed 1") ||
		!strings.Contains(out, "not found: seq 2") {
		t.Errorf("replay --seq 1,2 = %q, %v; want 1 replayed and seq 2 not found", out, err)
	}
	got, err := news.GetLastMsgForSubject(ctx, orig)
	if err != nil || string(got.Data) != string(m.Data) || got.Header.Get(jetstream.MsgIDHeader) != "tg:c:7#replay-1" {
		t.Errorf("replayed message = %+v, %v", got, err)
	}
	if out, err := dlq("list"); err != nil || !strings.Contains(out, "0 dead letter(s)") {
		t.Errorf("list after replay = %q, %v; want empty", out, err)
	}
}
