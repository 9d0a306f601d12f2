// Package cli states newsflow's command-line policy once, for both programs
// (worker, publisher), on top of spf13/cobra and spf13/pflag.
//
// Why cobra+pflag: GNU-style flags (--flag value, -f), flags after positional
// arguments, nested subcommands (worker dlq list|show|replay|purge),
// --version and `completion bash|zsh|fish` behave as operators know them from
// kubectl and the nats CLI; pflag's per-flag annotations carry what this
// package adds (group, environment variable, value rule), so the policy lives
// in the flag set itself and not in a parallel table.
//
// The policy:
//   - Configuration flags (Config) also read an environment variable: the
//     design's standard names (NATS_URL, DATABASE_URL, ...) or NEWSFLOW_ + the
//     flag name in upper snake case. A flag given on the command line wins.
//   - Options (Options) — selectors, actions, output switches — never read
//     the environment, so no variable can pick what a command does to data.
//   - Value rules (Positive, NonNegative, AtLeast, AtMost) are checked by Load,
//     before a command starts anything; errors name the flag, or the variable
//     and the flag when the value came from the environment, and say what a
//     valid value looks like.
//   - Exit codes: 0 ok, 1 failure, 2 usage (unknown command or flag, bad
//     value, bad argument, rejected configuration); see ExitCode.
//
// A flag set is read and written by one goroutine, the command's.
package cli

import (
	"errors"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/pflag"
)

// Prefix is put before the upper snake case flag name to form its variable.
const Prefix = "NEWSFLOW_"

// standard maps flags to the design's un-prefixed variable names.
var standard = map[string]string{
	"nats-url":        "NATS_URL",
	"redis-url":       "REDIS_URL",
	"database-url":    "DATABASE_URL",
	"llm-provider":    "LLM_PROVIDER",
	"llm-model":       "LLM_MODEL",
	"gemini-api-key":  "GEMINI_API_KEY",
	"openai-api-key":  "OPENAI_API_KEY",
	"openai-base-url": "OPENAI_BASE_URL",
}

// EnvName returns the environment variable of the configuration flag name.
func EnvName(name string) string {
	if v, ok := standard[name]; ok {
		return v
	}
	return Prefix + strings.ToUpper(strings.ReplaceAll(name, "-", "_"))
}

// Annotation keys on pflag.Flag.
const (
	annGroup  = "newsflow.group"
	annEnv    = "newsflow.env"
	annOption = "newsflow.option"
	annSource = "newsflow.source"
	annMin    = "newsflow.min" // [value, "incl"|"excl"]
	annMax    = "newsflow.max" // [value]
	annPath   = "newsflow.path"
)

// Path marks the named flags as file system paths: Load (and LoadEnv) make a
// relative value absolute against the current directory, so every part of
// the program, and every message, names the same place wherever it runs.
func Path(fs *pflag.FlagSet, names ...string) {
	for _, n := range names {
		lookup(fs, n).Annotations[annPath] = []string{"true"}
	}
}

// OptionsGroup is the help heading of options.
const OptionsGroup = "Options"

func lookup(fs *pflag.FlagSet, name string) *pflag.Flag {
	f := fs.Lookup(name)
	if f == nil {
		panic("cli: no flag --" + name) // a programming error, caught by every test of the command
	}
	if f.Annotations == nil {
		f.Annotations = map[string][]string{}
	}
	return f
}

// Config marks the named flags as configuration under the help heading
// group: each reads its environment variable (EnvName) when not given on the
// command line.
func Config(fs *pflag.FlagSet, group string, names ...string) {
	for _, n := range names {
		f := lookup(fs, n)
		f.Annotations[annGroup] = []string{group}
		f.Annotations[annEnv] = []string{EnvName(n)}
		delete(f.Annotations, annOption)
	}
}

// Options marks the named flags as options: selectors, actions and output
// switches, which never read the environment.
func Options(fs *pflag.FlagSet, names ...string) {
	for _, n := range names {
		f := lookup(fs, n)
		f.Annotations[annGroup] = []string{OptionsGroup}
		f.Annotations[annOption] = []string{"true"}
		delete(f.Annotations, annEnv)
	}
}

// Env returns the environment variable of the flag, "" for an option or an
// unclassified flag.
func Env(f *pflag.Flag) string {
	if v := f.Annotations[annEnv]; len(v) == 1 {
		return v[0]
	}
	return ""
}

