package quota

import (
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/http/httpguts"
)

// fuzzTrusted is the fixed proxy set of FuzzIPExtractor_ClientIP: an IPv4
// range, an IPv6 range and a single address.
var fuzzTrusted = []string{"10.0.0.0/8", "2001:db8:ffff::/48", "192.0.2.99"}

// FuzzIPExtractor_ClientIP feeds random peer addresses and X-Forwarded-For
// lines (plus a spoofed X-Real-IP and Forwarded) to ClientIP. It checks
// that the result is an error or an address written in the request, that
// an untrusted peer is always the answer, that X-Real-IP and Forwarded are
// never read, and that the bucket name is stable and safe inside a Redis
// hash tag.
//
//	go test -run '^$' -fuzz '^FuzzIPExtractor_ClientIP$' -fuzztime 60s ./quota
func FuzzIPExtractor_ClientIP(f *testing.F) {
	for _, s := range [][4]string{
		{"203.0.113.5:1234", "", "", "9.9.9.9"},
		{"10.1.1.1:1", "6.6.6.6, 1.2.3.4, 10.2.2.2", "", "9.9.9.9"},
		{"10.1.1.1:1", "6.6.6.6", "1.2.3.4, 10.2.2.2", ""},
		{"10.1.1.1:1", "1.2.3.4, bogus, 10.2.2.2", "", ""},
		{"10.1.1.1:1", "[1.2.3.4, 10.2.2.2", "", ""},
		{"10.1.1.1:1", "1.2.3.4], 10.2.2.2", "", ""},
		{"[2001:db8:ffff::1]:443", "[2001:db8:1:2:3:4:5:6]:80", "", "for=\"[::1]\""},
		{"[::ffff:10.0.0.1]:1", "::ffff:203.0.113.9", "", ""},
		{"[fe80::1%eth0]:1", "fe80::2%eth1", "", ""},
		{"192.0.2.99:80", "10.0.0.1,10.0.0.2", "", ""},
		{"garbage", "1.2.3.4", "", ""},
		{"", "", "", ""},
		{"10.0.0.1:1", strings.Repeat(",", 100), "", ""},
		{"10.0.0.1:1", "2001:db8:ffff::1%" + strings.Repeat("z", 70), "", ""},
	} {
		f.Add(s[0], s[1], s[2], s[3])
	}
	trustedX, err := NewIPExtractor(fuzzTrusted)
	if err != nil {
		f.Fatal(err)
	}
	noneX, err := NewIPExtractor(nil)
	if err != nil {
		f.Fatal(err)
	}
	var trusted []netip.Prefix
	for _, s := range fuzzTrusted {
		if p, err := netip.ParsePrefix(s); err == nil {
			trusted = append(trusted, p)
		} else {
			a := netip.MustParseAddr(s)
			trusted = append(trusted, netip.PrefixFrom(a, a.BitLen()))
		}
	}
	isTrusted := func(a netip.Addr) bool {
		for _, p := range trusted {
			if p.Contains(a) {
				return true
			}
		}
		return false
	}

	f.Fuzz(func(t *testing.T, remote, xff1, xff2, spoof string) {
		newReq := func(withXFF, withSpoof bool) *http.Request {
			r := httptest.NewRequest(http.MethodGet, "/", nil)
			r.RemoteAddr = remote
			if withXFF {
				for _, v := range []string{xff1, xff2} {
					if v != "" {
						r.Header.Add("X-Forwarded-For", v)
					}
				}
			}
			if withSpoof {
				r.Header.Set("X-Real-IP", spoof)
				r.Header.Set("Forwarded", "for="+spoof)
			}
			return r
		}
		r := newReq(true, true)

		// The oracle's reading of the request: the peer, and every XFF
		// entry left to right, each parsed or marked as garbage.
		peer, peerOK := fuzzParseAddr(remote)
		var hops []fuzzHop
		for _, line := range []string{xff1, xff2} {
			if line == "" {
				continue
			}
			for entry := range strings.SplitSeq(line, ",") {
				a, ok := fuzzParseAddr(strings.TrimSpace(entry))
				hops = append(hops, fuzzHop{a, ok})
			}
		}

		got, err := trustedX.ClientIP(r)
		if err != nil {
			if peerOK && len(remote) <= 64 {
				t.Fatalf("ClientIP(%q) failed on a readable peer: %v", remote, err)
			}
			if k, kerr := trustedX.Key(r); kerr == nil || k != "" {
				t.Fatalf("Key = %q, %v after ClientIP failed", k, kerr)
			}
			if e := trustedX.Extract(r); e != "" {
				t.Fatalf("Extract = %q after ClientIP failed", e)
			}
			return
		}
		if !got.IsValid() || got.Zone() != "" || got.Is4In6() {
			t.Fatalf("ClientIP = %#v: not a valid, normalised address", got)
		}
		if !peerOK {
			t.Fatalf("ClientIP(%q) = %v, but the peer address does not parse", remote, got)
		}

		// With no trusted proxy, and with an untrusted peer, the peer is
		// the answer whatever the headers say.
		if only, err := noneX.ClientIP(r); err != nil || only != peer {
			t.Fatalf("no trusted proxies: ClientIP = %v, %v; want the peer %v", only, err, peer)
		}
		if !isTrusted(peer) && got != peer {
			t.Fatalf("untrusted peer %v, but ClientIP = %v", peer, got)
		}
		// X-Real-IP and Forwarded are never read.
		if bare, err := trustedX.ClientIP(newReq(true, false)); err != nil || bare != got {
			t.Fatalf("X-Real-IP/Forwarded %q changed the answer: %v, %v vs %v", spoof, bare, err, got)
		}
		if got != peer {
			// Only a trusted peer's XFF is read, and the answer is an
			// address written there: an occurrence with nothing but
			// readable, trusted hops to its right (the right-most
			// untrusted address, or the left-most when all are trusted).
			if !isTrusted(peer) {
				t.Fatalf("XFF of untrusted peer %v was believed: %v", peer, got)
			}
			found := false
			for i := len(hops) - 1; i >= 0; i-- {
				if hops[i].ok && hops[i].addr == got {
					found = true
					break
				}
				if !hops[i].ok || !isTrusted(hops[i].addr) {
					break
				}
			}
			if !found {
				t.Fatalf("ClientIP = %v is not the right-most untrusted XFF entry of %q / %q (peer %v)", got, xff1, xff2, peer)
			}
		}

		// The bucket name is stable, and safe in logs and inside the
		// store's "{key}" hash tag.
		key := IPKey(got)
		if key == "" || key != IPKey(got) || strings.ContainsFunc(key, func(r rune) bool {
			return r <= ' ' || r > '~' || strings.ContainsRune(",{}%\"\\", r)
		}) {
			t.Fatalf("IPKey(%v) = %q: empty, unstable or holding unsafe characters", got, key)
		}
		if k, err := trustedX.Key(r); err != nil || k != "ip:"+key {
			t.Fatalf("Key = %q, %v; want %q", k, err, "ip:"+key)
		}
		if e := trustedX.Extract(r); e != got.String() {
			t.Fatalf("Extract = %q, want %q", e, got)
		}
		if got.Is4() {
			if back, err := netip.ParseAddr(key); err != nil || back != got {
				t.Fatalf("IPKey(%v) = %q does not read back as the address", got, key)
			}
			return
		}
		// An IPv6 client is keyed on its /64: any address of that /64
		// shares the key, and the key reads back as that prefix.
		p, err := netip.ParsePrefix(key)
		if err != nil || p.Bits() != 64 || !p.Contains(got) {
			t.Fatalf("IPKey(%v) = %q is not its /64", got, key)
		}
		b := got.As16()
		b[15] ^= 0xff
		b[8] ^= 0x5a
		if other := IPKey(netip.AddrFrom16(b)); other != key {
			t.Fatalf("IPKey(%v) = %q, but IPKey of a neighbour in its /64 is %q", got, key, other)
		}
	})
}

