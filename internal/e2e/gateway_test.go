package e2e

import (
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/quotad/quotad/api"
	"github.com/quotad/quotad/internal/testenv"
	"github.com/quotad/quotad/quota"
)

// headerQuotaClient is what the gateway tells the API about who quotad
// counted a request against.
const headerQuotaClient = "X-Quota-Client"

// gatewayKinds are the gateways deploy/ ships a tested config for, each
// with the QUOTA_AUTHORIZE_DENY_STATUS that config asks quotad for.
var gatewayKinds = []struct {
	name       string
	denyStatus string
	start      func(tb testing.TB, quotadAddr, upstreamAddr string) gateway
}{
	{"nginx", "403", startNginx},
	{"caddy", "429", startCaddy},
}

// TestGateway_ShippedConfigs runs deploy/nginx.conf and deploy/Caddyfile
// with real nginx and Caddy in front of an upstream that counts what
// reaches it, and quotad deciding: the limit holds at the upstream under
// concurrency, clients see the rate-limit headers, refusals are 429 with
// Retry-After, a bad token is 401, and anonymous callers are counted by
// the address the gateway saw, never one they claim.
func TestGateway_ShippedConfigs(t *testing.T) {
	t.Parallel()
	for _, kind := range gatewayKinds {
		t.Run(kind.name, func(t *testing.T) {
			t.Parallel()
			q := startQuotad(t, gatewayEnv(t, kind.denyStatus))
			up := startUpstream(t)
			gw := kind.start(t, strings.TrimPrefix(q.URL, "http://"), up.Addr())
			t.Run("LimitHoldsAtTheUpstream", func(t *testing.T) { limitHolds(t, q, gw, up) })
			t.Run("BadTokenIs401", func(t *testing.T) { badToken(t, gw, up) })
			t.Run("AnonymousByGatewayAddress", func(t *testing.T) { anonymousByAddress(t, q, gw, up) })
			t.Run("OperationOfCostFiveUsesFive", func(t *testing.T) { costFive(t, q, gw, up) })
		})
	}
}

// gatewayEnv is quotad's environment behind a gateway on 127.0.0.1:
// that address is a trusted proxy, and clients connect from other
// loopback addresses.
func gatewayEnv(tb testing.TB, denyStatus string) map[string]string {
	tb.Helper()
	vars := env(database(tb), testenv.StartRedis(tb).URL())
	vars["QUOTA_TRUSTED_PROXIES"] = "127.0.0.1/32"
	vars["QUOTA_AUTHORIZE_DENY_STATUS"] = denyStatus
	return vars
}

// limitHolds sends three times a user's limit at once through the gateway:
// exactly the limit reaches the upstream, each admitted response carries
// quotad's headers, and each refusal is a 429 with Retry-After and
// quotad's error code.
func limitHolds(t *testing.T, q *quotad, gw gateway, up *upstream) {
	const limit = 10
	createTier(t, q, "gw", limit)
	assign(t, q, "gw-alice", "gw")
	c := from("127.0.0.2")
	token := user(t, "gw-alice").token

	var mu sync.Mutex
	codes := map[int]int{}
	remaining := map[string]bool{}
	var wg sync.WaitGroup
	for range 3 * limit {
		wg.Go(func() {
			r, err := send(c, gw.URL+"/v1/things?page=1", token, nil)
			if err != nil {
				t.Error(err)
				return
			}
			mu.Lock()
			defer mu.Unlock()
			codes[r.Code]++
			if got, want := r.Header.Get(quota.HeaderPolicy), fmt.Sprintf(`"gw";q=%d;w=86400`, limit); got != want {
				t.Errorf("%s: %d with %s %q, want %q", gw.Name, r.Code, quota.HeaderPolicy, got, want)
			}
			if got := r.Header.Get(quota.HeaderLimit); got != strconv.Itoa(limit) {
				t.Errorf("%s: %d with %s %q, want %d", gw.Name, r.Code, quota.HeaderLimit, got, limit)
			}
			for _, h := range []string{quota.HeaderReset, quota.HeaderRateLimit} {
				if r.Header.Get(h) == "" {
					t.Errorf("%s: %d without %s", gw.Name, r.Code, h)
				}
			}
			switch r.Code {
			case http.StatusOK:
				remaining[r.Header.Get(quota.HeaderRemaining)] = true
				if r.Header.Get(quota.HeaderRetryAfter) != "" {
					t.Errorf("%s: an admitted request with Retry-After", gw.Name)
				}
			case http.StatusTooManyRequests:
				if n, err := strconv.Atoi(r.Header.Get(quota.HeaderRetryAfter)); err != nil || n < 1 {
					t.Errorf("%s: 429 with Retry-After %q", gw.Name, r.Header.Get(quota.HeaderRetryAfter))
				}
				if r.Header.Get(quota.HeaderRemaining) != "0" {
					t.Errorf("%s: 429 with %s %q", gw.Name, quota.HeaderRemaining, r.Header.Get(quota.HeaderRemaining))
				}
				if r.errorCode() != api.CodeRateLimited || !strings.HasPrefix(r.Header.Get("Content-Type"), "application/json") {
					t.Errorf("%s: 429 %s %q, want quotad's JSON error rate_limited", gw.Name, r.Header.Get("Content-Type"), r.Body)
				}
			}
		})
	}
	wg.Wait()
	if codes[http.StatusOK] != limit || codes[http.StatusTooManyRequests] != 2*limit {
		t.Errorf("%s: statuses %v, want %d × 200 and %d × 429", gw.Name, codes, limit, 2*limit)
	}
	if n := up.count("gw-alice"); n != limit {
		t.Errorf("%s: %d requests reached the upstream, want exactly %d", gw.Name, n, limit)
	}
	if len(remaining) != limit {
		t.Errorf("%s: admitted with %s values %v, want %d distinct", gw.Name, quota.HeaderRemaining, remaining, limit)
	}
}

