// Package logging builds the one *zap.Logger each newsflow command creates in
// main, at a level (debug, info, warn or error) and in a format (json or
// console). The commands take both from --log-level and --log-format
// (variables NEWSFLOW_LOG_LEVEL and NEWSFLOW_LOG_FORMAT) through Level and
// Format; New reads the variables directly for callers without flags.
// Durations are written with their unit ("1.5s"). Packages get the logger
// passed in and name it; they never build their own.
package logging

import (
	"errors"
	"fmt"
	"io"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// Formats of --log-format.
const (
	JSON    = "json"
	Console = "console"
)

// Level is a flag value (pflag.Value) naming a log level; empty means the
// command's default.
type Level string

func (l *Level) String() string { return string(*l) }

// Type is the flag's value type in help.
func (l *Level) Type() string { return "level" }

// Set accepts debug, info, warn or error.
func (l *Level) Set(v string) error {
	if _, ok := Level(v).zap(); v != "" && !ok {
		return errors.New("want debug, info, warn or error")
	}
	*l = Level(v)
	return nil
}

// zap returns l as a zap level; ok is false unless l is debug, info, warn
// or error ("" is info).
func (l Level) zap() (zapcore.Level, bool) {
	var z zapcore.Level
	err := z.UnmarshalText([]byte(l))
	return z, err == nil && z <= zapcore.ErrorLevel
}

// Format is a flag value (pflag.Value) naming a log format; empty means the
// command's default.
type Format string

func (f *Format) String() string { return string(*f) }

// Type is the flag's value type in help.
func (f *Format) Type() string { return "format" }

// Set accepts json or console.
func (f *Format) Set(v string) error {
	if v != "" && v != JSON && v != Console {
		return errors.New("want json or console")
	}
	*f = Format(v)
	return nil
}

// Build returns a logger writing to w at level in format; an empty level or
// format means defaultLevel or defaultFormat. A bad value is an error saying
// what is valid.
func Build(w io.Writer, level Level, format Format, defaultLevel Level, defaultFormat Format) (*zap.Logger, error) {
	if level == "" {
		level = defaultLevel
	}
	if format == "" {
		format = defaultFormat
	}
	lv, ok := level.zap()
	if !ok {
		return nil, fmt.Errorf("invalid log level %q: want debug, info, warn or error", level)
	}
	encCfg := zap.NewProductionEncoderConfig()
	encCfg.EncodeTime = zapcore.ISO8601TimeEncoder
	encCfg.EncodeDuration = zapcore.StringDurationEncoder
	var enc zapcore.Encoder
	switch format {
	case JSON:
		enc = zapcore.NewJSONEncoder(encCfg)
	case Console:
		encCfg.EncodeLevel = zapcore.CapitalLevelEncoder
		enc = zapcore.NewConsoleEncoder(encCfg)
	default:
		return nil, fmt.Errorf("invalid log format %q: want json or console", format)
	}
	return zap.New(zapcore.NewCore(enc, zapcore.Lock(zapcore.AddSync(w)), lv)), nil
}
