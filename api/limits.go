package api

import (
	"net/http"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/quotad/quotad/quota"
	"github.com/quotad/quotad/tiers"
)

// Context keys set on the request path for logs and metrics.
const (
	ctxKey       = "quotad.key"
	ctxTier      = "quotad.tier"
	ctxOutcome   = "quotad.outcome"
	ctxDecideAt  = "quotad.decide_at"
	userPrefix   = "u:"
	outcomeAdmit = "admitted"
	outcomeLimit = "limited"
	outcomeOpen  = "degraded"    // store failed, admitted under FailOpen
	outcomeShut  = "unavailable" // store failed, refused under FailClosed
)

// UserKey is the limiter key of an authenticated client: "u:" + sub. IP
// keys start with "ip:", so no token can name an anonymous bucket.
func UserKey(clientID string) string { return userPrefix + clientID }

// LimitOf turns a plan tier into the quota it enforces; the only place the
// two packages meet.
func LimitOf(t tiers.Tier) quota.Limit {
	return quota.Limit{Name: t.Name, Requests: t.Limit, Per: t.Per}
}

// identify returns the caller's limiter key and tier: the token's subject
// and its assigned tier, or the client IP and the anonymous tier.
func (s *server) identify(c echo.Context) (key string, t tiers.Tier, err error) {
	if id, ok := IdentityFrom(c); ok {
		t, err = s.tiers.TierFor(c.Request().Context(), id.ClientID)
		return UserKey(id.ClientID), t, err
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
			c.Set(ctxKey, key)
			c.Set(ctxTier, t)
			return key, nil
		},
		LimitFunc: func(c echo.Context, _ string) (quota.Limit, error) {
			c.Set(ctxDecideAt, time.Now())
			return LimitOf(c.Get(ctxTier).(tiers.Tier)), nil
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
	c.Set(ctxOutcome, outcome)
	var since time.Duration
	if at, ok := c.Get(ctxDecideAt).(time.Time); ok {
		since = time.Since(at)
	}
	tier, _ := c.Get(ctxTier).(tiers.Tier)
	s.metrics.decision(tier.Name, outcome, since, err)
	if err != nil {
		s.metrics.logStoreFailure(c.Request().Context(), s.log, err)
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
