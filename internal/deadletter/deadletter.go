package deadletter

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"

	"newsflow/internal/redact"
	"newsflow/internal/stream"
)

// ErrNotFound reports a dead letter that does not exist (any more).
var ErrNotFound = errors.New("deadletter: no such dead letter")

// ErrEmptySelection reports a Replay or Purge that names nothing; selecting
// every dead letter takes an explicit All.
var ErrEmptySelection = errors.New("deadletter: empty selection: give sequences, ids, a filter or All")

// Entry is one dead letter.
type Entry struct {
	// Seq is the dead letter's sequence in the DLQ stream.
	Seq uint64 `json:"seq"`
	// Time is when it was dead-lettered.
	Time time.Time `json:"time"`
	// Subject is its DLQ subject.
	Subject string `json:"subject"`
	// OriginalSubject is the subject it was published to; replay goes there.
	OriginalSubject string `json:"original_subject"`
	// MsgID is the "id" of the JSON payload when it has one, else the
	// publisher's Nats-Msg-Id (Newsflow-Original-Msg-Id), else the dead
	// letter's own Nats-Msg-Id.
	MsgID string `json:"msg_id,omitempty"`
	// Error is the reason it was dead-lettered, without secrets.
	Error string `json:"error"`
	// Deliveries is how often it had been delivered.
	Deliveries uint64 `json:"deliveries"`
	// StreamSeq is its sequence in the original stream.
	StreamSeq uint64 `json:"stream_seq"`
	// Size is the payload size in bytes.
	Size int `json:"size"`
	// Data is the original payload; Header the dead letter's headers.
	Data   []byte      `json:"-"`
	Header nats.Header `json:"-"`
}

// Filter narrows dead letters. The zero Filter matches every one.
type Filter struct {
	// Match keeps entries whose error contains this substring.
	Match string
	// Subject keeps entries whose original subject matches this subject,
	// with NATS wildcards (* one token, > the rest).
	Subject string
	// Limit caps List's result; 0 means no cap.
	Limit int
}

// Matches reports whether e passes the filter (Limit aside).
func (f Filter) Matches(e Entry) bool {
	if f.Match != "" && !strings.Contains(e.Error, f.Match) {
		return false
	}
	if f.Subject != "" && !stream.Matches(f.Subject, e.OriginalSubject) {
		return false
	}
	return true
}

func (f Filter) empty() bool { return f.Match == "" && f.Subject == "" }

// Selection names the dead letters Replay and Purge act on: those with the
// given DLQ sequences or message ids, else — when neither is given — all
// that match Filter; All is required to select everything with an empty
// filter. The filter also narrows sequences and ids.
type Selection struct {
	Seqs   []uint64
	IDs    []string
	All    bool
	Filter Filter
}

func (s Selection) explicit() bool { return len(s.Seqs) > 0 || len(s.IDs) > 0 }

// Config names the dead-letter stream.
type Config struct {
	// Stream is the dead-letter stream. Default stream.DefaultDLQName.
	Stream string
	// Timeout bounds each replay publish. Default 10s.
	Timeout time.Duration
}

// DLQ reads and manages one dead-letter stream.
type DLQ struct {
	js  jetstream.JetStream
	cfg Config
	log *zap.Logger
}

// New returns a DLQ on cfg.Stream. It does not contact the server.
func New(js jetstream.JetStream, cfg Config, log *zap.Logger) *DLQ {
	if log == nil {
		log = zap.NewNop()
	}
	cfg.Stream = cmp.Or(cfg.Stream, stream.DefaultDLQName)
	cfg.Timeout = cmp.Or(cfg.Timeout, 10*time.Second)
	return &DLQ{js: js, cfg: cfg, log: log.Named("deadletter").With(zap.String("stream", cfg.Stream))}
}

func (d *DLQ) stream(ctx context.Context) (jetstream.Stream, error) {
	s, err := d.js.Stream(ctx, d.cfg.Stream)
	if err != nil {
		return nil, fmt.Errorf("deadletter: stream %s: %w", d.cfg.Stream, err)
	}
	return s, nil
}

