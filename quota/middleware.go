package quota

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"
)

// FailureMode says what Middleware does when the store cannot decide.
type FailureMode int

const (
	// FailOpen admits the request, without rate-limit headers (nothing true
	// can be said) but with X-RateLimit-Degraded: 1.
	FailOpen FailureMode = iota
	// FailClosed refuses the request with 503 and code quota_unavailable.
	FailClosed
)

// ContextKey is the echo.Context key under which Middleware stores the
// request's Decision; read it with DecisionFrom.
const ContextKey = "quota.decision"

// MiddlewareConfig configures Middleware.
type MiddlewareConfig struct {
	// Skipper defines a function to skip the middleware.
	// Optional. Default value middleware.DefaultSkipper.
	Skipper middleware.Skipper

	// Limiter makes the decisions. Required.
	Limiter *Limiter

	// KeyFunc returns the identity the request is counted under. An error
	// that is an *echo.HTTPError is returned as is; any other becomes 400.
	// Optional. Default value: the client IP, by an IPExtractor that trusts
	// no proxy ("ip:192.0.2.1").
	KeyFunc func(c echo.Context) (string, error)

	// ScopeFunc, when set, gives each route its own quota: the key becomes
	// scope + "|" + identity. ScopeByRoute scopes by method and path.
	// Optional. Default value nil: one quota per identity across all routes.
	ScopeFunc func(c echo.Context) string

	// LimitFunc returns the Limit for the request's key, as a plan tier
	// lookup would. Optional. Default value: Limit below.
	LimitFunc func(c echo.Context, key string) (Limit, error)

	// Limit applies to every request when LimitFunc is nil.
	// Required when LimitFunc is nil.
	Limit Limit

	// DenyHandler answers a refused request; its headers are already set.
	// Optional. Default value: 429 with the JSON error envelope, code
	// rate_limited.
	DenyHandler func(c echo.Context, d Decision) error

	// ErrorHandler answers when the store fails under FailClosed.
	// Optional. Default value: 503 with the JSON error envelope, code
	// quota_unavailable.
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

// ErrorBody is the JSON error envelope the middleware answers with:
// {"error":{"code":"rate_limited","message":"…"}}.
type ErrorBody struct {
	// Error holds the machine-readable code and a human message.
	Error ErrorDetail `json:"error"`
}

// ErrorDetail is the inside of ErrorBody.
type ErrorDetail struct {
	// Code is stable and machine-readable, e.g. "rate_limited".
	Code string `json:"code"`
	// Message is for humans and may change.
	Message string `json:"message"`
}

// NewHTTPError returns an *echo.HTTPError whose body, under Echo's default
// error handler, is the JSON envelope with code and message.
func NewHTTPError(status int, code, message string) *echo.HTTPError {
	return &echo.HTTPError{Code: status, Message: ErrorBody{Error: ErrorDetail{Code: code, Message: message}}}
}

// DecisionFrom returns the Decision Middleware made for c's request, if any.
func DecisionFrom(c echo.Context) (Decision, bool) {
	d, ok := c.Get(ContextKey).(Decision)
	return d, ok
}

// ScopeByRoute scopes quotas by method and route pattern, e.g.
// "GET /users/:id", so each route gets its own quota per identity.
func ScopeByRoute(c echo.Context) string {
	return c.Request().Method + " " + c.Path()
}

// Middleware returns a rate-limiting middleware with cfg, or an error if cfg
// cannot work.
func Middleware(cfg MiddlewareConfig) (echo.MiddlewareFunc, error) {
	if cfg.Limiter == nil {
		return nil, errors.New("quota: Middleware: Limiter is required")
	}
	if cfg.LimitFunc == nil {
		if err := cfg.Limit.Validate(); err != nil {
			return nil, fmt.Errorf("quota: Middleware: Limit: %w", err)
		}
		static := cfg.Limit
		cfg.LimitFunc = func(echo.Context, string) (Limit, error) { return static, nil }
	}
	if cfg.Skipper == nil {
		cfg.Skipper = middleware.DefaultSkipper
	}
	if cfg.KeyFunc == nil {
		x, _ := NewIPExtractor(nil)
		cfg.KeyFunc = func(c echo.Context) (string, error) { return x.Key(c.Request()) }
	}
	if cfg.DenyHandler == nil {
		cfg.DenyHandler = DefaultDenyHandler
	}
	if cfg.ErrorHandler == nil {
		cfg.ErrorHandler = DefaultErrorHandler
	}
	if cfg.FailureMode != FailOpen && cfg.FailureMode != FailClosed {
		return nil, fmt.Errorf("quota: Middleware: unknown FailureMode %d", cfg.FailureMode)
	}
	if cfg.Headers < HeadersAll || cfg.Headers > HeadersNone {
		return nil, fmt.Errorf("quota: Middleware: unknown Headers %d", cfg.Headers)
	}
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			if cfg.Skipper(c) {
				return next(c)
			}
			key, err := cfg.KeyFunc(c)
			if err != nil {
				return asHTTPError(err, http.StatusBadRequest, "bad_request", "cannot identify the client")
			}
			if cfg.ScopeFunc != nil {
				key = cfg.ScopeFunc(c) + "|" + key
			}
			lim, err := cfg.LimitFunc(c, key)
			if err != nil {
				return asHTTPError(err, http.StatusInternalServerError, "internal", "cannot resolve the client's limit")
			}
			d, err := cfg.Limiter.Allow(c.Request().Context(), key, lim)
			if cfg.OnDecision != nil {
				cfg.OnDecision(c, d, err)
			}
			if err != nil {
				if !errors.Is(err, ErrUnavailable) {
					return asHTTPError(err, http.StatusInternalServerError, "internal", "cannot apply the client's limit")
				}
				if cfg.FailureMode == FailClosed {
					return cfg.ErrorHandler(c, err)
				}
				c.Response().Header().Set(HeaderDegraded, "1")
				return next(c)
			}
			c.Set(ContextKey, d)
			SetHeaders(c.Response().Header(), d, cfg.Headers)
			if !d.Allowed {
				return cfg.DenyHandler(c, d)
			}
			return next(c)
		}
	}, nil
}

// DefaultDenyHandler answers 429 with the JSON envelope, code rate_limited.
// Retry-After is already set.
func DefaultDenyHandler(_ echo.Context, d Decision) error {
	return NewHTTPError(http.StatusTooManyRequests, "rate_limited",
		fmt.Sprintf("rate limit of %v exceeded; retry in %d s", d.Limit.Windows[d.Binding], max(ceilSeconds(d.RetryAfter), 1)))
}

// DefaultErrorHandler answers 503 with the JSON envelope, code
// quota_unavailable, keeping err as the internal cause for logs.
func DefaultErrorHandler(c echo.Context, err error) error {
	c.Response().Header().Set(HeaderRetryAfter, "1")
	he := NewHTTPError(http.StatusServiceUnavailable, "quota_unavailable", "rate limiter unavailable; try again shortly")
	he.Internal = err
	return he
}

// asHTTPError passes an *echo.HTTPError through and wraps anything else.
func asHTTPError(err error, status int, code, message string) error {
	var he *echo.HTTPError
	if errors.As(err, &he) {
		return err
	}
	out := NewHTTPError(status, code, message)
	out.Internal = err
	return out
}
