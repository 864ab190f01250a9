package api

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"
	"github.com/quotad/quotad/quota"
	"github.com/quotad/quotad/tiers"
	"golang.org/x/net/netutil"
)

// Defaults of HTTPConfig's zero values.
const (
	// DefaultWriteTimeout bounds the time from reading a request's headers
	// to handing the last byte of its response to the kernel. quotad's
	// responses are small and its handlers take milliseconds, so only a
	// client that stopped reading while its kernel buffers filled reaches
	// it; its connection is then closed, and the buffers freed.
	DefaultWriteTimeout = 10 * time.Second
	// DefaultMaxConns bounds the connections one process holds open.
	DefaultMaxConns = 10_000
)

// HTTPConfig holds the connection limits of NewHTTPServerWithConfig and
// LimitListener.
type HTTPConfig struct {
	// WriteTimeout closes a connection whose response is not written
	// within it of the request's headers being read.
	// Optional. Default value DefaultWriteTimeout.
	WriteTimeout time.Duration
	// MaxConns bounds the connections open at once; LimitListener applies
	// it. Optional. Default value DefaultMaxConns.
	MaxConns int
}

// NewHTTPServer returns NewHTTPServerWithConfig with the default HTTPConfig.
func NewHTTPServer(handler http.Handler, base context.Context) *http.Server {
	return NewHTTPServerWithConfig(handler, base, HTTPConfig{})
}

// NewHTTPServerWithConfig returns the http.Server quotad serves handler
// with: a slow client cannot hold a connection open by trickling headers or
// a body, nor by not reading its responses (WriteTimeout), and a header
// block over 32 KiB is refused with 431. Requests' contexts derive from
// base without its cancellation, so a shutdown drains them instead of
// cancelling them.
func NewHTTPServerWithConfig(handler http.Handler, base context.Context, cfg HTTPConfig) *http.Server {
	if cfg.WriteTimeout <= 0 {
		cfg.WriteTimeout = DefaultWriteTimeout
	}
	return &http.Server{
		Handler:           handler,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      cfg.WriteTimeout,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    32 << 10, // beyond it: 431
		BaseContext:       func(net.Listener) context.Context { return context.WithoutCancel(base) },
	}
}

// LimitListener returns ln accepting at most cfg.MaxConns connections at
// once: past that, new connections wait in the kernel's accept queue until
// one closes. With WriteTimeout, it bounds what clients that never read can
// hold: MaxConns connections, each for at most WriteTimeout after its
// buffers fill.
func LimitListener(ln net.Listener, cfg HTTPConfig) net.Listener {
	if cfg.MaxConns <= 0 {
		cfg.MaxConns = DefaultMaxConns
	}
	return netutil.LimitListener(ln, cfg.MaxConns)
}

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
	// AccessLog selects the requests Logger gets a line for.
	// Optional. Default value AccessLogErrors.
	AccessLog AccessLog
}

// server is the state handlers share.
type server struct {
	cfg     Config
	log     *slog.Logger
	limiter *quota.Limiter
	tiers   *tiers.Cache
	store   *tiers.Store
	metrics *Metrics
	access  *accessLogger
	openapi *openAPIDoc // nil without a document

	storeFailures throttle // log lines about the limiter's store
}

// NewServer returns quotad's HTTP handler.
func NewServer(cfg Config) (http.Handler, error) {
	if cfg.Tiers == nil || cfg.Store == nil || cfg.Limiter == nil || cfg.Auth == nil {
		return nil, errors.New("api: NewServer: Tiers, Store, Limiter and Auth are required")
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
	s := &server{cfg: cfg, log: cfg.Logger, limiter: cfg.Limiter, tiers: cfg.Tiers, store: cfg.Store, metrics: cfg.Metrics,
		access: newAccessLogger(cfg.AccessLog)}
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
