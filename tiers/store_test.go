package tiers

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

func TestStore_TierCRUD(t *testing.T) {
	t.Parallel()
	store, _ := newTestStore(t)
	ctx := context.Background()

	created := map[string]Tier{}
	for _, tier := range []Tier{
		{Name: "pro", Windows: one(6000, time.Minute), Description: "Teams.", PriceCents: 1999},
		{Name: "basic", Windows: one(1000, time.Minute), PriceCents: 999, Currency: "EUR"},
		{Name: "enterprise", Windows: one(MaxLimit, MaxPer), PriceCents: 99900},
		{Name: "zero-cost", Windows: one(1, time.Second)},
	} {
		got, err := store.CreateTier(ctx, tier)
		if err != nil {
			t.Fatalf("CreateTier(%s): %v", tier.Name, err)
		}
		if tier.Currency == "" {
			tier.Currency = DefaultCurrency
		}
		if got.Version <= 0 {
			t.Errorf("CreateTier(%s) returned version %d, want one set", tier.Name, got.Version)
		}
		if tier.Version = got.Version; !got.Equal(tier) {
			t.Errorf("CreateTier returned %+v, want %+v", got, tier)
		}
		created[tier.Name] = tier
	}

	t.Run("get returns what was stored", func(t *testing.T) {
		for name, want := range created {
			if got, err := store.GetTier(ctx, name); err != nil || !got.Equal(want) {
				t.Errorf("GetTier(%s) = %+v, %v; want %+v", name, got, err, want)
			}
		}
	})

	t.Run("list is ordered by price then name", func(t *testing.T) {
		list, err := store.ListTiers(ctx)
		if err != nil {
			t.Fatal(err)
		}
		want := []string{"anonymous", "free", "zero-cost", "basic", "pro", "enterprise"}
		if got := tierNames(list); !slices.Equal(got, want) {
			t.Errorf("ListTiers() = %v, want %v", got, want)
		}
	})

	t.Run("update replaces every field", func(t *testing.T) {
		want := Tier{Name: "pro", Windows: one(10, 10*time.Second), Currency: "USD"}
		got, err := store.UpdateTier(ctx, Tier{Name: "pro", Windows: one(10, 10*time.Second)})
		if err == nil && got.Version <= created["pro"].Version {
			t.Errorf("version %d after update, want more than %d", got.Version, created["pro"].Version)
		}
		if want.Version = got.Version; err != nil || !got.Equal(want) {
			t.Fatalf("UpdateTier = %+v, %v; want %+v", got, err, want)
		}
		if got, _ := store.GetTier(ctx, "pro"); !got.Equal(want) {
			t.Errorf("after update GetTier = %+v, want %+v", got, want)
		}
	})

	t.Run("built-in tiers are editable", func(t *testing.T) {
		want := Tier{Name: Free, Windows: one(1000, time.Minute), Description: "More.", Currency: "USD"}
		got, err := store.UpdateTier(ctx, want)
		if want.Version = got.Version; err != nil || !got.Equal(want) {
			t.Fatalf("UpdateTier(free) = %+v, %v; want %+v", got, err, want)
		}
	})

	t.Run("delete removes", func(t *testing.T) {
		if got, err := store.DeleteTier(ctx, "basic"); err != nil || !got.Equal(created["basic"]) {
			t.Fatalf("DeleteTier = %+v, %v; want the tier as it was, %+v", got, err, created["basic"])
		}
		if _, err := store.GetTier(ctx, "basic"); !errors.Is(err, ErrNotFound) {
			t.Errorf("GetTier after delete: %v, want ErrNotFound", err)
		}
	})
}

