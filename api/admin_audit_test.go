package api

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
)

// auditPage is the body of GET /v1/admin/audit.
type auditPage struct {
	Entries []AuditEntryView
	Next    *string
}

// auditLog returns the whole audit log, newest first.
func auditLog(tb testing.TB, inst *instance, tok string) []AuditEntryView {
	tb.Helper()
	var page auditPage
	mustStatus(tb, do(tb, http.MethodGet, inst.URL+"/v1/admin/audit?limit=1000", tok, nil), http.StatusOK).decode(tb, &page)
	if page.Next != nil {
		tb.Fatalf("more than 1000 entries")
	}
	return page.Entries
}

// jsonField returns the member name of the JSON object raw, or nil if raw
// is null.
func jsonField(tb testing.TB, raw json.RawMessage, name string) any {
	tb.Helper()
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		tb.Fatalf("%s: %v", raw, err)
	}
	if m == nil {
		return nil
	}
	return m[name]
}

func TestAudit_EveryAdminWriteRecordsOneEntry(t *testing.T) {
	t.Parallel()
	b := newBackend(t)
	inst := b.start(t, instanceOpts{})
	admin := token(t, "ops-alice", true)

	tier := map[string]any{"name": "pro", "limit": 10, "per": 60, "price_cents": 4900}
	writes := []struct {
		method, path string
		body         any
		status       int
		action       string
		target       string
		// The before and after members to check; "" for a null side.
		beforeKey, afterKey string
		before, after       any
	}{
		{http.MethodPost, "/v1/admin/tiers", tier, http.StatusCreated, "tier.create", "pro", "", "price_cents", nil, 4900.0},
		{http.MethodPut, "/v1/admin/tiers/pro", map[string]any{"limit": 20, "per": 60, "price_cents": 5900}, http.StatusOK,
			"tier.replace", "pro", "price_cents", "price_cents", 4900.0, 5900.0},
		{http.MethodPatch, "/v1/admin/tiers/pro", map[string]any{"description": "Teams."}, http.StatusOK,
			"tier.update", "pro", "description", "description", "", "Teams."},
		{http.MethodPut, "/v1/admin/clients/acme", map[string]any{"tier": "pro", "anchor_day": 15}, http.StatusOK,
			"client.assign", "acme", "", "anchor_day", nil, 15.0},
		{http.MethodDelete, "/v1/admin/clients/acme/quota", nil, http.StatusNoContent, "client.quota_reset", "acme", "", "", nil, nil},
		{http.MethodDelete, "/v1/admin/clients/acme", nil, http.StatusNoContent, "client.unassign", "acme", "tier", "", "pro", nil},
		{http.MethodDelete, "/v1/admin/tiers/pro", nil, http.StatusNoContent, "tier.delete", "pro", "description", "", "Teams.", nil},
	}
	for i, w := range writes {
		reqID := fmt.Sprintf("audit-test-%d", i)
		mustStatus(t, do(t, w.method, inst.URL+w.path, admin, w.body, "X-Request-Id", reqID), w.status)
		log := auditLog(t, inst, admin)
		if len(log) != i+1 {
			t.Fatalf("after %s %s: %d entries, want %d", w.method, w.path, len(log), i+1)
		}
		e := log[0]
		if e.Actor != "ops-alice" || e.Action != w.action || e.Target != w.target || e.RequestID != reqID || e.At.IsZero() {
			t.Errorf("%s %s: entry %+v; want %s on %s by ops-alice, request %s", w.method, w.path, e, w.action, w.target, reqID)
		}
		for _, side := range []struct {
			name string
			raw  json.RawMessage
			key  string
			want any
		}{{"before", e.Before, w.beforeKey, w.before}, {"after", e.After, w.afterKey, w.after}} {
			if side.key == "" {
				if string(side.raw) != "null" {
					t.Errorf("%s %s: %s = %s, want null", w.method, w.path, side.name, side.raw)
				}
				continue
			}
			if got := jsonField(t, side.raw, side.key); got != side.want {
				t.Errorf("%s %s: %s.%s = %v, want %v (%s)", w.method, w.path, side.name, side.key, got, side.want, side.raw)
			}
		}
	}

	// Neither the token nor any part of it is stored anywhere in a row.
	conn, err := pgx.Connect(context.Background(), b.dbURL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close(context.Background()) })
	var rows []string
	r, err := conn.Query(context.Background(), `SELECT a::text FROM audit_log a`)
	if err == nil {
		rows, err = pgx.CollectRows(r, pgx.RowTo[string])
	}
	if err != nil || len(rows) != len(writes) {
		t.Fatalf("%d raw rows (%v), want %d", len(rows), err, len(writes))
	}
	for _, row := range rows {
		for _, part := range append(strings.Split(admin, "."), admin) {
			if strings.Contains(row, part) {
				t.Errorf("audit row holds the token (%q): %s", part, row)
			}
		}
	}
}

