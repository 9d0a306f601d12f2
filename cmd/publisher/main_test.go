package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/goleak"
	"go.uber.org/zap/zaptest"

	"newsflow/internal/cli"
	"newsflow/internal/embedded"
	"newsflow/internal/natstest"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// bundle is one test's private stream on the shared server.
type bundle struct {
	js      jetstream.JetStream
	stream  string
	subject string // the subject messages are published to
	args    []string
}

func setup(t *testing.T) *bundle {
	t.Helper()
	js, _ := natstest.JetStream(t)
	name := natstest.Name(t)
	natstest.DeleteStreamOnCleanup(t, js, name)
	return &bundle{
		js: js, stream: name, subject: name + ".ingest",
		args: []string{"--nats-url", natstest.URL(), "--stream", name, "--subjects", name + ".>", "--subject", name + ".ingest", "--stream-storage", "memory"},
	}
}

type result struct {
	err            error
	code           int
	stdout, stderr string
}

func runCmd(t *testing.T, env map[string]string, stdin string, args ...string) result {
	t.Helper()
	var out, errOut bytes.Buffer
	if env == nil {
		env = map[string]string{}
	}
	if _, ok := env["NEWSFLOW_LOG_LEVEL"]; !ok {
		env["NEWSFLOW_LOG_LEVEL"] = "warn"
	}
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	err := run(ctx, args, func(k string) string { return env[k] }, strings.NewReader(stdin), &out, &errOut)
	if err != nil { // as main prints it
		fmt.Fprintln(&errOut, "publisher:", err)
	}
	return result{err: err, code: cli.ExitCode(err), stdout: out.String(), stderr: errOut.String()}
}

var summaryRE = regexp.MustCompile(`^published (\d+) \(retried \d+\), duplicates (\d+) \(in the input, dropped by JetStream\), invalid (\d+), failed (\d+), not attempted (\d+), \d+ msgs/s\n$`)

// parseSummary returns published, duplicates, invalid, failed; it fails
// the test when a message was not attempted.
func parseSummary(t *testing.T, stdout string) [4]int {
	t.Helper()
	m := summaryRE.FindStringSubmatch(stdout)
	if m == nil {
		t.Fatalf("stdout is not one summary line: %q", stdout)
	}
	var n [4]int
	for i := range n {
		n[i], _ = strconv.Atoi(m[i+1])
	}
	if m[5] != "0" {
		t.Errorf("summary %q: %s messages not attempted, want 0", stdout, m[5])
	}
	return n
}

// streamMsgs returns the stream's messages in order, one request each; the bound allows a loaded
// host a thousand round trips and only matters when the server stops answering.
func streamMsgs(t *testing.T, b *bundle) []*jetstream.RawStreamMsg {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	s, err := b.js.Stream(ctx, b.stream)
	if err != nil {
		t.Fatal(err)
	}
	info, err := s.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var out []*jetstream.RawStreamMsg
	for seq := info.State.FirstSeq; seq <= info.State.LastSeq && info.State.Msgs > 0; seq++ {
		m, err := s.GetMsg(ctx, seq)
		if err != nil {
			t.Fatalf("get %d: %v", seq, err)
		}
		out = append(out, m)
	}
	return out
}

func line(id, source, title string) string {
	return fmt.Sprintf(`{"id":%q,"source":%q,"title":%q,"body":"b","published_at":"2025-01-02T03:04:05Z"}`, id, source, title)
}

