package cli

import (
	"io"
	"os"

	"golang.org/x/term"
)

// IsTerminal reports whether v (stdin, stdout, stderr) is a terminal, looking
// through writers that wrap another (an Unwrap() io.Writer method, as the
// redacting stderr has). Output that is not a terminal gets no ANSI codes,
// no redraws and no progress bars.
func IsTerminal(v any) bool {
	for {
		if f, ok := v.(*os.File); ok {
			return term.IsTerminal(int(f.Fd()))
		}
		u, ok := v.(interface{ Unwrap() io.Writer })
		if !ok {
			return false
		}
		v = u.Unwrap()
	}
}
