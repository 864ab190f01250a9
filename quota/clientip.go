package quota

import (
	"errors"
	"fmt"
	"net/http"
	"net/netip"
	"strings"
)

// ErrNoClientIP means a request's client address could not be read.
var ErrNoClientIP = errors.New("quota: no client IP")

// IPExtractor finds the client address of a request. Only X-Forwarded-For
// entries appended by trusted proxies are believed; X-Real-IP and Forwarded
// are ignored, since any caller can send them.
//
// Nothing is trusted by default, not even loopback or private ranges: with
// Echo's stock extractor any caller on the local network could name its own
// bucket.
type IPExtractor struct {
	trusted []netip.Prefix
}

// NewIPExtractor returns an IPExtractor trusting the X-Forwarded-For of
// peers in trusted: CIDRs ("10.0.0.0/8") or single addresses ("10.0.0.7").
func NewIPExtractor(trusted []string) (*IPExtractor, error) {
	x := &IPExtractor{}
	for _, s := range trusted {
		s = strings.TrimSpace(s)
		if s == "" {
			continue
		}
		p, err := netip.ParsePrefix(s)
		if err != nil {
			a, aerr := netip.ParseAddr(s)
			if aerr != nil {
				return nil, fmt.Errorf("quota: trusted proxy %q is neither a CIDR nor an address", s)
			}
			p = netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen())
		}
		if p.Addr().Is4In6() {
			p = netip.PrefixFrom(p.Addr().Unmap(), max(p.Bits()-96, 0))
		}
		x.trusted = append(x.trusted, p.Masked())
	}
	return x, nil
}

func (x *IPExtractor) isTrusted(a netip.Addr) bool {
	for _, p := range x.trusted {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// ClientIP returns the request's client address: the TCP peer, unless the
// peer is a trusted proxy, in which case it walks X-Forwarded-For from the
// right and returns the first address that is not a trusted proxy. An entry
// that does not parse ends the walk at the last good hop, so garbage never
// becomes an identity; if every hop is trusted, the left-most one counts.
func (x *IPExtractor) ClientIP(r *http.Request) (netip.Addr, error) {
	peer, ok := parseHost(r.RemoteAddr)
	if !ok {
		return netip.Addr{}, fmt.Errorf("%w: peer address %q", ErrNoClientIP, r.RemoteAddr)
	}
	if !x.isTrusted(peer) {
		return peer, nil
	}
	client := peer
	hops := r.Header.Values("X-Forwarded-For")
	for i := len(hops) - 1; i >= 0; i-- {
		line := hops[i]
		for line != "" {
			var entry string
			if j := strings.LastIndexByte(line, ','); j >= 0 {
				line, entry = line[:j], line[j+1:]
			} else {
				line, entry = "", line
			}
			a, ok := parseHost(strings.TrimSpace(entry))
			if !ok {
				return client, nil
			}
			client = a
			if !x.isTrusted(a) {
				return client, nil
			}
		}
	}
	return client, nil
}

// Extract returns the client address as a string, so an IPExtractor can
// serve as Echo's e.IPExtractor; it returns "" when there is none.
func (x *IPExtractor) Extract(r *http.Request) string {
	a, err := x.ClientIP(r)
	if err != nil {
		return ""
	}
	return a.String()
}

// Key returns the anonymous identity of r: "ip:" and IPKey of its client
// address.
func (x *IPExtractor) Key(r *http.Request) (string, error) {
	a, err := x.ClientIP(r)
	if err != nil {
		return "", err
	}
	return "ip:" + IPKey(a), nil
}

// IPKey returns the bucket name of an address: IPv4 as is, IPv6 as its /64,
// since one host usually holds a whole /64 and could rotate through it.
// "2001:db8:1:2:3:4:5:6" → "2001:db8:1:2::/64"; "::ffff:192.0.2.1" →
// "192.0.2.1".
func IPKey(a netip.Addr) string {
	a = a.Unmap().WithZone("")
	if a.Is4() {
		return a.String()
	}
	return netip.PrefixFrom(a, 64).Masked().String()
}

// parseHost reads "addr", "addr:port", "[addr]:port" or "[addr]" and
// normalises IPv4-mapped IPv6 to IPv4 and drops any zone. A lone bracket
// ("[1.2.3.4", "1.2.3.4]") is garbage, not an address.
func parseHost(s string) (netip.Addr, bool) {
	if s == "" || len(s) > 64 {
		return netip.Addr{}, false
	}
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
