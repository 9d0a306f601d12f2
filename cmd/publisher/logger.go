package main

import (
	"io"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// newLogger builds the CLI's logger from NEWSFLOW_LOG_LEVEL (default info)
// and NEWSFLOW_LOG_FORMAT (console, the default, or json), writing to w.
func newLogger(getenv func(string) string, w io.Writer) (*zap.Logger, error) {
	level := zapcore.InfoLevel
	if v := getenv("NEWSFLOW_LOG_LEVEL"); v != "" {
		if err := level.UnmarshalText([]byte(v)); err != nil {
			return nil, usagef("invalid NEWSFLOW_LOG_LEVEL %q: want debug, info, warn or error", v)
		}
	}
	encCfg := zap.NewProductionEncoderConfig()
	encCfg.EncodeTime = zapcore.ISO8601TimeEncoder
	var enc zapcore.Encoder
	switch f := getenv("NEWSFLOW_LOG_FORMAT"); f {
	case "", "console":
		encCfg.EncodeLevel = zapcore.CapitalLevelEncoder
		enc = zapcore.NewConsoleEncoder(encCfg)
	case "json":
		enc = zapcore.NewJSONEncoder(encCfg)
	default:
		return nil, usagef("invalid NEWSFLOW_LOG_FORMAT %q: want console or json", f)
	}
	return zap.New(zapcore.NewCore(enc, zapcore.Lock(zapcore.AddSync(w)), level)).Named("publisher"), nil
}
