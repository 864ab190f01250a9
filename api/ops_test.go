package api

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/quotad/quotad/internal/testenv"
	"github.com/quotad/quotad/quota"
	"github.com/quotad/quotad/tiers"
	"github.com/redis/go-redis/v9"
)

func TestOps_HealthReadyMetricsSpec(t *testing.T) {
	t.Parallel()
	b := newBackend(t)
	inst := b.start(t, instanceOpts{})
	mustStatus(t, do(t, http.MethodGet, inst.URL+"/healthz", "", nil), http.StatusOK)
	// Load balancers probe with HEAD: the same status and length, no body.
	for _, path := range []string{"/healthz", "/readyz"} {
		get := mustStatus(t, do(t, http.MethodGet, inst.URL+path, "", nil), http.StatusOK)
		head := mustStatus(t, do(t, http.MethodHead, inst.URL+path, "", nil), http.StatusOK)
		if len(head.Body) != 0 || head.ContentLength != int64(len(get.Body)) {
			t.Errorf("HEAD %s: Content-Length %d and a body of %d bytes, want %d and none", path, head.ContentLength, len(head.Body), len(get.Body))
		}
	}
	var ready struct {
		Status string
		Checks map[string]string
	}
	mustStatus(t, do(t, http.MethodGet, inst.URL+"/readyz", "", nil), http.StatusOK).decode(t, &ready)
	if ready.Status != "ready" || ready.Checks["postgres"] != "ok" || ready.Checks["redis"] != "ok" {
		t.Fatalf("readyz %+v", ready)
	}
	mustStatus(t, do(t, http.MethodGet, inst.URL+"/rate-limited", "", nil), http.StatusOK)
	m := mustStatus(t, do(t, http.MethodGet, inst.URL+"/metrics", "", nil), http.StatusOK)
	for _, want := range []string{
		`quotad_decisions_total{outcome="admitted",tier="anonymous"} 1`,
		"quotad_store_failures_total 0",
		"quotad_decision_duration_seconds_count 1",
		"quotad_tier_cache_clients 0", "quotad_tier_listener_connected 1",
		`quotad_http_requests_total{code="200",route="/rate-limited"} 1`,
	} {
		if !strings.Contains(string(m.Body), want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
	spec := mustStatus(t, do(t, http.MethodGet, inst.URL+"/openapi.yaml", "", nil), http.StatusOK)
	if !strings.HasPrefix(string(spec.Body), "openapi:") {
		t.Errorf("/openapi.yaml starts %q", spec.Body[:min(40, len(spec.Body))])
	}
}

// TestRateLimited_BadTokensAre401: a present but bad token is never treated
// as anonymous, and creates no Redis key.
func TestRateLimited_BadTokensAre401(t *testing.T) {
	t.Parallel()
	b := newBackend(t)
	inst := b.start(t, instanceOpts{})
	expired, err := MintToken(testSecret, TokenClaims{Subject: "x", TTL: time.Minute, Now: func() time.Time { return time.Now().Add(-time.Hour) }})
	if err != nil {
		t.Fatal(err)
	}
	wrongKey, _ := MintToken([]byte(strings.Repeat("k", 32)), TokenClaims{Subject: "x", TTL: time.Hour})
	good := token(t, "x", false)
	parts := strings.Split(good, ".")
	tampered := parts[0] + "." + strings.TrimRight(parts[1], "A") + "B." + parts[2]
	for name, auth := range map[string]string{
		"expired":   "Bearer " + expired,
		"wrong key": "Bearer " + wrongKey,
		"tampered":  "Bearer " + tampered,
		"alg none":  "Bearer eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0.eyJzdWIiOiJ4IiwiZXhwIjo0MTAyNDQ0ODAwfQ.",
		"garbage":   "Bearer not.a.jwt",
		"empty":     "Bearer ",
		"basic":     "Basic dXNlcjpwYXNz",
		"dots":      "Bearer " + strings.Repeat(".", 5000),
	} {
		for _, path := range []string{"/rate-limited", "/v1/quota"} {
			r := do(t, http.MethodGet, inst.URL+path, "", nil, "Authorization", auth)
			if r.StatusCode != http.StatusUnauthorized || r.errorCode(t) != CodeUnauthorized {
				t.Errorf("%s on %s: %d %s", name, path, r.StatusCode, r.Body)
			}
			if strings.Contains(string(r.Body), strings.TrimPrefix(auth, "Bearer ")) && len(auth) > 10 {
				t.Errorf("%s: body echoes the token", name)
			}
		}
	}
	if keys := b.redis.Keys(t.Context(), b.prefix+"*").Val(); len(keys) != 0 {
		t.Fatalf("bad tokens created Redis keys %v", keys)
	}
}

// TestPostgresDown_LimitingGoesOn: with Postgres unreachable, known tiers keep
// limiting, /readyz is 503 and admin writes 503; when it returns, writes work
// and propagate again without a restart.
func TestPostgresDown_LimitingGoesOn(t *testing.T) {
	t.Parallel()
	b := newBackend(t)
	u, err := url.Parse(b.dbURL)
	if err != nil {
		t.Fatal(err)
	}
	proxy := testenv.NewProxy(t, u.Host)
	u.Host = proxy.Addr()
	inst := b.start(t, instanceOpts{dbURL: u.String()})
	admin := token(t, "root", true)
	setTier(t, inst, "mini", 2, 3600)
	mustStatus(t, do(t, http.MethodPut, inst.URL+"/v1/admin/clients/gus", admin, map[string]string{"tier": "mini"}), http.StatusOK)
	gus := token(t, "gus", false)
	// The assignment reaches the cache as this instance's own write or as
	// its notification, whichever comes first: the other is then not newer
	// and changes nothing.
	waitChanges(t, inst, tiers.ChangeClient, "gus", 1)
	if q := quotaOf(t, inst, gus); q.Tier != "mini" {
		t.Fatalf("gus on %q, want mini", q.Tier)
	}

	proxy.SetMode(testenv.Refuse)
	mustStatus(t, do(t, http.MethodGet, inst.URL+"/rate-limited", gus, nil), http.StatusOK)
	r := mustStatus(t, do(t, http.MethodGet, inst.URL+"/rate-limited", gus, nil), http.StatusOK)
	if r.Header.Get("RateLimit-Policy") != `"mini";q=2;w=3600` {
		t.Fatalf("while Postgres is down: policy %q, want the cached mini tier", r.Header.Get("RateLimit-Policy"))
	}
	mustStatus(t, do(t, http.MethodGet, inst.URL+"/rate-limited", gus, nil), http.StatusTooManyRequests)
	var ready struct{ Checks map[string]string }
	mustStatus(t, do(t, http.MethodGet, inst.URL+"/readyz", "", nil), http.StatusServiceUnavailable).decode(t, &ready)
	if ready.Checks["postgres"] != "unavailable" || ready.Checks["redis"] != "ok" {
		t.Fatalf("readyz checks %v", ready.Checks)
	}
	for _, w := range []struct{ method, path, body string }{
		{"PUT", "/v1/admin/tiers/mini", `{"limit":5,"per":3600}`},
		{"POST", "/v1/admin/tiers", `{"name":"new","limit":5,"per":3600}`},
		{"PUT", "/v1/admin/clients/gus", `{"tier":"free"}`},
		{"DELETE", "/v1/admin/clients/gus", ""},
	} {
		var body any
		if w.body != "" {
			body = w.body
		}
		r := mustStatus(t, do(t, w.method, inst.URL+w.path, admin, body), http.StatusServiceUnavailable)
		if r.errorCode(t) != CodeUnavailable || strings.Contains(string(r.Body), proxy.Addr()) {
			t.Fatalf("%s %s while Postgres is down: %s", w.method, w.path, r.Body)
		}
	}

	proxy.SetMode(testenv.Forward)
	waitFor(t, 10*time.Second, "admin writes work again", func() bool {
		return do(t, http.MethodPut, inst.URL+"/v1/admin/tiers/mini", admin, `{"limit":5,"per":3600}`).StatusCode == http.StatusOK
	})
	waitFor(t, 2*time.Second, "the raised limit is enforced", func() bool {
		return do(t, http.MethodGet, inst.URL+"/rate-limited", gus, nil).StatusCode == http.StatusOK
	})
	mustStatus(t, do(t, http.MethodGet, inst.URL+"/readyz", "", nil), http.StatusOK)
}

// TestRedisDown_FailurePolicy: with Redis unreachable, requests are
// admitted marked degraded (open) or refused 503 (closed), never hang, and
// /readyz says so.
func TestRedisDown_FailurePolicy(t *testing.T) {
	t.Parallel()
	b := newBackend(t)
	dead := redis.NewClient(&redis.Options{Addr: testenv.ClosedAddr(t), MaxRetries: -1, ContextTimeoutEnabled: true})
	t.Cleanup(func() { dead.Close() })
	open := b.start(t, instanceOpts{redisClient: dead})
	closed := b.start(t, instanceOpts{redisClient: dead, failureMode: quota.FailClosed})
	for range 3 {
		r := mustStatus(t, do(t, http.MethodGet, open.URL+"/rate-limited", "", nil), http.StatusOK)
		if r.Header.Get(quota.HeaderDegraded) != "1" || r.Header.Get("X-RateLimit-Limit") != "" || r.Header.Get("RateLimit") != "" {
			t.Fatalf("fail-open response headers %v", r.Header)
		}
		r = mustStatus(t, do(t, http.MethodGet, closed.URL+"/rate-limited", "", nil), http.StatusServiceUnavailable)
		if r.errorCode(t) != CodeUnavailable {
			t.Fatalf("fail-closed body %s", r.Body)
		}
	}
	mustStatus(t, do(t, http.MethodGet, open.URL+"/readyz", "", nil), http.StatusServiceUnavailable)
	mustStatus(t, do(t, http.MethodHead, open.URL+"/readyz", "", nil), http.StatusServiceUnavailable)
	mustStatus(t, do(t, http.MethodGet, open.URL+"/v1/quota", "", nil), http.StatusServiceUnavailable)
	m := string(do(t, http.MethodGet, open.URL+"/metrics", "", nil).Body)
	if !strings.Contains(m, `quotad_decisions_total{outcome="degraded",tier="anonymous"} 3`) || !strings.Contains(m, "quotad_store_failures_total 3") {
		t.Fatalf("metrics do not count the degraded decisions:\n%s", grepLines(m, "quotad_"))
	}
}

func grepLines(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
