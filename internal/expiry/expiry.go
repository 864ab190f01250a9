// Package expiry is a bounded in-process map whose entries end at a given
// time: the shape of quota's over-limit cache and api's verified-token
// cache. It is sharded so that many goroutines reading it at once rarely
// share a lock.
package expiry

import (
	"hash/maphash"
	"sync"
	"time"
)

const shards = 16

// Map maps string keys to values until each entry's end. It is safe for
// concurrent use.
type Map[V any] struct {
	seed   maphash.Seed
	max    int // per shard
	shards [shards]shard[V]
}

type shard[V any] struct {
	mu sync.RWMutex
	m  map[string]entry[V]
}

type entry[V any] struct {
	v     V
	until time.Time
}

// New returns a Map holding at most about size entries (at least one per
// shard).
func New[V any](size int) *Map[V] {
	c := &Map[V]{seed: maphash.MakeSeed(), max: max(size/shards, 1)}
	for i := range c.shards {
		c.shards[i].m = make(map[string]entry[V])
	}
	return c
}

func (c *Map[V]) shard(key string) *shard[V] {
	return &c.shards[maphash.String(c.seed, key)%shards]
}

// Get returns key's value and end if it has not ended by now.
func (c *Map[V]) Get(key string, now time.Time) (v V, until time.Time, ok bool) {
	s := c.shard(key)
	s.mu.RLock()
	e, ok := s.m[key]
	s.mu.RUnlock()
	if !ok || !now.Before(e.until) {
		return v, time.Time{}, false
	}
	return e.v, e.until, true
}

// Put sets key's value until the given end. A full shard first drops ended
// entries, then arbitrary live ones: the callers cache what they can
// recompute, so a lost entry costs work, never a wrong answer.
func (c *Map[V]) Put(key string, v V, until, now time.Time) {
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
	s.m[key] = entry[V]{v: v, until: until}
}

// Delete drops key.
func (c *Map[V]) Delete(key string) {
	s := c.shard(key)
	s.mu.Lock()
	delete(s.m, key)
	s.mu.Unlock()
}

// Clear drops every entry.
func (c *Map[V]) Clear() {
	for i := range c.shards {
		s := &c.shards[i]
		s.mu.Lock()
		clear(s.m)
		s.mu.Unlock()
	}
}

// Len returns the number of entries, live or ended.
func (c *Map[V]) Len() int {
	n := 0
	for i := range c.shards {
		s := &c.shards[i]
		s.mu.RLock()
		n += len(s.m)
		s.mu.RUnlock()
	}
	return n
}
