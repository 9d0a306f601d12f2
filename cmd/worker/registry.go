package main

import (
	"time"

	"github.com/spf13/pflag"

	"newsflow/internal/cli"
	"newsflow/internal/telemetry"
)

// registryFlags are `worker run`'s flags of the worker registry and the
// replica hint's floor.
type registryFlags struct {
	bucket      string
	interval    time.Duration
	minReplicas int
}

func (f *registryFlags) register(fs *pflag.FlagSet) {
	registerBucketFlag(fs, &f.bucket)
	fs.DurationVar(&f.interval, "heartbeat-interval", telemetry.DefaultHeartbeatInterval, "how often the worker rewrites its registry entry (entries live three intervals); 0 does not register")
	cli.Config(fs, "Telemetry", "heartbeat-interval")
	cli.NonNegative(fs, "heartbeat-interval")
	registerMinReplicasFlag(fs, &f.minReplicas)
}

// registerBucketFlag adds --registry-bucket (configuration), shared by run,
// lag and ps.
func registerBucketFlag(fs *pflag.FlagSet, p *string) {
	fs.StringVar(p, "registry-bucket", telemetry.DefaultRegistryBucket, "JetStream key-value bucket of the worker registry (worker ps, the replica hint's live count)")
	cli.Config(fs, "Telemetry", "registry-bucket")
}

// registerMinReplicasFlag adds --min-replicas (configuration), shared by run
// and lag.
func registerMinReplicasFlag(fs *pflag.FlagSet, p *int) {
	fs.IntVar(p, "min-replicas", telemetry.DefaultMinReplicas, "replica hint when there is no backlog, and its floor")
	cli.Config(fs, "Telemetry", "min-replicas")
	cli.AtLeast(fs, "1", "min-replicas")
}

// validateBucket checks --registry-bucket; name names a flag the way the
// user set it (cli.Name).
func validateBucket(name func(string) string, bucket string) error {
	if err := telemetry.ValidBucket(bucket); err != nil {
		return cli.Usagef("invalid value for %s: %v", name("registry-bucket"), err)
	}
	return nil
}

// validateMinReplicas checks --min-replicas against --max-replicas (0: no cap).
func validateMinReplicas(name func(string) string, minRepl, maxRepl int) error {
	if maxRepl > 0 && minRepl > maxRepl {
		return cli.Usagef("%s (%d) must not exceed %s (%d)", name("min-replicas"), minRepl, name("max-replicas"), maxRepl)
	}
	return nil
}

// validate checks what the flags' rules cannot.
func (f *registryFlags) validate(name func(string) string, maxReplicas int) error {
	if f.interval > 0 && f.interval < 10*time.Millisecond {
		return cli.Usagef("invalid value %s for %s: want 0 (off) or at least 10ms, like 5s", f.interval, name("heartbeat-interval"))
	}
	if err := validateBucket(name, f.bucket); err != nil {
		return err
	}
	return validateMinReplicas(name, f.minReplicas, maxReplicas)
}

func (f *registryFlags) config() telemetry.RegistryConfig {
	return telemetry.RegistryConfig{Bucket: f.bucket, Interval: f.interval}
}
