// Command quotad serves the quota API: plan tiers in Postgres, an exact
// Redis rate limiter, JWT identities.
//
//	quotad                 serve (the default; also "quotad serve")
//	quotad migrate         apply pending database migrations and exit
//	quotad token -sub ID   mint a development token from QUOTA_JWT_SECRET
//
// Configuration comes from the environment; see README.md.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args, os.Getenv, os.Stdout, os.Stderr)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "quotad:", err)
		os.Exit(1)
	}
}
