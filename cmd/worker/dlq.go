package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"maps"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
	"unicode/utf8"

	"newsflow/internal/deadletter"
	"newsflow/internal/envflag"
	"newsflow/internal/stream"
)

func init() {
	register("dlq", "dead letters: list, show SEQ, replay, purge", runDLQ)
}

const dlqSynopsis = `worker dlq list [--match S] [--subject S] [--limit N] [--json]
       worker dlq show SEQ [--json]
       worker dlq replay (--seq 1,2 | --id ID | --match S | --subject S | --all) [--json]
       worker dlq purge  (--seq 1,2 | --id ID | --match S | --subject S | --all) [--json]`

// seqList is a comma-separated list of sequences; repeating the flag adds.
type seqList []uint64

func (s *seqList) String() string {
	parts := make([]string, len(*s))
	for i, v := range *s {
		parts[i] = strconv.FormatUint(v, 10)
	}
	return strings.Join(parts, ",")
}

func (s *seqList) Set(v string) error {
	for _, p := range strings.Split(v, ",") {
		if p = strings.TrimSpace(p); p == "" {
			continue
		}
		n, err := strconv.ParseUint(p, 10, 64)
		if err != nil || n == 0 {
			return fmt.Errorf("not a stream sequence: %q", p)
		}
		*s = append(*s, n)
	}
	return nil
}

// stringList is a comma-separated list; repeating the flag adds.
type stringList []string

func (s *stringList) String() string { return strings.Join(*s, ",") }

func (s *stringList) Set(v string) error {
	for _, p := range strings.Split(v, ",") {
		if p = strings.TrimSpace(p); p != "" {
			*s = append(*s, p)
		}
	}
	return nil
}

// runDLQ is `worker dlq`.
func runDLQ(ctx context.Context, args []string, e env) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprintf(e.stdout, "Usage: %s\n\nRun 'worker dlq <action> --help' for its flags.\n", dlqSynopsis)
		if len(args) == 0 {
			return errors.New("dlq: no action given; want list, show, replay or purge")
		}
		return nil
	}
	action, args := args[0], args[1:]
	switch action {
	case "list", "show", "replay", "purge":
	default:
		return fmt.Errorf("dlq: unknown action %q; want list, show, replay or purge", action)
	}

	var (
		nf        natsFlags
		dlqStream string
		asJSON    bool
		sel       deadletter.Selection
		seqs      seqList
		ids       stringList
	)
	fs := flag.NewFlagSet("dlq "+action, flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	nf.register(fs)
	fs.StringVar(&dlqStream, "dlq-stream", stream.DefaultDLQName, "dead-letter stream")
	fs.BoolVar(&asJSON, "json", false, "print JSON (one object per line for list)")
	if action != "show" {
		fs.StringVar(&sel.Filter.Match, "match", "", "only dead letters whose error contains this text")
		fs.StringVar(&sel.Filter.Subject, "subject", "", "only dead letters whose original subject matches this (wildcards * and >)")
	}
	switch action {
	case "list":
		fs.IntVar(&sel.Filter.Limit, "limit", 0, "at most this many (oldest first); 0 means all")
	case "replay", "purge":
		fs.Var(&seqs, "seq", "dead-letter stream sequences, comma-separated")
		fs.Var(&ids, "id", "message ids, comma-separated")
		fs.BoolVar(&sel.All, "all", false, "every dead letter matching --match/--subject, or every one without them")
	}
	fs.Usage = envflag.Usage(fs, dlqSynopsis)
	if err := envflag.Parse(fs, args, e.getenv); err != nil {
		return err
	}
	sel.Seqs, sel.IDs = seqs, ids

	var showSeq uint64
	switch {
	case action == "show":
		if fs.NArg() != 1 {
			return errors.New("dlq show: want one dead-letter sequence, e.g. worker dlq show 42")
		}
		n, err := strconv.ParseUint(fs.Arg(0), 10, 64)
		if err != nil || n == 0 {
			return fmt.Errorf("dlq show: not a stream sequence: %q", fs.Arg(0))
		}
		showSeq = n
	case fs.NArg() > 0:
		return fmt.Errorf("dlq %s: unexpected arguments %q", action, fs.Args())
	}

	nc, js, err := nf.connect(ctx, e.log, "newsflow-dlq")
	if err != nil {
		return err
	}
	defer nc.Close()
	d := deadletter.New(js, deadletter.Config{Stream: dlqStream}, e.log)

	switch action {
	case "list":
		entries, err := d.List(ctx, sel.Filter)
		if err != nil {
			return err
		}
		if asJSON {
			return writeJSONLines(e.stdout, "dlq list", entries)
		}
		writeDLQTable(e.stdout, entries)
		return nil
	case "show":
		en, err := d.Get(ctx, showSeq)
		if err != nil {
			return err
		}
		return writeDLQEntry(e.stdout, en, asJSON)
	case "replay", "purge":
		op := d.Replay
		if action == "purge" {
			op = d.Purge
		}
		res, err := op(ctx, sel)
		if errors.Is(err, deadletter.ErrEmptySelection) {
			return fmt.Errorf("dlq %s: select dead letters with --seq, --id, --match, --subject or --all", action)
		}
		if res.Done != nil || res.Failed != nil || res.Missing != nil || err == nil {
			if asJSON {
				if jerr := json.NewEncoder(e.stdout).Encode(res); jerr != nil {
					return fmt.Errorf("dlq %s: encode: %w", action, jerr)
				}
			} else {
				writeDLQResult(e.stdout, action, res, sel)
			}
		}
		return err
	}
	return nil
}

