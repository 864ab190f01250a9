package operations

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// CacheConfig configures a Cache. The zero value is usable.
type CacheConfig struct {
	// Logger receives listener events: disconnects and reconnects. Nothing
	// is logged per lookup. Optional. Default discards.
	Logger *slog.Logger
	// OnReload is called, from the listener's goroutine, after the cache
	// has installed the rules as they are now: after each change and each
	// reconnect. It must not block for long. Optional.
	OnReload func()
}

// Cache answers Cost from memory, without ever waiting on Postgres. It
// loads every rule at Start, and its listener on the quota_changes channel
// (the one tiers.Cache listens on) loads them again on every change of a
// rule and after every reconnect: rules are few and change rarely, so
// reading them all is simpler than applying each row, and each load is a
// whole snapshot, installed in the order read, so the cache never goes
// back to older rules.
//
// Create it with NewCache, call Start, and Close when done. All methods
// are safe for concurrent use.
type Cache struct {
	pool *pgxpool.Pool
	cfg  CacheConfig
	idle time.Duration // see idleCheck; a field so tests can shorten it

	table atomic.Pointer[table]

	connected   atomic.Bool
	listenerPID atomic.Uint32 // backend pid of the listener, for tests

	lifecycle sync.Mutex
	started   bool
	cancel    context.CancelFunc
	done      chan struct{}
}

// NewCache returns a Cache reading through pool; zero fields of cfg take
// their defaults. Until Start has loaded the rules every request costs
// DefaultCost. The listener opens its own connection with pool's
// settings, because LISTEN needs a connection that is not shared.
func NewCache(pool *pgxpool.Pool, cfg CacheConfig) *Cache {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	c := &Cache{pool: pool, cfg: cfg, idle: idleCheck}
	c.table.Store(newTable(nil))
	return c
}

// Cost returns the units of quota a request with method and path spends:
// the cost of the most specific rule that matches (an exact path over a
// prefix, a longer prefix over a shorter one, a named method over "*"), or
// DefaultCost if none does. path must not hold a query string: stripping
// it is the caller's job. Cost never waits and never allocates.
func (c *Cache) Cost(method, path string) int64 {
	return c.table.Load().cost(method, path)
}

// Start loads every rule and starts listening for changes. It returns an
// error (wrapping ErrUnavailable when Postgres is unreachable) if it cannot
// do both. Once it returns nil, a background goroutine keeps the cache
// fresh, reconnecting as needed, until ctx is done or Close is called.
func (c *Cache) Start(ctx context.Context) error {
	c.lifecycle.Lock()
	defer c.lifecycle.Unlock()
	if c.started {
		return errors.New("operations: cache already started")
	}
	conn, err := c.connect(ctx)
	if err != nil {
		return fmt.Errorf("operations: start cache: %w", err)
	}
	ctx, cancel := context.WithCancel(ctx)
	c.started, c.cancel, c.done = true, cancel, make(chan struct{})
	go c.listen(ctx, conn)
	return nil
}

// Close stops the listener and waits for it to finish. Cost keeps
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

// Connected reports whether the listener is connected now; while it is
// not, changes made elsewhere are seen only once it reconnects.
func (c *Cache) Connected() bool {
	return c.connected.Load()
}

// reload reads every rule through conn and installs them; its caller
// then calls reloaded.
func (c *Cache) reload(ctx context.Context, conn *pgx.Conn) error {
	ctx, cancel := context.WithTimeout(ctx, queryTimeout)
	defer cancel()
	rows, _ := conn.Query(ctx, sqlListRules)
	rules, err := pgx.CollectRows(rows, scanRule)
	if err != nil {
		return fmt.Errorf("load rules: %w", interpretError(err))
	}
	c.table.Store(newTable(rules))
	return nil
}

// reloaded tells OnReload, once the listener's state is current.
func (c *Cache) reloaded() {
	if c.cfg.OnReload != nil {
		c.cfg.OnReload()
	}
}