func TestSend_ValidDuplicateAndInvalidLines(t *testing.T) {
	t.Parallel()
	b := setup(t)
	file := filepath.Join(t.TempDir(), "news.jsonl")
	lines := []string{
		line("t:1", "tg:chan", "one"),
		line("t:2", "rss:feed", "two"),
		"",
		`{"id":"t:3","source":`,             // 4: malformed
		line("t:1", "tg:chan", "one again"), // 5: same id → JetStream drops it
		`{"source":"x","title":"no id"}`,    // 6: invalid
		"  " + line("t:3", "wire", "three") + "\r",
	}
	if err := os.WriteFile(file, []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	r := runCmd(t, nil, "", append(append([]string{"send"}, b.args...), file)...)
	if r.code != 1 {
		t.Fatalf("exit status %d (%v), want 1 for invalid lines; stderr:\n%s", r.code, r.err, r.stderr)
	}
	if got, want := parseSummary(t, r.stdout), [4]int{3, 1, 2, 0}; got != want {
		t.Errorf("published, duplicates, invalid, failed = %v, want %v", got, want)
	}
	for _, want := range []string{file + ":4: invalid message: malformed JSON", file + ":6: invalid message: id: required", "2 invalid lines"} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, r.stderr)
		}
	}
	msgs := streamMsgs(t, b)
	var ids []string
	for _, m := range msgs {
		ids = append(ids, m.Header.Get(jetstream.MsgIDHeader))
		if m.Subject != b.subject {
			t.Errorf("subject %q, want %q", m.Subject, b.subject)
		}
	}
	if strings.Join(ids, ",") != "t:1,t:2,t:3" {
		t.Errorf("stream holds ids %v, want t:1,t:2,t:3", ids)
	}
	if len(msgs) == 3 && string(msgs[2].Data) != strings.TrimSpace(lines[6]) {
		t.Errorf("line published as %q, want it verbatim (trimmed)", msgs[2].Data)
	}
}

// A byte-order mark at the start of a file (or of any line) is stripped,
// not published and not reported invalid.
func TestSend_ByteOrderMarkStripped(t *testing.T) {
	t.Parallel()
	b := setup(t)
	in := "\ufeff" + line("bom:1", "s", "one") + "\n\ufeff" + line("bom:2", "s", "two") + "\n"
	for _, mode := range [][]string{{"send"}, {"send", "--no-validate"}} {
		r := runCmd(t, nil, in, append(mode, b.args...)...)
		if r.err != nil {
			t.Fatalf("%v: %v\n%s", mode, r.err, r.stderr)
		}
	}
	msgs := streamMsgs(t, b)
	if len(msgs) != 2 {
		t.Fatalf("stream holds %d messages, want 2 (the second run's dropped as duplicates)", len(msgs))
	}
	for i, m := range msgs {
		if !bytes.HasPrefix(m.Data, []byte(`{"id":"bom:`)) {
			t.Errorf("message %d = %q, want it without the byte-order mark", i, m.Data)
		}
		if id := m.Header.Get(jetstream.MsgIDHeader); id != fmt.Sprintf("bom:%d", i+1) {
			t.Errorf("message %d Nats-Msg-Id %q", i, id)
		}
	}
}

func TestSend_StdinNoValidate(t *testing.T) {
	t.Parallel()
	b := setup(t)
	in := line("v:1", "s", "ok") + "\nnot json at all\n" + `{"id":"v:2"}` + "\n" + `{"id":17,"source":"s"}` + "\n"
	r := runCmd(t, nil, in, append(append([]string{"send", "--no-validate"}, b.args...), "-")...)
	if r.err != nil {
		t.Fatalf("send --no-validate: %v\n%s", r.err, r.stderr)
	}
	if got, want := parseSummary(t, r.stdout), [4]int{4, 0, 0, 0}; got != want {
		t.Errorf("summary %v, want %v", got, want)
	}
	msgs := streamMsgs(t, b)
	if len(msgs) != 4 {
		t.Fatalf("stream holds %d messages, want 4", len(msgs))
	}
	wantIDs := []string{"v:1", "", "v:2", ""}
	for i, want := range strings.Split(strings.TrimSpace(in), "\n") {
		if string(msgs[i].Data) != want {
			t.Errorf("message %d = %q, want verbatim %q", i, msgs[i].Data, want)
		}
		if got := msgs[i].Header.Get(jetstream.MsgIDHeader); got != wantIDs[i] {
			t.Errorf("message %d Nats-Msg-Id %q, want %q", i, got, wantIDs[i])
		}
	}
}

