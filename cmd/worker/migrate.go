package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"newsflow/internal/cli"
	"newsflow/internal/natsflag"
	"newsflow/internal/store"
)

// databaseFlags are the flags of the subcommands that open the database
// (migrate, top): a Postgres URL, or SQLite in the data directory.
type databaseFlags struct {
	databaseURL string
	dataDir     string
}

func (f *databaseFlags) register(cmd *cobra.Command) {
	fs := cmd.Flags()
	fs.StringVar(&f.databaseURL, "database-url", "", "Postgres URL; empty means SQLite at <data-dir>/newsflow.db")
	fs.StringVar(&f.dataDir, "data-dir", natsflag.DefaultDataDir, "directory of the embedded mode's state (SQLite file)")
	cli.Config(fs, "Database", "database-url", "data-dir")
	cli.Path(fs, "data-dir")
}

func newMigrateCmd(e *env) *cobra.Command {
	var db databaseFlags
	cmd := &cobra.Command{
		Use:   "migrate [flags]",
		Short: "apply the database schema migrations and exit",
		Args:  cli.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			st, err := store.Open(ctx, db.databaseURL, db.dataDir, store.PoolConfig{MaxConns: 1}, false, e.log, nil)
			if err != nil {
				return err
			}
			defer st.Close()
			if err := st.Migrate(ctx); err != nil {
				return fmt.Errorf("migrate database: %w", err)
			}
			fmt.Fprintln(e.stdout, "schema up to date")
			return nil
		},
	}
	db.register(cmd)
	return cmd
}
