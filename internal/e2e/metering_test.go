package e2e

import (
	"encoding/csv"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/quotad/quotad/internal/testenv"
	"github.com/quotad/quotad/webhooks"
)

// webhookSecret signs the test's webhook deliveries.
const webhookSecret = "e2e-webhook-secret-of-32-bytes-or-more"

// receiver is a webhook endpoint that fails each event's first delivery
// with a 500 and keeps what it was sent.
type receiver struct {
	mu       sync.Mutex
	attempts map[string]int            // event id → deliveries
	events   map[string]webhooks.Event // event id → the event, once accepted
	bad      []string                  // deliveries whose signature did not verify
}

func (rc *receiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	rc.mu.Lock()
	defer rc.mu.Unlock()
	if err := webhooks.Verify([]byte(webhookSecret), r.Header.Get(webhooks.SignatureHeader), body, 5*time.Minute, time.Now()); err != nil {
		rc.bad = append(rc.bad, err.Error())
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	var ev struct {
		ID, Type, Client, Tier, Policy string
		Threshold                      int
		Used, Limit                    int64
	}
	if err := json.Unmarshal(body, &ev); err != nil {
		rc.bad = append(rc.bad, err.Error())
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	rc.attempts[ev.ID]++
	if rc.attempts[ev.ID] == 1 {
		w.WriteHeader(http.StatusInternalServerError)
		return
	}
	rc.events[ev.ID] = webhooks.Event{Client: ev.Client, Tier: ev.Tier, Policy: ev.Policy, Threshold: ev.Threshold, Used: ev.Used, Limit: ev.Limit}
}

func (rc *receiver) accepted() map[string]webhooks.Event {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	out := make(map[string]webhooks.Event, len(rc.events))
	for id, ev := range rc.events {
		out[id] = ev
	}
	return out
}

// usageTotals is the total of an admin usage read.
type usageTotals struct {
	Admitted, Refused, Overage int64
}

func clientUsage(t *testing.T, q *quotad, sub string) usageTotals {
	t.Helper()
	r := admin(t).get(t, q.URL+"/v1/admin/clients/"+sub+"/usage")
	if r.Code != http.StatusOK {
		t.Fatalf("usage of %s: %v", sub, r)
	}
	var body struct{ Total usageTotals }
	if err := json.Unmarshal(r.Body, &body); err != nil {
		t.Fatal(err)
	}
	return body.Total
}

// TestMetering_ThreeInstancesOneKilled: three instances meter one client
// while one of them is SIGKILLed and started again; the usage in
// Postgres is exactly what the client was told, and each threshold of its
// month window reaches the webhook receiver as one event, signed, with the
// same id after a failed delivery.
func TestMetering_ThreeInstancesOneKilled(t *testing.T) {
	t.Parallel()
	db := database(t)
	rs := testenv.StartRedis(t)
	rc := &receiver{attempts: map[string]int{}, events: map[string]webhooks.Event{}}
	hook := httptest.NewServer(rc)
	t.Cleanup(hook.Close)
	vars := env(db, rs.URL())
	vars["QUOTA_WEBHOOK_URL"] = hook.URL
	vars["QUOTA_WEBHOOK_SECRET"] = webhookSecret
	vars["QUOTA_METER_INTERVAL"] = "200ms"
	qs := []*quotad{startQuotad(t, vars), startQuotad(t, vars), startQuotad(t, vars)}

	root := admin(t)
	plan := map[string]any{"limits": []map[string]any{{"limit": 1000, "per": 3600}, {"limit": 60, "per": "month"}}}
	if r := root.do(t, http.MethodPut, qs[0].URL+"/v1/admin/tiers/meter3", plan); r.Code != http.StatusCreated {
		t.Fatalf("create tier: %v", r)
	}
	sub := testenv.RandomName("e2e-meter-")
	if r := root.do(t, http.MethodPut, qs[0].URL+"/v1/admin/clients/"+sub, map[string]any{"tier": "meter3"}); r.Code != http.StatusOK {
		t.Fatalf("assign: %v", r)
	}
	c := user(t, sub)
	for _, q := range qs {
		waitFor(t, 2*time.Second, q.URL+" sees the assignment", func() bool { return quotaOf(t, c, q).Tier == "meter3" })
	}

	// 30 of 60, all admitted; then one instance dies (it may be the one
	// copying) and comes back; then 70 more, of which 30 fit.
	first := hammer(t, c, qs, 30)
	qs[0].signal(syscall.SIGKILL)
	qs[0].waitExit(10 * time.Second)
	qs[0] = startQuotad(t, vars)
	second := hammer(t, c, qs, 70)
	if first != 30 || second != 30 {
		t.Fatalf("admitted %d then %d, want 30 and 30 of a month limit of 60", first, second)
	}
	waitFor(t, 15*time.Second, "usage in Postgres", func() bool {
		u := clientUsage(t, qs[1], sub)
		return u == usageTotals{Admitted: 60, Refused: 40}
	})
	if u := clientUsage(t, qs[2], sub); u != (usageTotals{Admitted: 60, Refused: 40}) {
		t.Fatalf("usage %+v, want 60 admitted and 40 refused", u)
	}

	waitFor(t, 30*time.Second, "both threshold events delivered", func() bool { return len(rc.accepted()) == 2 })
	got := map[int]webhooks.Event{}
	for _, ev := range rc.accepted() {
		got[ev.Threshold] = ev
	}
	// used is the window's count once the crossing decision was made: a
	// batch of the client's requests decided together may pass 48 at once.
	for p, level := range map[int]int64{80: 48, 100: 60} {
		ev := got[p]
		if ev.Client != sub || ev.Tier != "meter3" || ev.Policy != "meter3:month" || ev.Used < level || ev.Used > 60 || ev.Limit != 60 {
			t.Errorf("%d %% event %+v, want %s on meter3:month at %d to 60 of 60", p, ev, sub, level)
		}
	}
	rc.mu.Lock()
	defer rc.mu.Unlock()
	if len(rc.bad) > 0 {
		t.Errorf("deliveries that did not verify: %v", rc.bad)
	}
	for id, n := range rc.attempts {
		if n != 2 {
			t.Errorf("event %s delivered %d times, want 2 (a 500, then accepted)", id, n)
		}
	}
}

// TestMetering_SoftMonthBilledAsOverage: a soft month window admits past
// its limit, says so in X-Quota-Overage, and the monthly export, parsed as
// CSV, charges the overage at the tier's price; its thresholds wait in the
// outbox (no webhook URL here), shown by the outbox gauge.
func TestMetering_SoftMonthBilledAsOverage(t *testing.T) {
	t.Parallel()
	db := database(t)
	rs := testenv.StartRedis(t)
	vars := env(db, rs.URL())
	vars["QUOTA_METER_INTERVAL"] = "200ms"
	q := startQuotad(t, vars)
	root := admin(t)
	plan := map[string]any{"limits": []map[string]any{{"limit": 100, "per": 3600}, {"limit": 3, "per": "month", "soft": true}},
		"price_cents": 1000, "overage_price_micros": 2500}
	if r := root.do(t, http.MethodPut, q.URL+"/v1/admin/tiers/soft3", plan); r.Code != http.StatusCreated {
		t.Fatalf("create tier: %v", r)
	}
	sub := testenv.RandomName("e2e-soft-")
	if r := root.do(t, http.MethodPut, q.URL+"/v1/admin/clients/"+sub, map[string]any{"tier": "soft3"}); r.Code != http.StatusOK {
		t.Fatalf("assign: %v", r)
	}
	c := user(t, sub)
	for i := 1; i <= 5; i++ {
		r := c.get(t, q.URL+"/rate-limited")
		want := ""
		if i > 3 {
			want = strconv.Itoa(i - 3)
		}
		if r.Code != http.StatusOK || r.Header.Get("X-Quota-Overage") != want || r.Header.Get("X-RateLimit-Remaining") != strconv.Itoa(max(3-i, 0)) {
			t.Fatalf("request %d: %v, X-Quota-Overage %q, want 200 with %q", i, r, r.Header.Get("X-Quota-Overage"), want)
		}
	}
	var lines [][]string
	waitFor(t, 15*time.Second, "the month's usage in the export", func() bool {
		lines = exportCSV(t, q)
		return len(lines) == 2 && lines[1][4] == "5"
	})
	want := []string{sub, "soft3", "1000", "USD", "5", "0", "2", "2500", "5000"}
	if !slices.Equal(lines[1], want) {
		t.Fatalf("export line %q, want %q (header %q)", lines[1], want, lines[0])
	}
	if got := outboxPending(t, q); got != 2 {
		t.Fatalf("pending events %v, want 80 %% and 100 %%", got)
	}
}

// exportCSV reads this month's usage export as CSV.
func exportCSV(t *testing.T, q *quotad) [][]string {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, q.URL+"/v1/admin/usage", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+admin(t).token)
	req.Header.Set("Accept", "text/csv")
	resp, err := httpClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/csv") {
		t.Fatalf("CSV export: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	lines, err := csv.NewReader(resp.Body).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	return lines
}

// outboxPending reads the outbox gauge of pending events on q's /metrics.
func outboxPending(t *testing.T, q *quotad) float64 {
	t.Helper()
	r := anonymous.get(t, q.URL+"/metrics")
	for _, line := range strings.Split(string(r.Body), "\n") {
		if v, ok := strings.CutPrefix(line, `quotad_webhook_events{state="pending"} `); ok {
			f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
			if err != nil {
				t.Fatal(err)
			}
			return f
		}
	}
	t.Fatal("/metrics has no pending webhook events gauge")
	return 0
}
