package api

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"
	"github.com/quotad/quotad/internal/staticfile"
	"github.com/quotad/quotad/operations"
	"github.com/quotad/quotad/quota"
	"github.com/quotad/quotad/tiers"
	"github.com/quotad/quotad/usage"
)

// DefaultBodyLimit caps request bodies; a tier is a few hundred bytes.
const DefaultBodyLimit = 64 << 10

// Check reports whether one dependency is reachable, for /readyz.
type Check func(ctx context.Context) error

// Config holds what NewServer wires together.
type Config struct {
	// Tiers answers every request-path tier lookup from memory. Required.
	Tiers *tiers.Cache
	// Store reads and writes tiers and clients for the admin API. Required.
	Store *tiers.Store
	// Usage reads the usage API's counts from Postgres. Required.
	Usage *usage.Store
	// Operations reads and writes the operation cost rules for the admin
	// API. Optional. Default value: the /v1/admin/operations routes answer
	// 404.
	Operations *operations.Store
	// WebhookEvents reads the webhook outbox for the admin API.
	// Optional. Default value: the webhook-events route answers 404.
	WebhookEvents WebhookEvents
	// Limiter decides; its store is Redis in production. Required.
	Limiter *quota.Limiter
	// Auth verifies bearer tokens. Required.
	Auth *Authenticator
	// IP finds anonymous callers' addresses.
	// Optional. Default value: trusts no proxy.
	IP *quota.IPExtractor
	// FailureMode applies when the limiter's store cannot decide.
	// Optional. Default value quota.FailOpen.
	FailureMode quota.FailureMode
	// Checks are the dependencies /readyz asks, by name ("postgres",
	// "redis"). Optional.
	Checks map[string]Check
	// Metrics records Prometheus metrics and serves /metrics.
	// Optional. Default value: a fresh registry.
	Metrics *Metrics
	// Logger receives the request lines AccessLog selects and every 5xx
	// cause.
	// Optional. Default value: discards.
	Logger *slog.Logger
	// BodyLimit caps request bodies in bytes.
	// Optional. Default value DefaultBodyLimit.
	BodyLimit int64
	// OpenAPI is served at GET /openapi.yaml. Optional.
	OpenAPI []byte
	// Pages serves the web pages (/console/, /portal/, /docs and their
	// files under /ui/); console.Handler is the one quotad uses. Optional:
	// without it those paths are 404.
	Pages http.Handler
	// AccessLog selects the requests Logger gets a line for.
	// Optional. Default value AccessLogErrors.
	AccessLog AccessLog
	// Costs prices the requests gateways ask /v1/authorize about.
	// Optional. Default value: every request costs 1.
	Costs Costs
	// AuthorizeDenyStatus is the status of a /v1/authorize refusal: 429,
	// or 403 for nginx's auth_request, which passes on only 2xx, 401 and
	// 403. Optional. Default value 429.
	AuthorizeDenyStatus int

	// now and idemKeepFor let tests move time past an Idempotency-Key's
	// life; defaults time.Now and 24 hours.
	now         func() time.Time
	idemKeepFor time.Duration
}

// server is the state handlers share.
type server struct {
	cfg     Config
	log     *slog.Logger
	limiter *quota.Limiter
	tiers   *tiers.Cache
	store   *tiers.Store
	usage   *usage.Store
	metrics *Metrics
	access  *accessLogger
	openapi *staticfile.File // nil without a document

	storeFailures throttle // log lines about the limiter's store

	now         func() time.Time // Idempotency-Key records' clock; usage's "today"
	idemKeepFor time.Duration    // how long an Idempotency-Key is kept
}

// NewServer returns quotad's HTTP handler.
func NewServer(cfg Config) (http.Handler, error) {
	if cfg.Tiers == nil || cfg.Store == nil || cfg.Limiter == nil || cfg.Auth == nil {
		return nil, errors.New("api: NewServer: Tiers, Store, Limiter and Auth are required")
	}
	if cfg.Usage == nil {
		return nil, errors.New("api: NewServer: Usage is required")
	}
	if cfg.IP == nil {
		cfg.IP, _ = quota.NewIPExtractor(nil)
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Metrics == nil {
		cfg.Metrics = NewMetrics()
	}
	if cfg.BodyLimit <= 0 {
		cfg.BodyLimit = DefaultBodyLimit
	}
	if cfg.AccessLog < AccessLogErrors || cfg.AccessLog > AccessLogNone {
		return nil, fmt.Errorf("api: NewServer: unknown AccessLog %d", cfg.AccessLog)
	}
	if cfg.AuthorizeDenyStatus == 0 {
		cfg.AuthorizeDenyStatus = http.StatusTooManyRequests
	}
	if cfg.AuthorizeDenyStatus != http.StatusTooManyRequests && cfg.AuthorizeDenyStatus != http.StatusForbidden {
		return nil, fmt.Errorf("api: NewServer: AuthorizeDenyStatus %d is neither 429 nor 403", cfg.AuthorizeDenyStatus)
	}
	s := &server{cfg: cfg, log: cfg.Logger, limiter: cfg.Limiter, tiers: cfg.Tiers, store: cfg.Store, usage: cfg.Usage, metrics: cfg.Metrics,
		access: newAccessLogger(cfg.AccessLog), now: cfg.now, idemKeepFor: cfg.idemKeepFor}
	if s.now == nil {
		s.now = time.Now
	}
	if s.idemKeepFor <= 0 {
		s.idemKeepFor = defaultIdempotencyKeepFor
	}
	s.metrics.observeCache(cfg.Tiers)
	if len(cfg.OpenAPI) > 0 {
		var err error
		if s.openapi, err = newOpenAPIDoc(cfg.OpenAPI); err != nil {
			return nil, fmt.Errorf("api: NewServer: OpenAPI: %w", err)
		}
	}

	e := echo.New()
	e.HideBanner, e.HidePort = true, true
	e.HTTPErrorHandler = errorHandler(cfg.Logger)
	e.IPExtractor = cfg.IP.Extract
	e.Use(requestID)
	e.Use(s.logRequests)
	e.Use(middleware.RecoverWithConfig(middleware.RecoverConfig{DisablePrintStack: true, LogErrorFunc: s.logPanic}))

	limit, err := s.limitMiddleware()
	if err != nil {
		return nil, err
	}
	s.routes(e, limit)
	return e, nil
}

// logPanic turns a recovered panic into a 500 with the envelope; the stack
// goes to the log, never to the client.
func (s *server) logPanic(c echo.Context, err error, stack []byte) error {
	s.log.ErrorContext(c.Request().Context(), "panic", "err", err, "stack", string(stack))
	return NewError(http.StatusInternalServerError, CodeInternal, "internal error")
}
