package main

import (
	"io"

	"go.uber.org/zap"

	"newsflow/internal/logging"
	"newsflow/internal/tracing"
)

// newLogger builds the CLI's logger from --log-level and --log-format: warn
// on the console by default, since a person usually reads it and the
// summary is on stdout. A bad value is a usage error.
func newLogger(e *env, w io.Writer) (*zap.Logger, error) {
	return buildLogger(e, w, "warn")
}

// newServiceLogger is newLogger for `publisher feeds`, a long-running
// poller like `worker run`: info by default, so its polls show.
func newServiceLogger(e *env, w io.Writer) (*zap.Logger, error) {
	return buildLogger(e, w, "info")
}

// buildLogger builds the publisher's logger at level def unless --log-level
// says otherwise and, when tracing is on, sends the SDK's export errors to
// it.
func buildLogger(e *env, w io.Writer, def logging.Level) (*zap.Logger, error) {
	log, err := logging.Build(w, e.logLevel, e.logFormat, def, logging.Console)
	if err != nil {
		return nil, usagef("%v", err)
	}
	log = log.Named("publisher")
	if tracing.Enabled() {
		tracing.LogErrors(log.Named("tracing"))
	}
	return log, nil
}
