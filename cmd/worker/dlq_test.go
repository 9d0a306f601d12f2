package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap/zaptest"

	"newsflow/internal/cli"
	"newsflow/internal/consumer"
	"newsflow/internal/deadletter"
	"newsflow/internal/natstest"
	"newsflow/internal/stream"
)

// dlqSetup is a private stream and dead-letter stream holding one dead
// letter (seq 1, id tg:c:7, originally on <stream>.ingest.tg); dlq runs
// `worker dlq <action> --nats-url ... --dlq-stream ... args...` with getenv.
func dlqSetup(t *testing.T) (news jetstream.Stream, orig string, m *nats.Msg, dlq func(getenv func(string) string, args ...string) (string, error)) {
	t.Helper()
	ctx := t.Context()
	js, _ := natstest.JetStream(t)
	news = natstest.Stream(t, js)
	name := news.CachedInfo().Config.Name
	dlqName := name + "_DLQ"
	if _, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: dlqName, Subjects: []string{name + "-dlq.>"}}); err != nil {
		t.Fatal(err)
	}
	natstest.DeleteStreamOnCleanup(t, js, dlqName)
	orig = name + ".ingest.tg"
	m = nats.NewMsg(name + "-dlq." + orig)
	m.Data = []byte(`{"id":"tg:c:7","source":"tg","title":"fixed now"}`)
	m.Header.Set(stream.HeaderError, "store: data rejected")
	m.Header.Set(stream.HeaderStreamSeq, "7")
	m.Header.Set(stream.HeaderDeliveries, "10")
	m.Header.Set(stream.HeaderOriginalSubject, orig)
	if _, err := js.PublishMsg(ctx, m); err != nil {
		t.Fatal(err)
	}
	dlq = func(getenv func(string) string, args ...string) (string, error) {
		var out bytes.Buffer
		e := opsEnv(t, &out)
		if getenv != nil {
			e.getenv = getenv
		}
		e.stdin = strings.NewReader("y\n") // not a terminal: never asked
		args = append([]string{args[0], "--nats-url", natstest.URL(), "--dlq-stream", dlqName}, args[1:]...)
		err := runDLQ(ctx, args, e)
		return out.String(), err
	}
	return news, orig, m, dlq
}

