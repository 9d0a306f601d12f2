package cli

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

func env(kv map[string]string) func(string) string { return func(k string) string { return kv[k] } }

type vals struct {
	n       int
	wait    time.Duration
	ratio   float64
	url     string
	all     bool
	enabled bool
}

func flags(v *vals) *pflag.FlagSet {
	fs := pflag.NewFlagSet("t", pflag.ContinueOnError)
	fs.IntVar(&v.n, "batch-size", 100, "")
	fs.DurationVar(&v.wait, "batch-wait", 5*time.Second, "")
	fs.Float64Var(&v.ratio, "ratio", 0.5, "")
	fs.StringVar(&v.url, "nats-url", "", "")
	fs.BoolVar(&v.enabled, "pprof", false, "")
	fs.BoolVar(&v.all, "all", false, "")
	Config(fs, "Batching", "batch-size", "batch-wait", "ratio", "nats-url", "pprof")
	Options(fs, "all")
	Positive(fs, "batch-size", "batch-wait")
	NonNegative(fs, "ratio")
	AtMost(fs, "1", "ratio")
	return fs
}

func TestEnvName(t *testing.T) {
	t.Parallel()
	for flag, want := range map[string]string{"nats-url": "NATS_URL", "gemini-api-key": "GEMINI_API_KEY",
		"batch-size": "NEWSFLOW_BATCH_SIZE", "lag-target": "NEWSFLOW_LAG_TARGET"} {
		if got := EnvName(flag); got != want {
			t.Errorf("EnvName(%q) = %q, want %q", flag, got, want)
		}
	}
}

// A flag wins over its variable; options never read one; sources are kept.
func TestLoad_EnvFlagAndSources(t *testing.T) {
	t.Parallel()
	var v vals
	fs := flags(&v)
	if err := fs.Parse([]string{"--batch-size", "7"}); err != nil {
		t.Fatal(err)
	}
	err := Load(fs, env(map[string]string{"NEWSFLOW_BATCH_SIZE": "9", "NEWSFLOW_BATCH_WAIT": "2s", "NATS_URL": "nats://x",
		"NEWSFLOW_ALL": "1", "NEWSFLOW_PPROF": "true"}))
	if err != nil {
		t.Fatal(err)
	}
	if v.n != 7 || v.wait != 2*time.Second || v.url != "nats://x" || v.all || !v.enabled {
		t.Errorf("values %+v; want the flag's 7, the variables' 2s, nats://x and pprof, --all untouched", v)
	}
	got := map[string]Source{}
	for _, n := range []string{"batch-size", "batch-wait", "ratio", "all"} {
		got[n] = SourceOf(fs, n)
	}
	want := map[string]Source{"batch-size": FromFlag, "batch-wait": FromEnv, "ratio": FromDefault, "all": FromDefault}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("sources (-want +got):\n%s", d)
	}
	if Name(fs, "batch-wait") != "NEWSFLOW_BATCH_WAIT (--batch-wait)" || Name(fs, "batch-size") != "--batch-size" {
		t.Errorf("names %q, %q", Name(fs, "batch-wait"), Name(fs, "batch-size"))
	}
}

// Every error is one usage error naming the flag (and the variable when the
// value came from there) and what a valid value looks like.
func TestLoad_Errors(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		args []string
		env  map[string]string
		want string
	}{
		{[]string{"--batch-size=0"}, nil, `invalid value "0" for --batch-size: want a whole number ≥ 1`},
		{nil, map[string]string{"NEWSFLOW_BATCH_SIZE": "-2"}, `invalid value "-2" for NEWSFLOW_BATCH_SIZE (--batch-size): want a whole number ≥ 1`},
		{nil, map[string]string{"NEWSFLOW_BATCH_SIZE": "lots"}, `invalid value "lots" for NEWSFLOW_BATCH_SIZE (--batch-size): want a whole number ≥ 1`},
		{[]string{"--batch-wait=-1s"}, nil, `invalid value "-1s" for --batch-wait: want a duration > 0 like 5s, 250ms or 2m`},
		{nil, map[string]string{"NEWSFLOW_BATCH_WAIT": "5 parsecs"}, `invalid value "5 parsecs" for NEWSFLOW_BATCH_WAIT (--batch-wait): want a duration > 0 like 5s, 250ms or 2m`},
		{[]string{"--ratio=1.5"}, nil, `invalid value "1.5" for --ratio: want a number from 0 to 1 like 0.5`},
		{nil, map[string]string{"NEWSFLOW_PPROF": "maybe"}, `invalid value "maybe" for NEWSFLOW_PPROF (--pprof): want true or false`},
	} {
		var v vals
		fs := flags(&v)
		err := fs.Parse(tc.args)
		if err != nil {
			err = FlagError(fs, err)
		} else {
			err = Load(fs, env(tc.env))
		}
		if err == nil || err.Error() != tc.want || ExitCode(err) != 2 {
			t.Errorf("%v %v: got %v (exit %d), want %q (exit 2)", tc.args, tc.env, err, ExitCode(err), tc.want)
		}
	}
}

func TestFlagError_ParseErrors(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ arg, want string }{
		{"--batch-size=lots", `invalid value "lots" for --batch-size: want a whole number ≥ 1`},
		{"--batch-wait=soon", `invalid value "soon" for --batch-wait: want a duration > 0 like 5s, 250ms or 2m`},
		{"--ratio=half", `invalid value "half" for --ratio: want a number from 0 to 1 like 0.5`},
		{"--pprof=maybe", `invalid value "maybe" for --pprof: want true or false`},
		{"--nope", "unknown flag: --nope"},
	} {
		var v vals
		fs := flags(&v)
		err := fs.Parse([]string{tc.arg})
		if err == nil {
			t.Fatalf("%s parsed", tc.arg)
		}
		if err = FlagError(fs, err); err.Error() != tc.want || ExitCode(err) != 2 {
			t.Errorf("%s: got %q (exit %d), want %q", tc.arg, err, ExitCode(err), tc.want)
		}
	}
}

