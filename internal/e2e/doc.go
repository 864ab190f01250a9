// Package e2e tests quotad as operators run it: the real binary, built once
// per test run, started as a process with its configuration in the
// environment, against Postgres and Redis servers of the tests' own that
// they stop, restart and freeze (the shared development servers are never
// touched). The tests prove the failure modes docs/OPERATIONS.md
// describes: a dead or hung Redis, Postgres going away and coming back,
// starting while either is down, instances racing to migrate, and SIGTERM
// under load.
//
// The package holds tests only; run them with go test ./internal/e2e.
package e2e