func TestStore_Clients(t *testing.T) {
	t.Parallel()
	store, _ := newTestStore(t)
	ctx := context.Background()
	mustCreateTier(t, store, Tier{Name: "pro", Windows: one(100, time.Minute)})

	steps := []struct {
		name string
		do   func() (Client, error)
		want Client
	}{
		{"never assigned reads as free", func() (Client, error) { return store.GetClient(ctx, "ann") },
			Client{ID: "ann", Tier: Free, AnchorDay: 1}},
		{"assign", func() (Client, error) { return store.AssignClient(ctx, "ann", "pro", 0) },
			Client{ID: "ann", Tier: "pro", Assigned: true, AnchorDay: 1}},
		{"get assigned", func() (Client, error) { return store.GetClient(ctx, "ann") },
			Client{ID: "ann", Tier: "pro", Assigned: true, AnchorDay: 1}},
		{"assign with an anchor day", func() (Client, error) { return store.AssignClient(ctx, "ann", "pro", 15) },
			Client{ID: "ann", Tier: "pro", Assigned: true, AnchorDay: 15}},
		{"get anchor day", func() (Client, error) { return store.GetClient(ctx, "ann") },
			Client{ID: "ann", Tier: "pro", Assigned: true, AnchorDay: 15}},
		{"list anchor day", func() (Client, error) {
			page, err := store.ListClients(ctx, ListClientsParams{})
			if err != nil || len(page.Clients) != 1 {
				return Client{}, fmt.Errorf("list: %+v, %v", page, err)
			}
			return page.Clients[0], nil
		}, Client{ID: "ann", Tier: "pro", Assigned: true, AnchorDay: 15}},
		{"reassign explicitly to free, anchor day back to 1", func() (Client, error) { return store.AssignClient(ctx, "ann", Free, 0) },
			Client{ID: "ann", Tier: Free, Assigned: true, AnchorDay: 1}},
		{"assign on the 28th", func() (Client, error) { return store.AssignClient(ctx, "ann", Free, 28) },
			Client{ID: "ann", Tier: Free, Assigned: true, AnchorDay: 28}},
		{"unassign returns what it removed", func() (Client, error) { return store.UnassignClient(ctx, "ann") },
			Client{ID: "ann", Tier: Free, Assigned: true, AnchorDay: 28}},
		{"unassigned reads as free", func() (Client, error) { return store.GetClient(ctx, "ann") },
			Client{ID: "ann", Tier: Free, AnchorDay: 1}},
		{"unassign is idempotent", func() (Client, error) { return store.UnassignClient(ctx, "ann") },
			Client{ID: "ann", Tier: Free, AnchorDay: 1}},
	}
	for _, step := range steps {
		got, err := step.do()
		if step.want.Assigned && got.Version <= 0 {
			t.Errorf("%s: version %d, want one set", step.name, got.Version)
		}
		if got.Version = 0; err != nil || got != step.want {
			t.Fatalf("%s: got %+v, %v; want %+v", step.name, got, err, step.want)
		}
	}
}

