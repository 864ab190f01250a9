package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/quotad/quotad/api"
	"github.com/quotad/quotad/internal/stack"
	"github.com/quotad/quotad/tiers"
	"github.com/quotad/quotad/webhooks"
	"github.com/redis/go-redis/v9"
)

// serve runs the HTTP server until ctx ends, then drains in-flight
// requests for up to the shutdown timeout.
func serve(ctx context.Context, getenv func(string) string, stdout io.Writer) error {
	cfg, err := loadConfig(getenv)
	if err != nil {
		return err
	}
	log := newLogger(cfg.LogFormat, stdout)
	// go-redis logs through one process-wide logger; quotad owns the
	// process, so the first serve sets it (once, since go-redis reads it
	// without synchronisation).
	setRedisLogger.Do(func() { redis.SetLogger(redisLog{log}) })

	if err := migrateWithRetry(ctx, cfg, log); err != nil {
		return err
	}
	pool, err := pgxpool.New(ctx, cfg.DatabaseURL)
	if err != nil {
		return fmt.Errorf("DATABASE_URL: %w", err)
	}
	defer pool.Close()

	rdb, err := parseRedisURL(cfg.RedisURL)
	if err != nil {
		return fmt.Errorf("REDIS_URL: %w", err)
	}
	defer rdb.Close()
	if err := rdb.Ping(ctx).Err(); err != nil {
		log.Warn("redis is not answering; limiting follows QUOTA_REDIS_FAILURE until it does", "err", err)
	}
	metrics := api.NewMetrics()
	handler, closeStack, err := stack.New(ctx, stack.Config{
		Pool: pool, Redis: rdb, RedisTimeout: cfg.RedisTimeout, FailureMode: cfg.FailureMode,
		TrustedProxies: cfg.TrustedProxies, Logger: log, AccessLog: cfg.AccessLog, Metrics: metrics, MeterInterval: cfg.MeterInterval,
		AuthorizeDenyStatus: cfg.AuthorizeDenyStatus,
		Auth:                api.AuthConfig{Secret: cfg.JWTSecret, JWKSURL: cfg.JWKSURL, Issuer: cfg.Issuer, Audience: cfg.Audience},
	})
	if err != nil {
		return err
	}
	// The tier cache's listener lives as long as the server.
	defer closeStack()
	// The outbox fills whether or not events are sent, so its gauges are
	// always there.
	wm := webhooks.NewMetrics(pool)
	if err := metrics.Registry().Register(wm); err != nil {
		return fmt.Errorf("webhook metrics: %w", err)
	}
	if cfg.WebhookURL != "" {
		stopWebhooks, err := startWebhooks(ctx, pool, cfg, log, wm)
		if err != nil {
			return err
		}
		defer stopWebhooks()
	}

	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return fmt.Errorf("QUOTA_ADDR: %w", err)
	}
	httpCfg := api.HTTPConfig{WriteTimeout: cfg.WriteTimeout, MaxConns: cfg.MaxConns}
	srv := api.NewHTTPServerWithConfig(handler, ctx, httpCfg)
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(api.LimitListener(ln, httpCfg)) }()
	log.Info("quotad listening", "addr", ln.Addr().String(), "max_conns", cfg.MaxConns, "access_log", cfg.AccessLog.String())

	select {
	case err := <-errc:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	log.Info("shutting down; draining in-flight requests", "timeout", cfg.ShutdownTimeout)
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cfg.ShutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	if err := <-errc; !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serve: %w", err)
	}
	log.Info("stopped")
	return nil
}

// startWebhooks runs this instance's webhook dispatcher, counting its
// attempts in wm, until ctx ends. The returned function waits for it
// to stop: attempts in flight are cut short and left due for any instance.
func startWebhooks(ctx context.Context, pool *pgxpool.Pool, cfg config, log *slog.Logger, wm *webhooks.Metrics) (func(), error) {
	d, err := webhooks.NewDispatcher(pool, webhooks.Config{URL: cfg.WebhookURL, Secret: cfg.WebhookSecret, Logger: log, Metrics: wm})
	if err != nil {
		return nil, fmt.Errorf("QUOTA_WEBHOOK_URL: %w", err)
	}
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = d.Run(ctx)
	}()
	return func() { cancel(); <-done }, nil
}

// migrateWithRetry applies migrations, waiting up to the startup timeout
// for Postgres to answer (it may be starting alongside quotad). Migrations
// hold a lock, so instances starting together apply each one once.
func migrateWithRetry(ctx context.Context, cfg config, log *slog.Logger) error {
	deadline := time.Now().Add(cfg.StartupTimeout)
	for {
		err := tiers.MigrateURL(ctx, cfg.DatabaseURL)
		if err == nil {
			return nil
		}
		if !errors.Is(err, tiers.ErrUnavailable) || time.Now().After(deadline) {
			return fmt.Errorf("migrating the database (DATABASE_URL): %w", err)
		}
		log.Warn("postgres is not answering yet; retrying", "err", err)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(time.Second):
		}
	}
}
