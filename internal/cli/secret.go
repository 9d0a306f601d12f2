package cli

import (
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"newsflow/internal/redact"
)

// Secret kinds of a flag (annotation annSecret).
const (
	secretValue       = "value"       // the whole value is a secret: an API key
	secretCredentials = "credentials" // a URL, URL list or DSN that may carry passwords
)

const annSecret = "newsflow.secret"

// credentialFlags and secretFlags are secrets without being marked, so no
// command can declare them and forget.
var (
	credentialFlags = map[string]bool{"nats-url": true, "redis-url": true, "database-url": true, "openai-base-url": true}
	secretFlags     = map[string]bool{"gemini-api-key": true, "openai-api-key": true}
)

// Secret marks the named flags as secrets: their values (and their
// variables' values) are removed from every error and log line, and
// `worker config` shows them masked. Flags named *-api-key are secrets
// without being marked.
func Secret(fs *pflag.FlagSet, names ...string) {
	for _, n := range names {
		lookup(fs, n).Annotations[annSecret] = []string{secretValue}
	}
}

// Credentials marks the named flags as connection settings that may carry
// passwords (URLs, URL lists, key=value DSNs): the passwords are removed
// from every error and log line. --nats-url, --redis-url, --database-url
// and --openai-base-url are marked without being asked.
func Credentials(fs *pflag.FlagSet, names ...string) {
	for _, n := range names {
		lookup(fs, n).Annotations[annSecret] = []string{secretCredentials}
	}
}

func secretKind(f *pflag.Flag) string {
	if v := f.Annotations[annSecret]; len(v) == 1 {
		return v[0]
	}
	if secretFlags[f.Name] {
		return secretValue
	}
	if credentialFlags[f.Name] {
		return secretCredentials
	}
	return ""
}

// IsSecret reports whether the flag's value is a secret or may carry one.
func IsSecret(f *pflag.Flag) bool { return secretKind(f) != "" }

// Masked is the flag's value as it may be shown: Mask for a secret, the
// passwords masked in a URL or DSN, the value itself otherwise.
func Masked(f *pflag.Flag) string {
	v := f.Value.String()
	switch secretKind(f) {
	case secretValue:
		if v != "" {
			return redact.Mask
		}
	case secretCredentials:
		return redact.New(redact.Secrets(v)...).String(v)
	}
	return v
}

// Redactor returns a redactor of the literal secrets of every secret flag
// of root's command tree: their current values and their variables' values
// (read through getenv), passwords parsed out of URLs and DSNs.
func Redactor(root *cobra.Command, getenv func(string) string) *redact.Redactor {
	r := redact.New()
	walk(root, func(c *cobra.Command) {
		add := func(f *pflag.Flag) {
			kind := secretKind(f)
			if kind == "" {
				return
			}
			vals := []string{f.Value.String()}
			if getenv != nil { // Env(f) for configuration, and an option's would-be variable too
				vals = append(vals, getenv(EnvName(f.Name)))
			}
			for _, v := range vals {
				switch kind {
				case secretValue:
					r.Add(v)
				case secretCredentials:
					r.Add(redact.Secrets(v)...)
				}
			}
		}
		c.LocalFlags().VisitAll(add)
		c.PersistentFlags().VisitAll(add)
	})
	return r
}
