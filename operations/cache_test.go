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
)

// propagation is the spec's bound on how long a change may take to reach
// every instance.
const propagation = time.Second

// startCache starts a Cache on pool, closed when the test ends, and
// returns it with a channel that receives a value after each reload.
func startCache(tb testing.TB, pool *pgxpool.Pool) (*Cache, <-chan struct{}) {
	tb.Helper()
	reloads := make(chan struct{}, 64)
	c := NewCache(pool, CacheConfig{OnReload: func() {
		select {
		case reloads <- struct{}{}:
		default:
		}
	}})
	if err := c.Start(context.Background()); err != nil {
		tb.Fatalf("Start: %v", err)
	}
	tb.Cleanup(c.Close)
	<-reloads // Start's own load
	return c, reloads
}

// waitCost waits, reload by reload, until c.Cost(method, path) is want,
// failing the test after timeout.
func waitCost(tb testing.TB, c *Cache, reloads <-chan struct{}, timeout time.Duration, method, path string, want int64) {
	tb.Helper()
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for c.Cost(method, path) != want {
		select {
		case <-reloads:
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
	a, reloadsA := startCache(t, newPool(t, pool))
	b, reloadsB := startCache(t, newPool(t, pool))
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
	// Other kinds on the channel cost no reload.
	for len(reloadsA) > 0 {
		<-reloadsA // signals of reloads already checked
	}
	if _, err := pool.Exec(ctx, `UPDATE tiers SET "limit" = 7 WHERE name = 'free'`); err != nil {
		t.Fatal(err)
	}
	if _, err := store.Create(ctx, Rule{Name: "x", Method: "*", Path: "/x", Cost: 2}); err != nil {
		t.Fatal(err)
	}
	<-reloadsA // notifications come in order: the tier's first, then the rule's
	if got := a.Cost("GET", "/x"); got != 2 {
		t.Errorf("the first reload after a tier's change and a rule's: Cost = %d, want 2 (the tier's must not reload)", got)
	}
}

func TestCache_ReloadsAfterReconnect(t *testing.T) {
	t.Parallel()
	pool := testdb.Pool(t)
	ctx := context.Background()
	store := NewStore(pool)

	// The cache reaches Postgres through a proxy the test can cut.
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
	c, reloads := startCache(t, cachePool)
	oldPID := c.listenerPID.Load()

	proxy.SetMode(testenv.Refuse)
	waitFor(t, 2*time.Second, "the listener to notice it is disconnected", func() bool { return !c.Connected() })
	// Notified to nobody: only the reload on reconnect can bring it.
	if _, err := store.Create(ctx, Rule{Name: "search", Method: "*", Path: "/v1/search/*", Cost: 6}); err != nil {
		t.Fatal(err)
	}
	if got := c.Cost("GET", "/v1/search/x"); got != DefaultCost {
		t.Errorf("during the outage Cost = %d, want the cached %d", got, DefaultCost)
	}
	proxy.SetMode(testenv.Forward)
	waitCost(t, c, reloads, 2*time.Second, "GET", "/v1/search/x", 6)
	if !c.Connected() || c.listenerPID.Load() == oldPID {
		t.Errorf("listener not on a new connection: connected=%v pid %d → %d", c.Connected(), oldPID, c.listenerPID.Load())
	}
	// And notifications flow on the new connection.
	if _, _, err := store.Put(ctx, Rule{Name: "search", Method: "*", Path: "/v1/search/*", Cost: 7}); err != nil {
		t.Fatal(err)
	}
	waitCost(t, c, reloads, propagation, "GET", "/v1/search/x", 7)
}

func TestCache_Lifecycle(t *testing.T) {
	t.Parallel()
	pool := testdb.Pool(t)
	c, _ := startCache(t, pool)
	if err := c.Start(context.Background()); err == nil {
		t.Error("a second Start succeeded")
	}
	c.Close()
	c.Close()
	if c.Cost("GET", "/") != DefaultCost {
		t.Error("a closed cache stopped answering")
	}
	unreachable := pool.Config().Copy()
	unreachable.ConnConfig.Host, unreachable.ConnConfig.Port = "127.0.0.1", 1
	down, err := pgxpool.NewWithConfig(context.Background(), unreachable)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(down.Close)
	if err := NewCache(down, CacheConfig{}).Start(context.Background()); err == nil {
		t.Error("Start on an unreachable database succeeded")
	}
}