// fuzzHop is one X-Forwarded-For entry as the oracle reads it.
type fuzzHop struct {
	addr netip.Addr
	ok   bool
}

// fuzzParseAddr is the oracle's reading of an address as it may appear in
// RemoteAddr or X-Forwarded-For: "addr", "addr:port", "[addr]:port" or
// "[addr]", normalised (IPv4-mapped IPv6 to IPv4, zone dropped). Anything
// else, a lone bracket included, is garbage.
func fuzzParseAddr(s string) (netip.Addr, bool) {
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return ap.Addr().Unmap().WithZone(""), true
	}
	if len(s) >= 2 && s[0] == '[' && s[len(s)-1] == ']' {
		s = s[1 : len(s)-1]
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Addr{}, false
	}
	return a.Unmap().WithZone(""), true
}

// FuzzSetHeaders writes random decisions in every header style, each input
// twice. As given, whatever the numbers, every value must be a legal HTTP
// field value and a refusal must carry Retry-After ≥ 1. Folded into a
// decision a Limiter can make (a valid Limit, 0 ≤ Remaining ≤ Requests,
// 0 ≤ ResetAfter ≤ Per), RateLimit-Policy and RateLimit must also parse
// as RFC 9651 items (a string with integer parameters) saying the right
// name and numbers.
//
//	go test -run '^$' -fuzz '^FuzzSetHeaders$' -fuzztime 60s ./quota
func FuzzSetHeaders(f *testing.F) {
	f.Add("pro", int64(100), int64(99), int64(60), int64(1500*time.Millisecond), int64(0), true, int64(1_700_000_040))
	f.Add("free", int64(300), int64(0), int64(30), int64(12*time.Second), int64(12*time.Second), false, int64(1_700_000_010))
	f.Add("", int64(1), int64(0), int64(1), int64(0), int64(0), false, int64(0))
	f.Add(`we"ird\name`, int64(MaxRequests), int64(MaxRequests), int64(MaxPer/time.Second), int64(MaxPer), int64(MaxPer), false, int64(-1))
	f.Add("caf\u00e9\r\nX-Evil: 1", int64(5), int64(2), int64(10), int64(time.Nanosecond), int64(time.Nanosecond), false, int64(1))
	f.Add("\x00\x7f\xff", int64(-5), int64(-7), int64(-1), int64(-time.Second), int64(-time.Hour), false, int64(-1<<62))
	f.Add("big", int64(1<<62), int64(1<<62), int64(1<<40), int64(1<<62), int64(1<<62), false, int64(1<<62))

	f.Fuzz(func(t *testing.T, name string, requests, remaining, perSeconds, resetAfter, retryAfter int64, allowed bool, resetUnix int64) {
		// The inputs as they come: only the safety properties apply.
		raw := Decision{
			Allowed:    allowed,
			Limit:      Limit{Name: name, Windows: []Window{{Requests: requests, Per: time.Duration(perSeconds) * time.Second}}},
			Remaining:  remaining,
			Reset:      time.Unix(resetUnix, 0),
			ResetAfter: time.Duration(resetAfter),
			RetryAfter: time.Duration(retryAfter),
		}
		fuzzCheckHeaders(t, raw, false)

		// The same inputs folded into a decision a Limiter can make:
		// every property applies.
		l := Limit{Name: name, Windows: []Window{{Requests: 1 + fuzzMod(requests, MaxRequests), Per: time.Duration(1+fuzzMod(perSeconds, int64(MaxPer/time.Second))) * time.Second}}}
		d := Decision{
			Allowed:    allowed,
			Limit:      l,
			Remaining:  fuzzMod(remaining, l.Windows[0].Requests+1),
			Reset:      time.Unix(resetUnix, 0),
			ResetAfter: time.Duration(fuzzMod(resetAfter, int64(l.Windows[0].Per)+1)),
		}
		if !allowed {
			d.RetryAfter = d.ResetAfter
		}
		fuzzCheckHeaders(t, d, true)
	})
}

