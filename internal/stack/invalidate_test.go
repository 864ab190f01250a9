package stack

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/quotad/quotad/api"
)

// TestNew_ResetOnOneInstanceReachesTheOthers: two instances built by New
// share one database and one Redis key space. Once a client is refused on
// both, each holds it in its over-limit cache, which answers without asking
// Redis; an admin reset on instance a must reach b's cache too (through the
// tier cache's change hook New wires), or b goes on refusing a client
// Redis would admit until the window ends.
func TestNew_ResetOnOneInstanceReachesTheOthers(t *testing.T) {
	t.Parallel()
	pool, rdb, prefix := parts(t)
	poolB, err := pgxpool.New(context.Background(), pool.Config().ConnString())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(poolB.Close)
	cfg := Config{
		Pool: pool, Redis: rdb, RedisPrefix: prefix,
		Logger: slog.New(slog.DiscardHandler), Auth: api.AuthConfig{Secret: secret},
	}
	a := serve(t, cfg)
	cfg.Pool = poolB
	b := serve(t, cfg)

	// Two requests a day: the window does not end while the test runs, so
	// only the reset can free carol on b.
	const limit = 2
	admin := adminToken(t)
	send(t, http.MethodPut, a+"/v1/admin/tiers/free", admin, map[string]any{"limit": limit, "per": 86400}, http.StatusOK)
	carol := token(t, "carol")
	for _, url := range []string{a, b} {
		poll(t, url+" sees the new free tier", func() bool {
			var q api.QuotaView
			send(t, http.MethodGet, url+"/v1/quota", carol, nil, http.StatusOK, &q)
			return q.Limit == limit
		})
	}

	for i := range limit {
		if resp := get(t, a+"/rate-limited", carol); resp.StatusCode != http.StatusOK {
			t.Fatalf("request %d of %d on a: %d, want 200", i+1, limit, resp.StatusCode)
		}
	}
	// Each instance learns from Redis that carol is over, and caches it.
	for _, url := range []string{a, b} {
		if resp := get(t, url+"/rate-limited", carol); resp.StatusCode != http.StatusTooManyRequests {
			t.Fatalf("request %d on %s: %d, want 429", limit+1, url, resp.StatusCode)
		}
	}

	send(t, http.MethodDelete, a+"/v1/admin/clients/carol/quota", admin, nil, http.StatusNoContent)
	start := time.Now()
	// The SPEC promises a second; the bound is looser for a loaded machine,
	// which still tells the two apart: without the hook b refuses all day.
	poll(t, "b admits carol after the reset on a", func() bool {
		return get(t, b+"/rate-limited", carol).StatusCode == http.StatusOK
	})
	t.Logf("b admitted carol %v after the reset on a", time.Since(start).Round(time.Millisecond))
}

func adminToken(t *testing.T) string {
	t.Helper()
	tok, err := api.MintToken(secret, api.TokenClaims{Subject: "admin", Admin: true, TTL: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// send makes a request with a JSON body (unless nil), fails the test
// unless it is answered with status, and decodes the answer into out[0] if
// given.
func send(t *testing.T, method, url, tok string, body any, status int, out ...any) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Authorization", "Bearer "+tok)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != status {
		t.Fatalf("%s %s: %d %s, want %d", method, url, resp.StatusCode, b, status)
	}
	if len(out) > 0 {
		if err := json.Unmarshal(b, out[0]); err != nil {
			t.Fatalf("%s %s: %s: %v", method, url, b, err)
		}
	}
}

// poll asks cond until it holds, failing the test after five seconds:
// the change it waits for travels through Postgres to another instance,
// which sends this test no signal.
func poll(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within 5s", what)
		}
		<-tick.C
	}
}
