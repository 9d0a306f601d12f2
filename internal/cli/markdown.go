package cli

import (
	"fmt"
	"strings"

	"github.com/spf13/pflag"
)

// MarkdownTable renders the flags of fs (help, version and hidden flags
// aside) as a Markdown table — variable, flag, default, meaning with the
// value rule — one row per flag, sorted by flag name. The README's flag
// tables are this output, kept true by each program's tests.
func MarkdownTable(fs *pflag.FlagSet) string {
	var b strings.Builder
	b.WriteString("| variable | flag | default | meaning |\n|---|---|---|---|\n")
	fs.VisitAll(func(f *pflag.Flag) {
		if f.Hidden || f.Name == "help" || f.Name == "version" {
			return
		}
		env := "—"
		if v := Env(f); v != "" {
			env = "`" + v + "`"
		}
		def := "—"
		switch {
		case f.DefValue == "" || f.DefValue == "0" || f.DefValue == "0s":
		case f.Value.Type() == "string":
			def = fmt.Sprintf("`%q`", f.DefValue)
		default:
			def = "`" + f.DefValue + "`"
		}
		meaning := strings.ReplaceAll(f.Usage, "|", `\|`)
		if r := rule(f); r != "" {
			meaning = strings.TrimSpace(meaning + " (" + r + ")")
		}
		if Env(f) == "" {
			meaning = strings.TrimPrefix(meaning+"; an option, read from no variable", "; ")
		}
		fmt.Fprintf(&b, "| %s | `--%s` | %s | %s |\n", env, f.Name, def, meaning)
	})
	return b.String()
}

// ReplaceTable returns doc with the Markdown table that follows the line
// heading replaced by table, and whether doc had such a table.
func ReplaceTable(doc, heading, table string) (string, bool) {
	i := strings.Index(doc, "\n"+heading+"\n")
	if i < 0 {
		return doc, false
	}
	start := strings.Index(doc[i:], "\n|")
	if start < 0 {
		return doc, false
	}
	start += i + 1
	end := start
	for end < len(doc) && doc[end] == '|' {
		nl := strings.IndexByte(doc[end:], '\n')
		if nl < 0 {
			end = len(doc)
			break
		}
		end += nl + 1
	}
	return doc[:start] + table + doc[end:], true
}
