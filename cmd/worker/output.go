package main

import (
	"encoding/json"
	"fmt"
	"io"

	"newsflow/internal/cli"
)

// isTerminal reports whether v (stdin, stdout) is a terminal.
func isTerminal(v any) bool { return cli.IsTerminal(v) }

// writeJSONLines writes one JSON object per line, the --json output of the
// subcommands that list things; what names the subcommand in errors.
func writeJSONLines[T any](w io.Writer, what string, rows []T) error {
	enc := json.NewEncoder(w)
	for _, r := range rows {
		if err := enc.Encode(r); err != nil {
			return fmt.Errorf("%s: encode: %w", what, err)
		}
	}
	return nil
}
