package quota

import (
	"time"

	"github.com/quotad/quotad/internal/expiry"
)

// hogCache remembers keys that are over their limit until their window
// ends, so a hog's further requests are refused without a store round trip.
//
// An entry holds the Limit it was refused under: after a tier change the key
// asks the store again, since the new limit may leave room. It also holds
// the refused cost: a cheaper request may still fit. Entries expire on
// the local monotonic clock, measured from the store's own RetryAfter, so
// clock skew between this host and Redis cannot stretch a refusal. A full
// cache drops entries, which costs an extra round trip, never a wrong
// admission.
type hogCache struct {
	m *expiry.Map[hog]
}

// hog is a cached refusal and the cost it refused.
type hog struct {
	d    Decision
	cost int64
}

func newHogCache(size int) *hogCache {
	return &hogCache{m: expiry.New[hog](size)}
}

// get returns a refusal for a request of cost n of key under l if one is
// cached and still in force, its times counted down to now.
func (c *hogCache) get(key string, l Limit, n int64, now time.Time) (Decision, bool) {
	h, until, ok := c.m.Get(key, now)
	if !ok || n < h.cost || !sameLimit(h.d.Limit, l) {
		return Decision{}, false
	}
	d := h.d
	left := until.Sub(now)
	elapsed := d.RetryAfter - left
	d.ResetAfter, d.RetryAfter = max(d.ResetAfter-elapsed, 0), left
	if d.windows != nil {
		ws := *d.windows // the cached entry's stays as it was
		for i := range d.Limit.Windows {
			ws[i].ResetAfter = max(ws[i].ResetAfter-elapsed, 0)
		}
		d.windows = &ws
	}
	return d, true
}

// put records that key is refused under d.Limit at cost n until
// d.RetryAfter from now.
func (c *hogCache) put(key string, d Decision, n int64, now time.Time) {
	if d.RetryAfter <= 0 {
		return
	}
	c.m.Put(key, hog{d, n}, now.Add(d.RetryAfter), now)
}

// forget drops what is known about key.
func (c *hogCache) forget(key string) { c.m.Delete(key) }

// forgetAll drops everything.
func (c *hogCache) forgetAll() { c.m.Clear() }

// len returns the number of entries, live or ended.
func (c *hogCache) len() int { return c.m.Len() }
