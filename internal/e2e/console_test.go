package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/quotad/quotad/api"
	"github.com/quotad/quotad/internal/testenv"
)

// consoleToken is where the console keeps the admin's token (per tab).
const consoleToken = "quotad.console.token"

// TestConsole_AdminRunsAPlan drives /console/ in Chromium as an admin
// would: a bad token and a client's token are refused in words; a tier
// with a bad value shows the API's field error next to the field; a burst
// + monthly tier is created with the keyboard and mouse, a client assigned
// to it and found by search; the client's requests then show in the
// client page's gauges (equal to the admin quota API) and, once metered,
// in its chart and on the usage page; a confirmed reset empties every
// window; the CSV export downloads; deleting the tier in use is refused
// with the reason; an operation rule added through its form is stored;
// the audit log page lists these writes.
func TestConsole_AdminRunsAPlan(t *testing.T) {
	t.Parallel()
	q := pageQuotad(t)
	b := newBrowser(t, q, 1280, 900)

	b.navigate("/console/")
	b.typeInto("#token", "not-a-token")
	b.click("form.signin button[type=submit]")
	if msg := waitText(b, "form.signin .form-errors"); !strings.Contains(msg, "token was refused") {
		t.Errorf("bad token: %q, want it refused in words", msg)
	}
	b.setValue("#token", user(t, "not-an-admin").token)
	b.click("form.signin button[type=submit]")
	if msg := waitText(b, "form.signin .form-errors"); !strings.Contains(msg, "admin token is needed") {
		t.Errorf("a client's token: %q, want the console to say an admin token is needed", msg)
	}
	// Signing in with the keyboard alone: the token field has the focus,
	// Tab reaches "Sign in", Enter presses it.
	b.setValue("#token", admin(t).token)
	if got := evaluate[string](b, `document.activeElement.id`); got != "token" {
		t.Errorf("focus on %q after a refused token, want the token field", got)
	}
	b.do("press Tab, then Enter", chromedp.KeyEvent("\t"), chromedp.KeyEvent("\r"))
	b.waitVisible(`#tiers tr[data-tier="free"]`)
	b.screenshot(t, "console-tiers")

	// A new tier from the keyboard: focus "New tier", Enter opens the form.
	b.do("focus New tier", chromedp.Focus(chromedp.CSS("#new-tier")))
	b.do("press Enter", chromedp.KeyEvent("\r"))
	b.waitVisible("#tier-form")
	b.setValue(`#tier-form [name=name]`, "console-pro")
	b.typeInto(`#tier-form [data-field="limits[0].limit"]`, "0")
	b.click(`#tier-form [type=submit]`)
	b.waitVisible(`#tier-form [data-field="limits[0].limit"][aria-invalid="true"]`)
	if msg := b.text("#tier-form .field-error"); !strings.Contains(msg, "must be") {
		t.Errorf("field error %q, want the API's message on limits[0].limit", msg)
	}
	if r := admin(t).get(t, q.URL+"/v1/admin/tiers/console-pro"); r.Code != http.StatusNotFound {
		t.Fatalf("a refused tier exists: %v", r)
	}
	b.screenshot(t, "console-tier-error")

	// Fix it: 5 per hour, and a second window of 1,000 per calendar month.
	b.setValue(`#tier-form [data-field="limits[0].limit"]`, "5")
	b.setValue(`#tier-form fieldset[data-window="0"] [name=per]`, "1")
	b.setValue(`#tier-form fieldset[data-window="0"] [name=unit]`, "hours")
	b.click(`#tier-form [data-action=add-window]`)
	b.typeInto(`#tier-form [data-field="limits[1].limit"]`, "1000")
	b.setValue(`#tier-form fieldset[data-window="1"] [name=unit]`, "month")
	b.setValue(`#tier-form [name=price_cents]`, "4900")
	b.click(`#tier-form [type=submit]`)
	b.waitVisible(`#tiers tr[data-tier="console-pro"]`)
	var tier struct {
		PriceCents int64 `json:"price_cents"`
		Limits     []struct {
			Limit int64 `json:"limit"`
			Per   any   `json:"per"`
		} `json:"limits"`
	}
	decode(t, admin(t).get(t, q.URL+"/v1/admin/tiers/console-pro"), &tier)
	if got := fmt.Sprint(tier.PriceCents, tier.Limits); got != "4900 [{5 3600} {1000 month}]" {
		t.Fatalf("tier created by the console: %s, want 4900 [{5 3600} {1000 month}]", got)
	}

	// Assign a client, then find it by part of its id.
	b.navigate("/console/#/clients")
	b.setValue("#assign-form [name=id]", "carol-console")
	b.setValue("#assign-form [name=tier]", "console-pro")
	b.click("#assign-form [type=submit]")
	waitShowing(b, `#clients tr[data-client="carol-console"]`, "main")
	b.setValue("#client-search", "ROL-CON")
	b.click(`form.filters [type=submit]`)
	waitShowing(b, `#clients tr[data-client="carol-console"]`, "main")
	b.screenshot(t, "console-clients")
	b.setValue("#client-search", "nobody-has-this")
	b.click(`form.filters [type=submit]`)
	b.waitGone(`#clients`)

	// The client's requests: 5 admitted, 2 refused by the hourly window.
	hour := time.Now().UTC().Truncate(time.Hour)
	carol := user(t, "carol-console")
	for i := range 7 {
		want := http.StatusOK
		if i >= 5 {
			want = http.StatusTooManyRequests
		}
		if r := carol.get(t, q.URL+"/rate-limited"); r.Code != want {
			t.Fatalf("request %d: %v, want %d", i+1, r, want)
		}
	}
	b.navigate("/console/#/clients/carol-console")
	b.waitVisible(`.gauge[data-policy="console-pro:month"][data-used="5"]`)
	var apiQuota struct {
		Windows []struct {
			Policy           string
			Limit, Remaining int64
		}
	}
	decode(t, admin(t).get(t, q.URL+"/v1/admin/clients/carol-console/quota"), &apiQuota)
	if time.Now().UTC().Truncate(time.Hour).Equal(hour) {
		for _, w := range apiQuota.Windows {
			sel := fmt.Sprintf(`.gauge[data-policy=%q][data-limit="%d"][data-remaining="%d"]`, w.Policy, w.Limit, w.Remaining)
			if !evaluate[bool](b, fmt.Sprintf(`document.querySelector(%q) !== null`, sel)) {
				t.Errorf("no gauge shows %s as /v1/admin/clients/…/quota does (%s)", w.Policy, sel)
			}
		}
	}
	// Usage arrives within the metering interval; the page refreshes itself.
	b.waitVisible(`#usage-chart .chart-totals[data-admitted="5"][data-refused="2"]`)
	b.waitVisible("#usage-chart canvas")
	b.screenshot(t, "console-client")

	// Reset, once confirmed, starts every window afresh.
	b.click("#reset-quota")
	b.click(`[data-action=confirm]`)
	waitShowing(b, `.gauge[data-policy="console-pro:month"][data-used="0"]`, "#gauges")
	decode(t, admin(t).get(t, q.URL+"/v1/admin/clients/carol-console/quota"), &apiQuota)
	for _, w := range apiQuota.Windows {
		if w.Remaining != w.Limit {
			t.Errorf("after the console's reset %s has %d of %d left", w.Policy, w.Remaining, w.Limit)
		}
	}

	b.navigate("/console/#/usage")
	b.waitVisible(`#usage tr[data-client="carol-console"][data-share="0.0050"]`)
	b.screenshot(t, "console-usage")
	b.click("#export-csv")
	if msg := waitText(b, "#status"); msg != "usage-"+time.Now().UTC().Format("2006-01")+".csv downloaded." {
		t.Errorf("CSV export: %q", msg)
	}

	// A tier with clients cannot be deleted, and the console says why.
	b.navigate("/console/#/tiers")
	b.click(`#tiers tr[data-tier="console-pro"] [data-action=delete]`)
	b.click(`#tiers tr[data-tier="console-pro"] [data-action=confirm]`)
	if msg := waitText(b, `#tiers tr[data-tier="console-pro"] .row-error`); !strings.Contains(msg, "assigned to clients") {
		t.Errorf("deleting a tier in use: %q, want the reason", msg)
	}
	if r := admin(t).get(t, q.URL+"/v1/admin/tiers/console-pro"); r.Code != http.StatusOK {
		t.Fatalf("the tier in use is gone: %v", r)
	}

	// An operation cost rule, added through its form.
	b.navigate("/console/#/operations")
	b.setValue("#operation-form [name=name]", "export")
	b.setValue("#operation-form [name=method]", "GET")
	b.setValue("#operation-form [name=path]", "/v1/export/*")
	b.setValue("#operation-form [name=cost]", "25")
	b.click("#operation-form [type=submit]")
	waitShowing(b, `#operations tr[data-operation="export"]`, "main")
	var op struct {
		Method, Path string
		Cost         int64
	}
	decode(t, admin(t).get(t, q.URL+"/v1/admin/operations/export"), &op)
	if got := fmt.Sprint(op); got != "{GET /v1/export/* 25}" {
		t.Errorf("operation saved by the console: %s", got)
	}
	b.screenshot(t, "console-operations")

	b.navigate("/console/#/audit")
	b.waitVisible(`#audit tr[data-entry]`)
	if got := b.text("#audit"); !strings.Contains(got, "tier.create") || !strings.Contains(got, "carol-console") || !strings.Contains(got, "export") {
		t.Errorf("audit log page lacks the console's writes:\n%s", got)
	}
	b.screenshot(t, "console-audit")
}

