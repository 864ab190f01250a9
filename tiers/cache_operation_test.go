package tiers

import (
	"context"
	"testing"
	"time"
)

// Operation cost rules are announced on the same channel; the Cache passes
// them on as ChangeOperation, without the full reload an unknown payload
// costs.
func TestCache_PassesOperationNotificationsOn(t *testing.T) {
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
	// Notifications are applied in order: the operation's, then the
	// tier's; a resync in between would mean the operation's was taken for
	// an unknown payload.
	for _, want := range []Change{{Kind: ChangeOperation, Name: "search"}, {Kind: ChangeTier, Name: Free}} {
		select {
		case ch := <-changes:
			if ch != want {
				t.Fatalf("change = %+v, want %+v", ch, want)
			}
		case <-time.After(propagation):
			t.Fatalf("no %+v within a second", want)
		}
	}
}
