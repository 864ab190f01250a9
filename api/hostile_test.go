package api

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/quotad/quotad"
	"github.com/quotad/quotad/internal/testenv"
	"github.com/quotad/quotad/quota"
	"github.com/quotad/quotad/tiers"
	"github.com/quotad/quotad/usage"
)

// Hostile callers over real HTTP: spoofed addresses, forged tokens, one
// client reaching for another's quota, and bad requests fishing for
// internals in error bodies.

// hostileStart runs a quotad API server on b wired as the harness's start
// wires it, but with ip as its IPExtractor and served by an http.Server of
// its own on 127.0.0.1 with the MaxHeaderBytes cmd/quotad sets (httptest
// uses the 1 MB default). Only URL, cache and limiter of the result are set.
func hostileStart(tb testing.TB, b *backend, ip *quota.IPExtractor) *instance {
	tb.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	pool, err := pgxpool.New(ctx, b.dbURL)
	if err != nil {
		tb.Fatal(err)
	}
	limiter, err := quota.NewWithConfig(b.redis, quota.Config{Prefix: b.prefix, Timeout: 2 * time.Second})
	if err != nil {
		tb.Fatal(err)
	}
	cache := tiers.NewCache(pool, tiers.CacheConfig{OnChange: Invalidator(limiter)})
	if err := cache.Start(ctx); err != nil {
		tb.Fatal(err)
	}
	auth, err := NewAuthenticator(ctx, AuthConfig{Secret: testSecret})
	if err != nil {
		tb.Fatal(err)
	}
	h, err := NewServer(Config{
		Tiers: cache, Store: tiers.NewStore(pool), Usage: usage.NewStore(pool), Limiter: limiter, Auth: auth, IP: ip, OpenAPI: quotad.OpenAPI,
	})
	if err != nil {
		tb.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	srv := NewHTTPServer(h, ctx)
	go func() { _ = srv.Serve(ln) }()
	tb.Cleanup(func() {
		_ = srv.Close()
		cancel()
		cache.Close()
		pool.Close()
	})
	return &instance{URL: "http://" + ln.Addr().String(), cache: cache, limiter: limiter}
}

// hostilePeerKey is the limiter key of requests from the test process to
// inst: "ip:127.0.0.1" (or the /64 of ::1 where loopback is IPv6).
func hostilePeerKey(tb testing.TB, inst *instance) string {
	tb.Helper()
	u, err := url.Parse(inst.URL)
	if err != nil {
		tb.Fatal(err)
	}
	a, err := netip.ParseAddr(u.Hostname())
	if err != nil {
		tb.Fatal(err)
	}
	return "ip:" + quota.IPKey(a)
}

// hostileBuckets returns the limiter key inside the hash tag of every
// Redis key under b's prefix ("<prefix>:{ip:127.0.0.1}:3600" →
// "ip:127.0.0.1"), sorted, failing tb on any key of another shape.
func hostileBuckets(tb testing.TB, b *backend) []string {
	tb.Helper()
	keys, err := b.redis.Keys(tb.Context(), b.prefix+"*").Result()
	if err != nil {
		tb.Fatal(err)
	}
	re := regexp.MustCompile(`^` + regexp.QuoteMeta(b.prefix) + `:\{([^{}]*)\}:[0-9]+$`)
	var out []string
	for _, k := range keys {
		m := re.FindStringSubmatch(k)
		if m == nil {
			tb.Fatalf("Redis key %q is not <prefix>:{<bucket>}:<seconds>", k)
		}
		out = append(out, m[1])
	}
	slices.Sort(out)
	return out
}

// hostileIPBucketsOnly fails tb unless every bucket under b's prefix is
// "ip:" and the canonical key of an address, alone or in the read
// allowance of /v1/quota ("quota-read|ip:…"), so nothing a caller wrote in
// a header became a key verbatim. It returns the quota buckets, without
// the read allowances.
func hostileIPBucketsOnly(tb testing.TB, b *backend) []string {
	tb.Helper()
	var buckets []string
	for _, k := range hostileBuckets(tb, b) {
		ip, read := strings.CutPrefix(k, quotaReadScope+"|")
		if !read {
			buckets = append(buckets, k)
		}
		rest, ok := strings.CutPrefix(ip, "ip:")
		if !ok {
			tb.Fatalf("bucket %q is not an IP bucket", k)
		}
		var a netip.Addr
		if p, err := netip.ParsePrefix(rest); err == nil && p.Bits() == 64 {
			a = p.Addr()
		} else if a, err = netip.ParseAddr(rest); err != nil {
			tb.Fatalf("bucket %q does not hold an address", k)
		}
		if quota.IPKey(a) != rest {
			tb.Fatalf("bucket %q is not the canonical key %q of its address", k, quota.IPKey(a))
		}
	}
	return buckets
}

// hostileAnonymous sets the anonymous tier of inst to limit per day (so no
// window rolls over mid-test) and waits until inst's cache has it.
func hostileAnonymous(tb testing.TB, inst *instance, limit int64) {
	tb.Helper()
	setTier(tb, inst, "anonymous", limit, 86400)
	waitFor(tb, 2*time.Second, "anonymous tier reaches the cache", func() bool {
		a := inst.cache.Anonymous()
		return a.First().Limit == limit && a.First().Per == 24*time.Hour
	})
}

// TestHostile_SpoofedIPHeadersNeverChangeTheBucket: with no trusted proxy,
// X-Forwarded-For, X-Real-IP and Forwarded that change on every request
// still land in the one bucket of the TCP peer: 3 admitted, then 429, and
// no header value ever becomes a Redis key.
func TestHostile_SpoofedIPHeadersNeverChangeTheBucket(t *testing.T) {
	t.Parallel()
	b := newBackend(t)
	inst := b.start(t, instanceOpts{})
	hostileAnonymous(t, inst, 3)
	peer := hostilePeerKey(t, inst)

	spoofs := [][3]string{ // X-Forwarded-For, X-Real-IP, Forwarded
		{"1.2.3.4", "5.6.7.8", "for=9.9.9.9"},
		{"10.0.0.1, 10.0.0.2", "::1", `for="[2001:db8::1]:80"`},
		{"2001:db8:1:2::1", "192.168.1.1", "for=192.0.2.60;proto=http;by=203.0.113.43"},
		{"<script>alert(1)</script>", "}{ip:evil", "for=unknown"},
		{"203.0.113.1:443, 127.0.0.2", "0.0.0.0", "for=_hidden, for=198.51.100.17"},
		{strings.Repeat("9.9.9.9,", 500), "not an address", "for=\"\""},
		{"::ffff:127.0.0.1", "255.255.255.255", "for=127.0.0.1"},
	}
	for i, s := range spoofs {
		r := do(t, http.MethodGet, inst.URL+"/rate-limited", "", nil,
			"X-Forwarded-For", s[0], "X-Real-IP", s[1], "Forwarded", s[2])
		if i < 3 {
			mustStatus(t, r, http.StatusOK)
			if got := r.Header.Get(quota.HeaderRemaining); got != strconv.Itoa(2-i) {
				t.Fatalf("request %d with spoofed %q: remaining %q, want %d (one shared bucket)", i+1, s, got, 2-i)
			}
			continue
		}
		if mustStatus(t, r, http.StatusTooManyRequests).errorCode(t) != CodeRateLimited {
			t.Fatalf("request %d: %s", i+1, r.Body)
		}
	}
	var q QuotaView
	mustStatus(t, do(t, http.MethodGet, inst.URL+"/v1/quota", "", nil, "X-Forwarded-For", "6.6.6.6", "X-Real-IP", "6.6.6.6"),
		http.StatusOK).decode(t, &q)
	if q.ID != peer || !q.Anonymous || q.Remaining != 0 {
		t.Fatalf("/v1/quota with spoofed headers = %+v, want the exhausted bucket %s", q, peer)
	}
	if got := hostileIPBucketsOnly(t, b); !slices.Equal(got, []string{peer}) {
		t.Fatalf("Redis buckets %q, want only %s", got, peer)
	}
}

// TestHostile_BehindTrustedProxy_RightmostUntrustedAddressIsTheBucket:
// with 127.0.0.1 trusted, the right-most untrusted X-Forwarded-For address
// is the bucket whatever a client prepends; IPv6 clients share their /64;
// garbage falls back to the last good hop and never becomes a key.
func TestHostile_BehindTrustedProxy_RightmostUntrustedAddressIsTheBucket(t *testing.T) {
	t.Parallel()
	b := newBackend(t)
	ip, err := quota.NewIPExtractor([]string{"127.0.0.1/32"})
	if err != nil {
		t.Fatal(err)
	}
	inst := hostileStart(t, b, ip)
	hostileAnonymous(t, inst, 3)
	if hostilePeerKey(t, inst) != "ip:127.0.0.1" {
		t.Fatalf("the server does not listen on 127.0.0.1: %s", inst.URL)
	}

	// exhaust sends XFF lines in turn: the first three must be admitted
	// from one fresh bucket, the rest refused.
	exhaust := func(name string, xffs ...string) {
		t.Helper()
		for i, xff := range xffs {
			r := do(t, http.MethodGet, inst.URL+"/rate-limited", "", nil, "X-Forwarded-For", xff, "X-Real-IP", "198.51.100."+strconv.Itoa(i))
			want := http.StatusOK
			if i >= 3 {
				want = http.StatusTooManyRequests
			}
			if r.StatusCode != want {
				t.Fatalf("%s: request %d with X-Forwarded-For %q: %d, want %d; remaining %q", name, i+1, xff, r.StatusCode, want, r.Header.Get(quota.HeaderRemaining))
			}
		}
	}
	bucket := func(xff string) string {
		t.Helper()
		var q QuotaView
		mustStatus(t, do(t, http.MethodGet, inst.URL+"/v1/quota", "", nil, "X-Forwarded-For", xff), http.StatusOK).decode(t, &q)
		return q.ID
	}

	exhaust("client-chosen prefixes",
		"6.6.6.6, 203.0.113.7", "1.1.1.1, 2.2.2.2, 203.0.113.7", "garbage, 203.0.113.7", "203.0.113.7, 127.0.0.1", "203.0.113.7")
	exhaust("one IPv6 /64",
		"2001:db8:1:2::1", "[2001:db8:1:2:ffff:ffff:ffff:ffff]:4443", "9.9.9.9, 2001:db8:1:2:0:0:0:99", "2001:DB8:1:2:aaaa::1, 127.0.0.1")
	for xff, want := range map[string]string{
		"203.0.113.8":                "ip:203.0.113.8",
		"203.0.113.8, 127.0.0.1":     "ip:203.0.113.8",
		"::ffff:203.0.113.8":         "ip:203.0.113.8",
		"2001:db8:1:3::1":            "ip:2001:db8:1:3::/64",
		"bogus":                      "ip:127.0.0.1",
		"[203.0.113.9":               "ip:127.0.0.1",
		"203.0.113.9}":               "ip:127.0.0.1",
		"203.0.113.9 , }{ip:evil":    "ip:127.0.0.1",
		"203.0.113.9, 127.0.0.1 x":   "ip:127.0.0.1",
		"203.0.113.9%eth0, 10.0.0.1": "ip:10.0.0.1",
	} {
		if got := bucket(xff); got != want {
			t.Errorf("X-Forwarded-For %q: bucket %q, want %q", xff, got, want)
		}
		// Spend one request under each, so the keys show what was used.
		do(t, http.MethodGet, inst.URL+"/rate-limited", "", nil, "X-Forwarded-For", xff)
	}
	got := hostileIPBucketsOnly(t, b)
	want := []string{"ip:10.0.0.1", "ip:127.0.0.1", "ip:2001:db8:1:2::/64", "ip:2001:db8:1:3::/64", "ip:203.0.113.7", "ip:203.0.113.8"}
	if !slices.Equal(got, want) {
		t.Fatalf("Redis buckets %q, want %q", got, want)
	}
}

// hostileJWT hand-builds a token from a header and claims, as an attacker
// would; sign (nil: empty signature) gets the signing input.
func hostileJWT(header, claims map[string]any, sign func(input string) []byte) string {
	enc := base64.RawURLEncoding
	h, _ := json.Marshal(header)
	c, _ := json.Marshal(claims)
	input := enc.EncodeToString(h) + "." + enc.EncodeToString(c)
	var sig []byte
	if sign != nil {
		sig = sign(input)
	}
	return input + "." + enc.EncodeToString(sig)
}

// hostileHS256 signs with HMAC-SHA256 under key, whatever the header says.
func hostileHS256(key []byte) func(string) []byte {
	return func(input string) []byte {
		m := hmac.New(sha256.New, key)
		m.Write([]byte(input))
		return m.Sum(nil)
	}
}

// TestHostile_ForgedTokensAre401AndWriteNothing: every forged, expired,
// premature, incomplete or oversized token is refused with 401 on consumer
// and admin routes alike, never 5xx and never served as anonymous, and no
// Redis key is created by any of them.
func TestHostile_ForgedTokensAre401AndWriteNothing(t *testing.T) {
	t.Parallel()
	b := newBackend(t)
	inst := b.start(t, instanceOpts{})
	now := time.Now()
	exp := now.Add(time.Hour).Unix()
	good := hostileHS256(testSecret)
	hs := map[string]any{"alg": "HS256", "typ": "JWT"}
	adminClaims := map[string]any{"sub": "root", "exp": exp, "scope": AdminScope}
	signed := func(m jwt.SigningMethod, c jwt.MapClaims) string {
		s, err := jwt.NewWithClaims(m, c).SignedString(testSecret)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	user := token(t, "mallory", false)
	parts := strings.Split(user, ".")
	forgedPayload := base64.RawURLEncoding.EncodeToString([]byte(`{"sub":"root","exp":` + strconv.FormatInt(exp, 10) + `,"scope":"quota:admin"}`))
	wrongKey, err := MintToken([]byte(strings.Repeat("k", 32)), TokenClaims{Subject: "root", Admin: true, TTL: time.Hour})
	if err != nil {
		t.Fatal(err)
	}

	// A header in padded base64 ("…==") over a valid payload, properly
	// signed: only unpadded base64url is JWT.
	padded := base64.URLEncoding.EncodeToString([]byte(`{"alg":"HS256","x":12}`)) + "." + parts[1]
	cases := map[string]string{
		"alg none":                 hostileJWT(map[string]any{"alg": "none"}, adminClaims, nil),
		"alg None":                 hostileJWT(map[string]any{"alg": "None", "typ": "JWT"}, adminClaims, nil),
		"alg NONE":                 hostileJWT(map[string]any{"alg": "NONE"}, adminClaims, nil),
		"alg nOnE":                 hostileJWT(map[string]any{"alg": "nOnE"}, adminClaims, nil),
		"alg none with signature":  hostileJWT(map[string]any{"alg": "none"}, adminClaims, good),
		"alg missing":              hostileJWT(map[string]any{"typ": "JWT"}, adminClaims, good),
		"alg hs256 lower case":     hostileJWT(map[string]any{"alg": "hs256"}, adminClaims, good),
		"HS256 without signature":  hostileJWT(hs, adminClaims, nil),
		"RS256 header, HMAC sig":   hostileJWT(map[string]any{"alg": "RS256"}, adminClaims, good),
		"HS512 with the secret":    signed(jwt.SigningMethodHS512, jwt.MapClaims{"sub": "root", "exp": exp}),
		"HS384 with the secret":    signed(jwt.SigningMethodHS384, jwt.MapClaims{"sub": "root", "exp": exp}),
		"tampered payload":         parts[0] + "." + forgedPayload + "." + parts[2],
		"signature of another":     parts[0] + "." + parts[1] + "." + strings.Split(token(t, "root", true), ".")[2],
		"truncated signature":      user[:len(user)-4],
		"wrong key":                wrongKey,
		"expired":                  hostileJWT(hs, map[string]any{"sub": "x", "exp": now.Add(-time.Hour).Unix()}, good),
		"not yet valid":            hostileJWT(hs, map[string]any{"sub": "x", "exp": exp, "nbf": now.Add(30 * time.Minute).Unix()}, good),
		"missing exp":              hostileJWT(hs, map[string]any{"sub": "x"}, good),
		"exp as string":            hostileJWT(hs, map[string]any{"sub": "x", "exp": "tomorrow"}, good),
		"missing sub":              hostileJWT(hs, map[string]any{"exp": exp, "scope": AdminScope}, good),
		"empty sub":                hostileJWT(hs, map[string]any{"sub": "", "exp": exp}, good),
		"sub of 300 bytes":         hostileJWT(hs, map[string]any{"sub": strings.Repeat("s", 300), "exp": exp}, good),
		"sub with a NUL":           hostileJWT(hs, map[string]any{"sub": "a\x00b", "exp": exp}, good),
		"sub as number":            hostileJWT(hs, map[string]any{"sub": 42, "exp": exp}, good),
		"scope as object":          hostileJWT(hs, map[string]any{"sub": "x", "exp": exp, "scope": map[string]any{"quota:admin": true}}, good),
		"payload not JSON":         parts[0] + "." + base64.RawURLEncoding.EncodeToString([]byte("not json")) + "." + parts[2],
		"two segments":             parts[0] + "." + parts[1],
		"50,000 dots":              strings.Repeat(".", 50_000),
		"9 KiB of base64":          strings.Repeat("A", 9<<10),
		"padded base64, signed":    padded + "." + base64.RawURLEncoding.EncodeToString(good(padded)),
		"trailing dot":             user + ".",
		"unicode in the signature": parts[0] + "." + parts[1] + ".ü" + parts[2],
	}
	routes := []struct{ method, path, body string }{
		{http.MethodGet, "/rate-limited", ""},
		{http.MethodGet, "/v1/quota", ""},
		{http.MethodGet, "/v1/admin/tiers", ""},
		{http.MethodPut, "/v1/admin/tiers/anonymous", `{"limit":1000000,"per":1}`},
		{http.MethodDelete, "/v1/admin/clients/victim/quota", ""},
	}
	for name, tok := range cases {
		for _, scheme := range []string{"Bearer ", "bearer "} {
			for _, rt := range routes {
				var body any
				if rt.body != "" {
					body = rt.body
				}
				r := do(t, rt.method, inst.URL+rt.path, "", body, "Authorization", scheme+tok)
				if r.StatusCode != http.StatusUnauthorized || r.errorCode(t) != CodeUnauthorized {
					t.Errorf("%s on %s %s: %d %s", name, rt.method, rt.path, r.StatusCode, r.Body)
				}
				if len(tok) > 20 && strings.Contains(string(r.Body), tok) {
					t.Errorf("%s: the body echoes the token", name)
				}
			}
		}
	}
	for name, authz := range map[string]string{
		"scheme only":    "Bearer",
		"empty token":    "Bearer ",
		"two spaces":     "Bearer  " + user,
		"token and junk": "Bearer " + user + " junk",
		"basic":          "Basic cm9vdDpyb290",
		"token alone":    user,
	} {
		r := do(t, http.MethodGet, inst.URL+"/rate-limited", "", nil, "Authorization", authz)
		if r.StatusCode != http.StatusUnauthorized || r.errorCode(t) != CodeUnauthorized {
			t.Errorf("Authorization %s: %d %s", name, r.StatusCode, r.Body)
		}
	}
	if got := hostileBuckets(t, b); len(got) != 0 {
		t.Fatalf("refused tokens created Redis keys for %q", got)
	}
	if a := inst.cache.Anonymous(); a.First().Limit == 1000000 {
		t.Fatal("a forged token changed the anonymous tier")
	}
}

// TestHostile_OversizedHeaderBlockIs431: behind an http.Server with
// cmd/quotad's 32 KiB MaxHeaderBytes, a 64 KiB header (or a 50,000-dot
// token) is refused by net/http with 431 before any handler runs, and
// writes nothing to Redis.
func TestHostile_OversizedHeaderBlockIs431(t *testing.T) {
	t.Parallel()
	b := newBackend(t)
	ip, err := quota.NewIPExtractor(nil)
	if err != nil {
		t.Fatal(err)
	}
	inst := hostileStart(t, b, ip)
	send := func(header, value string) int {
		t.Helper()
		req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, inst.URL+"/rate-limited", nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set(header, value)
		client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatalf("%s of %d bytes: %v", header, len(value), err)
		}
		defer resp.Body.Close()
		_, _ = io.Copy(io.Discard, resp.Body)
		return resp.StatusCode
	}
	if got := send("X-Junk", strings.Repeat("j", 64<<10)); got != http.StatusRequestHeaderFieldsTooLarge {
		t.Errorf("64 KiB X-Junk: %d, want 431", got)
	}
	if got := send("Authorization", "Bearer "+strings.Repeat(".", 50_000)); got != http.StatusRequestHeaderFieldsTooLarge {
		t.Errorf("50,000-dot token: %d, want 431", got)
	}
	// The server is still up and limiting: the same header block under
	// the cap reaches the handler.
	if got := send("X-Junk", strings.Repeat("j", 16<<10)); got != http.StatusOK {
		t.Errorf("16 KiB X-Junk: %d, want 200", got)
	}
	if got := hostileBuckets(t, b); !slices.Equal(got, []string{"ip:127.0.0.1"}) {
		t.Fatalf("Redis buckets %q, want only the one request under the cap", got)
	}
}

// TestHostile_ClientCannotReadOrResetAnotherClientsQuota: a token without
// quota:admin gets 403 on another client's (or its own) admin quota
// routes, read or reset, and the window is unchanged afterwards.
func TestHostile_ClientCannotReadOrResetAnotherClientsQuota(t *testing.T) {
	t.Parallel()
	b := newBackend(t)
	inst := b.start(t, instanceOpts{})
	setTier(t, inst, "free", 10, 86400)
	waitFor(t, 2*time.Second, "free tier reaches the cache", func() bool { return inst.cache.Free().First().Limit == 10 })
	admin, victim, mallory := token(t, "root", true), token(t, "victim", false), token(t, "mallory", false)
	for range 4 {
		mustStatus(t, do(t, http.MethodGet, inst.URL+"/rate-limited", victim, nil), http.StatusOK)
	}
	adminRead := func() QuotaView {
		t.Helper()
		var q QuotaView
		mustStatus(t, do(t, http.MethodGet, inst.URL+"/v1/admin/clients/victim/quota", admin, nil), http.StatusOK).decode(t, &q)
		return q
	}
	before := adminRead()
	if before.Remaining != 6 {
		t.Fatalf("victim's window before: %+v, want 6 remaining", before)
	}

	for _, tok := range []string{mallory, victim} {
		for _, path := range []string{
			"/v1/admin/clients/victim/quota",
			"/v1/admin/clients/%76ictim/quota",
			"/v1/admin/clients/victim%2F..%2Fmallory/quota",
		} {
			for _, method := range []string{http.MethodGet, http.MethodDelete} {
				r := mustStatus(t, do(t, method, inst.URL+path, tok, nil), http.StatusForbidden)
				if r.errorCode(t) != CodeForbidden || strings.Contains(string(r.Body), `"remaining"`) {
					t.Fatalf("%s %s as a client: %s", method, path, r.Body)
				}
			}
		}
	}
	// A client's own read shows its own window only.
	var q QuotaView
	mustStatus(t, do(t, http.MethodGet, inst.URL+"/v1/quota", mallory, nil), http.StatusOK).decode(t, &q)
	if q.ID != "mallory" || q.Remaining != 10 {
		t.Fatalf("mallory's /v1/quota = %+v", q)
	}
	// ResetAfter counts down with the clock; the window is the rest.
	after := adminRead()
	after.ResetAfter = before.ResetAfter
	for i := range after.Windows {
		after.Windows[i].ResetAfter = before.Windows[i].ResetAfter
	}
	if !reflect.DeepEqual(after, before) {
		t.Fatalf("victim's window changed: before %+v, after %+v", before, after)
	}
	r := mustStatus(t, do(t, http.MethodGet, inst.URL+"/rate-limited", victim, nil), http.StatusOK)
	if got := r.Header.Get(quota.HeaderRemaining); got != "5" {
		t.Fatalf("victim's next request: remaining %q, want 5", got)
	}
}

// hostileLeaks lists what no response body may hold: SQL and driver
// details, internal addresses, file paths, stack traces, and the test's
// own database and key names.
func hostileLeaks(b *backend, dbAddrs ...string) []string {
	leaks := []string{"sqlstate", "pgx", "pgconn", "postgres", "syntax error at", "violates", "duplicate key",
		"127.0.0.1", "localhost", "[::1]", b.redis.Options().Addr, b.prefix,
		".go:", "goroutine ", "panic", "runtime.", "runtime/", "/work/", "quota_test_"}
	return append(leaks, dbAddrs...)
}

// hostileScan fails t if r's body holds any of leaks (case-insensitively).
// The documents served on purpose (/metrics, /openapi.yaml) are not
// scanned when they are served, nor is the caller's own IP bucket in
// /v1/quota, nor the check named "postgres" in /readyz.
func hostileScan(t *testing.T, r response, leaks []string) {
	t.Helper()
	path := r.Request.URL.Path
	if r.StatusCode < 300 && (path == "/metrics" || path == "/openapi.yaml") {
		return
	}
	body := strings.ToLower(string(r.Body))
	body = strings.ReplaceAll(body, `"id":"ip:127.0.0.1"`, "")
	if path == "/readyz" {
		body = strings.ReplaceAll(body, `"postgres":`, "")
	}
	for _, l := range leaks {
		if l != "" && strings.Contains(body, strings.ToLower(l)) {
			t.Errorf("%s %s → %d: the body holds %q: %s", r.Request.Method, r.Request.URL.RequestURI(), r.StatusCode, l, excerpt(r.Body))
		}
	}
}

// TestHostile_ErrorBodiesLeakNothing sends a matrix of bad requests to
// every route — bad JSON, wrong types, wrong content types, oversized
// bodies, unknown routes, wrong methods, 10 KiB path segments, escaped
// garbage and NUL bytes in ids, bad queries, missing and weak tokens —
// first with Postgres up (every answer a 4xx, or a 2xx where the request
// is fine after all) and then with it down (admin routes 503), and scans
// every body for internals.
func TestHostile_ErrorBodiesLeakNothing(t *testing.T) {
	t.Parallel()
	b := newBackend(t)
	u, err := url.Parse(b.dbURL)
	if err != nil {
		t.Fatal(err)
	}
	dbAddr := u.Host
	proxy := testenv.NewProxy(t, u.Host)
	u.Host = proxy.Addr()
	inst := b.start(t, instanceOpts{dbURL: u.String()})
	leaks := hostileLeaks(b, dbAddr, proxy.Addr())
	admin, user := token(t, "root", true), token(t, "mallory", false)

	huge := strings.Repeat("a", 10<<10)
	ids := []string{"x", huge, "%ff%00", "a%00b", "%00", "%2e%2e%2f%2e%2e%2fetc%2fpasswd", "..%2f..%2f",
		"%27%3B%20DROP%20TABLE%20tiers%3B--", "%E2%80%AE%E2%80%8B", "%7B%7D%5C%22", "%25ff", "pro%20"}
	type req struct {
		method, path, tok string
		body              any
		header            []string
	}
	var reqs []req
	add := func(method, path, tok string, body any, header ...string) {
		reqs = append(reqs, req{method, path, tok, body, header})
	}
	tierBodies := []string{"{", `{"name":5,"limit":"x","per":[]}`, `{"limit":1,"per":1,"nope":true}`, "", "null", "[]",
		`{"limit":1,"per":1}{}`, `{"name":"a\u0000b","limit":1,"per":1}`, `{"limit":1e999,"per":1}`,
		`{"name":"wrap","limit":1,"per":-36028797018963908}`, `{"limit":1,"per":1,"description":"\ud800\u0000"}`,
		`{"limit":-1,"per":0,"price_cents":-5,"currency":"usd"}`, "\xff\xfe{}", `{"limit":` + strings.Repeat("9", 400) + `,"per":1}`,
		`{"limit":1,"per":1,"description":"` + strings.Repeat("d", 100<<10) + `"}`}
	clientBodies := []string{"{", `{"tier":5}`, `{"tier":"nope"}`, `{"tier":"NOPE!"}`, `{"tier":null}`, `{}`, "",
		`{"tier":"free","extra":1}`, `{"tier":"` + huge + `"}`, `{"tier":"a\u0000"}`}

	// Every route: PATCH (a method only /v1/admin/tiers/{name} has), and
	// no token, a client's token and a bad one.
	for _, path := range []string{"/rate-limited", "/v1/quota", "/v1/tiers", "/v1/admin/tiers", "/v1/admin/tiers/x",
		"/v1/admin/clients", "/v1/admin/clients/x", "/v1/admin/clients/x/quota", "/healthz", "/readyz", "/metrics", "/openapi.yaml"} {
		add(http.MethodPatch, path, admin, `{}`)
		add(http.MethodGet, path, "", nil)
		add(http.MethodGet, path, user, nil)
		add(http.MethodGet, path, "not.a.token", nil)
		add(http.MethodGet, path+"?%ff=%00&limit=%ff", admin, nil)
	}
	// Hostile ids in every route that takes one.
	for _, id := range ids {
		for _, method := range []string{http.MethodGet, http.MethodDelete} {
			add(method, "/v1/admin/tiers/"+id, admin, nil)
			add(method, "/v1/admin/clients/"+id, admin, nil)
			add(method, "/v1/admin/clients/"+id+"/quota", admin, nil)
		}
		add(http.MethodPut, "/v1/admin/tiers/"+id, admin, `{"limit":1,"per":1}`)
		add(http.MethodPut, "/v1/admin/clients/"+id, admin, `{"tier":"free"}`)
		add(http.MethodPost, "/v1/admin/tiers", admin, `{"name":"`+strings.ReplaceAll(id, "%", "\\u0025")+`","limit":1,"per":1}`)
	}
	// Bad bodies.
	for _, body := range tierBodies {
		add(http.MethodPost, "/v1/admin/tiers", admin, body)
		add(http.MethodPut, "/v1/admin/tiers/free", admin, body)
		add(http.MethodPatch, "/v1/admin/tiers/free", admin, body)
	}
	for _, body := range clientBodies {
		add(http.MethodPut, "/v1/admin/clients/x", admin, body)
	}
	for _, ct := range []string{"text/plain", "application/x-www-form-urlencoded", "application/json-seq", "multipart/form-data; boundary=x", ";;;"} {
		add(http.MethodPost, "/v1/admin/tiers", admin, `{"name":"ct","limit":1,"per":1}`, "Content-Type", ct)
		add(http.MethodPut, "/v1/admin/clients/x", admin, `{"tier":"free"}`, "Content-Type", ct)
	}
	// Bad queries.
	for _, q := range []string{"limit=abc", "limit=-1", "limit=0", "limit=99999999999999999999", "limit=1e3", "after=%00",
		"after=%ff", "tier=%ff", "tier=NOPE", "tier=" + huge, "after=" + huge, "limit=1&limit=2"} {
		add(http.MethodGet, "/v1/admin/clients?"+q, admin, nil)
	}
	// Unknown routes.
	// (Not "/v1/admin/tiers/x/y": Echo v4 hands "x/y" to a route ending in
	// a parameter, labstack/echo#2501, so it is a 422 the contract does not
	// list; TestHostile_ExtraPathSegmentsNeverReachATier covers it.)
	for _, path := range []string{"/v1/nope", "/v1/admin/nope", "/%ff%00", "/" + huge, "/v1/admin/clients/x/quota/y",
		"/v1/admin/clients/x/y", "/v1//admin/tiers", "/.env", "/v1/admin/../../etc/passwd", "/debug/pprof/"} {
		add(http.MethodGet, path, admin, nil)
		add(http.MethodPost, path, "", `{}`)
	}

	// send runs the matrix, checking each status with ok, and counts the
	// statuses.
	send := func(phase string, ok func(req, response) bool) map[int]int {
		t.Helper()
		seen := map[int]int{}
		for _, rq := range reqs {
			r := do(t, rq.method, inst.URL+rq.path, rq.tok, rq.body, rq.header...)
			if !ok(rq, r) {
				t.Errorf("%s: %s %s → %d: %s", phase, rq.method, excerpt([]byte(rq.path)), r.StatusCode, excerpt(r.Body))
			}
			hostileScan(t, r, leaks)
			seen[r.StatusCode]++
		}
		return seen
	}
	up := send("Postgres up", func(_ req, r response) bool { return r.StatusCode < 500 })
	// The matrix reaches every error class the API has for bad input.
	for _, status := range []int{400, 401, 403, 404, 405, 413, 415, 422} {
		if up[status] == 0 {
			t.Errorf("no request of the matrix answered %d: %v", status, up)
		}
	}

	// With Postgres refusing connections, the admin API answers 503 and
	// still says nothing about the database.
	proxy.SetMode(testenv.Refuse)
	down := send("Postgres down", func(rq req, r response) bool {
		return r.StatusCode < 500 || r.StatusCode == http.StatusServiceUnavailable &&
			(strings.HasPrefix(rq.path, "/v1/admin/") || strings.HasPrefix(rq.path, "/readyz"))
	})
	if down[http.StatusServiceUnavailable] == 0 {
		t.Errorf("with Postgres down no request answered 503: %v", down)
	}
	var ready struct{ Checks map[string]string }
	r := mustStatus(t, do(t, http.MethodGet, inst.URL+"/readyz", "", nil), http.StatusServiceUnavailable)
	r.decode(t, &ready)
	hostileScan(t, r, leaks)
	if ready.Checks["postgres"] != "unavailable" {
		t.Fatalf("readyz with Postgres down: %v", ready.Checks)
	}
}

// TestHostile_ExtraPathSegmentsNeverReachATier: Echo v4 passes everything
// after /v1/admin/tiers/ to the :name parameter, slashes included
// (labstack/echo#2501), so "/v1/admin/tiers/free/x" runs the tier handlers
// with the name "free/x". No tier name holds a slash, so such a request
// must fail validation without touching a tier; it is sent without the
// OpenAPI check, which (rightly) knows no such path.
func TestHostile_ExtraPathSegmentsNeverReachATier(t *testing.T) {
	t.Parallel()
	b := newBackend(t)
	inst := b.start(t, instanceOpts{})
	admin := token(t, "root", true)
	leaks := hostileLeaks(b, b.dbURL)
	for _, rq := range []struct{ method, path, body string }{
		{http.MethodGet, "/v1/admin/tiers/free/x", ""},
		{http.MethodPut, "/v1/admin/tiers/free/x", `{"limit":1,"per":1}`},
		{http.MethodPut, "/v1/admin/tiers/free/", `{"limit":1,"per":1}`},
		{http.MethodDelete, "/v1/admin/tiers/anonymous/..", ""},
		{http.MethodGet, "/v1/admin/tiers/x/y/z", ""},
	} {
		req, err := http.NewRequestWithContext(t.Context(), rq.method, inst.URL+rq.path, strings.NewReader(rq.body))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Authorization", "Bearer "+admin)
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusNotFound && resp.StatusCode != http.StatusUnprocessableEntity {
			t.Errorf("%s %s: %d %s, want 404 or 422", rq.method, rq.path, resp.StatusCode, body)
		}
		hostileScan(t, response{Response: resp, Body: body}, leaks)
	}
	if f := inst.cache.Free(); f.First().Limit == 1 {
		t.Fatal("PUT /v1/admin/tiers/free/x changed the free tier")
	}
}
