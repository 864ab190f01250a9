package quota

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"
)

// FailureMode says what the middleware does when the store cannot decide.
type FailureMode int

const (
	// FailOpen admits the request, without rate-limit headers (nothing true
	// can be said) but with X-RateLimit-Degraded: 1.
	FailOpen FailureMode = iota
	// FailClosed refuses the request through MiddlewareConfig.ErrorHandler.
	FailClosed
)

// contextKey is the echo.Context key under which the middleware stores the
// request's Decision; DecisionFrom reads it.
const contextKey = "quota.decision"

// MiddlewareConfig configures MiddlewareWithConfig.
type MiddlewareConfig struct {
	// Skipper defines a function to skip the middleware.
	// Optional. Default value middleware.DefaultSkipper.
	Skipper middleware.Skipper

	// Limiter makes the decisions. Required.
	Limiter *Limiter

	// Resolve returns the identity a request is counted under and the
	// Limit (the plan) that applies to it, as a lookup of the caller's
	// tier would. An error that is an *echo.HTTPError is returned as is;
	// any other becomes a 500 with the error as its Internal cause.
	// Optional. Default value: the client IP, by an IPExtractor that
	// trusts no proxy ("ip:192.0.2.1"; a request without one is a 400),
	// and Limit below.
	Resolve func(c echo.Context) (key string, lim Limit, err error)

	// Limit applies to every request when Resolve is nil.
	// Required when Resolve is nil.
	Limit Limit

	// Scope, when set, gives each route its own quota: the key becomes
	// scope + "|" + identity. ScopeByRoute scopes by method and path.
	// Optional. Default value nil: one quota per identity across all routes.
	Scope func(c echo.Context) string

	// DenyHandler answers a refused request; its headers are already set,
	// Retry-After included.
	// Optional. Default value: a 429 *echo.HTTPError naming the binding
	// window, e.g. "rate limit of 20 requests per 1s exceeded; retry in 1 s".
	DenyHandler func(c echo.Context, d Decision) error

	// ErrorHandler answers when the store fails under FailClosed.
	// Optional. Default value: Retry-After 1 and a 503 *echo.HTTPError
	// with err as its Internal cause.
	ErrorHandler func(c echo.Context, err error) error

	// OnDecision observes every decision (err non-nil when the store
	// failed), for metrics and logs. It must not write the response.
	// Optional. Default value nil.
	OnDecision func(c echo.Context, d Decision, err error)

	// FailureMode says what happens when the store fails.
	// Optional. Default value FailOpen.
	FailureMode FailureMode

	// Headers selects the rate-limit headers written.
	// Optional. Default value HeadersAll.
	Headers HeaderStyle
}

// DecisionFrom returns the Decision the middleware made for c's request, if
// any.
func DecisionFrom(c echo.Context) (Decision, bool) {
	d, ok := c.Get(contextKey).(Decision)
	return d, ok
}

// ScopeByRoute scopes quotas by method and route pattern, e.g.
// "GET /users/:id", so each route gets its own quota per identity.
func ScopeByRoute(c echo.Context) string {
	return c.Request().Method + " " + c.Path()
}

// Middleware returns a middleware that limits every client IP to lim with
// l. It panics if lim is invalid, as Echo's own middleware constructors do
// with a config that cannot work; MiddlewareWithConfig returns an error.
func Middleware(l *Limiter, lim Limit) echo.MiddlewareFunc {
	mw, err := MiddlewareWithConfig(MiddlewareConfig{Limiter: l, Limit: lim})
	if err != nil {
		panic(err)
	}
	return mw
}

// MiddlewareWithConfig returns a rate-limiting middleware with cfg, or an
// error if cfg cannot work.
func MiddlewareWithConfig(cfg MiddlewareConfig) (echo.MiddlewareFunc, error) {
	if cfg.Limiter == nil {
		return nil, errors.New("quota: middleware: Limiter is required")
	}
	if cfg.Resolve == nil {
		if err := cfg.Limit.Validate(); err != nil {
			return nil, fmt.Errorf("quota: middleware: Limit: %w", err)
		}
		cfg.Resolve = resolveIP(cfg.Limit)
	}
	if cfg.Skipper == nil {
		cfg.Skipper = middleware.DefaultSkipper
	}
	if cfg.DenyHandler == nil {
		cfg.DenyHandler = denyHandler
	}
	if cfg.ErrorHandler == nil {
		cfg.ErrorHandler = errorHandler
	}
	if cfg.FailureMode != FailOpen && cfg.FailureMode != FailClosed {
		return nil, fmt.Errorf("quota: middleware: unknown FailureMode %d", cfg.FailureMode)
	}
	if cfg.Headers < HeadersAll || cfg.Headers > HeadersNone {
		return nil, fmt.Errorf("quota: middleware: unknown Headers %d", cfg.Headers)
	}
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			if cfg.Skipper(c) {
				return next(c)
			}
			key, lim, err := cfg.Resolve(c)
			if err != nil {
				return asHTTPError(err, "cannot resolve the request's rate limit")
			}
			if cfg.Scope != nil {
				key = cfg.Scope(c) + "|" + key
			}
			d, err := cfg.Limiter.Allow(c.Request().Context(), key, lim)
			if cfg.OnDecision != nil {
				cfg.OnDecision(c, d, err)
			}
			if err != nil {
				if !errors.Is(err, ErrUnavailable) {
					return asHTTPError(err, "cannot apply the request's rate limit")
				}
				if cfg.FailureMode == FailClosed {
					return cfg.ErrorHandler(c, err)
				}
				c.Response().Header().Set(HeaderDegraded, "1")
				return next(c)
			}
			c.Set(contextKey, d)
			SetHeaders(c.Response().Header(), d, cfg.Headers)
			if !d.Allowed {
				return cfg.DenyHandler(c, d)
			}
			return next(c)
		}
	}, nil
}

// resolveIP is the default Resolve: the client IP, trusting no proxy, and
// one Limit for all.
func resolveIP(lim Limit) func(echo.Context) (string, Limit, error) {
	x, _ := NewIPExtractor(nil)
	return func(c echo.Context) (string, Limit, error) {
		key, err := x.Key(c.Request())
		if err != nil {
			return "", lim, &echo.HTTPError{Code: http.StatusBadRequest, Message: "cannot determine the client address", Internal: err}
		}
		return key, lim, nil
	}
}

// denyHandler is the default DenyHandler.
func denyHandler(_ echo.Context, d Decision) error {
	return echo.NewHTTPError(http.StatusTooManyRequests,
		fmt.Sprintf("rate limit of %v exceeded; retry in %d s", d.Limit.Windows[d.Binding], max(ceilSeconds(d.RetryAfter), 1)))
}

// errorHandler is the default ErrorHandler.
func errorHandler(c echo.Context, err error) error {
	c.Response().Header().Set(HeaderRetryAfter, "1")
	return &echo.HTTPError{Code: http.StatusServiceUnavailable, Message: "rate limiter unavailable; try again shortly", Internal: err}
}

// asHTTPError passes an *echo.HTTPError through and makes anything else a
// 500 whose cause is kept for logs but not shown to the client.
func asHTTPError(err error, message string) error {
	var he *echo.HTTPError
	if errors.As(err, &he) {
		return err
	}
	return &echo.HTTPError{Code: http.StatusInternalServerError, Message: message, Internal: err}
}
