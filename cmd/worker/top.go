package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"newsflow/internal/envflag"
	"newsflow/internal/store"
)

func init() {
	register("top", "the most important stories of a window, reposts collapsed (--since, -n, --category, --json)", runTop)
}

// topStore is what `worker top` needs of a store.
// topRow is one story as `worker top --json` prints it.
type topRow struct {
	Rank        int       `json:"rank"`
	Importance  int       `json:"importance"`
	Category    string    `json:"category"`
	Sources     []string  `json:"sources"`
	Reposts     int       `json:"reposts"`
	Title       string    `json:"title"`
	Summary     string    `json:"summary"`
	URL         string    `json:"url,omitempty"`
	PublishedAt time.Time `json:"published_at"`
	ContentHash string    `json:"content_hash"`
}

// runTop is `worker top`: a query, not an LLM call.
func runTop(ctx context.Context, args []string, e env) error {
	var (
		since       time.Duration
		limit       int
		category    string
		asJSON      bool
		databaseURL string
		dataDir     string
	)
	fs := flag.NewFlagSet("top", flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	fs.DurationVar(&since, "since", 24*time.Hour, "window: stories published (or ingested) this long ago at most; 0 means all time")
	fs.IntVar(&limit, "n", store.DefaultTopLimit, "number of stories")
	fs.StringVar(&category, "category", "", "only this category")
	fs.BoolVar(&asJSON, "json", false, "print one JSON object per story and line")
	fs.StringVar(&databaseURL, "database-url", "", "Postgres URL; empty means SQLite at <data-dir>/newsflow.db")
	fs.StringVar(&dataDir, "data-dir", "./data", "directory of the embedded mode's state (SQLite file)")
	fs.Usage = envflag.Usage(fs, "worker top [--since 24h] [-n 10] [--category C] [--json]")
	if err := envflag.Parse(fs, args, e.getenv); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("top: unexpected arguments %q", fs.Args())
	}
	if limit < 1 || since < 0 {
		return fmt.Errorf("top: need -n ≥ 1 and --since ≥ 0, got %d and %s", limit, since)
	}

	st, err := store.Open(ctx, databaseURL, dataDir, store.PoolConfig{}, true, e.log, nil)
	if err != nil {
		return fmt.Errorf("top: %w", err)
	}
	defer st.Close()
	stories, err := st.Top(ctx, store.TopQuery{Since: since, Limit: limit, Category: category})
	if err != nil {
		return err
	}
	rows := make([]topRow, len(stories))
	for i, s := range stories {
		rows[i] = topRow{Rank: i + 1, Importance: s.Importance, Category: s.Category, Sources: s.Sources, Reposts: s.Reposts,
			Title: s.Title, Summary: s.Summary, URL: s.URL, PublishedAt: s.PublishedAt, ContentHash: s.ContentHash.String()}
	}
	if asJSON {
		return writeJSONLines(e.stdout, "top", rows)
	}
	writeTopTable(e.stdout, rows)
	return nil
}

func writeTopTable(w io.Writer, rows []topRow) {
	if len(rows) == 0 {
		fmt.Fprintln(w, "no stories in the window")
		return
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "#\tIMPORTANCE\tCATEGORY\tSOURCES\tTITLE\tSUMMARY")
	for _, r := range rows {
		fmt.Fprintf(tw, "%d\t%d\t%s\t%d\t%s\t%s\n", r.Rank, r.Importance, r.Category, len(r.Sources),
			ellipsis(oneLine(r.Title), 60), ellipsis(oneLine(r.Summary), 100))
	}
	_ = tw.Flush()
}

// oneLine folds white space runs (newlines, tabs) into single spaces, so a
// story cannot break the table.
func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }
