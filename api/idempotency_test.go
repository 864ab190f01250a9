package api

import (
	"context"
	"fmt"
	"net/http"
	neturl "net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// dbInt runs a query answering one integer on the backend's database.
func (b *backend) dbInt(tb testing.TB, sql string, args ...any) int64 {
	tb.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, b.dbURL)
	if err != nil {
		tb.Fatal(err)
	}
	defer conn.Close(ctx)
	var n int64
	if err := conn.QueryRow(ctx, sql, args...).Scan(&n); err != nil {
		tb.Fatal(err)
	}
	return n
}

// dbExec runs statements on the backend's database.
func (b *backend) dbExec(tb testing.TB, sql string) {
	tb.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, b.dbURL)
	if err != nil {
		tb.Fatal(err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, sql); err != nil {
		tb.Fatal(err)
	}
}

// sameAnswer fails unless b answers like a with Idempotent-Replayed: true.
func sameAnswer(tb testing.TB, a, b response) {
	tb.Helper()
	if b.StatusCode != a.StatusCode || string(b.Body) != string(a.Body) ||
		b.Header.Get("Location") != a.Header.Get("Location") || b.Header.Get("Content-Type") != a.Header.Get("Content-Type") {
		tb.Fatalf("replay %d %q %q %q, want %d %q %q %q", b.StatusCode, b.Body, b.Header.Get("Location"), b.Header.Get("Content-Type"),
			a.StatusCode, a.Body, a.Header.Get("Location"), a.Header.Get("Content-Type"))
	}
	if got := b.Header.Get(HeaderIdempotentReplayed); got != "true" {
		tb.Fatalf("replay's %s = %q, want true", HeaderIdempotentReplayed, got)
	}
}

func TestIdempotency_PostTierReplays(t *testing.T) {
	t.Parallel()
	b := newBackend(t)
	inst := b.start(t, instanceOpts{})
	admin := token(t, "admin", true)
	body := map[string]any{"name": "pro", "limit": 100, "per": 60}
	first := mustStatus(t, do(t, http.MethodPost, inst.URL+"/v1/admin/tiers", admin, body, HeaderIdempotencyKey, "k1"), http.StatusCreated)
	if first.Header.Get(HeaderIdempotentReplayed) != "" || first.Header.Get("Location") == "" {
		t.Fatalf("first answer headers %v", first.Header)
	}
	again := do(t, http.MethodPost, inst.URL+"/v1/admin/tiers", admin, body, HeaderIdempotencyKey, "k1")
	sameAnswer(t, first, again)
	if n := b.dbInt(t, `SELECT count(*) FROM tiers WHERE name = 'pro'`); n != 1 {
		t.Fatalf("%d tiers pro, want 1", n)
	}
	if n := b.dbInt(t, `SELECT count(*) FROM audit_log WHERE action = 'tier.create' AND target = 'pro'`); n != 1 {
		t.Fatalf("%d audit rows for creating pro, want 1: a replay changes nothing", n)
	}
	// Without the key the same request is a new one, and the tier exists.
	mustStatus(t, do(t, http.MethodPost, inst.URL+"/v1/admin/tiers", admin, body), http.StatusConflict)
	// Another key is another request too.
	mustStatus(t, do(t, http.MethodPost, inst.URL+"/v1/admin/tiers", admin, body, HeaderIdempotencyKey, "k2"), http.StatusConflict)
}

func TestIdempotency_PutClientReplays(t *testing.T) {
	t.Parallel()
	b := newBackend(t)
	inst := b.start(t, instanceOpts{})
	admin := token(t, "admin", true)
	url := inst.URL + "/v1/admin/clients/c1"
	first := mustStatus(t, do(t, http.MethodPut, url, admin, map[string]string{"tier": "free"}, HeaderIdempotencyKey, "assign-c1"), http.StatusOK)
	version := b.dbInt(t, `SELECT version FROM clients WHERE id = 'c1'`)
	sameAnswer(t, first, do(t, http.MethodPut, url, admin, map[string]string{"tier": "free"}, HeaderIdempotencyKey, "assign-c1"))
	if v := b.dbInt(t, `SELECT version FROM clients WHERE id = 'c1'`); v != version {
		t.Fatalf("client version %d after a replay, want %d unchanged", v, version)
	}
}

