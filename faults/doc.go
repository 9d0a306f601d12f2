// Package faults holds newsflow's fault-injection tests: they build the
// worker and publisher binaries, run them against private servers they
// start on free ports (a 3-node nats-server cluster with JetStream, a
// Postgres created with initdb), inject a fault (a node SIGKILLed, Postgres
// stopped hard, a worker SIGSTOPped, a capped stream) and check what the
// README's delivery guarantees promise, reporting the measured pause.
//
// They take a minute or more, so they run only when NEWSFLOW_FAULTS=1
// (make test-faults, which .ci/run runs); otherwise they skip. The package
// has no code of its own; e2e/ holds the end-to-end tests of the normal path.
package faults