func TestGen_DupIDsDroppedByJetStream(t *testing.T) {
	t.Parallel()
	b := setup(t)
	r := runCmd(t, nil, "", append([]string{"gen", "--count", "1000", "--dup-ids", "0.1", "--seed", "7", "--body-bytes", "300"}, b.args...)...)
	if r.err != nil {
		t.Fatalf("gen: %v\n%s", r.err, r.stderr)
	}
	s := parseSummary(t, r.stdout)
	if s[0]+s[1] != 1000 || s[2] != 0 || s[3] != 0 {
		t.Fatalf("summary %v: want published+duplicates = 1000, no invalid or failed", s)
	}
	if s[1] < 60 || s[1] > 140 {
		t.Errorf("duplicates %d, want about 10%% of 1000", s[1])
	}
	msgs := streamMsgs(t, b)
	ids := map[string]bool{}
	for _, m := range msgs {
		id := m.Header.Get(jetstream.MsgIDHeader)
		if ids[id] || !strings.HasPrefix(id, "gen:") {
			t.Fatalf("stream has id %q twice or malformed", id)
		}
		ids[id] = true
	}
	if len(msgs) != s[0] {
		t.Errorf("stream holds %d messages, summary says %d published", len(msgs), s[0])
	}
}

func TestGen_Rate(t *testing.T) {
	t.Parallel()
	b := setup(t)
	start := time.Now()
	r := runCmd(t, nil, "", append([]string{"gen", "--count", "60", "--rate", "200/s", "--body-bytes", "100"}, b.args...)...)
	if r.err != nil {
		t.Fatalf("gen: %v\n%s", r.err, r.stderr)
	}
	// 60 messages at 200/s with a 20-message burst take at least 0.2s.
	if d := time.Since(start); d < 200*time.Millisecond {
		t.Errorf("60 messages at 200/s took %s, want ≥ 200ms", d)
	}
	if s := parseSummary(t, r.stdout); s[0] != 60 {
		t.Errorf("summary %v", s)
	}
}

func TestRun_BadFlagValues(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		env  map[string]string
		args []string
		want []string // substrings of the one-line error
	}{
		{nil, []string{"send", "--max-inflight", "lots"}, []string{"max-inflight", "lots"}},
		{map[string]string{"NEWSFLOW_MAX_INFLIGHT": "0"}, []string{"send"}, []string{"--max-inflight", "0"}},
		{map[string]string{"NEWSFLOW_DUPLICATE_WINDOW": "2 fortnights"}, []string{"gen", "--count", "1"}, []string{"NEWSFLOW_DUPLICATE_WINDOW", "2 fortnights"}},
		{nil, []string{"gen", "--count", "5", "--dup-ids", "2"}, []string{"--dup-ids", "2"}},
		{nil, []string{"gen", "--count", "5", "--rate", "fast"}, []string{"rate", "fast"}},
		{nil, []string{"gen", "--count", "5", "--stream-storage", "tape"}, []string{"stream-storage", "tape"}},
		{nil, []string{"gen"}, []string{"--count"}},
		{nil, []string{"gen", "--count", "5", "--subjects", "a.>", "--subject", "b.x"}, []string{"--subject", "b.x"}},
		{nil, []string{"gen", "--count", "5", "--subjects", "a.>"}, []string{"--subjects", "a.>"}},
		{nil, []string{"frobnicate"}, []string{"frobnicate"}},
	} {
		r := runCmd(t, tc.env, "", tc.args...)
		if r.code != 2 {
			t.Errorf("%v %v: exit status %d (%v), want 2", tc.env, tc.args, r.code, r.err)
			continue
		}
		msg := r.err.Error()
		for _, w := range tc.want {
			if !strings.Contains(msg, w) {
				t.Errorf("%v %v: error %q does not name %q", tc.env, tc.args, msg, w)
			}
		}
		if strings.Contains(msg, "\n") {
			t.Errorf("%v %v: error is not one line: %q", tc.env, tc.args, msg)
		}
	}
}

