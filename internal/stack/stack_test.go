package stack

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/quotad/quotad/api"
	"github.com/quotad/quotad/internal/testenv"
	"github.com/quotad/quotad/quota"
	"github.com/quotad/quotad/tiers"
	"github.com/redis/go-redis/v9"
)

var secret = []byte("stack-test-secret-0123456789abcdef")

// parts returns a migrated database's pool and a Redis client with a key
// prefix of this test's own.
func parts(t *testing.T) (*pgxpool.Pool, *redis.Client, string) {
	t.Helper()
	dbURL := testenv.Database(t)
	ctx := context.Background()
	if err := tiers.MigrateURL(ctx, dbURL); err != nil {
		t.Fatalf("migrate: %v", err)
	}
	pool, err := pgxpool.New(ctx, dbURL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	rdb, prefix := testenv.Redis(t)
	return pool, rdb, prefix
}

// serve starts cfg's handler and returns its URL.
func serve(t *testing.T, cfg Config) string {
	t.Helper()
	h, closeStack, err := New(context.Background(), cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(func() {
		srv.Close()
		closeStack()
	})
	return srv.URL
}

// get sends GET path with token (if any) and returns the response, body
// closed.
func get(t *testing.T, url, token string) *http.Response {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp
}

func token(t *testing.T, sub string) string {
	t.Helper()
	tok, err := api.MintToken(secret, api.TokenClaims{Subject: sub, TTL: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// redisKeys returns the keys under prefix.
func redisKeys(t *testing.T, rdb *redis.Client, prefix string) []string {
	t.Helper()
	keys, err := rdb.Keys(context.Background(), prefix+"*").Result()
	if err != nil {
		t.Fatal(err)
	}
	return keys
}

func TestNew_ServesTheStackOnRedis(t *testing.T) {
	t.Parallel()
	pool, rdb, prefix := parts(t)
	url := serve(t, Config{
		Pool: pool, Redis: rdb, RedisPrefix: prefix,
		Logger: slog.New(slog.DiscardHandler), Auth: api.AuthConfig{Secret: secret},
	})

	resp := get(t, url+"/rate-limited", token(t, "alice"))
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /rate-limited: %d, want 200", resp.StatusCode)
	}
	if got := resp.Header.Get("X-RateLimit-Remaining"); got == "" {
		t.Errorf("X-RateLimit-Remaining missing: headers %v", resp.Header)
	}
	keys := redisKeys(t, rdb, prefix)
	slices.Sort(keys)
	want := []string{prefix + ":{u:alice}:30", prefix + ":{u:alice}:usage"} // free tier: 30 s; metered
	if !slices.Equal(keys, want) {
		t.Errorf("Redis keys under %s: %v, want alice's window and usage %v", prefix, keys, want)
	}
	if resp := get(t, url+"/readyz", ""); resp.StatusCode != http.StatusOK {
		t.Errorf("GET /readyz: %d, want 200", resp.StatusCode)
	}
	if resp := get(t, url+"/rate-limited", "not-a-token"); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("GET /rate-limited with a bad token: %d, want 401", resp.StatusCode)
	}
}

func TestNew_LimiterReplacesRedis(t *testing.T) {
	t.Parallel()
	pool, rdb, prefix := parts(t)
	url := serve(t, Config{
		Pool: pool, Redis: rdb, RedisPrefix: prefix, Limiter: quota.NewInMemory(),
		Logger: slog.New(slog.DiscardHandler), Auth: api.AuthConfig{Secret: secret},
	})
	resp := get(t, url+"/rate-limited", token(t, "bob"))
	if resp.StatusCode != http.StatusOK || resp.Header.Get("X-RateLimit-Remaining") == "" {
		t.Fatalf("GET /rate-limited: %d, headers %v; want 200 with rate-limit headers", resp.StatusCode, resp.Header)
	}
	if keys := redisKeys(t, rdb, prefix); len(keys) != 0 {
		t.Errorf("Redis keys under %s: %v, want none (the in-memory limiter decides)", prefix, keys)
	}
}

func TestNew_RefusesBadConfig(t *testing.T) {
	t.Parallel()
	pool, rdb, prefix := parts(t)
	log := slog.New(slog.DiscardHandler)
	auth := api.AuthConfig{Secret: secret}
	for name, cfg := range map[string]Config{
		"no pool":           {Redis: rdb, Logger: log, Auth: auth},
		"no redis":          {Pool: pool, Logger: log, Auth: auth},
		"no logger":         {Pool: pool, Redis: rdb, Auth: auth},
		"no secret or JWKS": {Pool: pool, Redis: rdb, RedisPrefix: prefix, Logger: log},
		"bad proxy":         {Pool: pool, Redis: rdb, RedisPrefix: prefix, Logger: log, Auth: auth, TrustedProxies: []string{"not-an-address"}},
	} {
		h, closeStack, err := New(context.Background(), cfg)
		if err == nil {
			closeStack()
			t.Errorf("%s: New returned no error", name)
			continue
		}
		if h != nil || closeStack != nil {
			t.Errorf("%s: New failed (%v) but returned a handler or close function", name, err)
		}
	}
}
