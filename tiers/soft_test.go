package tiers

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"
)

// metered is a tier whose month window is soft and whose overage is priced.
func metered(name string) Tier {
	return Tier{Name: name, Windows: []Window{{Limit: 20, Per: time.Second}, {Limit: 1_000_000, Per: Month, Soft: true}},
		Description: "Pay as you go.", PriceCents: 4900, Currency: "EUR", OveragePriceMicros: 1500}
}

func TestTier_EqualComparesSoftAndOveragePrice(t *testing.T) {
	t.Parallel()
	a := metered("m")
	for name, edit := range map[string]func(*Tier){
		"soft":          func(t *Tier) { t.Windows = []Window{t.Windows[0], {Limit: 1_000_000, Per: Month}} },
		"overage price": func(t *Tier) { t.OveragePriceMicros++ },
	} {
		b := metered("m")
		edit(&b)
		if a.Equal(b) || b.Equal(a) {
			t.Errorf("tiers differing in %s are Equal", name)
		}
	}
	if !a.Equal(metered("m")) {
		t.Error("a tier is not Equal to a copy of itself")
	}
}

// A soft month window and an overage price come back from the Store, from
// a Cache through its notifications and from a Cache loading them at start;
// PUT without them clears them.
func TestStore_SoftMonthRoundTrip(t *testing.T) {
	t.Parallel()
	store, dbURL := newTestStore(t)
	ctx := context.Background()
	listening, changes := startCache(t, NewCache(newTestPool(t, dbURL), CacheConfig{}))

	want := metered("metered")
	created := mustCreateTier(t, store, want)
	if want.Version = created.Version; !created.Equal(want) {
		t.Fatalf("CreateTier = %+v, want %+v", created, want)
	}
	assertStored(t, store, created)
	var soft bool
	var micros int64
	if err := connect(t, dbURL).QueryRow(ctx, `SELECT soft_month, overage_price_micros FROM tiers WHERE name = 'metered'`).
		Scan(&soft, &micros); err != nil || !soft || micros != 1500 {
		t.Errorf("soft_month, overage_price_micros = %v, %d, %v; want true, 1500", soft, micros, err)
	}
	waitChange(t, changes, propagation, Change{Kind: ChangeTier, Name: "metered"})
	loading, _ := startCache(t, NewCache(newTestPool(t, dbURL), CacheConfig{}))
	for name, c := range map[string]*Cache{"notified": listening, "loaded": loading} {
		if got, ok := c.Tier("metered"); !ok || !got.Equal(created) {
			t.Errorf("%s cache holds %+v, %v; want %+v", name, got, ok, created)
		}
	}

	// A replace that leaves them out sets them to hard and free.
	hard := Tier{Name: "metered", Windows: []Window{{Limit: 1_000_000, Per: Month}}}
	replaced, created2, err := store.PutTier(ctx, hard)
	if err != nil || created2 {
		t.Fatalf("PutTier = %+v, %v, %v", replaced, created2, err)
	}
	if hard.Currency, hard.Version = DefaultCurrency, replaced.Version; !replaced.Equal(hard) {
		t.Errorf("PutTier = %+v, want %+v", replaced, hard)
	}
	assertStored(t, store, replaced)
	waitChange(t, changes, propagation, Change{Kind: ChangeTier, Name: "metered"})
	if got, _ := listening.Tier("metered"); !got.Equal(replaced) {
		t.Errorf("notified cache holds %+v, want %+v", got, replaced)
	}

	// UpdateTier writes them too.
	want = metered("metered")
	updated, err := store.UpdateTier(ctx, want)
	if want.Version = updated.Version; err != nil || !updated.Equal(want) {
		t.Errorf("UpdateTier = %+v, %v; want %+v", updated, err, want)
	}
	assertStored(t, store, updated)
}

// A patch keeps the soft window and the overage price unless it names
// them, and refuses to make a soft month anything but a month.
func TestStore_PatchSoftMonthAndOveragePrice(t *testing.T) {
	t.Parallel()
	store, dbURL := newTestStore(t)
	ctx := context.Background()
	listening, changes := startCache(t, NewCache(newTestPool(t, dbURL), CacheConfig{}))
	soft := Tier{Name: "pro", Windows: []Window{{Limit: 1000, Per: Month, Soft: true}, {Limit: 5, Per: time.Second}},
		Currency: DefaultCurrency, OveragePriceMicros: 200}
	stored := mustCreateTier(t, store, soft)

	steps := []struct {
		name  string
		patch TierPatch
		want  Tier // Version ignored
	}{
		{"price only keeps both", TierPatch{PriceCents: new(int64(100))},
			Tier{Name: "pro", Windows: soft.Windows, PriceCents: 100, Currency: DefaultCurrency, OveragePriceMicros: 200}},
		{"limit alone keeps the month soft", TierPatch{Limit: new(int64(2000))},
			Tier{Name: "pro", Windows: []Window{{Limit: 2000, Per: Month, Soft: true}, {Limit: 5, Per: time.Second}},
				PriceCents: 100, Currency: DefaultCurrency, OveragePriceMicros: 200}},
		{"overage price alone", TierPatch{OveragePriceMicros: new(int64(MaxOveragePriceMicros))},
			Tier{Name: "pro", Windows: []Window{{Limit: 2000, Per: Month, Soft: true}, {Limit: 5, Per: time.Second}},
				PriceCents: 100, Currency: DefaultCurrency, OveragePriceMicros: MaxOveragePriceMicros}},
		{"windows make the month hard", TierPatch{Windows: []Window{{Limit: 9, Per: time.Minute}, {Limit: 3000, Per: Month}}},
			Tier{Name: "pro", Windows: []Window{{Limit: 9, Per: time.Minute}, {Limit: 3000, Per: Month}},
				PriceCents: 100, Currency: DefaultCurrency, OveragePriceMicros: MaxOveragePriceMicros}},
		{"per alone of a hard window", TierPatch{Per: new(time.Hour)},
			Tier{Name: "pro", Windows: []Window{{Limit: 9, Per: time.Hour}, {Limit: 3000, Per: Month}},
				PriceCents: 100, Currency: DefaultCurrency, OveragePriceMicros: MaxOveragePriceMicros}},
		{"windows make it soft again, price reset", TierPatch{Windows: []Window{{Limit: 3000, Per: Month, Soft: true}},
			OveragePriceMicros: new(int64(0))},
			Tier{Name: "pro", Windows: []Window{{Limit: 3000, Per: Month, Soft: true}}, PriceCents: 100, Currency: DefaultCurrency}},
	}
	version := stored.Version
	for _, s := range steps {
		got, err := store.PatchTier(ctx, "pro", s.patch)
		if err != nil {
			t.Fatalf("%s: %v", s.name, err)
		}
		if s.want.Version = got.Version; !got.Equal(s.want) || got.Version <= version {
			t.Errorf("%s: PatchTier = %+v, want %+v (version above %d)", s.name, got, s.want, version)
		}
		version = got.Version
		assertStored(t, store, got)
	}
	waitFor(t, propagation, "the cache to hold the last patch", func() bool {
		got, _ := listening.Tier("pro")
		return got.Version == version
	})
	drain(changes)
	last, _ := listening.Tier("pro")

	refused := []struct {
		name   string
		patch  TierPatch
		fields []string
	}{
		{"per alone of the soft month", TierPatch{Per: new(time.Hour)}, []string{"per"}},
		{"per and limit of the soft month", TierPatch{Limit: new(int64(1)), Per: new(time.Second)}, []string{"per"}},
		{"soft window of seconds", TierPatch{Windows: []Window{{Limit: 1, Per: time.Second, Soft: true}}}, []string{"limits[0].soft"}},
		{"negative overage price", TierPatch{OveragePriceMicros: new(int64(-1))}, []string{"overage_price_micros"}},
		{"overage price above the bound", TierPatch{OveragePriceMicros: new(int64(MaxOveragePriceMicros + 1))},
			[]string{"overage_price_micros"}},
	}
	for _, r := range refused {
		_, err := store.PatchTier(ctx, "pro", r.patch)
		if got := invalidFields(t, err); !slices.Equal(got, r.fields) {
			t.Errorf("%s: fields %v (err %v), want %v", r.name, got, err, r.fields)
		}
		if got, err := store.GetTier(ctx, "pro"); err != nil || !got.Equal(last) {
			t.Errorf("%s changed the tier to %+v, %v; want %+v", r.name, got, err, last)
		}
	}
	// Month itself as the per keeps the soft month as it is.
	if got, err := store.PatchTier(ctx, "pro", TierPatch{Per: new(Month)}); err != nil ||
		!slices.Equal(got.Windows, last.Windows) {
		t.Errorf("PatchTier(per month) = %+v, %v; want windows %+v", got, err, last.Windows)
	}
}

