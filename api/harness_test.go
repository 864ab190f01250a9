package api

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/quotad/quotad"
	"github.com/quotad/quotad/internal/testenv"
	"github.com/quotad/quotad/operations"
	"github.com/quotad/quotad/quota"
	"github.com/quotad/quotad/tiers"
	"github.com/quotad/quotad/usage"
	"github.com/redis/go-redis/v9"
)

var testSecret = []byte("test-secret-of-at-least-32-bytes!!")

// backend is one test's own Postgres database and Redis key prefix, which
// several quotad instances can share.
type backend struct {
	dbURL  string
	redis  *redis.Client
	prefix string
}

func newBackend(tb testing.TB) *backend {
	tb.Helper()
	dbURL := testenv.Database(tb)
	if err := tiers.MigrateURL(context.Background(), dbURL); err != nil {
		tb.Fatalf("migrate: %v", err)
	}
	rdb, prefix := testenv.Redis(tb)
	return &backend{dbURL: dbURL, redis: rdb, prefix: prefix}
}

// instance is one quotad API server over real HTTP.
type instance struct {
	URL     string
	cache   *tiers.Cache
	limiter *quota.Limiter
	changes chan tiers.Change
	srv     *httptest.Server
}

type instanceOpts struct {
	dbURL       string // default: the backend's
	failureMode quota.FailureMode
	redisClient redis.UniversalClient // default: the backend's
	// http, when set, serves with NewHTTPServerWithConfig and
	// LimitListener as cmd/quotad does; default: httptest's server.
	http      *HTTPConfig
	accessLog AccessLog
	logger    *slog.Logger
	// now is the server's clock for Idempotency-Key records; default
	// time.Now.
	now func() time.Time
	// configure, when set, changes the Config before NewServer sees it.
	configure func(*Config)
}

// start runs a quotad API server on b, stopped when the test ends.
func (b *backend) start(tb testing.TB, o instanceOpts) *instance {
	tb.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	if o.dbURL == "" {
		o.dbURL = b.dbURL
	}
	pool, err := pgxpool.New(ctx, o.dbURL)
	if err != nil {
		tb.Fatal(err)
	}
	rdb := o.redisClient
	if rdb == nil {
		rdb = b.redis
	}
	limiter, err := quota.NewWithConfig(rdb, quota.Config{Prefix: b.prefix, Timeout: 2 * time.Second})
	if err != nil {
		tb.Fatal(err)
	}
	inst := &instance{limiter: limiter, changes: make(chan tiers.Change, 1024)}
	invalidate := Invalidator(limiter)
	inst.cache = tiers.NewCache(pool, tiers.CacheConfig{OnChange: func(ch tiers.Change) {
		invalidate(ch)
		select {
		case inst.changes <- ch:
		default:
		}
	}})
	if err := inst.cache.Start(ctx); err != nil {
		tb.Fatal(err)
	}
	auth, err := NewAuthenticator(ctx, AuthConfig{Secret: testSecret})
	if err != nil {
		tb.Fatal(err)
	}
	tierStore := tiers.NewStore(pool)
	cfg := Config{
		Tiers: inst.cache, Store: tierStore, Usage: usage.NewStore(pool), Limiter: limiter, Auth: auth,
		Operations:  operations.NewStore(pool),
		FailureMode: o.failureMode, OpenAPI: quotad.OpenAPI, AccessLog: o.accessLog, Logger: o.logger, now: o.now,
		Checks: map[string]Check{
			"postgres": tierStore.Ping,
			"redis":    func(ctx context.Context) error { return rdb.Ping(ctx).Err() },
		},
	}
	if o.configure != nil {
		o.configure(&cfg)
	}
	h, err := NewServer(cfg)
	if err != nil {
		tb.Fatal(err)
	}
	inst.srv = httptest.NewUnstartedServer(h)
	if o.http != nil {
		inst.srv.Config = NewHTTPServerWithConfig(h, ctx, *o.http)
		inst.srv.Listener = LimitListener(inst.srv.Listener, *o.http)
	}
	inst.srv.Start()
	inst.URL = inst.srv.URL
	tb.Cleanup(func() {
		inst.srv.Close()
		cancel()
		inst.cache.Close()
		pool.Close()
	})
	return inst
}

