package quota

import (
	"net/http"
	"strconv"
	"time"
)

// Response header names the middleware writes.
const (
	// HeaderLimit is X-RateLimit-Limit: requests per window.
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
	// HeaderOverage is X-Quota-Overage, on a response admitted past a soft
	// month window's limit: how far past it the window is
	// (Decision.Overage).
	HeaderOverage = "X-Quota-Overage"
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
	canonOverage    = "X-Quota-Overage"
)

// HeaderStyle selects which rate-limit headers the middleware writes.
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
// Retry-After, and a request in overage X-Quota-Overage unless the style
// is HeadersNone. Seconds are rounded up, so a client that waits them out
// lands in the next window rather than just before it.
func SetHeaders(h http.Header, d Decision, style HeaderStyle) {
	// Every value is appended to one buffer and the header map gets
	// substrings of one string and one-element windows of one slice, so a
	// response costs two allocations (the string and the slice) however
	// many headers it gets, where Header.Set would allocate for each.
	var buf [512]byte
	b := buf[:0]
	var keys [7]string
	var ends [7]int
	n := 0
	end := func(key string) {
		keys[n], ends[n] = key, len(b)
		n++
	}
	if style == HeadersAll || style == HeadersLegacy {
		b = strconv.AppendInt(b, d.Limit.Windows[d.Binding].Requests, 10)
		end(canonLimit)
		b = strconv.AppendInt(b, d.Remaining, 10)
		end(canonRemaining)
		b = strconv.AppendInt(b, d.Reset.Unix(), 10)
		end(canonReset)
	}
	if style == HeadersAll || style == HeadersIETF {
		for i, w := range d.Limit.Windows {
			if i > 0 {
				b = append(b, ", "...)
			}
			b = appendPolicy(b, d.Limit, i)
			b = append(b, ";q="...)
			b = strconv.AppendInt(b, w.Requests, 10)
			b = append(b, ";w="...)
			b = strconv.AppendInt(b, d.windowSeconds(i), 10)
		}
		end(canonPolicy)
		for i := range d.Limit.Windows {
			if i > 0 {
				b = append(b, ", "...)
			}
			st := d.Window(i)
			b = appendPolicy(b, d.Limit, i)
			b = append(b, ";r="...)
			b = strconv.AppendInt(b, st.Remaining, 10)
			b = append(b, ";t="...)
			b = strconv.AppendInt(b, ceilSeconds(st.ResetAfter), 10)
		}
		end(canonRateLimit)
	}
	if !d.Allowed {
		b = strconv.AppendInt(b, max(ceilSeconds(d.RetryAfter), 1), 10)
		end(canonRetryAfter)
	}
	if d.Overage > 0 && style != HeadersNone {
		b = strconv.AppendInt(b, d.Overage, 10)
		end(canonOverage)
	}
	if n == 0 {
		return
	}
	all := string(b)
	vals := make([]string, n)
	start := 0
	for i := range n {
		vals[i] = all[start:ends[i]]
		h[keys[i]] = vals[i : i+1 : i+1]
		start = ends[i]
	}
}

// appendPolicy appends the name of window i of l as a structured-field
// string, as Limit.Policy gives it, without building the name first.
func appendPolicy(b []byte, l Limit, i int) []byte {
	if len(l.Windows) == 1 {
		return appendSFString(b, l.policyName())
	}
	b = appendSFString(b, l.policyName())
	b = b[:len(b)-1] // reopen the string for ":<per>"
	b = append(b, ':')
	if w := l.Windows[i]; w.Per == Month {
		b = append(b, "month"...)
	} else {
		b = strconv.AppendInt(b, w.seconds(), 10)
	}
	return append(b, '"')
}

// windowSeconds is the length of window i in seconds: for a month, the
// current month window's.
func (d Decision) windowSeconds(i int) int64 {
	w := d.Limit.Windows[i]
	if w.Per != Month {
		return w.seconds()
	}
	end := d.Window(i).Reset.Unix()
	start, _ := monthBounds(end-1, d.Limit.anchor())
	return end - start
}

// ceilSeconds rounds d up to whole seconds: 1.2s → 2, 0 → 0.
func ceilSeconds(d time.Duration) int64 {
	if d <= 0 {
		return 0
	}
	return int64((d + time.Second - 1) / time.Second)
}

// appendSFString appends s as a structured-field string (RFC 9651
// §3.3.3): quoted, with `"` and `\` escaped; bytes outside printable ASCII
// become '?', since the grammar has no escape for them.
func appendSFString(b []byte, s string) []byte {
	b = append(b, '"')
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '"' || c == '\\':
			b = append(b, '\\', c)
		case c < 0x20 || c > 0x7e:
			b = append(b, '?')
		default:
			b = append(b, c)
		}
	}
	return append(b, '"')
}
