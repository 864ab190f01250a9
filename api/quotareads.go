package api

import (
	"fmt"

	"github.com/labstack/echo/v4"
	"github.com/quotad/quotad/quota"
)

// quotaReadFactor bounds GET /v1/quota: a caller may read its quota this
// many times per window for every request its tier admits per window. A
// tier of 300 per 30 s gets 3,000 reads per 30 s: ample for a client that
// checks before each request, and it keeps /v1/quota from being a way to
// make Redis work without limit.
const quotaReadFactor = 10

// quotaReadScope scopes the read allowance's limiter keys, as a
// quota.MiddlewareConfig Scope would: "quota-read|u:alice". Limiter
// keys of callers start with "u:" or "ip:", so none can name one of these.
const quotaReadScope = "quota-read"

// quotaReadLimit is the read allowance under lim, a tier's limit: its
// windows and name, quotaReadFactor times their requests.
func quotaReadLimit(lim quota.Limit) quota.Limit {
	ws := make([]quota.Window, len(lim.Windows))
	for i, w := range lim.Windows {
		ws[i] = quota.Window{Requests: min(w.Requests*quotaReadFactor, quota.MaxRequests), Per: w.Per}
	}
	lim.Windows = ws
	return lim
}

// allowQuotaRead spends one read of the caller's allowance, or answers 429
// with the rate-limit headers of the allowance and Retry-After. A caller
// over its allowance is refused from the limiter's memory, without a
// Redis round trip, until the window ends.
func (s *server) allowQuotaRead(c echo.Context, key string, tierLimit quota.Limit) error {
	lim := quotaReadLimit(tierLimit)
	d, err := s.limiter.Allow(c.Request().Context(), quotaReadScope+"|"+key, lim)
	if err != nil {
		// Without Redis there is no quota to report either.
		return domainError(err)
	}
	if d.Allowed {
		return nil
	}
	quota.SetHeaders(c.Response().Header(), d, quota.HeadersAll)
	return rateLimited(d, fmt.Sprintf(
		"reads of /v1/quota are limited to %v (%d times the tier's limit); retry in %s s",
		lim.Windows[d.Binding], quotaReadFactor, c.Response().Header().Get(quota.HeaderRetryAfter)))
}