// GroupOf returns the help heading of the flag, "" when unclassified.
func GroupOf(f *pflag.Flag) string {
	if v := f.Annotations[annGroup]; len(v) == 1 {
		return v[0]
	}
	return ""
}

// Classified reports whether Config or Options has been called for f.
func Classified(f *pflag.Flag) bool { return GroupOf(f) != "" }

// Positive requires the named numeric or duration flags to be > 0.
func Positive(fs *pflag.FlagSet, names ...string) { bound(fs, annMin, "0", "excl", names) }

// NonNegative requires the named numeric or duration flags to be ≥ 0.
func NonNegative(fs *pflag.FlagSet, names ...string) { bound(fs, annMin, "0", "incl", names) }

// AtLeast requires the named flags to be ≥ min, written as the flag's value
// would be ("1024", "1ms").
func AtLeast(fs *pflag.FlagSet, min string, names ...string) { bound(fs, annMin, min, "incl", names) }

// AtMost requires the named flags to be ≤ max, written as the flag's value
// would be.
func AtMost(fs *pflag.FlagSet, max string, names ...string) { bound(fs, annMax, max, "incl", names) }

func bound(fs *pflag.FlagSet, key, v, kind string, names []string) {
	for _, n := range names {
		f := lookup(fs, n)
		if _, ok := number(f.Value.Type(), v); !ok {
			panic(fmt.Sprintf("cli: bound %q does not fit --%s of type %s", v, n, f.Value.Type()))
		}
		f.Annotations[key] = []string{v, kind}
	}
}

// number parses s as a value of the pflag type typ, as a float64 (durations
// in nanoseconds); ok is false for types without an order.
func number(typ, s string) (float64, bool) {
	switch {
	case typ == "duration":
		d, err := time.ParseDuration(s)
		return float64(d), err == nil
	case strings.HasPrefix(typ, "int"), strings.HasPrefix(typ, "uint"):
		n, err := strconv.ParseInt(s, 10, 64)
		return float64(n), err == nil
	case strings.HasPrefix(typ, "float"):
		n, err := strconv.ParseFloat(s, 64)
		return n, err == nil
	}
	return 0, false
}

// kind says what a valid value of the pflag type typ is (noun) and looks
// like (example); noun is "" when the type's own parse error says it better.
func kind(typ string) (noun, example string) {
	switch {
	case typ == "duration":
		return "a duration", "5s, 250ms or 2m"
	case strings.HasPrefix(typ, "int"), strings.HasPrefix(typ, "uint"):
		return "a whole number", ""
	case strings.HasPrefix(typ, "float"):
		return "a number", "0.5"
	case typ == "bool":
		return "true or false", ""
	}
	return "", ""
}

// rule describes the flag's value rule ("≥ 1", "from 1 to 20"), "" when it
// has none.
func rule(f *pflag.Flag) string {
	lo, hasLo := f.Annotations[annMin]
	hi, hasHi := f.Annotations[annMax]
	if noun, _ := kind(f.Value.Type()); hasLo && lo[1] == "excl" && noun == "a whole number" {
		n, _ := number(f.Value.Type(), lo[0])
		lo = []string{strconv.FormatInt(int64(n)+1, 10), "incl"}
	}
	switch {
	case hasLo && hasHi && lo[1] == "incl":
		return "from " + lo[0] + " to " + hi[0]
	case hasLo && hasHi:
		return "> " + lo[0] + " and ≤ " + hi[0]
	case hasLo && lo[1] == "incl":
		return "≥ " + lo[0]
	case hasLo:
		return "> " + lo[0]
	case hasHi:
		return "≤ " + hi[0]
	}
	return ""
}

// Source is where a flag's value came from.
type Source string

// Sources of a value.
const (
	FromDefault Source = "default"
	FromEnv     Source = "env"
	FromFlag    Source = "flag"
)

// SourceOf returns where the value of the flag name came from; Load must
// have run.
func SourceOf(fs *pflag.FlagSet, name string) Source {
	f := fs.Lookup(name)
	switch {
	case f == nil || !f.Changed:
		return FromDefault
	case len(f.Annotations[annSource]) == 1:
		return FromEnv
	}
	return FromFlag
}

// Name names the flag in an error the way the user set it: "--x", or
// "NEWSFLOW_X (--x)" when its value came from the environment.
func Name(fs *pflag.FlagSet, name string) string {
	if f := fs.Lookup(name); f != nil && SourceOf(fs, name) == FromEnv {
		return Env(f) + " (--" + name + ")"
	}
	return "--" + name
}

