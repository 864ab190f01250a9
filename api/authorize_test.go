package api

import (
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/labstack/echo/v4"
	"github.com/quotad/quotad/internal/testenv"
	"github.com/quotad/quotad/quota"
)

// costTable prices original requests by path; any other costs 1. It
// records what it was asked, "METHOD /path", for the conventions' tests.
type costTable struct {
	costs map[string]int64
	mu    sync.Mutex
	asked []string
}

func (ct *costTable) Cost(method, path string) int64 {
	ct.mu.Lock()
	ct.asked = append(ct.asked, method+" "+path)
	ct.mu.Unlock()
	if n, ok := ct.costs[path]; ok {
		return n
	}
	return 1
}

// last returns the last request priced, "" if none was.
func (ct *costTable) last() string {
	ct.mu.Lock()
	defer ct.mu.Unlock()
	if len(ct.asked) == 0 {
		return ""
	}
	return ct.asked[len(ct.asked)-1]
}

// withCosts is an instanceOpts.configure that prices requests with ct.
func withCosts(ct *costTable) func(*Config) {
	return func(c *Config) { c.Costs = ct }
}

// TestAuthorize_Conventions: each gateway's way of naming the original
// request is read, the path priced without its query, percent-decoded and
// with its dot segments resolved; the answer is 200, empty, with the
// caller and its tier.
func TestAuthorize_Conventions(t *testing.T) {
	t.Parallel()
	ct := &costTable{}
	inst := newBackend(t).start(t, instanceOpts{configure: withCosts(ct)})
	tok := token(t, "carol", false)
	for _, tc := range []struct {
		name, method, path string
		header             []string
		want               string
	}{
		{"traefik/caddy", http.MethodGet, "/v1/authorize", []string{"X-Forwarded-Method", "POST", "X-Forwarded-Uri", "/v1/orders?x=1"}, "POST /v1/orders"},
		{"nginx", http.MethodGet, "/v1/authorize", []string{"X-Original-Method", "DELETE", "X-Original-URI", "/v1/orders/42"}, "DELETE /v1/orders/42"},
		{"envoy", http.MethodPut, "/v1/authorize/v1/orders/42?dry=1", nil, "PUT /v1/orders/42"},
		{"envoy root", http.MethodPatch, "/v1/authorize/", nil, "PATCH /"},
		{"forwarded before original", http.MethodGet, "/v1/authorize", []string{"X-Forwarded-Method", "GET", "X-Forwarded-Uri", "/a",
			"X-Original-Method", "POST", "X-Original-URI", "/b"}, "GET /a"},
		{"headers before the path", http.MethodPost, "/v1/authorize/envoy", []string{"X-Original-Method", "GET", "X-Original-URI", "/nginx"}, "GET /nginx"},
		{"decoded and resolved", http.MethodGet, "/v1/authorize", []string{"X-Original-Method", "GET", "X-Original-URI", "/v1/x/../%73earch/?q=/../y"}, "GET /v1/search/"},
		{"options", http.MethodOptions, "/v1/authorize/v1/orders", nil, "OPTIONS /v1/orders"},
	} {
		r := mustStatus(t, do(t, tc.method, inst.URL+tc.path, tok, nil, tc.header...), http.StatusOK)
		if got := ct.last(); got != tc.want {
			t.Errorf("%s: priced %q, want %q", tc.name, got, tc.want)
		}
		if len(r.Body) != 0 || r.Header.Get(HeaderQuotaClient) != "carol" || r.Header.Get(HeaderQuotaTier) != "free" ||
			r.Header.Get("X-RateLimit-Limit") != "300" {
			t.Errorf("%s: headers %v and body %q, want carol on free, the rate-limit headers and no body", tc.name, r.Header, r.Body)
		}
	}
}