// TestConsole_FitsAPhone: every console page fits a 390 px wide screen:
// nothing wider than the viewport, the navigation reachable.
func TestConsole_FitsAPhone(t *testing.T) {
	t.Parallel()
	rs := testenv.StartRedis(t)
	q := startQuotad(t, env(database(t), rs.URL()))
	assign(t, q, "dana-phone", "free")
	if r := user(t, "dana-phone").get(t, q.URL+"/rate-limited"); r.Code != http.StatusOK {
		t.Fatalf("request: %v", r)
	}
	b := newBrowser(t, q, 390, 844)
	b.setSessionStorage(map[string]string{consoleToken: admin(t).token})
	for _, page := range []struct{ hash, ready, shot string }{
		{"#/tiers", `#tiers tr[data-tier="free"]`, ""},
		{"#/clients", `#clients tr[data-client="dana-phone"]`, ""},
		{"#/clients/dana-phone", `.gauge[data-policy="free"]`, "console-phone"},
		{"#/usage", "#month", ""},
		{"#/operations", "#operation-form", ""},
		{"#/audit", "#audit", ""},
	} {
		b.navigate("/console/" + page.hash)
		b.waitVisible(page.ready)
		b.waitVisible(`#nav a[href="#/tiers"]`)
		if overflow := evaluate[int](b, `document.documentElement.scrollWidth - window.innerWidth`); overflow > 0 {
			t.Errorf("%s is %d px wider than a 390 px phone", page.hash, overflow)
		}
		if page.shot != "" {
			b.screenshot(t, page.shot)
		}
	}
}