func TestIdempotency_OtherRequestSameKeyIs422(t *testing.T) {
	t.Parallel()
	b := newBackend(t)
	inst := b.start(t, instanceOpts{})
	admin := token(t, "admin", true)
	url := inst.URL + "/v1/admin/tiers/pro"
	mustStatus(t, do(t, http.MethodPut, url, admin, map[string]any{"limit": 100, "per": 60}, HeaderIdempotencyKey, "k"), http.StatusCreated)
	version := b.dbInt(t, `SELECT version FROM tiers WHERE name = 'pro'`)
	for _, tc := range []struct {
		method, url string
		body        any
	}{
		{http.MethodPut, url, map[string]any{"limit": 200, "per": 60}},
		{http.MethodPut, inst.URL + "/v1/admin/tiers/team", map[string]any{"limit": 100, "per": 60}},
		{http.MethodPost, inst.URL + "/v1/admin/tiers", map[string]any{"name": "pro", "limit": 100, "per": 60}},
	} {
		r := mustStatus(t, do(t, tc.method, tc.url, admin, tc.body, HeaderIdempotencyKey, "k"), http.StatusUnprocessableEntity)
		if code := r.errorCode(t); code != CodeInvalid || !strings.Contains(string(r.Body), `"`+HeaderIdempotencyKey+`"`) {
			t.Errorf("%s %s: %s, want code invalid naming the header", tc.method, tc.url, r.Body)
		}
	}
	if v := b.dbInt(t, `SELECT version FROM tiers WHERE name = 'pro'`); v != version {
		t.Fatalf("tier version %d, want %d unchanged", v, version)
	}
	if n := b.dbInt(t, `SELECT count(*) FROM tiers WHERE name = 'team' OR "limit" = 200`); n != 0 {
		t.Fatalf("%d tiers changed by refused requests", n)
	}
}

// Concurrent retries with one key take effect once and all get the same
// answer.
func TestIdempotency_ConcurrentRetriesOneEffect(t *testing.T) {
	t.Parallel()
	b := newBackend(t)
	inst := b.start(t, instanceOpts{})
	admin := token(t, "admin", true)
	url := inst.URL + "/v1/admin/tiers/pro"
	setTier(t, inst, "pro", 10, 1)
	version := b.dbInt(t, `SELECT version FROM tiers WHERE name = 'pro'`)
	const n = 20
	answers := make([]response, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			answers[i] = do(t, http.MethodPut, url, admin, map[string]any{"limit": 500, "per": 60}, HeaderIdempotencyKey, "storm")
		})
	}
	wg.Wait()
	replays := 0
	for _, r := range answers {
		mustStatus(t, r, http.StatusOK)
		if string(r.Body) != string(answers[0].Body) {
			t.Fatalf("answers differ: %s and %s", r.Body, answers[0].Body)
		}
		if r.Header.Get(HeaderIdempotentReplayed) == "true" {
			replays++
		}
	}
	if replays != n-1 {
		t.Fatalf("%d replays, want %d", replays, n-1)
	}
	// Tier versions come from a sequence shared with clients, so one
	// effect is one newer version and no other row took one since.
	if got := b.dbInt(t, `SELECT count(*) FROM tiers WHERE version > $1`, version); got != 1 {
		t.Fatalf("%d tiers with a version above %d, want 1", got, version)
	}
	if got := b.dbInt(t, `SELECT count(*) FROM idempotency_keys`); got != 1 {
		t.Fatalf("%d idempotency records, want 1", got)
	}
}

// A 5xx is not kept: the retry runs again.
func TestIdempotency_ServerErrorNotKept(t *testing.T) {
	t.Parallel()
	b := newBackend(t)
	inst := b.start(t, instanceOpts{})
	admin := token(t, "admin", true)
	b.dbExec(t, `
		CREATE FUNCTION test_fail() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'injected'; END $$;
		CREATE TRIGGER test_fail BEFORE INSERT ON tiers FOR EACH ROW EXECUTE FUNCTION test_fail()`)
	body := map[string]any{"name": "pro", "limit": 100, "per": 60}
	mustStatus(t, do(t, http.MethodPost, inst.URL+"/v1/admin/tiers", admin, body, HeaderIdempotencyKey, "k"), http.StatusInternalServerError)
	if n := b.dbInt(t, `SELECT count(*) FROM idempotency_keys`); n != 0 {
		t.Fatalf("%d idempotency records after a 500, want 0", n)
	}
	b.dbExec(t, `DROP TRIGGER test_fail ON tiers`)
	r := mustStatus(t, do(t, http.MethodPost, inst.URL+"/v1/admin/tiers", admin, body, HeaderIdempotencyKey, "k"), http.StatusCreated)
	if r.Header.Get(HeaderIdempotentReplayed) != "" {
		t.Fatal("the retry after a 500 was a replay")
	}
}

func TestIdempotency_ExpiresAfter24Hours(t *testing.T) {
	t.Parallel()
	b := newBackend(t)
	var offset atomic.Int64
	inst := b.start(t, instanceOpts{now: func() time.Time { return time.Now().Add(time.Duration(offset.Load())) }})
	admin := token(t, "admin", true)
	url := inst.URL + "/v1/admin/tiers/pro"
	put := func(limit int) response {
		return do(t, http.MethodPut, url, admin, map[string]any{"limit": limit, "per": 60}, HeaderIdempotencyKey, "k")
	}
	first := mustStatus(t, put(100), http.StatusCreated)
	offset.Store(int64(24*time.Hour - time.Minute))
	sameAnswer(t, first, put(100))
	mustStatus(t, put(200), http.StatusUnprocessableEntity)
	offset.Store(int64(24*time.Hour + time.Minute))
	// A day on, the key is new: another body is accepted and takes effect.
	r := mustStatus(t, put(200), http.StatusOK)
	if r.Header.Get(HeaderIdempotentReplayed) != "" {
		t.Fatal("an expired key was replayed")
	}
	if n := b.dbInt(t, `SELECT "limit" FROM tiers WHERE name = 'pro'`); n != 200 {
		t.Fatalf("limit %d, want 200", n)
	}
	if n := b.dbInt(t, `SELECT count(*) FROM idempotency_keys`); n != 1 {
		t.Fatalf("%d idempotency records, want the renewed one", n)
	}
}

