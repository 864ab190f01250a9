// Command quotad serves the quota API: plan tiers in Postgres, an exact
// Redis rate limiter, JWT identities.
//
//	quotad                 serve (the default; also "quotad serve")
//	quotad migrate         apply pending database migrations and exit
//	quotad token -sub ID   mint a development token from QUOTA_JWT_SECRET
//	quotad healthcheck     exit 0 if the local quotad answers /healthz
//
// Configuration comes from the environment; see README.md. The exit status
// is 0 on success and for -h, 2 for a bad command line, 1 otherwise.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args, os.Getenv, os.Stdout, os.Stderr)
	stop()
	os.Exit(exitCode(err, os.Stderr))
}
