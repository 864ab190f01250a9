package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/quotad/quotad/api"
	"github.com/quotad/quotad/quota"
)

// bound is how long any request may take while a dependency fails: the
// 100 ms Redis deadline (or the 1 s readiness deadline) plus a generous
// margin for a loaded machine running -race builds.
const bound = 2 * time.Second

// response is what a test needs of an HTTP response.
type response struct {
	Code   int
	Header http.Header
	Body   []byte
	Took   time.Duration
}

// errorCode returns the code of a JSON error envelope, or "".
func (r response) errorCode() string {
	var b api.ErrorBody
	_ = json.Unmarshal(r.Body, &b)
	return b.Error.Code
}

func (r response) String() string {
	return fmt.Sprintf("%d in %v: %s", r.Code, r.Took.Round(time.Millisecond), bytes.TrimSpace(r.Body))
}

// client is a bearer of a token (or none) talking to quotads.
type client struct {
	token string
	http  *http.Client
}

var httpClient = &http.Client{Timeout: 15 * time.Second}

// user is a client with a token for sub.
func user(tb testing.TB, sub string) client {
	tb.Helper()
	tok, err := api.MintToken([]byte(secret), api.TokenClaims{Subject: sub, TTL: time.Hour})
	if err != nil {
		tb.Fatal(err)
	}
	return client{token: tok, http: httpClient}
}

// admin is a client with the quota:admin scope.
func admin(tb testing.TB) client {
	tb.Helper()
	tok, err := api.MintToken([]byte(secret), api.TokenClaims{Subject: "e2e-admin", Admin: true, TTL: time.Hour})
	if err != nil {
		tb.Fatal(err)
	}
	return client{token: tok, http: httpClient}
}

// anonymous is a client without a token.
var anonymous = client{http: httpClient}

// try sends one request; body, if not nil, is sent as JSON.
func (c client) try(method, url string, body any) (response, error) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return response{}, err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		return response{}, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	start := time.Now()
	resp, err := c.http.Do(req)
	if err != nil {
		return response{}, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return response{}, err
	}
	return response{Code: resp.StatusCode, Header: resp.Header, Body: b, Took: time.Since(start)}, nil
}

// do is try that fails the test on a transport error.
func (c client) do(tb testing.TB, method, url string, body any) response {
	tb.Helper()
	r, err := c.try(method, url, body)
	if err != nil {
		tb.Fatalf("%s %s: %v", method, url, err)
	}
	return r
}

// get is do for GET.
func (c client) get(tb testing.TB, url string) response {
	tb.Helper()
	return c.do(tb, http.MethodGet, url, nil)
}

// tierBody is the JSON of a tier for the admin API.
func tierBody(name string, limit, per int64) map[string]any {
	return map[string]any{"name": name, "limit": limit, "per": per, "description": "e2e"}
}

// createTier creates a tier of limit requests per day through q's admin
// API: a day-long window, so a test never straddles two windows.
func createTier(tb testing.TB, q *quotad, name string, limit int64) {
	tb.Helper()
	if r := admin(tb).do(tb, http.MethodPost, q.URL+"/v1/admin/tiers", tierBody(name, limit, 86400)); r.Code != http.StatusCreated {
		tb.Fatalf("create tier %s: %v", name, r)
	}
}

// assign puts client sub on tier through q's admin API.
func assign(tb testing.TB, q *quotad, sub, tier string) {
	tb.Helper()
	if r := admin(tb).do(tb, http.MethodPut, q.URL+"/v1/admin/clients/"+sub, map[string]string{"tier": tier}); r.Code != http.StatusOK {
		tb.Fatalf("assign %s to %s: %v", sub, tier, r)
	}
}

