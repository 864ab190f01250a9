package api

import (
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/quotad/quotad/quota"
	"github.com/quotad/quotad/tiers"
)

const (
	userPrefix   = "u:"
	outcomeAdmit = "admitted"
	outcomeLimit = "limited"
	outcomeOpen  = "degraded"    // store failed, admitted under FailOpen
	outcomeShut  = "unavailable" // store failed, refused under FailClosed
)

// ctxInfo is the echo.Context key of the request's *requestInfo.
const ctxInfo = "quotad.request"

// requestInfo is what the request path learns for the log line and the
// metrics: one pointer set once per request, so filling it in costs no
// allocation per field.
type requestInfo struct {
	key      string     // limiter key: "u:<sub>" or "ip:<addr>"
	tier     tiers.Tier // the caller's tier, once resolved
	hasTier  bool
	outcome  string    // a decision's outcome, if one was made
	decideAt time.Time // when the limiter was asked
}

// info returns the request's requestInfo; a request that bypassed
// logRequests (none in quotad) gets a throwaway one.
func info(c echo.Context) *requestInfo {
	if ri, ok := c.Get(ctxInfo).(*requestInfo); ok {
		return ri
	}
	ri := &requestInfo{}
	c.Set(ctxInfo, ri)
	return ri
}

// UserKey is the limiter key of an authenticated client: "u:" + sub. IP
// keys start with "ip:", so no token can name an anonymous bucket.
func UserKey(clientID string) string { return userPrefix + clientID }

// identify returns the caller's limiter key, tier and the Limit it
// enforces: the token's subject and its assigned tier on its anchor day,
// metered, or the client IP and the anonymous tier.
func (s *server) identify(c echo.Context) (key string, t tiers.Tier, lim quota.Limit, err error) {
	if p, ok := principalFrom(c); ok {
		t, anchor, err := s.tiers.PlanFor(c.Request().Context(), p.ClientID)
		lim = LimitOf(t, anchor)
		lim.Meter = true // clients' usage is billed; anonymous callers' is not
		return p.key, t, lim, err
	}
	key, err = s.cfg.IP.Key(c.Request())
	if err != nil {
		return "", tiers.Tier{}, quota.Limit{}, NewError(http.StatusBadRequest, CodeBadRequest, "cannot determine the client address")
	}
	t = s.tiers.Anonymous()
	return key, t, LimitOf(t, 0), nil
}

// limitMiddleware mounts the limiter with a resolver from the caller's tier,
// answering refusals and failures with quotad's error envelope.
func (s *server) limitMiddleware() (echo.MiddlewareFunc, error) {
	return quota.MiddlewareWithConfig(quota.MiddlewareConfig{
		Limiter:      s.limiter,
		Resolve:      s.resolve,
		DenyHandler:  func(c echo.Context, d quota.Decision) error { return refusal(c, d) },
		ErrorHandler: func(c echo.Context, err error) error { return limiterUnavailable(c, err) },
		OnDecision:   s.recordDecision,
		FailureMode:  s.cfg.FailureMode,
	})
}

// resolve identifies the caller for a decision and notes it, and when the
// decision starts, for the log line and the metrics.
func (s *server) resolve(c echo.Context) (string, quota.Limit, error) {
	key, t, lim, err := s.identify(c)
	if err != nil {
		var he *echo.HTTPError
		if errors.As(err, &he) {
			return "", quota.Limit{}, err
		}
		he = NewError(http.StatusBadRequest, CodeBadRequest, "cannot identify the client")
		he.Internal = err
		return "", quota.Limit{}, he
	}
	ri := info(c)
	ri.key, ri.tier, ri.hasTier = key, t, true
	ri.decideAt = time.Now()
	return key, lim, nil
}

// refusal is the 429 of a refused decision; its headers, Retry-After
// included, are already set.
func refusal(c echo.Context, d quota.Decision) *echo.HTTPError {
	return rateLimited(d, fmt.Sprintf("rate limit of %v exceeded; retry in %s s",
		d.Limit.Windows[d.Binding], c.Response().Header().Get(quota.HeaderRetryAfter)))
}

// limiterUnavailable is the 503 of a decision the store could not make
// under FailClosed.
func limiterUnavailable(c echo.Context, err error) *echo.HTTPError {
	c.Response().Header().Set(quota.HeaderRetryAfter, "1")
	he := NewError(http.StatusServiceUnavailable, CodeUnavailable, "rate limiter unavailable; try again shortly")
	he.Internal = err
	return he
}

// recordDecision feeds metrics and the request log.
func (s *server) recordDecision(c echo.Context, d quota.Decision, err error) {
	outcome := outcomeAdmit
	switch {
	case err != nil && s.cfg.FailureMode == quota.FailClosed:
		outcome = outcomeShut
	case err != nil:
		outcome = outcomeOpen
	case !d.Allowed:
		outcome = outcomeLimit
	}
	ri := info(c)
	ri.outcome = outcome
	s.metrics.decision(ri.tier.Name, outcome, time.Since(ri.decideAt), err)
	if err != nil {
		if ok, held := s.storeFailures.allow(); ok {
			s.log.WarnContext(c.Request().Context(), "rate limiter store failed", "err", err, "suppressed_since_last", held)
		}
	}
}

// Invalidator returns the tiers.Cache OnChange hook that keeps a Limiter's
// over-limit knowledge true on every instance: a client moved to another
// tier or reset by an admin must not stay refused from memory.
func Invalidator(l *quota.Limiter) func(tiers.Change) {
	return func(ch tiers.Change) {
		switch ch.Kind {
		case tiers.ChangeClient, tiers.ChangeReset:
			l.Forget(UserKey(ch.ClientID))
		case tiers.ChangeOperation:
			// A cost is no limit: a refusal remembered at one cost is asked
			// again for a cheaper request anyway.
		default: // a tier changed, or the listener re-read everything
			l.ForgetAll()
		}
	}
}
