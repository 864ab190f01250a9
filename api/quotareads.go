package api

import (
	"fmt"
	"net/http"

	"github.com/labstack/echo/v4"
	"github.com/quotad/quotad/quota"
	"github.com/quotad/quotad/tiers"
)

// quotaReadFactor bounds GET /v1/quota: a caller may read its quota this
// many times per window for every request its tier admits per window. A
// tier of 300 per 30 s gets 3,000 reads per 30 s: ample for a client that
// checks before each request, and it keeps /v1/quota from being a way to
// make Redis work without limit.
const quotaReadFactor = 10

// quotaReadScope scopes the read allowance's limiter keys, as a
// quota.MiddlewareConfig ScopeFunc would: "quota-read|u:alice". Limiter
// keys of callers start with "u:" or "ip:", so none can name one of these.
const quotaReadScope = "quota-read"

// quotaReadLimit is the read allowance of tier t: the tier's window and
// name, quotaReadFactor times its requests.
func quotaReadLimit(t tiers.Tier) quota.Limit {
	return quota.Limit{Name: t.Name, Requests: min(t.First().Limit*quotaReadFactor, quota.MaxRequests), Per: legacyPer(t.First().Per)}
}

// allowQuotaRead spends one read of the caller's allowance, or answers 429
// with the rate-limit headers of the allowance and Retry-After. A caller
// over its allowance is refused from the limiter's memory, without a
// Redis round trip, until the window ends.
func (s *server) allowQuotaRead(c echo.Context, key string, t tiers.Tier) error {
	lim := quotaReadLimit(t)
	d, err := s.limiter.Allow(c.Request().Context(), quotaReadScope+"|"+key, lim)
	if err != nil {
		// Without Redis there is no quota to report either.
		return domainError(err)
	}
	if d.Allowed {
		return nil
	}
	quota.SetHeaders(c.Response().Header(), d, quota.HeadersAll)
	return NewError(http.StatusTooManyRequests, CodeRateLimited, fmt.Sprintf(
		"reads of /v1/quota are limited to %d per %v (%d times the tier's limit); retry in %s s",
		lim.Requests, lim.Per, quotaReadFactor, c.Response().Header().Get(quota.HeaderRetryAfter)))
}
