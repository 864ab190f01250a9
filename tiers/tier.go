package tiers

import (
	"fmt"
	"slices"
	"time"
	"unicode/utf8"
)

// Names of the two built-in tiers. The migrations create them and the
// database refuses to delete or rename them, so a lookup can always fall
// back on them.
const (
	// Anonymous is the tier of requests without a token, keyed on client IP.
	Anonymous = "anonymous"
	// Free is the tier of authenticated clients that were never assigned one.
	Free = "free"
)

// DefaultCurrency is the currency of a tier whose Currency is left empty.
const DefaultCurrency = "USD"

// Bounds of a tier's fields; the database enforces the same ones.
const (
	// MaxLimit is the largest number of requests a tier may allow per window.
	MaxLimit = 1_000_000_000
	// MaxPer is the longest window: 365 days (31,536,000 s).
	MaxPer = 365 * 24 * time.Hour
	// MaxDescriptionLen is the longest description, in characters (runes).
	MaxDescriptionLen = 1000
	// MaxPriceCents is the highest price, in the currency's minor unit:
	// 10^12 is $10,000,000,000.00, or 10,000,000,000 IDR (a currency of
	// small unit), enough for a plan in any currency. Higher is a typo,
	// and nears 2^53 ≈ 9×10^15, past which a reader that parses JSON
	// numbers as doubles (JavaScript, jq) rounds: 9,007 prices at the
	// bound still add up exactly.
	MaxPriceCents = 1_000_000_000_000
	// MaxOveragePriceMicros is the highest price of one request of
	// overage, in millionths of the currency's major unit: 10^12 is
	// $1,000,000 a request. Like MaxPriceCents, higher is a typo, and the
	// bound keeps the number exact in a reader that parses JSON numbers
	// as doubles.
	MaxOveragePriceMicros = 1_000_000_000_000
)

// Month as a Window's Per means a calendar month on the client's anchor day.
const Month time.Duration = -1

// MaxWindows is the most windows a tier holds.
const MaxWindows = 4

// Window is one window of a tier: Limit requests per Per.
type Window struct {
	// Limit is the number of requests admitted per window, 1 … MaxLimit.
	Limit int64
	// Per is the window length, whole seconds from 1 s to MaxPer, or Month:
	// a calendar month in UTC from the client's anchor day (Client.AnchorDay).
	Per time.Duration
	// Soft, on a Month window only, admits requests past Limit and counts
	// them as overage, billed at Tier.OveragePriceMicros; the tier's
	// shorter windows still refuse. The limiter enforces it.
	Soft bool
}

// Tier is a plan: requests admitted per window, for 1 to MaxWindows windows.
// A request is admitted only if every window has room.
//
// For example {Name: "pro", Windows: []Window{{Limit: 20, Per: time.Second},
// {Limit: 1_000_000, Per: Month}}} admits 20 requests in every second
// aligned to the Unix epoch and a million per calendar month.
type Tier struct {
	// Name is a slug: 1–63 of a-z, 0-9, '-' and '_'. It is the primary key.
	Name string
	// Windows are the tier's windows, 1 … MaxWindows, in the order given
	// (the first is the one Part 1 readers see as limit/per). No two have
	// the same Per, so Month appears at most once. A Tier read from a Cache
	// shares its Windows with the cache: do not modify them.
	Windows []Window
	// Description is free text for a pricing page, at most
	// MaxDescriptionLen characters.
	Description string
	// PriceCents is the price per billing period in the currency's minor
	// unit (1999 with Currency "USD" is $19.99), 0 … MaxPriceCents; 0 for
	// free plans.
	PriceCents int64
	// Currency is an ISO 4217 code such as "USD" or "EUR"; empty means
	// DefaultCurrency.
	Currency string
	// OveragePriceMicros is the price of one request past a soft month
	// window's limit, in millionths of Currency's major unit (1500 with
	// "USD" is $1.50 per thousand requests), 0 … MaxOveragePriceMicros.
	OveragePriceMicros int64
	// Version is the row's change version, set by the database on every
	// write and greater than any version the tier had before; it orders
	// changes (see Cache). Ignored on input; zero for a tier never stored.
	Version int64
}

