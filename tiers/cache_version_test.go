package tiers

import (
	"context"
	"encoding/json"
	"sync"
	"testing"
	"time"
)

// Each path a change can take into a Cache must ignore one older than what
// the cache holds: the caller's own write (TierSaved and the like), a
// notification, and a write the last reload already covers.
func TestCache_OlderChangeIsIgnored(t *testing.T) {
	t.Parallel()
	store, dbURL := newTestStore(t)
	ctx := context.Background()
	mustCreateTier(t, store, Tier{Name: "pro", Windows: one(1, time.Second)})
	cache, changes := startCache(t, NewCache(newTestPool(t, dbURL), CacheConfig{}))
	older := mustUpdateTier(t, store, Tier{Name: "pro", Windows: one(2, time.Second)})
	newer := mustUpdateTier(t, store, Tier{Name: "pro", Windows: one(3, time.Second)})
	clOlder := mustAssign(t, store, "paid", Free)
	mustAssign(t, store, "paid", "pro")
	settle(t, store, changes)

	wantNewer := func(path string) {
		t.Helper()
		if got, _ := cache.Tier("pro"); !got.Equal(newer) {
			t.Errorf("%s: Tier(pro) = %+v, want the newer %+v", path, got, newer)
		}
		if got, _ := cache.TierFor(ctx, "paid"); got.Name != "pro" {
			t.Errorf("%s: TierFor(paid) = %s, want the newer assignment's pro", path, got.Name)
		}
	}
	wantNewer("listener")

	cache.TierSaved(older)
	cache.ClientSaved(clOlder)
	wantNewer("own write after a newer notification")

	forge(t, dbURL, notification{Kind: ChangeTier, Name: "pro", Version: older.Version, Deleted: true})
	forge(t, dbURL, notification{Kind: ChangeClient, ID: "paid", Tier: Free, Version: clOlder.Version})
	forge(t, dbURL, notification{Kind: ChangeClient, ID: "paid", Version: clOlder.Version, Deleted: true})
	settle(t, store, changes)
	wantNewer("notification older than what is held")

	reconnect(t, cache, changes)
	wantNewer("reload")
	cache.TierSaved(older)
	cache.ClientSaved(clOlder)
	wantNewer("own write after the reload")

	// And a newer write still goes through.
	newest := mustUpdateTier(t, store, Tier{Name: "pro", Windows: one(4, time.Second)})
	cache.TierSaved(newest)
	if got, _ := cache.Tier("pro"); !got.Equal(newest) {
		t.Errorf("Tier(pro) = %+v, want the newest %+v", got, newest)
	}
}

// A deleted row must stay deleted when the write that created it arrives
// late, on every path, a reload in between included.
func TestCache_DeletedRowIsNotBroughtBack(t *testing.T) {
	t.Parallel()
	store, dbURL := newTestStore(t)
	ctx := context.Background()
	mustCreateTier(t, store, Tier{Name: "pro", Windows: one(1, time.Second)})
	cache, changes := startCache(t, NewCache(newTestPool(t, dbURL), CacheConfig{}))

	gold := mustCreateTier(t, store, Tier{Name: "gold", Windows: one(5, time.Second)})
	assigned := mustAssign(t, store, "c1", "pro")
	settle(t, store, changes)
	deletedGold, err := store.DeleteTier(ctx, "gold")
	if err != nil {
		t.Fatal(err)
	}
	removed, err := store.UnassignClient(ctx, "c1")
	if err != nil {
		t.Fatal(err)
	}
	cache.TierDeleted(deletedGold)
	cache.ClientDeleted(removed)

	wantGone := func(path string) {
		t.Helper()
		if got, ok := cache.Tier("gold"); ok {
			t.Errorf("%s: deleted tier is back: %+v", path, got)
		}
		if got, _ := cache.TierFor(ctx, "c1"); got.Name != Free {
			t.Errorf("%s: TierFor(c1) = %s, want free (unassigned)", path, got.Name)
		}
		if n := cache.Stats().Clients; n != 0 {
			t.Errorf("%s: %d assignments held, want 0", path, n)
		}
	}
	cache.TierSaved(gold)
	cache.ClientSaved(assigned)
	wantGone("own write after the deletion")

	settle(t, store, changes) // the listener's news of the deletions
	forge(t, dbURL, notification{Kind: ChangeClient, ID: "c1", Tier: "pro", Version: assigned.Version})
	settle(t, store, changes)
	wantGone("notification of the deleted row")

	reconnect(t, cache, changes)
	cache.TierSaved(gold)
	cache.ClientSaved(assigned)
	wantGone("own write after a reload that no longer saw the row")

	// Created again, it is a newer row and comes back.
	again := mustAssign(t, store, "c1", "pro")
	cache.ClientSaved(again)
	if got, _ := cache.TierFor(ctx, "c1"); got.Name != "pro" {
		t.Errorf("TierFor(c1) after assigning again = %s, want pro", got.Name)
	}
}

