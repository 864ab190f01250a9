package api

import (
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

// LimitOf turns a plan tier into the quota it enforces; the only place the
// two packages meet.
func LimitOf(t tiers.Tier) quota.Limit {
	return quota.Limit{Name: t.Name, Requests: t.First().Limit, Per: legacyPer(t.First().Per)}
}

// identify returns the caller's limiter key and tier: the token's subject
// and its assigned tier, or the client IP and the anonymous tier.
func (s *server) identify(c echo.Context) (key string, t tiers.Tier, err error) {
	if p, ok := principalFrom(c); ok {
		t, err = s.tiers.TierFor(c.Request().Context(), p.ClientID)
		return p.key, t, err
	}
	key, err = s.cfg.IP.Key(c.Request())
	if err != nil {
		return "", tiers.Tier{}, NewError(http.StatusBadRequest, CodeBadRequest, "cannot determine the client address")
	}
	return key, s.tiers.Anonymous(), nil
}

// limitMiddleware mounts the limiter with a resolver from the caller's tier.
func (s *server) limitMiddleware() (echo.MiddlewareFunc, error) {
	return quota.Middleware(quota.MiddlewareConfig{
		Limiter: s.limiter,
		KeyFunc: func(c echo.Context) (string, error) {
			key, t, err := s.identify(c)
			if err != nil {
				return "", err
			}
			ri := info(c)
			ri.key, ri.tier, ri.hasTier = key, t, true
			return key, nil
		},
		LimitFunc: func(c echo.Context, _ string) (quota.Limit, error) {
			ri := info(c)
			ri.decideAt = time.Now()
			return LimitOf(ri.tier), nil
		},
		ErrorHandler: func(c echo.Context, err error) error {
			c.Response().Header().Set(quota.HeaderRetryAfter, "1")
			he := NewError(http.StatusServiceUnavailable, CodeUnavailable, "rate limiter unavailable; try again shortly")
			he.Internal = err
			return he
		},
		OnDecision:  s.recordDecision,
		FailureMode: s.cfg.FailureMode,
	})
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
		default: // a tier changed, or the listener re-read everything
			l.ForgetAll()
		}
	}
}
