package main

import (
	"io"

	"go.uber.org/zap"

	"newsflow/internal/logging"
)

// newLogger builds the process logger from --log-level and --log-format.
// `worker run` logs at info in JSON, since its logs go to collectors; the
// other commands, which a person runs, at warn on the console, so no log
// line mixes into their output.
func newLogger(e *env, w io.Writer, isRun bool) (*zap.Logger, error) {
	if isRun {
		return logging.Build(w, e.logLevel, e.logFormat, "info", logging.JSON)
	}
	return logging.Build(w, e.logLevel, e.logFormat, "warn", logging.Console)
}
