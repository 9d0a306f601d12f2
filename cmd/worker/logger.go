package main

import (
	"io"

	"go.uber.org/zap"

	"newsflow/internal/logging"
)

// newLogger builds the process logger: JSON unless NEWSFLOW_LOG_FORMAT says
// otherwise, since the worker's logs go to collectors.
func newLogger(getenv func(string) string, w io.Writer) (*zap.Logger, error) {
	return logging.New(getenv, w, logging.JSON)
}
