package operations

import (
	"context"
	"net"
	"strconv"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/quotad/quotad/internal/testdb"
	"github.com/quotad/quotad/internal/testenv"
	"github.com/quotad/quotad/tiers"
)

// propagation is the spec's bound on how long a change may take to reach
// every instance.
const propagation = time.Second

// startCaches starts a tiers.Cache on pool feeding a Cache of rules, as
// quotad's stack does, both closed when the test ends, and returns the
// Cache and the tiers.Cache with a channel that receives a value after
// each change the Cache was given.
func startCaches(tb testing.TB, pool *pgxpool.Pool) (*Cache, *tiers.Cache, <-chan struct{}) {
	tb.Helper()
	changes := make(chan struct{}, 64)
	c := NewCache(pool, nil)
	tc := tiers.NewCache(pool, tiers.CacheConfig{OnChange: func(ch tiers.Change) {
		c.Changed(ch)
		select {
		case changes <- struct{}{}:
		default:
		}
	}})
	if err := tc.Start(context.Background()); err != nil {
		tb.Fatalf("tiers cache: %v", err)
	}
	tb.Cleanup(tc.Close)
	if err := c.Load(context.Background()); err != nil {
		tb.Fatalf("Load: %v", err)
	}
	return c, tc, changes
}

// waitCost waits, change by change, until c.Cost(method, path) is want,
// failing the test after timeout.
func waitCost(tb testing.TB, c *Cache, changes <-chan struct{}, timeout time.Duration, method, path string, want int64) {
	tb.Helper()
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for c.Cost(method, path) != want {
		select {
		case <-changes:
		case <-deadline.C:
			tb.Fatalf("Cost(%s %s) = %d after %v, want %d", method, path, c.Cost(method, path), timeout, want)
		}
	}
}

