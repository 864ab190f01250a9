package api

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/labstack/echo/v4"
)

// TestAuthenticator_CachedTokensStillExpire: a token served from the cache
// of verified tokens stops working at exp (plus leeway) like any other, a
// one-byte change is verified afresh, and the cache stays bounded.
func TestAuthenticator_CachedTokensStillExpire(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	now := time.Unix(1_800_000_000, 0)
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	advance := func(d time.Duration) { mu.Lock(); now = now.Add(d); mu.Unlock() }
	a, err := NewAuthenticator(context.Background(), AuthConfig{Secret: testSecret, Now: clock, Leeway: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	tok, err := MintToken(testSecret, TokenClaims{Subject: "cached", TTL: time.Minute, Now: clock})
	if err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if id, err := a.Verify(tok); err != nil || id.ClientID != "cached" {
			t.Fatalf("Verify = %+v, %v", id, err)
		}
	}
	if _, ok := a.cache.get(tok, clock()); !ok {
		t.Fatal("a verified token was not cached")
	}
	tampered := tok[:len(tok)-2] + map[bool]string{true: "A", false: "B"}[!strings.HasSuffix(tok, "A")] + tok[len(tok)-1:]
	if _, err := a.Verify(tampered); !errors.Is(err, ErrInvalidToken) {
		t.Fatalf("tampered token: %v, want ErrInvalidToken", err)
	}
	advance(time.Minute + 4*time.Second) // within the leeway
	if _, err := a.Verify(tok); err != nil {
		t.Fatalf("within the leeway: %v", err)
	}
	advance(2 * time.Second)
	if _, err := a.Verify(tok); !errors.Is(err, ErrInvalidToken) {
		t.Fatalf("past exp + leeway a cached token verified: %v", err)
	}
	for i := range tokenCacheSize * 2 {
		tok, _ := MintToken(testSecret, TokenClaims{Subject: "s" + string(rune('a'+i%26)) + strings.Repeat("x", i%7), TTL: time.Duration(i+1) * time.Minute, Now: clock})
		_, _ = a.Verify(tok)
	}
	if n := a.cache.m.Len(); n > tokenCacheSize {
		t.Fatalf("token cache holds %d entries, bound is %d", n, tokenCacheSize)
	}
}

// TestAuthenticator_CachedTokenCostsNoAllocation: a request presenting a
// cached token gets its identity, and its limiter key, without allocating:
// the middleware stores the cached principal itself in the context.
func TestAuthenticator_CachedTokenCostsNoAllocation(t *testing.T) {
	a := newAuth(t, AuthConfig{Secret: testSecret})
	tok, err := MintToken(testSecret, TokenClaims{Subject: "frequent", TTL: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	var got *principal
	h := a.Middleware()(func(c echo.Context) error {
		got, _ = principalFrom(c)
		return nil
	})
	req := httptest.NewRequest(http.MethodGet, "/rate-limited", nil)
	req.Header.Set(echo.HeaderAuthorization, "Bearer "+tok)
	c := echo.New().NewContext(req, httptest.NewRecorder())
	if err := h(c); err != nil || got == nil || got.ClientID != "frequent" || got.key != UserKey("frequent") {
		t.Fatalf("first request: principal %+v, err %v", got, err)
	}
	// The context is reused, as Echo's pool reuses it, and its value store
	// already exists: what is left is the middleware's own work.
	if n := testing.AllocsPerRun(100, func() { _ = h(c) }); n != 0 {
		t.Fatalf("a request with a cached token allocated %v times, want 0", n)
	}
}