// Expired records of other keys are deleted when a record is saved.
func TestIdempotency_SweepsExpired(t *testing.T) {
	t.Parallel()
	b := newBackend(t)
	var offset atomic.Int64
	inst := b.start(t, instanceOpts{now: func() time.Time { return time.Now().Add(time.Duration(offset.Load())) }})
	admin := token(t, "admin", true)
	for i := range 3 {
		mustStatus(t, do(t, http.MethodPut, inst.URL+"/v1/admin/clients/c1", admin, map[string]string{"tier": "free"},
			HeaderIdempotencyKey, fmt.Sprint("old", i)), http.StatusOK)
	}
	offset.Store(int64(25 * time.Hour))
	mustStatus(t, do(t, http.MethodPut, inst.URL+"/v1/admin/clients/c1", admin, map[string]string{"tier": "free"},
		HeaderIdempotencyKey, "new"), http.StatusOK)
	if n := b.dbInt(t, `SELECT count(*) FROM idempotency_keys WHERE key <> 'new'`); n != 0 {
		t.Fatalf("%d expired records left, want 0", n)
	}
}

func TestIdempotency_BadKeyIs400(t *testing.T) {
	t.Parallel()
	b := newBackend(t)
	inst := b.start(t, instanceOpts{})
	admin := token(t, "admin", true)
	for _, key := range []string{strings.Repeat("k", 256), "tab\there", "é"} {
		r := mustStatus(t, do(t, http.MethodPut, inst.URL+"/v1/admin/clients/c1", admin, map[string]string{"tier": "free"},
			HeaderIdempotencyKey, key), http.StatusBadRequest)
		if code := r.errorCode(t); code != CodeBadRequest || !strings.Contains(string(r.Body), HeaderIdempotencyKey) {
			t.Errorf("key %q: %s, want bad_request naming the header", key, r.Body)
		}
	}
	if n := b.dbInt(t, `SELECT count(*) FROM clients`); n != 0 {
		t.Fatalf("%d clients after refused requests, want 0", n)
	}
	// The longest key is fine.
	mustStatus(t, do(t, http.MethodPut, inst.URL+"/v1/admin/clients/c1", admin, map[string]string{"tier": "free"},
		HeaderIdempotencyKey, strings.Repeat("k", 255)), http.StatusOK)
}

func TestIdempotency_KeysArePerActor(t *testing.T) {
	t.Parallel()
	b := newBackend(t)
	inst := b.start(t, instanceOpts{})
	url := inst.URL + "/v1/admin/clients/c1"
	mustStatus(t, do(t, http.MethodPut, url, token(t, "alice", true), map[string]string{"tier": "free"}, HeaderIdempotencyKey, "k"), http.StatusOK)
	setTier(t, inst, "pro", 10, 1)
	r := mustStatus(t, do(t, http.MethodPut, url, token(t, "bob", true), map[string]string{"tier": "pro"}, HeaderIdempotencyKey, "k"), http.StatusOK)
	if r.Header.Get(HeaderIdempotentReplayed) != "" {
		t.Fatal("bob got alice's answer")
	}
	if n := b.dbInt(t, `SELECT count(*) FROM clients WHERE id = 'c1' AND tier = 'pro'`); n != 1 {
		t.Fatal("bob's assignment did not take effect")
	}
}

// Keyed writes hold a pooled connection for their whole run, and their
// handlers need another: on a pool of two, concurrent keyed writes, some
// racing on one key, must all finish rather than take every connection
// and wait for one.
func TestIdempotency_SmallPoolDoesNotStall(t *testing.T) {
	t.Parallel()
	b := newBackend(t)
	u, err := neturl.Parse(b.dbURL)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	q.Set("pool_max_conns", "2")
	u.RawQuery = q.Encode()
	inst := b.start(t, instanceOpts{dbURL: u.String()})
	admin := token(t, "admin", true)
	const n = 12
	statuses := make([]int, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			// Three requests per key: one takes effect, two replay.
			r := do(t, http.MethodPut, fmt.Sprintf("%s/v1/admin/clients/c%d", inst.URL, i%4), admin,
				map[string]string{"tier": "free"}, HeaderIdempotencyKey, fmt.Sprint("k", i%4))
			statuses[i] = r.StatusCode
		})
	}
	wg.Wait()
	for i, s := range statuses {
		if s != http.StatusOK {
			t.Errorf("request %d: status %d, want 200", i, s)
		}
	}
	if got := b.dbInt(t, `SELECT count(*) FROM idempotency_keys`); got != 4 {
		t.Fatalf("%d idempotency records, want 4", got)
	}
}