// Count returns the number of dead letters in the stream (one stream info
// request).
func (d *DLQ) Count(ctx context.Context) (uint64, error) {
	s, err := d.stream(ctx)
	if err != nil {
		return 0, err
	}
	info, err := s.Info(ctx)
	if err != nil {
		return 0, fmt.Errorf("deadletter: stream %s info: %w", d.cfg.Stream, err)
	}
	return info.State.Msgs, nil
}

// Name is the dead-letter stream's name.
func (d *DLQ) Name() string { return d.cfg.Stream }

// List returns the dead letters matching f, oldest first.
func (d *DLQ) List(ctx context.Context, f Filter) ([]Entry, error) {
	s, err := d.stream(ctx)
	if err != nil {
		return nil, err
	}
	var out []Entry
	err = d.scan(ctx, s, func(e Entry) bool {
		if f.Matches(e) {
			out = append(out, e)
		}
		return f.Limit <= 0 || len(out) < f.Limit
	})
	return out, err
}

// scan visits every message of the stream in order until visit returns
// false. It reads by sequence ("next message at or after"), so deleted
// sequences cost nothing and a consumer is not needed.
func (d *DLQ) scan(ctx context.Context, s jetstream.Stream, visit func(Entry) bool) error {
	info, err := s.Info(ctx)
	if err != nil {
		return fmt.Errorf("deadletter: stream %s info: %w", d.cfg.Stream, err)
	}
	last := info.State.LastSeq
	for seq := max(info.State.FirstSeq, 1); seq <= last && info.State.Msgs > 0; {
		m, err := s.GetMsg(ctx, seq, jetstream.WithGetMsgSubject(">"))
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("deadletter: read %s seq %d: %w", d.cfg.Stream, seq, err)
		}
		if m.Sequence > last {
			return nil
		}
		if !visit(toEntry(m)) {
			return nil
		}
		seq = m.Sequence + 1
	}
	return nil
}

// Get returns the dead letter with DLQ sequence seq, or ErrNotFound.
func (d *DLQ) Get(ctx context.Context, seq uint64) (Entry, error) {
	s, err := d.stream(ctx)
	if err != nil {
		return Entry{}, err
	}
	return d.get(ctx, s, seq)
}

func (d *DLQ) get(ctx context.Context, s jetstream.Stream, seq uint64) (Entry, error) {
	m, err := s.GetMsg(ctx, seq)
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return Entry{}, fmt.Errorf("%w: %s seq %d", ErrNotFound, d.cfg.Stream, seq)
	}
	if err != nil {
		return Entry{}, fmt.Errorf("deadletter: get %s seq %d: %w", d.cfg.Stream, seq, err)
	}
	return toEntry(m), nil
}

// toEntry reads a dead letter. The consumer records the error without
// secrets; one recorded before it did may still hold a secret of a known
// form (a DSN's password), so the error is redacted as it is read too, in
// Error and in Header.
func toEntry(m *jetstream.RawStreamMsg) Entry {
	recorded := m.Header.Get(stream.HeaderError)
	e := Entry{
		Seq:             m.Sequence,
		Time:            m.Time,
		Subject:         m.Subject,
		OriginalSubject: m.Header.Get(stream.HeaderOriginalSubject),
		Error:           redact.String(recorded),
		Size:            len(m.Data),
		Data:            m.Data,
		Header:          m.Header,
	}
	if e.Error != recorded {
		e.Header = maps.Clone(m.Header)
		e.Header.Set(stream.HeaderError, e.Error)
	}
	e.Deliveries, _ = strconv.ParseUint(m.Header.Get(stream.HeaderDeliveries), 10, 64)
	e.StreamSeq, _ = strconv.ParseUint(m.Header.Get(stream.HeaderStreamSeq), 10, 64)
	var body struct {
		ID string `json:"id"`
	}
	if json.Unmarshal(m.Data, &body) == nil && body.ID != "" {
		e.MsgID = body.ID
	} else {
		e.MsgID = cmp.Or(m.Header.Get(stream.HeaderOriginalMsgID), m.Header.Get(jetstream.MsgIDHeader))
	}
	return e
}