// token mints a token for sub, with the admin scope if admin.
func token(tb testing.TB, sub string, admin bool) string {
	tb.Helper()
	tok, err := MintToken(testSecret, TokenClaims{Subject: sub, Admin: admin, TTL: time.Hour})
	if err != nil {
		tb.Fatal(err)
	}
	return tok
}

// response is a finished HTTP exchange.
type response struct {
	*http.Response
	Body []byte
}

// decode unmarshals the body into v, failing the test if it cannot.
func (r response) decode(tb testing.TB, v any) {
	tb.Helper()
	if err := json.Unmarshal(r.Body, v); err != nil {
		tb.Fatalf("%s %s: body %q: %v", r.Request.Method, r.Request.URL.Path, r.Body, err)
	}
}

// errorCode returns the envelope's code, failing the test if the body is
// not the envelope.
func (r response) errorCode(tb testing.TB) string {
	tb.Helper()
	var e ErrorBody
	r.decode(tb, &e)
	if e.Error.Code == "" || e.Error.Message == "" {
		tb.Fatalf("%s %s: %d body %s is not the error envelope", r.Request.Method, r.Request.URL.Path, r.StatusCode, r.Body)
	}
	return e.Error.Code
}

// do sends a request; body, if not nil, is sent as JSON unless it is a
// string or []byte, which go as they are with the given content type.
func do(tb testing.TB, method, url, tok string, body any, header ...string) response {
	tb.Helper()
	var rd io.Reader
	contentType := "application/json"
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	case []byte:
		rd = bytes.NewReader(b)
	default:
		j, err := json.Marshal(b)
		if err != nil {
			tb.Fatal(err)
		}
		rd = bytes.NewReader(j)
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		tb.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", contentType)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	if tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		tb.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		tb.Fatal(err)
	}
	r := response{Response: resp, Body: b}
	checkOpenAPI(tb, req, r)
	return r
}

// mustStatus fails the test unless r has the status.
func mustStatus(tb testing.TB, r response, status int) response {
	tb.Helper()
	if r.StatusCode != status {
		tb.Fatalf("%s %s: status %d, want %d; body %s", r.Request.Method, r.Request.URL.Path, r.StatusCode, status, r.Body)
	}
	return r
}

// setTier creates or replaces a tier through the admin API.
func setTier(tb testing.TB, inst *instance, name string, limit, per int64) {
	tb.Helper()
	admin := token(tb, "admin", true)
	body := map[string]any{"limit": limit, "per": per}
	r := do(tb, http.MethodPut, inst.URL+"/v1/admin/tiers/"+name, admin, body)
	if r.StatusCode != http.StatusCreated {
		mustStatus(tb, r, http.StatusOK)
	}
}

// waitFor polls cond until it holds or the deadline passes; used only where
// the thing awaited happens in another process and sends no signal here.
func waitFor(tb testing.TB, within time.Duration, what string, cond func() bool) {
	tb.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			tb.Fatalf("%s: not within %v", what, within)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func escapePath(s string) string  { return url.PathEscape(s) }
func escapeQuery(s string) string { return url.QueryEscape(s) }

// waitChanges waits until inst's tier cache has applied n changes of kind
// for id (a client ID, or a tier name for tier changes).
func waitChanges(tb testing.TB, inst *instance, kind, id string, n int) {
	tb.Helper()
	timeout := time.After(5 * time.Second)
	for {
		select {
		case ch := <-inst.changes:
			if ch.Kind == kind && (ch.ClientID == id || ch.Name == id) {
				if n--; n == 0 {
					return
				}
			}
		case <-timeout:
			tb.Fatalf("no %s change for %q within 5s", kind, id)
		}
	}
}
