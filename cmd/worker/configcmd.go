package main

import (
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"newsflow/internal/cli"
)

// configRow is one configuration flag of `worker run` as `worker config`
// shows it; the JSON shape of `worker config --json` (one object a line).
type configRow struct {
	Flag     string `json:"flag"`
	Value    string `json:"value"`
	Variable string `json:"variable"`
	Group    string `json:"group"`
	Source   string `json:"source"` // default, env or flag
}

// newConfigCmd is `worker config`: the effective configuration of `worker
// run` given the same flags and environment, secrets masked, and where each
// value came from. It checks the values as run does and exits 2 after
// printing when one is invalid.
func newConfigCmd(e *env) *cobra.Command {
	var (
		c      runConfig
		asJSON bool
	)
	cmd := &cobra.Command{
		Use:   "config [flags]",
		Short: "print the configuration worker run would use, secrets masked, with each value's source (--json)",
		Args:  cli.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			fs := cmd.Flags()
			rows := configRows(fs)
			var err error
			if asJSON {
				err = writeJSONLines(e.stdout, "config", rows)
			} else {
				err = writeConfigTable(e.stdout, rows)
			}
			if err != nil {
				return err
			}
			if err := cli.CheckRules(fs); err != nil {
				return err
			}
			return c.validate(func(n string) string { return cli.Name(fs, n) })
		},
	}
	cli.DeferRules(cmd)
	fs := cmd.Flags()
	c.register(fs)
	fs.BoolVar(&asJSON, "json", false, "print one JSON object per setting and line: flag, value, variable, group, source")
	cli.Options(fs, "json")
	return cmd
}

// configRows lists fs's configuration flags in definition order.
func configRows(fs *pflag.FlagSet) []configRow {
	var rows []configRow
	sorted := fs.SortFlags
	fs.SortFlags = false
	fs.VisitAll(func(f *pflag.Flag) {
		if cli.Env(f) == "" {
			return
		}
		rows = append(rows, configRow{Flag: f.Name, Value: cli.Masked(f), Variable: cli.Env(f), Group: cli.GroupOf(f),
			Source: string(cli.SourceOf(fs, f.Name))})
	})
	fs.SortFlags = sorted
	return rows
}

// writeConfigTable prints rows as one table per group, in the order the
// groups first appear.
func writeConfigTable(w io.Writer, rows []configRow) error {
	var order []string
	byGroup := map[string][]configRow{}
	for _, r := range rows {
		if _, ok := byGroup[r.Group]; !ok {
			order = append(order, r.Group)
		}
		byGroup[r.Group] = append(byGroup[r.Group], r)
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for i, g := range order {
		if i > 0 {
			fmt.Fprintln(tw)
		}
		fmt.Fprintf(tw, "%s:\n", g)
		fmt.Fprintln(tw, "  FLAG\tVALUE\tSOURCE\tVARIABLE")
		for _, r := range byGroup[g] {
			v := r.Value
			if v == "" {
				v = `""`
			}
			fmt.Fprintf(tw, "  --%s\t%s\t%s\t%s\n", r.Flag, v, r.Source, r.Variable)
		}
	}
	return tw.Flush()
}
