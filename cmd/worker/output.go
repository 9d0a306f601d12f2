package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"

	"golang.org/x/term"
)

// isTerminal reports whether v (stdin, stdout) is a terminal.
func isTerminal(v any) bool {
	f, ok := v.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

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
