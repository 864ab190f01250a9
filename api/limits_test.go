package api

import (
	"fmt"
	"net/http"
	"strconv"
	"sync"
	"testing"
	"time"
)

// TestRateLimited_TierLimitsInHeaders: anonymous, free and assigned clients
// each get their tier's limit in the headers, exactly that many requests
// are admitted, then 429 with Retry-After and the envelope.
func TestRateLimited_TierLimitsInHeaders(t *testing.T) {
	t.Parallel()
	b := newBackend(t)
	inst := b.start(t, instanceOpts{})
	setTier(t, inst, "anonymous", 3, 3600)
	setTier(t, inst, "free", 4, 3600)
	setTier(t, inst, "pro", 6, 3600)
	mustStatus(t, do(t, http.MethodPut, inst.URL+"/v1/admin/clients/carol", token(t, "admin", true), map[string]string{"tier": "pro"}), http.StatusOK)
	waitFor(t, 2*time.Second, "tiers reach the cache", func() bool {
		p, _ := inst.cache.Tier("pro")
		a := inst.cache.Anonymous()
		return p.First().Limit == 6 && a.First().Limit == 3
	})

	for _, tc := range []struct {
		name, tier string
		tok        string
		limit      int
	}{
		{"anonymous", "anonymous", "", 3},
		{"free", "free", token(t, "bob", false), 4},
		{"assigned", "pro", token(t, "carol", false), 6},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for i := range tc.limit + 2 {
				r := do(t, http.MethodGet, inst.URL+"/rate-limited", tc.tok, nil)
				wantPolicy := fmt.Sprintf(`"%s";q=%d;w=3600`, tc.tier, tc.limit)
				if got := r.Header.Get("RateLimit-Policy"); got != wantPolicy {
					t.Fatalf("request %d: RateLimit-Policy %q, want %q", i+1, got, wantPolicy)
				}
				if got := r.Header.Get("X-RateLimit-Limit"); got != strconv.Itoa(tc.limit) {
					t.Fatalf("request %d: X-RateLimit-Limit %q", i+1, got)
				}
				if i < tc.limit {
					mustStatus(t, r, http.StatusOK)
					if got := string(r.Body); got != `{"response":"This is a rate limited response"}`+"\n" || r.Header.Get("Content-Type") != "application/json" {
						t.Fatalf("request %d: %s body %q", i+1, r.Header.Get("Content-Type"), got)
					}
					if got := r.Header.Get("X-RateLimit-Remaining"); got != strconv.Itoa(tc.limit-i-1) {
						t.Fatalf("request %d: remaining %q, want %d", i+1, got, tc.limit-i-1)
					}
					continue
				}
				mustStatus(t, r, http.StatusTooManyRequests)
				if r.errorCode(t) != CodeRateLimited || r.Header.Get("Retry-After") == "" {
					t.Fatalf("429 without rate_limited code or Retry-After: %v %s", r.Header, r.Body)
				}
			}
			// The quota endpoint reads the same window and consumes nothing.
			for range 2 {
				var q QuotaView
				mustStatus(t, do(t, http.MethodGet, inst.URL+"/v1/quota", tc.tok, nil), http.StatusOK).decode(t, &q)
				if q.Tier != tc.tier || q.Limit != int64(tc.limit) || q.Per != secs(3600) || q.Remaining != 0 || q.Reset%3600 != 0 {
					t.Fatalf("/v1/quota = %+v", q)
				}
			}
		})
	}
}

// TestQuota_DoesNotConsume: reading the quota never spends it.
func TestQuota_DoesNotConsume(t *testing.T) {
	t.Parallel()
	b := newBackend(t)
	inst := b.start(t, instanceOpts{})
	tok := token(t, "dave", false)
	for range 5 {
		var q QuotaView
		mustStatus(t, do(t, http.MethodGet, inst.URL+"/v1/quota", tok, nil), http.StatusOK).decode(t, &q)
		if q.ID != "dave" || q.Anonymous || q.Tier != "free" || q.Remaining != 300 || q.Limit != 300 || q.Per != secs(30) {
			t.Fatalf("/v1/quota = %+v, want the untouched free window", q)
		}
	}
	mustStatus(t, do(t, http.MethodGet, inst.URL+"/rate-limited", tok, nil), http.StatusOK)
	var q QuotaView
	mustStatus(t, do(t, http.MethodGet, inst.URL+"/v1/quota", tok, nil), http.StatusOK).decode(t, &q)
	if q.Remaining != 299 {
		t.Fatalf("after one request remaining %d, want 299", q.Remaining)
	}
}

