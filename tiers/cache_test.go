package tiers

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// propagation is the spec's bound on how long a change may take to reach
// every instance.
const propagation = time.Second

func TestCache_LookupsHitMemory(t *testing.T) {
	t.Parallel()
	store, dbURL := newTestStore(t)
	ctx := context.Background()
	pro := mustCreateTier(t, store, Tier{Name: "pro", Limit: 6000, Per: time.Minute, PriceCents: 1999})
	if _, err := store.AssignClient(ctx, "paid", "pro"); err != nil {
		t.Fatal(err)
	}
	pool := newTestPool(t, dbURL)
	cache, _ := startCache(t, NewCache(pool, CacheConfig{}))

	lookups := []struct {
		id       string
		want     string
		wantHits uint64
	}{
		{"paid", "pro", 0},  // miss: one query
		{"paid", "pro", 1},  // hit
		{"nobody", Free, 1}, // miss, cached as free
		{"nobody", Free, 2}, // hit: never-assigned clients are cached too
		{"paid", "pro", 3},  // hit
		{"nobody", Free, 4}, // hit
	}
	for i, l := range lookups {
		got, err := cache.TierFor(ctx, l.id)
		if err != nil || got.Name != l.want {
			t.Fatalf("lookup %d: TierFor(%q) = %+v, %v; want %s", i, l.id, got, err, l.want)
		}
		if hits := cache.Stats().Hits; hits != l.wantHits {
			t.Errorf("lookup %d: hits = %d, want %d", i, hits, l.wantHits)
		}
	}
	if st := cache.Stats(); st.Misses != 2 || st.Clients != 2 {
		t.Errorf("stats = %+v, want 2 misses, 2 clients", st)
	}

	// With the pool closed no query can run, so these answers come from memory.
	pool.Close()
	if got, _ := cache.TierFor(ctx, "paid"); got != pro {
		t.Errorf("TierFor(paid) with the pool closed = %+v, want %+v", got, pro)
	}
	if got := tierNames(cache.Tiers()); !slices.Equal(got, []string{Anonymous, Free, "pro"}) {
		t.Errorf("Tiers() = %v", got)
	}
	if got, ok := cache.Tier("pro"); !ok || got != pro {
		t.Errorf("Tier(pro) = %+v, %v", got, ok)
	}
	if a, f := cache.Anonymous(), cache.Free(); a.Limit != 60 || a.Per != time.Minute || f.Limit != 300 || f.Per != 30*time.Second {
		t.Errorf("built-in tiers = %+v, %+v; want the seeds", a, f)
	}
	if _, err := cache.TierFor(ctx, ""); invalidFields(t, err) == nil {
		t.Errorf("TierFor(\"\") accepted an empty ID")
	}
}

func TestCache_SeesChangesWithinASecond(t *testing.T) {
	t.Parallel()
	store, dbURL := newTestStore(t)
	ctx := context.Background()
	cache, changes := startCache(t, NewCache(newTestPool(t, dbURL), CacheConfig{}))
	psql := connect(t, dbURL) // someone else, editing by hand
	if got, _ := cache.TierFor(ctx, "c1"); got.Name != Free {
		t.Fatalf("TierFor(c1) = %s, want free", got.Name)
	}

	steps := []struct {
		sql   string
		want  Change
		check func() error
	}{
		{`UPDATE tiers SET "limit" = 77 WHERE name = 'free'`, Change{Kind: ChangeTier, Name: Free}, func() error {
			// c1's negative entry points at the tier by name, so it sees the new limit.
			if got, _ := cache.TierFor(ctx, "c1"); got.Limit != 77 {
				return fmt.Errorf("TierFor(c1).Limit = %d, want 77", got.Limit)
			}
			return nil
		}},
		{`INSERT INTO tiers (name, "limit", per_seconds) VALUES ('gold', 5, 1)`, Change{Kind: ChangeTier, Name: "gold"}, func() error {
			if _, ok := cache.Tier("gold"); !ok {
				return errors.New("Tier(gold) missing")
			}
			return nil
		}},
		{`INSERT INTO clients (id, tier) VALUES ('c1', 'gold')`, Change{Kind: ChangeClient, ClientID: "c1"}, func() error {
			if got, _ := cache.TierFor(ctx, "c1"); got.Name != "gold" {
				return fmt.Errorf("TierFor(c1) = %s, want gold", got.Name)
			}
			return nil
		}},
		{`DELETE FROM clients WHERE id = 'c1'`, Change{Kind: ChangeClient, ClientID: "c1"}, func() error {
			if got, _ := cache.TierFor(ctx, "c1"); got.Name != Free {
				return fmt.Errorf("TierFor(c1) = %s, want free", got.Name)
			}
			return nil
		}},
		{`DELETE FROM tiers WHERE name = 'gold'`, Change{Kind: ChangeTier, Name: "gold"}, func() error {
			if _, ok := cache.Tier("gold"); ok {
				return errors.New("Tier(gold) still cached after delete")
			}
			return nil
		}},
	}
	for _, step := range steps {
		start := time.Now()
		if _, err := psql.Exec(ctx, step.sql); err != nil {
			t.Fatalf("%s: %v", step.sql, err)
		}
		waitChange(t, changes, propagation, step.want)
		t.Logf("%-60s seen after %v", step.sql, time.Since(start).Round(time.Millisecond))
		if err := step.check(); err != nil {
			t.Errorf("after %s: %v", step.sql, err)
		}
	}

	if err := store.NotifyReset(ctx, "c9"); err != nil {
		t.Fatal(err)
	}
	waitChange(t, changes, propagation, Change{Kind: ChangeReset, ClientID: "c9"})
}

