package api

import (
	"net/http"
	"reflect"
	"strings"
	"testing"
)

// adminRoutes lists every admin route with a request an admin may make.
var adminRoutes = []struct {
	method, path string
	body         any
	want         int
}{
	{http.MethodGet, "/v1/admin/tiers", nil, http.StatusOK},
	{http.MethodPost, "/v1/admin/tiers", map[string]any{"name": "silver", "limit": 10, "per": 60}, http.StatusCreated},
	{http.MethodGet, "/v1/admin/tiers/silver", nil, http.StatusOK},
	{http.MethodPut, "/v1/admin/tiers/silver", map[string]any{"limit": 20, "per": 60}, http.StatusOK},
	{http.MethodPatch, "/v1/admin/tiers/silver", map[string]any{"price_cents": 500}, http.StatusOK},
	{http.MethodGet, "/v1/admin/clients", nil, http.StatusOK},
	{http.MethodPut, "/v1/admin/clients/zoe", map[string]any{"tier": "silver"}, http.StatusOK},
	{http.MethodGet, "/v1/admin/clients/zoe", nil, http.StatusOK},
	{http.MethodGet, "/v1/admin/clients/zoe/quota", nil, http.StatusOK},
	{http.MethodDelete, "/v1/admin/clients/zoe/quota", nil, http.StatusNoContent},
	{http.MethodDelete, "/v1/admin/clients/zoe", nil, http.StatusNoContent},
	{http.MethodDelete, "/v1/admin/tiers/silver", nil, http.StatusNoContent},
}

// TestAdmin_Authorization: for every admin route, no token is 401, a token
// without quota:admin 403, an admin token 2xx.
func TestAdmin_Authorization(t *testing.T) {
	t.Parallel()
	b := newBackend(t)
	inst := b.start(t, instanceOpts{})
	user, admin := token(t, "mallory", false), token(t, "root", true)
	for _, rt := range adminRoutes {
		r := mustStatus(t, do(t, rt.method, inst.URL+rt.path, "", rt.body), http.StatusUnauthorized)
		if r.errorCode(t) != CodeUnauthorized || r.Header.Get("WWW-Authenticate") == "" {
			t.Fatalf("%s %s without token: %s", rt.method, rt.path, r.Body)
		}
		if r := mustStatus(t, do(t, rt.method, inst.URL+rt.path, user, rt.body), http.StatusForbidden); r.errorCode(t) != CodeForbidden {
			t.Fatalf("%s %s as non-admin: %s", rt.method, rt.path, r.Body)
		}
		mustStatus(t, do(t, rt.method, inst.URL+rt.path, admin, rt.body), rt.want)
	}
}