// waitFor polls cond, a state no signal announces, until it holds,
// failing the test after timeout.
func waitFor(tb testing.TB, timeout time.Duration, what string, cond func() bool) {
	tb.Helper()
	ticker := time.NewTicker(5 * time.Millisecond)
	defer ticker.Stop()
	deadline := time.After(timeout)
	for !cond() {
		select {
		case <-ticker.C:
		case <-deadline:
			tb.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
	}
}

func TestCache_TwoInstancesSeeChangesWithinASecond(t *testing.T) {
	t.Parallel()
	pool := testdb.Pool(t)
	ctx := context.Background()
	store := NewStore(pool)
	if _, err := store.Create(ctx, Rule{Name: "search", Method: "GET", Path: "/v1/search/*", Cost: 5}); err != nil {
		t.Fatal(err)
	}
	a, _, reloadsA := startCaches(t, newPool(t, pool))
	b, _, reloadsB := startCaches(t, newPool(t, pool))
	for _, c := range []*Cache{a, b} {
		if got := c.Cost("GET", "/v1/search/x"); got != 5 {
			t.Fatalf("loaded at Start: Cost = %d, want 5", got)
		}
	}

	steps := []struct {
		name string
		do   func() error
		want int64
	}{
		{"put", func() error {
			_, _, err := store.Put(ctx, Rule{Name: "search", Method: "GET", Path: "/v1/search/*", Cost: 8})
			return err
		}, 8},
		{"free", func() error {
			_, _, err := store.Put(ctx, Rule{Name: "search", Method: "GET", Path: "/v1/search/*", Cost: 0})
			return err
		}, 0},
		{"psql", func() error {
			_, err := pool.Exec(ctx, `UPDATE operations SET cost = 3 WHERE name = 'search'`)
			return err
		}, 3},
		{"delete", func() error { _, err := store.Delete(ctx, "search"); return err }, DefaultCost},
	}
	for _, step := range steps {
		if err := step.do(); err != nil {
			t.Fatalf("%s: %v", step.name, err)
		}
		waitCost(t, a, reloadsA, propagation, "GET", "/v1/search/x", step.want)
		waitCost(t, b, reloadsB, propagation, "GET", "/v1/search/x", step.want)
	}
	// A tier's change, then a rule's: the rule's arrives too.
	if _, err := pool.Exec(ctx, `UPDATE tiers SET "limit" = 7 WHERE name = 'free'`); err != nil {
		t.Fatal(err)
	}
	if _, err := store.Create(ctx, Rule{Name: "x", Method: "*", Path: "/x", Cost: 2}); err != nil {
		t.Fatal(err)
	}
	waitCost(t, a, reloadsA, propagation, "GET", "/x", 2)
}

func TestCache_ReloadsAfterReconnect(t *testing.T) {
	t.Parallel()
	pool := testdb.Pool(t)
	ctx := context.Background()
	store := NewStore(pool)

	// The caches reach Postgres through a proxy the test can cut.
	cfg := pool.Config().Copy()
	proxy := testenv.NewProxy(t, net.JoinHostPort(cfg.ConnConfig.Host, strconv.Itoa(int(cfg.ConnConfig.Port))))
	host, port, _ := net.SplitHostPort(proxy.Addr())
	p, _ := strconv.Atoi(port)
	cfg.ConnConfig.Host, cfg.ConnConfig.Port = host, uint16(p)
	cachePool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cachePool.Close)
	c, tc, changes := startCaches(t, cachePool)

	proxy.SetMode(testenv.Refuse)
	waitFor(t, 2*time.Second, "the listener to notice it is disconnected", func() bool { return !tc.Connected() })
	// Notified to nobody: only the reload on reconnect can bring it.
	if _, err := store.Create(ctx, Rule{Name: "search", Method: "*", Path: "/v1/search/*", Cost: 6}); err != nil {
		t.Fatal(err)
	}
	if got := c.Cost("GET", "/v1/search/x"); got != DefaultCost {
		t.Errorf("during the outage Cost = %d, want the cached %d", got, DefaultCost)
	}
	proxy.SetMode(testenv.Forward)
	waitCost(t, c, changes, 3*time.Second, "GET", "/v1/search/x", 6)
	// And notifications flow on the new connection.
	if _, _, err := store.Put(ctx, Rule{Name: "search", Method: "*", Path: "/v1/search/*", Cost: 7}); err != nil {
		t.Fatal(err)
	}
	waitCost(t, c, changes, propagation, "GET", "/v1/search/x", 7)
}

// TestCache_LoadAndOtherChanges: before a load every request costs
// DefaultCost; changes of other kinds load nothing; a load that cannot
// reach Postgres fails and keeps the rules.
func TestCache_LoadAndOtherChanges(t *testing.T) {
	t.Parallel()
	pool := testdb.Pool(t)
	ctx := context.Background()
	if _, err := NewStore(pool).Create(ctx, Rule{Name: "search", Method: "GET", Path: "/v1/search/*", Cost: 5}); err != nil {
		t.Fatal(err)
	}
	c := NewCache(pool, nil)
	if got := c.Cost("GET", "/v1/search/x"); got != DefaultCost {
		t.Fatalf("before Load: Cost = %d, want %d", got, DefaultCost)
	}
	c.Changed(tiers.Change{Kind: tiers.ChangeTier, Name: "free"})
	if got := c.Cost("GET", "/v1/search/x"); got != DefaultCost {
		t.Fatalf("a tier's change loaded the rules: Cost = %d", got)
	}
	c.Changed(tiers.Change{Kind: tiers.ChangeResync})
	if got := c.Cost("GET", "/v1/search/x"); got != 5 {
		t.Fatalf("after a resync: Cost = %d, want 5", got)
	}
	unreachable := pool.Config().Copy()
	unreachable.ConnConfig.Host, unreachable.ConnConfig.Port = "127.0.0.1", 1
	down, err := pgxpool.NewWithConfig(ctx, unreachable)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(down.Close)
	if err := NewCache(down, nil).Load(ctx); err == nil {
		t.Error("Load on an unreachable database succeeded")
	}
}