// TestTwoInstances_ChangesAndExactBurst: a change through one instance is
// enforced by the other within a second, and a burst spread over both
// admits exactly the tier's limit.
func TestTwoInstances_ChangesAndExactBurst(t *testing.T) {
	t.Parallel()
	b := newBackend(t)
	a, c := b.start(t, instanceOpts{}), b.start(t, instanceOpts{})
	admin := token(t, "admin", true)

	setTier(t, a, "gold", 25, 3600)
	mustStatus(t, do(t, http.MethodPut, a.URL+"/v1/admin/clients/erin", admin, map[string]string{"tier": "gold"}), http.StatusOK)
	erin := token(t, "erin", false)
	waitFor(t, time.Second, "instance 2 sees erin on gold", func() bool {
		return quotaOf(t, c, erin).Tier == "gold"
	})

	var mu sync.Mutex
	admitted, refused := 0, 0
	var wg sync.WaitGroup
	for g := range 32 {
		inst := []*instance{a, c}[g%2]
		wg.Go(func() {
			for range 4 {
				r := do(t, http.MethodGet, inst.URL+"/rate-limited", erin, nil)
				mu.Lock()
				switch r.StatusCode {
				case http.StatusOK:
					admitted++
				case http.StatusTooManyRequests:
					refused++
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if admitted != 25 || refused != 128-25 {
		t.Fatalf("burst over two instances: %d admitted, %d refused; want exactly 25 and 103", admitted, refused)
	}

	// Raising the tier on instance 1 lifts the refusal on instance 2, whose
	// over-limit knowledge must be dropped, within a second.
	start := time.Now()
	setTier(t, a, "gold", 40, 3600)
	waitFor(t, time.Second, "instance 2 admits under the raised limit", func() bool {
		return do(t, http.MethodGet, c.URL+"/rate-limited", erin, nil).StatusCode == http.StatusOK
	})
	t.Logf("tier change enforced by the other instance after %v", time.Since(start))

	// Moving erin back to free on instance 2 reaches instance 1.
	mustStatus(t, do(t, http.MethodDelete, c.URL+"/v1/admin/clients/erin", admin, nil), http.StatusNoContent)
	waitFor(t, time.Second, "instance 1 sees erin on free", func() bool { return quotaOf(t, a, erin).Tier == "free" })
}

func quotaOf(tb testing.TB, inst *instance, tok string) QuotaView {
	tb.Helper()
	var q QuotaView
	mustStatus(tb, do(tb, http.MethodGet, inst.URL+"/v1/quota", tok, nil), http.StatusOK).decode(tb, &q)
	return q
}

// TestAdminResetQuota_ReachesEveryInstance: after an admin reset through one
// instance, the other (which had the client cached as over its limit)
// admits again.
func TestAdminResetQuota_ReachesEveryInstance(t *testing.T) {
	t.Parallel()
	b := newBackend(t)
	a, c := b.start(t, instanceOpts{}), b.start(t, instanceOpts{})
	setTier(t, a, "tiny", 1, 3600)
	admin := token(t, "admin", true)
	mustStatus(t, do(t, http.MethodPut, a.URL+"/v1/admin/clients/frank", admin, map[string]string{"tier": "tiny"}), http.StatusOK)
	frank := token(t, "frank", false)
	waitFor(t, time.Second, "instance 2 sees frank on tiny", func() bool { return quotaOf(t, c, frank).Tier == "tiny" })
	mustStatus(t, do(t, http.MethodGet, c.URL+"/rate-limited", frank, nil), http.StatusOK)
	mustStatus(t, do(t, http.MethodGet, c.URL+"/rate-limited", frank, nil), http.StatusTooManyRequests)

	var q QuotaView
	mustStatus(t, do(t, http.MethodGet, a.URL+"/v1/admin/clients/frank/quota", admin, nil), http.StatusOK).decode(t, &q)
	if q.Remaining != 0 || q.Tier != "tiny" {
		t.Fatalf("admin view %+v, want tiny with 0 remaining", q)
	}
	mustStatus(t, do(t, http.MethodDelete, a.URL+"/v1/admin/clients/frank/quota", admin, nil), http.StatusNoContent)
	waitFor(t, time.Second, "instance 2 admits frank after the reset", func() bool {
		return do(t, http.MethodGet, c.URL+"/rate-limited", frank, nil).StatusCode == http.StatusOK
	})
}

// TestAdminWrite_ReadYourWrites: the instance that takes an admin write
// enforces it on its very next request, without waiting for the
// notification.
func TestAdminWrite_ReadYourWrites(t *testing.T) {
	t.Parallel()
	b := newBackend(t)
	inst := b.start(t, instanceOpts{})
	admin := token(t, "admin", true)
	hal := token(t, "hal", false)
	for i, limit := range []int64{7, 9, 11} {
		setTier(t, inst, "plan", limit, 3600)
		if i == 0 {
			mustStatus(t, do(t, http.MethodPut, inst.URL+"/v1/admin/clients/hal", admin, map[string]string{"tier": "plan"}), http.StatusOK)
		}
		r := mustStatus(t, do(t, http.MethodGet, inst.URL+"/rate-limited", hal, nil), http.StatusOK)
		if want := fmt.Sprintf(`"plan";q=%d;w=3600`, limit); r.Header.Get("RateLimit-Policy") != want {
			t.Fatalf("right after the write: policy %q, want %q", r.Header.Get("RateLimit-Policy"), want)
		}
	}
	mustStatus(t, do(t, http.MethodDelete, inst.URL+"/v1/admin/clients/hal", admin, nil), http.StatusNoContent)
	r := mustStatus(t, do(t, http.MethodGet, inst.URL+"/rate-limited", hal, nil), http.StatusOK)
	if r.Header.Get("RateLimit-Policy") != `"free";q=300;w=30` {
		t.Fatalf("right after unassigning: policy %q, want free", r.Header.Get("RateLimit-Policy"))
	}
}