func TestCache_LRUStaysBounded(t *testing.T) {
	t.Parallel()
	store, dbURL := newTestStore(t)
	ctx := context.Background()
	mustCreateTier(t, store, Tier{Name: "pro", Limit: 10, Per: time.Second})
	for i := 0; i < 100; i += 2 {
		if _, err := store.AssignClient(ctx, fmt.Sprint("client-", i), "pro"); err != nil {
			t.Fatal(err)
		}
	}
	const max = 10
	cache, _ := startCache(t, NewCache(newTestPool(t, dbURL), CacheConfig{MaxClients: max}))

	for i := range 100 {
		id := fmt.Sprint("client-", i)
		got, err := cache.TierFor(ctx, id)
		want := Free
		if i%2 == 0 {
			want = "pro"
		}
		if err != nil || got.Name != want {
			t.Fatalf("TierFor(%s) = %s, %v; want %s", id, got.Name, err, want)
		}
		if n := cache.Stats().Clients; n > max {
			t.Fatalf("after %d lookups the cache holds %d clients, max %d", i+1, n, max)
		}
	}
	if n := cache.Stats().Clients; n != max {
		t.Errorf("cache holds %d clients, want %d", n, max)
	}
	// The most recent are still there, the oldest were evicted.
	before := cache.Stats()
	_, _ = cache.TierFor(ctx, "client-99")
	_, _ = cache.TierFor(ctx, "client-0")
	after := cache.Stats()
	if after.Hits-before.Hits != 1 || after.Misses-before.Misses != 1 {
		t.Errorf("recent lookup should hit and evicted one miss: stats %+v then %+v", before, after)
	}
}

func TestCache_ResyncsAfterReconnect(t *testing.T) {
	t.Parallel()
	store, dbURL := newTestStore(t)
	ctx := context.Background()
	mustCreateTier(t, store, Tier{Name: "gold", Limit: 100, Per: time.Second})
	cache, changes := startCache(t, NewCache(newTestPool(t, dbURL), CacheConfig{}))
	psql := connect(t, dbURL) // opened now: it survives the outage below
	if got, _ := cache.TierFor(ctx, "c1"); got.Name != Free {
		t.Fatalf("TierFor(c1) = %s, want free", got.Name)
	}

	// Cut the listener off and keep it off: terminate its backend and refuse
	// new connections, so the changes below are notified to nobody.
	outage := refuseConnections(t, dbURL)
	oldPID := cache.listenerPID.Load()
	terminate(t, oldPID)
	waitFor(t, 2*time.Second, "listener to notice it is disconnected", func() bool { return !cache.Connected() })

	if _, err := psql.Exec(ctx, `UPDATE tiers SET "limit" = 5 WHERE name = 'gold'`); err != nil {
		t.Fatal(err)
	}
	if _, err := psql.Exec(ctx, `INSERT INTO clients (id, tier) VALUES ('c1', 'gold')`); err != nil {
		t.Fatal(err)
	}
	// Meanwhile lookups go on from memory, stale but answering.
	if got, _ := cache.TierFor(ctx, "c1"); got.Name != Free {
		t.Errorf("during the outage TierFor(c1) = %s, want the cached free", got.Name)
	}

	drain(changes)
	back := time.Now()
	outage.end()
	waitChange(t, changes, 2*time.Second, Change{Kind: ChangeResync})
	t.Logf("resynced %v after Postgres accepted connections again", time.Since(back).Round(time.Millisecond))

	if !cache.Connected() || cache.listenerPID.Load() == oldPID {
		t.Errorf("listener not on a new connection: connected=%v pid %d → %d",
			cache.Connected(), oldPID, cache.listenerPID.Load())
	}
	if got, _ := cache.Tier("gold"); got.Limit != 5 {
		t.Errorf("Tier(gold).Limit = %d, want the 5 set during the outage", got.Limit)
	}
	if got, _ := cache.TierFor(ctx, "c1"); got.Name != "gold" {
		t.Errorf("TierFor(c1) = %s, want gold (assigned during the outage)", got.Name)
	}
	// And notifications flow again on the new connection.
	if _, err := psql.Exec(ctx, `UPDATE tiers SET "limit" = 6 WHERE name = 'gold'`); err != nil {
		t.Fatal(err)
	}
	waitChange(t, changes, propagation, Change{Kind: ChangeTier, Name: "gold"})
}