// TestAuthorize_MalformedIs400: an original request that cannot be read
// is a 400 in the envelope, and is neither priced nor counted.
func TestAuthorize_MalformedIs400(t *testing.T) {
	t.Parallel()
	ct := &costTable{}
	inst := newBackend(t).start(t, instanceOpts{configure: withCosts(ct)})
	long := "/" + strings.Repeat("a", maxOriginalURI)
	for name, tc := range map[string]struct {
		path   string
		header []string
	}{
		"nothing named":     {"/v1/authorize", nil},
		"method alone":      {"/v1/authorize", []string{"X-Forwarded-Method", "GET"}},
		"uri alone":         {"/v1/authorize", []string{"X-Original-URI", "/x"}},
		"not a method":      {"/v1/authorize", []string{"X-Original-Method", "GE T", "X-Original-URI", "/x"}},
		"long method":       {"/v1/authorize", []string{"X-Original-Method", strings.Repeat("G", 33), "X-Original-URI", "/x"}},
		"not a path":        {"/v1/authorize", []string{"X-Forwarded-Method", "GET", "X-Forwarded-Uri", "v1/x"}},
		"absolute uri":      {"/v1/authorize", []string{"X-Forwarded-Method", "GET", "X-Forwarded-Uri", "http://h/x"}},
		"bad escape":        {"/v1/authorize", []string{"X-Original-Method", "GET", "X-Original-URI", "/x%zz"}},
		"control character": {"/v1/authorize", []string{"X-Original-Method", "GET", "X-Original-URI", "/x%00y"}},
		"oversized uri":     {"/v1/authorize", []string{"X-Original-Method", "GET", "X-Original-URI", long}},
		"oversized path":    {"/v1/authorize" + long, nil},
	} {
		r := mustStatus(t, do(t, http.MethodGet, inst.URL+tc.path, "", nil, tc.header...), http.StatusBadRequest)
		if r.errorCode(t) != CodeBadRequest {
			t.Errorf("%s: code %s, want %s", name, r.errorCode(t), CodeBadRequest)
		}
	}
	// A header sent twice: do sets each header once.
	req, _ := http.NewRequest(http.MethodGet, inst.URL+"/v1/authorize", nil)
	req.Header.Add("X-Original-Method", "GET")
	req.Header.Add("X-Original-Method", "POST")
	req.Header.Set("X-Original-URI", "/x")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest {
		t.Errorf("X-Original-Method twice: %d, want 400", resp.StatusCode)
	}
	if got := ct.last(); got != "" {
		t.Errorf("a malformed request was priced: %q", got)
	}
	var q QuotaView
	mustStatus(t, do(t, http.MethodGet, inst.URL+"/v1/quota", "", nil), http.StatusOK).decode(t, &q)
	if q.Remaining != q.Limit {
		t.Errorf("after only 400s: %d of %d left", q.Remaining, q.Limit)
	}
}

// TestAuthorize_BadTokenIs401: a forwarded token that does not verify is a
// 401 with the challenge, never an anonymous decision.
func TestAuthorize_BadTokenIs401(t *testing.T) {
	t.Parallel()
	inst := newBackend(t).start(t, instanceOpts{})
	r := mustStatus(t, do(t, http.MethodGet, inst.URL+"/v1/authorize/x", "not-a-jwt", nil), http.StatusUnauthorized)
	if r.errorCode(t) != CodeUnauthorized || !strings.HasPrefix(r.Header.Get("WWW-Authenticate"), "Bearer") {
		t.Errorf("401 %v %s", r.Header, r.Body)
	}
	if r.Header.Get(HeaderQuotaClient) != "" {
		t.Errorf("a bad token was counted as %q", r.Header.Get(HeaderQuotaClient))
	}
}

// TestAuthorize_ClientIP: without a token the caller is its address;
// X-Forwarded-For counts only from a trusted proxy.
func TestAuthorize_ClientIP(t *testing.T) {
	t.Parallel()
	b := newBackend(t)
	untrusting := b.start(t, instanceOpts{})
	trusting := b.start(t, instanceOpts{configure: func(c *Config) {
		c.IP, _ = quota.NewIPExtractor([]string{"127.0.0.1", "::1"})
	}})
	fwd := []string{"X-Original-Method", "GET", "X-Original-URI", "/x", "X-Forwarded-For", "203.0.113.7"}
	r := mustStatus(t, do(t, http.MethodGet, untrusting.URL+"/v1/authorize", "", nil, fwd...), http.StatusOK)
	if got := r.Header.Get(HeaderQuotaClient); got != "ip:127.0.0.1" && got != "ip:::1/64" {
		t.Errorf("untrusted peer: client %q, want the peer's address", got)
	}
	r = mustStatus(t, do(t, http.MethodGet, trusting.URL+"/v1/authorize", "", nil, fwd...), http.StatusOK)
	if got := r.Header.Get(HeaderQuotaClient); got != "ip:203.0.113.7" || r.Header.Get(HeaderQuotaTier) != "anonymous" {
		t.Errorf("trusted proxy: client %q on %q, want ip:203.0.113.7 on anonymous", got, r.Header.Get(HeaderQuotaTier))
	}
}