// Validate reports every invalid field of t at once, as a *ValidationError
// keyed by the JSON field names (name, limits, limits[i].limit,
// limits[i].per, limits[i].soft, description, price_cents, currency,
// overage_price_micros), so a client can fix all of them in one round.
func (t Tier) Validate() error {
	var v ValidationError
	if msg := nameProblem(t.Name); msg != "" {
		v.add("name", msg)
	}
	validateWindows(&v, t.Windows)
	if msg := textProblem(t.Description, MaxDescriptionLen); msg != "" {
		v.add("description", msg)
	}
	if t.PriceCents < 0 || t.PriceCents > MaxPriceCents {
		v.add("price_cents", "must be between 0 and 1000000000000")
	}
	if t.Currency != "" && !isCurrencyCode(t.Currency) {
		v.add("currency", "must be a three-letter ISO 4217 code such as USD")
	}
	if t.OveragePriceMicros < 0 || t.OveragePriceMicros > MaxOveragePriceMicros {
		v.add("overage_price_micros", "must be between 0 and 1000000000000")
	}
	return v.orNil()
}

// validateWindows adds the problems of a tier's windows to v.
func validateWindows(v *ValidationError, ws []Window) {
	if len(ws) < 1 || len(ws) > MaxWindows {
		v.add("limits", fmt.Sprintf("must hold 1 to %d windows", MaxWindows))
	}
	for i, w := range ws {
		if w.Limit < 1 || w.Limit > MaxLimit {
			v.add(fmt.Sprintf("limits[%d].limit", i), "must be between 1 and 1000000000")
		}
		field := fmt.Sprintf("limits[%d].per", i)
		switch {
		case w.Per == Month:
			if slices.ContainsFunc(ws[:i], func(o Window) bool { return o.Per == Month }) {
				v.add(field, "must not be month: at most one window is a month")
			}
		case w.Per < time.Second || w.Per > MaxPer:
			v.add(field, `must be between 1 and 31536000 seconds, or "month"`)
		case w.Per%time.Second != 0:
			v.add(field, "must be a whole number of seconds")
		case slices.ContainsFunc(ws[:i], func(o Window) bool { return o.Per == w.Per }):
			v.add(field, "must differ from the per of every other window")
		}
		if w.Soft && w.Per != Month {
			v.add(fmt.Sprintf("limits[%d].soft", i), "only a month window may be soft")
		}
	}
}

// First returns the tier's first window, the one Part 1 readers see as its
// limit and per; the zero Window if it has none.
func (t Tier) First() Window {
	if len(t.Windows) == 0 {
		return Window{}
	}
	return t.Windows[0]
}

// Equal reports whether t and u hold the same values, windows (in order)
// and Version included.
func (t Tier) Equal(u Tier) bool {
	return t.Name == u.Name && slices.Equal(t.Windows, u.Windows) && t.Description == u.Description &&
		t.PriceCents == u.PriceCents && t.Currency == u.Currency && t.OveragePriceMicros == u.OveragePriceMicros &&
		t.Version == u.Version
}

// normalized fills the fields that have a documented default, so the
// database stores what readers will see.
func (t Tier) normalized() Tier {
	if t.Currency == "" {
		t.Currency = DefaultCurrency
	}
	return t
}

// nameProblem says what is wrong with a tier name, or "" if nothing is.
// Names are ASCII slugs (the database checks ^[a-z0-9_-]{1,63}$ too) so they
// are safe in URLs, logs and Redis keys.
func nameProblem(name string) string {
	const msg = "must be 1-63 characters of a-z, 0-9, '-' and '_'"
	if len(name) < 1 || len(name) > 63 {
		return msg
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return msg
		}
	}
	return ""
}

// isCurrencyCode reports three upper-case ASCII letters, the shape of an
// ISO 4217 code. Whether the code is assigned is left to billing.
func isCurrencyCode(s string) bool {
	if len(s) != 3 {
		return false
	}
	for i := 0; i < 3; i++ {
		if s[i] < 'A' || s[i] > 'Z' {
			return false
		}
	}
	return true
}

// textProblem says what is wrong with free text, or "" if nothing is.
// Postgres text cannot hold NUL and other control characters only cause
// trouble in logs and terminals, so tab and newlines are the only ones kept.
func textProblem(s string, maxRunes int) string {
	if !utf8.ValidString(s) {
		return "must be valid UTF-8"
	}
	if utf8.RuneCountInString(s) > maxRunes {
		return fmt.Sprintf("must be at most %d characters", maxRunes)
	}
	for _, r := range s {
		if isControl(r) && r != '\t' && r != '\n' && r != '\r' {
			return "must not contain control characters"
		}
	}
	return ""
}

// isControl reports C0 and C1 control characters and DEL.
func isControl(r rune) bool {
	return r < 0x20 || (r >= 0x7f && r < 0xa0)
}
