package e2e

import (
	"context"
	"net/http"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/quotad/quotad/api"
	"github.com/quotad/quotad/internal/testenv"
)

// TestPostgresStopped_LimitingGoesOnAndChangesArriveAfterRestart: two
// instances share a private Postgres, which is stopped while a client
// keeps sending requests to both.
//
// While it is down, a client assigned before it stopped is limited
// exactly (5 of 5, then 429), admin writes answer 503 unavailable, /readyz
// is 503 naming postgres, and the background load only ever sees 200/429.
// A tier change made directly in SQL as Postgres restarts, while both
// instances are frozen (SIGSTOP) so their listeners cannot be back and its
// notification is lost, is seen by both once they resume (the re-read
// after reconnecting) and enforced exactly; admin writes work again;
// and a change through one instance reaches the other within a second.
func TestPostgresStopped_LimitingGoesOnAndChangesArriveAfterRestart(t *testing.T) {
	t.Parallel()
	pg := testenv.StartPostgres(t)
	db := pg.Database(t)
	rs := testenv.StartRedis(t)
	a := startQuotad(t, env(db, rs.URL()))
	b := startQuotad(t, env(db, rs.URL()))
	root := admin(t)

	createTier(t, a, "steady", 5)
	assign(t, a, "cached", "steady")
	// Notifications are applied in commit order: once a's listener has
	// brought in a tier made after the assignment, a holds the assignment
	// too. The tier is made in SQL so that only the listener can make it
	// known to a.
	sqlChange(t, db, `INSERT INTO tiers (name, "limit", per_seconds) VALUES ('sentinel', 1, 86400)`)
	waitFor(t, 5*time.Second, "a's cache to catch up", func() bool { return publicLimit(t, a, "sentinel") == 1 })
	if r := user(t, "cached").get(t, a.URL+"/v1/quota"); r.Code != http.StatusOK || !jsonHas(r, "tier", "steady") {
		t.Fatalf("/v1/quota of cached: %v", r)
	}

	// Load throughout: every response must be 200 or 429.
	var (
		stop             = make(chan struct{})
		loadWG           sync.WaitGroup
		loadOK, loadDeny atomic.Int64
		loadMu           sync.Mutex
		loadBad          []string
	)
	loader := user(t, "loader")
	for _, q := range []*quotad{a, b} {
		loadWG.Go(func() {
			pace := time.NewTicker(5 * time.Millisecond) // steady, not a CPU hog for the parallel tests
			defer pace.Stop()
			for {
				select {
				case <-stop:
					return
				case <-pace.C:
				}
				r, err := loader.try(http.MethodGet, q.URL+"/rate-limited", nil)
				switch {
				case err == nil && r.Code == http.StatusOK && r.Took <= bound:
					loadOK.Add(1)
				case err == nil && r.Code == http.StatusTooManyRequests && r.Took <= bound:
					loadDeny.Add(1)
				default:
					loadMu.Lock()
					loadBad = append(loadBad, r.String()+" "+errString(err))
					loadMu.Unlock()
				}
			}
		})
	}
	stopLoad := sync.OnceFunc(func() { close(stop); loadWG.Wait() })
	t.Cleanup(stopLoad)

	pg.Stop()
	answeredAtStop := loadOK.Load() + loadDeny.Load()

	expectExact(t, a, "cached", "steady", 5, 0)
	for _, w := range []struct {
		method, path string
		body         any
	}{
		{http.MethodPut, "/v1/admin/tiers/steady", tierBody("steady", 9, 86400)},
		{http.MethodPost, "/v1/admin/tiers", tierBody("another", 9, 86400)},
		{http.MethodPut, "/v1/admin/clients/cached", map[string]string{"tier": "free"}},
	} {
		r := root.do(t, w.method, a.URL+w.path, w.body)
		if r.Code != http.StatusServiceUnavailable || r.errorCode() != api.CodeUnavailable || r.Took > bound {
			t.Errorf("%s %s without Postgres: %v; want 503 unavailable within %v", w.method, w.path, r, bound)
		}
	}
	for _, q := range []*quotad{a, b} {
		r, checks := readiness(t, q)
		if r.Code != http.StatusServiceUnavailable || checks["postgres"] != "unavailable" || r.Took > readyBound {
			t.Errorf("/readyz without Postgres: %v; want 503 naming postgres", r)
		}
	}

	if loadOK.Load()+loadDeny.Load() == answeredAtStop {
		t.Errorf("the background load got no answers while Postgres was down")
	}

	// A change made while the listeners are away: its notification reaches
	// nobody, so only the re-read after reconnecting can find it. Freezing
	// both instances across the restart keeps their listeners away for
	// sure (the background load just waits a moment).
	for _, q := range []*quotad{a, b} {
		q.signal(syscall.SIGSTOP)
	}
	pg.Start()
	listeners := sqlChange(t, db, `UPDATE tiers SET "limit" = 8 WHERE name = 'steady'`)
	for _, q := range []*quotad{a, b} {
		q.signal(syscall.SIGCONT)
	}
	if listeners != 0 {
		t.Fatalf("%d quotad listeners were connected during the SQL change; want none", listeners)
	}
	for _, q := range []*quotad{a, b} {
		waitFor(t, 5*time.Second, "the SQL change on "+q.URL, func() bool { return publicLimit(t, q, "steady") == 8 })
	}
	// The reload after reconnecting brought every assignment with the
	// tiers, so cached is on steady at once; /v1/quota reads it without
	// spending.
	if r := user(t, "cached").get(t, a.URL+"/v1/quota"); !jsonHas(r, "tier", "steady") {
		t.Fatalf("/v1/quota of cached after the restart: %v; want tier steady", r)
	}
	expectExact(t, a, "cached", "steady", 8, 5) // the window keeps its 5

	waitFor(t, 10*time.Second, "an admin write after the restart", func() bool {
		return root.do(t, http.MethodPut, a.URL+"/v1/admin/tiers/steady", tierBody("steady", 10, 86400)).Code == http.StatusOK
	})
	waitFor(t, 10*time.Second, "b's listener", func() bool { return metric(t, b, "quotad_tier_listener_connected") == 1 })
	if r := root.do(t, http.MethodPut, a.URL+"/v1/admin/tiers/steady", tierBody("steady", 11, 86400)); r.Code != http.StatusOK {
		t.Fatalf("admin write after the restart: %v", r)
	}
	changed := time.Now()
	waitFor(t, time.Second, "the change through a on b", func() bool { return publicLimit(t, b, "steady") == 11 })
	t.Logf("change through a seen on b after %v", time.Since(changed).Round(time.Millisecond))

	stopLoad()
	if loadOK.Load() == 0 {
		t.Errorf("the background load was never admitted")
	}
	if len(loadBad) > 0 {
		t.Errorf("%d background requests were not a timely 200/429, e.g. %s", len(loadBad), loadBad[0])
	}
	t.Logf("background load: %d admitted, %d limited", loadOK.Load(), loadDeny.Load())
}

// sqlChange runs one statement on url with a connection of its own and
// returns how many quotad tier listeners were connected just before.
func sqlChange(tb testing.TB, url, sql string) int {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		tb.Fatal(err)
	}
	defer conn.Close(context.Background())
	var n int
	if err := conn.QueryRow(ctx, `SELECT count(*) FROM pg_stat_activity WHERE application_name = 'quotad-tiers-listener'`).Scan(&n); err != nil {
		tb.Fatal(err)
	}
	if _, err := conn.Exec(ctx, sql); err != nil {
		tb.Fatal(err)
	}
	return n
}

// waitFor polls cond until it holds, failing the test after timeout.
func waitFor(tb testing.TB, timeout time.Duration, what string, cond func() bool) {
	tb.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			tb.Fatalf("%s: not within %v", what, timeout)
		}
		time.Sleep(10 * time.Millisecond) // poll: these states have no push signal
	}
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}
