package quota

import (
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Response header names written by Middleware.
const (
	// HeaderLimit is the seed's X-RateLimit-Limit: requests per window.
	HeaderLimit = "X-RateLimit-Limit"
	// HeaderRemaining is X-RateLimit-Remaining: requests left this window.
	HeaderRemaining = "X-RateLimit-Remaining"
	// HeaderReset is X-RateLimit-Reset: Unix seconds when the window ends.
	HeaderReset = "X-RateLimit-Reset"
	// HeaderPolicy is the IETF RateLimit-Policy field
	// (draft-ietf-httpapi-ratelimit-headers-11): "name";q=limit;w=window.
	HeaderPolicy = "RateLimit-Policy"
	// HeaderRateLimit is the IETF RateLimit field: "name";r=remaining;t=secs.
	HeaderRateLimit = "RateLimit"
	// HeaderRetryAfter is Retry-After, in seconds, on refusals.
	HeaderRetryAfter = "Retry-After"
	// HeaderDegraded marks a response admitted without a decision because
	// the store failed under FailOpen: "1".
	HeaderDegraded = "X-RateLimit-Degraded"
)

// Canonical forms of the header names, for writing the header map
// directly: Header.Set would canonicalise (and allocate) on every response.
const (
	canonLimit      = "X-Ratelimit-Limit"
	canonRemaining  = "X-Ratelimit-Remaining"
	canonReset      = "X-Ratelimit-Reset"
	canonPolicy     = "Ratelimit-Policy"
	canonRateLimit  = "Ratelimit"
	canonRetryAfter = "Retry-After"
)

// HeaderStyle selects which rate-limit headers Middleware writes.
type HeaderStyle int

const (
	// HeadersAll writes the X-RateLimit-* and the IETF fields.
	HeadersAll HeaderStyle = iota
	// HeadersLegacy writes only X-RateLimit-Limit/Remaining/Reset.
	HeadersLegacy
	// HeadersIETF writes only RateLimit-Policy and RateLimit.
	HeadersIETF
	// HeadersNone writes no rate-limit headers (Retry-After on refusals
	// still goes out: it is part of the 429).
	HeadersNone
)

// SetHeaders writes d to h in the given style. A refusal also gets
// Retry-After. Seconds are rounded up, so a client that waits them out
// lands in the next window rather than just before it.
func SetHeaders(h http.Header, d Decision, style HeaderStyle) {
	if style == HeadersAll || style == HeadersLegacy {
		h[canonLimit] = []string{strconv.FormatInt(d.Limit.Requests, 10)}
		h[canonRemaining] = []string{strconv.FormatInt(d.Remaining, 10)}
		h[canonReset] = []string{strconv.FormatInt(d.Reset.Unix(), 10)}
	}
	if style == HeadersAll || style == HeadersIETF {
		name := sfString(d.Limit.PolicyName())
		h[canonPolicy] = []string{name + ";q=" + strconv.FormatInt(d.Limit.Requests, 10) + ";w=" + strconv.FormatInt(d.Limit.seconds(), 10)}
		h[canonRateLimit] = []string{name + ";r=" + strconv.FormatInt(d.Remaining, 10) + ";t=" + strconv.FormatInt(ceilSeconds(d.ResetAfter), 10)}
	}
	if !d.Allowed {
		h[canonRetryAfter] = []string{strconv.FormatInt(max(ceilSeconds(d.RetryAfter), 1), 10)}
	}
}

// ceilSeconds rounds d up to whole seconds: 1.2s → 2, 0 → 0.
func ceilSeconds(d time.Duration) int64 {
	if d <= 0 {
		return 0
	}
	return int64((d + time.Second - 1) / time.Second)
}

// sfString renders s as a structured-field string (RFC 9651 §3.3.3): quoted,
// with `"` and `\` escaped; bytes outside printable ASCII become '?', since
// the grammar has no escape for them.
func sfString(s string) string {
	var b strings.Builder
	b.Grow(len(s) + 2)
	b.WriteByte('"')
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '"' || c == '\\':
			b.WriteByte('\\')
			b.WriteByte(c)
		case c < 0x20 || c > 0x7e:
			b.WriteByte('?')
		default:
			b.WriteByte(c)
		}
	}
	b.WriteByte('"')
	return b.String()
}
