package tiers

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"
)

// propagation is the spec's bound on how long a change may take to reach
// every instance.
const propagation = time.Second

func TestCache_AnswersFromMemory(t *testing.T) {
	t.Parallel()
	store, dbURL := newTestStore(t)
	ctx := context.Background()
	pro := mustCreateTier(t, store, Tier{Name: "pro", Windows: one(6000, time.Minute), PriceCents: 1999})
	if _, err := store.AssignClient(ctx, "paid", "pro", 0); err != nil {
		t.Fatal(err)
	}
	pool := newTestPool(t, dbURL)
	cache, _ := startCache(t, NewCache(pool, CacheConfig{}))

	// With the pool closed no query can run, so these answers come from memory.
	pool.Close()
	for _, l := range []struct{ id, want string }{{"paid", "pro"}, {"nobody", Free}, {"paid", "pro"}} {
		if got, err := cache.TierFor(ctx, l.id); err != nil || got.Name != l.want {
			t.Errorf("TierFor(%q) = %+v, %v; want %s", l.id, got, err, l.want)
		}
	}
	if got, _ := cache.TierFor(ctx, "paid"); !got.Equal(pro) {
		t.Errorf("TierFor(paid) = %+v, want %+v", got, pro)
	}
	if st := cache.Stats(); st.Clients != 1 {
		t.Errorf("stats = %+v, want the one assignment", st)
	}
	if got := tierNames(cache.Tiers()); !slices.Equal(got, []string{Anonymous, Free, "pro"}) {
		t.Errorf("Tiers() = %v", got)
	}
	if got, ok := cache.Tier("pro"); !ok || !got.Equal(pro) {
		t.Errorf("Tier(pro) = %+v, %v", got, ok)
	}
	if a, f := cache.Anonymous(), cache.Free(); a.First().Limit != 60 || a.First().Per != time.Minute || f.First().Limit != 300 || f.First().Per != 30*time.Second {
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
			if got, _ := cache.TierFor(ctx, "c1"); got.First().Limit != 77 {
				return fmt.Errorf("TierFor(c1).Limit = %d, want 77", got.First().Limit)
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

func TestCache_ResyncsAfterReconnect(t *testing.T) {
	t.Parallel()
	store, dbURL := newTestStore(t)
	ctx := context.Background()
	mustCreateTier(t, store, Tier{Name: "gold", Windows: one(100, time.Second)})
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
	if got, _ := cache.Tier("gold"); got.First().Limit != 5 {
		t.Errorf("Tier(gold).Limit = %d, want the 5 set during the outage", got.First().Limit)
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
	mustCreateTier(t, store, Tier{Name: "pro", Windows: one(100, time.Second)})
	if _, err := store.AssignClient(ctx, "paid", "pro", 0); err != nil {
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
	if st := cache.Stats(); st.Clients != before.Clients {
		t.Errorf("lookups of unassigned clients changed the assignments held: stats %+v then %+v", before, st)
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
	if elapsed := time.Since(start); err != nil || !got.Equal(cache.Free()) || got.First().Limit != 300 || elapsed > time.Second {
		t.Errorf("TierFor = %+v, %v after %v; want the seed free tier at once", got, err, elapsed)
	}
	if st := cache.Stats(); st.Clients != 0 {
		t.Errorf("stats = %+v, want nothing held", st)
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
	if got := cache.Free(); got.First().Limit != 300 {
		t.Errorf("after Close, Free() = %+v; lookups should keep answering", got)
	}
}
