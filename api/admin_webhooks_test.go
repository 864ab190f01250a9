package api

import (
	"context"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/quotad/quotad/webhooks"
)

// withWebhookEvents configures a server to read the outbox through pool,
// as internal/stack does.
func withWebhookEvents(pool *pgxpool.Pool) func(*Config) {
	return func(cfg *Config) {
		cfg.WebhookEvents = func(ctx context.Context, client string, limit int) ([]webhooks.Stored, error) {
			return webhooks.ClientEvents(ctx, pool, client, limit)
		}
	}
}

// openPool returns a pool on dbURL, closed when the test ends.
func openPool(tb testing.TB, dbURL string) *pgxpool.Pool {
	tb.Helper()
	pool, err := pgxpool.New(context.Background(), dbURL)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(pool.Close)
	return pool
}

// thresholdEvent is client's event of the month window month months after
// December 2030, created at created.
func thresholdEvent(client string, month int, created time.Time) webhooks.Event {
	start := time.Date(2030, 12, 1, 0, 0, 0, 0, time.UTC).AddDate(0, month, 0)
	return webhooks.Event{Client: client, Tier: "pro", Policy: "pro:month", Threshold: 80,
		Used: 800 + int64(month), Limit: 1000, WindowStart: start, WindowEnd: start.AddDate(0, 1, 0), CreatedAt: created}
}

// TestAdmin_ClientWebhookEvents: a client's events come newest first with
// their delivery state and only that state's time; limit cuts the list
// and must be 1 … 200; a client without events has an empty list.
func TestAdmin_ClientWebhookEvents(t *testing.T) {
	t.Parallel()
	b := newBackend(t)
	pool := openPool(t, b.dbURL)
	inst := b.start(t, instanceOpts{configure: withWebhookEvents(pool)})
	admin := token(t, "root", true)
	ctx := context.Background()

	t0 := time.Date(2031, 1, 10, 8, 0, 0, 0, time.UTC)
	failed, delivered, pending := thresholdEvent("c/1", 0, t0), thresholdEvent("c/1", 1, t0.Add(time.Hour)), thresholdEvent("c/1", 2, t0.Add(2*time.Hour))
	other := thresholdEvent("c/2", 0, t0.Add(3*time.Hour))
	if n, err := webhooks.Enqueue(ctx, pool, []webhooks.Event{failed, delivered, pending, other}); err != nil || n != 4 {
		t.Fatalf("Enqueue: %d, %v", n, err)
	}
	// The states the dispatcher leaves: a 204 delivered, a day of 500s
	// failed, a refused connection pending with its retry due.
	for _, q := range []struct {
		sql  string
		args []any
	}{
		{`UPDATE webhook_events SET attempts = 1, last_status = 204, delivered_at = $2 WHERE id = $1`, []any{delivered.ID(), t0.Add(time.Hour + time.Second)}},
		{`UPDATE webhook_events SET attempts = 31, last_status = 500, last_error = 'HTTP 500', failed_at = $2 WHERE id = $1`, []any{failed.ID(), t0.Add(25 * time.Hour)}},
		{`UPDATE webhook_events SET attempts = 2, last_error = 'connection refused', next_attempt_at = $2 WHERE id = $1`, []any{pending.ID(), t0.Add(2*time.Hour + time.Minute)}},
	} {
		if _, err := pool.Exec(ctx, q.sql, q.args...); err != nil {
			t.Fatal(err)
		}
	}

	var got struct{ Events []map[string]any }
	mustStatus(t, do(t, http.MethodGet, inst.URL+"/v1/admin/clients/c%2F1/webhook-events", admin, nil), http.StatusOK).decode(t, &got)
	want := []map[string]any{
		{"id": pending.ID(), "threshold": 80.0, "policy": "pro:month", "used": 802.0, "limit": 1000.0,
			"window_start": "2031-02-01T00:00:00Z", "window_end": "2031-03-01T00:00:00Z", "created_at": "2031-01-10T10:00:00Z",
			"state": "pending", "attempts": 2.0, "last_error": "connection refused", "next_attempt_at": "2031-01-10T10:01:00Z"},
		{"id": delivered.ID(), "threshold": 80.0, "policy": "pro:month", "used": 801.0, "limit": 1000.0,
			"window_start": "2031-01-01T00:00:00Z", "window_end": "2031-02-01T00:00:00Z", "created_at": "2031-01-10T09:00:00Z",
			"state": "delivered", "attempts": 1.0, "last_status": 204.0, "delivered_at": "2031-01-10T09:00:01Z"},
		{"id": failed.ID(), "threshold": 80.0, "policy": "pro:month", "used": 800.0, "limit": 1000.0,
			"window_start": "2030-12-01T00:00:00Z", "window_end": "2031-01-01T00:00:00Z", "created_at": "2031-01-10T08:00:00Z",
			"state": "failed", "attempts": 31.0, "last_status": 500.0, "last_error": "HTTP 500", "failed_at": "2031-01-11T09:00:00Z"},
	}
	if len(got.Events) != len(want) {
		t.Fatalf("got %d events %v, want %d", len(got.Events), got.Events, len(want))
	}
	for i := range want {
		for k, v := range want[i] {
			if got.Events[i][k] != v {
				t.Errorf("event %d: %s = %v, want %v", i, k, got.Events[i][k], v)
			}
		}
		for k := range got.Events[i] {
			if _, ok := want[i][k]; !ok {
				t.Errorf("event %d: unexpected field %s = %v", i, k, got.Events[i][k])
			}
		}
	}

	ids := func(query string) []string {
		t.Helper()
		var page struct{ Events []WebhookEventView }
		mustStatus(t, do(t, http.MethodGet, inst.URL+"/v1/admin/clients/c%2F1/webhook-events"+query, admin, nil), http.StatusOK).decode(t, &page)
		var out []string
		for _, ev := range page.Events {
			out = append(out, ev.ID)
		}
		return out
	}
	if got := ids("?limit=2"); !slices.Equal(got, []string{pending.ID(), delivered.ID()}) {
		t.Errorf("limit=2: %v, want the two newest", got)
	}
	if got := ids("?limit=200"); len(got) != 3 {
		t.Errorf("limit=200: %v, want all three", got)
	}

	r := mustStatus(t, do(t, http.MethodGet, inst.URL+"/v1/admin/clients/nobody/webhook-events", admin, nil), http.StatusOK)
	if strings.TrimSpace(string(r.Body)) != `{"events":[]}` {
		t.Errorf("a client without events: %s, want an empty list", r.Body)
	}

	head := mustStatus(t, do(t, http.MethodHead, inst.URL+"/v1/admin/clients/c%2F1/webhook-events", admin, nil), http.StatusOK)
	get := do(t, http.MethodGet, inst.URL+"/v1/admin/clients/c%2F1/webhook-events", admin, nil)
	if len(head.Body) != 0 || head.Header.Get("Content-Length") != get.Header.Get("Content-Length") || head.Header.Get("Content-Type") != get.Header.Get("Content-Type") {
		t.Errorf("HEAD: body %q, headers %v; want GET's headers (%v) and no body", head.Body, head.Header, get.Header)
	}
}