// badToken: a token quotad cannot verify is a 401, and nothing reaches
// the upstream.
func badToken(t *testing.T, gw gateway, up *upstream) {
	before := up.total()
	r, err := send(from("127.0.0.2"), gw.URL+"/v1/things", "not-a-token", nil)
	if err != nil {
		t.Fatal(err)
	}
	if r.Code != http.StatusUnauthorized || r.errorCode() != api.CodeUnauthorized {
		t.Errorf("%s: bad token: %v, want 401 unauthorized", gw.Name, r)
	}
	if n := up.total() - before; n != 0 {
		t.Errorf("%s: %d requests with a bad token reached the upstream", gw.Name, n)
	}
}

// anonymousByAddress: callers without a token are counted by the address
// the gateway saw, which quotad names to the upstream; an X-Forwarded-For
// or X-Quota-Client the caller sends itself changes nothing.
func anonymousByAddress(t *testing.T, q *quotad, gw gateway, up *upstream) {
	const limit = 2
	if r := admin(t).do(t, http.MethodPut, q.URL+"/v1/admin/tiers/anonymous", tierBody("anonymous", limit, 86400)); r.Code != http.StatusOK {
		t.Fatalf("anonymous tier: %v", r)
	}
	first, second := from("127.0.0.3"), from("127.0.0.4")
	for i := range limit + 1 {
		r, err := send(first, gw.URL+"/anything", "", nil)
		if err != nil {
			t.Fatal(err)
		}
		want := http.StatusOK
		if i == limit {
			want = http.StatusTooManyRequests
		}
		if r.Code != want {
			t.Fatalf("%s: anonymous request %d of a limit of %d: %v", gw.Name, i+1, limit, r)
		}
	}
	if n := up.count("ip:127.0.0.3"); n != limit {
		t.Errorf("%s: the upstream saw %d requests of ip:127.0.0.3, want %d", gw.Name, n, limit)
	}
	forged := map[string]string{"X-Forwarded-For": "127.0.0.3", headerQuotaClient: "ip:127.0.0.9"}
	r, err := send(second, gw.URL+"/anything", "", forged)
	if err != nil {
		t.Fatal(err)
	}
	if r.Code != http.StatusOK || r.Header.Get(quota.HeaderRemaining) != strconv.Itoa(limit-1) {
		t.Errorf("%s: a caller claiming to be 127.0.0.3: %v (%s %q); want its own fresh window",
			gw.Name, r, quota.HeaderRemaining, r.Header.Get(quota.HeaderRemaining))
	}
	if n := up.count("ip:127.0.0.4"); n != 1 {
		t.Errorf("%s: the upstream saw %d requests of ip:127.0.0.4, want 1", gw.Name, n)
	}
	if n := up.count("ip:127.0.0.9"); n != 0 {
		t.Errorf("%s: the caller's own X-Quota-Client reached the upstream %d times", gw.Name, n)
	}
}