func TestStore_Errors(t *testing.T) {
	t.Parallel()
	store, dbURL := newTestStore(t)
	ctx := context.Background()
	mustCreateTier(t, store, Tier{Name: "pro", Windows: one(100, time.Minute)})
	if _, err := store.AssignClient(ctx, "c-pro", "pro", 0); err != nil {
		t.Fatal(err)
	}
	before := snapshot(t, dbURL)

	valid := Tier{Name: "pro", Windows: one(1, time.Second)}
	tests := []struct {
		name    string
		op      func() error
		wantErr error    // a sentinel, or nil when wantFields is set
		fields  []string // fields of the expected *ValidationError
	}{
		{"get missing tier", func() error { _, err := store.GetTier(ctx, "gold"); return err }, ErrNotFound, nil},
		{"get invalid name", func() error { _, err := store.GetTier(ctx, "Gold!"); return err }, nil, []string{"name"}},
		{"create duplicate", func() error { _, err := store.CreateTier(ctx, valid); return err }, ErrConflict, nil},
		{"create duplicate of free", func() error {
			_, err := store.CreateTier(ctx, Tier{Name: Free, Windows: one(1, time.Second)})
			return err
		}, ErrConflict, nil},
		{"create invalid", func() error {
			_, err := store.CreateTier(ctx, Tier{Name: "new", Currency: "dollars"})
			return err
		}, nil, []string{"limits", "currency"}},
		{"update missing", func() error {
			_, err := store.UpdateTier(ctx, Tier{Name: "gold", Windows: one(1, time.Second)})
			return err
		}, ErrNotFound, nil},
		{"update invalid", func() error {
			_, err := store.UpdateTier(ctx, Tier{Name: "pro", Windows: one(-1, time.Second), PriceCents: -1})
			return err
		}, nil, []string{"limits[0].limit", "price_cents"}},
		{"delete missing", func() error { _, err := store.DeleteTier(ctx, "gold"); return err }, ErrNotFound, nil},
		{"delete anonymous", func() error { _, err := store.DeleteTier(ctx, Anonymous); return err }, ErrProtected, nil},
		{"delete free", func() error { _, err := store.DeleteTier(ctx, Free); return err }, ErrProtected, nil},
		{"delete tier in use", func() error { _, err := store.DeleteTier(ctx, "pro"); return err }, ErrInUse, nil},
		{"delete invalid name", func() error { _, err := store.DeleteTier(ctx, ""); return err }, nil, []string{"name"}},
		{"assign unknown tier", func() error { _, err := store.AssignClient(ctx, "c-new", "gold", 0); return err }, ErrUnknownTier, nil},
		{"reassign to unknown tier", func() error { _, err := store.AssignClient(ctx, "c-pro", "gold", 0); return err }, ErrUnknownTier, nil},
		{"assign invalid", func() error { _, err := store.AssignClient(ctx, "", "Gold", 0); return err }, nil, []string{"id", "tier"}},
		{"assign anchor day 29", func() error { _, err := store.AssignClient(ctx, "c-new", "pro", 29); return err }, nil, []string{"anchor_day"}},
		{"assign anchor day -1", func() error { _, err := store.AssignClient(ctx, "c-pro", "pro", -1); return err }, nil, []string{"anchor_day"}},
		{"get client invalid id", func() error { _, err := store.GetClient(ctx, "a\x00"); return err }, nil, []string{"id"}},
		{"unassign invalid id", func() error { _, err := store.UnassignClient(ctx, strings.Repeat("x", 256)); return err }, nil, []string{"id"}},
		{"list invalid params", func() error {
			_, err := store.ListClients(ctx, ListClientsParams{Tier: "P", After: "\xff", Limit: MaxListLimit + 1})
			return err
		}, nil, []string{"tier", "after", "limit"}},
		{"list negative limit", func() error { _, err := store.ListClients(ctx, ListClientsParams{Limit: -1}); return err }, nil, []string{"limit"}},
		{"list search too long", func() error {
			_, err := store.ListClients(ctx, ListClientsParams{Search: strings.Repeat("é", MaxSearchLen/2) + "x"})
			return err
		}, nil, []string{"q"}},
		{"list search not UTF-8", func() error { _, err := store.ListClients(ctx, ListClientsParams{Search: "a\xff"}); return err }, nil, []string{"q"}},
		{"list search with a control character", func() error {
			_, err := store.ListClients(ctx, ListClientsParams{Search: "a\nb"})
			return err
		}, nil, []string{"q"}},
		{"notify reset invalid id", func() error { return store.NotifyReset(ctx, "") }, nil, []string{"id"}},
	}
	t.Run("cases", func(t *testing.T) {
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				t.Parallel()
				err := tt.op()
				if tt.fields != nil {
					if got := invalidFields(t, err); !slices.Equal(got, tt.fields) {
						t.Errorf("fields = %v, want %v", got, tt.fields)
					}
					return
				}
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("err = %v, want %v", err, tt.wantErr)
				}
				if msg := err.Error(); strings.Contains(msg, "SQLSTATE") || strings.Contains(msg, "constraint") {
					t.Errorf("message leaks database details: %q", msg)
				}
			})
		}
	})

	// Every case above was a failed write or a read: nothing may have changed.
	if after := snapshot(t, dbURL); after != before {
		t.Errorf("failed operations changed the database:\nbefore:\n%s\nafter:\n%s", before, after)
	}
}

func TestStore_ListClientsWalksEveryClientOnce(t *testing.T) {
	t.Parallel()
	store, _ := newTestStore(t)
	ctx := context.Background()
	mustCreateTier(t, store, Tier{Name: "pro", Windows: one(100, time.Minute)})

	tierOf := map[string]string{}
	for i := range 53 {
		id := fmt.Sprintf("client-%02d", i)
		if i%10 == 0 {
			id = fmt.Sprintf("Ünïcode-%d 用户", i) // sorts after ASCII, bytewise
		}
		tier := "pro"
		if i%3 == 0 {
			tier = Free
		}
		if _, err := store.AssignClient(ctx, id, tier, 0); err != nil {
			t.Fatal(err)
		}
		tierOf[id] = tier
	}

	for _, filter := range []string{"", "pro", Free, "anonymous"} {
		var want []string
		for id, tier := range tierOf {
			if filter == "" || tier == filter {
				want = append(want, id)
			}
		}
		slices.Sort(want) // Go orders strings bytewise, as COLLATE "C" does

		var got []string
		params := ListClientsParams{Tier: filter, Limit: 7}
		// pro's 35 clients fill exactly five pages: the fifth must say no
		// page follows, rather than send the caller to an empty sixth.
		wantPages := max(1, (len(want)+params.Limit-1)/params.Limit)
		pages := 0
		for {
			if pages++; pages > 20 {
				t.Fatalf("tier %q: pagination does not end", filter)
			}
			page, err := store.ListClients(ctx, params)
			if err != nil {
				t.Fatal(err)
			}
			for _, c := range page.Clients {
				if !c.Assigned || c.Tier != tierOf[c.ID] {
					t.Errorf("listed %+v, want tier %q, assigned", c, tierOf[c.ID])
				}
				got = append(got, c.ID)
			}
			if page.Next == "" {
				break
			}
			params.After = page.Next
		}
		if !slices.Equal(got, want) {
			t.Errorf("tier %q: walked %d clients %v, want %d %v", filter, len(got), got, len(want), want)
		}
		if pages != wantPages {
			t.Errorf("tier %q: %d clients took %d pages of %d, want %d", filter, len(want), pages, params.Limit, wantPages)
		}
	}
}

