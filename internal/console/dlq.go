package console

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"time"
	"unicode/utf8"

	"go.uber.org/zap"

	"newsflow/internal/deadletter"
)

// maxListed caps the dead letters one page lists.
const maxListed = 500

// dlqFilter reads the list filter from the query: match, subject, limit.
func dlqFilter(r *http.Request) (deadletter.Filter, error) {
	q := r.URL.Query()
	f := deadletter.Filter{Match: q.Get("match"), Subject: q.Get("subject"), Limit: maxListed}
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > maxListed {
			return f, fmt.Errorf("limit: want a number from 1 to %d, got %q", maxListed, v)
		}
		f.Limit = n
	}
	return f, nil
}

func (c *Console) dlq() (*deadletter.DLQ, error) {
	if c.cfg.DLQ == nil {
		return nil, errNotAvailable("the dead-letter stream", "no NATS connection")
	}
	return c.cfg.DLQ, nil
}

func (c *Console) listDLQ(ctx context.Context, f deadletter.Filter) ([]deadletter.Entry, error) {
	d, err := c.dlq()
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, requestTimeout)
	defer cancel()
	return d.List(ctx, f)
}

// dlqListBody is the /api/dlq answer.
type dlqListBody struct {
	Entries []deadletter.Entry `json:"entries"`
}

func (c *Console) apiDLQList(w http.ResponseWriter, r *http.Request) {
	f, err := dlqFilter(r)
	if err != nil {
		c.fail(w, r, http.StatusBadRequest, err)
		return
	}
	es, err := c.listDLQ(r.Context(), f)
	if err != nil {
		c.fail(w, r, statusOf(err), err)
		return
	}
	writeJSON(w, http.StatusOK, dlqListBody{Entries: nonNil(es)})
}

// dlqListData is the dead letters page's.
type dlqListData struct {
	Filter  deadletter.Filter
	Entries []deadletter.Entry
	Capped  bool
	Err     string
}

func (c *Console) dlqList(w http.ResponseWriter, r *http.Request) {
	f, err := dlqFilter(r)
	d := dlqListData{Filter: f}
	code := http.StatusOK
	if err != nil {
		code = http.StatusBadRequest
	} else if d.Entries, err = c.listDLQ(r.Context(), f); err != nil {
		code = statusOf(err)
	}
	if err != nil {
		d.Err = err.Error()
	}
	d.Capped = len(d.Entries) == f.Limit
	c.render(w, code, "dlq", "Dead letters", d)
}

// entryBody is one dead letter with its headers and payload, for
// /api/dlq/{seq} and the page that shows one.
type entryBody struct {
	deadletter.Entry
	Headers map[string][]string `json:"headers"`
	// Payload is the payload as JSON when it is JSON; PayloadText holds it
	// otherwise (when it is valid UTF-8).
	Payload     json.RawMessage `json:"payload,omitempty"`
	PayloadText string          `json:"payload_text,omitempty"`
	// Pretty is the payload indented, for the page.
	Pretty string `json:"-"`
}

func toBody(e deadletter.Entry) entryBody {
	b := entryBody{Entry: e, Headers: e.Header}
	var buf bytes.Buffer
	switch {
	case json.Valid(e.Data):
		b.Payload = e.Data
		_ = json.Indent(&buf, e.Data, "", "  ")
		b.Pretty = buf.String()
	case utf8.Valid(e.Data):
		b.PayloadText, b.Pretty = string(e.Data), string(e.Data)
	default:
		b.Pretty = fmt.Sprintf("(%d bytes, not UTF-8)", len(e.Data))
	}
	return b
}

func parseSeq(v string) (uint64, error) {
	n, err := strconv.ParseUint(v, 10, 64)
	if err != nil || n == 0 {
		return 0, fmt.Errorf("not a dead-letter sequence: %q (want a number ≥ 1)", v)
	}
	return n, nil
}

func (c *Console) getDLQ(r *http.Request) (entryBody, int, error) {
	seq, err := parseSeq(r.PathValue("seq"))
	if err != nil {
		return entryBody{}, http.StatusBadRequest, err
	}
	d, err := c.dlq()
	if err != nil {
		return entryBody{}, statusOf(err), err
	}
	ctx, cancel := context.WithTimeout(r.Context(), requestTimeout)
	defer cancel()
	e, err := d.Get(ctx, seq)
	if err != nil {
		return entryBody{}, statusOf(err), err
	}
	return toBody(e), http.StatusOK, nil
}