// fuzzMod is x mod n in [0, n) for any x, math.MinInt64 included.
func fuzzMod(x, n int64) int64 {
	m := x % n
	if m < 0 {
		m += n
	}
	return m
}

// fuzzCheckHeaders writes d in every style and checks the result: always
// legal field names and values, the right set of fields per style, and
// Retry-After ≥ 1 exactly on refusals; for a real decision (one a Limiter
// can make) also every number, and RateLimit-Policy and RateLimit as
// RFC 9651 items.
func fuzzCheckHeaders(t *testing.T, d Decision, real bool) {
	t.Helper()
	for _, style := range []HeaderStyle{HeadersAll, HeadersLegacy, HeadersIETF, HeadersNone, HeaderStyle(42)} {
		h := http.Header{}
		SetHeaders(h, d, style)
		for k, vs := range h {
			if !httpguts.ValidHeaderFieldName(k) {
				t.Fatalf("style %d: invalid header name %q", style, k)
			}
			if len(vs) != 1 {
				t.Fatalf("style %d: %s has %d values", style, k, len(vs))
			}
			if !httpguts.ValidHeaderFieldValue(vs[0]) || strings.ContainsAny(vs[0], "\r\n\x00") {
				t.Fatalf("style %d: invalid value of %s: %q", style, k, vs[0])
			}
		}
		legacy := style == HeadersAll || style == HeadersLegacy
		ietf := style == HeadersAll || style == HeadersIETF
		for _, k := range []string{HeaderLimit, HeaderRemaining, HeaderReset} {
			if _, ok := h[http.CanonicalHeaderKey(k)]; ok != legacy {
				t.Fatalf("style %d: %s present = %v", style, k, ok)
			}
		}
		for _, k := range []string{HeaderPolicy, HeaderRateLimit} {
			if _, ok := h[http.CanonicalHeaderKey(k)]; ok != ietf {
				t.Fatalf("style %d: %s present = %v", style, k, ok)
			}
		}
		if h.Get(HeaderDegraded) != "" {
			t.Fatalf("style %d: a decision marked degraded", style)
		}

		// Retry-After: only on refusals, an integer of at least 1.
		ra, hasRA := h[http.CanonicalHeaderKey(HeaderRetryAfter)]
		if d.Allowed && hasRA {
			t.Fatalf("style %d: Retry-After %q on an admission", style, ra)
		}
		if !d.Allowed {
			n, err := strconv.ParseInt(h.Get(HeaderRetryAfter), 10, 64)
			if err != nil || n < 1 {
				t.Fatalf("style %d: refusal with Retry-After %q", style, h.Get(HeaderRetryAfter))
			}
			if real && n != max(fuzzCeil(d.RetryAfter), 1) {
				t.Fatalf("style %d: Retry-After %d for RetryAfter %v", style, n, d.RetryAfter)
			}
		}
		if !real {
			continue
		}

		if legacy {
			for k, want := range map[string]int64{HeaderLimit: d.Limit.Windows[0].Requests, HeaderRemaining: d.Remaining, HeaderReset: d.Reset.Unix()} {
				if got, err := strconv.ParseInt(h.Get(k), 10, 64); err != nil || got != want {
					t.Fatalf("%s = %q, want %d", k, h.Get(k), want)
				}
			}
		}
		if ietf {
			wantName := fuzzPolicyName(d.Limit.policyName())
			q, w := d.Limit.Windows[0].Requests, int64(d.Limit.Windows[0].Per/time.Second)
			policyName, policy, err := fuzzParseSFItem(h.Get(HeaderPolicy))
			if err != "" {
				t.Fatalf("RateLimit-Policy %q is not a structured-field item: %s", h.Get(HeaderPolicy), err)
			}
			if policyName != wantName || len(policy) != 2 || policy["q"] != q || policy["w"] != w {
				t.Fatalf("RateLimit-Policy %q = %q %v; want %q q=%d w=%d", h.Get(HeaderPolicy), policyName, policy, wantName, q, w)
			}
			rlName, rl, err := fuzzParseSFItem(h.Get(HeaderRateLimit))
			if err != "" {
				t.Fatalf("RateLimit %q is not a structured-field item: %s", h.Get(HeaderRateLimit), err)
			}
			if r, secs := d.Remaining, fuzzCeil(d.ResetAfter); rlName != wantName || len(rl) != 2 || rl["r"] != r || rl["t"] != secs {
				t.Fatalf("RateLimit %q = %q %v; want %q r=%d t=%d", h.Get(HeaderRateLimit), rlName, rl, wantName, r, secs)
			}
		}
	}
}