func TestStore_NotifyReset(t *testing.T) {
	t.Parallel()
	store, dbURL := newTestStore(t)
	listener := listenTo(t, dbURL)

	if err := store.NotifyReset(context.Background(), "user-42"); err != nil {
		t.Fatal(err)
	}
	got := nextPayload(t, listener)
	if got != (notification{Kind: ChangeReset, ID: "user-42"}) {
		t.Errorf("payload = %+v", got)
	}
}

func TestStore_UnreachableIsUnavailable(t *testing.T) {
	t.Parallel()
	store := NewStore(newTestPool(t, closedPortURL(t)))
	ctx := context.Background()

	ops := map[string]func() error{
		"ping":       func() error { return store.Ping(ctx) },
		"list tiers": func() error { _, err := store.ListTiers(ctx); return err },
		"get tier":   func() error { _, err := store.GetTier(ctx, "pro"); return err },
		"create": func() error {
			_, err := store.CreateTier(ctx, Tier{Name: "pro", Windows: one(1, time.Second)})
			return err
		},
		"delete":      func() error { _, err := store.DeleteTier(ctx, "pro"); return err },
		"get client":  func() error { _, err := store.GetClient(ctx, "c"); return err },
		"assign":      func() error { _, err := store.AssignClient(ctx, "c", "pro", 0); return err },
		"unassign":    func() error { _, err := store.UnassignClient(ctx, "c"); return err },
		"list":        func() error { _, err := store.ListClients(ctx, ListClientsParams{}); return err },
		"notifyReset": func() error { return store.NotifyReset(ctx, "c") },
	}
	for name, op := range ops {
		if err := op(); !errors.Is(err, ErrUnavailable) {
			t.Errorf("%s: err = %v, want ErrUnavailable", name, err)
		}
	}
}

// TestStore_SurvivesBrokenPooledConnections: after Postgres closed the
// pool's connections (a restart), every read answers as before on a fresh
// connection; a write that meets a dead connection is unavailable, since
// whether it ran cannot be told, but it resets the pool, so the next write
// finds a live connection though the pool held other dead ones.
func TestStore_SurvivesBrokenPooledConnections(t *testing.T) {
	t.Parallel()
	dbURL := newTestDB(t)
	pool := newUnpingedPool(t, dbURL)
	store := NewStore(pool)
	ctx := context.Background()
	mustCreateTier(t, store, Tier{Name: "pro", Windows: one(1, time.Second)})
	if _, err := store.AssignClient(ctx, "c", "pro", 0); err != nil {
		t.Fatal(err)
	}

	reads := []struct {
		name string
		op   func() error
	}{
		{"ping", func() error { return store.Ping(ctx) }},
		{"list tiers", func() error {
			list, err := store.ListTiers(ctx)
			if err == nil && !slices.Contains(tierNames(list), "pro") {
				err = fmt.Errorf("list %v lacks pro", tierNames(list))
			}
			return err
		}},
		{"get tier", func() error { _, err := store.GetTier(ctx, "pro"); return err }},
		{"get client", func() error {
			c, err := store.GetClient(ctx, "c")
			if err == nil && c.Tier != "pro" {
				err = fmt.Errorf("client c on %q, want pro", c.Tier)
			}
			return err
		}},
		{"list clients", func() error {
			page, err := store.ListClients(ctx, ListClientsParams{})
			if err == nil && len(page.Clients) != 1 {
				err = fmt.Errorf("%d clients, want 1", len(page.Clients))
			}
			return err
		}},
	}
	for _, r := range reads {
		closePooledConnections(t, pool)
		if err := r.op(); err != nil {
			t.Errorf("%s after the pool's connections were closed: %v", r.name, err)
		}
		// The pool is fresh again: give it idle connections to lose.
		refill(t, pool)
	}

	closePooledConnections(t, pool)
	if _, err := store.UpdateTier(ctx, Tier{Name: "pro", Windows: one(2, time.Second)}); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("update on a dead connection: err = %v, want ErrUnavailable", err)
	}
	if _, err := store.UpdateTier(ctx, Tier{Name: "pro", Windows: one(3, time.Second)}); err != nil {
		t.Fatalf("the next update: %v, want it to find a live connection", err)
	}
	if got, err := store.GetTier(ctx, "pro"); err != nil || got.First().Limit != 3 {
		t.Fatalf("GetTier(pro) = %+v, %v; want limit 3", got, err)
	}
}

