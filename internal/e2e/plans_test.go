package e2e

import (
	"encoding/json"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dunglas/httpsfv"
	"github.com/quotad/quotad/api"
	"github.com/quotad/quotad/internal/testenv"
	"github.com/quotad/quotad/quota"
)

// TestPlans_TwoInstancesExactInEveryWindow puts a client on a plan of three
// windows (an hour, a day, a month from its billing day) and hammers it
// through two instances: exactly the binding window's limit is admitted,
// the headers name every window (checked with a Structured Field Values
// parser), a refusal names its window and counts in none, an edit that
// makes another window bind is exact too, and a new billing day moves the
// month window on every instance.
func TestPlans_TwoInstancesExactInEveryWindow(t *testing.T) {
	t.Parallel()
	db := database(t)
	rs := testenv.StartRedis(t)
	a := startQuotad(t, env(db, rs.URL()))
	b := startQuotad(t, env(db, rs.URL()))
	root := admin(t)
	plan := map[string]any{"limits": []map[string]any{{"limit": 25, "per": 3600}, {"limit": 40, "per": 86400}, {"limit": 1000, "per": "month"}}}
	if r := root.do(t, http.MethodPut, a.URL+"/v1/admin/tiers/plan3", plan); r.Code != http.StatusCreated {
		t.Fatalf("create plan3: %v", r)
	}
	sub := testenv.RandomName("e2e-plan-")
	if r := root.do(t, http.MethodPut, a.URL+"/v1/admin/clients/"+sub, map[string]any{"tier": "plan3", "anchor_day": 15}); r.Code != http.StatusOK {
		t.Fatalf("assign: %v", r)
	}
	names := []string{"plan3:3600", "plan3:86400", "plan3:month"}
	c := user(t, sub)
	// Both instances know the assignment once each answers with its plan.
	for _, q := range []*quotad{a, b} {
		waitFor(t, 2*time.Second, q.URL+" sees the assignment", func() bool {
			return quotaOf(t, c, q).Tier == "plan3"
		})
	}

	admitted := hammer(t, c, []*quotad{a, b}, 60)
	if admitted != 25 {
		t.Fatalf("admitted %d under an hourly limit of 25", admitted)
	}
	checkPlanHeaders(t, c.get(t, a.URL+"/rate-limited"), names, []int64{25, 40, 1000}, []int64{0, 15, 975})
	refusal := c.get(t, b.URL+"/rate-limited")
	if refusal.Code != http.StatusTooManyRequests || !slices.Equal(violated(t, refusal), []string{"plan3:3600"}) {
		t.Fatalf("refusal: %v, want 429 naming plan3:3600", refusal)
	}
	checkRemaining(t, quotaOf(t, c, b), 0, 15, 975)

	// Raise the hour: now the day binds, with 15 left.
	if r := root.do(t, http.MethodPatch, a.URL+"/v1/admin/tiers/plan3", map[string]any{"limit": 45}); r.Code != http.StatusOK {
		t.Fatalf("patch plan3: %v", r)
	}
	for _, q := range []*quotad{a, b} {
		waitFor(t, 2*time.Second, q.URL+" sees the new limit", func() bool {
			return quotaOf(t, c, q).Windows[0].Limit == 45
		})
	}
	if admitted := hammer(t, c, []*quotad{a, b}, 40); admitted != 15 {
		t.Fatalf("admitted %d with 15 left in the day", admitted)
	}
	refusal = c.get(t, a.URL+"/rate-limited")
	if refusal.Code != http.StatusTooManyRequests || !slices.Equal(violated(t, refusal), []string{"plan3:86400"}) {
		t.Fatalf("refusal: %v, want 429 naming plan3:86400", refusal)
	}
	checkPlanHeaders(t, refusal, names, []int64{45, 40, 1000}, []int64{5, 0, 960})

	// A new billing day moves the month window, and its count starts
	// afresh there, on both instances.
	before := quotaOf(t, c, a).Windows[2]
	if r := root.do(t, http.MethodPut, a.URL+"/v1/admin/clients/"+sub, map[string]any{"tier": "plan3", "anchor_day": 1}); r.Code != http.StatusOK {
		t.Fatalf("reassign: %v", r)
	}
	now := time.Now().UTC()
	wantReset := time.Date(now.Year(), now.Month()+1, 1, 0, 0, 0, 0, time.UTC).Unix()
	for _, q := range []*quotad{a, b} {
		waitFor(t, 2*time.Second, q.URL+" sees the new billing day", func() bool {
			w := quotaOf(t, c, q).Windows[2]
			return w.Reset == wantReset && w.Remaining == 1000
		})
	}
	if before.Reset == wantReset {
		t.Fatalf("the month window ended %d under both billing days", before.Reset)
	}
}