// unreadable is a request body that fails the test when read.
type unreadable struct{ t *testing.T }

func (u unreadable) Read([]byte) (int, error) {
	u.t.Error("the request body was read")
	return 0, errors.New("unreadable")
}

// TestAuthorize_BodyNeverRead: a body a gateway forwards is left alone,
// whatever the method and convention. The handler is called directly, so
// nothing but quotad could read it.
func TestAuthorize_BodyNeverRead(t *testing.T) {
	t.Parallel()
	inst := newBackend(t).start(t, instanceOpts{})
	h := inst.srv.Config.Handler
	for _, tc := range []struct {
		method, target string
		header         []string
	}{
		{http.MethodPost, "/v1/authorize/v1/upload", nil},
		{http.MethodPut, "/v1/authorize", []string{"X-Forwarded-Method", "PUT", "X-Forwarded-Uri", "/v1/upload"}},
		{http.MethodPatch, "/v1/authorize", []string{"X-Original-Method", "PATCH", "X-Original-URI", "/v1/upload"}},
	} {
		req := httptest.NewRequest(tc.method, tc.target, unreadable{t})
		req.Header.Set("Content-Type", "application/octet-stream")
		req.Header.Set(echo.HeaderAuthorization, "Bearer "+token(t, "uploader", false))
		for i := 0; i+1 < len(tc.header); i += 2 {
			req.Header.Set(tc.header[i], tc.header[i+1])
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		r := response{Response: rec.Result(), Body: rec.Body.Bytes()}
		checkOpenAPI(t, req, r)
		if r.StatusCode != http.StatusOK || r.Header.Get(HeaderQuotaClient) != "uploader" {
			t.Errorf("%s %s: %d %v, want 200 for uploader", tc.method, tc.target, r.StatusCode, r.Header)
		}
	}
}

// TestAuthorize_Head: HEAD, as a gateway may probe, decides as GET does.
func TestAuthorize_Head(t *testing.T) {
	t.Parallel()
	inst := newBackend(t).start(t, instanceOpts{})
	setTier(t, inst, "anonymous", 1, 3600)
	for i, want := range []int{http.StatusOK, http.StatusTooManyRequests} {
		r := mustStatus(t, do(t, http.MethodHead, inst.URL+"/v1/authorize/x", "", nil), want)
		if len(r.Body) != 0 || r.Header.Get(HeaderQuotaTier) != "anonymous" || r.Header.Get("X-RateLimit-Remaining") != "0" {
			t.Errorf("HEAD %d: %v, want the headers and no body", i+1, r.Header)
		}
	}
}

// TestAuthorize_LoggedAndMeasured: decisions reach the request log and the
// metrics as /rate-limited's do, under the route /v1/authorize.
func TestAuthorize_LoggedAndMeasured(t *testing.T) {
	t.Parallel()
	logs := &testenv.Buffer{}
	inst := newBackend(t).start(t, instanceOpts{accessLog: AccessLogAll, logger: slog.New(slog.NewJSONHandler(logs, nil))})
	nginx := []string{"X-Original-Method", "GET", "X-Original-URI", "/x"}
	mustStatus(t, do(t, http.MethodGet, inst.URL+"/v1/authorize", token(t, "dave", false), nil, nginx...), http.StatusOK)
	m := mustStatus(t, do(t, http.MethodGet, inst.URL+"/metrics", "", nil), http.StatusOK)
	for _, want := range []string{
		`quotad_decisions_total{outcome="admitted",tier="free"} 1`,
		`quotad_http_requests_total{code="200",route="/v1/authorize"} 1`,
	} {
		if !strings.Contains(string(m.Body), want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
	found := false
	for _, l := range requestLines(t, logs) {
		if l["route"] == "/v1/authorize" {
			found = l["client"] == "u:dave" && l["tier"] == "free" && l["outcome"] == outcomeAdmit
		}
	}
	if !found {
		t.Errorf("no request line for dave's admitted /v1/authorize:\n%s", logs)
	}
}
