package main

import (
	"go.uber.org/zap"

	"newsflow/internal/logging"
	"newsflow/internal/tracing"
)

// Default levels of the publisher's logger, unless --log-level says
// otherwise: warn for one-shot commands, since a person usually reads the
// console and the summary is on stdout; info for `publisher feeds`, a
// long-running poller like `worker run`, so its polls show.
const (
	cliLevel     logging.Level = "warn"
	serviceLevel logging.Level = "info"
)

// newLogger builds the publisher's logger on e.stderr from --log-level and
// --log-format, at level def by default, on the console by default, and,
// when tracing is on, sends the SDK's export errors to it. A bad value is a
// usage error.
func newLogger(e *env, def logging.Level) (*zap.Logger, error) {
	log, err := logging.Build(e.stderr, e.logLevel, e.logFormat, def, logging.Console)
	if err != nil {
		return nil, usagef("%v", err)
	}
	log = log.Named("publisher")
	if tracing.Enabled() {
		tracing.LogErrors(log.Named("tracing"))
	}
	return log, nil
}
