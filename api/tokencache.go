package api

import (
	"time"

	"github.com/quotad/quotad/internal/expiry"
)

// Bounds of the verified-token cache.
const (
	// tokenCacheSize bounds the tokens remembered as verified.
	tokenCacheSize = 16_384
	// tokenCacheMaxLen is the longest token remembered: with the size
	// bound, the cache holds at most 16 MiB of token text.
	tokenCacheMaxLen = 1 << 10
	// tokenCacheTTL bounds how long a verification is trusted, so a key
	// withdrawn from the JWKS stops working within it even for tokens that
	// live longer.
	tokenCacheTTL = 5 * time.Minute
)

// tokenCache remembers tokens that verified, so a client sending the same
// token on every request pays for the signature and the JSON once, not per
// request. It is keyed by the whole token text: a token that differs in any
// byte is verified afresh. A hit re-checks exp and nbf (with the leeway)
// against the clock, so a cached token still expires on time. A full cache
// drops entries, which costs a verification, never a wrong answer.
type tokenCache struct {
	m *expiry.Map[tokenEntry]
}

type tokenEntry struct {
	p *principal // shared by every hit: never changed
	// notBefore includes the leeway; the entry's end (exp plus the leeway,
	// at most the cache TTL away) is the map's.
	notBefore time.Time
}

func newTokenCache() *tokenCache {
	return &tokenCache{m: expiry.New[tokenEntry](tokenCacheSize)}
}

// get returns the principal of raw if it verified before and is valid now.
func (c *tokenCache) get(raw string, now time.Time) (*principal, bool) {
	e, _, ok := c.m.Get(raw, now)
	if !ok || now.Before(e.notBefore) {
		return nil, false
	}
	return e.p, true
}

// put remembers a verified token until notAfter.
func (c *tokenCache) put(raw string, e tokenEntry, notAfter, now time.Time) {
	if len(raw) > tokenCacheMaxLen {
		return
	}
	c.m.Put(raw, e, notAfter, now)
}
