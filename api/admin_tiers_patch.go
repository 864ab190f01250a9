package api

import (
	"bytes"
	"encoding/json"
	"net/http"

	"github.com/labstack/echo/v4"
	"github.com/quotad/quotad/tiers"
)

// MIMEMergePatch is the media type of a JSON merge patch (RFC 7396), the
// body PATCH /v1/admin/tiers/{name} expects; application/json is accepted
// too.
const MIMEMergePatch = "application/merge-patch+json"

// member is one member of a merge patch: absent (Set false), null (Null:
// reset the field), or a value. encoding/json hands null to UnmarshalJSON
// of a non-pointer field, where a pointer would read null as absent.
type member[T any] struct {
	Set, Null bool
	Value     T
}

// UnmarshalJSON records that the member is present, and whether it is null.
// A value of the wrong type fails as encoding/json's own
// *UnmarshalTypeError, which the decoder completes with the field's name.
func (m *member[T]) UnmarshalJSON(data []byte) error {
	m.Set = true
	if bytes.Equal(data, []byte("null")) {
		m.Null = true
		return nil
	}
	return json.Unmarshal(data, &m.Value)
}

// tierPatch is the body of PATCH on a tier: the fields of tierInput, each
// absent (keep), null (reset to the default) or a value (set). limits
// replaces every window (RFC 7396 replaces arrays whole); limit or per
// alone change the first window.
type tierPatch struct {
	Name        member[string]          `json:"name"`
	Limits      member[json.RawMessage] `json:"limits"`
	Limit       member[json.RawMessage] `json:"limit"`
	Per         member[json.RawMessage] `json:"per"`
	Description member[string]          `json:"description"`
	PriceCents  member[int64]           `json:"price_cents"`
	Currency    member[string]          `json:"currency"`
	// OveragePriceMicros null is 0, as a price_cents null is.
	OveragePriceMicros member[int64] `json:"overage_price_micros"`
}

// decodeTierPatch reads a merge patch of the tier pathName strictly, as
// decodeTier reads a whole tier. A name may be given only as the path's;
// limits, limit and per have no default, so null for them is 422, and
// limit and per given with limits must equal its first window. A null
// optional field becomes its zero value, which tiers reads as the default.
func decodeTierPatch(c echo.Context, limit int64, pathName string) (tiers.TierPatch, error) {
	var in tierPatch
	if err := decodeJSONAs(c, limit, &in, MIMEMergePatch, echo.MIMEApplicationJSON); err != nil {
		return tiers.TierPatch{}, err
	}
	bad := map[string]string{}
	if in.Name.Set && (in.Name.Null || in.Name.Value != pathName) {
		bad["name"] = "must match the path"
	}
	for field, m := range map[string]member[json.RawMessage]{"limits": in.Limits, "limit": in.Limit, "per": in.Per} {
		if m.Null {
			bad[field] = "is required and cannot be null"
		}
	}
	if len(bad) > 0 {
		return tiers.TierPatch{}, invalid("invalid patch", bad)
	}
	var p tiers.TierPatch
	if in.Limits.Set || in.Limit.Set || in.Per.Set {
		ws, partOne, err := windowsInput(in.Limits.Value, in.Limit.Value, in.Per.Value, bad)
		switch {
		case err != nil:
			return tiers.TierPatch{}, NewError(http.StatusBadRequest, CodeBadRequest, err.Error())
		case !partOne:
			p.Windows = ws
		default:
			// limit or per alone: "is required" is for a whole tier only.
			delete(bad, "limit")
			delete(bad, "per")
			if in.Limit.Set {
				if n, ok := parseLimit(in.Limit.Value); ok {
					p.Limit = &n
				} else {
					bad["limit"] = msgLimitType
				}
			}
			if in.Per.Set {
				if d, ok := parsePer(in.Per.Value); ok {
					p.Per = &d
				} else {
					bad["per"] = msgPerType
				}
			}
		}
	}
	if len(bad) > 0 {
		return tiers.TierPatch{}, invalid("invalid patch", bad)
	}
	p.Description = reset(in.Description)
	p.PriceCents = reset(in.PriceCents)
	p.Currency = reset(in.Currency)
	p.OveragePriceMicros = reset(in.OveragePriceMicros)
	return p, nil
}

// reset turns an optional member into a TierPatch field: nil if absent,
// else its value, the zero value (the default) if null.
func reset[T any](m member[T]) *T {
	if !m.Set {
		return nil
	}
	return &m.Value // zero when Null: UnmarshalJSON left it unset
}

// patchTier applies a merge patch to the tier the path names: the fields
// the body leaves out stay as stored, unlike PUT, which resets them.
func (s *server) patchTier(c echo.Context) error {
	name := param(c, "name")
	p, err := decodeTierPatch(c, s.cfg.BodyLimit, name)
	if err != nil {
		return err
	}
	stored, err := s.as(c).PatchTier(c.Request().Context(), name, p)
	if err != nil {
		return tierError(err, p.Windows == nil)
	}
	s.tiers.TierSaved(stored)
	return c.JSON(http.StatusOK, tierView(stored))
}
