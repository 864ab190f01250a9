package api

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"
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
