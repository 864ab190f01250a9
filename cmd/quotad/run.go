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
// environment and exiting, so tests can call it.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	cmd := "serve"
	if len(args) > 1 {
		cmd, args = args[1], args[2:]
	} else {
		args = nil
	}
	switch cmd {
	case "serve":
		return serve(ctx, getenv, stdout)
	case "migrate":
		return migrate(ctx, getenv, stdout)
	case "token":
		return token(args, getenv, stdout, stderr)
	case "healthcheck":
		return healthcheck(ctx, getenv)
	case "-h", "-help", "--help", "help":
		fmt.Fprintln(stdout, "usage: quotad [serve | migrate | token -sub ID [-admin] [-ttl 1h] | healthcheck]")
		return nil
	}
	return fmt.Errorf("unknown command %q (want serve, migrate, token or healthcheck)", cmd)
}

// newLogger returns the structured logger for format "json" or "text".
func newLogger(format string, w io.Writer) *slog.Logger {
	if format == "text" {
		return slog.New(slog.NewTextHandler(w, nil))
	}
	return slog.New(slog.NewJSONHandler(w, nil))
}

// migrate applies pending migrations and exits.
func migrate(ctx context.Context, getenv func(string) string, stdout io.Writer) error {
	cfg, err := loadConfig(getenv)
	if err != nil {
		return err
	}
	if err := tiers.MigrateURL(ctx, cfg.DatabaseURL); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	fmt.Fprintln(stdout, "quotad: database schema is up to date")
	return nil
}

// token mints a development token signed with QUOTA_JWT_SECRET.
func token(args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("quotad token", flag.ContinueOnError)
	fs.SetOutput(stderr)
	sub := fs.String("sub", "", "the client ID (JWT sub); required")
	admin := fs.Bool("admin", false, "grant the quota:admin scope")
	ttl := fs.Duration("ttl", time.Hour, "lifetime of the token")
	if err := fs.Parse(args); err != nil {
		return err
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