// assertStored checks that GetTier and ListTiers read want back.
func assertStored(tb testing.TB, store *Store, want Tier) {
	tb.Helper()
	ctx := context.Background()
	if got, err := store.GetTier(ctx, want.Name); err != nil || !got.Equal(want) {
		tb.Errorf("GetTier = %+v, %v; want %+v", got, err, want)
	}
	list, err := store.ListTiers(ctx)
	if i := slices.IndexFunc(list, func(t Tier) bool { return t.Name == want.Name }); err != nil || i < 0 || !list[i].Equal(want) {
		tb.Errorf("ListTiers = %+v, %v; want %+v among them", list, err, want)
	}
}

// Upgrading to migration 9 keeps every tier as it was, hard and free of
// overage, and its version; psql then obeys the new columns' bounds, and
// their constraints name the fields.
func TestMigrate_SoftMonthKeepsEveryTier(t *testing.T) {
	t.Parallel()
	dbURL := createDatabase(t)
	ctx := context.Background()
	p, db := gooseProvider(t, dbURL)
	if _, err := p.UpTo(ctx, 8); err != nil {
		t.Fatal(err)
	}
	psql := connect(t, dbURL)
	if _, err := psql.Exec(ctx, `INSERT INTO tiers (name, limits, pers, price_cents) VALUES ('metered', '{20,1000000}', '{1,0}', 4900)`); err != nil {
		t.Fatal(err)
	}
	versionsBefore := versionsOf(t, dbURL)
	if err := Migrate(ctx, db); err != nil {
		t.Fatalf("migrate: %v", err)
	}
	if got := versionsOf(t, dbURL); got != versionsBefore {
		t.Errorf("versions and update times changed by the migration:\n%s\nthen\n%s", versionsBefore, got)
	}
	store := NewStore(newTestPool(t, dbURL))
	want := Tier{Name: "metered", Windows: []Window{{Limit: 20, Per: time.Second}, {Limit: 1_000_000, Per: Month}},
		PriceCents: 4900, Currency: DefaultCurrency}
	got, err := store.GetTier(ctx, "metered")
	if want.Version = got.Version; err != nil || !got.Equal(want) {
		t.Errorf("GetTier = %+v, %v; want %+v", got, err, want)
	}

	for _, bad := range []struct{ sql, constraint string }{
		{`INSERT INTO tiers (name, limits, pers, soft_month) VALUES ('x', '{1}', '{1}', true)`, "tiers_soft_month_check"},
		{`UPDATE tiers SET soft_month = true WHERE name = 'free'`, "tiers_soft_month_check"},
		{`UPDATE tiers SET overage_price_micros = -1 WHERE name = 'metered'`, "tiers_overage_price_micros_check"},
		{`UPDATE tiers SET overage_price_micros = 1000000000001 WHERE name = 'metered'`, "tiers_overage_price_micros_check"},
	} {
		if _, err := psql.Exec(ctx, bad.sql); err == nil || !strings.Contains(err.Error(), bad.constraint) {
			t.Errorf("%s: %v, want a violation of %s", bad.sql, err, bad.constraint)
		}
	}
	if _, err := psql.Exec(ctx, `UPDATE tiers SET soft_month = true WHERE name = 'metered'`); err != nil {
		t.Fatal(err)
	}
	want.Windows[1].Soft = true
	if got, err := store.GetTier(ctx, "metered"); err != nil || !slices.Equal(got.Windows, want.Windows) {
		t.Errorf("after psql set soft_month, windows = %+v, %v; want %+v", got.Windows, err, want.Windows)
	}
	if _, err := psql.Exec(ctx, `UPDATE tiers SET pers = '{1,2}' WHERE name = 'metered'`); err == nil ||
		!strings.Contains(err.Error(), "tiers_soft_month_check") {
		t.Errorf("dropping the soft month window: %v, want a violation of tiers_soft_month_check", err)
	}
}

// The new constraints come back as the fields they guard, as Validate
// names them where the constraint can tell.
func TestConstraintError_SoftMonthAndOveragePrice(t *testing.T) {
	t.Parallel()
	for constraint, field := range map[string]string{
		"tiers_soft_month_check":           "limits",
		"tiers_overage_price_micros_check": "overage_price_micros",
	} {
		var ve *ValidationError
		if err := constraintError(constraint); !errors.As(err, &ve) || len(ve.Fields) != 1 || ve.Fields[0].Field != field {
			t.Errorf("constraintError(%s) = %v, want one field %s", constraint, err, field)
		}
	}
}