// costFive prices GET /v1/search/* at 5 and sends searches through the
// gateway on a tier of 12: the first two are admitted (5, then 10 spent),
// the third refused, and a client naming a free path in the
// forwarded-request headers is still charged for the search it makes.
func costFive(t *testing.T, q *quotad, gw gateway, up *upstream) {
	root := admin(t)
	if r := root.do(t, http.MethodPut, q.URL+"/v1/admin/operations/search",
		map[string]any{"method": "GET", "path": "/v1/search/*", "cost": 5}); r.Code != http.StatusCreated && r.Code != http.StatusOK {
		t.Fatalf("%s: put operation: %v", gw.Name, r)
	}
	createTier(t, q, "gw5", 12)
	sub := "gw-cost-" + gw.Name
	assign(t, q, sub, "gw5")
	// The rule reaches quotad's cache within a second: wait for it with
	// a new client per try (its first request shows what one costs),
	// spending nothing of sub's.
	waitFor(t, 2*time.Second, "the cost rule", func() bool {
		probe := user(t, testenv.RandomName("gw-probe-"))
		r, err := probe.try(http.MethodGet, q.URL+"/v1/authorize/v1/search/probe", nil)
		return err == nil && r.Code == http.StatusOK && remainingDrop(r) == 5
	})
	c := from("127.0.0.4")
	token := user(t, sub).token
	forged := map[string]string{"X-Forwarded-Method": "GET", "X-Forwarded-Uri": "/free", "X-Original-URI": "/free"}
	want := []struct {
		code      int
		remaining string
	}{{http.StatusOK, "7"}, {http.StatusOK, "2"}, {http.StatusTooManyRequests, "2"}}
	for i, w := range want {
		r, err := send(c, gw.URL+"/v1/search/q?i="+strconv.Itoa(i), token, forged)
		if err != nil {
			t.Fatal(err)
		}
		if r.Code != w.code || r.Header.Get(quota.HeaderRemaining) != w.remaining {
			t.Fatalf("%s: search %d: %d with %s %q, want %d with %q", gw.Name, i+1, r.Code,
				quota.HeaderRemaining, r.Header.Get(quota.HeaderRemaining), w.code, w.remaining)
		}
	}
	if n := up.count(sub); n != 2 {
		t.Errorf("%s: %d searches reached the upstream, want 2", gw.Name, n)
	}
}

// remainingDrop is what a client's first request spent: its limit minus
// what remains.
func remainingDrop(r response) int {
	limit, err1 := strconv.Atoi(r.Header.Get(quota.HeaderLimit))
	rem, err2 := strconv.Atoi(r.Header.Get(quota.HeaderRemaining))
	if err1 != nil || err2 != nil {
		return 0
	}
	return limit - rem
}

// send makes one GET through c with token (if any) and extra headers.
func send(c *http.Client, url, token string, extra map[string]string) (response, error) {
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		return response{}, err
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for k, v := range extra {
		req.Header.Set(k, v)
	}
	resp, err := c.Do(req)
	if err != nil {
		return response{}, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return response{Code: resp.StatusCode, Header: resp.Header, Body: b}, err
}

// TestREADME_NginxExcerptIsTheShippedConfig: the README may quote
// deploy/nginx.conf in a ```nginx block between <!-- nginx:begin --> and
// <!-- nginx:end -->; the quote must be lines of the file, verbatim and
// in one piece, so it cannot drift from the config the tests run.
func TestREADME_NginxExcerptIsTheShippedConfig(t *testing.T) {
	t.Parallel()
	readme, conf := repoFile(t, "README.md"), repoFile(t, "deploy/nginx.conf")
	begins, ends := strings.Count(readme, "<!-- nginx:begin -->"), strings.Count(readme, "<!-- nginx:end -->")
	if begins != ends {
		t.Fatalf("README.md has %d <!-- nginx:begin --> and %d <!-- nginx:end -->", begins, ends)
	}
	block := regexp.MustCompile("(?s)<!-- nginx:begin -->\\s*```nginx\n(.*?)```\\s*<!-- nginx:end -->")
	found := block.FindAllStringSubmatch(readme, -1)
	if len(found) != begins {
		t.Fatalf("README.md: %d nginx:begin markers but %d ```nginx blocks between markers", begins, len(found))
	}
	for _, m := range found {
		if m[1] == "" || !strings.Contains("\n"+conf, "\n"+m[1]) {
			t.Errorf("README.md quotes lines that are not in deploy/nginx.conf, verbatim and in one piece:\n%s", m[1])
		}
	}
}

// TestCompose_GatewayRunsTheShippedConfig: docker compose's gateway
// profile runs deploy/nginx.conf with its upstream lines rewritten; each
// line it rewrites must still be in the file, or nginx would start with
// addresses that mean nothing on the compose network.
func TestCompose_GatewayRunsTheShippedConfig(t *testing.T) {
	t.Parallel()
	compose, conf := repoFile(t, "docker-compose.yml"), repoFile(t, "deploy/nginx.conf")
	if !strings.Contains(compose, "./deploy/nginx.conf:/etc/nginx/quotad.conf:ro") {
		t.Fatal("docker-compose.yml no longer mounts deploy/nginx.conf as /etc/nginx/quotad.conf")
	}
	edits := regexp.MustCompile(`-e 's/([^/]+)/([^/]+)/'`).FindAllStringSubmatch(compose, -1)
	if len(edits) != 2 {
		t.Fatalf("docker-compose.yml rewrites %d lines of deploy/nginx.conf, want the 2 upstream servers", len(edits))
	}
	for _, e := range edits {
		if !strings.Contains(conf, e[1]) {
			t.Errorf("docker-compose.yml rewrites %q, which deploy/nginx.conf no longer has", e[1])
		}
	}
}
