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

	"github.com/jackc/pgx/v5/pgxpool"
)

// CacheConfig configures a Cache. The zero value is usable.
type CacheConfig struct {
	// Logger receives listener events: disconnects, reconnects, bad
	// payloads. Nothing is logged per lookup. Optional. Default discards.
	Logger *slog.Logger
	// OnChange is called after the cache has applied a change: from the
	// listener's goroutine, one notification at a time and in order, and
	// from the caller of TierSaved, TierDeleted, ClientSaved or
	// ClientDeleted, so it must be safe for concurrent use. It must not
	// block for long: notifications wait behind it. Optional.
	OnChange func(Change)
}

// CacheStats are counters for metrics and tests.
type CacheStats struct {
	// Clients is the number of client assignments held: every client
	// assigned a tier.
	Clients int
}

// Cache answers "which tier is this client on" from memory, without ever
// waiting on Postgres. It holds every tier and every client assignment
// (only assigned clients have one: a client without is on Free by
// definition), loaded at Start and again after every reconnect, and a
// listener on the quota_changes channel keeps both fresh.
//
// Every change carries the version of its row (Tier.Version,
// Client.Version), and the cache applies one only if it is newer than what
// it holds of that tier or client, deletions included. So whichever way
// changes reach it (its caller's own writes, notifications, a reload) and
// in whatever order, it never goes back to an older row: it may be stale
// for a moment, never wrong for long.
//
// Create it with NewCache, call Start, and Close when done. All methods
// are safe for concurrent use.
type Cache struct {
	pool *pgxpool.Pool
	cfg  CacheConfig
	idle time.Duration // see idleCheck; a field so tests can shorten it

	mu      sync.RWMutex
	tiers   versioned[Tier]
	clients versioned[assignment] // client ID → tier name and anchor day
	// floor is the highest version that may have been taken before the
	// last reload's snapshot. A write of the caller's at or below it is
	// in that snapshot or on its way through the listener, so TierSaved
	// and the like skip it: applied after the reload, it could bring back
	// a row the snapshot knows was deleted.
	floor int64

	connected   atomic.Bool
	listenerPID atomic.Uint32 // backend pid of the listener, for tests

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
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return &Cache{
		pool:    pool,
		cfg:     cfg,
		idle:    idleCheck,
		tiers:   newVersioned[Tier](0),
		clients: newVersioned[assignment](0),
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
	return c.tiers.get(name)
}

// Tiers returns every tier, cheapest first, then by name (as
// Store.ListTiers does).
func (c *Cache) Tiers() []Tier {
	c.mu.RLock()
	list := make([]Tier, 0, c.tiers.len())
	c.tiers.each(func(_ string, t Tier) { list = append(list, t) })
	c.mu.RUnlock()
	slices.SortFunc(list, func(a, b Tier) int {
		return cmp.Or(cmp.Compare(a.PriceCents, b.PriceCents), cmp.Compare(a.Name, b.Name))
	})
	return list
}

// Anonymous returns the tier of IP-keyed requests.
func (c *Cache) Anonymous() Tier {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.builtIn(Anonymous)
}

// Free returns the tier of authenticated clients with no assignment.
func (c *Cache) Free() Tier {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.builtIn(Free)
}

// TierFor returns the tier of the client: its assigned one, or Free if it
// has none. It answers from memory and never waits, so ctx is not used;
// while Postgres is unreachable it answers with what the cache last knew.
// The only error is a *ValidationError for an invalid ID.
func (c *Cache) TierFor(ctx context.Context, clientID string) (Tier, error) {
	t, _, err := c.PlanFor(ctx, clientID)
	return t, err
}

// PlanFor is TierFor plus the client's anchor day, the day of the month
// (1 … 28) on which its Month windows start: the assignment's, or 1 for a
// client without one. Like TierFor it answers from memory and never
// queries.
func (c *Cache) PlanFor(_ context.Context, clientID string) (t Tier, anchorDay int, err error) {
	if err := ValidClientID(clientID); err != nil {
		return Tier{}, 0, err
	}
	c.mu.RLock()
	defer c.mu.RUnlock()
	if a, ok := c.clients.get(clientID); ok {
		// The database keeps a tier while clients are on it, and announces
		// a tier before the assignments that name it, so this finds it
		// unless the tier was renamed in psql a moment ago.
		if t, ok := c.tiers.get(a.tier); ok {
			return t, a.day(), nil
		}
		return c.builtIn(Free), a.day(), nil
	}
	return c.builtIn(Free), MinAnchorDay, nil
}

// assignment is what a Cache holds of an assigned client.
type assignment struct {
	tier      string
	anchorDay uint8 // 1 … 28; 0 (never stored) reads as 1
}

// day returns the assignment's anchor day.
func (a assignment) day() int { return anchorDayOrDefault(int(a.anchorDay)) }

// newAssignment returns an assignment to tier on anchor day day.
func newAssignment(tier string, day int) assignment {
	return assignment{tier: tier, anchorDay: uint8(anchorDayOrDefault(day))}
}

// Stats returns the cache's counters.
func (c *Cache) Stats() CacheStats {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return CacheStats{Clients: c.clients.len()}
}

// builtIn returns a built-in tier; c.mu must be held. The database refuses
// to delete them, so the seed values only answer before the first load:
// a request must always resolve to some limit.
func (c *Cache) builtIn(name string) Tier {
	if t, ok := c.tiers.get(name); ok {
		return t
	}
	if name == Anonymous {
		return Tier{Name: Anonymous, Windows: []Window{{Limit: 60, Per: time.Minute}}, Currency: DefaultCurrency}
	}
	return Tier{Name: Free, Windows: []Window{{Limit: 300, Per: 30 * time.Second}}, Currency: DefaultCurrency}
}
