package operations

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/quotad/quotad/tiers"
)

// queryTimeout bounds one load of the rules.
const queryTimeout = 5 * time.Second

// Cache answers Cost from memory, without ever waiting on Postgres.
//
// Load reads every rule. The rules' notifications travel on the channel
// tiers.Cache listens on, which passes them on as tiers.ChangeOperation:
// give Changed to its OnChange, and the rules are read again on every
// change of a rule and every time the listener re-read everything after a
// reconnect. Rules are few and change rarely, so reading them all is
// simpler than applying each row, and loads run one at a time, so the
// cache never goes back to an older snapshot.
//
// All methods are safe for concurrent use.
type Cache struct {
	pool  *pgxpool.Pool
	log   *slog.Logger
	table atomic.Pointer[table]
	load  sync.Mutex // one Load at a time: see Cache
}

// NewCache returns a Cache reading through pool, logging failed loads to
// log (nil discards). Until Load succeeds every request costs DefaultCost.
func NewCache(pool *pgxpool.Pool, log *slog.Logger) *Cache {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	c := &Cache{pool: pool, log: log}
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

// Load reads every rule and installs them. On an error (wrapping
// ErrUnavailable when Postgres is unreachable) the rules stay as they were.
func (c *Cache) Load(ctx context.Context) error {
	c.load.Lock()
	defer c.load.Unlock()
	ctx, cancel := context.WithTimeout(ctx, queryTimeout)
	defer cancel()
	rows, _ := c.pool.Query(ctx, sqlListRules)
	rules, err := pgx.CollectRows(rows, scanRule)
	if err != nil {
		return fmt.Errorf("operations: load rules: %w", interpretError(err))
	}
	c.table.Store(newTable(rules))
	return nil
}

// Changed is a tiers.CacheConfig.OnChange hook: it loads the rules again
// when one changed or the listener re-read everything. A failed load is
// logged, and the rules stay as they were until the next change or
// reconnect.
func (c *Cache) Changed(ch tiers.Change) {
	if ch.Kind != tiers.ChangeOperation && ch.Kind != tiers.ChangeResync {
		return
	}
	// A reconnect often follows a Postgres restart, which leaves the pool
	// holding connections that fail once and are then dropped: a second
	// try gets a fresh one.
	err := c.Load(context.Background())
	if err != nil {
		err = c.Load(context.Background())
	}
	if err != nil {
		c.log.Warn("operations: reloading the cost rules failed; the previous ones stay", "err", err)
	}
}
