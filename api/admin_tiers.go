package api

import (
	"encoding/json"
	"net/http"
	"net/url"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/quotad/quotad/tiers"
)

// tierInput is the body of POST and PUT on tiers. Pointers tell a missing
// field from a zero one. The windows are either limits (1-4 windows) or,
// the Part 1 form, limit and per (one window); limit and per given with
// limits must equal its first window. They are read as raw JSON so a type
// error can name the window (limits[1].per) and per can be "month".
type tierInput struct {
	Name        *string         `json:"name"`
	Limits      json.RawMessage `json:"limits"`
	Limit       json.RawMessage `json:"limit"`
	Per         json.RawMessage `json:"per"`
	Description *string         `json:"description"`
	PriceCents  *int64          `json:"price_cents"`
	Currency    *string         `json:"currency"`
	// OveragePriceMicros is the price of a request past a soft month
	// window, in millionths of the currency unit; left out, 0.
	OveragePriceMicros *int64 `json:"overage_price_micros"`
}

// windowsInput reads the windows of a body: limits if given, else the Part
// 1 form limit and per, else "limits: is required". Problems are added to
// bad; partOne reports the Part 1 form. A window member other than limit
// and per is an error (400).
func windowsInput(limits, limit, per json.RawMessage, bad map[string]string) (ws []tiers.Window, partOne bool, err error) {
	var first tiers.Window
	hasLimit, hasPer := !absent(limit), !absent(per)
	if hasLimit {
		if n, ok := parseLimit(limit); ok {
			first.Limit = n
		} else {
			bad["limit"], hasLimit = msgLimitType, false
		}
	}
	if hasPer {
		if d, ok := parsePer(per); ok {
			first.Per = d
		} else {
			bad["per"], hasPer = msgPerType, false
		}
	}
	switch {
	case !absent(limits):
		if ws, err = parseWindows(limits, bad); err != nil || len(ws) == 0 {
			return ws, false, err
		}
		if hasLimit && first.Limit != ws[0].Limit {
			bad["limit"] = "must equal limits[0].limit"
		}
		if hasPer && first.Per != ws[0].Per {
			bad["per"] = "must equal limits[0].per"
		}
		return ws, false, nil
	case absent(limit) && absent(per):
		bad["limits"] = "is required"
	case absent(limit):
		bad["limit"] = "is required"
	case absent(per):
		bad["per"] = "is required"
	}
	return []tiers.Window{first}, true, nil
}

// tier turns the input into a tiers.Tier, naming missing and mistyped
// fields. Optional fields left out take their defaults: PUT replaces the
// whole tier. partOne reports windows given as limit and per.
func (in tierInput) tier(name string) (t tiers.Tier, partOne bool, bad map[string]string, err error) {
	bad = map[string]string{}
	if name == "" {
		bad["name"] = "is required"
	}
	ws, partOne, err := windowsInput(in.Limits, in.Limit, in.Per, bad)
	if err != nil || len(bad) > 0 {
		return tiers.Tier{}, partOne, bad, err
	}
	t = tiers.Tier{Name: name, Windows: ws}
	if in.Description != nil {
		t.Description = *in.Description
	}
	if in.PriceCents != nil {
		t.PriceCents = *in.PriceCents
	}
	if in.Currency != nil {
		t.Currency = *in.Currency
	}
	if in.OveragePriceMicros != nil {
		t.OveragePriceMicros = *in.OveragePriceMicros
	}
	return t, partOne, nil, nil
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
// whose body names the tier. partOne reports windows given as limit and
// per (see firstWindowNames).
func decodeTier(c echo.Context, limit int64, pathName string) (t tiers.Tier, partOne bool, err error) {
	var in tierInput
	if err := decodeJSON(c, limit, &in); err != nil {
		return tiers.Tier{}, false, err
	}
	name := pathName
	if in.Name != nil {
		if pathName != "" && *in.Name != pathName {
			return tiers.Tier{}, false, invalid("the name in the body differs from the path", map[string]string{"name": "must match the path"})
		}
		name = *in.Name
	}
	t, partOne, bad, err := in.tier(name)
	switch {
	case err != nil:
		return tiers.Tier{}, false, NewError(http.StatusBadRequest, CodeBadRequest, err.Error())
	case len(bad) > 0:
		return tiers.Tier{}, false, invalid("invalid input", bad)
	}
	return t, partOne, nil
}

// tierError is domainError for a write of t, naming the first window's
// fields as the body did.
func tierError(err error, partOne bool) error {
	if partOne {
		err = firstWindowNames(err)
	}
	return domainError(err)
}

func (s *server) createTier(c echo.Context) error {
	t, partOne, err := decodeTier(c, s.cfg.BodyLimit, "")
	if err != nil {
		return err
	}
	created, err := s.as(c).CreateTier(c.Request().Context(), t)
	if err != nil {
		return tierError(err, partOne)
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
	t, partOne, err := decodeTier(c, s.cfg.BodyLimit, param(c, "name"))
	if err != nil {
		return err
	}
	stored, created, err := s.as(c).PutTier(c.Request().Context(), t)
	if err != nil {
		return tierError(err, partOne)
	}
	s.tiers.TierSaved(stored)
	if created {
		c.Response().Header().Set(echo.HeaderLocation, "/v1/admin/tiers/"+url.PathEscape(stored.Name))
		return c.JSON(http.StatusCreated, tierView(stored))
	}
	return c.JSON(http.StatusOK, tierView(stored))
}

func (s *server) deleteTier(c echo.Context) error {
	deleted, err := s.as(c).DeleteTier(c.Request().Context(), param(c, "name"))
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
