package main

import (
	"encoding/json"
	"fmt"
	"io"
)

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
