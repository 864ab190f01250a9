package api

import (
	"net/http"
	"net/url"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/quotad/quotad/tiers"
)

// tierInput is the body of POST and PUT on tiers. Pointers tell a missing
// field from a zero one.
type tierInput struct {
	Name        *string `json:"name"`
	Limit       *int64  `json:"limit"`
	Per         *int64  `json:"per"`
	Description *string `json:"description"`
	PriceCents  *int64  `json:"price_cents"`
	Currency    *string `json:"currency"`
}

// tier turns the input into a tiers.Tier, naming missing required fields.
// Optional fields left out take their defaults: PUT replaces the whole tier.
func (in tierInput) tier(name string) (tiers.Tier, map[string]string) {
	missing := map[string]string{}
	if in.Limit == nil {
		missing["limit"] = "is required"
	}
	if in.Per == nil {
		missing["per"] = "is required"
	}
	if name == "" {
		missing["name"] = "is required"
	}
	if len(missing) > 0 {
		return tiers.Tier{}, missing
	}
	t := tiers.Tier{Name: name, Limit: *in.Limit, Per: seconds(*in.Per)}
	if in.Description != nil {
		t.Description = *in.Description
	}
	if in.PriceCents != nil {
		t.PriceCents = *in.PriceCents
	}
	if in.Currency != nil {
		t.Currency = *in.Currency
	}
	return t, nil
}

// seconds converts a count of seconds to a Duration; values out of range
// map to one just outside it so validation names the field instead of an
// overflow wrapping into range (-36028797018963908 × 1s wraps to 60s).
func seconds(n int64) time.Duration {
	switch {
	case n > int64(tiers.MaxPer/time.Second):
		return tiers.MaxPer + time.Second
	case n < 0:
		return -time.Second
	}
	return time.Duration(n) * time.Second
}

func (s *server) listTiers(c echo.Context) error {
	ts, err := s.store.ListTiers(c.Request().Context())
	if err != nil {
		return domainError(err)
	}
	return c.JSON(http.StatusOK, map[string]any{"tiers": tierViews(ts)})
}

// decodeTier reads a tier body strictly. pathName is the tier named by the
// path (PUT), whose body may repeat it but not contradict it; "" for POST,
// whose body names the tier.
func decodeTier(c echo.Context, limit int64, pathName string) (tiers.Tier, error) {
	var in tierInput
	if err := decodeJSON(c, limit, &in); err != nil {
		return tiers.Tier{}, err
	}
	name := pathName
	if in.Name != nil {
		if pathName != "" && *in.Name != pathName {
			return tiers.Tier{}, invalid("the name in the body differs from the path", map[string]string{"name": "must match the path"})
		}
		name = *in.Name
	}
	t, missing := in.tier(name)
	if missing != nil {
		return tiers.Tier{}, invalid("missing fields", missing)
	}
	return t, nil
}

func (s *server) createTier(c echo.Context) error {
	t, err := decodeTier(c, s.cfg.BodyLimit, "")
	if err != nil {
		return err
	}
	created, err := s.store.CreateTier(c.Request().Context(), t)
	if err != nil {
		return domainError(err)
	}
	s.tiers.TierSaved(created)
	c.Response().Header().Set(echo.HeaderLocation, "/v1/admin/tiers/"+url.PathEscape(created.Name))
	return c.JSON(http.StatusCreated, tierView(created))
}

func (s *server) getTier(c echo.Context) error {
	t, err := s.store.GetTier(c.Request().Context(), param(c, "name"))
	if err != nil {
		return domainError(err)
	}
	return c.JSON(http.StatusOK, tierView(t))
}

// putTier creates or replaces the tier the path names: PUT stores the
// representation at that URL, so a script setting up a plan can run again.
func (s *server) putTier(c echo.Context) error {
	t, err := decodeTier(c, s.cfg.BodyLimit, param(c, "name"))
	if err != nil {
		return err
	}
	stored, created, err := s.store.PutTier(c.Request().Context(), t)
	if err != nil {
		return domainError(err)
	}
	s.tiers.TierSaved(stored)
	if created {
		c.Response().Header().Set(echo.HeaderLocation, "/v1/admin/tiers/"+url.PathEscape(stored.Name))
		return c.JSON(http.StatusCreated, tierView(stored))
	}
	return c.JSON(http.StatusOK, tierView(stored))
}

func (s *server) deleteTier(c echo.Context) error {
	deleted, err := s.store.DeleteTier(c.Request().Context(), param(c, "name"))
	if err != nil {
		return domainError(err)
	}
	s.tiers.TierDeleted(deleted)
	return c.NoContent(http.StatusNoContent)
}

// param returns a path parameter decoded: Echo leaves it escaped when the
// request path held escapes ("a%2Fb").
func param(c echo.Context, name string) string {
	v := c.Param(name)
	if c.Request().URL.RawPath == "" {
		return v
	}
	if u, err := url.PathUnescape(v); err == nil {
		return u
	}
	return v
}
