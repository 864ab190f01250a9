package api

import (
	"net/http"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/quotad/quotad/quota"
	"github.com/quotad/quotad/tiers"
)

// rateLimitedBody is the seed's limited endpoint's answer, encoded once:
// the body never changes, so encoding it per request would only cost
// allocations. The newline matches what c.JSON writes.
var rateLimitedBody = []byte(`{"response":"This is a rate limited response"}` + "\n")

// rateLimited is the seed's limited endpoint.
func (s *server) rateLimited(c echo.Context) error {
	return c.JSONBlob(http.StatusOK, rateLimitedBody)
}

// QuotaView is the body of GET /v1/quota and GET /v1/admin/clients/{id}/quota.
type QuotaView struct {
	// ID is the client ID, or the IP bucket ("ip:192.0.2.1") of an
	// anonymous caller.
	ID string `json:"id"`
	// Anonymous reports an IP-keyed caller.
	Anonymous bool `json:"anonymous"`
	// Tier names the caller's plan.
	Tier string `json:"tier"`
	// Limit and Per are the plan's requests per window of Per seconds.
	Limit int64 `json:"limit"`
	Per   int64 `json:"per"`
	// Remaining is what the current window still admits.
	Remaining int64 `json:"remaining"`
	// Reset is when the window ends, Unix seconds (as X-RateLimit-Reset).
	Reset int64 `json:"reset"`
	// ResetAfter is the number of seconds until Reset, rounded up.
	ResetAfter int64 `json:"reset_after"`
}

func quotaView(id string, anonymous bool, t tiers.Tier, d quota.Decision) QuotaView {
	return QuotaView{
		ID: id, Anonymous: anonymous, Tier: t.Name, Limit: t.First().Limit, Per: int64(legacyPer(t.First().Per) / time.Second),
		Remaining: d.Remaining, Reset: d.Reset.Unix(), ResetAfter: int64((d.ResetAfter + time.Second - 1) / time.Second),
	}
}

// ownQuota reports the caller's window without consuming any of it. It
// first spends one of the caller's reads (see quotaReadFactor): a read
// admitted costs two Redis round trips, one after the other, and a read
// refused none once the limiter knows the caller is over.
func (s *server) ownQuota(c echo.Context) error {
	key, t, err := s.identify(c)
	if err != nil {
		return err
	}
	if err := s.allowQuotaRead(c, key, t); err != nil {
		return err
	}
	d, err := s.limiter.Peek(c.Request().Context(), key, LimitOf(t))
	if err != nil {
		return domainError(err)
	}
	id, anonymous := key, true
	if ident, ok := IdentityFrom(c); ok {
		id, anonymous = ident.ClientID, false
	}
	return c.JSON(http.StatusOK, quotaView(id, anonymous, t, d))
}

// TierView is the JSON form of a tier: its windows as limits, and the
// first of them as limit and per too, for Part 1 clients.
type TierView struct {
	Name        string       `json:"name"`
	Limit       int64        `json:"limit"`
	Per         Per          `json:"per"`
	Limits      []WindowView `json:"limits"`
	Description string       `json:"description"`
	PriceCents  int64        `json:"price_cents"`
	Currency    string       `json:"currency"`
}

func tierView(t tiers.Tier) TierView {
	first := t.First()
	return TierView{Name: t.Name, Limit: first.Limit, Per: perOf(first.Per), Limits: windowViews(t.Windows),
		Description: t.Description, PriceCents: t.PriceCents, Currency: t.Currency}
}

// legacyPer is a window's length for the one-window limiter: a month
// counts as 31 days until the limiter knows calendar months.
func legacyPer(d time.Duration) time.Duration {
	if d == tiers.Month {
		return 31 * 24 * time.Hour
	}
	return d
}

func tierViews(ts []tiers.Tier) []TierView {
	out := make([]TierView, len(ts))
	for i, t := range ts {
		out[i] = tierView(t)
	}
	return out
}

// publicTiers lists the plans, as a pricing page shows them. It answers
// from the cache, so it keeps working while Postgres is down.
func (s *server) publicTiers(c echo.Context) error {
	return c.JSON(http.StatusOK, map[string]any{"tiers": tierViews(s.tiers.Tiers())})
}
