package api

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/quotad/quotad/tiers"
)

// TestAdmin_TierWindows: a tier of several windows is created, read,
// listed publicly, replaced and patched through the API, every
// representation carrying limits and the first window as limit and per;
// the Part 1 body still makes a one-window tier.
func TestAdmin_TierWindows(t *testing.T) {
	t.Parallel()
	inst := newBackend(t).start(t, instanceOpts{})
	admin := token(t, "root", true)
	three := []WindowView{{Limit: 20, Per: secs(1)}, {Limit: 6000, Per: secs(3600)}, {Limit: 1_000_000, Per: month}}
	want := TierView{Name: "metered", Limit: 20, Per: secs(1), Limits: three, Description: "Metered", PriceCents: 4900, Currency: "USD"}

	var got TierView
	r := mustStatus(t, do(t, http.MethodPost, inst.URL+"/v1/admin/tiers", admin,
		`{"name":"metered","limits":[{"limit":20,"per":1},{"limit":6000,"per":3600},{"limit":1000000,"per":"month"}],"description":"Metered","price_cents":4900}`),
		http.StatusCreated)
	if r.decode(t, &got); !sameTier(got, want) {
		t.Fatalf("created %+v, want %+v", got, want)
	}
	if !strings.Contains(string(r.Body), `{"limit":1000000,"per":"month"}`) {
		t.Errorf("a month window is not written as \"month\": %s", r.Body)
	}
	mustStatus(t, do(t, http.MethodGet, inst.URL+"/v1/admin/tiers/metered", admin, nil), http.StatusOK).decode(t, &got)
	if !sameTier(got, want) {
		t.Errorf("get %+v, want %+v", got, want)
	}
	var public struct{ Tiers []TierView }
	mustStatus(t, do(t, http.MethodGet, inst.URL+"/v1/tiers", "", nil), http.StatusOK).decode(t, &public)
	found := false
	for _, v := range public.Tiers {
		if v.Name == "metered" {
			found = sameTier(v, want)
		} else if len(v.Limits) != 1 || v.Limits[0].Limit != v.Limit || v.Limits[0].Per != v.Per {
			t.Errorf("public %s: %+v, want its one window in limits", v.Name, v)
		}
	}
	if !found {
		t.Errorf("public tiers %+v, want metered as %+v", public.Tiers, want)
	}

	// The Part 1 form: one window, shown in limits too.
	mustStatus(t, do(t, http.MethodPost, inst.URL+"/v1/admin/tiers", admin,
		map[string]any{"name": "classic", "limit": 100, "per": 60}), http.StatusCreated).decode(t, &got)
	if w := (TierView{Name: "classic", Limit: 100, Per: secs(60), Currency: "USD"}); !sameTier(got, w) || len(got.Limits) != 1 {
		t.Errorf("Part 1 body created %+v, want %+v with one window in limits", got, w)
	}
	// Both forms at once, agreeing; per "month" in the Part 1 form.
	mustStatus(t, do(t, http.MethodPut, inst.URL+"/v1/admin/tiers/classic", admin,
		`{"limit":5,"per":"month","limits":[{"limit":5,"per":"month"},{"limit":1,"per":1}]}`), http.StatusOK).decode(t, &got)
	if w := (TierView{Name: "classic", Limit: 5, Per: month, Limits: []WindowView{{Limit: 5, Per: month}, {Limit: 1, Per: secs(1)}}, Currency: "USD"}); !sameTier(got, w) {
		t.Errorf("PUT with limits gave %+v, want %+v", got, w)
	}
	mustStatus(t, do(t, http.MethodPut, inst.URL+"/v1/admin/tiers/classic", admin, `{"limit":7,"per":"month"}`), http.StatusOK).decode(t, &got)
	if w := (TierView{Name: "classic", Limit: 7, Per: month, Currency: "USD"}); !sameTier(got, w) {
		t.Errorf("PUT of one month window gave %+v, want %+v", got, w)
	}

	// PATCH: limits replaces them all; limit or per alone the first one.
	patch := func(body string, status int) TierView {
		t.Helper()
		var v TierView
		r := mustStatus(t, do(t, http.MethodPatch, inst.URL+"/v1/admin/tiers/metered", admin, body, "Content-Type", MIMEMergePatch), status)
		if status == http.StatusOK {
			r.decode(t, &v)
		}
		return v
	}
	want.Limits = []WindowView{{Limit: 10, Per: secs(1)}, {Limit: 500_000, Per: month}}
	if got := patch(`{"limits":[{"limit":10,"per":1},{"limit":500000,"per":"month"}]}`, http.StatusOK); !sameTier(got, withFirst(want)) {
		t.Errorf("PATCH limits gave %+v, want %+v", got, withFirst(want))
	}
	want.Limits = []WindowView{{Limit: 15, Per: secs(1)}, {Limit: 500_000, Per: month}}
	if got := patch(`{"limit":15}`, http.StatusOK); !sameTier(got, withFirst(want)) {
		t.Errorf("PATCH limit gave %+v, want %+v", got, withFirst(want))
	}
	want.Limits = []WindowView{{Limit: 15, Per: secs(2)}, {Limit: 500_000, Per: month}}
	want.PriceCents = 100
	if got := patch(`{"per":2,"price_cents":100}`, http.StatusOK); !sameTier(got, withFirst(want)) {
		t.Errorf("PATCH per gave %+v, want %+v", got, withFirst(want))
	}
	// Refused patches change nothing, here or in the cache.
	for _, bad := range []string{`{"per":"month"}`, `{"limits":null}`, `{"limit":0}`, `{"limits":[]}`} {
		patch(bad, http.StatusUnprocessableEntity)
	}
	mustStatus(t, do(t, http.MethodGet, inst.URL+"/v1/admin/tiers/metered", admin, nil), http.StatusOK).decode(t, &got)
	if !sameTier(got, withFirst(want)) {
		t.Errorf("after refused patches the tier reads %+v, want %+v", got, withFirst(want))
	}
	if ct, ok := inst.cache.Tier("metered"); !ok || !sameTier(tierView(ct), withFirst(want)) {
		t.Errorf("the cache holds %+v, want %+v", tierView(ct), withFirst(want))
	}
	// A per alone equal to another window's is refused by the database:
	// 422 naming limits, not a 500.
	mustStatus(t, do(t, http.MethodPut, inst.URL+"/v1/admin/tiers/dup", admin,
		`{"limits":[{"limit":1,"per":1},{"limit":2,"per":60}]}`), http.StatusCreated)
	r = mustStatus(t, do(t, http.MethodPatch, inst.URL+"/v1/admin/tiers/dup", admin, `{"per":60}`, "Content-Type", MIMEMergePatch), http.StatusUnprocessableEntity)
	var e ErrorBody
	if r.decode(t, &e); e.Error.Fields["limits"] == "" {
		t.Errorf("PATCH of per onto another window's: %s, want 422 naming limits", r.Body)
	}
	// A window member other than limit and per is 400, as one of the body
	// is, and the message names it.
	for body, msg := range map[string]string{
		`{"name":"x","limits":[{"limit":1,"per":1},{"limit":1,"per":2,"burst":3}]}`: `unknown field "limits[1].burst"`,
		`{"name":"x","limits":[{"limit":1,"Per":1}]}`:                               `unknown field "limits[0].Per"`,
		`{"name":"x","limits":[{"limit":1,"per":1,"per":2}]}`:                       `duplicate field "limits[0].per"`,
	} {
		r := mustStatus(t, do(t, http.MethodPost, inst.URL+"/v1/admin/tiers", admin, body), http.StatusBadRequest)
		if r.decode(t, &e); e.Error.Code != CodeBadRequest || e.Error.Message != msg {
			t.Errorf("%s: %s, want 400 %q", body, r.Body, msg)
		}
	}
}

