package main

import (
	"flag"
	"os"
	"testing"

	"github.com/google/go-cmp/cmp"

	"newsflow/internal/cli"
)

var updateREADME = flag.Bool("update-readme", false, "rewrite the README's flag tables from the flags")

// The README's table of `worker run` flags is the flags' own (cli.MarkdownTable);
// go test ./cmd/worker -run README -update-readme rewrites it.
func TestREADME_RunFlags(t *testing.T) {
	const path, heading = "../../README.md", "### `worker run`"
	doc, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	c, _, err := newRoot(&env{getenv: os.Getenv}).Find([]string{"run"})
	if err != nil {
		t.Fatal(err)
	}
	got, ok := cli.ReplaceTable(string(doc), heading, cli.MarkdownTable(c.Flags()))
	if !ok {
		t.Fatalf("%s has no table under %s", path, heading)
	}
	if *updateREADME {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	if d := cmp.Diff(string(doc), got); d != "" {
		t.Errorf("README's worker run table differs from the flags (-readme +flags); run go test ./cmd/worker -run README -update-readme:\n%s", d)
	}
}
