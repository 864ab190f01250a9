package api

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"errors"
	"testing"

	"github.com/golang-jwt/jwt/v5"
)

// Two guards keep a token of an unconfigured family out, each enough on
// its own: the parser's algorithm list (jwt.WithValidMethods: HS256 only
// with a secret, RS256/ES256 only with a JWKS) and keyFunc (no key for
// HMAC without a secret, none for RSA/ECDSA without a JWKS). The
// end-to-end cases below need both gone to fail; the two tests after them
// each take one guard alone, so removing either one fails a test.

// authEmptyKey signs c with HMAC method m and an empty key, as anyone
// can: the token an Authenticator without a secret would accept if it
// ever handed its (empty) secret to the HMAC check.
func authEmptyKey(tb testing.TB, m jwt.SigningMethod, kid string, c jwt.MapClaims) string {
	tb.Helper()
	return authSign(tb, m, []byte{}, kid, c)
}

// authForeignKeys signs c with every asymmetric algorithm jwt knows, each
// with a fresh key of its own, named by kid.
func authForeignKeys(tb testing.TB, kid string, c jwt.MapClaims) map[string]string {
	tb.Helper()
	rsaKey := authRSAKey(tb)
	ec := func(curve elliptic.Curve) *ecdsa.PrivateKey {
		k, err := ecdsa.GenerateKey(curve, rand.Reader)
		if err != nil {
			tb.Fatal(err)
		}
		return k
	}
	_, ed, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		tb.Fatal(err)
	}
	toks := map[string]string{}
	for _, s := range []struct {
		m   jwt.SigningMethod
		key any
	}{
		{jwt.SigningMethodRS256, rsaKey}, {jwt.SigningMethodRS384, rsaKey}, {jwt.SigningMethodRS512, rsaKey},
		{jwt.SigningMethodPS256, rsaKey}, {jwt.SigningMethodPS384, rsaKey}, {jwt.SigningMethodPS512, rsaKey},
		{jwt.SigningMethodES256, ec(elliptic.P256())}, {jwt.SigningMethodES384, ec(elliptic.P384())},
		{jwt.SigningMethodES512, ec(elliptic.P521())}, {jwt.SigningMethodEdDSA, ed},
	} {
		toks[s.m.Alg()] = authSign(tb, s.m, s.key, kid, c)
	}
	return toks
}

func TestAuthenticator_OnlyConfiguredFamilies(t *testing.T) {
	t.Parallel()
	j := newAuthJWKS(t)
	admin := authClaims("root", with("scope", AdminScope))
	hmacs := []jwt.SigningMethod{jwt.SigningMethodHS256, jwt.SigningMethodHS384, jwt.SigningMethodHS512}

	t.Run("JWKS only refuses every HS token", func(t *testing.T) {
		t.Parallel()
		// A nil and an empty secret both mean "no secret".
		for name, secret := range map[string][]byte{"nil secret": nil, "empty secret": {}} {
			a := newAuth(t, AuthConfig{JWKSURL: j.URL, Secret: secret})
			var cases []authCase
			for _, m := range hmacs {
				for _, kid := range []string{"", "rsa-1", "ec-1"} {
					cases = append(cases,
						authCase{name + ": " + m.Alg() + " with an empty key, kid=" + kid, bearer(authEmptyKey(t, m, kid, admin)), 401, authWho{}},
						authCase{name + ": " + m.Alg() + " with some secret, kid=" + kid, bearer(authSign(t, m, authSecret, kid, admin)), 401, authWho{}})
				}
			}
			cases = append(cases, authCase{name + ": RS256 still works", bearer(authSign(t, jwt.SigningMethodRS256, j.rsa, "rsa-1", authClaims("acme"))), 200, authWho{ClientID: "acme"}})
			runAuthCases(t, a, cases)
		}
	})

	t.Run("secret only refuses every RS, PS, ES and EdDSA token", func(t *testing.T) {
		t.Parallel()
		a := newAuth(t, AuthConfig{Secret: authSecret})
		cases := []authCase{
			{"HS256 with the secret still works", bearer(authSign(t, jwt.SigningMethodHS256, authSecret, "", authClaims("acme"))), 200, authWho{ClientID: "acme"}},
			{"HS256 with an empty key", bearer(authEmptyKey(t, jwt.SigningMethodHS256, "", admin)), 401, authWho{}},
			{"RS256 by the JWKS's own key", bearer(authSign(t, jwt.SigningMethodRS256, j.rsa, "rsa-1", admin)), 401, authWho{}},
			{"ES256 by the JWKS's own key", bearer(authSign(t, jwt.SigningMethodES256, j.ec, "ec-1", admin)), 401, authWho{}},
		}
		for _, kid := range []string{"", "k1"} {
			for alg, tok := range authForeignKeys(t, kid, admin) {
				cases = append(cases, authCase{alg + " kid=" + kid, bearer(tok), 401, authWho{}})
			}
		}
		runAuthCases(t, a, cases)
	})

	t.Run("secret and JWKS refuse the empty key", func(t *testing.T) {
		t.Parallel()
		a := newAuth(t, AuthConfig{Secret: authSecret, JWKSURL: j.URL})
		var cases []authCase
		for _, m := range hmacs {
			cases = append(cases, authCase{m.Alg() + " with an empty key", bearer(authEmptyKey(t, m, "", admin)), 401, authWho{}})
		}
		runAuthCases(t, a, cases)
	})
}