func TestRun_Help(t *testing.T) {
	t.Parallel()
	for _, cmd := range []string{"send", "gen"} {
		r := runCmd(t, nil, "", cmd, "--help")
		if r.err != nil || r.code != 0 {
			t.Fatalf("%s --help: %v (exit %d)", cmd, r.err, r.code)
		}
		for _, want := range []string{"NATS_URL", "NEWSFLOW_MAX_INFLIGHT", "(default 4096)", "NEWSFLOW_STREAM", `(default "NEWS")`} {
			if !strings.Contains(r.stdout, want) {
				t.Errorf("%s --help lacks %q:\n%s", cmd, want, r.stdout)
			}
		}
	}
}

func TestRun_EmbeddedDiscovery(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	r := runCmd(t, nil, "", "gen", "--count", "3", "--data-dir", dir)
	if r.code != 1 || !strings.Contains(r.stderr, "no NATS_URL set and no embedded worker found in "+dir) {
		t.Fatalf("without a server: exit %d, stderr %q", r.code, r.stderr)
	}

	n, err := embedded.StartNATS(embedded.NATSConfig{DataDir: dir, Port: -1}, zaptest.NewLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	defer n.Shutdown()
	r = runCmd(t, nil, "", "gen", "--count", "50", "--data-dir", dir)
	if r.err != nil {
		t.Fatalf("with the embedded server: %v\n%s", r.err, r.stderr)
	}
	if s := parseSummary(t, r.stdout); s[0] != 50 {
		t.Fatalf("summary %v", s)
	}
}

func TestSubjectToken(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"tg:WorldNews_Live": "tg_worldnews_live",
		"rss:metro-herald":  "rss_metro-herald",
		"BBC World.RSS":     "bbc_world_rss",
		"новости":           "_______",
		"a*b>c":             "a_b_c",
		"":                  "unknown",
	} {
		if got := subjectToken(in); got != want {
			t.Errorf("subjectToken(%q) = %q, want %q", in, got, want)
		}
	}
	if got := subjectFor("tg:x", ""); got != "news.ingest.tg_x" {
		t.Errorf("subjectFor = %q", got)
	}
}

// With --stream-discard new, a full stream refuses messages and the
// publisher counts them failed (exit status 1) instead of the stream
// dropping older ones; a later run without the cap leaves the stream's
// settings alone and says so.
func TestGen_FullStreamDiscardNewFails(t *testing.T) {
	t.Parallel()
	b := setup(t)
	capped := append([]string{"gen", "--count", "300", "--body-bytes", "300", "--stream-max-bytes", "30000", "--stream-discard", "new"}, b.args...)
	r := runCmd(t, nil, "", capped...)
	if r.code != 1 || !strings.Contains(r.stderr, "messages failed to publish") {
		t.Fatalf("exit status %d, want 1 with failed messages; stdout %q stderr:\n%s", r.code, r.stdout, r.stderr)
	}
	s := parseSummary(t, r.stdout)
	if s[3] == 0 || s[0]+s[3] != 300 {
		t.Errorf("summary %v: want published + failed = 300, some failed", s)
	}
	if got := len(streamMsgs(t, b)); got != s[0] {
		t.Errorf("stream holds %d messages, summary says %d published", got, s[0])
	}

	r = runCmd(t, nil, "", append([]string{"gen", "--count", "1", "--id-prefix", "other"}, b.args...)...)
	if !strings.Contains(r.stderr, "stream settings differ") || !strings.Contains(r.stderr, "max_bytes: stream has 30000, flags want unlimited") {
		t.Errorf("an uncapped run does not report the differences; stderr:\n%s", r.stderr)
	}
	st, err := b.js.Stream(t.Context(), b.stream)
	if err != nil {
		t.Fatal(err)
	}
	if c := st.CachedInfo().Config; c.MaxBytes != 30000 || c.Discard != jetstream.DiscardNew {
		t.Errorf("an uncapped run changed the stream to max_bytes %d, discard %v", c.MaxBytes, c.Discard)
	}
}
