package tiers

// The three ways a change reaches a Cache (the caller's own write, a
// notification, a reload) all end here, and every one compares versions:
// two instances writing one tier at once each apply their own write and
// the listener's news of both, in an order nobody controls, and the newest
// row must win on both.

// TierSaved makes a tier this process just wrote (as Store returned it,
// Version set) visible here at once, ahead of its notification: an admin
// who raises a plan sees the new limit on the next request to the same
// instance. A tier older than what the cache holds is ignored.
func (c *Cache) TierSaved(t Tier) {
	c.mu.Lock()
	ok := t.Version > c.floor && c.tiers.put(t.Name, t, t.Version)
	c.mu.Unlock()
	if ok {
		c.emit(Change{Kind: ChangeTier, Name: t.Name})
	}
}

// TierDeleted is TierSaved for a tier this process just deleted (as
// Store.DeleteTier returned it).
func (c *Cache) TierDeleted(t Tier) {
	c.mu.Lock()
	ok := t.Version > c.floor && c.tiers.del(t.Name, t.Version)
	c.mu.Unlock()
	if ok {
		c.emit(Change{Kind: ChangeTier, Name: t.Name})
	}
}

// ClientSaved is TierSaved for an assignment this process just made (as
// Store.AssignClient returned it). An assignment to a tier this cache does
// not know yet is left to the listener, which brings the tier first.
func (c *Cache) ClientSaved(cl Client) {
	c.mu.Lock()
	ok := false
	if t, known := c.tiers.get(cl.Tier); known && cl.Assigned && cl.Version > c.floor {
		ok = c.clients.put(cl.ID, newAssignment(t.Name, cl.AnchorDay), cl.Version)
	}
	c.mu.Unlock()
	if ok {
		c.emit(Change{Kind: ChangeClient, ClientID: cl.ID})
	}
}

// ClientDeleted is TierSaved for an assignment this process just removed
// (as Store.UnassignClient returned it; one with Assigned false changed
// nothing and is ignored).
func (c *Cache) ClientDeleted(cl Client) {
	c.mu.Lock()
	ok := cl.Assigned && cl.Version > c.floor && c.clients.del(cl.ID, cl.Version)
	c.mu.Unlock()
	if ok {
		c.emit(Change{Kind: ChangeClient, ClientID: cl.ID})
	}
}

// notified applies a tier or client notification (n.Version set). A tier
// in it comes from a re-read of the row; t is nil if the notification is a
// deletion.
func (c *Cache) notified(n notification, t *Tier) {
	c.mu.Lock()
	defer c.mu.Unlock()
	switch {
	case n.Kind == ChangeTier && n.Deleted:
		c.tiers.del(n.Name, n.Version)
	case n.Kind == ChangeTier:
		c.tiers.put(t.Name, *t, t.Version)
	case n.Deleted:
		c.clients.del(n.ID, n.Version)
	default:
		c.clients.put(n.ID, newAssignment(c.intern(n.Tier), n.AnchorDay), n.Version)
	}
}

// loaded is everything a reload read, at one point in time.
type loaded struct {
	tiers   versioned[Tier]
	clients versioned[assignment]
	// floor is the highest version taken before the snapshot began (see
	// Cache.floor).
	floor int64
}

// replace installs s, keeping whatever the cache learned that s cannot
// know yet (see versioned.keepNewer).
func (c *Cache) replace(s loaded) {
	c.mu.Lock()
	defer c.mu.Unlock()
	s.tiers.keepNewer(c.tiers, s.floor)
	s.clients.keepNewer(c.clients, s.floor)
	c.tiers, c.clients, c.floor = s.tiers, s.clients, s.floor
}

// intern returns name as the cache's tier of that name spells it, so that
// a million assignments to "pro" share one string; c.mu must be held.
func (c *Cache) intern(name string) string {
	if t, ok := c.tiers.get(name); ok {
		return t.Name
	}
	return name
}
