package quota

import (
	"time"

	"github.com/quotad/quotad/internal/expiry"
)

// hogCache remembers keys that are over their limit until their window
// ends, so a hog's further requests are refused without a store round trip.
//
// An entry holds the Limit it was refused under: after a tier change the key
// asks the store again, since the new limit may leave room. Entries expire on
// the local monotonic clock, measured from the store's own RetryAfter, so
// clock skew between this host and Redis cannot stretch a refusal. A full
// cache drops entries, which costs an extra round trip, never a wrong
// admission.
type hogCache struct {
	m *expiry.Map[Decision]
}

func newHogCache(size int) *hogCache {
	return &hogCache{m: expiry.New[Decision](size)}
}

// get returns a refusal for key under l if one is cached and still in force.
func (c *hogCache) get(key string, l Limit, now time.Time) (Decision, bool) {
	d, until, ok := c.m.Get(key, now)
	if !ok || d.Limit != l {
		return Decision{}, false
	}
	d.ResetAfter = until.Sub(now)
	d.RetryAfter = d.ResetAfter
	return d, true
}

// put records that key is refused under d.Limit until d.RetryAfter from now.
func (c *hogCache) put(key string, d Decision, now time.Time) {
	if d.RetryAfter <= 0 {
		return
	}
	c.m.Put(key, d, now.Add(d.RetryAfter), now)
}

// forget drops what is known about key.
func (c *hogCache) forget(key string) { c.m.Delete(key) }

// forgetAll drops everything.
func (c *hogCache) forgetAll() { c.m.Clear() }

// len returns the number of entries, live or ended.
func (c *hogCache) len() int { return c.m.Len() }
