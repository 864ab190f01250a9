package api

import (
	"encoding/json"
	"net/http"
	"slices"
	"testing"
)

func TestAdmin_OperationsLifecycle(t *testing.T) {
	t.Parallel()
	inst := newBackend(t).start(t, instanceOpts{})
	admin := token(t, "root", true)
	base := inst.URL + "/v1/admin/operations"
	search := map[string]any{"name": "search", "method": "GET", "path": "/v1/search/*", "cost": 5}

	r := mustStatus(t, do(t, http.MethodPost, base, admin, search), http.StatusCreated)
	if loc := r.Header.Get("Location"); loc != "/v1/admin/operations/search" {
		t.Errorf("Location = %q", loc)
	}
	var got OperationView
	r.decode(t, &got)
	if got != (OperationView{Name: "search", Method: "GET", Path: "/v1/search/*", Cost: 5}) {
		t.Errorf("POST answered %+v", got)
	}
	if code := mustStatus(t, do(t, http.MethodPost, base, admin, search), http.StatusConflict).errorCode(t); code != CodeConflict {
		t.Errorf("POST of a taken name: code %q", code)
	}
	samePattern := map[string]any{"name": "other", "method": "GET", "path": "/v1/search/*", "cost": 1}
	mustStatus(t, do(t, http.MethodPost, base, admin, samePattern), http.StatusConflict)
	mustStatus(t, do(t, http.MethodPut, base+"/other", admin, samePattern), http.StatusConflict)

	// PUT creates, then replaces.
	export := map[string]any{"method": "POST", "path": "/v1/export/*", "cost": 100}
	r = mustStatus(t, do(t, http.MethodPut, base+"/export", admin, export), http.StatusCreated)
	if loc := r.Header.Get("Location"); loc != "/v1/admin/operations/export" {
		t.Errorf("PUT (create) Location = %q", loc)
	}
	export["cost"], export["name"] = 0, "export"
	mustStatus(t, do(t, http.MethodPut, base+"/export", admin, export), http.StatusOK).decode(t, &got)
	if got.Cost != 0 {
		t.Errorf("PUT (replace) answered %+v, want cost 0", got)
	}
	mustStatus(t, do(t, http.MethodGet, base+"/export", admin, nil), http.StatusOK).decode(t, &got)
	if got != (OperationView{Name: "export", Method: "POST", Path: "/v1/export/*", Cost: 0}) {
		t.Errorf("GET after PUT = %+v", got)
	}
	mustStatus(t, do(t, http.MethodHead, base+"/export", admin, nil), http.StatusOK)
	mustStatus(t, do(t, http.MethodHead, base, admin, nil), http.StatusOK)

	var list struct{ Operations []OperationView }
	mustStatus(t, do(t, http.MethodGet, base, admin, nil), http.StatusOK).decode(t, &list)
	if len(list.Operations) != 2 || list.Operations[0].Name != "export" || list.Operations[1].Name != "search" {
		t.Errorf("list = %+v", list)
	}

	mustStatus(t, do(t, http.MethodDelete, base+"/search", admin, nil), http.StatusNoContent)
	mustStatus(t, do(t, http.MethodGet, base+"/search", admin, nil), http.StatusNotFound)
	mustStatus(t, do(t, http.MethodDelete, base+"/search", admin, nil), http.StatusNotFound)

	// Consumers may not.
	mustStatus(t, do(t, http.MethodGet, base, token(t, "user", false), nil), http.StatusForbidden)
	mustStatus(t, do(t, http.MethodGet, base, "", nil), http.StatusUnauthorized)

	// Each write is in the audit log, with the caller and before and after.
	var page struct {
		Entries []struct {
			Actor, Action, Target string
			Before, After         json.RawMessage
		}
	}
	mustStatus(t, do(t, http.MethodGet, inst.URL+"/v1/admin/audit", admin, nil), http.StatusOK).decode(t, &page)
	var actions []string
	for _, e := range page.Entries {
		if e.Actor != "root" {
			t.Errorf("audit entry %+v: actor %q, want root", e, e.Actor)
		}
		actions = append(actions, e.Action+" "+e.Target)
	}
	want := []string{"operation.delete search", "operation.put export", "operation.put export", "operation.put search"}
	if !slices.Equal(actions, want) {
		t.Errorf("audit = %v, want %v (newest first; the refused writes none)", actions, want)
	}
	if d := page.Entries[0]; string(d.After) != "null" || !json.Valid(d.Before) || len(d.Before) < 10 {
		t.Errorf("the delete's entry: before %s, after %s", d.Before, d.After)
	}
}

