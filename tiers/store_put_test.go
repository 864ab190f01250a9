package tiers

import (
	"context"
	"testing"
	"time"
)

// TestStore_PutTierCreatesOrReplaces: PutTier creates a missing tier and
// replaces an existing one, built-in tiers included, and says which it did.
func TestStore_PutTierCreatesOrReplaces(t *testing.T) {
	t.Parallel()
	store, _ := newTestStore(t)
	ctx := context.Background()
	steps := []struct {
		tier        Tier
		wantCreated bool
	}{
		{Tier{Name: "tiny", Windows: one(3, time.Minute)}, true},
		{Tier{Name: "tiny", Windows: one(3, time.Minute)}, false},
		{Tier{Name: "tiny", Windows: one(10, time.Minute), Description: "Demo plan"}, false},
		{Tier{Name: Free, Windows: one(100, 30*time.Second)}, false},
	}
	for i, s := range steps {
		got, created, err := store.PutTier(ctx, s.tier)
		if err != nil {
			t.Fatalf("put %d: %v", i+1, err)
		}
		if created != s.wantCreated || got.First().Limit != s.tier.First().Limit || got.Description != s.tier.Description {
			t.Errorf("put %d of %+v: stored %+v, created %v; want created %v", i+1, s.tier, got, created, s.wantCreated)
		}
		if read, err := store.GetTier(ctx, s.tier.Name); err != nil || !read.Equal(got) {
			t.Errorf("put %d: reads back %+v, %v; want %+v", i+1, read, err, got)
		}
	}
	if _, _, err := store.PutTier(ctx, Tier{Name: "tiny", Windows: one(0, time.Minute)}); err == nil {
		t.Error("an invalid tier was stored")
	}
}
