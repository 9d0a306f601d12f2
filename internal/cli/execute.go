package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"regexp"
	"slices"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// UsageError is a bad command line or configuration: exit status 2.
type UsageError struct{ Err error }

func (e *UsageError) Error() string { return e.Err.Error() }
func (e *UsageError) Unwrap() error { return e.Err }

// Usagef returns a *UsageError with the formatted message.
func Usagef(format string, a ...any) error { return &UsageError{fmt.Errorf(format, a...)} }

// AsUsage returns err as a *UsageError (nil stays nil).
func AsUsage(err error) error {
	var ue *UsageError
	if err == nil || errors.As(err, &ue) {
		return err
	}
	return &UsageError{err}
}

// ExitCode is the process exit status for err returned by Execute: 0 for
// nil, 2 for a usage error, 1 otherwise.
func ExitCode(err error) int {
	var ue *UsageError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &ue):
		return 2
	}
	return 1
}

// NoArgs rejects positional arguments as a usage error.
func NoArgs(c *cobra.Command, args []string) error {
	if len(args) > 0 {
		return Usagef("%s: unexpected argument %q (it takes flags only; see --help)", c.CommandPath(), args[0])
	}
	return nil
}

// ExactArgs accepts exactly n positional arguments, described by what
// ("one dead-letter sequence, e.g. worker dlq show 42") in the error.
func ExactArgs(n int, what string) cobra.PositionalArgs {
	return func(c *cobra.Command, args []string) error {
		if len(args) != n {
			return Usagef("%s: want %s, got %d argument(s)", c.CommandPath(), what, len(args))
		}
		return nil
	}
}

// RequireSubcommand makes c, a command that only groups subcommands, fail
// with a usage error naming them when run without one or with an unknown one.
func RequireSubcommand(c *cobra.Command) {
	c.Args = cobra.ArbitraryArgs
	c.RunE = func(c *cobra.Command, args []string) error {
		var names []string
		for _, s := range c.Commands() {
			if s.IsAvailableCommand() {
				names = append(names, s.Name())
			}
		}
		if len(args) == 0 {
			return Usagef("%s: want a subcommand: %s", c.CommandPath(), strings.Join(names, ", "))
		}
		return Usagef("%s: unknown subcommand %q; want one of: %s", c.CommandPath(), args[0], strings.Join(names, ", "))
	}
}

const annDeferRules = "newsflow.deferRules"

// DeferRules makes Execute load c's variables but leave the value rules to
// c itself (CheckRules), for a command that shows the configuration before
// it judges it (worker config).
func DeferRules(c *cobra.Command) {
	if c.Annotations == nil {
		c.Annotations = map[string]string{}
	}
	c.Annotations[annDeferRules] = "true"
}

var unknownCommand = regexp.MustCompile(`^unknown command "([^"]*)" for "([^"]*)"`)

// Execute runs root with args (never os.Args). Once cobra has chosen the
// command and parsed its flags, Load applies the environment and the value
// rules, then root's own PersistentPreRunE runs (subcommands must not set
// one). Anything that fails before the command runs is a usage error; the
// returned error is one line.
//
// Secrets never leave through Execute: the returned error is redacted
// (internal/redact, with the literal values of every secret flag and its
// variable), and once the flags are loaded root's stderr (cmd.ErrOrStderr(),
// where commands write their logs) is a redacting writer.
func Execute(ctx context.Context, root *cobra.Command, args []string, getenv func(string) string) error {
	if args == nil {
		args = []string{}
	}
	root.SetArgs(args)
	root.SilenceErrors, root.SilenceUsage = true, true
	root.DisableSuggestions = true
	root.SuggestionsMinimumDistance = 2
	walk(root, func(c *cobra.Command) { c.Flags().SetOutput(c.ErrOrStderr()) }) // pflag's deprecation notes
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error { return FlagError(c.Flags(), err) })
	root.SetUsageFunc(usage)
	root.SetVersionTemplate("{{.Name}} {{.Version}}\n")
	hook := root.PersistentPreRunE
	loaded := false
	root.PersistentPreRunE = func(c *cobra.Command, a []string) error {
		load := Load
		if c.Annotations[annDeferRules] != "" {
			load = LoadEnv
		}
		if err := load(c.Flags(), getenv); err != nil {
			return err
		}
		loaded = true
		root.SetErr(Redactor(root, getenv).Writer(root.ErrOrStderr()))
		if hook != nil {
			return hook(c, a)
		}
		return nil
	}
	_, err := root.ExecuteContextC(ctx)
	if err == nil {
		return nil
	}
	r := Redactor(root, getenv)
	if !loaded {
		if m := unknownCommand.FindStringSubmatch(err.Error()); m != nil {
			msg := fmt.Sprintf("unknown command %q for %q", m[1], m[2])
			if s := root.SuggestionsFor(m[1]); len(s) > 0 {
				msg += "; did you mean " + strings.Join(s, " or ") + "?"
			}
			err = errors.New(msg + " (see " + root.Name() + " --help)")
		}
		err = AsUsage(err)
	}
	return r.Error(oneLine(err))
}

