// Package e2e holds newsflow's end-to-end tests: the real worker and
// publisher binaries, run as processes against the loopback NATS, Redis and
// Postgres, killed and restarted the way production kills them.
package e2e