func TestMigrate_TriggersNotifyEveryChange(t *testing.T) {
	t.Parallel()
	dbURL := newTestDB(t)
	listener := listenTo(t, dbURL)
	conn := connect(t, dbURL)
	ctx := context.Background()

	steps := []struct {
		sql  string
		want []notification
	}{
		{`INSERT INTO tiers (name, "limit", per_seconds) VALUES ('pro', 10, 1)`,
			[]notification{{Kind: ChangeTier, Name: "pro"}}},
		{`UPDATE tiers SET "limit" = 20 WHERE name = 'pro'`,
			[]notification{{Kind: ChangeTier, Name: "pro"}}},
		{`INSERT INTO clients (id, tier) VALUES ('c1', 'pro')`,
			[]notification{{Kind: ChangeClient, ID: "c1", Tier: "pro", AnchorDay: 1}}},
		{`UPDATE clients SET tier = 'free' WHERE id = 'c1'`,
			[]notification{{Kind: ChangeClient, ID: "c1", Tier: "free", AnchorDay: 1}}},
		{`UPDATE clients SET id = 'c2' WHERE id = 'c1'`,
			[]notification{{Kind: ChangeClient, ID: "c1", Deleted: true}, {Kind: ChangeClient, ID: "c2", Tier: "free", AnchorDay: 1}}},
		{`DELETE FROM clients WHERE id = 'c2'`,
			[]notification{{Kind: ChangeClient, ID: "c2", Deleted: true}}},
		{`DELETE FROM tiers WHERE name = 'pro'`,
			[]notification{{Kind: ChangeTier, Name: "pro", Deleted: true}}},
	}
	// Each write's version is newer than the last; a deletion carries the
	// version of the row it deleted.
	var last int64
	for _, step := range steps {
		if _, err := conn.Exec(ctx, step.sql); err != nil {
			t.Fatalf("%s: %v", step.sql, err)
		}
		for _, want := range step.want {
			got := nextPayload(t, listener)
			switch {
			case got.Deleted && got.Version > last, !got.Deleted && got.Version <= last:
				t.Errorf("%s: version %d after %d", step.sql, got.Version, last)
			case !got.Deleted:
				last = got.Version
			}
			if got.Version = 0; got != want {
				t.Errorf("%s: notified %+v, want %+v", step.sql, got, want)
			}
		}
	}
}

func mustCreateTier(tb testing.TB, store *Store, tier Tier) Tier {
	tb.Helper()
	created, err := store.CreateTier(context.Background(), tier)
	if err != nil {
		tb.Fatalf("CreateTier(%s): %v", tier.Name, err)
	}
	return created
}

func tierNames(list []Tier) []string {
	names := make([]string, len(list))
	for i, t := range list {
		names[i] = t.Name
	}
	return names
}

// snapshot renders both tables, timestamps included, for before/after
// comparisons.
func snapshot(tb testing.TB, dbURL string) string {
	tb.Helper()
	conn := connect(tb, dbURL)
	var b strings.Builder
	for _, q := range []string{
		`SELECT row_to_json(t)::text FROM tiers t ORDER BY name`,
		`SELECT row_to_json(c)::text FROM clients c ORDER BY id`,
	} {
		rows, _ := conn.Query(context.Background(), q)
		lines, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			tb.Fatalf("snapshot: %v", err)
		}
		b.WriteString(strings.Join(lines, "\n") + "\n")
	}
	return b.String()
}

// listenTo returns a connection listening on the change channel.
func listenTo(tb testing.TB, dbURL string) *pgx.Conn {
	tb.Helper()
	conn := connect(tb, dbURL)
	if _, err := conn.Exec(context.Background(), "LISTEN "+channel); err != nil {
		tb.Fatal(err)
	}
	return conn
}

// nextPayload waits (up to 2 s) for the next notification on conn.
func nextPayload(tb testing.TB, conn *pgx.Conn) notification {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	n, err := conn.WaitForNotification(ctx)
	if err != nil {
		tb.Fatalf("no notification: %v", err)
	}
	var p notification
	if err := json.Unmarshal([]byte(n.Payload), &p); err != nil {
		tb.Fatalf("payload %q: %v", n.Payload, err)
	}
	return p
}
