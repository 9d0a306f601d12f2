package main

import (
	"time"

	"github.com/spf13/pflag"

	"newsflow/internal/cli"
	"newsflow/internal/story"
)

// nearDupFlags are `worker run`'s story identity flags (env NEWSFLOW_NEAR_DUP*).
type nearDupFlags struct {
	mode      string
	threshold float64
	window    time.Duration
}

func (f *nearDupFlags) register(fs *pflag.FlagSet) {
	fs.StringVar(&f.mode, "near-dup", "on", "near-duplicate story identity: on (reposts with signatures, prefixes, cuts or small edits share a story id and one LLM call) or off (exact duplicates only)")
	fs.Float64Var(&f.threshold, "near-dup-threshold", story.DefaultThreshold, "estimated resemblance from which two texts are one story")
	fs.DurationVar(&f.window, "near-dup-window", story.DefaultWindow, "how long a story stays joinable by near-duplicates")
	cli.Config(fs, "Stories", "near-dup", "near-dup-threshold", "near-dup-window")
	cli.Positive(fs, "near-dup-threshold")
	cli.AtMost(fs, "1", "near-dup-threshold")
	cli.AtLeast(fs, "1m", "near-dup-window")
}

// validate checks what the rules cannot; name names a flag as the user set it.
func (f *nearDupFlags) validate(name func(string) string) error {
	if f.mode != "on" && f.mode != "off" {
		return cli.Usagef("invalid value %q for %s: want on or off", f.mode, name("near-dup"))
	}
	return nil
}

// config returns the story configuration; validate has checked the flags.
func (f *nearDupFlags) config() story.Config {
	return story.Config{Off: f.mode == "off", Threshold: f.threshold, Window: f.window}
}
