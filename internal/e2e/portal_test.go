package e2e

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestPortal_ShowsTheClientItsOwnQuota: /portal/ refuses a bad token in
// words; with a client's own token it shows the client's plan and, for
// every window, the same limit and remaining as /v1/quota, its metered
// usage in the chart, and the plan list; it never calls an admin route
// nor shows another client's id, and it fits a phone.
func TestPortal_ShowsTheClientItsOwnQuota(t *testing.T) {
	t.Parallel()
	q := pageQuotad(t)
	plan := map[string]any{"limits": []map[string]any{{"limit": 100, "per": 86400}, {"limit": 5000, "per": "month", "soft": true}},
		"description": "For the portal test", "price_cents": 1900, "overage_price_micros": 500}
	if r := admin(t).do(t, http.MethodPut, q.URL+"/v1/admin/tiers/portal-plus", plan); r.Code != http.StatusCreated {
		t.Fatalf("create tier: %v", r)
	}
	assign(t, q, "erin-portal", "portal-plus")
	assign(t, q, "frank-portal", "portal-plus")
	erin, frank := user(t, "erin-portal"), user(t, "frank-portal")
	day := time.Now().UTC().Truncate(24 * time.Hour)
	for range 3 {
		if r := erin.get(t, q.URL+"/rate-limited"); r.Code != http.StatusOK {
			t.Fatalf("erin: %v", r)
		}
	}
	if r := frank.get(t, q.URL+"/rate-limited"); r.Code != http.StatusOK {
		t.Fatalf("frank: %v", r)
	}

	for _, view := range []struct {
		name          string
		width, height int
		shot          string
	}{
		{"desktop", 1280, 900, "portal"},
		{"phone", 390, 844, "portal-phone"},
	} {
		t.Run(view.name, func(t *testing.T) {
			t.Parallel()
			b := newBrowser(t, q, view.width, view.height)
			b.navigate("/portal/")
			b.typeInto("#token", "garbage")
			b.click("form.signin button[type=submit]")
			if msg := waitText(b, "form.signin .form-errors"); !strings.Contains(msg, "token was refused") {
				t.Errorf("bad token: %q, want it refused in words", msg)
			}
			if evaluate[bool](b, `document.querySelector("#gauges") !== null`) {
				t.Error("a refused token shows a quota")
			}
			b.setValue("#token", erin.token)
			b.click("form.signin button[type=submit]")
			b.waitVisible(`.gauge[data-policy="portal-plus:month"]`)

			var own struct {
				Tier    string
				Windows []struct {
					Policy           string
					Limit, Remaining int64
				}
			}
			decode(t, erin.get(t, q.URL+"/v1/quota"), &own)
			if got := b.text("#plan-name"); got != own.Tier {
				t.Errorf("plan %q, /v1/quota says %q", got, own.Tier)
			}
			if time.Now().UTC().Truncate(24 * time.Hour).Equal(day) {
				for _, w := range own.Windows {
					sel := fmt.Sprintf(`.gauge[data-policy=%q][data-limit="%d"][data-remaining="%d"]`, w.Policy, w.Limit, w.Remaining)
					if !evaluate[bool](b, fmt.Sprintf(`document.querySelector(%q) !== null`, sel)) {
						t.Errorf("no gauge shows %s as /v1/quota does (%s); page: %s", w.Policy, sel, b.text("#gauges"))
					}
				}
			}
			if n := evaluate[int](b, `document.querySelectorAll(".gauge").length`); n != len(own.Windows) {
				t.Errorf("%d gauges, /v1/quota has %d windows", n, len(own.Windows))
			}
			b.waitVisible(`#usage-chart .chart-totals[data-admitted="3"]`)
			b.waitVisible(`#plans .plan.current[data-tier="portal-plus"]`)
			b.click("#refresh")
			if msg := waitText(b, "#status"); msg != "Refreshed." {
				t.Errorf("Refresh: %q", msg)
			}

			if body := b.text("main"); strings.Contains(body, "frank-portal") {
				t.Error("the portal shows another client's id")
			}
			for _, u := range b.requestURLs() {
				if strings.Contains(u, "/v1/admin/") {
					t.Errorf("the portal called an admin route: %s", u)
				}
			}
			if overflow := evaluate[int](b, `document.documentElement.scrollWidth - window.innerWidth`); overflow > 0 {
				t.Errorf("the portal is %d px wider than the %d px viewport", overflow, view.width)
			}
			b.screenshot(t, view.shot)

			b.click("#signout")
			b.waitVisible("form.signin")
			if tok := evaluate[string](b, `sessionStorage.getItem("quotad.portal.token") || ""`); tok != "" {
				t.Error("signing out left the token in sessionStorage")
			}
		})
	}
}
