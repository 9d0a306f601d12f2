package main

import (
	"io"

	"go.uber.org/zap"

	"newsflow/internal/logging"
)

// newLogger builds the CLI's logger: console unless NEWSFLOW_LOG_FORMAT says
// otherwise, since a person usually reads it. A bad value is a usage error.
func newLogger(getenv func(string) string, w io.Writer) (*zap.Logger, error) {
	log, err := logging.New(getenv, w, logging.Console)
	if err != nil {
		return nil, usagef("%v", err)
	}
	return log.Named("publisher"), nil
}
