package main

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"go.uber.org/zap"

	"newsflow/internal/cli"
	"newsflow/internal/natsflag"
	"newsflow/internal/store"
)

// databaseFlags are the database flags of every command that uses the
// store (run, console, migrate, top): --database-url (DATABASE_URL), and
// the --data-dir whose SQLite file serves when it is empty.
type databaseFlags struct {
	url     string
	dataDir *string // the command's --data-dir
}

// register adds --database-url to fs, as configuration in the group
// "Database". dataDir is the command's --data-dir when its NATS flags
// declare one (run, console); when it is nil, register declares
// --data-dir too, in the same group.
func (f *databaseFlags) register(fs *pflag.FlagSet, dataDir *string) {
	fs.StringVar(&f.url, "database-url", "", "Postgres URL; empty means SQLite at <data-dir>/newsflow.db")
	cli.Config(fs, "Database", "database-url")
	if dataDir == nil {
		dataDir = new(string)
		fs.StringVar(dataDir, "data-dir", natsflag.DefaultDataDir, "directory of the embedded mode's state (SQLite file)")
		cli.Config(fs, "Database", "data-dir")
		cli.Path(fs, "data-dir")
	}
	f.dataDir = dataDir
}

// urlScheme matches the scheme of a URL (RFC 3986), which holds no secret.
var urlScheme = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9+.-]*$`)

// validate rejects a --database-url that is neither a Postgres URL nor a
// key=value DSN, as a usage error naming the flag as it was set (name is
// cli.Name's). The error never quotes the value, which may hold a password.
func (f *databaseFlags) validate(name func(string) string) error {
	if f.url == "" {
		return nil
	}
	if _, err := pgxpool.ParseConfig(f.url); err != nil {
		why := ""
		if scheme, _, ok := strings.Cut(f.url, "://"); ok && urlScheme.MatchString(scheme) &&
			scheme != "postgres" && scheme != "postgresql" {
			why = fmt.Sprintf("scheme %q is not postgres; ", scheme)
		}
		return cli.Usagef("invalid value for %s: %swant a URL like postgres://user@host:5432/db or a key=value DSN",
			name("database-url"), why)
	}
	return nil
}

// open validates the flags of cmd, then opens the store (store.Open):
// Postgres with pool, or the SQLite file in --data-dir, which existingOnly
// refuses to create. The caller closes it.
func (f *databaseFlags) open(cmd *cobra.Command, pool store.PoolConfig, existingOnly bool, log *zap.Logger) (store.DB, error) {
	fs := cmd.Flags()
	if err := f.validate(func(n string) string { return cli.Name(fs, n) }); err != nil {
		return nil, err
	}
	return store.Open(cmd.Context(), f.url, *f.dataDir, pool, existingOnly, log, nil)
}
