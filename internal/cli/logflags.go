package cli

import (
	"github.com/spf13/pflag"

	"newsflow/internal/logging"
)

// LoggingGroup is the help heading of the log flags.
const LoggingGroup = "Logging"

// LogFlags adds --log-level and --log-format (NEWSFLOW_LOG_LEVEL,
// NEWSFLOW_LOG_FORMAT) to fs, a root command's persistent flags, so every
// command has them; empty values mean the command's defaults, which
// defaults describes for help ("warn, info for worker run").
func LogFlags(fs *pflag.FlagSet, level *logging.Level, format *logging.Format, defaults string) {
	fs.Var(level, "log-level", "log level on stderr: debug, info, warn or error (default "+defaults+")")
	fs.Var(format, "log-format", "log format: json or console")
	Config(fs, LoggingGroup, "log-level", "log-format")
}
