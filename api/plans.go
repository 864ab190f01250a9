package api

import (
	"sync"

	"github.com/quotad/quotad/quota"
	"github.com/quotad/quotad/tiers"
)

// LimitOf turns a plan tier into the quota it enforces, for a client whose
// month windows start on anchorDay (0 means the 1st); the only place the
// two packages meet.
func LimitOf(t tiers.Tier, anchorDay int) quota.Limit {
	return quota.Limit{Name: t.Name, Windows: planWindows.of(t), AnchorDay: anchorDay}
}

// planWindows holds each tier's windows in quota's form, so that resolving
// a request's Limit costs no allocation.
var planWindows windowCache

// windowCache maps a tier's name to its windows as quota.Windows, built
// from one tiers.Window slice. The tiers cache hands out the same slice
// for a tier until the tier changes, so a slice seen before is recognised
// by its address; a changed tier replaces its entry.
type windowCache struct{ m sync.Map } // name → *windowEntry

type windowEntry struct {
	from *tiers.Window
	n    int
	ws   []quota.Window
}

func (c *windowCache) of(t tiers.Tier) []quota.Window {
	if len(t.Windows) == 0 {
		return nil
	}
	if e, ok := c.m.Load(t.Name); ok {
		if e := e.(*windowEntry); e.from == &t.Windows[0] && e.n == len(t.Windows) {
			return e.ws
		}
	}
	ws := make([]quota.Window, len(t.Windows))
	for i, w := range t.Windows {
		per := w.Per
		if per == tiers.Month {
			per = quota.Month
		}
		ws[i] = quota.Window{Requests: w.Limit, Per: per, Soft: w.Soft}
	}
	c.m.Store(t.Name, &windowEntry{from: &t.Windows[0], n: len(t.Windows), ws: ws})
	return ws
}
