package main

import (
	"context"
	"flag"
	"fmt"

	"newsflow/internal/envflag"
	"newsflow/internal/store"
)

func init() {
	register("migrate", "apply the database schema migrations and exit", cmdMigrate)
}

func cmdMigrate(ctx context.Context, args []string, e env) error {
	fs := flag.NewFlagSet("worker migrate", flag.ContinueOnError)
	fs.SetOutput(e.stdout)
	var c runConfig
	fs.StringVar(&c.databaseURL, "database-url", "", "Postgres URL; empty means SQLite at <data-dir>/newsflow.db")
	fs.StringVar(&c.conn.DataDir, "data-dir", "./data", "directory of the embedded mode's state")
	fs.Usage = envflag.Usage(fs, "worker migrate [flags]")
	if err := envflag.Parse(fs, args, e.getenv); err != nil {
		return err
	}
	st, err := store.Open(ctx, c.databaseURL, c.conn.DataDir, store.PoolConfig{MaxConns: 1}, false, e.log, nil)
	if err != nil {
		return err
	}
	defer st.Close()
	if err := st.Migrate(ctx); err != nil {
		return fmt.Errorf("migrate database: %w", err)
	}
	fmt.Fprintln(e.stdout, "schema up to date")
	return nil
}
