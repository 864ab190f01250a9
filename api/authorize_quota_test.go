package api

import (
	"net/http"
	"strconv"
	"sync"
	"testing"
	"time"
)

// nginx names an original request as nginx's auth_request config does.
func nginx(method, uri string) []string {
	return []string{"X-Original-Method", method, "X-Original-URI", uri}
}

// putTier writes a tier through the admin API and waits until inst's
// cache holds its first window's limit.
func putTier(tb testing.TB, inst *instance, name, body string, first int64) {
	tb.Helper()
	r := do(tb, http.MethodPut, inst.URL+"/v1/admin/tiers/"+name, token(tb, "admin", true), body)
	if r.StatusCode != http.StatusCreated {
		mustStatus(tb, r, http.StatusOK)
	}
	waitFor(tb, 2*time.Second, "the tier reaches the cache", func() bool {
		t, ok := inst.cache.Tier(name)
		return ok && t.First().Limit == first
	})
}

// remaining reads the caller's windows without spending them.
func remaining(tb testing.TB, inst *instance, tok string) []int64 {
	tb.Helper()
	var q QuotaView
	mustStatus(tb, do(tb, http.MethodGet, inst.URL+"/v1/quota", tok, nil), http.StatusOK).decode(tb, &q)
	out := make([]int64, len(q.Windows))
	for i, w := range q.Windows {
		out[i] = w.Remaining
	}
	return out
}

// TestAuthorize_SharesRateLimitedQuota: a client has one quota, whether
// its requests come through a gateway or to /rate-limited.
func TestAuthorize_SharesRateLimitedQuota(t *testing.T) {
	t.Parallel()
	inst := newBackend(t).start(t, instanceOpts{})
	putTier(t, inst, "free", `{"limit":3,"per":3600}`, 3)
	tok := token(t, "erin", false)
	mustStatus(t, do(t, http.MethodGet, inst.URL+"/v1/authorize", tok, nil, nginx("GET", "/a")...), http.StatusOK)
	mustStatus(t, do(t, http.MethodGet, inst.URL+"/rate-limited", tok, nil), http.StatusOK)
	r := mustStatus(t, do(t, http.MethodPost, inst.URL+"/v1/authorize/b", tok, nil), http.StatusOK)
	if r.Header.Get("X-RateLimit-Remaining") != "0" {
		t.Fatalf("third request: remaining %q, want 0", r.Header.Get("X-RateLimit-Remaining"))
	}
	mustStatus(t, do(t, http.MethodGet, inst.URL+"/rate-limited", tok, nil), http.StatusTooManyRequests)
	r = mustStatus(t, do(t, http.MethodGet, inst.URL+"/v1/authorize", tok, nil, nginx("GET", "/a")...), http.StatusTooManyRequests)
	if r.errorCode(t) != CodeRateLimited || r.Header.Get("Retry-After") == "" || r.Header.Get(HeaderQuotaClient) != "erin" {
		t.Errorf("refusal %v %s", r.Header, r.Body)
	}
}

// TestAuthorize_ExactUnderConcurrency: 32 gateways asking at once for one
// client get exactly the limit admitted.
func TestAuthorize_ExactUnderConcurrency(t *testing.T) {
	t.Parallel()
	const limit, callers = 10, 32
	inst := newBackend(t).start(t, instanceOpts{})
	putTier(t, inst, "free", `{"limit":10,"per":3600}`, limit)
	tok := token(t, "frank", false)
	statuses := make([]int, callers)
	errs := make([]error, callers)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range callers {
		wg.Go(func() {
			req, _ := http.NewRequest(http.MethodGet, inst.URL+"/v1/authorize", nil)
			req.Header.Set("Authorization", "Bearer "+tok)
			req.Header.Set("X-Forwarded-Method", "GET")
			req.Header.Set("X-Forwarded-Uri", "/v1/things")
			<-start
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				errs[i] = err
				return
			}
			resp.Body.Close()
			statuses[i] = resp.StatusCode
		})
	}
	close(start)
	wg.Wait()
	count := map[int]int{}
	for i, s := range statuses {
		if errs[i] != nil {
			t.Fatal(errs[i])
		}
		count[s]++
	}
	if count[http.StatusOK] != limit || count[http.StatusTooManyRequests] != callers-limit {
		t.Fatalf("statuses %v, want %d × 200 and %d × 429", count, limit, callers-limit)
	}
}

