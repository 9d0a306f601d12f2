package deadletter_test

import (
	"context"
	"errors"
	"strconv"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/goleak"
	"go.uber.org/zap/zaptest"

	"newsflow/internal/deadletter"
	"newsflow/internal/natstest"
	"newsflow/internal/stream"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

type bundle struct {
	js      jetstream.JetStream
	news    jetstream.Stream // the original stream, on "<news>.>"
	newsSub string
	dlq     *deadletter.DLQ
	dlqName string
}

func setup(t *testing.T) *bundle {
	t.Helper()
	js, _ := natstest.JetStream(t)
	news := natstest.Stream(t, js)
	newsName := news.CachedInfo().Config.Name
	dlqName := newsName + "_DLQ"
	if _, err := js.CreateStream(t.Context(), jetstream.StreamConfig{Name: dlqName, Subjects: []string{newsName + "-dlq.>"}}); err != nil {
		t.Fatal(err)
	}
	natstest.DeleteStreamOnCleanup(t, js, dlqName)
	return &bundle{js: js, news: news, newsSub: newsName, dlqName: dlqName,
		dlq: deadletter.New(js, deadletter.Config{Stream: dlqName}, zaptest.NewLogger(t))}
}

// deadLetter writes a dead letter as internal/consumer does.
func (b *bundle) deadLetter(t *testing.T, origSubject, payload, reason string, streamSeq, deliveries uint64) {
	t.Helper()
	m := nats.NewMsg(b.newsSub + "-dlq." + origSubject)
	m.Data = []byte(payload)
	m.Header.Set(stream.HeaderError, reason)
	m.Header.Set(stream.HeaderStreamSeq, strconv.FormatUint(streamSeq, 10))
	m.Header.Set(stream.HeaderDeliveries, strconv.FormatUint(deliveries, 10))
	m.Header.Set(stream.HeaderOriginalSubject, origSubject)
	m.Header.Set(jetstream.MsgIDHeader, "dlq-"+strconv.FormatUint(streamSeq, 10))
	if _, err := b.js.PublishMsg(t.Context(), m); err != nil {
		t.Fatal(err)
	}
}

func seqs(es []deadletter.Entry) []uint64 {
	out := []uint64{}
	for _, e := range es {
		out = append(out, e.Seq)
	}
	return out
}

func TestDLQ_ListReplayPurge(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := t.Context()
	subA := b.newsSub + ".ingest.a"
	b.deadLetter(t, subA, `{"id":"a1","source":"a","title":"needs a fix"}`, "store: data rejected (SQLSTATE 22021): bad text", 11, 10)
	b.deadLetter(t, b.newsSub+".ingest.b", `{"id":"b2","title":"no source"}`, "invalid message: source: required", 12, 1)
	b.deadLetter(t, subA, `not json`, "invalid message: not a JSON object", 13, 1)

	all, err := b.dlq.List(ctx, deadletter.Filter{})
	if err != nil {
		t.Fatal(err)
	}
	if n, err := b.dlq.Count(ctx); err != nil || n != 3 || b.dlq.Name() != b.dlqName {
		t.Errorf("Count = %d, %v; Name %q; want 3 in %s", n, err, b.dlq.Name(), b.dlqName)
	}
	if len(all) != 3 {
		t.Fatalf("List = %d entries, want 3", len(all))
	}
	got := all[0]
	got.Data, got.Header, got.Time = nil, nil, time.Time{}
	want := deadletter.Entry{Seq: 1, Subject: b.newsSub + "-dlq." + subA, OriginalSubject: subA, MsgID: "a1",
		Error: "store: data rejected (SQLSTATE 22021): bad text", Deliveries: 10, StreamSeq: 11, Size: 46}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("first entry (-want +got):\n%s", d)
	}
	if all[2].MsgID != "dlq-13" {
		t.Errorf("unparseable payload: MsgID = %q, want the header id dlq-13", all[2].MsgID)
	}
	for _, tc := range []struct {
		f    deadletter.Filter
		want []uint64
	}{
		{deadletter.Filter{Match: "invalid message"}, []uint64{2, 3}},
		{deadletter.Filter{Subject: b.newsSub + ".ingest.a"}, []uint64{1, 3}},
		{deadletter.Filter{Subject: b.newsSub + ".*.b"}, []uint64{2}},
		{deadletter.Filter{Subject: b.newsSub + ".>", Limit: 2}, []uint64{1, 2}},
	} {
		es, err := b.dlq.List(ctx, tc.f)
		if err != nil {
			t.Fatal(err)
		}
		if d := cmp.Diff(tc.want, seqs(es)); d != "" {
			t.Errorf("List(%+v) (-want +got):\n%s", tc.f, d)
		}
	}
	if e, err := b.dlq.Get(ctx, 2); err != nil || e.MsgID != "b2" {
		t.Errorf("Get(2) = %+v, %v; want b2", e, err)
	}
	if _, err := b.dlq.Get(ctx, 99); !errors.Is(err, deadletter.ErrNotFound) {
		t.Errorf("Get(99) error = %v, want ErrNotFound", err)
	}
	if _, err := b.dlq.Replay(ctx, deadletter.Selection{}); !errors.Is(err, deadletter.ErrEmptySelection) {
		t.Errorf("Replay(empty) error = %v, want ErrEmptySelection", err)
	}

	// Replay seq 1: it lands on its original subject with a replay id and
	// leaves the DLQ.
	res, err := b.dlq.Replay(ctx, deadletter.Selection{Seqs: []uint64{1}})
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(deadletter.Result{Done: []uint64{1}}, res); d != "" {
		t.Errorf("Replay(seq 1) (-want +got):\n%s", d)
	}
	m, err := b.news.GetLastMsgForSubject(ctx, subA)
	if err != nil {
		t.Fatal(err)
	}
	if string(m.Data) != `{"id":"a1","source":"a","title":"needs a fix"}` || m.Header.Get(jetstream.MsgIDHeader) != "a1#replay-1" ||
		m.Header.Get(stream.HeaderReplayOf) != b.dlqName+":1" {
		t.Errorf("replayed message = %q %v", m.Data, m.Header)
	}
	if _, err := b.dlq.Get(ctx, 1); !errors.Is(err, deadletter.ErrNotFound) {
		t.Errorf("after replay Get(1) error = %v, want ErrNotFound", err)
	}

	// An interrupted earlier replay (published, not deleted) is deduplicated.
	dup := nats.NewMsg(b.newsSub + ".ingest.b")
	dup.Data = []byte(`{"id":"b2","title":"no source"}`)
	dup.Header.Set(jetstream.MsgIDHeader, "b2#replay-2")
	if _, err := b.js.PublishMsg(ctx, dup); err != nil {
		t.Fatal(err)
	}
	res, err = b.dlq.Replay(ctx, deadletter.Selection{IDs: []string{"b2", "nope"}})
	if !errors.Is(err, deadletter.ErrNotFound) {
		t.Errorf("Replay(ids b2, nope) error = %v, want ErrNotFound for nope", err)
	}
	if d := cmp.Diff(deadletter.Result{Done: []uint64{2}, Duplicates: []uint64{2}, Missing: []string{"id nope"}}, res); d != "" {
		t.Errorf("Replay(id b2) (-want +got):\n%s", d)
	}
	if info, err := b.news.Info(ctx); err != nil || info.State.Msgs != 2 {
		t.Errorf("news stream holds %v messages (err %v), want 2 (replay of 1 and one copy of b2)", info.State.Msgs, err)
	}

	// A letter whose subject has no stream stays in the DLQ.
	b.deadLetter(t, "nowhere.at.all", `{"id":"x"}`, "poison", 14, 1)
	res, err = b.dlq.Replay(ctx, deadletter.Selection{Filter: deadletter.Filter{Match: "poison"}})
	if err == nil || len(res.Failed) != 1 || len(res.Done) != 0 {
		t.Errorf("Replay(no stream) = %+v, %v; want one failure", res, err)
	}
	if _, err := b.dlq.Get(ctx, 4); err != nil {
		t.Errorf("failed replay removed the letter: %v", err)
	}

	// Purge by filter, then everything.
	res, err = b.dlq.Purge(ctx, deadletter.Selection{Filter: deadletter.Filter{Match: "JSON"}})
	if err != nil || !cmp.Equal(res.Done, []uint64{3}) {
		t.Errorf("Purge(match JSON) = %+v, %v; want seq 3", res, err)
	}
	if _, err := b.dlq.Purge(ctx, deadletter.Selection{All: true}); err != nil {
		t.Fatal(err)
	}
	if es, err := b.dlq.List(ctx, deadletter.Filter{}); err != nil || len(es) != 0 {
		t.Errorf("after purge all: %d entries, %v; want none", len(es), err)
	}
}

func TestDLQ_MissingStream(t *testing.T) {
	t.Parallel()
	js, _ := natstest.JetStream(t)
	d := deadletter.New(js, deadletter.Config{Stream: natstest.Name(t)}, zaptest.NewLogger(t))
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	if _, err := d.List(ctx, deadletter.Filter{}); !errors.Is(err, jetstream.ErrStreamNotFound) {
		t.Errorf("List on a missing stream: %v, want ErrStreamNotFound", err)
	}
}
