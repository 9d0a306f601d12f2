// Package clitest holds the checks the programs' tests share about their
// command lines. It is imported only from _test.go files.
package clitest

import (
	"os"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/spf13/pflag"

	"newsflow/internal/cli"
)

// READMETable checks that the Markdown table under heading in the file at
// path is fs's own (cli.MarkdownTable), or rewrites it when update is set.
// regen is the command that rewrites it, named in the failure.
func READMETable(t *testing.T, path, heading string, fs *pflag.FlagSet, update bool, regen string) {
	t.Helper()
	doc, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	got, ok := cli.ReplaceTable(string(doc), heading, cli.MarkdownTable(fs))
	if !ok {
		t.Fatalf("%s has no table under %s", path, heading)
	}
	if update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	if d := cmp.Diff(string(doc), got); d != "" {
		t.Errorf("%s: the table under %s differs from the flags (-readme +flags); run %s:\n%s", path, heading, regen, d)
	}
}
