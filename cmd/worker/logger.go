package main

import (
	"fmt"
	"io"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// newLogger builds the process logger from NEWSFLOW_LOG_LEVEL and
// NEWSFLOW_LOG_FORMAT, writing to w.
func newLogger(getenv func(string) string, w io.Writer) (*zap.Logger, error) {
	level := zapcore.InfoLevel
	if v := getenv("NEWSFLOW_LOG_LEVEL"); v != "" {
		if err := level.UnmarshalText([]byte(v)); err != nil {
			return nil, fmt.Errorf("invalid NEWSFLOW_LOG_LEVEL %q: want debug, info, warn or error", v)
		}
	}
	encCfg := zap.NewProductionEncoderConfig()
	encCfg.EncodeTime = zapcore.ISO8601TimeEncoder
	var enc zapcore.Encoder
	switch f := getenv("NEWSFLOW_LOG_FORMAT"); f {
	case "", "json":
		enc = zapcore.NewJSONEncoder(encCfg)
	case "console":
		encCfg.EncodeLevel = zapcore.CapitalLevelEncoder
		enc = zapcore.NewConsoleEncoder(encCfg)
	default:
		return nil, fmt.Errorf("invalid NEWSFLOW_LOG_FORMAT %q: want json or console", f)
	}
	core := zapcore.NewCore(enc, zapcore.Lock(zapcore.AddSync(w)), level)
	return zap.New(core), nil
}