func TestCache_PostgresDownAnswersFromMemory(t *testing.T) {
	t.Parallel()
	store, dbURL := newTestStore(t)
	ctx := context.Background()
	mustCreateTier(t, store, Tier{Name: "pro", Limit: 100, Per: time.Second})
	if _, err := store.AssignClient(ctx, "paid", "pro"); err != nil {
		t.Fatal(err)
	}
	cache, changes := startCache(t, NewCache(newTestPool(t, dbURL), CacheConfig{}))
	if got, _ := cache.TierFor(ctx, "paid"); got.Name != "pro" {
		t.Fatalf("TierFor(paid) = %s, want pro", got.Name)
	}
	psql := connect(t, dbURL)

	// Postgres goes away for this cache: every connection it has is killed
	// and no new one is accepted.
	outage := refuseConnections(t, dbURL)
	terminateAllBut(t, dbURL, psql.PgConn().PID())

	if got, _ := cache.TierFor(ctx, "paid"); got.Name != "pro" {
		t.Errorf("known client during the outage: TierFor(paid) = %s, want pro", got.Name)
	}
	before := cache.Stats()
	for _, id := range []string{"new-1", "new-2"} {
		start := time.Now()
		got, err := cache.TierFor(ctx, id)
		if elapsed := time.Since(start); err != nil || got.Name != Free || elapsed > time.Second {
			t.Errorf("unknown client during the outage: TierFor(%s) = %s, %v after %v; want free at once",
				id, got.Name, err, elapsed)
		}
	}
	if st := cache.Stats(); st.Clients != before.Clients || st.Fallbacks != before.Fallbacks+2 {
		t.Errorf("fallback answers must not be cached: stats %+v then %+v", before, st)
	}
	if _, ok := cache.Tier("pro"); !ok {
		t.Error("tiers forgotten during the outage")
	}
	waitFor(t, 2*time.Second, "Connected() to turn false", func() bool { return !cache.Connected() })

	if _, err := psql.Exec(ctx, `INSERT INTO clients (id, tier) VALUES ('new-1', 'pro')`); err != nil {
		t.Fatal(err)
	}
	drain(changes)
	outage.end()
	waitChange(t, changes, 2*time.Second, Change{Kind: ChangeResync})
	if got, _ := cache.TierFor(ctx, "new-1"); got.Name != "pro" {
		t.Errorf("after recovery TierFor(new-1) = %s, want pro", got.Name)
	}
}

// TestCache_LookupSurvivesABrokenPooledConnection: Postgres closes the
// pool's connections (as a restart does) while it goes on answering. The
// pool hands out a dead connection without a ping (as it does for one idle
// under a second), and the lookup must still find the client's tier, not
// fall back to free.
func TestCache_LookupSurvivesABrokenPooledConnection(t *testing.T) {
	t.Parallel()
	store, dbURL := newTestStore(t)
	ctx := context.Background()
	mustCreateTier(t, store, Tier{Name: "pro", Limit: 100, Per: time.Second})
	if _, err := store.AssignClient(ctx, "paid", "pro"); err != nil {
		t.Fatal(err)
	}
	pool := newUnpingedPool(t, dbURL)
	cache, _ := startCache(t, NewCache(pool, CacheConfig{}))
	closePooledConnections(t, pool) // the listener's is spared: no resync hides what the lookup does

	before := cache.Stats()
	if got, err := cache.TierFor(ctx, "paid"); err != nil || got.Name != "pro" {
		t.Errorf("TierFor(paid) after the pool's connections were closed = %s, %v; want pro", got.Name, err)
	}
	if st := cache.Stats(); st.Fallbacks != before.Fallbacks {
		t.Errorf("fallbacks %d → %d: the lookup fell back to free", before.Fallbacks, st.Fallbacks)
	}
}

