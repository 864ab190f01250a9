package e2e

import (
	"context"
	"encoding/json"
	"net/http"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/quotad/quotad/api"
	"github.com/quotad/quotad/internal/testenv"
)

// TestConcurrentTierEdits_EveryInstanceEndsOnTheDatabase: many pairs of
// PUTs of one tier, the two of a pair sent at once, one to each of two
// instances. Each instance applies its own write and the listener's news
// of both in an order nobody controls; after every pair, each instance's
// /v1/tiers must equal the database within 2 s, never stay on the older
// write.
func TestConcurrentTierEdits_EveryInstanceEndsOnTheDatabase(t *testing.T) {
	t.Parallel()
	db := database(t)
	rs := testenv.StartRedis(t)
	a := startQuotad(t, env(db, rs.URL()))
	b := startQuotad(t, env(db, rs.URL()))
	root := admin(t)
	createTier(t, a, "contested", 1)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	conn, err := pgx.Connect(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())

	const pairs = 200
	for i := range pairs {
		start := make(chan struct{})
		var wg sync.WaitGroup
		for j, q := range []*quotad{a, b} {
			body := tierBody("contested", int64(2*i+j+2), 86400)
			wg.Go(func() {
				<-start
				r, err := root.try(http.MethodPut, q.URL+"/v1/admin/tiers/contested", body)
				if err != nil || r.Code != http.StatusOK {
					t.Errorf("pair %d: PUT on %s: %v %v", i, q.URL, r, err)
				}
			})
		}
		close(start)
		wg.Wait()
		want := databaseTiers(t, ctx, conn)
		for _, q := range []*quotad{a, b} {
			var got []api.TierView
			deadline := time.Now().Add(2 * time.Second)
			for got = publicTiers(t, q); !reflect.DeepEqual(got, want); got = publicTiers(t, q) {
				if time.Now().After(deadline) {
					t.Fatalf("pair %d: %s serves %+v 2 s after the writes; the database holds %+v", i, q.URL, got, want)
				}
				time.Sleep(10 * time.Millisecond) // poll: a cache's state has no push signal
			}
		}
	}
}

// databaseTiers reads every tier as /v1/tiers lists them.
func databaseTiers(tb testing.TB, ctx context.Context, conn *pgx.Conn) []api.TierView {
	tb.Helper()
	rows, _ := conn.Query(ctx, `SELECT name, "limit", per_seconds, description, price_cents, currency
		FROM tiers ORDER BY price_cents, name`)
	list, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (api.TierView, error) {
		var v api.TierView
		err := row.Scan(&v.Name, &v.Limit, &v.Per.Seconds, &v.Description, &v.PriceCents, &v.Currency)
		// The tiers here have one window, which "limit" and per_seconds hold.
		v.Limits = []api.WindowView{{Limit: v.Limit, Per: v.Per}}
		return v, err
	})
	if err != nil {
		tb.Fatal(err)
	}
	return list
}

// publicTiers returns q's /v1/tiers.
func publicTiers(tb testing.TB, q *quotad) []api.TierView {
	tb.Helper()
	r := anonymous.get(tb, q.URL+"/v1/tiers")
	var body struct{ Tiers []api.TierView }
	if err := json.Unmarshal(r.Body, &body); err != nil || r.Code != http.StatusOK {
		tb.Fatalf("/v1/tiers: %v: %v", r, err)
	}
	return body.Tiers
}