// resolve returns the entries sel names, oldest first, and the sequences
// and ids it names explicitly that are not in the DLQ.
func (d *DLQ) resolve(ctx context.Context, s jetstream.Stream, sel Selection) (out []Entry, missing []string, err error) {
	if !sel.explicit() && !sel.All && sel.Filter.empty() {
		return nil, nil, ErrEmptySelection
	}
	found := map[string]bool{}
	if len(sel.IDs) == 0 && len(sel.Seqs) > 0 {
		seqs := slices.Clone(sel.Seqs)
		slices.Sort(seqs)
		for _, seq := range slices.Compact(seqs) {
			e, err := d.get(ctx, s, seq)
			if errors.Is(err, ErrNotFound) {
				missing = append(missing, "seq "+strconv.FormatUint(seq, 10))
				continue
			}
			if err != nil {
				return nil, nil, err
			}
			if sel.Filter.Matches(e) {
				out = append(out, e)
			}
		}
		return out, missing, nil
	}
	err = d.scan(ctx, s, func(e Entry) bool {
		inSeqs, inIDs := slices.Contains(sel.Seqs, e.Seq), slices.Contains(sel.IDs, e.MsgID)
		if inSeqs {
			found["seq "+strconv.FormatUint(e.Seq, 10)] = true
		}
		if inIDs {
			found["id "+e.MsgID] = true
		}
		if sel.Filter.Matches(e) && (!sel.explicit() || inSeqs || inIDs) {
			out = append(out, e)
		}
		return true
	})
	if err != nil {
		return nil, nil, err
	}
	for _, seq := range sel.Seqs {
		if k := "seq " + strconv.FormatUint(seq, 10); !found[k] && !slices.Contains(missing, k) {
			missing = append(missing, k)
		}
	}
	for _, id := range sel.IDs {
		if k := "id " + id; !found[k] && !slices.Contains(missing, k) {
			missing = append(missing, k)
		}
	}
	return out, missing, nil
}

// Result says what Replay or Purge did.
type Result struct {
	// Done holds the DLQ sequences replayed (or purged) and removed.
	Done []uint64 `json:"done"`
	// Duplicates holds those of Done whose replay the news stream had
	// already seen within its duplicate window (an earlier, interrupted
	// replay); they were removed too.
	Duplicates []uint64 `json:"duplicates,omitempty"`
	// Failed maps DLQ sequences to why they were left in the DLQ.
	Failed map[uint64]string `json:"failed,omitempty"`
	// Missing lists the sequences ("seq 7") and ids ("id tg:c:1") the
	// selection named that are not in the DLQ.
	Missing []string `json:"missing,omitempty"`
}

// ReplayID is the Nats-Msg-Id a replay of e carries.
func ReplayID(e Entry) string {
	if e.MsgID != "" {
		return e.MsgID + "#replay-" + strconv.FormatUint(e.Seq, 10)
	}
	return "replay-" + strconv.FormatUint(e.Seq, 10)
}

