// Package buildinfo names the build both programs were made from: the version
// an operator sees in --version, the worker registry, the build-info metric and
// the feed poller's User-Agent.
//
// Version and Commit are set at link time
// (-ldflags "-X newsflow/internal/buildinfo.Version=v1.2.3"); when they are not,
// they are read from the Go toolchain's build information (the module version,
// else the VCS revision), and are "dev" / "unknown" when that is missing too.
package buildinfo

import (
	"runtime"
	"runtime/debug"
	"sync"
)

// Set with -ldflags -X at link time; empty means "ask the toolchain".
var (
	Version string
	Commit  string
)

var resolve = sync.OnceValues(func() (version, commit string) {
	version, commit = Version, Commit
	info, ok := debug.ReadBuildInfo()
	if ok {
		var dirty bool
		for _, s := range info.Settings {
			switch s.Key {
			case "vcs.revision":
				if commit == "" {
					commit = s.Value
				}
			case "vcs.modified":
				dirty = s.Value == "true"
			}
		}
		if version == "" && info.Main.Version != "" && info.Main.Version != "(devel)" {
			version = info.Main.Version
		}
		if version == "" && commit != "" {
			version = "dev-" + short(commit)
			if dirty {
				version += "-dirty"
			}
		}
	}
	if version == "" {
		version = "dev"
	}
	if commit == "" {
		commit = "unknown"
	}
	return version, commit
})

// Get returns the build's version and VCS commit, never empty.
func Get() (version, commit string) { return resolve() }

// GoVersion is the Go toolchain the binary was built with.
func GoVersion() string { return runtime.Version() }

// String is the one-line form printed by --version: "v1.2.3 (commit abc1234, go1.26.8)".
func String() string {
	v, c := Get()
	return v + " (commit " + short(c) + ", " + GoVersion() + ")"
}

func short(commit string) string {
	if len(commit) > 12 {
		return commit[:12]
	}
	return commit
}
