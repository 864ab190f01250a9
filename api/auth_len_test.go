package api

import (
	"strings"
	"testing"

	"github.com/golang-jwt/jwt/v5"
)

// TestAuthenticator_MaxTokenLen: a valid token of exactly MaxTokenLen bytes
// is accepted and one a byte longer refused, whatever it says.
func TestAuthenticator_MaxTokenLen(t *testing.T) {
	t.Parallel()
	a := newAuth(t, AuthConfig{Secret: authSecret})
	at := tokenOfLen(t, MaxTokenLen)
	over := tokenOfLen(t, MaxTokenLen+1)
	runAuthCases(t, a, []authCase{
		{"exactly MaxTokenLen bytes", bearer(at.raw), 200, authWho{ClientID: at.sub}},
		{"one byte more", bearer(over.raw), 401, authWho{}},
	})
}

// sizedToken is a valid HS256 token of a chosen length and its subject.
type sizedToken struct{ raw, sub string }

// tokenOfLen signs a valid token exactly n bytes long, padding a claim.
// Base64 never yields a length of 1 mod 4 for a segment, so the subject's
// length varies too until some padding lands on n.
func tokenOfLen(tb testing.TB, n int) sizedToken {
	tb.Helper()
	for subLen := 4; subLen < 8; subLen++ {
		sub := strings.Repeat("s", subLen)
		base := len(authSign(tb, jwt.SigningMethodHS256, authSecret, "", authClaims(sub, with("pad", ""))))
		// Each byte of padding adds 4/3 of a byte: start a little short.
		for pad := max(0, (n-base)*3/4-4); pad < (n-base)*3/4+4; pad++ {
			raw := authSign(tb, jwt.SigningMethodHS256, authSecret, "", authClaims(sub, with("pad", strings.Repeat("x", pad))))
			if len(raw) == n {
				return sizedToken{raw: raw, sub: sub}
			}
		}
	}
	tb.Fatalf("no token of %d bytes", n)
	return sizedToken{}
}