// pageQuotad starts a quotad on a database and Redis of its own that
// copies usage to Postgres every second, so the pages' charts fill soon.
func pageQuotad(t *testing.T) *quotad {
	t.Helper()
	rs := testenv.StartRedis(t)
	vars := env(database(t), rs.URL())
	vars["QUOTA_METER_INTERVAL"] = "1s"
	return startQuotad(t, vars)
}

// waitShowing waits for an element matching sel; if none comes, the test
// fails with the text of the element matching within, to show what the
// page showed instead.
func waitShowing(b *browser, sel, within string) {
	b.tb.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, browserTimeout)
	defer cancel()
	if _, err := chromedp.Run(ctx, chromedp.Poll[bool](fmt.Sprintf(`document.querySelector(%q) !== null`, sel))); err != nil {
		b.tb.Fatalf("browser: wait for %q: %v; the page shows:\n%s", sel, err, evaluate[string](b, fmt.Sprintf(`document.querySelector(%q)?.innerText ?? ""`, within)))
	}
}

// waitText waits for the selector to show some text, not hidden, and
// returns it.
func waitText(b *browser, sel string) string {
	b.tb.Helper()
	run(b, fmt.Sprintf("wait for text in %q", sel), chromedp.Poll[bool](fmt.Sprintf(
		`(() => { const e = document.querySelector(%q); return !!e && !e.closest("[hidden]") && e.textContent.trim() !== ""; })()`, sel)))
	return b.text(sel)
}

// decode unmarshals a 200 response's JSON body into v.
func decode(t *testing.T, r response, v any) {
	t.Helper()
	if r.Code != http.StatusOK {
		t.Fatalf("want 200: %v", r)
	}
	if err := json.Unmarshal(r.Body, v); err != nil {
		t.Fatalf("%v: %s", err, r.Body)
	}
}

// TestConsole_ExpiredTokenAsksToSignInAgain: when the admin's token stops
// working while a page is open, the page's next call (here the client
// page's own refresh) brings back the sign-in, saying why, and forgets the
// token.
func TestConsole_ExpiredTokenAsksToSignInAgain(t *testing.T) {
	t.Parallel()
	rs := testenv.StartRedis(t)
	q := startQuotad(t, env(database(t), rs.URL()))
	short, err := api.MintToken([]byte(secret), api.TokenClaims{Subject: "e2e-admin", Admin: true, TTL: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	b := newBrowser(t, q, 1280, 900)
	b.setSessionStorage(map[string]string{consoleToken: short})
	b.navigate("/console/#/clients/gina-expiry")
	b.waitVisible(`.gauge[data-policy="free"]`)
	// The token expires (after quotad's leeway) while the page refreshes.
	if msg := waitText(b, "form.signin .form-errors"); !strings.Contains(msg, "token was refused") {
		t.Errorf("after the token expired: %q, want it refused in words", msg)
	}
	if tok := evaluate[string](b, `sessionStorage.getItem("`+consoleToken+`") || ""`); tok != "" {
		t.Error("the refused token is still kept")
	}
}