func TestSplitList(t *testing.T) {
	t.Parallel()
	if d := cmp.Diff([]string{"a", "b", "c"}, SplitList(" a, b,,c ,")); d != "" {
		t.Error(d)
	}
}

// testRoot is a two-level program: `prog do [--n N] [--all] ARG`, `prog group sub`.
func testRoot(ran *[]string) *cobra.Command {
	root := &cobra.Command{Use: "prog", Version: "v1"}
	var n int
	var all bool
	do := &cobra.Command{Use: "do ARG", Args: ExactArgs(1, "one argument"), RunE: func(_ *cobra.Command, args []string) error {
		*ran = append(*ran, args[0])
		if args[0] == "fail" {
			return errors.New("it failed\nsecond line")
		}
		return nil
	}}
	do.Flags().IntVar(&n, "n", 1, "count")
	do.Flags().BoolVar(&all, "all", false, "every one")
	Config(do.Flags(), "Things", "n")
	Options(do.Flags(), "all")
	Positive(do.Flags(), "n")
	group := &cobra.Command{Use: "group"}
	RequireSubcommand(group)
	group.AddCommand(&cobra.Command{Use: "sub", RunE: func(*cobra.Command, []string) error { return nil }})
	root.AddCommand(do, group)
	return root
}

func TestExecute_ExitCodesAndOneLine(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		args []string
		env  map[string]string
		code int
		want string // substring of the error, or of stdout when code is 0
	}{
		{[]string{"do", "x", "--n", "3"}, nil, 0, ""},
		{[]string{"do", "fail"}, nil, 1, "it failed; second line"},
		{[]string{"do"}, nil, 2, "want one argument"},
		{[]string{"do", "x", "--n", "0"}, nil, 2, `invalid value "0" for --n`},
		{[]string{"do", "x"}, map[string]string{"NEWSFLOW_N": "0"}, 2, `NEWSFLOW_N (--n)`},
		{[]string{"do", "x", "--bogus"}, nil, 2, "unknown flag: --bogus"},
		{[]string{"od"}, nil, 2, `unknown command "od" for "prog"; did you mean do?`},
		{[]string{"group"}, nil, 2, "want a subcommand: sub"},
		{[]string{"group", "bus"}, nil, 2, `unknown subcommand "bus"`},
		{[]string{"--version"}, nil, 0, "prog v1"},
		{[]string{"do", "--help"}, nil, 0, "Things:"},
		{[]string{"completion", "bash"}, nil, 0, "bash completion"},
	} {
		var ran []string
		var out, errOut bytes.Buffer
		root := testRoot(&ran)
		root.SetOut(&out)
		root.SetErr(&errOut)
		err := Execute(context.Background(), root, tc.args, env(tc.env))
		if ExitCode(err) != tc.code {
			t.Errorf("%v: exit %d (%v), want %d", tc.args, ExitCode(err), err, tc.code)
			continue
		}
		if err != nil && (!strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), "\n")) {
			t.Errorf("%v: error %q, want one line containing %q", tc.args, err, tc.want)
		}
		if err == nil && !strings.Contains(out.String(), tc.want) {
			t.Errorf("%v: stdout %q lacks %q", tc.args, out.String(), tc.want)
		}
	}
}

// Flags after a positional argument are parsed; options ignore their variable.
func TestExecute_InterspersedAndOptions(t *testing.T) {
	t.Parallel()
	var ran []string
	root := testRoot(&ran)
	root.SetOut(&bytes.Buffer{})
	if err := Execute(context.Background(), root, []string{"do", "x", "--n", "2"}, env(map[string]string{"NEWSFLOW_ALL": "1"})); err != nil {
		t.Fatal(err)
	}
	do, _, _ := root.Find([]string{"do"})
	if all, _ := do.Flags().GetBool("all"); all {
		t.Error("NEWSFLOW_ALL set --all")
	}
	if n, _ := do.Flags().GetInt("n"); n != 2 || len(ran) != 1 || ran[0] != "x" {
		t.Errorf("n %d, ran %v; want 2 and [x]", n, ran)
	}
}

func TestUnclassified(t *testing.T) {
	t.Parallel()
	var ran []string
	root := testRoot(&ran)
	if got := Unclassified(root); len(got) != 0 {
		t.Errorf("unclassified: %v", got)
	}
	root.Commands()[0].Flags().Bool("stray", false, "")
	if got := Unclassified(root); len(got) != 1 || !strings.Contains(got[0], "--stray") {
		t.Errorf("unclassified: %v, want --stray", got)
	}
}

func TestMarkdownTable(t *testing.T) {
	t.Parallel()
	var v vals
	got := MarkdownTable(flags(&v))
	for _, want := range []string{
		"| `NEWSFLOW_BATCH_SIZE` | `--batch-size` | `100` | (≥ 1) |\n",
		"| — | `--all` | `false` | an option, read from no variable |\n",
		"| `NATS_URL` | `--nats-url` | — |  |\n",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("table lacks %q:\n%s", want, got)
		}
	}
	doc := "# x\n\n### t\n\n| a |\n|---|\n| old |\n\nafter\n"
	if out, ok := ReplaceTable(doc, "### t", "| new |\n"); !ok || out != "# x\n\n### t\n\n| new |\n\nafter\n" {
		t.Errorf("ReplaceTable = %q, %v", out, ok)
	}
}
