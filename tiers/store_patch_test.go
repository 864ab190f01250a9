package tiers

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"
)

// TestStore_PatchTier: a patch changes the fields it sets and keeps the
// others, a zero value resets a field to its default, an empty patch
// writes nothing, and a bad patch or a missing tier changes nothing.
func TestStore_PatchTier(t *testing.T) {
	t.Parallel()
	store, _ := newTestStore(t)
	ctx := context.Background()
	pro, err := store.CreateTier(ctx, Tier{Name: "pro", Windows: one(1000, time.Minute), Description: "Teams.", PriceCents: 1999, Currency: "EUR"})
	if err != nil {
		t.Fatal(err)
	}
	steps := []struct {
		name  string
		patch TierPatch
		want  Tier // Version ignored
	}{
		{"price only", TierPatch{PriceCents: new(int64(4999))}, Tier{Name: "pro", Windows: one(1000, time.Minute), Description: "Teams.", PriceCents: 4999, Currency: "EUR"}},
		{"limit and per", TierPatch{Limit: new(int64(5)), Per: new(time.Hour)}, Tier{Name: "pro", Windows: one(5, time.Hour), Description: "Teams.", PriceCents: 4999, Currency: "EUR"}},
		{"resets to defaults", TierPatch{Description: new(""), PriceCents: new(int64(0)), Currency: new("")}, Tier{Name: "pro", Windows: one(5, time.Hour), Currency: DefaultCurrency}},
		{"windows replaced", TierPatch{Windows: []Window{{Limit: 20, Per: time.Second}, {Limit: 6000, Per: time.Hour}, {Limit: 1_000_000, Per: Month}}},
			Tier{Name: "pro", Windows: []Window{{Limit: 20, Per: time.Second}, {Limit: 6000, Per: time.Hour}, {Limit: 1_000_000, Per: Month}}, Currency: DefaultCurrency}},
		{"limit alone patches the first window", TierPatch{Limit: new(int64(30))},
			Tier{Name: "pro", Windows: []Window{{Limit: 30, Per: time.Second}, {Limit: 6000, Per: time.Hour}, {Limit: 1_000_000, Per: Month}}, Currency: DefaultCurrency}},
		{"per alone patches the first window", TierPatch{Per: new(2 * time.Second)},
			Tier{Name: "pro", Windows: []Window{{Limit: 30, Per: 2 * time.Second}, {Limit: 6000, Per: time.Hour}, {Limit: 1_000_000, Per: Month}}, Currency: DefaultCurrency}},
		{"windows then limit", TierPatch{Windows: []Window{{Limit: 7, Per: Month}, {Limit: 1, Per: time.Second}}, Limit: new(int64(8))},
			Tier{Name: "pro", Windows: []Window{{Limit: 8, Per: Month}, {Limit: 1, Per: time.Second}}, Currency: DefaultCurrency}},
	}
	version := pro.Version
	for _, s := range steps {
		got, err := store.PatchTier(ctx, "pro", s.patch)
		if err != nil {
			t.Fatalf("%s: %v", s.name, err)
		}
		if got.Version <= version {
			t.Errorf("%s: version %d, want more than %d", s.name, got.Version, version)
		}
		version, s.want.Version = got.Version, got.Version
		if !got.Equal(s.want) {
			t.Errorf("%s: stored %+v, want %+v", s.name, got, s.want)
		}
		if read, err := store.GetTier(ctx, "pro"); err != nil || !read.Equal(got) {
			t.Errorf("%s: reads back %+v, %v; want %+v", s.name, read, err, got)
		}
	}

	before, _ := store.GetTier(ctx, "pro")
	if got, err := store.PatchTier(ctx, "pro", TierPatch{}); err != nil || !got.Equal(before) {
		t.Errorf("empty patch: %+v, %v; want the tier unwritten %+v", got, err, before)
	}
	var ve *ValidationError
	_, err = store.PatchTier(ctx, "pro", TierPatch{Limit: new(int64(0)), Currency: new("euro"), Description: new("ok")})
	if !errors.As(err, &ve) || fieldsOf(ve) != "limits[0].limit,currency" {
		t.Errorf("invalid patch: %v, want a ValidationError naming limits[0].limit and currency only", err)
	}
	// A per alone equal to another stored window's: only the database knows.
	_, err = store.PatchTier(ctx, "pro", TierPatch{Per: new(time.Second)})
	if !errors.As(err, &ve) || fieldsOf(ve) != "limits" {
		t.Errorf("patch of per to a second window's: %v, want a ValidationError naming limits", err)
	}
	_, err = store.PatchTier(ctx, "pro", TierPatch{Windows: []Window{}})
	if !errors.As(err, &ve) || fieldsOf(ve) != "limits" {
		t.Errorf("patch to no windows: %v, want a ValidationError naming limits", err)
	}
	if got, _ := store.GetTier(ctx, "pro"); !got.Equal(before) {
		t.Errorf("after refused patches: %+v, want unchanged %+v", got, before)
	}
	if _, err := store.PatchTier(ctx, "ghost", TierPatch{Limit: new(int64(1))}); !errors.Is(err, ErrNotFound) {
		t.Errorf("patch of a missing tier: %v, want ErrNotFound", err)
	}
	if _, err := store.PatchTier(ctx, "Bad Name", TierPatch{}); !errors.As(err, &ve) {
		t.Errorf("patch of a bad name: %v, want a ValidationError", err)
	}
	if after, _ := store.GetTier(ctx, "pro"); !after.Equal(before) {
		t.Errorf("bad patches changed the tier: %+v, was %+v", after, before)
	}
}

// TestStore_PatchTierConcurrent: two patches of different fields racing
// on one tier both take effect, every time; a read-modify-write would
// lose one of them whenever both read before either wrote.
func TestStore_PatchTierConcurrent(t *testing.T) {
	t.Parallel()
	store, _ := newTestStore(t)
	ctx := context.Background()
	for i := range 50 {
		if _, _, err := store.PutTier(ctx, Tier{Name: "race", Windows: one(1, time.Second)}); err != nil {
			t.Fatal(err)
		}
		limit, price := int64(100+i), int64(200+i)
		var wg sync.WaitGroup
		start := make(chan struct{})
		errs := make([]error, 2)
		for j, p := range []TierPatch{{Limit: &limit}, {PriceCents: &price}} {
			wg.Go(func() {
				<-start
				_, errs[j] = store.PatchTier(ctx, "race", p)
			})
		}
		close(start)
		wg.Wait()
		if err := errors.Join(errs...); err != nil {
			t.Fatal(err)
		}
		got, err := store.GetTier(ctx, "race")
		if err != nil || got.First().Limit != limit || got.PriceCents != price {
			t.Fatalf("round %d: %+v, %v; want limit %d and price %d", i, got, err, limit, price)
		}
	}
}

// fieldsOf lists the fields a ValidationError names, comma-separated.
func fieldsOf(v *ValidationError) string {
	s := ""
	for i, f := range v.Fields {
		if i > 0 {
			s += ","
		}
		s += f.Field
	}
	return s
}