func (c *Console) apiDLQShow(w http.ResponseWriter, r *http.Request) {
	b, code, err := c.getDLQ(r)
	if err != nil {
		c.fail(w, r, code, err)
		return
	}
	writeJSON(w, http.StatusOK, b)
}

func (c *Console) dlqShow(w http.ResponseWriter, r *http.Request) {
	b, code, err := c.getDLQ(r)
	if err != nil {
		c.fail(w, r, code, err)
		return
	}
	c.render(w, http.StatusOK, "dlq_show", fmt.Sprintf("Dead letter %d", b.Seq), b)
}

// actions are the writes the dead letters page offers.
var actions = []string{"replay", "purge"}

// selection reads the action and the selected sequences of a write form.
func selection(r *http.Request, action string) ([]uint64, error) {
	if !slices.Contains(actions, action) {
		return nil, fmt.Errorf("unknown action %q: want replay or purge", action)
	}
	if err := r.ParseForm(); err != nil {
		return nil, fmt.Errorf("read the form: %w", err)
	}
	var seqs []uint64
	for _, v := range r.PostForm["seq"] {
		n, err := parseSeq(v)
		if err != nil {
			return nil, err
		}
		seqs = append(seqs, n)
	}
	if len(seqs) == 0 {
		return nil, errors.New("no dead letter selected: tick at least one")
	}
	slices.Sort(seqs)
	return slices.Compact(seqs), nil
}

// confirmData is the confirmation page's.
type confirmData struct {
	Action  string
	Entries []deadletter.Entry
	Missing []uint64
}

// dlqConfirm lists the selected dead letters and asks before acting.
func (c *Console) dlqConfirm(w http.ResponseWriter, r *http.Request) {
	seqs, err := selection(r, r.PostFormValue("action"))
	if err != nil {
		c.fail(w, r, http.StatusBadRequest, err)
		return
	}
	d, err := c.dlq()
	if err != nil {
		c.fail(w, r, statusOf(err), err)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), requestTimeout)
	defer cancel()
	data := confirmData{Action: r.PostFormValue("action")}
	for _, seq := range seqs {
		e, err := d.Get(ctx, seq)
		switch {
		case errors.Is(err, deadletter.ErrNotFound):
			data.Missing = append(data.Missing, seq)
		case err != nil:
			c.fail(w, r, statusOf(err), err)
			return
		default:
			data.Entries = append(data.Entries, e)
		}
	}
	c.render(w, http.StatusOK, "dlq_confirm", "Confirm "+data.Action, data)
}

// resultData is the page after a replay or purge.
type resultData struct {
	Action string
	Result deadletter.Result
	Err    string
}

// dlqAct replays or purges the confirmed selection through
// internal/deadletter, as `worker dlq replay|purge --seq` does.
func (c *Console) dlqAct(w http.ResponseWriter, r *http.Request) {
	action := r.PathValue("action")
	seqs, err := selection(r, action)
	if err != nil {
		c.fail(w, r, http.StatusBadRequest, err)
		return
	}
	if r.PostFormValue("confirm") != "yes" {
		c.fail(w, r, http.StatusBadRequest, errors.New("not confirmed: select the dead letters on the dead letters page and confirm"))
		return
	}
	d, err := c.dlq()
	if err != nil {
		c.fail(w, r, statusOf(err), err)
		return
	}
	op := d.Replay
	if action == "purge" {
		op = d.Purge
	}
	ctx, cancel := context.WithTimeout(r.Context(), requestTimeout+time.Duration(len(seqs))*time.Second)
	defer cancel()
	res, err := op(ctx, deadletter.Selection{Seqs: seqs})
	data := resultData{Action: action, Result: res}
	code := http.StatusOK
	if err != nil {
		data.Err, code = err.Error(), statusOf(err)
	}
	c.log.Info("dead letters from the console", zap.String("action", action), zap.Uint64s("done", res.Done), zap.Int("failed", len(res.Failed)),
		zap.Strings("missing", res.Missing), zap.String("remote", r.RemoteAddr))
	c.render(w, code, "dlq_result", action+" result", data)
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}
