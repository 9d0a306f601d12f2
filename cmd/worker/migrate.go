package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"newsflow/internal/cli"
	"newsflow/internal/store"
)

// newMigrateCmd is `worker migrate`: the schema migrations run applies at
// start, alone.
func newMigrateCmd(e *env) *cobra.Command {
	var db databaseFlags
	cmd := &cobra.Command{
		Use:   "migrate [flags]",
		Short: "apply the database schema migrations and exit",
		Args:  cli.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			st, err := db.open(cmd, store.PoolConfig{MaxConns: 1}, false, e.log)
			if err != nil {
				return err
			}
			defer st.Close()
			if err := st.Migrate(cmd.Context()); err != nil {
				return fmt.Errorf("migrate database: %w", err)
			}
			fmt.Fprintln(e.stdout, "schema up to date")
			return nil
		},
	}
	db.register(cmd.Flags(), nil)
	return cmd
}