func writeDLQTable(w io.Writer, entries []deadletter.Entry) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "SEQ\tTIME\tSUBJECT\tID\tDELIVERIES\tSIZE\tERROR")
	for _, en := range entries {
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%d\t%d\t%s\n", en.Seq, en.Time.Local().Format(time.DateTime), en.OriginalSubject,
			ellipsis(en.MsgID, 40), en.Deliveries, en.Size, ellipsis(en.Error, 80))
	}
	_ = tw.Flush()
	fmt.Fprintf(w, "%d dead letter(s)\n", len(entries))
}

func writeDLQEntry(w io.Writer, en deadletter.Entry, asJSON bool) error {
	if asJSON {
		v := struct {
			deadletter.Entry
			Payload json.RawMessage     `json:"payload,omitempty"`
			Text    string              `json:"payload_text,omitempty"`
			Headers map[string][]string `json:"headers"`
		}{Entry: en, Headers: en.Header}
		if json.Valid(en.Data) {
			v.Payload = en.Data
		} else {
			v.Text = string(en.Data)
		}
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(v)
	}
	fmt.Fprintf(w, "seq:              %d\ntime:             %s\nsubject:          %s\noriginal subject: %s\nid:               %s\n"+
		"stream seq:       %d\ndeliveries:       %d\nsize:             %d bytes\nerror:            %s\n\n",
		en.Seq, en.Time.Local().Format(time.RFC3339), en.Subject, en.OriginalSubject, en.MsgID,
		en.StreamSeq, en.Deliveries, en.Size, en.Error)
	if !utf8.Valid(en.Data) {
		fmt.Fprintf(w, "payload: %d bytes, not UTF-8: %q\n", len(en.Data), en.Data)
		return nil
	}
	_, err := fmt.Fprintf(w, "%s\n", en.Data)
	return err
}

func writeDLQResult(w io.Writer, action string, res deadletter.Result, sel deadletter.Selection) {
	verb := map[string]string{"replay": "replayed", "purge": "purged"}[action]
	switch {
	case action == "purge" && sel.All && len(sel.Seqs) == 0 && len(sel.IDs) == 0 && sel.Filter.Match == "" && sel.Filter.Subject == "":
		fmt.Fprintln(w, "purged every dead letter")
	default:
		fmt.Fprintf(w, "%s %d dead letter(s)", verb, len(res.Done))
		if len(res.Duplicates) > 0 {
			fmt.Fprintf(w, " (%d already replayed before, deduplicated)", len(res.Duplicates))
		}
		fmt.Fprintln(w)
	}
	failed := slices.Sorted(maps.Keys(res.Failed))
	for _, seq := range failed {
		fmt.Fprintf(w, "failed: seq %d: %s\n", seq, res.Failed[seq])
	}
	for _, m := range res.Missing {
		fmt.Fprintf(w, "not found: %s\n", m)
	}
}

func ellipsis(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n-1]) + "…"
}
