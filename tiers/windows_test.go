package tiers

import (
	"context"
	"strings"
	"testing"
	"time"
)

// threeWindows is a tier of every kind of window: seconds, hours, a month.
func threeWindows(name string) Tier {
	return Tier{Name: name, Windows: []Window{{Limit: 20, Per: time.Second}, {Limit: 6000, Per: time.Hour}, {Limit: 1_000_000, Per: Month}},
		Description: "Three windows.", PriceCents: 4900, Currency: "EUR"}
}

// Upgrading a Part 1 database (migration 5) keeps every tier, as one window
// of its old limit and per, and every assignment, on anchor day 1; the rows
// keep their versions, and Store and Cache read them.
func TestMigrate_WindowsKeepEveryTierAndAssignment(t *testing.T) {
	t.Parallel()
	dbURL := createDatabase(t)
	ctx := context.Background()
	p, db := gooseProvider(t, dbURL)
	if _, err := p.UpTo(ctx, 5); err != nil {
		t.Fatal(err)
	}
	psql := connect(t, dbURL)
	if _, err := psql.Exec(ctx, `
		INSERT INTO tiers (name, "limit", per_seconds, description, price_cents, currency)
			VALUES ('pro', 6000, 60, 'Teams.', 1999, 'EUR'), ('basic', 10, 1, '', 0, 'USD'),
			       ('yearly', 1000000000, 31536000, 'Big.', 1000000000000, 'JPY');
		UPDATE tiers SET "limit" = 7, per_seconds = 3600 WHERE name = 'free';
		INSERT INTO clients (id, tier) VALUES ('c1', 'pro'), ('c2', 'basic'), ('c3', 'pro'), ('c4', 'free')`); err != nil {
		t.Fatal(err)
	}
	versionsBefore := versionsOf(t, dbURL)

	if err := Migrate(ctx, db); err != nil {
		t.Fatalf("migrate: %v", err)
	}
	if got := versionsOf(t, dbURL); got != versionsBefore {
		t.Errorf("versions and update times changed by the migration:\n%s\nthen\n%s", versionsBefore, got)
	}

	want := []Tier{
		{Name: Anonymous, Windows: one(60, time.Minute), Currency: "USD"},
		{Name: "basic", Windows: one(10, time.Second), Currency: "USD"},
		{Name: Free, Windows: one(7, time.Hour), Currency: "USD"},
		{Name: "pro", Windows: one(6000, time.Minute), Description: "Teams.", PriceCents: 1999, Currency: "EUR"},
		{Name: "yearly", Windows: one(MaxLimit, MaxPer), Description: "Big.", PriceCents: MaxPriceCents, Currency: "JPY"},
	}
	store := NewStore(newTestPool(t, dbURL))
	list, err := store.ListTiers(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != len(want) {
		t.Fatalf("ListTiers = %v, want %v", tierNames(list), tierNames(want))
	}
	cache, _ := startCache(t, NewCache(newTestPool(t, dbURL), CacheConfig{}))
	for _, w := range want {
		got, err := store.GetTier(ctx, w.Name)
		if err != nil {
			t.Fatalf("GetTier(%s): %v", w.Name, err)
		}
		if w.Name == Anonymous || w.Name == Free {
			w.Description = got.Description // seeded text
		}
		if w.Version = got.Version; !got.Equal(w) || got.Version <= 0 {
			t.Errorf("GetTier(%s) = %+v, want %+v", w.Name, got, w)
		}
		if cached, ok := cache.Tier(w.Name); !ok || !cached.Equal(got) {
			t.Errorf("cache.Tier(%s) = %+v, %v; want %+v", w.Name, cached, ok, got)
		}
	}
	for id, tier := range map[string]string{"c1": "pro", "c2": "basic", "c3": "pro", "c4": Free, "never": Free} {
		cl, err := store.GetClient(ctx, id)
		if err != nil || cl.Tier != tier || cl.AnchorDay != 1 || cl.Assigned != (id != "never") {
			t.Errorf("GetClient(%s) = %+v, %v; want on %s, anchor day 1", id, cl, err, tier)
		}
		got, day, err := cache.PlanFor(ctx, id)
		if err != nil || got.Name != tier || day != 1 {
			t.Errorf("PlanFor(%s) = %s, %d, %v; want %s, 1", id, got.Name, day, err, tier)
		}
	}
	page, err := store.ListClients(ctx, ListClientsParams{})
	if err != nil || len(page.Clients) != 4 {
		t.Fatalf("ListClients = %+v, %v; want the 4 assignments", page, err)
	}
	for _, cl := range page.Clients {
		if cl.AnchorDay != 1 {
			t.Errorf("listed %+v, want anchor day 1", cl)
		}
	}
}

// versionsOf renders every row's key, version and updated_at.
func versionsOf(tb testing.TB, dbURL string) string {
	tb.Helper()
	var s string
	err := connect(tb, dbURL).QueryRow(context.Background(), `
		SELECT string_agg(k, E'\n' ORDER BY k) FROM (
			SELECT 'tier ' || name || ' ' || version || ' ' || updated_at AS k FROM tiers
			UNION ALL SELECT 'client ' || id || ' ' || version || ' ' || updated_at FROM clients) r`).Scan(&s)
	if err != nil {
		tb.Fatal(err)
	}
	return s
}

// A tier of three windows (a month among them) and an assignment on the
// 15th come back whole from the Store, from a second Cache through its
// notifications, and from a Cache loading them at start.
func TestStore_WindowsAndAnchorDayRoundTrip(t *testing.T) {
	t.Parallel()
	store, dbURL := newTestStore(t)
	ctx := context.Background()
	listening, changes := startCache(t, NewCache(newTestPool(t, dbURL), CacheConfig{}))

	want := threeWindows("metered")
	created := mustCreateTier(t, store, want)
	if want.Version = created.Version; !created.Equal(want) {
		t.Fatalf("CreateTier = %+v, want %+v", created, want)
	}
	cl, err := store.AssignClient(ctx, "c15", "metered", 15)
	if err != nil || cl.AnchorDay != 15 || cl.Tier != "metered" {
		t.Fatalf("AssignClient = %+v, %v; want on metered, anchor day 15", cl, err)
	}
	for name, get := range map[string]func() (Tier, error){
		"GetTier": func() (Tier, error) { return store.GetTier(ctx, "metered") },
		"ListTiers": func() (Tier, error) {
			list, err := store.ListTiers(ctx)
			for _, t := range list {
				if t.Name == "metered" {
					return t, err
				}
			}
			return Tier{}, err
		},
	} {
		if got, err := get(); err != nil || !got.Equal(created) {
			t.Errorf("%s = %+v, %v; want %+v", name, got, err, created)
		}
	}
	if got, err := store.GetClient(ctx, "c15"); err != nil || got.AnchorDay != 15 {
		t.Errorf("GetClient = %+v, %v; want anchor day 15", got, err)
	}

	waitChange(t, changes, propagation, Change{Kind: ChangeClient, ClientID: "c15"})
	loading, _ := startCache(t, NewCache(newTestPool(t, dbURL), CacheConfig{}))
	for name, c := range map[string]*Cache{"notified": listening, "loaded": loading} {
		got, day, err := c.PlanFor(ctx, "c15")
		if err != nil || !got.Equal(created) || day != 15 {
			t.Errorf("%s cache: PlanFor(c15) = %+v, %d, %v; want %+v, 15", name, got, day, err, created)
		}
		if got, day, _ := c.PlanFor(ctx, "nobody"); got.Name != Free || day != 1 {
			t.Errorf("%s cache: PlanFor(nobody) = %s, %d; want free, 1", name, got.Name, day)
		}
	}

	// The Part 1 columns follow the first window, a month as 31 days.
	month := TierPatch{Windows: []Window{{Limit: 1_000_000, Per: Month}, {Limit: 20, Per: time.Second}}}
	patched, err := store.PatchTier(ctx, "metered", month)
	if err != nil {
		t.Fatal(err)
	}
	var limit int64
	var per int32
	if err := connect(t, dbURL).QueryRow(ctx, `SELECT "limit", per_seconds FROM tiers WHERE name = 'metered'`).Scan(&limit, &per); err != nil ||
		limit != 1_000_000 || per != 31*24*3600 {
		t.Errorf(`"limit", per_seconds = %d, %d, %v; want 1000000, 2678400`, limit, per, err)
	}
	waitChange(t, changes, propagation, Change{Kind: ChangeTier, Name: "metered"})
	if got, _ := listening.Tier("metered"); !got.Equal(patched) {
		t.Errorf("notified cache holds %+v, want %+v", got, patched)
	}

	// Unassigning is notified with the deletion; the anchor day goes too.
	if _, err := store.UnassignClient(ctx, "c15"); err != nil {
		t.Fatal(err)
	}
	waitChange(t, changes, propagation, Change{Kind: ChangeClient, ClientID: "c15"})
	if got, day, _ := listening.PlanFor(ctx, "c15"); got.Name != Free || day != 1 {
		t.Errorf("after unassign PlanFor(c15) = %s, %d; want free, 1", got.Name, day)
	}

	// DeleteTier returns the row as it was, windows included.
	if deleted, err := store.DeleteTier(ctx, "metered"); err != nil || !deleted.Equal(patched) {
		t.Errorf("DeleteTier = %+v, %v; want %+v", deleted, err, patched)
	}
	waitChange(t, changes, propagation, Change{Kind: ChangeTier, Name: "metered"})
	if got, ok := listening.Tier("metered"); ok {
		t.Errorf("notified cache still holds %+v after the deletion", got)
	}
}

// psql obeys the windows' bounds too, and a Part 1 write still works.
func TestMigrate_WindowConstraints(t *testing.T) {
	t.Parallel()
	_, dbURL := newTestStore(t)
	psql := connect(t, dbURL)
	ctx := context.Background()
	for _, bad := range []string{
		`INSERT INTO tiers (name, limits, pers) VALUES ('x', '{1,2,3,4,5}', '{1,2,3,4,5}')`,
		`INSERT INTO tiers (name, limits, pers) VALUES ('x', '{}', '{}')`,
		`INSERT INTO tiers (name, limits, pers) VALUES ('x', '{1,2}', '{5,5}')`,
		`INSERT INTO tiers (name, limits, pers) VALUES ('x', '{1,2}', '{0,0}')`,
		`INSERT INTO tiers (name, limits, pers) VALUES ('x', '{1,2}', '{5}')`,
		`INSERT INTO tiers (name, limits, pers) VALUES ('x', '{1,NULL}', '{5,6}')`,
		`INSERT INTO tiers (name, limits, pers) VALUES ('x', '{0}', '{5}')`,
		`INSERT INTO tiers (name, limits, pers) VALUES ('x', '{1}', '{31536001}')`,
		`INSERT INTO tiers (name, limits, pers) VALUES ('x', '{1}', '{-1}')`,
		`INSERT INTO clients (id, tier, anchor_day) VALUES ('c', 'free', 29)`,
		`INSERT INTO clients (id, tier, anchor_day) VALUES ('c', 'free', 0)`,
	} {
		_, err := psql.Exec(ctx, bad)
		if err == nil || !strings.Contains(err.Error(), "violates") {
			t.Errorf("%s: %v, want a constraint violation", bad, err)
		}
	}
	store := NewStore(newTestPool(t, dbURL))
	if _, err := psql.Exec(ctx, `INSERT INTO tiers (name, "limit", per_seconds) VALUES ('old', 5, 10);
		UPDATE tiers SET "limit" = 6 WHERE name = 'old'`); err != nil {
		t.Fatal(err)
	}
	if got, err := store.GetTier(ctx, "old"); err != nil || !slicesEqual(got.Windows, one(6, 10*time.Second)) {
		t.Errorf("tier written the Part 1 way reads %+v, %v; want one window of 6 per 10 s", got, err)
	}
}

func slicesEqual(a, b []Window) bool { return Tier{Windows: a}.Equal(Tier{Windows: b}) }
