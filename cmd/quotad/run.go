package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/quotad/quotad/api"
	"github.com/quotad/quotad/tiers"
)

// run is quotad's whole life: everything main does except reading the real
// environment and exiting, so tests can call it. exitCode turns its error
// into the exit status.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	name, rest := "serve", []string(nil)
	if len(args) > 1 {
		name, rest = args[1], args[2:]
	}
	switch name {
	case "serve":
		if err := parseFlags(serveCommand, newFlagSet(serveCommand), rest, stdout, stderr); err != nil {
			return err
		}
		return serve(ctx, getenv, stdout)
	case "migrate":
		if err := parseFlags(migrateCommand, newFlagSet(migrateCommand), rest, stdout, stderr); err != nil {
			return err
		}
		return migrate(ctx, getenv, stdout)
	case "token":
		return token(rest, getenv, stdout, stderr)
	case "healthcheck":
		if err := parseFlags(healthcheckCommand, newFlagSet(healthcheckCommand), rest, stdout, stderr); err != nil {
			return err
		}
		return healthcheck(ctx, getenv)
	case "-h", "-help", "--help", "help":
		fmt.Fprint(stdout, usageText)
		return flag.ErrHelp
	}
	fmt.Fprintf(stderr, "unknown command %q\n%s", name, usageText)
	return errUsage
}

func newFlagSet(cmd command) *flag.FlagSet {
	return flag.NewFlagSet("quotad "+cmd.name, flag.ContinueOnError)
}

// newLogger returns the structured logger for format "json" or "text".
func newLogger(format string, w io.Writer) *slog.Logger {
	if format == "text" {
		return slog.New(slog.NewTextHandler(w, nil))
	}
	return slog.New(slog.NewJSONHandler(w, nil))
}

// migrate applies pending migrations and exits. It reads DATABASE_URL
// only: a migration needs no secret, Redis or listen address.
func migrate(ctx context.Context, getenv func(string) string, stdout io.Writer) error {
	dbURL, err := databaseURL(getenv)
	if err != nil {
		return err
	}
	if err := tiers.MigrateURL(ctx, dbURL); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	fmt.Fprintln(stdout, "quotad: database schema is up to date")
	return nil
}

// token mints a development token signed with QUOTA_JWT_SECRET.
func token(args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := newFlagSet(tokenCommand)
	sub := fs.String("sub", "", "the client ID (JWT sub); required")
	admin := fs.Bool("admin", false, "grant the quota:admin scope")
	ttl := fs.Duration("ttl", time.Hour, "lifetime of the token")
	if err := parseFlags(tokenCommand, fs, args, stdout, stderr); err != nil {
		return err
	}
	if *sub == "" {
		return usageProblem(tokenCommand, fs, stderr, "-sub is required")
	}
	secret := getenv("QUOTA_JWT_SECRET")
	if len(secret) < 32 {
		return errors.New("token: QUOTA_JWT_SECRET must be set to the server's secret (at least 32 bytes)")
	}
	tok, err := api.MintToken([]byte(secret), api.TokenClaims{
		Subject: *sub, Admin: *admin, TTL: *ttl,
		Issuer: getenv("QUOTA_JWT_ISSUER"), Audience: getenv("QUOTA_JWT_AUDIENCE"),
	})
	if err != nil {
		return fmt.Errorf("token: %w", err)
	}
	fmt.Fprintln(stdout, tok)
	return nil
}

// healthcheck asks the local quotad's /healthz, for container health checks
// in images without curl.
func healthcheck(ctx context.Context, getenv func(string) string) error {
	addr := getenv("QUOTA_ADDR")
	if addr == "" {
		addr = defaultAddr
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("QUOTA_ADDR: %w", err)
	}
	if host == "" || host == "0.0.0.0" || host == "::" {
		host = "127.0.0.1"
	}
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+net.JoinHostPort(host, port)+"/healthz", nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("healthcheck: %w", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("healthcheck: /healthz answered %d", resp.StatusCode)
	}
	return nil
}