// newUnpingedPool opens a pool on dbURL that never pings a connection
// before handing it out, as pgxpool does for one idle under a second, and
// that holds three idle connections, as a pool that has served concurrent
// requests does.
func newUnpingedPool(tb testing.TB, dbURL string) *pgxpool.Pool {
	tb.Helper()
	ctx := context.Background()
	cfg, err := pgxpool.ParseConfig(dbURL)
	if err != nil {
		tb.Fatal(err)
	}
	cfg.ShouldPing = func(context.Context, pgxpool.ShouldPingParams) bool { return false }
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(pool.Close)
	refill(tb, pool)
	return pool
}

// refill makes pool hold three idle connections again.
func refill(tb testing.TB, pool *pgxpool.Pool) {
	tb.Helper()
	var held []*pgxpool.Conn
	for range 3 {
		c, err := pool.Acquire(context.Background())
		if err != nil {
			tb.Fatal(err)
		}
		held = append(held, c)
	}
	for _, c := range held {
		c.Release()
	}
}

// closePooledConnections terminates the backends of pool's database, but a
// Cache listener's, as a restart would, and waits until they are gone: the
// pool's idle connections are dead, and Postgres answers new ones.
func closePooledConnections(tb testing.TB, pool *pgxpool.Pool) {
	tb.Helper()
	ctx := context.Background()
	if n := pool.Stat().IdleConns(); n < 3 {
		tb.Fatalf("the pool holds %d idle connections, want 3 to be closed", n)
	}
	db := pool.Config().ConnConfig.Database
	admin := connectAdmin(tb)
	const backends = `FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid() AND application_name <> $2`
	if _, err := admin.Exec(ctx, `SELECT pg_terminate_backend(pid) `+backends, db, listenerAppName); err != nil {
		tb.Fatal(err)
	}
	waitFor(tb, 5*time.Second, "the pool's backends to exit", func() bool {
		var n int
		if err := admin.QueryRow(ctx, `SELECT count(*) `+backends, db, listenerAppName).Scan(&n); err != nil {
			tb.Fatal(err)
		}
		return n == 0
	})
}

// The listener pings after idling instead of trusting a silent connection;
// an idle timeout must not be mistaken for a broken connection.
func TestCache_IdleCheckKeepsConnection(t *testing.T) {
	t.Parallel()
	dbURL := newTestDB(t)
	cache := NewCache(newTestPool(t, dbURL), CacheConfig{})
	cache.idle = 10 * time.Millisecond
	cache, changes := startCache(t, cache)
	pid := cache.listenerPID.Load()

	// Several idle checks pass without a reconnect…
	deadline := time.Now().Add(100 * time.Millisecond)
	waitFor(t, time.Second, "idle checks", func() bool {
		if cache.listenerPID.Load() != pid || !cache.Connected() {
			t.Fatalf("listener reconnected while idle")
		}
		return time.Now().After(deadline)
	})
	// …and notifications still arrive on the same connection.
	if _, err := connect(t, dbURL).Exec(context.Background(), `UPDATE tiers SET "limit" = 9 WHERE name = 'free'`); err != nil {
		t.Fatal(err)
	}
	waitChange(t, changes, propagation, Change{Kind: ChangeTier, Name: Free})
	if cache.listenerPID.Load() != pid {
		t.Error("listener reconnected while idle")
	}
}