// Load sets every configuration flag not given on the command line from its
// environment variable (when getenv returns a non-empty value), then checks
// every flag's value rule. Errors are usage errors (*UsageError).
func Load(fs *pflag.FlagSet, getenv func(string) string) error {
	if err := LoadEnv(fs, getenv); err != nil {
		return err
	}
	return CheckRules(fs)
}

// LoadEnv is Load without the value rules: it only sets configuration flags
// from their variables. A value that does not parse is a usage error.
func LoadEnv(fs *pflag.FlagSet, getenv func(string) string) error {
	var errs []error
	fs.VisitAll(func(f *pflag.Flag) {
		env := Env(f)
		if f.Changed || env == "" || len(errs) > 0 {
			return
		}
		v := getenv(env)
		if v == "" {
			return
		}
		if err := fs.Set(f.Name, v); err != nil {
			errs = append(errs, invalid(v, env+" (--"+f.Name+")", f, err))
			return
		}
		f.Annotations[annSource] = []string{string(FromEnv)}
	})
	if len(errs) > 0 {
		return &UsageError{errs[0]}
	}
	fs.VisitAll(func(f *pflag.Flag) {
		if len(errs) > 0 || len(f.Annotations[annPath]) == 0 || f.Value.String() == "" {
			return
		}
		abs, err := filepath.Abs(f.Value.String())
		if err == nil {
			err = f.Value.Set(abs) // not fs.Set: the value's source stays what it was
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("invalid value %q for %s: %v", f.Value.String(), Name(fs, f.Name), err))
		}
	})
	if len(errs) > 0 {
		return &UsageError{errs[0]}
	}
	return nil
}

// CheckRules checks every flag's value rule (Positive, AtLeast, ...); the
// error, a usage error, names the first flag out of range.
func CheckRules(fs *pflag.FlagSet) error {
	var errs []error
	fs.VisitAll(func(f *pflag.Flag) {
		if len(errs) > 0 {
			return
		}
		if err := checkRule(f); err != nil {
			errs = append(errs, invalid(f.Value.String(), Name(fs, f.Name), f, err))
		}
	})
	if len(errs) > 0 {
		return &UsageError{errs[0]}
	}
	return nil
}

// errRule is a value outside its flag's rule.
var errRule = errors.New("out of range")

func checkRule(f *pflag.Flag) error {
	lo, hasLo := f.Annotations[annMin]
	hi, hasHi := f.Annotations[annMax]
	if !hasLo && !hasHi {
		return nil
	}
	v, ok := number(f.Value.Type(), f.Value.String())
	if !ok {
		return nil
	}
	if hasLo {
		m, _ := number(f.Value.Type(), lo[0])
		if v < m || (v == m && lo[1] == "excl") {
			return errRule
		}
	}
	if hasHi {
		m, _ := number(f.Value.Type(), hi[0])
		if v > m {
			return errRule
		}
	}
	return nil
}

// invalid is the one-line error for value v of flag f, named as name: what
// a valid value looks like, or the value's own parse error for custom types.
func invalid(v, name string, f *pflag.Flag, err error) error {
	noun, example := kind(f.Value.Type())
	if noun == "" {
		return fmt.Errorf("invalid value %q for %s: %s", v, name, innermost(err))
	}
	want := noun
	if r := rule(f); r != "" {
		want += " " + r
	}
	if example != "" {
		want += " like " + example
	}
	return fmt.Errorf("invalid value %q for %s: want %s", v, name, want)
}

// innermost is the message of the deepest wrapped error, without the
// parse-function prefixes pflag and strconv add.
func innermost(err error) string {
	for {
		u := errors.Unwrap(err)
		if u == nil {
			return err.Error()
		}
		err = u
	}
}

// FlagError rewrites pflag's parse errors into this package's form:
// `invalid value "x" for --name: want ...`. It is cobra's FlagErrorFunc.
func FlagError(fs *pflag.FlagSet, err error) error {
	var ive *pflag.InvalidValueError
	if errors.As(err, &ive) {
		f := ive.GetFlag()
		return &UsageError{invalid(ive.GetValue(), "--"+f.Name, f, ive.Unwrap())}
	}
	return &UsageError{err}
}

// SplitList splits a comma-separated value, trimming white space and
// dropping empty items: "a, b,,c" gives [a b c].
func SplitList(s string) []string {
	var out []string
	for p := range strings.SplitSeq(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}
