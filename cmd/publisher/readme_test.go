package main

import (
	"flag"
	"os"
	"testing"

	"newsflow/internal/cli/clitest"
)

var updateREADME = flag.Bool("update-readme", false, "rewrite the README's flag tables from the flags")

// The README's tables of `publisher gen` and `publisher feeds` flags are the
// flags' own (cli.MarkdownTable); go test ./cmd/publisher -run README
// -update-readme rewrites them.
func TestREADME_Flags(t *testing.T) {
	for cmd, heading := range map[string]string{
		"gen":   "### `publisher gen` (and `publisher send`, which shares every flag but the generator's)",
		"feeds": "### `publisher feeds`: read real feeds",
	} {
		t.Run(cmd, func(t *testing.T) {
			c, _, err := newRoot(&env{getenv: os.Getenv}).Find([]string{cmd})
			if err != nil {
				t.Fatal(err)
			}
			clitest.READMETable(t, "../../README.md", heading, c.Flags(), *updateREADME,
				"go test ./cmd/publisher -run README -update-readme")
		})
	}
}