func TestCache_UnreachableAtStart(t *testing.T) {
	t.Parallel()
	cache := NewCache(newTestPool(t, closedPortURL(t)), CacheConfig{})
	t.Cleanup(cache.Close)
	ctx := context.Background()

	if err := cache.Start(ctx); !errors.Is(err, ErrUnavailable) {
		t.Errorf("Start = %v, want ErrUnavailable", err)
	}
	start := time.Now()
	got, err := cache.TierFor(ctx, "someone")
	if elapsed := time.Since(start); err != nil || got != cache.Free() || got.Limit != 300 || elapsed > time.Second {
		t.Errorf("TierFor = %+v, %v after %v; want the seed free tier at once", got, err, elapsed)
	}
	if st := cache.Stats(); st.Clients != 0 || st.Fallbacks != 1 {
		t.Errorf("stats = %+v, want nothing cached, one fallback", st)
	}
}

func TestCache_Lifecycle(t *testing.T) {
	t.Parallel()
	dbURL := newTestDB(t)
	cache := NewCache(newTestPool(t, dbURL), CacheConfig{})
	ctx := context.Background()
	if err := cache.Start(ctx); err != nil {
		t.Fatal(err)
	}
	if err := cache.Start(ctx); err == nil {
		t.Error("second Start succeeded")
	}
	if !cache.Connected() {
		t.Error("not connected after Start")
	}
	cache.Close()
	cache.Close() // idempotent
	if cache.Connected() {
		t.Error("still connected after Close")
	}
	if got := cache.Free(); got.Limit != 300 {
		t.Errorf("after Close, Free() = %+v; lookups should keep answering", got)
	}
}

// startCache starts c, closed when the test ends, and returns it with a
// channel of the changes it reports.
func startCache(tb testing.TB, c *Cache) (*Cache, <-chan Change) {
	tb.Helper()
	changes := make(chan Change, 1024)
	c.cfg.OnChange = func(ch Change) {
		select {
		case changes <- ch:
		default:
			tb.Errorf("change channel full; dropped %+v", ch)
		}
	}
	if err := c.Start(context.Background()); err != nil {
		tb.Fatalf("Start: %v", err)
	}
	tb.Cleanup(c.Close)
	return c, changes
}

// waitChange waits up to timeout for want, skipping other changes.
func waitChange(tb testing.TB, changes <-chan Change, timeout time.Duration, want Change) {
	tb.Helper()
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	var seen []Change
	for {
		select {
		case ch := <-changes:
			if ch == want {
				return
			}
			seen = append(seen, ch)
		case <-deadline.C:
			tb.Fatalf("no %+v within %v (saw %+v)", want, timeout, seen)
		}
	}
}

func drain(changes <-chan Change) {
	for {
		select {
		case <-changes:
		default:
			return
		}
	}
}

// waitFor polls cond until it holds, failing the test after timeout.
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

// outage is a database refusing new connections until end is called.
type outage struct {
	tb    testing.TB
	admin *pgx.Conn
	name  string
	ended bool
}

// refuseConnections makes the test's database refuse new connections
// (existing ones live on), until end or the end of the test. It simulates
// Postgres being down without touching the server others share.
func refuseConnections(tb testing.TB, dbURL string) *outage {
	tb.Helper()
	cfg, err := pgx.ParseConfig(dbURL)
	if err != nil {
		tb.Fatal(err)
	}
	o := &outage{tb: tb, admin: connectAdmin(tb), name: cfg.Database}
	if _, err := o.admin.Exec(context.Background(), "ALTER DATABASE "+o.name+" ALLOW_CONNECTIONS false"); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(o.end)
	return o
}

func (o *outage) end() {
	if o.ended {
		return
	}
	o.ended = true
	if _, err := o.admin.Exec(context.Background(), "ALTER DATABASE "+o.name+" ALLOW_CONNECTIONS true"); err != nil {
		o.tb.Errorf("end outage: %v", err)
	}
}

// terminate kills one backend, as a crashing server or a DBA would.
func terminate(tb testing.TB, pid uint32) {
	tb.Helper()
	var ok bool
	if err := connectAdmin(tb).QueryRow(context.Background(), "SELECT pg_terminate_backend($1)", int32(pid)).Scan(&ok); err != nil || !ok {
		tb.Fatalf("pg_terminate_backend(%d) = %v, %v", pid, ok, err)
	}
}

// terminateAllBut kills every backend of the test's database except keep.
func terminateAllBut(tb testing.TB, dbURL string, keep uint32) {
	tb.Helper()
	cfg, err := pgx.ParseConfig(dbURL)
	if err != nil {
		tb.Fatal(err)
	}
	_, err = connectAdmin(tb).Exec(context.Background(),
		`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> $2`,
		cfg.Database, int32(keep))
	if err != nil {
		tb.Fatal(err)
	}
}
