// Package envflag binds a standard library flag.FlagSet to environment
// variables, so that every flag of newsflow's commands can also be set from
// the environment (DESIGN.md: "every flag has an environment variable").
//
// A flag named "batch-size" reads NEWSFLOW_BATCH_SIZE; the standard names of
// the design (NATS_URL, DATABASE_URL, GEMINI_API_KEY, ...) are mapped
// explicitly. A value given on the command line wins over the environment.
//
// We write this rather than take a CLI framework: the standard flag package
// does the parsing and help text, and the one thing missing — an environment
// fallback with the design's mixed naming (some names carry no prefix) — is a
// few lines, where the framework we would otherwise use (ff) supports a single
// common prefix only.
package envflag

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
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

// EnvName returns the environment variable that sets the flag named name.
func EnvName(name string) string {
	if v, ok := standard[name]; ok {
		return v
	}
	return Prefix + strings.ToUpper(strings.ReplaceAll(name, "-", "_"))
}

// ErrHelp is returned by Parse when -h or --help was given; the usage text has
// then been written to the FlagSet's output.
var ErrHelp = flag.ErrHelp

// Parse parses args into fs, then sets every flag not given on the command
// line from its environment variable, if getenv returns a non-empty value.
// Errors are one line naming the flag (and variable) and the bad value. The
// usage text of each flag is extended with its variable name, so --help shows
// both.
func Parse(fs *flag.FlagSet, args []string, getenv func(string) string) error {
	fs.VisitAll(func(f *flag.Flag) {
		if !strings.Contains(f.Usage, "(env ") {
			f.Usage += " (env " + EnvName(f.Name) + ")"
		}
	})
	out := fs.Output()
	fs.SetOutput(io.Discard)
	fs.Init(fs.Name(), flag.ContinueOnError)
	err := fs.Parse(args)
	fs.SetOutput(out)
	if errors.Is(err, flag.ErrHelp) {
		fs.Usage()
		return ErrHelp
	}
	if err != nil {
		return fmt.Errorf("%s: %w (see --help)", fs.Name(), err)
	}
	given := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { given[f.Name] = true })
	var firstErr error
	fs.VisitAll(func(f *flag.Flag) {
		if given[f.Name] || firstErr != nil {
			return
		}
		name := EnvName(f.Name)
		v := getenv(name)
		if v == "" {
			return
		}
		if err := fs.Set(f.Name, v); err != nil {
			firstErr = fmt.Errorf("%s: invalid value %q for %s (flag --%s): %v", fs.Name(), v, name, f.Name, err)
		}
	})
	return firstErr
}

// SplitList splits a comma-separated flag value, trimming white space and
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

// Usage returns a flag.FlagSet Usage function that prints a synopsis line and
// then every flag with its default and environment variable.
func Usage(fs *flag.FlagSet, synopsis string) func() {
	return func() {
		w := fs.Output()
		fmt.Fprintf(w, "Usage: %s\n\nFlags:\n", synopsis)
		fs.PrintDefaults()
	}
}
