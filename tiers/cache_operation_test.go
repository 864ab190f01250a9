package tiers

import (
	"context"
	"testing"
	"time"
)

// Operation cost rules are announced on the same channel; the Cache must
// let them pass without the full reload an unknown payload costs.
func TestCache_IgnoresOperationNotifications(t *testing.T) {
	t.Parallel()
	_, dbURL := newTestStore(t)
	ctx := context.Background()
	_, changes := startCache(t, NewCache(newTestPool(t, dbURL), CacheConfig{}))
	psql := connect(t, dbURL)
	if _, err := psql.Exec(ctx, `INSERT INTO operations (name, method, path, cost) VALUES ('search', 'GET', '/v1/search/*', 5)`); err != nil {
		t.Fatal(err)
	}
	if _, err := psql.Exec(ctx, `UPDATE tiers SET "limit" = 77 WHERE name = 'free'`); err != nil {
		t.Fatal(err)
	}
	// Notifications are applied in order, so the tier's change is the
	// first one reported unless the operation's caused a resync.
	select {
	case ch := <-changes:
		if ch != (Change{Kind: ChangeTier, Name: Free}) {
			t.Fatalf("first change = %+v, want the tier's (the operation's notification must be ignored)", ch)
		}
	case <-time.After(propagation):
		t.Fatal("no change within a second")
	}
}