// TestAdmin_TierLifecycle walks a tier and a client through the API.
func TestAdmin_TierLifecycle(t *testing.T) {
	t.Parallel()
	b := newBackend(t)
	inst := b.start(t, instanceOpts{})
	admin := token(t, "root", true)
	var created TierView
	r := mustStatus(t, do(t, http.MethodPost, inst.URL+"/v1/admin/tiers", admin,
		map[string]any{"name": "pro", "limit": 1000, "per": 60, "description": "For teams", "price_cents": 1999, "currency": "EUR"}), http.StatusCreated)
	r.decode(t, &created)
	want := TierView{Name: "pro", Limit: 1000, Per: secs(60), Description: "For teams", PriceCents: 1999, Currency: "EUR"}
	if !sameTier(created, want) || r.Header.Get("Location") != "/v1/admin/tiers/pro" {
		t.Fatalf("created %+v at %q, want %+v", created, r.Header.Get("Location"), want)
	}
	var got TierView
	mustStatus(t, do(t, http.MethodGet, inst.URL+"/v1/admin/tiers/pro", admin, nil), http.StatusOK).decode(t, &got)
	if !sameTier(got, want) {
		t.Fatalf("get %+v, want %+v", got, want)
	}
	// PUT replaces the whole tier: optional fields left out take defaults.
	mustStatus(t, do(t, http.MethodPut, inst.URL+"/v1/admin/tiers/pro", admin, map[string]any{"name": "pro", "limit": 5, "per": 1}), http.StatusOK).decode(t, &got)
	if want := (TierView{Name: "pro", Limit: 5, Per: secs(1), Currency: "USD"}); !sameTier(got, want) {
		t.Fatalf("after PUT %+v, want %+v", got, want)
	}
	var public struct{ Tiers []TierView }
	mustStatus(t, do(t, http.MethodGet, inst.URL+"/v1/tiers", "", nil), http.StatusOK).decode(t, &public)
	names := []string{}
	for _, tv := range public.Tiers {
		names = append(names, tv.Name)
	}
	if len(names) != 3 {
		t.Errorf("public tiers %v, want anonymous, free and pro", names)
	}

	var cl ClientView
	mustStatus(t, do(t, http.MethodGet, inst.URL+"/v1/admin/clients/never-seen", admin, nil), http.StatusOK).decode(t, &cl)
	if cl != (ClientView{ID: "never-seen", Tier: "free", AnchorDay: 1}) {
		t.Fatalf("unassigned client %+v, want free", cl)
	}
	for _, id := range []string{"c1", "c2", "c3", "c/4 ü"} {
		mustStatus(t, do(t, http.MethodPut, inst.URL+"/v1/admin/clients/"+escapePath(id), admin, map[string]string{"tier": "pro"}), http.StatusOK)
	}
	mustStatus(t, do(t, http.MethodGet, inst.URL+"/v1/admin/clients/"+escapePath("c/4 ü"), admin, nil), http.StatusOK).decode(t, &cl)
	if cl != (ClientView{ID: "c/4 ü", Tier: "pro", Assigned: true, AnchorDay: 1}) {
		t.Fatalf("client with escapes %+v", cl)
	}
	// Page through pro's clients two at a time.
	var seen []string
	after := ""
	for range 5 {
		var page struct {
			Clients []ClientView
			Next    string
		}
		mustStatus(t, do(t, http.MethodGet, inst.URL+"/v1/admin/clients?tier=pro&limit=2&after="+escapeQuery(after), admin, nil), http.StatusOK).decode(t, &page)
		for _, c := range page.Clients {
			seen = append(seen, c.ID)
		}
		if page.Next == "" {
			break
		}
		after = page.Next
	}
	if !reflect.DeepEqual(seen, []string{"c/4 ü", "c1", "c2", "c3"}) {
		t.Fatalf("paged clients %q", seen)
	}
	mustStatus(t, do(t, http.MethodDelete, inst.URL+"/v1/admin/tiers/pro", admin, nil), http.StatusConflict)
	for _, name := range []string{"anonymous", "free"} {
		r := mustStatus(t, do(t, http.MethodDelete, inst.URL+"/v1/admin/tiers/"+name, admin, nil), http.StatusConflict)
		if r.errorCode(t) != CodeConflict {
			t.Fatalf("delete %s: %s", name, r.Body)
		}
	}
	mustStatus(t, do(t, http.MethodDelete, inst.URL+"/v1/admin/tiers/nope", admin, nil), http.StatusNotFound)

	// A name never spans path segments: an extra segment is a path that
	// does not exist (404); an escaped slash is one
	// segment and a bad name (422).
	for _, method := range []string{http.MethodGet, http.MethodPut, http.MethodDelete} {
		for _, path := range []string{"/v1/admin/tiers/pro/x", "/v1/admin/tiers/pro/", "/v1/admin/clients/amy/quota/x"} {
			r := mustStatus(t, do(t, method, inst.URL+path, admin, map[string]any{"limit": 1, "per": 1}), http.StatusNotFound)
			if r.errorCode(t) != CodeNotFound {
				t.Fatalf("%s %s: %s", method, path, r.Body)
			}
		}
	}
	mustStatus(t, do(t, http.MethodGet, inst.URL+"/v1/admin/tiers/pro%2Fx", admin, nil), http.StatusUnprocessableEntity)
}

