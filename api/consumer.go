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
	// Limit, Per, Remaining, Reset and ResetAfter describe the binding
	// window (as the X-RateLimit-* headers do): its requests per window
	// of Per, what it still admits, when it ends (Unix seconds) and the
	// seconds until then, rounded up.
	Limit      int64 `json:"limit"`
	Per        Per   `json:"per"`
	Remaining  int64 `json:"remaining"`
	Reset      int64 `json:"reset"`
	ResetAfter int64 `json:"reset_after"`
	// Windows describes every window of the plan, in the tier's order.
	Windows []QuotaWindow `json:"windows"`
}

// QuotaWindow is one window of a QuotaView.
type QuotaWindow struct {
	// Policy names the window as the RateLimit headers do ("pro:month").
	Policy     string `json:"policy"`
	Limit      int64  `json:"limit"`
	Per        Per    `json:"per"`
	Remaining  int64  `json:"remaining"`
	Reset      int64  `json:"reset"`
	ResetAfter int64  `json:"reset_after"`
	// Soft marks a soft month window, which admits past its limit.
	Soft bool `json:"soft,omitempty"`
	// Overage is how far a soft window is past its limit; absent within it.
	Overage int64 `json:"overage,omitempty"`
}

func quotaView(id string, anonymous bool, d quota.Decision) QuotaView {
	ws := make([]QuotaWindow, len(d.Limit.Windows))
	for i, w := range d.Limit.Windows {
		st := d.Window(i)
		ws[i] = QuotaWindow{Policy: d.Limit.Policy(i), Limit: w.Requests, Per: quotaPer(w.Per),
			Remaining: st.Remaining, Reset: st.Reset.Unix(), ResetAfter: ceilSeconds(st.ResetAfter), Soft: w.Soft}
		if w.Soft {
			ws[i].Overage = d.Overage
		}
	}
	b := ws[d.Binding]
	return QuotaView{ID: id, Anonymous: anonymous, Tier: d.Limit.Name, Limit: b.Limit, Per: b.Per,
		Remaining: b.Remaining, Reset: b.Reset, ResetAfter: b.ResetAfter, Windows: ws}
}

// quotaPer is a quota.Window's Per as a Per.
func quotaPer(d time.Duration) Per {
	if d == quota.Month {
		return Per{Month: true}
	}
	return Per{Seconds: int64(d / time.Second)}
}

// ceilSeconds rounds d up to whole seconds.
func ceilSeconds(d time.Duration) int64 { return int64((max(d, 0) + time.Second - 1) / time.Second) }

// ownQuota reports the caller's windows without consuming any of them. It
// first spends one of the caller's reads (see quotaReadFactor): a read
// admitted costs two Redis round trips, one after the other, and a read
// refused none once the limiter knows the caller is over.
func (s *server) ownQuota(c echo.Context) error {
	key, _, lim, err := s.identify(c)
	if err != nil {
		return err
	}
	if err := s.allowQuotaRead(c, key, lim); err != nil {
		return err
	}
	d, err := s.limiter.Peek(c.Request().Context(), key, lim)
	if err != nil {
		return domainError(err)
	}
	id, anonymous := key, true
	if ident, ok := IdentityFrom(c); ok {
		id, anonymous = ident.ClientID, false
	}
	return c.JSON(http.StatusOK, quotaView(id, anonymous, d))
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
