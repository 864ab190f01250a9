package tiers

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Defaults of CacheConfig.
const (
	// DefaultMaxClients is the default bound on cached client assignments.
	DefaultMaxClients = 100_000
	// DefaultLookupTimeout is the default deadline of the one query a cache
	// miss makes.
	DefaultLookupTimeout = 500 * time.Millisecond
)

// unavailableCoolOff is how long misses skip Postgres after a lookup found
// it unreachable. One failed lookup per second is enough to notice it is
// back; more would make every new caller wait on a dead database.
const unavailableCoolOff = time.Second

// CacheConfig configures a Cache. The zero value is usable.
type CacheConfig struct {
	// MaxClients bounds the number of client assignments held in memory,
	// least recently used evicted first. Optional. Default
	// DefaultMaxClients (roughly 100 bytes each).
	MaxClients int
	// LookupTimeout bounds the query of a cache miss; past it the client is
	// answered Free. Optional. Default DefaultLookupTimeout.
	LookupTimeout time.Duration
	// Logger receives listener events: disconnects, reconnects, bad
	// payloads. Nothing is logged per lookup. Optional. Default discards.
	Logger *slog.Logger
	// OnChange is called after the cache has applied a change: from the
	// listener's goroutine, one notification at a time and in order, and
	// from the caller of TierSaved, TierDeleted or ClientChanged, so it
	// must be safe for concurrent use. It must not block for long:
	// notifications wait behind it. Optional.
	OnChange func(Change)
}

// CacheStats are counters for metrics and tests.
type CacheStats struct {
	// Clients is the number of client assignments held now.
	Clients int
	// Hits and Misses count TierFor lookups answered from memory and from
	// Postgres (or the fallback).
	Hits, Misses uint64
	// Fallbacks counts misses answered Free because Postgres could not be
	// asked (unreachable, slow, cooling off).
	Fallbacks uint64
}

// Cache answers "which tier is this client on" from memory. It holds every
// tier (there are few) and a bounded LRU of client assignments, including
// clients never assigned, and a listener on the quota_changes channel keeps
// both fresh. In steady state a lookup runs no query; a miss runs one.
//
// Create it with NewCache, call Start, and Close when done. All methods
// are safe for concurrent use.
type Cache struct {
	pool *pgxpool.Pool
	cfg  CacheConfig
	now  func() time.Time // the clock, a field so tests can move it
	idle time.Duration    // see idleCheck; a field so tests can shorten it

	mu    sync.RWMutex
	tiers map[string]Tier // replaced whole on resync

	clients *lru

	connected   atomic.Bool
	listenerPID atomic.Uint32 // backend pid of the listener, for tests
	downUntil   atomic.Int64  // UnixNano until which misses skip Postgres
	hits        atomic.Uint64
	misses      atomic.Uint64
	fallbacks   atomic.Uint64

	lifecycle sync.Mutex
	started   bool
	cancel    context.CancelFunc
	done      chan struct{}
}

// NewCache returns a Cache reading through pool; zero fields of cfg take
// their defaults. It does nothing until Start. The listener opens its own
// connection with pool's connection settings, because LISTEN needs a
// connection that is not shared.
func NewCache(pool *pgxpool.Pool, cfg CacheConfig) *Cache {
	if cfg.MaxClients <= 0 {
		cfg.MaxClients = DefaultMaxClients
	}
	if cfg.LookupTimeout <= 0 {
		cfg.LookupTimeout = DefaultLookupTimeout
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return &Cache{
		pool:    pool,
		cfg:     cfg,
		now:     time.Now,
		idle:    idleCheck,
		tiers:   make(map[string]Tier),
		clients: newLRU(cfg.MaxClients),
	}
}

// Start loads every tier and starts listening for changes. It returns an
// error (wrapping ErrUnavailable when Postgres is unreachable) if it cannot
// do both; the caller should not serve without tiers. Once it returns nil,
// a background goroutine keeps the cache fresh, reconnecting as needed,
// until ctx is done or Close is called.
func (c *Cache) Start(ctx context.Context) error {
	c.lifecycle.Lock()
	defer c.lifecycle.Unlock()
	if c.started {
		return errors.New("tiers: cache already started")
	}
	conn, err := c.connect(ctx)
	if err != nil {
		return fmt.Errorf("tiers: start cache: %w", err)
	}
	ctx, cancel := context.WithCancel(ctx)
	c.started, c.cancel, c.done = true, cancel, make(chan struct{})
	go c.listen(ctx, conn)
	return nil
}

// Close stops the listener and waits for it to finish. Lookups keep
// answering from what is cached. Close is idempotent.
func (c *Cache) Close() {
	c.lifecycle.Lock()
	defer c.lifecycle.Unlock()
	if c.cancel != nil {
		c.cancel()
		<-c.done
		c.cancel = nil
	}
}

// Connected reports whether the listener is connected now. While it is
// not, changes made elsewhere are not seen (they will be on reconnect), so
// readiness checks may want to report it.
func (c *Cache) Connected() bool {
	return c.connected.Load()
}

// Tier returns the tier called name, if it exists.
func (c *Cache) Tier(name string) (Tier, bool) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	t, ok := c.tiers[name]
	return t, ok
}