// The parser's algorithm list alone refuses an unconfigured family: fed a
// key function that hands out the very key the token was signed with, it
// still refuses, without asking for the key.
func TestAuthenticator_ParserRefusesUnconfiguredAlgorithms(t *testing.T) {
	t.Parallel()
	j := newAuthJWKS(t)
	for _, tc := range []struct {
		name string
		cfg  AuthConfig
		tok  string
		key  any
	}{
		{"JWKS only, HS256 with an empty key", AuthConfig{JWKSURL: j.URL}, authEmptyKey(t, jwt.SigningMethodHS256, "", authClaims("acme")), []byte{}},
		{"secret only, RS256", AuthConfig{Secret: authSecret}, authSign(t, jwt.SigningMethodRS256, j.rsa, "", authClaims("acme")), &j.rsa.PublicKey},
		{"secret only, ES256", AuthConfig{Secret: authSecret}, authSign(t, jwt.SigningMethodES256, j.ec, "", authClaims("acme")), &j.ec.PublicKey},
		{"secret and JWKS, HS384 with the secret", AuthConfig{Secret: authSecret, JWKSURL: j.URL}, authSign(t, jwt.SigningMethodHS384, authSecret, "", authClaims("acme")), authSecret},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			a := newAuth(t, tc.cfg)
			asked := false
			_, err := a.parser.ParseWithClaims(tc.tok, &claims{}, func(*jwt.Token) (any, error) { asked = true; return tc.key, nil })
			if !errors.Is(err, jwt.ErrTokenSignatureInvalid) || asked {
				t.Fatalf("parse = %v, key asked for: %v; want the algorithm refused before any key", err, asked)
			}
		})
	}
}

// keyFunc alone refuses an unconfigured family: behind a parser that
// allows every algorithm, it gives no key to a token of a family without
// one, so an empty-key HS256 token does not verify against a missing
// secret.
func TestAuthenticator_KeyFuncRefusesUnconfiguredFamilies(t *testing.T) {
	t.Parallel()
	j := newAuthJWKS(t)
	anyAlg := jwt.NewParser(jwt.WithTimeFunc(authNow))
	for _, tc := range []struct {
		name string
		cfg  AuthConfig
		tok  string
	}{
		{"JWKS only, HS256 with an empty key", AuthConfig{JWKSURL: j.URL}, authEmptyKey(t, jwt.SigningMethodHS256, "", authClaims("acme"))},
		{"JWKS only, HS512 with an empty key and a JWKS kid", AuthConfig{JWKSURL: j.URL}, authEmptyKey(t, jwt.SigningMethodHS512, "rsa-1", authClaims("acme"))},
		{"empty secret and JWKS, HS256 with an empty key", AuthConfig{JWKSURL: j.URL, Secret: []byte{}}, authEmptyKey(t, jwt.SigningMethodHS256, "", authClaims("acme"))},
		{"secret only, RS256", AuthConfig{Secret: authSecret}, authSign(t, jwt.SigningMethodRS256, j.rsa, "rsa-1", authClaims("acme"))},
		{"secret only, ES256", AuthConfig{Secret: authSecret}, authSign(t, jwt.SigningMethodES256, j.ec, "ec-1", authClaims("acme"))},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			a := newAuth(t, tc.cfg)
			tok, err := anyAlg.ParseWithClaims(tc.tok, &claims{}, a.keyFunc(t.Context()))
			if err == nil || !errors.Is(err, jwt.ErrTokenUnverifiable) {
				t.Fatalf("parse = %v (valid %v), want no key for the token", err, tok != nil && tok.Valid)
			}
		})
	}
}