// Replay publishes each selected dead letter's payload onto its original
// subject, waits for the stream's PubAck, and then deletes the dead letter.
// A letter that fails stays in the DLQ and is reported in Result.Failed;
// the error is non-nil then.
func (d *DLQ) Replay(ctx context.Context, sel Selection) (Result, error) {
	s, err := d.stream(ctx)
	if err != nil {
		return Result{}, err
	}
	entries, missing, err := d.resolve(ctx, s, sel)
	if err != nil {
		return Result{}, err
	}
	res := Result{Missing: missing}
	fail := func(seq uint64, err error) {
		if res.Failed == nil {
			res.Failed = map[uint64]string{}
		}
		res.Failed[seq] = err.Error()
	}
	for _, e := range entries {
		if e.OriginalSubject == "" {
			fail(e.Seq, errors.New("no "+stream.HeaderOriginalSubject+" header"))
			continue
		}
		m := nats.NewMsg(e.OriginalSubject)
		m.Data = e.Data
		m.Header.Set(jetstream.MsgIDHeader, ReplayID(e))
		m.Header.Set(stream.HeaderReplayOf, d.cfg.Stream+":"+strconv.FormatUint(e.Seq, 10))
		pctx, cancel := context.WithTimeout(ctx, d.cfg.Timeout)
		ack, err := d.js.PublishMsg(pctx, m)
		cancel()
		if err != nil {
			fail(e.Seq, fmt.Errorf("publish to %s: %w", e.OriginalSubject, err))
			continue
		}
		if err := s.DeleteMsg(ctx, e.Seq); err != nil && !errors.Is(err, jetstream.ErrMsgNotFound) {
			fail(e.Seq, fmt.Errorf("replayed as %s seq %d, but delete failed (a second replay is deduplicated): %w", ack.Stream, ack.Sequence, err))
			continue
		}
		res.Done = append(res.Done, e.Seq)
		if ack.Duplicate {
			res.Duplicates = append(res.Duplicates, e.Seq)
		}
		d.log.Info("dead letter replayed", zap.Uint64("dlq_seq", e.Seq), zap.String("msg_id", e.MsgID),
			zap.String("subject", e.OriginalSubject), zap.String("to_stream", ack.Stream),
			zap.Uint64("stream_seq", ack.Sequence), zap.Bool("duplicate", ack.Duplicate))
	}
	return res, res.err("replay")
}

// Purge deletes the selected dead letters. With All and an empty filter it
// purges the whole stream at once.
func (d *DLQ) Purge(ctx context.Context, sel Selection) (Result, error) {
	s, err := d.stream(ctx)
	if err != nil {
		return Result{}, err
	}
	if sel.All && !sel.explicit() && sel.Filter.empty() {
		info, err := s.Info(ctx)
		if err != nil {
			return Result{}, fmt.Errorf("deadletter: stream %s info: %w", d.cfg.Stream, err)
		}
		if err := s.Purge(ctx); err != nil {
			return Result{}, fmt.Errorf("deadletter: purge %s: %w", d.cfg.Stream, err)
		}
		d.log.Info("dead letters purged", zap.Uint64("count", info.State.Msgs))
		// Purge reports no sequences; Done is left empty, Failed too.
		return Result{}, nil
	}
	entries, missing, err := d.resolve(ctx, s, sel)
	if err != nil {
		return Result{}, err
	}
	res := Result{Missing: missing}
	for _, e := range entries {
		if err := s.DeleteMsg(ctx, e.Seq); err != nil && !errors.Is(err, jetstream.ErrMsgNotFound) {
			if res.Failed == nil {
				res.Failed = map[uint64]string{}
			}
			res.Failed[e.Seq] = err.Error()
			continue
		}
		res.Done = append(res.Done, e.Seq)
	}
	d.log.Info("dead letters deleted", zap.Int("count", len(res.Done)), zap.Int("failed", len(res.Failed)))
	return res, res.err("purge")
}

func (r Result) err(op string) error {
	if len(r.Failed) == 0 {
		if len(r.Missing) > 0 {
			return fmt.Errorf("%w: %s", ErrNotFound, strings.Join(r.Missing, ", "))
		}
		return nil
	}
	seqs := make([]uint64, 0, len(r.Failed))
	for s := range r.Failed {
		seqs = append(seqs, s)
	}
	slices.Sort(seqs)
	return fmt.Errorf("deadletter: %s: %d of %d failed, first seq %d: %s", op, len(r.Failed), len(r.Failed)+len(r.Done), seqs[0], r.Failed[seqs[0]])
}