// oneLine folds a multi-line error into one line, keeping its type.
func oneLine(err error) error {
	msg := err.Error()
	if !strings.ContainsAny(msg, "\r\n") {
		return err
	}
	var parts []string
	for l := range strings.Lines(msg) {
		if l = strings.TrimSpace(l); l != "" {
			parts = append(parts, l)
		}
	}
	var b strings.Builder
	for i, p := range parts {
		if i > 0 {
			if strings.HasSuffix(parts[i-1], ":") {
				b.WriteString(" ") // "failed to connect to x:" introduces what follows
			} else {
				b.WriteString("; ")
			}
		}
		b.WriteString(p)
	}
	folded := errors.New(b.String())
	if ExitCode(err) == 2 {
		return &UsageError{folded}
	}
	return &foldedError{folded: folded, err: err}
}

// foldedError is a failure shown on one line that still unwraps to the
// original.
type foldedError struct {
	folded error
	err    error
}

func (e *foldedError) Error() string { return e.folded.Error() }
func (e *foldedError) Unwrap() error { return e.err }

// Unclassified lists the flags ("worker run --x") of root's commands for
// which neither Config nor Options was called; cobra's own help, version
// and completion flags are exempt. Tests of each program assert it is empty.
func Unclassified(root *cobra.Command) []string {
	var out []string
	walk(root, func(c *cobra.Command) {
		if c.Name() == "completion" || c.HasParent() && c.Parent().Name() == "completion" || c.Name() == "help" {
			return
		}
		c.LocalFlags().VisitAll(func(f *pflag.Flag) {
			if !Classified(f) && f.Name != "help" && f.Name != "version" {
				out = append(out, c.CommandPath()+" --"+f.Name)
			}
		})
	})
	return out
}

// walk calls fn for c and every command below it.
func walk(c *cobra.Command, fn func(*cobra.Command)) {
	fn(c)
	for _, s := range c.Commands() {
		walk(s, fn)
	}
}

// globalGroup heads cobra's --help and --version.
const globalGroup = "Global"

// usage prints c's usage: synopsis, subcommands, and the flags grouped by
// concern, each with its rule and environment variable.
func usage(c *cobra.Command) error {
	w := c.OutOrStderr()
	fmt.Fprintln(w, "Usage:")
	if c.Runnable() {
		fmt.Fprintf(w, "  %s\n", c.UseLine())
	}
	if c.HasAvailableSubCommands() {
		fmt.Fprintf(w, "  %s [command]\n", c.CommandPath())
	}
	if c.Example != "" {
		fmt.Fprintf(w, "\nExamples:\n%s\n", c.Example)
	}
	if c.HasAvailableSubCommands() {
		fmt.Fprintln(w, "\nCommands:")
		for _, s := range c.Commands() {
			if s.IsAvailableCommand() || s.Name() == "help" {
				fmt.Fprintf(w, "  %-*s %s\n", c.NamePadding(), s.Name(), s.Short)
			}
		}
	}
	writeFlags(w, c)
	if c.HasAvailableSubCommands() {
		fmt.Fprintf(w, "\nUse \"%s [command] --help\" for more about a command.\n", c.CommandPath())
	}
	return nil
}

func writeFlags(w io.Writer, c *cobra.Command) {
	groups := map[string]*pflag.FlagSet{}
	var order []string
	add := func(group string, f *pflag.Flag) {
		if f.Hidden {
			return
		}
		fs, ok := groups[group]
		if !ok {
			fs = pflag.NewFlagSet(group, pflag.ContinueOnError)
			groups[group] = fs
			order = append(order, group)
		}
		cp := *f
		var notes []string
		if r := rule(f); r != "" {
			notes = append(notes, r)
		}
		if env := Env(f); env != "" {
			notes = append(notes, "env "+env)
		}
		if len(notes) > 0 {
			cp.Usage += " [" + strings.Join(notes, "; ") + "]"
		}
		fs.AddFlag(&cp)
	}
	all, inherited := c.Flags(), c.InheritedFlags()
	sorted := all.SortFlags
	all.SortFlags = false // definition order decides the order of the groups
	all.VisitAll(func(f *pflag.Flag) {
		g := GroupOf(f)
		switch {
		case f.Name == "help" || f.Name == "version" || inherited.Lookup(f.Name) != nil:
			g = globalGroup
		case g == "":
			g = "Flags"
		}
		add(g, f)
	})
	all.SortFlags = sorted
	// Options first (what the command does), Global last.
	slices.SortStableFunc(order, func(a, b string) int { return rank(a) - rank(b) })
	for _, g := range order {
		// pflag marks every bool "[=true|false]"; --flag and --flag=false are the convention.
		u := strings.ReplaceAll(groups[g].FlagUsagesWrapped(0), "[=true|false]", "             ")
		fmt.Fprintf(w, "\n%s:\n%s\n", g, strings.TrimRight(u, "\n"))
	}
}

func rank(group string) int {
	switch group {
	case OptionsGroup:
		return -1
	case globalGroup:
		return 1
	}
	return 0
}