// fuzzCeil is d in whole seconds, rounded up; 0 for d ≤ 0.
func fuzzCeil(d time.Duration) int64 {
	if d <= 0 {
		return 0
	}
	s := int64(d / time.Second)
	if d%time.Second != 0 {
		s++
	}
	return s
}

// fuzzPolicyName is the name a client reads back from the header: printable
// ASCII kept, every other byte shown as '?'.
func fuzzPolicyName(s string) string {
	b := []byte(s)
	for i, c := range b {
		if c < 0x20 || c > 0x7e {
			b[i] = '?'
		}
	}
	return string(b)
}

// fuzzParseSFItem parses the one shape of RFC 9651 item the rate-limit
// fields use: an sf-string followed by parameters whose values are
// sf-integers, e.g. `"pro";q=100;w=60`. It returns the string, the
// parameters, and a description of the first error ("" if none).
func fuzzParseSFItem(s string) (string, map[string]int64, string) {
	// sf-string = DQUOTE *( unescaped / "\" ( DQUOTE / "\" ) ) DQUOTE
	if s == "" || s[0] != '"' {
		return "", nil, "no opening quote"
	}
	var str strings.Builder
	i := 1
	for ; ; i++ {
		if i >= len(s) {
			return "", nil, "unterminated string"
		}
		c := s[i]
		if c == '"' {
			i++
			break
		}
		if c == '\\' {
			i++
			if i >= len(s) || (s[i] != '"' && s[i] != '\\') {
				return "", nil, "bad escape"
			}
			str.WriteByte(s[i])
			continue
		}
		if c < 0x20 || c > 0x7e {
			return "", nil, "byte outside printable ASCII in string"
		}
		str.WriteByte(c)
	}
	// parameters = *( ";" *SP key "=" sf-integer ), keys unique here.
	params := map[string]int64{}
	for i < len(s) {
		if s[i] != ';' {
			return "", nil, "expected ';'"
		}
		i++
		for i < len(s) && s[i] == ' ' {
			i++
		}
		// key = ( lcalpha / "*" ) *( lcalpha / DIGIT / "_" / "-" / "." / "*" )
		start := i
		for i < len(s) && (s[i] >= 'a' && s[i] <= 'z' || s[i] == '*' ||
			i > start && (s[i] >= '0' && s[i] <= '9' || strings.IndexByte("_-.", s[i]) >= 0)) {
			i++
		}
		key := s[start:i]
		if key == "" {
			return "", nil, "empty parameter key"
		}
		if _, dup := params[key]; dup {
			return "", nil, "duplicate parameter " + key
		}
		if i >= len(s) || s[i] != '=' {
			return "", nil, "parameter " + key + " has no integer value"
		}
		i++
		// sf-integer = ["-"] 1*15DIGIT
		start = i
		if i < len(s) && s[i] == '-' {
			i++
		}
		digits := i
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
		}
		if n := i - digits; n < 1 || n > 15 {
			return "", nil, "parameter " + key + ": an sf-integer has 1 to 15 digits"
		}
		n, err := strconv.ParseInt(s[start:i], 10, 64)
		if err != nil {
			return "", nil, err.Error()
		}
		params[key] = n
	}
	return str.String(), params, ""
}
