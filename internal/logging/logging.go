// Package logging builds the one *zap.Logger each newsflow command creates in
// main, configured from the environment: NEWSFLOW_LOG_LEVEL (debug, info,
// warn or error; default info) and NEWSFLOW_LOG_FORMAT (json or console;
// the default is the command's). Packages get the logger passed in and name
// it; they never build their own.
package logging

import (
	"fmt"
	"io"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// Formats of NEWSFLOW_LOG_FORMAT.
const (
	JSON    = "json"
	Console = "console"
)

// New returns a logger writing to w, at the level and in the format the
// environment (read through getenv) asks for; defaultFormat applies when
// NEWSFLOW_LOG_FORMAT is unset. A bad value is an error naming the variable.
func New(getenv func(string) string, w io.Writer, defaultFormat string) (*zap.Logger, error) {
	level := zapcore.InfoLevel
	if v := getenv("NEWSFLOW_LOG_LEVEL"); v != "" {
		if err := level.UnmarshalText([]byte(v)); err != nil {
			return nil, fmt.Errorf("invalid NEWSFLOW_LOG_LEVEL %q: want debug, info, warn or error", v)
		}
	}
	encCfg := zap.NewProductionEncoderConfig()
	encCfg.EncodeTime = zapcore.ISO8601TimeEncoder
	format := getenv("NEWSFLOW_LOG_FORMAT")
	if format == "" {
		format = defaultFormat
	}
	var enc zapcore.Encoder
	switch format {
	case JSON:
		enc = zapcore.NewJSONEncoder(encCfg)
	case Console:
		encCfg.EncodeLevel = zapcore.CapitalLevelEncoder
		enc = zapcore.NewConsoleEncoder(encCfg)
	default:
		return nil, fmt.Errorf("invalid NEWSFLOW_LOG_FORMAT %q: want json or console", format)
	}
	return zap.New(zapcore.NewCore(enc, zapcore.Lock(zapcore.AddSync(w)), level)), nil
}