// Tiers returns every tier, cheapest first, then by name (as
// Store.ListTiers does).
func (c *Cache) Tiers() []Tier {
	c.mu.RLock()
	list := make([]Tier, 0, len(c.tiers))
	for _, t := range c.tiers {
		list = append(list, t)
	}
	c.mu.RUnlock()
	slices.SortFunc(list, func(a, b Tier) int {
		return cmp.Or(cmp.Compare(a.PriceCents, b.PriceCents), cmp.Compare(a.Name, b.Name))
	})
	return list
}

// Anonymous returns the tier of IP-keyed requests.
func (c *Cache) Anonymous() Tier {
	return c.builtIn(Anonymous)
}

// Free returns the tier of authenticated clients with no assignment.
func (c *Cache) Free() Tier {
	return c.builtIn(Free)
}

// TierFor returns the tier of the client. A hit costs no query; a miss
// costs one, whose answer is cached (never-assigned clients too). If
// Postgres cannot answer in time the client gets Free, uncached, so a
// database outage degrades new clients to the free plan instead of failing
// requests. The only error is a *ValidationError for an invalid ID.
func (c *Cache) TierFor(ctx context.Context, clientID string) (Tier, error) {
	if err := ValidClientID(clientID); err != nil {
		return Tier{}, err
	}
	if name, ok := c.clients.get(clientID); ok {
		if t, ok := c.Tier(name); ok {
			c.hits.Add(1)
			return t, nil
		}
		// Assigned to a tier whose notification has not arrived yet: ask.
	}
	c.misses.Add(1)
	if c.now().UnixNano() < c.downUntil.Load() {
		c.fallbacks.Add(1)
		return c.Free(), nil
	}
	epoch := c.clients.currentEpoch()
	t, err := c.lookup(ctx, clientID)
	if err != nil {
		if errors.Is(err, ErrUnavailable) {
			c.downUntil.Store(c.now().Add(unavailableCoolOff).UnixNano())
		}
		c.fallbacks.Add(1)
		return c.Free(), nil
	}
	c.clients.put(clientID, t.Name, epoch)
	return t, nil
}

// Stats returns the cache's counters.
func (c *Cache) Stats() CacheStats {
	return CacheStats{
		Clients:   c.clients.len(),
		Hits:      c.hits.Load(),
		Misses:    c.misses.Load(),
		Fallbacks: c.fallbacks.Load(),
	}
}

// sqlClientTier reads a client's tier in one round trip; no row means the
// client was never assigned.
const sqlClientTier = `
SELECT t.name, t."limit", t.per_seconds, t.description, t.price_cents, t.currency
FROM clients c JOIN tiers t ON t.name = c.tier
WHERE c.id = $1`

// lookup asks Postgres for the client's tier, Free if never assigned. A
// lookup that meets a pooled connection Postgres closed asks again (see
// readAgain): right after a restart it would otherwise put every new client
// on Free for the cool-off, though Postgres answers.
func (c *Cache) lookup(ctx context.Context, clientID string) (Tier, error) {
	ctx, cancel := context.WithTimeout(ctx, c.cfg.LookupTimeout)
	defer cancel()
	t, err := readAgain(ctx, c.pool, func() (Tier, error) {
		return collectTier(c.pool.Query(ctx, sqlClientTier, clientID))
	})
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return c.Free(), nil
	case err != nil:
		return Tier{}, interpretError(err)
	}
	return t, nil
}

// builtIn returns a built-in tier. The database refuses to delete them, so
// the seed values only answer before the first load (or if someone dropped
// the guard trigger): a request must always resolve to some limit.
func (c *Cache) builtIn(name string) Tier {
	if t, ok := c.Tier(name); ok {
		return t
	}
	if name == Anonymous {
		return Tier{Name: Anonymous, Limit: 60, Per: time.Minute, Currency: DefaultCurrency}
	}
	return Tier{Name: Free, Limit: 300, Per: 30 * time.Second, Currency: DefaultCurrency}
}

// setTiers replaces every tier.
func (c *Cache) setTiers(list []Tier) {
	m := make(map[string]Tier, len(list))
	for _, t := range list {
		m[t.Name] = t
	}
	c.mu.Lock()
	c.tiers = m
	c.mu.Unlock()
}

// setTier stores one tier, or forgets it if deleted.
func (c *Cache) setTier(name string, t Tier, exists bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if exists {
		c.tiers[name] = t
	} else {
		delete(c.tiers, name)
	}
}

// TierSaved makes a tier this process just wrote visible here at once,
// ahead of its notification: an admin who raises a plan sees the new
// limit on the next request to the same instance. The notification still
// follows, re-reads the row, and reaches every other instance.
func (c *Cache) TierSaved(t Tier) {
	c.setTier(t.Name, t, true)
	c.emit(Change{Kind: ChangeTier, Name: t.Name})
}

// TierDeleted is TierSaved for a tier this process just deleted.
func (c *Cache) TierDeleted(name string) {
	c.setTier(name, Tier{}, false)
	c.emit(Change{Kind: ChangeTier, Name: name})
}

// ClientChanged is TierSaved for a client this process just assigned or
// unassigned: its cached tier is dropped, so the next lookup reads it.
func (c *Cache) ClientChanged(id string) {
	c.clients.remove(id)
	c.emit(Change{Kind: ChangeClient, ClientID: id})
}