func TestDLQ_ListShowReplay(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	news, orig, m, dlq0 := dlqSetup(t)
	dlq := func(args ...string) (string, error) { return dlq0(nil, args...) }

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

// No environment variable selects what dlq acts on: NEWSFLOW_ALL does not
// make replay or purge act on every dead letter, NEWSFLOW_SUBJECT (the
// publisher's) does not filter list, NEWSFLOW_YES does not confirm.
func TestDLQ_EnvironmentSelectsNothing(t *testing.T) {
	t.Parallel()
	_, _, _, dlq := dlqSetup(t)
	getenv := func(k string) string {
		return map[string]string{"NEWSFLOW_ALL": "1", "NEWSFLOW_SUBJECT": "elsewhere.>", "NEWSFLOW_MATCH": "nothing like it",
			"NEWSFLOW_SEQ": "1", "NEWSFLOW_ID": "tg:c:7", "NEWSFLOW_YES": "true", "NEWSFLOW_LIMIT": "0"}[k]
	}
	for _, action := range []string{"replay", "purge"} {
		_, err := dlq(getenv, action)
		if cli.ExitCode(err) != 2 || !strings.Contains(err.Error(), "--all") {
			t.Errorf("%s with NEWSFLOW_ALL=1 and no flags: %v (exit %d); want a usage error asking for a selection", action, err, cli.ExitCode(err))
		}
	}
	if out, err := dlq(getenv, "list"); err != nil || !strings.Contains(out, "1 dead letter(s)") {
		t.Errorf("list with NEWSFLOW_SUBJECT, NEWSFLOW_MATCH set = %q, %v; want the one dead letter", out, err)
	}
	// purge --all without --yes and without a terminal refuses; with -y it purges.
	if _, err := dlq(getenv, "purge", "--all"); cli.ExitCode(err) != 2 || !strings.Contains(err.Error(), "--yes") {
		t.Errorf("purge --all without --yes on a pipe: %v (exit %d); want exit 2 naming --yes", err, cli.ExitCode(err))
	}
	if out, err := dlq(nil, "list"); err != nil || !strings.Contains(out, "1 dead letter(s)") {
		t.Fatalf("after the refused purge: %q, %v; want the dead letter kept", out, err)
	}
	if out, err := dlq(nil, "purge", "--all", "-y"); err != nil || !strings.Contains(out, "purged every dead letter") {
		t.Errorf("purge --all -y = %q, %v", out, err)
	}
	if out, err := dlq(nil, "list"); err != nil || !strings.Contains(out, "0 dead letter(s)") {
		t.Errorf("after purge --all -y: %q, %v; want none", out, err)
	}
}

// TestDLQ_NoSecretPrinted: a commit error that quotes a DSN with its password
// goes the dead-letter path, and another dead letter holds the password as
// a worker recorded it before the consumer redacted errors: the password is
// not stored by the first, and printed for neither by list or show.
func TestDLQ_NoSecretPrinted(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	news, orig, _, dlq0 := dlqSetup(t)
	name := news.CachedInfo().Config.Name
	js, _ := natstest.JetStream(t)
	const password = "pw-3n8v6c1t"
	commitErr := errors.New("store: commit 1 rows: connect postgres://newsflow:" + password + "@db:5432/news: connection refused")

	old := nats.NewMsg(name + "-dlq." + orig)
	old.Data = []byte(`{"id":"tg:c:8","source":"tg","title":"old"}`)
	old.Header.Set(stream.HeaderError, commitErr.Error())
	old.Header.Set(stream.HeaderOriginalSubject, orig)
	if _, err := js.PublishMsg(ctx, old); err != nil { // seq 2
		t.Fatal(err)
	}

	c, err := consumer.New(ctx, js, consumer.Config{Stream: stream.Config{Name: name, Subjects: []string{name + ".>"}},
		Durable: name, DLQStream: name + "_DLQ", DLQSubjectPrefix: name + "-dlq"}, zaptest.NewLogger(t), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := js.Publish(ctx, orig, []byte(`{"id":"tg:c:9","source":"tg","title":"new"}`)); err != nil {
		t.Fatal(err)
	}
	rctx, stop := context.WithCancel(ctx)
	out, done := make(chan *consumer.Delivery, 1), make(chan error, 1)
	go func() { done <- c.Run(rctx, out) }()
	select {
	case d := <-out:
		if err := c.DeadLetter(ctx, d, commitErr); err != nil { // seq 3
			t.Fatal(err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("no delivery within 20s")
	}
	stop()
	for d := range out {
		c.NakAll([]*consumer.Delivery{d})
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}

	dlqStream, err := js.Stream(ctx, name+"_DLQ")
	if err != nil {
		t.Fatal(err)
	}
	stored, err := dlqStream.GetMsg(ctx, 3)
	if err != nil {
		t.Fatal(err)
	}
	if got := stored.Header.Get(stream.HeaderError); strings.Contains(got, password) || !strings.Contains(got, "newsflow:xxxxx@db") {
		t.Errorf("stored %s = %q, want the password masked", stream.HeaderError, got)
	}
	for _, args := range [][]string{{"list"}, {"list", "--json"}, {"show", "2"}, {"show", "2", "--json"}, {"show", "3"}, {"show", "3", "--json"}} {
		out, err := dlq0(nil, args...)
		if err != nil {
			t.Fatalf("dlq %v: %v", args, err)
		}
		if strings.Contains(out, password) || !strings.Contains(out, "xxxxx") {
			t.Errorf("dlq %v prints the password or no mask:\n%s", args, out)
		}
	}
}
