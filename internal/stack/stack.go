// Package stack assembles quotad's HTTP handler from its parts: the limiter
// on Redis, the tier cache on Postgres, JWT authentication and the API. The
// quotad command serves what it builds, and the peer benchmark measures the
// same thing, so a part added here is in both.
package stack

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/quotad/quotad"
	"github.com/quotad/quotad/api"
	"github.com/quotad/quotad/console"
	"github.com/quotad/quotad/metering"
	"github.com/quotad/quotad/operations"
	"github.com/quotad/quotad/quota"
	"github.com/quotad/quotad/tiers"
	"github.com/quotad/quotad/usage"
	"github.com/quotad/quotad/webhooks"
	"github.com/redis/go-redis/v9"
)

// Config is what New wires together.
type Config struct {
	// Pool reaches the tiers database (already migrated). Required.
	Pool *pgxpool.Pool
	// Redis holds the limiter's counters; /readyz pings it. Required.
	Redis redis.UniversalClient
	// RedisPrefix starts the limiter's keys.
	// Optional. Default value that of quota.Config.Prefix.
	RedisPrefix string
	// RedisTimeout is how long a decision waits for a Redis that may be
	// down; one that is answering is waited for longer (see
	// quota.Config.Timeout). Optional. Default value that of quota.Config.
	RedisTimeout time.Duration
	// Limiter replaces the limiter New builds on Redis with RedisPrefix and
	// RedisTimeout, e.g. quota.NewInMemory() to measure what the rest
	// costs; instances would not share counts, so quotad never sets it.
	// It stays the caller's to close. Optional. Default value nil.
	Limiter *quota.Limiter
	// FailureMode says what a decision Redis could not make answers.
	// Optional. Default value quota.FailOpen.
	FailureMode quota.FailureMode
	// TrustedProxies may set X-Forwarded-For (see quota.NewIPExtractor).
	// Optional. Default value none.
	TrustedProxies []string
	// Auth verifies bearer tokens; its Logger is set to Logger when nil.
	// Required: a secret or a JWKS URL.
	Auth api.AuthConfig
	// Logger receives the request log and every warning. Required.
	Logger *slog.Logger
	// AccessLog selects the requests Logger gets a line for.
	// Optional. Default value api.AccessLogErrors.
	AccessLog api.AccessLog
	// Metrics serves /metrics, for a caller that registers metrics of its
	// own on it. Optional. Default value a fresh api.NewMetrics().
	Metrics *api.Metrics
	// MeterInterval is how often the instance leading the copy of metered
	// usage copies it from Redis to Postgres (see package metering); no
	// copy runs with a Limiter given in Limiter.
	// Optional. Default value metering.DefaultInterval.
	MeterInterval time.Duration
	// AuthorizeDenyStatus is /v1/authorize's refusal (see
	// api.Config.AuthorizeDenyStatus).
	// Optional. Default value 429.
	AuthorizeDenyStatus int
}

// New builds the handler and starts the listeners of the tier cache and of
// the operation costs' cache, which live until the returned close function
// is called (after the server has stopped). A failure stops whatever New
// had started.
func New(ctx context.Context, cfg Config) (http.Handler, func(), error) {
	if cfg.Pool == nil || cfg.Redis == nil || cfg.Logger == nil {
		return nil, nil, errors.New("stack: New needs Pool, Redis and Logger")
	}
	limiter, closeLimiter := cfg.Limiter, func() {}
	if limiter == nil {
		var err error
		limiter, err = quota.NewWithConfig(cfg.Redis, quota.Config{Prefix: cfg.RedisPrefix, Timeout: cfg.RedisTimeout})
		if err != nil {
			return nil, nil, err
		}
		// Closes the limiter's own Redis client, if cfg.Redis retries
		// commands and it had to make one.
		closeLimiter = func() { _ = limiter.Close() }
	}

	// Operation cost rules are announced on the tier cache's channel, and
	// reach the rules' cache through it.
	costs := operations.NewCache(cfg.Pool, cfg.Logger)
	invalidate := api.Invalidator(limiter)
	cache := tiers.NewCache(cfg.Pool, tiers.CacheConfig{Logger: cfg.Logger, OnChange: func(ch tiers.Change) {
		invalidate(ch)
		costs.Changed(ch)
	}})
	if err := cache.Start(ctx); err != nil {
		closeLimiter()
		return nil, nil, fmt.Errorf("loading tiers: %w", err)
	}
	if err := costs.Load(ctx); err != nil {
		cache.Close()
		closeLimiter()
		return nil, nil, fmt.Errorf("loading operation costs: %w", err)
	}
	stop := func() {
		cache.Close()
		closeLimiter()
	}
	fail := func(err error) (http.Handler, func(), error) {
		stop()
		return nil, nil, err
	}

	if cfg.Auth.Logger == nil {
		cfg.Auth.Logger = cfg.Logger
	}
	auth, err := api.NewAuthenticator(ctx, cfg.Auth)
	if err != nil {
		return fail(err)
	}
	ip, err := quota.NewIPExtractor(cfg.TrustedProxies)
	if err != nil {
		return fail(err)
	}
	pages, err := console.Handler()
	if err != nil {
		return fail(err)
	}
	tierStore := tiers.NewStore(cfg.Pool)
	handler, err := api.NewServer(api.Config{
		Tiers: cache, Store: tierStore, Usage: usage.NewStore(cfg.Pool), Limiter: limiter, Auth: auth, IP: ip,
		Operations: operations.NewStore(cfg.Pool), Costs: costs,
		// Read whether or not this instance delivers webhooks: events
		// stay in the outbox from earlier runs or other instances.
		WebhookEvents: func(ctx context.Context, client string, limit int) ([]webhooks.Stored, error) {
			return webhooks.ClientEvents(ctx, cfg.Pool, client, limit)
		},
		FailureMode: cfg.FailureMode, Logger: cfg.Logger, OpenAPI: quotad.OpenAPI, Pages: pages, AccessLog: cfg.AccessLog,
		Metrics: cfg.Metrics, AuthorizeDenyStatus: cfg.AuthorizeDenyStatus,
		Checks: map[string]api.Check{
			"postgres": tierStore.Ping,
			"redis":    func(ctx context.Context) error { return cfg.Redis.Ping(ctx).Err() },
		},
	})
	if err != nil {
		return fail(err)
	}
	if cfg.Limiter == nil {
		flusher, err := metering.New(metering.Config{Pool: cfg.Pool, Limiter: limiter, Plans: cache,
			Logger: cfg.Logger, Interval: cfg.MeterInterval})
		if err != nil {
			return fail(err)
		}
		// The copy outlives ctx, which ends as the server starts to drain:
		// it stops with the stack, after the last request, and copies
		// once more if it leads. The limiter closes after it.
		fctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
		done := make(chan struct{})
		go func() { defer close(done); flusher.Run(fctx) }()
		stopStack := stop
		stop = func() {
			cancel()
			<-done
			stopStack()
		}
	}
	return handler, stop, nil
}
