package main

import (
	"flag"
	"os"
	"testing"

	"newsflow/internal/cli/clitest"
)

var updateREADME = flag.Bool("update-readme", false, "rewrite the README's flag tables from the flags")

// The README's table of `worker run` flags is the flags' own (cli.MarkdownTable);
// go test ./cmd/worker -run README -update-readme rewrites it.
func TestREADME_RunFlags(t *testing.T) {
	c, _, err := newRoot(&env{getenv: os.Getenv}).Find([]string{"run"})
	if err != nil {
		t.Fatal(err)
	}
	clitest.READMETable(t, "../../README.md", "### `worker run`", c.Flags(), *updateREADME,
		"go test ./cmd/worker -run README -update-readme")
}