func TestAdmin_OperationsRefuseBadInput(t *testing.T) {
	t.Parallel()
	inst := newBackend(t).start(t, instanceOpts{})
	admin := token(t, "root", true)
	base := inst.URL + "/v1/admin/operations"
	for _, tc := range []struct {
		name   string
		method string
		url    string
		body   any
		status int
		fields []string
	}{
		{"missing fields", http.MethodPost, base, map[string]any{}, 422, []string{"cost", "method", "name", "path"}},
		{"bad values", http.MethodPost, base, map[string]any{"name": "Bad", "method": "get", "path": "/a?b", "cost": -1},
			422, []string{"cost", "method", "name", "path"}},
		{"star inside", http.MethodPut, base + "/x", map[string]any{"method": "*", "path": "/a/*/b", "cost": 1}, 422, []string{"path"}},
		{"huge cost", http.MethodPut, base + "/x", map[string]any{"method": "*", "path": "/a", "cost": 1000000001}, 422, []string{"cost"}},
		{"cost of another type", http.MethodPut, base + "/x", map[string]any{"method": "*", "path": "/a", "cost": "5"}, 422, []string{"cost"}},
		{"name differs from the path", http.MethodPut, base + "/x", map[string]any{"name": "y", "method": "*", "path": "/a", "cost": 1}, 422, []string{"name"}},
		{"bad name in the path", http.MethodPut, base + "/X", map[string]any{"method": "*", "path": "/a", "cost": 1}, 422, []string{"name"}},
		{"unknown field", http.MethodPost, base, map[string]any{"name": "x", "method": "*", "path": "/a", "cost": 1, "price": 2}, 400, nil},
		{"not JSON", http.MethodPost, base, "{", 400, nil},
		{"bad name to get", http.MethodGet, base + "/X", nil, 422, []string{"name"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := mustStatus(t, do(t, tc.method, tc.url, admin, tc.body), tc.status)
			var e ErrorBody
			r.decode(t, &e)
			var fields []string
			for f := range e.Error.Fields {
				fields = append(fields, f)
			}
			slices.Sort(fields)
			if !slices.Equal(fields, tc.fields) {
				t.Errorf("fields = %v (%s), want %v", fields, r.Body, tc.fields)
			}
		})
	}
	// Nothing was stored.
	var list struct{ Operations []OperationView }
	mustStatus(t, do(t, http.MethodGet, base, admin, nil), http.StatusOK).decode(t, &list)
	if len(list.Operations) != 0 {
		t.Errorf("refused writes stored %+v", list.Operations)
	}
}

func TestIdempotency_OperationWritesReplay(t *testing.T) {
	t.Parallel()
	inst := newBackend(t).start(t, instanceOpts{})
	admin := token(t, "root", true)
	base := inst.URL + "/v1/admin/operations"
	body := map[string]any{"name": "search", "method": "GET", "path": "/v1/search/*", "cost": 5}
	first := mustStatus(t, do(t, http.MethodPost, base, admin, body, HeaderIdempotencyKey, "k1"), http.StatusCreated)
	// Without the key, the same POST is a conflict; with it, the first answer.
	sameAnswer(t, first, do(t, http.MethodPost, base, admin, body, HeaderIdempotencyKey, "k1"))
	put := map[string]any{"method": "GET", "path": "/v1/search/*", "cost": 6}
	firstPut := mustStatus(t, do(t, http.MethodPut, base+"/search", admin, put, HeaderIdempotencyKey, "k2"), http.StatusOK)
	sameAnswer(t, firstPut, do(t, http.MethodPut, base+"/search", admin, put, HeaderIdempotencyKey, "k2"))
	put["cost"] = 7
	mustStatus(t, do(t, http.MethodPut, base+"/search", admin, put, HeaderIdempotencyKey, "k2"), http.StatusUnprocessableEntity)

	var page struct{ Entries []struct{ Action string } }
	mustStatus(t, do(t, http.MethodGet, inst.URL+"/v1/admin/audit", admin, nil), http.StatusOK).decode(t, &page)
	if len(page.Entries) != 2 {
		t.Errorf("audit has %d entries, want 2: a replay changes nothing", len(page.Entries))
	}
}