// TestAdmin_BadInputChangesNothing sends every kind of bad input and checks
// the status, the envelope, the named fields and that no data changed.
func TestAdmin_BadInputChangesNothing(t *testing.T) {
	t.Parallel()
	b := newBackend(t)
	inst := b.start(t, instanceOpts{})
	admin := token(t, "root", true)
	mustStatus(t, do(t, http.MethodPost, inst.URL+"/v1/admin/tiers", admin, map[string]any{"name": "pro", "limit": 10, "per": 60}), http.StatusCreated)
	mustStatus(t, do(t, http.MethodPut, inst.URL+"/v1/admin/clients/amy", admin, map[string]any{"tier": "pro"}), http.StatusOK)
	snapshot := func() string {
		return string(do(t, http.MethodGet, inst.URL+"/v1/admin/tiers", admin, nil).Body) +
			string(do(t, http.MethodGet, inst.URL+"/v1/admin/clients", admin, nil).Body)
	}
	before := snapshot()
	huge := `{"name":"big","limit":1,"per":1,"description":"` + strings.Repeat("x", 70<<10) + `"}`
	for _, tc := range []struct {
		name, method, path string
		body               any
		header             []string
		status             int
		code               string
		fields             []string
	}{
		{"malformed JSON", "POST", "/v1/admin/tiers", `{"name":`, nil, 400, CodeBadRequest, nil},
		{"not an object", "POST", "/v1/admin/tiers", `[1,2]`, nil, 400, CodeBadRequest, nil},
		{"null body", "POST", "/v1/admin/tiers", `null`, nil, 400, CodeBadRequest, nil},
		{"unknown field", "POST", "/v1/admin/tiers", `{"name":"x","limit":1,"per":1,"burst":5}`, nil, 400, CodeBadRequest, nil},
		{"field named twice", "POST", "/v1/admin/tiers", `{"name":"x","limit":1,"limit":2,"per":1}`, nil, 400, CodeBadRequest, nil},
		{"field in another case", "POST", "/v1/admin/tiers", `{"name":"x","Limit":1,"per":1}`, nil, 400, CodeBadRequest, nil},
		{"PUT field named twice", "PUT", "/v1/admin/tiers/pro", `{"limit":1,"per":1,"per":3600}`, nil, 400, CodeBadRequest, nil},
		{"assign tier named twice", "PUT", "/v1/admin/clients/amy", `{"tier":"pro","tier":"free"}`, nil, 400, CodeBadRequest, nil},
		{"trailing JSON", "POST", "/v1/admin/tiers", `{"name":"x","limit":1,"per":1}{}`, nil, 400, CodeBadRequest, nil},
		{"empty body", "POST", "/v1/admin/tiers", ``, nil, 400, CodeBadRequest, nil},
		{"oversized body", "POST", "/v1/admin/tiers", huge, nil, 413, CodeTooLarge, nil},
		{"wrong content type", "POST", "/v1/admin/tiers", `{"name":"x","limit":1,"per":1}`, []string{"Content-Type", "text/plain"}, 415, CodeUnsupportedType, nil},
		{"limit zero", "POST", "/v1/admin/tiers", `{"name":"x","limit":0,"per":1}`, nil, 422, CodeInvalid, []string{"limit"}},
		{"limit too big", "POST", "/v1/admin/tiers", `{"name":"x","limit":1000000001,"per":1}`, nil, 422, CodeInvalid, []string{"limit"}},
		{"limit not integer", "POST", "/v1/admin/tiers", `{"name":"x","limit":1.5,"per":1}`, nil, 422, CodeInvalid, []string{"limit"}},
		{"limit a string", "POST", "/v1/admin/tiers", `{"name":"x","limit":"10","per":1}`, nil, 422, CodeInvalid, []string{"limit"}},
		{"per too long", "POST", "/v1/admin/tiers", `{"name":"x","limit":1,"per":31536001}`, nil, 422, CodeInvalid, []string{"per"}},
		{"per overflowing", "POST", "/v1/admin/tiers", `{"name":"x","limit":1,"per":9223372036854775807}`, nil, 422, CodeInvalid, []string{"per"}},
		{"per negative", "POST", "/v1/admin/tiers", `{"name":"x","limit":1,"per":-1}`, nil, 422, CodeInvalid, []string{"per"}},
		{"bad name", "POST", "/v1/admin/tiers", `{"name":"Pro Plan","limit":1,"per":1}`, nil, 422, CodeInvalid, []string{"name"}},
		{"missing fields", "POST", "/v1/admin/tiers", `{}`, nil, 422, CodeInvalid, []string{"name", "limits"}},
		{"limits null", "POST", "/v1/admin/tiers", `{"name":"x","limits":null}`, nil, 422, CodeInvalid, []string{"limits"}},
		{"five windows", "POST", "/v1/admin/tiers", `{"name":"x","limits":[{"limit":1,"per":1},{"limit":1,"per":2},{"limit":1,"per":3},{"limit":1,"per":4},{"limit":1,"per":"month"}]}`, nil, 422, CodeInvalid, []string{"limits"}},
		{"no windows", "POST", "/v1/admin/tiers", `{"name":"x","limits":[]}`, nil, 422, CodeInvalid, []string{"limits"}},
		{"duplicate per", "POST", "/v1/admin/tiers", `{"name":"x","limits":[{"limit":1,"per":60},{"limit":2,"per":60}]}`, nil, 422, CodeInvalid, []string{"limits[1].per"}},
		{"two months", "POST", "/v1/admin/tiers", `{"name":"x","limits":[{"limit":1,"per":"month"},{"limit":2,"per":1},{"limit":3,"per":"month"}]}`, nil, 422, CodeInvalid, []string{"limits[2].per"}},
		{"window limit zero", "POST", "/v1/admin/tiers", `{"name":"x","limits":[{"limit":1,"per":1},{"limit":0,"per":60}]}`, nil, 422, CodeInvalid, []string{"limits[1].limit"}},
		{"window per zero", "POST", "/v1/admin/tiers", `{"name":"x","limits":[{"limit":1,"per":0}]}`, nil, 422, CodeInvalid, []string{"limits[0].per"}},
		{"window per week", "POST", "/v1/admin/tiers", `{"name":"x","limits":[{"limit":1,"per":1},{"limit":2,"per":"week"}]}`, nil, 422, CodeInvalid, []string{"limits[1].per"}},
		{"window per fractional", "POST", "/v1/admin/tiers", `{"name":"x","limits":[{"limit":1,"per":1.5}]}`, nil, 422, CodeInvalid, []string{"limits[0].per"}},
		{"window limit a string", "POST", "/v1/admin/tiers", `{"name":"x","limits":[{"limit":"1","per":1}]}`, nil, 422, CodeInvalid, []string{"limits[0].limit"}},
		{"window missing per", "POST", "/v1/admin/tiers", `{"name":"x","limits":[{"limit":1}]}`, nil, 422, CodeInvalid, []string{"limits[0].per"}},
		{"per week", "POST", "/v1/admin/tiers", `{"name":"x","limit":1,"per":"week"}`, nil, 422, CodeInvalid, []string{"per"}},
		{"per fractional", "POST", "/v1/admin/tiers", `{"name":"x","limit":1,"per":1.5}`, nil, 422, CodeInvalid, []string{"per"}},
		{"limits not an array", "POST", "/v1/admin/tiers", `{"name":"x","limits":{"limit":1,"per":1}}`, nil, 422, CodeInvalid, []string{"limits"}},
		{"window not an object", "POST", "/v1/admin/tiers", `{"name":"x","limits":[[1,1]]}`, nil, 422, CodeInvalid, []string{"limits[0]"}},
		{"unknown field in a window", "POST", "/v1/admin/tiers", `{"name":"x","limits":[{"limit":1,"per":1,"burst":2}]}`, nil, 400, CodeBadRequest, nil},
		{"window field in another case", "POST", "/v1/admin/tiers", `{"name":"x","limits":[{"LIMIT":1,"per":1}]}`, nil, 400, CodeBadRequest, nil},
		{"window field named twice", "POST", "/v1/admin/tiers", `{"name":"x","limits":[{"limit":1,"limit":2,"per":1}]}`, nil, 400, CodeBadRequest, nil},
		{"limit differs from limits", "POST", "/v1/admin/tiers", `{"name":"x","limit":2,"per":1,"limits":[{"limit":1,"per":1}]}`, nil, 422, CodeInvalid, []string{"limit"}},
		{"per differs from limits", "PUT", "/v1/admin/tiers/pro", `{"per":"month","limits":[{"limit":1,"per":1}]}`, nil, 422, CodeInvalid, []string{"per"}},
		{"PUT bad windows", "PUT", "/v1/admin/tiers/pro", `{"limits":[{"limit":1,"per":1},{"limit":0,"per":1}]}`, nil, 422, CodeInvalid, []string{"limits[1].limit", "limits[1].per"}},
		{"PATCH null limits", "PATCH", "/v1/admin/tiers/pro", `{"limits":null}`, nil, 422, CodeInvalid, []string{"limits"}},
		{"PATCH five windows", "PATCH", "/v1/admin/tiers/pro", `{"limits":[{"limit":1,"per":1},{"limit":1,"per":2},{"limit":1,"per":3},{"limit":1,"per":4},{"limit":1,"per":5}]}`, nil, 422, CodeInvalid, []string{"limits"}},
		{"PATCH per week", "PATCH", "/v1/admin/tiers/pro", `{"per":"week"}`, nil, 422, CodeInvalid, []string{"per"}},
		{"PATCH limit differs from limits", "PATCH", "/v1/admin/tiers/pro", `{"limit":3,"limits":[{"limit":1,"per":1}]}`, nil, 422, CodeInvalid, []string{"limit"}},
		{"assign anchor day 0", "PUT", "/v1/admin/clients/amy", `{"tier":"pro","anchor_day":0}`, nil, 422, CodeInvalid, []string{"anchor_day"}},
		{"assign anchor day 29", "PUT", "/v1/admin/clients/amy", `{"tier":"pro","anchor_day":29}`, nil, 422, CodeInvalid, []string{"anchor_day"}},
		{"assign anchor day a string", "PUT", "/v1/admin/clients/amy", `{"tier":"pro","anchor_day":"15"}`, nil, 422, CodeInvalid, []string{"anchor_day"}},
		{"assign anchor day fractional", "PUT", "/v1/admin/clients/amy", `{"tier":"pro","anchor_day":1.5}`, nil, 422, CodeInvalid, []string{"anchor_day"}},
		{"assign anchor day in another case", "PUT", "/v1/admin/clients/amy", `{"tier":"pro","Anchor_Day":2}`, nil, 400, CodeBadRequest, nil},
		{"negative price", "POST", "/v1/admin/tiers", `{"name":"x","limit":1,"per":1,"price_cents":-1}`, nil, 422, CodeInvalid, []string{"price_cents"}},
		{"price above the bound", "POST", "/v1/admin/tiers", `{"name":"x","limit":1,"per":1,"price_cents":1000000000001}`, nil, 422, CodeInvalid, []string{"price_cents"}},
		{"PUT price above the bound", "PUT", "/v1/admin/tiers/pro", `{"limit":1,"per":1,"price_cents":9223372036854775807}`, nil, 422, CodeInvalid, []string{"price_cents"}},
		{"bad currency", "POST", "/v1/admin/tiers", `{"name":"x","limit":1,"per":1,"currency":"euro"}`, nil, 422, CodeInvalid, []string{"currency"}},
		{"duplicate", "POST", "/v1/admin/tiers", `{"name":"pro","limit":1,"per":1}`, nil, 409, CodeConflict, nil},
		{"PUT name mismatch", "PUT", "/v1/admin/tiers/pro", `{"name":"other","limit":1,"per":1}`, nil, 422, CodeInvalid, []string{"name"}},
		{"PUT missing limit", "PUT", "/v1/admin/tiers/pro", `{"per":1}`, nil, 422, CodeInvalid, []string{"limit"}},
		{"assign unknown tier", "PUT", "/v1/admin/clients/amy", `{"tier":"ghost"}`, nil, 422, CodeInvalid, []string{"tier"}},
		{"assign missing tier", "PUT", "/v1/admin/clients/amy", `{}`, nil, 422, CodeInvalid, []string{"tier"}},
		{"assign tier not string", "PUT", "/v1/admin/clients/amy", `{"tier":7}`, nil, 422, CodeInvalid, []string{"tier"}},
		{"client id too long", "PUT", "/v1/admin/clients/" + strings.Repeat("a", 256), `{"tier":"pro"}`, nil, 422, CodeInvalid, []string{"id"}},
		{"list limit not integer", "GET", "/v1/admin/clients?limit=abc", nil, nil, 422, CodeInvalid, []string{"limit"}},
		{"list limit too big", "GET", "/v1/admin/clients?limit=100000", nil, nil, 422, CodeInvalid, []string{"limit"}},
		{"unknown route", "GET", "/v1/admin/nothing", nil, nil, 404, CodeNotFound, nil},
		{"PATCH null limit", "PATCH", "/v1/admin/tiers/pro", `{"limit":null}`, nil, 422, CodeInvalid, []string{"limit"}},
		{"PATCH name mismatch", "PATCH", "/v1/admin/tiers/pro", `{"name":"other","price_cents":5}`, nil, 422, CodeInvalid, []string{"name"}},
		{"PATCH invalid values", "PATCH", "/v1/admin/tiers/pro", `{"per":0,"price_cents":5}`, nil, 422, CodeInvalid, []string{"per"}},
		{"PATCH unknown field", "PATCH", "/v1/admin/tiers/pro", `{"price_cents":5,"burst":5}`, nil, 400, CodeBadRequest, nil},
		{"PATCH array body", "PATCH", "/v1/admin/tiers/pro", `[{"price_cents":5}]`, nil, 400, CodeBadRequest, nil},
		{"PATCH null body", "PATCH", "/v1/admin/tiers/pro", `null`, nil, 400, CodeBadRequest, nil},
		{"PATCH wrong content type", "PATCH", "/v1/admin/tiers/pro", `{"price_cents":5}`, []string{"Content-Type", "text/plain"}, 415, CodeUnsupportedType, nil},
		{"PATCH oversized body", "PATCH", "/v1/admin/tiers/pro", huge, nil, 413, CodeTooLarge, nil},
		{"PATCH missing tier", "PATCH", "/v1/admin/tiers/ghost", `{"price_cents":5}`, nil, 404, CodeNotFound, nil},
		{"wrong method", "POST", "/v1/admin/tiers/pro", `{}`, nil, 405, CodeMethodNotAllowed, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := do(t, tc.method, inst.URL+tc.path, admin, tc.body, tc.header...)
			mustStatus(t, r, tc.status)
			var e ErrorBody
			r.decode(t, &e)
			if e.Error.Code != tc.code {
				t.Fatalf("code %q, want %q; body %s", e.Error.Code, tc.code, r.Body)
			}
			for _, f := range tc.fields {
				if _, ok := e.Error.Fields[f]; !ok {
					t.Errorf("fields %v do not name %q", e.Error.Fields, f)
				}
			}
			for _, leak := range []string{"SQLSTATE", "pgx", "postgres", "goroutine", ".go:", "127.0.0.1"} {
				if strings.Contains(string(r.Body), leak) {
					t.Errorf("body leaks %q: %s", leak, r.Body)
				}
			}
		})
	}
	if after := snapshot(); after != before {
		t.Fatalf("bad input changed data:\nbefore %s\nafter  %s", before, after)
	}
}
