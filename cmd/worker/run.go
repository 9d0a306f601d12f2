package main

import (
	"github.com/spf13/cobra"

	"newsflow/internal/cli"
	"newsflow/internal/worker"
)

// newRunCmd is `worker run`: flags → settings → worker.Open → Run;
// internal/worker does the assembly, the health checks and the shutdown
// order. Every value is checked before anything is started or created.
func newRunCmd(e *env) *cobra.Command {
	var c runConfig
	cmd := &cobra.Command{
		Use:   "run [flags]",
		Short: "consume, enrich and commit news (the worker)",
		Args:  cli.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			fs := cmd.Flags()
			if err := c.validate(func(n string) string { return cli.Name(fs, n) }); err != nil {
				return err
			}
			s := c.settings()
			// Dead letters record their error without the secrets stderr hides.
			s.Consumer.Redactor = cli.Redactor(cmd.Root(), e.getenv)
			if e.setMemoryLimit != nil {
				e.setMemoryLimit(s)
			}
			svc, err := worker.Open(cmd.Context(), s, e.log)
			if err != nil {
				return err
			}
			return svc.Run(cmd.Context())
		},
	}
	c.register(cmd.Flags())
	return cmd
}
