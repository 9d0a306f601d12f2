package main

import (
	"context"
	"flag"
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"newsflow/internal/envflag"
	"newsflow/internal/natsflag"
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
	c.dbMaxConns, c.dbMinIdle = 1, -1
	st, err := openStore(ctx, &c, e.log, nil)
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

func openPostgres(ctx context.Context, dsn string, cfg store.PoolConfig, log *zap.Logger, reg prometheus.Registerer) (*store.Postgres, error) {
	p, err := store.OpenPostgres(ctx, dsn, cfg, log, reg)
	if err != nil {
		return nil, fmt.Errorf("open Postgres at %s (DATABASE_URL): %w", natsflag.RedactURL(dsn), err)
	}
	return p, nil
}

func openSQLite(ctx context.Context, path string, log *zap.Logger, reg prometheus.Registerer) (*store.SQLite, error) {
	s, err := store.OpenSQLite(ctx, path, log, reg)
	if err != nil {
		return nil, fmt.Errorf("open SQLite at %s: %w", path, err)
	}
	return s, nil
}