// hammer sends n requests for c from 16 goroutines spread over qs and
// returns how many were admitted; every answer must be 200 or 429.
func hammer(t *testing.T, c client, qs []*quotad, n int) int64 {
	t.Helper()
	var admitted atomic.Int64
	var next atomic.Int64
	var wg sync.WaitGroup
	for w := range 16 {
		wg.Go(func() {
			for next.Add(1) <= int64(n) {
				r, err := c.try(http.MethodGet, qs[w%len(qs)].URL+"/rate-limited", nil)
				switch {
				case err != nil:
					t.Error(err)
					return
				case r.Code == http.StatusOK:
					admitted.Add(1)
				case r.Code != http.StatusTooManyRequests:
					t.Errorf("answer %v", r)
				}
			}
		})
	}
	wg.Wait()
	return admitted.Load()
}

// quotaOf reads c's /v1/quota on q.
func quotaOf(t *testing.T, c client, q *quotad) api.QuotaView {
	t.Helper()
	r := c.get(t, q.URL+"/v1/quota")
	var v api.QuotaView
	if r.Code != http.StatusOK || json.Unmarshal(r.Body, &v) != nil {
		t.Fatalf("/v1/quota: %v", r)
	}
	return v
}

// checkRemaining checks every window's remaining in v.
func checkRemaining(t *testing.T, v api.QuotaView, want ...int64) {
	t.Helper()
	var got []int64
	for _, w := range v.Windows {
		got = append(got, w.Remaining)
	}
	if !slices.Equal(got, want) {
		t.Fatalf("/v1/quota windows remaining %v, want %v (%+v)", got, want, v)
	}
}

// violated returns the violated_policies of a 429's body.
func violated(t *testing.T, r response) []string {
	t.Helper()
	var b api.ErrorBody
	if err := json.Unmarshal(r.Body, &b); err != nil {
		t.Fatalf("error body %s: %v", r.Body, err)
	}
	return b.Error.ViolatedPolicies
}

// checkPlanHeaders parses RateLimit-Policy and RateLimit as Structured
// Field Values lists and checks one item per window, in order, with its
// name, quota and remaining, and X-RateLimit-* on the binding window (the
// one with the fewest left).
func checkPlanHeaders(t *testing.T, r response, names []string, limits, remaining []int64) {
	t.Helper()
	policy, err := httpsfv.UnmarshalList(r.Header.Values(quota.HeaderPolicy))
	if err != nil {
		t.Fatalf("RateLimit-Policy %q: %v", r.Header.Values(quota.HeaderPolicy), err)
	}
	state, err := httpsfv.UnmarshalList(r.Header.Values(quota.HeaderRateLimit))
	if err != nil {
		t.Fatalf("RateLimit %q: %v", r.Header.Values(quota.HeaderRateLimit), err)
	}
	if len(policy) != len(names) || len(state) != len(names) {
		t.Fatalf("%d policy and %d state items, want %d: %q", len(policy), len(state), len(names), r.Header)
	}
	binding := 0
	for i, name := range names {
		p, ok1 := policy[i].(httpsfv.Item)
		s, ok2 := state[i].(httpsfv.Item)
		if !ok1 || !ok2 {
			t.Fatalf("item %d is not an item: %q", i, r.Header)
		}
		q, _ := p.Params.Get("q")
		rem, _ := s.Params.Get("r")
		if p.Value != name || s.Value != name || q != limits[i] || rem != remaining[i] {
			t.Fatalf("item %d: %v q=%v, %v r=%v; want %s q=%d r=%d", i, p.Value, q, s.Value, rem, name, limits[i], remaining[i])
		}
		if remaining[i] < remaining[binding] {
			binding = i
		}
	}
	if got, want := r.Header.Get(quota.HeaderLimit), strconv.FormatInt(limits[binding], 10); got != want {
		t.Fatalf("X-RateLimit-Limit %s, want the binding window's %s", got, want)
	}
	if got, want := r.Header.Get(quota.HeaderRemaining), strconv.FormatInt(remaining[binding], 10); got != want {
		t.Fatalf("X-RateLimit-Remaining %s, want %s", got, want)
	}
}