// TestAuthorize_Costs: an operation of cost 5 spends 5 from every window
// of a two-window plan, or nothing when one window has less left; an
// operation of cost 0 is admitted without counting, even when the quota
// is spent.
func TestAuthorize_Costs(t *testing.T) {
	t.Parallel()
	ct := &costTable{costs: map[string]int64{"/v1/search": 5, "/v1/ping": 0}}
	inst := newBackend(t).start(t, instanceOpts{configure: withCosts(ct)})
	putTier(t, inst, "free", `{"limits":[{"limit":12,"per":3600},{"limit":100,"per":86400}]}`, 12)
	tok := token(t, "grace", false)
	search := nginx("GET", "/v1/search?q=x")

	for i, want := range [][]int64{{7, 95}, {2, 90}} {
		r := mustStatus(t, do(t, http.MethodGet, inst.URL+"/v1/authorize", tok, nil, search...), http.StatusOK)
		if got := remaining(t, inst, tok); got[0] != want[0] || got[1] != want[1] {
			t.Fatalf("search %d: remaining %v, want %v", i+1, got, want)
		}
		if r.Header.Get("X-RateLimit-Remaining") != strconv.FormatInt(want[0], 10) {
			t.Errorf("search %d: X-RateLimit-Remaining %q, want %d", i+1, r.Header.Get("X-RateLimit-Remaining"), want[0])
		}
	}
	// 2 left in the first window: a search is refused and spends nothing.
	r := mustStatus(t, do(t, http.MethodGet, inst.URL+"/v1/authorize", tok, nil, search...), http.StatusTooManyRequests)
	var e ErrorBody
	r.decode(t, &e)
	if len(e.Error.ViolatedPolicies) != 1 {
		t.Errorf("violated policies %v, want the first window alone", e.Error.ViolatedPolicies)
	}
	if got := remaining(t, inst, tok); got[0] != 2 || got[1] != 90 {
		t.Fatalf("after a refused search: remaining %v, want [2 90]", got)
	}
	// A plain request still fits.
	mustStatus(t, do(t, http.MethodGet, inst.URL+"/v1/authorize", tok, nil, nginx("GET", "/v1/other")...), http.StatusOK)
	mustStatus(t, do(t, http.MethodGet, inst.URL+"/v1/authorize", tok, nil, nginx("GET", "/v1/other")...), http.StatusOK)
	mustStatus(t, do(t, http.MethodGet, inst.URL+"/v1/authorize", tok, nil, nginx("GET", "/v1/other")...), http.StatusTooManyRequests)

	// Free: admitted with the caller named and no window touched.
	for range 3 {
		r := mustStatus(t, do(t, http.MethodGet, inst.URL+"/v1/authorize", tok, nil, nginx("GET", "/v1/ping")...), http.StatusOK)
		if r.Header.Get(HeaderQuotaClient) != "grace" || r.Header.Get(HeaderQuotaTier) != "free" || r.Header.Get("X-RateLimit-Limit") != "" {
			t.Fatalf("free operation: %v, want the caller and no rate-limit headers", r.Header)
		}
	}
	if got := remaining(t, inst, tok); got[0] != 0 || got[1] != 88 {
		t.Fatalf("after free operations: remaining %v, want [0 88]", got)
	}
}

// TestAuthorize_DenyStatus403: with the nginx switch a refusal is a 403
// carrying what the 429 would; bad values are refused at start.
func TestAuthorize_DenyStatus403(t *testing.T) {
	t.Parallel()
	var cfg Config
	inst := newBackend(t).start(t, instanceOpts{configure: func(c *Config) {
		c.AuthorizeDenyStatus = http.StatusForbidden
		cfg = *c
	}})
	putTier(t, inst, "anonymous", `{"limit":1,"per":3600}`, 1)
	mustStatus(t, do(t, http.MethodGet, inst.URL+"/v1/authorize", "", nil, nginx("GET", "/x")...), http.StatusOK)
	r := mustStatus(t, do(t, http.MethodGet, inst.URL+"/v1/authorize", "", nil, nginx("GET", "/x")...), http.StatusForbidden)
	if r.errorCode(t) != CodeRateLimited || r.Header.Get("Retry-After") == "" || r.Header.Get("X-RateLimit-Remaining") != "0" ||
		r.Header.Get(HeaderQuotaTier) != "anonymous" {
		t.Errorf("403 refusal %v %s", r.Header, r.Body)
	}
	// /rate-limited keeps its 429.
	mustStatus(t, do(t, http.MethodGet, inst.URL+"/rate-limited", "", nil), http.StatusTooManyRequests)

	cfg.AuthorizeDenyStatus = http.StatusUnauthorized
	if _, err := NewServer(cfg); err == nil {
		t.Error("NewServer accepted an AuthorizeDenyStatus of 401")
	}
}
