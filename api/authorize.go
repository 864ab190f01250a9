package api

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"path"
	"strings"
	"unicode"

	"github.com/labstack/echo/v4"
	"github.com/quotad/quotad/quota"
)

// Headers of a /v1/authorize answer, beside the rate-limit headers: who
// the decision counted the request against, so the gateway can pass it on
// to the API behind it.
const (
	// HeaderQuotaClient is X-Quota-Client: the token's sub, or the IP
	// bucket of an anonymous caller ("ip:192.0.2.1").
	HeaderQuotaClient = "X-Quota-Client"
	// HeaderQuotaTier is X-Quota-Tier: the caller's tier.
	HeaderQuotaTier = "X-Quota-Tier"
)

// Where gateways put the request they ask about, as canonical header keys:
// Traefik's ForwardAuth and Caddy's forward_auth, then nginx's
// auth_request (its config names them). Envoy's ext_authz sends neither
// and appends the original path to /v1/authorize instead.
var forwardedConventions = [...]struct{ method, uri string }{
	{"X-Forwarded-Method", "X-Forwarded-Uri"},
	{"X-Original-Method", "X-Original-Uri"},
}

const (
	// authorizePrefix is what Envoy puts before the original path.
	authorizePrefix = "/v1/authorize"
	// maxOriginalURI bounds the original request's URI: nginx's default
	// large_client_header_buffers hold a request line of 8 KiB.
	maxOriginalURI = 8 << 10
	// maxOriginalMethod bounds its method; the longest registered HTTP
	// method (UPDATEREDIRECTREF) has 17 bytes.
	maxOriginalMethod = 32
)

// Costs prices the original requests /v1/authorize decides on.
type Costs interface {
	// Cost returns what a request of method to path (percent-decoded, dot
	// segments resolved, no query string) spends from every window of the
	// caller's plan: 0 is free and counts nowhere, n spends n at once.
	Cost(method, path string) int64
}

// authorize answers a gateway's forward-auth subrequest: should the
// original request it describes go through? The decision is /rate-limited's,
// with the operation's cost, and the same quota. The request body, which a
// gateway may forward, is never read.
func (s *server) authorize(c echo.Context) error {
	method, p, err := originalRequest(c.Request())
	if err != nil {
		return err
	}
	cost := int64(1)
	if s.cfg.Costs != nil {
		cost = s.cfg.Costs.Cost(method, p)
	}
	if cost < 0 || cost > quota.MaxRequests {
		return NewError(http.StatusInternalServerError, CodeInternal, fmt.Sprintf("the operation's cost %d is out of range", cost))
	}
	key, lim, err := s.resolve(c)
	if err != nil {
		return err
	}
	h := c.Response().Header()
	client := key
	if id, ok := IdentityFrom(c); ok {
		client = id.ClientID
	}
	h.Set(HeaderQuotaClient, client)
	h.Set(HeaderQuotaTier, info(c).tier.Name)
	if cost == 0 {
		return c.NoContent(http.StatusOK)
	}

	d, err := s.limiter.AllowN(c.Request().Context(), key, lim, cost)
	s.recordDecision(c, d, err)
	if err != nil {
		if !errors.Is(err, quota.ErrUnavailable) {
			he := NewError(http.StatusInternalServerError, CodeInternal, "cannot apply the request's rate limit")
			he.Internal = err
			return he
		}
		if s.cfg.FailureMode == quota.FailClosed {
			return limiterUnavailable(c, err)
		}
		h.Set(quota.HeaderDegraded, "1")
		return c.NoContent(http.StatusOK)
	}
	quota.SetHeaders(h, d, quota.HeadersAll)
	if !d.Allowed {
		he := refusal(c, d)
		he.Code = s.cfg.AuthorizeDenyStatus
		return he
	}
	return c.NoContent(http.StatusOK)
}

// originalRequest returns the method and the path (without its query) of
// the request a gateway asks about. The path is percent-decoded and its
// dot segments resolved, as the API behind the gateway will route it, so
// "/v1/a/../search" costs what "/v1/search" does.
func originalRequest(r *http.Request) (method, p string, err error) {
	for _, conv := range forwardedConventions {
		m, hasMethod := r.Header[conv.method]
		u, hasURI := r.Header[conv.uri]
		if !hasMethod && !hasURI {
			continue
		}
		if len(m) != 1 || len(u) != 1 {
			return "", "", badForwarded(fmt.Sprintf("send %s and %s together, once each", conv.method, conv.uri))
		}
		if !validMethod(m[0]) {
			return "", "", badForwarded(fmt.Sprintf("%s is not an HTTP method", conv.method))
		}
		p, err := originalPath(u[0], conv.uri)
		return m[0], p, err
	}
	suffix, ok := strings.CutPrefix(r.URL.EscapedPath(), authorizePrefix)
	if !ok || suffix == "" {
		return "", "", badForwarded("name the original request: X-Forwarded-Method and X-Forwarded-Uri, " +
			"X-Original-Method and X-Original-URI, or its path after /v1/authorize")
	}
	p, err = originalPath(suffix, "the path after /v1/authorize")
	return r.Method, p, err
}

// originalPath reads an origin-form URI ("/v1/search?q=x") and returns its
// path; where names its source in the 400 of a malformed one.
func originalPath(uri, where string) (string, error) {
	if len(uri) > maxOriginalURI {
		return "", badForwarded(fmt.Sprintf("%s is longer than %d bytes", where, maxOriginalURI))
	}
	if !strings.HasPrefix(uri, "/") {
		return "", badForwarded(fmt.Sprintf("%s must be a path starting with /", where))
	}
	u, err := url.ParseRequestURI(uri)
	if err != nil || strings.ContainsFunc(u.Path, unicode.IsControl) {
		return "", badForwarded(fmt.Sprintf("%s is not a valid request URI", where))
	}
	p := path.Clean(u.Path)
	if strings.HasSuffix(u.Path, "/") && p != "/" {
		p += "/"
	}
	return p, nil
}

// validMethod reports whether m is an HTTP method: a token (RFC 9110 §5.6.2).
func validMethod(m string) bool {
	if m == "" || len(m) > maxOriginalMethod {
		return false
	}
	for i := range len(m) {
		c := m[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0) {
			return false
		}
	}
	return true
}

func badForwarded(message string) *echo.HTTPError {
	return NewError(http.StatusBadRequest, CodeBadRequest, message)
}