// TestAdmin_ClientWebhookEventsRefused: bad input is a 422 naming the
// field, non-admins are refused, and a route for several segments is 404.
func TestAdmin_ClientWebhookEventsRefused(t *testing.T) {
	t.Parallel()
	b := newBackend(t)
	inst := b.start(t, instanceOpts{configure: withWebhookEvents(openPool(t, b.dbURL))})
	admin, user := token(t, "root", true), token(t, "c1", false)
	base := inst.URL + "/v1/admin/clients/c1/webhook-events"

	for _, q := range []string{"0", "201", "-1", "abc", "1.5", "1e2"} {
		r := mustStatus(t, do(t, http.MethodGet, base+"?limit="+q, admin, nil), http.StatusUnprocessableEntity)
		var e ErrorBody
		r.decode(t, &e)
		if e.Error.Code != CodeInvalid || len(e.Error.Fields) != 1 || e.Error.Fields["limit"] == "" {
			t.Errorf("limit=%s: %s, want a 422 naming limit", q, r.Body)
		}
	}
	for _, id := range []string{"a%00b", strings.Repeat("x", 256)} {
		r := mustStatus(t, do(t, http.MethodGet, inst.URL+"/v1/admin/clients/"+id+"/webhook-events", admin, nil), http.StatusUnprocessableEntity)
		var e ErrorBody
		r.decode(t, &e)
		if e.Error.Code != CodeInvalid || e.Error.Fields["id"] == "" {
			t.Errorf("id %.20q: %s, want a 422 naming id", id, r.Body)
		}
	}
	for _, method := range []string{http.MethodGet, http.MethodHead} {
		if r := mustStatus(t, do(t, method, base, "", nil), http.StatusUnauthorized); r.Header.Get("WWW-Authenticate") == "" {
			t.Errorf("%s without a token: no WWW-Authenticate", method)
		}
		mustStatus(t, do(t, method, base, user, nil), http.StatusForbidden)
	}
	mustStatus(t, do(t, http.MethodDelete, base, admin, nil), http.StatusMethodNotAllowed)
}

// TestAdmin_ClientWebhookEventsUnavailable: with Postgres unreachable the
// read is a 503, as every admin read is.
func TestAdmin_ClientWebhookEventsUnavailable(t *testing.T) {
	t.Parallel()
	b := newBackend(t)
	// Nothing listens on port 1: every connection is refused.
	down := openPool(t, "postgres://postgres@127.0.0.1:1/quotad?connect_timeout=5")
	inst := b.start(t, instanceOpts{configure: withWebhookEvents(down)})
	r := mustStatus(t, do(t, http.MethodGet, inst.URL+"/v1/admin/clients/c1/webhook-events", token(t, "root", true), nil), http.StatusServiceUnavailable)
	if r.errorCode(t) != CodeUnavailable {
		t.Errorf("body %s, want code %s", r.Body, CodeUnavailable)
	}
}

// TestAdmin_ClientWebhookEventsWithoutOutbox: a server built without
// WebhookEvents answers 404 on the route.
func TestAdmin_ClientWebhookEventsWithoutOutbox(t *testing.T) {
	t.Parallel()
	inst := newBackend(t).start(t, instanceOpts{})
	mustStatus(t, do(t, http.MethodGet, inst.URL+"/v1/admin/clients/c1/webhook-events", token(t, "root", true), nil), http.StatusNotFound)
}
