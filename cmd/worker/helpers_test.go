package main

import (
	"bytes"
	"context"
	"io"
	"testing"
)

// opsEnv is the env of a subcommand under test: no environment, stdout
// captured, logs dropped.
func opsEnv(_ *testing.T, stdout *bytes.Buffer) env {
	return env{getenv: func(string) string { return "" }, stdout: stdout, stderr: io.Discard}
}

// runSub runs `worker <name> args...` through run, as main does.
func runSub(ctx context.Context, name string, args []string, e env) error {
	return run(ctx, append([]string{name}, args...), e.getenv, e.stdin, e.stdout, e.stderr)
}

func runLag(ctx context.Context, args []string, e env) error { return runSub(ctx, "lag", args, e) }
func runTop(ctx context.Context, args []string, e env) error { return runSub(ctx, "top", args, e) }
func runDLQ(ctx context.Context, args []string, e env) error { return runSub(ctx, "dlq", args, e) }
func runStream(ctx context.Context, args []string, e env) error {
	return runSub(ctx, "stream", args, e)
}