// withFirst returns v with limit and per set to its first window.
func withFirst(v TierView) TierView {
	v.Limit, v.Per = v.Limits[0].Limit, v.Limits[0].Per
	return v
}

// TestAdmin_ClientAnchorDay: an assignment carries anchor_day (default
// 1), which every client representation shows and the cache serves.
func TestAdmin_ClientAnchorDay(t *testing.T) {
	t.Parallel()
	inst := newBackend(t).start(t, instanceOpts{})
	admin := token(t, "root", true)
	ctx := context.Background()
	mustStatus(t, do(t, http.MethodPost, inst.URL+"/v1/admin/tiers", admin, map[string]any{"name": "pro", "limit": 10, "per": 60}), http.StatusCreated)
	url := inst.URL + "/v1/admin/clients/amy"

	var cl ClientView
	mustStatus(t, do(t, http.MethodPut, url, admin, map[string]any{"tier": "pro", "anchor_day": 15}), http.StatusOK).decode(t, &cl)
	if want := (ClientView{ID: "amy", Tier: "pro", Assigned: true, AnchorDay: 15}); cl != want {
		t.Fatalf("PUT answered %+v, want %+v", cl, want)
	}
	mustStatus(t, do(t, http.MethodGet, url, admin, nil), http.StatusOK).decode(t, &cl)
	if cl.AnchorDay != 15 {
		t.Errorf("GET %+v, want anchor day 15", cl)
	}
	var page struct{ Clients []ClientView }
	mustStatus(t, do(t, http.MethodGet, inst.URL+"/v1/admin/clients", admin, nil), http.StatusOK).decode(t, &page)
	if len(page.Clients) != 1 || page.Clients[0].AnchorDay != 15 {
		t.Errorf("list %+v, want amy on day 15", page.Clients)
	}
	if tier, day, err := inst.cache.PlanFor(ctx, "amy"); err != nil || tier.Name != "pro" || day != 15 {
		t.Errorf("PlanFor(amy) = %s, %d, %v; want pro, 15", tier.Name, day, err)
	}
	// Refused: nothing changes.
	mustStatus(t, do(t, http.MethodPut, url, admin, map[string]any{"tier": "pro", "anchor_day": 31}), http.StatusUnprocessableEntity)
	mustStatus(t, do(t, http.MethodGet, url, admin, nil), http.StatusOK).decode(t, &cl)
	if cl.AnchorDay != 15 {
		t.Errorf("after a refused PUT %+v, want anchor day 15", cl)
	}
	// PUT replaces the assignment: left out, the anchor day is 1 again.
	mustStatus(t, do(t, http.MethodPut, url, admin, map[string]any{"tier": "pro"}), http.StatusOK).decode(t, &cl)
	if cl.AnchorDay != 1 {
		t.Errorf("PUT without anchor_day answered %+v, want anchor day 1", cl)
	}
	waitFor(t, 2*time.Second, "the cache to see anchor day 1", func() bool {
		_, day, _ := inst.cache.PlanFor(ctx, "amy")
		return day == 1
	})
	mustStatus(t, do(t, http.MethodGet, inst.URL+"/v1/admin/clients/nobody", admin, nil), http.StatusOK).decode(t, &cl)
	if cl.AnchorDay != tiers.MinAnchorDay || cl.Assigned {
		t.Errorf("unassigned client %+v, want anchor day 1", cl)
	}
}
