package main

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"newsflow/internal/cli"
	"newsflow/internal/store"
)

// topRow is one story as `worker top --json` prints it.
type topRow struct {
	Rank        int       `json:"rank"`
	Importance  int       `json:"importance"`
	Category    string    `json:"category"`
	Sources     []string  `json:"sources"`
	Reposts     int       `json:"reposts"`
	Variants    int       `json:"variants"`
	Title       string    `json:"title"`
	Summary     string    `json:"summary"`
	URL         string    `json:"url,omitempty"`
	PublishedAt time.Time `json:"published_at"`
	ContentHash string    `json:"content_hash"`
	StoryID     string    `json:"story_id"`
	IDs         []string  `json:"ids"`
}

// newTopCmd is `worker top`: a query, not an LLM call.
func newTopCmd(e *env) *cobra.Command {
	var (
		since    time.Duration
		limit    int
		category string
		asJSON   bool
		db       databaseFlags
	)
	cmd := &cobra.Command{
		Use:   "top [flags]",
		Short: "the most important stories of a window, reposts and near-duplicates collapsed (--since, -n, --category, --json)",
		Args:  cli.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			st, err := db.open(cmd, store.PoolConfig{}, true, e.log)
			if err != nil {
				return err
			}
			defer st.Close()
			stories, err := st.Top(ctx, store.TopQuery{Since: since, Limit: limit, Category: category})
			if err != nil {
				return err
			}
			rows := make([]topRow, len(stories))
			for i, s := range stories {
				rows[i] = topRow{Rank: i + 1, Importance: s.Importance, Category: s.Category, Sources: s.Sources, Reposts: s.Reposts,
					Title: s.Title, Summary: s.Summary, URL: s.URL, PublishedAt: s.PublishedAt, ContentHash: s.ContentHash.String(),
					StoryID: s.StoryID.String(), Variants: s.Variants, IDs: s.IDs}
			}
			if asJSON {
				return writeJSONLines(e.stdout, "top", rows)
			}
			writeTopTable(e.stdout, rows)
			return nil
		},
	}
	fs := cmd.Flags()
	fs.DurationVar(&since, "since", 24*time.Hour, "window: stories published (or ingested) this long ago at most; 0 means all time")
	fs.IntVarP(&limit, "n", "n", store.DefaultTopLimit, "number of stories")
	fs.StringVar(&category, "category", "", "only this category")
	fs.BoolVar(&asJSON, "json", false, "print one JSON object per story and line")
	db.register(fs, nil)
	cli.Options(fs, "since", "n", "category", "json")
	cli.NonNegative(fs, "since")
	cli.Positive(fs, "n")
	return cmd
}

func writeTopTable(w io.Writer, rows []topRow) {
	if len(rows) == 0 {
		fmt.Fprintln(w, "no stories in the window")
		return
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "#\tIMPORTANCE\tCATEGORY\tSOURCES\tVARIANTS\tTITLE\tSUMMARY")
	for _, r := range rows {
		fmt.Fprintf(tw, "%d\t%d\t%s\t%d\t%d\t%s\t%s\n", r.Rank, r.Importance, r.Category, len(r.Sources), r.Variants,
			ellipsis(oneLine(r.Title), 60), ellipsis(oneLine(r.Summary), 100))
	}
	_ = tw.Flush()
}

// oneLine folds white space runs (newlines, tabs) into single spaces, so a
// story cannot break the table.
func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }
