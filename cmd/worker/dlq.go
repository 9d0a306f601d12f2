package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
	"unicode/utf8"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"newsflow/internal/cli"
	"newsflow/internal/deadletter"
	"newsflow/internal/stream"
)

// seqList is a comma-separated list of sequences; repeating the flag adds.
type seqList []uint64

func (s *seqList) String() string {
	parts := make([]string, len(*s))
	for i, v := range *s {
		parts[i] = strconv.FormatUint(v, 10)
	}
	return strings.Join(parts, ",")
}

func (s *seqList) Type() string { return "seqs" }

func (s *seqList) Set(v string) error {
	for _, p := range cli.SplitList(v) {
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

func (s *stringList) Type() string { return "strings" }

func (s *stringList) Set(v string) error {
	*s = append(*s, cli.SplitList(v)...)
	return nil
}

// dlqFlags are what every dlq subcommand shares: where the dead letters are
// and --json.
type dlqFlags struct {
	nf        natsFlags
	dlqStream string
	asJSON    bool
}

func (f *dlqFlags) register(fs *pflag.FlagSet, jsonUsage string) {
	f.nf.register(fs)
	fs.StringVar(&f.dlqStream, "dlq-stream", stream.DefaultDLQName, "dead-letter stream")
	fs.BoolVar(&f.asJSON, "json", false, jsonUsage)
	cli.Config(fs, "Connections", "dlq-stream")
	cli.Options(fs, "json")
}

// open connects to NATS and returns the dead letters and the connection.
func (f *dlqFlags) open(ctx context.Context, e *env) (*deadletter.DLQ, func(), error) {
	nc, js, err := f.nf.JetStream(e.log, "newsflow-dlq")
	if err != nil {
		return nil, nil, err
	}
	return deadletter.New(js, deadletter.Config{Stream: f.dlqStream}, e.log), nc.Close, nil
}

// newDLQCmd is `worker dlq`: list, show, replay and purge dead letters.
// Which dead letters is chosen by options only: no environment variable
// selects what replay or purge act on.
func newDLQCmd(e *env) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "dlq",
		Short: "dead letters: list, show SEQ, replay, purge",
		Example: "  worker dlq list --match 'store:' --limit 20\n  worker dlq show 42 --json\n" +
			"  worker dlq replay --seq 42,43\n  worker dlq purge --all --yes",
	}
	cli.RequireSubcommand(cmd)
	cmd.AddCommand(newDLQListCmd(e), newDLQShowCmd(e), newDLQActionCmd(e, "replay"), newDLQActionCmd(e, "purge"))
	return cmd
}

func newDLQListCmd(e *env) *cobra.Command {
	var (
		f      dlqFlags
		filter deadletter.Filter
	)
	cmd := &cobra.Command{
		Use:   "list [flags]",
		Short: "list dead letters, oldest first (--match, --subject, --limit, --json)",
		Args:  cli.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			d, closeFn, err := f.open(cmd.Context(), e)
			if err != nil {
				return err
			}
			defer closeFn()
			entries, err := d.List(cmd.Context(), filter)
			if err != nil {
				return err
			}
			if f.asJSON {
				return writeJSONLines(e.stdout, "dlq list", entries)
			}
			writeDLQTable(e.stdout, entries)
			return nil
		},
	}
	fs := cmd.Flags()
	f.register(fs, "print one JSON object per dead letter and line")
	registerFilter(fs, &filter)
	fs.IntVar(&filter.Limit, "limit", 0, "at most this many (oldest first); 0 means all")
	cli.Options(fs, "limit")
	cli.NonNegative(fs, "limit")
	return cmd
}

func registerFilter(fs *pflag.FlagSet, filter *deadletter.Filter) {
	fs.StringVar(&filter.Match, "match", "", "only dead letters whose error contains this text")
	fs.StringVar(&filter.Subject, "subject", "", "only dead letters whose original subject matches this (wildcards * and >)")
	cli.Options(fs, "match", "subject")
}