// expectExact proves the limiter counts for sub on q: with used requests
// of its tier's limit already spent this window, exactly limit-used more
// are admitted, each with true headers, and the next is refused with 429.
func expectExact(tb testing.TB, q *quotad, sub, tier string, limit, used int64) {
	tb.Helper()
	c := user(tb, sub)
	policy := fmt.Sprintf(`"%s";q=%d;w=86400`, tier, limit)
	for i := used; i < limit; i++ {
		r := c.get(tb, q.URL+"/rate-limited")
		if r.Code != http.StatusOK {
			tb.Fatalf("%s: request %d of %d: %v", sub, i+1, limit, r)
		}
		if got := r.Header.Get(quota.HeaderDegraded); got != "" {
			tb.Fatalf("%s: request %d: %s: %q on a decided request", sub, i+1, quota.HeaderDegraded, got)
		}
		if got := r.Header.Get(quota.HeaderPolicy); got != policy {
			tb.Fatalf("%s: request %d: %s = %q, want %q", sub, i+1, quota.HeaderPolicy, got, policy)
		}
		if got, want := r.Header.Get(quota.HeaderRemaining), strconv.FormatInt(limit-i-1, 10); got != want {
			tb.Fatalf("%s: request %d: %s = %q, want %q", sub, i+1, quota.HeaderRemaining, got, want)
		}
	}
	r := c.get(tb, q.URL+"/rate-limited")
	if r.Code != http.StatusTooManyRequests || r.errorCode() != api.CodeRateLimited || r.Header.Get(quota.HeaderRetryAfter) == "" {
		tb.Fatalf("%s: request %d of a limit of %d: %v (Retry-After %q); want 429 rate_limited with Retry-After",
			sub, limit+1, limit, r, r.Header.Get(quota.HeaderRetryAfter))
	}
}

// readiness returns /readyz's status and its per-dependency checks.
func readiness(tb testing.TB, q *quotad) (response, map[string]string) {
	tb.Helper()
	r := anonymous.get(tb, q.URL+"/readyz")
	var body struct{ Checks map[string]string }
	if err := json.Unmarshal(r.Body, &body); err != nil {
		tb.Fatalf("/readyz: %v: %v", r, err)
	}
	return r, body.Checks
}

// waitReady polls /readyz until it answers 200.
func waitReady(tb testing.TB, q *quotad, timeout time.Duration) {
	tb.Helper()
	deadline := time.Now().Add(timeout)
	for {
		r, _ := readiness(tb, q)
		if r.Code == http.StatusOK {
			return
		}
		if time.Now().After(deadline) {
			tb.Fatalf("/readyz still %v after %v", r, timeout)
		}
		time.Sleep(20 * time.Millisecond) // poll: readiness has no push signal
	}
}

// metric returns the value of an unlabelled metric on q's /metrics.
func metric(tb testing.TB, q *quotad, name string) float64 {
	tb.Helper()
	r := anonymous.get(tb, q.URL+"/metrics")
	for _, line := range strings.Split(string(r.Body), "\n") {
		if v, ok := strings.CutPrefix(line, name+" "); ok {
			f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
			if err != nil {
				tb.Fatalf("metric %s: %q: %v", name, line, err)
			}
			return f
		}
	}
	tb.Fatalf("/metrics has no %s", name)
	return 0
}

// publicLimit returns the limit q's public /v1/tiers lists for tier, or 0.
func publicLimit(tb testing.TB, q *quotad, tier string) int64 {
	tb.Helper()
	r := anonymous.get(tb, q.URL+"/v1/tiers")
	var body struct{ Tiers []api.TierView }
	if err := json.Unmarshal(r.Body, &body); err != nil || r.Code != http.StatusOK {
		tb.Fatalf("/v1/tiers: %v: %v", r, err)
	}
	for _, t := range body.Tiers {
		if t.Name == tier {
			return t.Limit
		}
	}
	return 0
}

// jsonHas reports whether r's JSON body has field set to value.
func jsonHas(r response, field string, value any) bool {
	var m map[string]any
	return json.Unmarshal(r.Body, &m) == nil && m[field] == value
}
