// Package storetest is the conformance suite every store implementation
// passes (Run), and the helpers that give a test its own database:
// PostgresDSN (a fresh schema on the test server) and SQLitePath (a file in
// t.TempDir()). Both remove what they created in t.Cleanup.
//
// The test Postgres server is NEWSFLOW_TEST_DATABASE_URL, by default
// postgres://root@127.0.0.1:5432/test?sslmode=disable.
package storetest