func newDLQShowCmd(e *env) *cobra.Command {
	var f dlqFlags
	cmd := &cobra.Command{
		Use:   "show SEQ [flags]",
		Short: "show one dead letter: headers, error and payload",
		Args:  cli.ExactArgs(1, "one dead-letter sequence, e.g. worker dlq show 42"),
		RunE: func(cmd *cobra.Command, args []string) error {
			seq, err := strconv.ParseUint(args[0], 10, 64)
			if err != nil || seq == 0 {
				return cli.Usagef("dlq show: not a stream sequence: %q (want a whole number ≥ 1, as listed by worker dlq list)", args[0])
			}
			d, closeFn, err := f.open(cmd.Context(), e)
			if err != nil {
				return err
			}
			defer closeFn()
			en, err := d.Get(cmd.Context(), seq)
			if err != nil {
				return err
			}
			return writeDLQEntry(e.stdout, en, f.asJSON)
		},
	}
	f.register(cmd.Flags(), "print the dead letter as one JSON object")
	return cmd
}

// newDLQActionCmd is `dlq replay` or `dlq purge`.
func newDLQActionCmd(e *env, action string) *cobra.Command {
	var (
		f    dlqFlags
		sel  deadletter.Selection
		seqs seqList
		ids  stringList
		yes  bool
	)
	short := "publish dead letters again to their original subjects (each once: deduplicated by id)"
	if action == "purge" {
		short = "delete dead letters; --all asks for confirmation on a terminal unless --yes"
	}
	cmd := &cobra.Command{
		Use:   action + " (--seq 1,2 | --id ID | --match S | --subject S | --all) [flags]",
		Short: short,
		Args:  cli.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			sel.Seqs, sel.IDs = seqs, ids
			if len(seqs) == 0 && len(ids) == 0 && !sel.All && sel.Filter == (deadletter.Filter{}) {
				return cli.Usagef("dlq %s: select dead letters with --seq, --id, --match, --subject or --all", action)
			}
			if action == "purge" && sel.All && !yes {
				if err := confirm(e, "purge every dead letter"+describeFilter(sel.Filter)); err != nil {
					return err
				}
			}
			d, closeFn, err := f.open(cmd.Context(), e)
			if err != nil {
				return err
			}
			defer closeFn()
			op := d.Replay
			if action == "purge" {
				op = d.Purge
			}
			res, err := op(cmd.Context(), sel)
			if errors.Is(err, deadletter.ErrEmptySelection) {
				return cli.Usagef("dlq %s: select dead letters with --seq, --id, --match, --subject or --all", action)
			}
			if res.Done != nil || res.Failed != nil || res.Missing != nil || err == nil {
				if f.asJSON {
					if jerr := json.NewEncoder(e.stdout).Encode(res); jerr != nil {
						return fmt.Errorf("dlq %s: encode: %w", action, jerr)
					}
				} else {
					writeDLQResult(e.stdout, action, res, sel)
				}
			}
			return err
		},
	}
	fs := cmd.Flags()
	f.register(fs, "print the result as one JSON object")
	registerFilter(fs, &sel.Filter)
	fs.Var(&seqs, "seq", "dead-letter stream sequences, comma-separated")
	fs.Var(&ids, "id", "message ids, comma-separated")
	fs.BoolVar(&sel.All, "all", false, "every dead letter matching --match/--subject, or every one without them")
	cli.Options(fs, "seq", "id", "all")
	if action == "purge" {
		fs.BoolVarP(&yes, "yes", "y", false, "do not ask for confirmation")
		cli.Options(fs, "yes")
	}
	return cmd
}

func describeFilter(f deadletter.Filter) string {
	var parts []string
	if f.Match != "" {
		parts = append(parts, fmt.Sprintf("whose error contains %q", f.Match))
	}
	if f.Subject != "" {
		parts = append(parts, fmt.Sprintf("whose original subject matches %q", f.Subject))
	}
	if len(parts) == 0 {
		return ""
	}
	return " " + strings.Join(parts, " and ")
}

// confirm asks "<what>? [y/N]" on a terminal and fails unless the answer is
// y or yes; without a terminal it refuses (a usage error): say --yes.
func confirm(e *env, what string) error {
	if !cli.IsTerminal(e.stdin) {
		return cli.Usagef("refusing to %s without --yes: stdin is not a terminal to ask on", what)
	}
	fmt.Fprintf(e.stderr, "%s? [y/N] ", what)
	line, _ := bufio.NewReader(e.stdin).ReadString('\n')
	switch strings.ToLower(strings.TrimSpace(line)) {
	case "y", "yes":
		return nil
	}
	return errors.New("not confirmed: nothing purged")
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
