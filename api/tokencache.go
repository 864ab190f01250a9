package api

import (
	"hash/maphash"
	"sync"
	"time"
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
// against the clock, so a cached token still expires on time.
type tokenCache struct {
	seed   maphash.Seed
	max    int // per shard
	shards [16]tokenShard
}

type tokenShard struct {
	mu sync.RWMutex
	m  map[string]tokenEntry
}

type tokenEntry struct {
	id Identity
	// notBefore and notAfter include the leeway and the cache TTL.
	notBefore, notAfter time.Time
}

func newTokenCache() *tokenCache {
	c := &tokenCache{seed: maphash.MakeSeed(), max: tokenCacheSize / 16}
	for i := range c.shards {
		c.shards[i].m = make(map[string]tokenEntry)
	}
	return c
}

func (c *tokenCache) shard(raw string) *tokenShard {
	return &c.shards[maphash.String(c.seed, raw)%uint64(len(c.shards))]
}

// get returns the identity of raw if it verified before and is valid now.
func (c *tokenCache) get(raw string, now time.Time) (Identity, bool) {
	s := c.shard(raw)
	s.mu.RLock()
	e, ok := s.m[raw]
	s.mu.RUnlock()
	if !ok || now.Before(e.notBefore) || !now.Before(e.notAfter) {
		return Identity{}, false
	}
	return e.id, true
}

// put remembers a verified token. A full shard drops expired entries, then
// arbitrary ones: a lost entry costs one verification, never a wrong answer.
func (c *tokenCache) put(raw string, e tokenEntry, now time.Time) {
	if len(raw) > tokenCacheMaxLen {
		return
	}
	s := c.shard(raw)
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.m[raw]; !ok && len(s.m) >= c.max {
		for k, old := range s.m {
			if !now.Before(old.notAfter) {
				delete(s.m, k)
			}
		}
		for k := range s.m {
			if len(s.m) < c.max {
				break
			}
			delete(s.m, k)
		}
	}
	s.m[raw] = e
}
