package quota

import (
	"hash/maphash"
	"sync"
	"time"
)

// hogShards spreads the over-limit cache over several locks so that many
// goroutines refusing hogs at once do not queue on one mutex.
const hogShards = 16

// hogCache remembers keys that are over their limit until their window
// ends, so a hog's further requests are refused without a store round trip.
//
// An entry holds the Limit it was refused under: after a tier change the key
// asks the store again, since the new limit may leave room. Entries expire on
// the local monotonic clock, measured from the store's own RetryAfter, so
// clock skew between this host and Redis cannot stretch a refusal.
type hogCache struct {
	seed   maphash.Seed
	max    int // per shard
	shards [hogShards]hogShard
}

type hogShard struct {
	mu sync.RWMutex
	m  map[string]hogEntry
}

type hogEntry struct {
	d     Decision
	until time.Time
}

func newHogCache(size int) *hogCache {
	c := &hogCache{seed: maphash.MakeSeed(), max: max(size/hogShards, 1)}
	for i := range c.shards {
		c.shards[i].m = make(map[string]hogEntry)
	}
	return c
}

func (c *hogCache) shard(key string) *hogShard {
	return &c.shards[maphash.String(c.seed, key)%hogShards]
}

// get returns a refusal for key under l if one is cached and still in force.
func (c *hogCache) get(key string, l Limit, now time.Time) (Decision, bool) {
	s := c.shard(key)
	s.mu.RLock()
	e, ok := s.m[key]
	s.mu.RUnlock()
	if !ok || e.d.Limit != l || !now.Before(e.until) {
		return Decision{}, false
	}
	d := e.d
	d.ResetAfter = e.until.Sub(now)
	d.RetryAfter = d.ResetAfter
	return d, true
}

// put records that key is refused under d.Limit until d.RetryAfter from now.
// A full shard first drops ended entries, then an arbitrary live one: losing
// a live entry costs one extra round trip, never a wrong admission.
func (c *hogCache) put(key string, d Decision, now time.Time) {
	if d.RetryAfter <= 0 {
		return
	}
	s := c.shard(key)
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.m[key]; !ok && len(s.m) >= c.max {
		for k, e := range s.m {
			if !now.Before(e.until) {
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
	s.m[key] = hogEntry{d: d, until: now.Add(d.RetryAfter)}
}

// forget drops what is known about key.
func (c *hogCache) forget(key string) {
	s := c.shard(key)
	s.mu.Lock()
	delete(s.m, key)
	s.mu.Unlock()
}

// forgetAll drops everything.
func (c *hogCache) forgetAll() {
	for i := range c.shards {
		s := &c.shards[i]
		s.mu.Lock()
		clear(s.m)
		s.mu.Unlock()
	}
}

// len returns the number of entries, live or ended.
func (c *hogCache) len() int {
	n := 0
	for i := range c.shards {
		s := &c.shards[i]
		s.mu.RLock()
		n += len(s.m)
		s.mu.RUnlock()
	}
	return n
}