func TestAudit_FailedWritesRecordNothing(t *testing.T) {
	t.Parallel()
	inst := newBackend(t).start(t, instanceOpts{})
	admin := token(t, "ops", true)
	mustStatus(t, do(t, http.MethodPost, inst.URL+"/v1/admin/tiers", admin, map[string]any{"name": "pro", "limit": 1, "per": 1}), http.StatusCreated)
	mustStatus(t, do(t, http.MethodPut, inst.URL+"/v1/admin/clients/c1", admin, map[string]any{"tier": "pro"}), http.StatusOK)
	before := len(auditLog(t, inst, admin))

	mustStatus(t, do(t, http.MethodPost, inst.URL+"/v1/admin/tiers", admin, map[string]any{"name": "x", "limit": 0, "per": 1}), http.StatusUnprocessableEntity)
	mustStatus(t, do(t, http.MethodPut, inst.URL+"/v1/admin/clients/c2", admin, map[string]any{"tier": "nope"}), http.StatusUnprocessableEntity)
	mustStatus(t, do(t, http.MethodPatch, inst.URL+"/v1/admin/tiers/nope", admin, map[string]any{"price_cents": 1}), http.StatusNotFound)
	mustStatus(t, do(t, http.MethodPost, inst.URL+"/v1/admin/tiers", admin, map[string]any{"name": "pro", "limit": 1, "per": 1}), http.StatusConflict)
	mustStatus(t, do(t, http.MethodDelete, inst.URL+"/v1/admin/tiers/pro", admin, nil), http.StatusConflict)
	// Not an admin: refused before any write.
	mustStatus(t, do(t, http.MethodDelete, inst.URL+"/v1/admin/clients/c1", token(t, "c1", false), nil), http.StatusForbidden)

	if after := auditLog(t, inst, admin); len(after) != before {
		t.Errorf("failed writes added %d entries: %+v", len(after)-before, after[:len(after)-before])
	}
}

func TestAudit_PagesNewestFirst(t *testing.T) {
	t.Parallel()
	inst := newBackend(t).start(t, instanceOpts{})
	admin := token(t, "ops", true)
	const n = 5
	for i := range n {
		mustStatus(t, do(t, http.MethodPut, inst.URL+fmt.Sprintf("/v1/admin/clients/c%d", i), admin, map[string]any{"tier": "free"}), http.StatusOK)
	}
	var targets []string
	query := "limit=2"
	for pages := 0; ; pages++ {
		if pages > n {
			t.Fatal("paging does not end")
		}
		var page auditPage
		mustStatus(t, do(t, http.MethodGet, inst.URL+"/v1/admin/audit?"+query, admin, nil), http.StatusOK).decode(t, &page)
		for _, e := range page.Entries {
			targets = append(targets, e.Target)
		}
		if page.Next == nil {
			break
		}
		query = "limit=2&after=" + escapeQuery(*page.Next)
	}
	if got, want := strings.Join(targets, " "), "c4 c3 c2 c1 c0"; got != want {
		t.Errorf("entries %s, want %s", got, want)
	}

	for query, field := range map[string]string{"after=abc": "after", "after=0": "after", "limit=0": "limit", "limit=1001": "limit", "limit=x": "limit"} {
		r := mustStatus(t, do(t, http.MethodGet, inst.URL+"/v1/admin/audit?"+query, admin, nil), http.StatusUnprocessableEntity)
		var e ErrorBody
		r.decode(t, &e)
		if _, ok := e.Error.Fields[field]; !ok || len(e.Error.Fields) != 1 {
			t.Errorf("?%s: fields %v, want only %q", query, e.Error.Fields, field)
		}
	}
	mustStatus(t, do(t, http.MethodGet, inst.URL+"/v1/admin/audit", token(t, "c1", false), nil), http.StatusForbidden)
	mustStatus(t, do(t, http.MethodHead, inst.URL+"/v1/admin/audit", admin, nil), http.StatusOK)
}