// Writes of one client racing each other (two assignments and an
// unassignment, each applied by its writer as the admin handlers do) get
// versions in the order they commit, so the cache ends on what the
// database holds.
func TestCache_RacingWritesOfOneClientEndOnTheDatabase(t *testing.T) {
	t.Parallel()
	store, dbURL := newTestStore(t)
	ctx := context.Background()
	mustCreateTier(t, store, Tier{Name: "pro", Windows: one(1, time.Second)})
	cache, changes := startCache(t, NewCache(newTestPool(t, dbURL), CacheConfig{}))

	for i := range 100 {
		start := make(chan struct{})
		var wg sync.WaitGroup
		for _, tier := range []string{"pro", Free} {
			wg.Go(func() {
				<-start
				cl, err := store.AssignClient(ctx, "c1", tier, 0)
				if err != nil {
					t.Errorf("assign: %v", err)
				}
				cache.ClientSaved(cl)
			})
		}
		wg.Go(func() {
			<-start
			cl, err := store.UnassignClient(ctx, "c1")
			if err != nil {
				t.Errorf("unassign: %v", err)
			}
			cache.ClientDeleted(cl)
		})
		close(start)
		wg.Wait()
		settle(t, store, changes)
		want, err := store.GetClient(ctx, "c1")
		if err != nil {
			t.Fatal(err)
		}
		if got, _ := cache.TierFor(ctx, "c1"); got.Name != want.Tier {
			t.Fatalf("round %d: TierFor(c1) = %s; the database holds %+v", i, got.Name, want)
		}
	}
}

func mustUpdateTier(tb testing.TB, store *Store, tier Tier) Tier {
	tb.Helper()
	updated, err := store.UpdateTier(context.Background(), tier)
	if err != nil {
		tb.Fatalf("UpdateTier(%s): %v", tier.Name, err)
	}
	return updated
}

func mustAssign(tb testing.TB, store *Store, id, tier string) Client {
	tb.Helper()
	cl, err := store.AssignClient(context.Background(), id, tier, 0)
	if err != nil {
		tb.Fatalf("AssignClient(%s, %s): %v", id, tier, err)
	}
	return cl
}

// forge sends n on the change channel as the triggers would, for a
// notification that arrives after newer news.
func forge(tb testing.TB, dbURL string, n notification) {
	tb.Helper()
	payload, err := json.Marshal(n)
	if err != nil {
		tb.Fatal(err)
	}
	if _, err := connect(tb, dbURL).Exec(context.Background(), `SELECT pg_notify($1, $2)`, channel, string(payload)); err != nil {
		tb.Fatal(err)
	}
}

// settle returns once the listener has applied every notification sent
// before: it sends one more and waits for it, as they arrive in order.
func settle(tb testing.TB, store *Store, changes <-chan Change) {
	tb.Helper()
	if err := store.NotifyReset(context.Background(), "settle"); err != nil {
		tb.Fatal(err)
	}
	waitChange(tb, changes, propagation, Change{Kind: ChangeReset, ClientID: "settle"})
}

// reconnect cuts the listener's connection and waits for the reload on
// the next one.
func reconnect(tb testing.TB, cache *Cache, changes <-chan Change) {
	tb.Helper()
	drain(changes)
	terminate(tb, cache.listenerPID.Load())
	waitChange(tb, changes, 5*time.Second, Change{Kind: ChangeResync})
}
