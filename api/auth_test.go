package api

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/MicahParks/jwkset"
	"github.com/golang-jwt/jwt/v5"
	"github.com/labstack/echo/v4"
)

// authSecret is the HS256 secret of these tests (≥ 32 bytes).
var authSecret = []byte("0123456789abcdef0123456789abcdef-auth-test")

// authEpoch is the fixed "now" of every authenticator under test.
var authEpoch = time.Unix(1_700_000_000, 0)

func authNow() time.Time { return authEpoch }

// authClaims returns claims valid at authEpoch for sub, edited by mods.
func authClaims(sub string, mods ...func(jwt.MapClaims)) jwt.MapClaims {
	c := jwt.MapClaims{"sub": sub, "iat": authEpoch.Unix(), "exp": authEpoch.Add(time.Hour).Unix()}
	for _, m := range mods {
		m(c)
	}
	return c
}

func with(k string, v any) func(jwt.MapClaims) { return func(c jwt.MapClaims) { c[k] = v } }

func without(k string) func(jwt.MapClaims) { return func(c jwt.MapClaims) { delete(c, k) } }

// authSign signs claims with method and key, adding kid when non-empty.
func authSign(tb testing.TB, m jwt.SigningMethod, key any, kid string, c jwt.MapClaims) string {
	tb.Helper()
	t := jwt.NewWithClaims(m, c)
	if kid != "" {
		t.Header["kid"] = kid
	}
	s, err := t.SignedString(key)
	if err != nil {
		tb.Fatalf("sign: %v", err)
	}
	return s
}

// authUnsigned hand-builds a token with the given header alg and an empty
// signature, as an attacker would.
func authUnsigned(alg string, c jwt.MapClaims) string {
	enc := base64.RawURLEncoding
	h, _ := json.Marshal(map[string]string{"alg": alg, "typ": "JWT"})
	p, _ := json.Marshal(c)
	return enc.EncodeToString(h) + "." + enc.EncodeToString(p) + "."
}

// newAuth builds an Authenticator at authEpoch, failing tb on error.
func newAuth(tb testing.TB, cfg AuthConfig) *Authenticator {
	tb.Helper()
	if cfg.Now == nil {
		cfg.Now = authNow
	}
	a, err := NewAuthenticator(tb.Context(), cfg)
	if err != nil {
		tb.Fatalf("NewAuthenticator: %v", err)
	}
	return a
}

// authWho is what the test app's /who route answers.
type authWho struct {
	Anonymous bool   `json:"anonymous"`
	ClientID  string `json:"client_id"`
	Admin     bool   `json:"admin"`
}

// authApp mounts a.Middleware on /who (echoes the identity) and /admin
// (behind RequireAdmin), with the API's error handler.
func authApp(a *Authenticator) *echo.Echo {
	e := echo.New()
	e.HTTPErrorHandler = errorHandler(slog.New(slog.DiscardHandler))
	e.Use(a.Middleware())
	e.GET("/who", func(c echo.Context) error {
		id, ok := IdentityFrom(c)
		return c.JSON(http.StatusOK, authWho{Anonymous: !ok, ClientID: id.ClientID, Admin: id.Admin})
	})
	e.GET("/admin", func(c echo.Context) error { return c.String(http.StatusOK, "ok") }, RequireAdmin())
	return e
}

// authGet sends GET path with the given Authorization header (none when
// nil).
func authGet(e *echo.Echo, path string, authz *string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(http.MethodGet, path, nil)
	if authz != nil {
		req.Header.Set(echo.HeaderAuthorization, *authz)
	}
	rec := httptest.NewRecorder()
	e.ServeHTTP(rec, req)
	return rec
}

func bearer(tok string) *string { s := "Bearer " + tok; return &s }

func header(v string) *string { return &v }

// authCheck asserts the status, and for 2xx on /who the identity; for
// errors, the envelope with code, the WWW-Authenticate challenge and that
// the body does not echo the token.
func authCheck(tb testing.TB, rec *httptest.ResponseRecorder, status int, want authWho, authz *string) {
	tb.Helper()
	if rec.Code != status {
		tb.Fatalf("status %d, want %d; body %s", rec.Code, status, rec.Body)
	}
	body := rec.Body.String()
	if status == http.StatusOK {
		var got authWho
		if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil {
			tb.Fatalf("body %q: %v", body, err)
		}
		if got != want {
			tb.Fatalf("identity %+v, want %+v", got, want)
		}
		return
	}
	var eb ErrorBody
	if err := json.Unmarshal(rec.Body.Bytes(), &eb); err != nil {
		tb.Fatalf("error body %q is not the envelope: %v", body, err)
	}
	wantCode := map[int]string{http.StatusUnauthorized: CodeUnauthorized, http.StatusForbidden: CodeForbidden}[status]
	if eb.Error.Code != wantCode || eb.Error.Message == "" {
		tb.Fatalf("error %+v, want code %q and a message", eb.Error, wantCode)
	}
	if status == http.StatusUnauthorized && !strings.HasPrefix(rec.Header().Get(echo.HeaderWWWAuthenticate), "Bearer") {
		tb.Fatalf("WWW-Authenticate %q, want a Bearer challenge", rec.Header().Get(echo.HeaderWWWAuthenticate))
	}
	if authz != nil {
		if _, tok, _ := strings.Cut(*authz, " "); len(tok) >= 8 && strings.Contains(body, tok) {
			tb.Fatalf("body echoes the token: %s", body)
		}
	}
}

// authCase is one request against the test app.
type authCase struct {
	name   string
	authz  *string
	status int
	want   authWho // on 200
}

func runAuthCases(t *testing.T, a *Authenticator, cases []authCase) {
	t.Helper()
	e := authApp(a)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			start := time.Now()
			rec := authGet(e, "/who", tc.authz)
			authCheck(t, rec, tc.status, tc.want, tc.authz)
			if tc.status == http.StatusUnauthorized {
				if got := rec.Header().Get(echo.HeaderWWWAuthenticate); got != `Bearer error="invalid_token"` {
					t.Errorf("WWW-Authenticate %q", got)
				}
				if d := time.Since(start); d > time.Second {
					t.Errorf("refusal took %s", d)
				}
				// Verify agrees, with a sentinel and no token in the error.
				if tok, ok := strings.CutPrefix(*tc.authz, "Bearer "); ok && tok != "" {
					_, err := a.Verify(tok)
					if !errors.Is(err, ErrInvalidToken) {
						t.Errorf("Verify: %v, want ErrInvalidToken", err)
					}
					if err != nil && len(tok) >= 8 && strings.Contains(err.Error(), tok) {
						t.Errorf("Verify error echoes the token: %v", err)
					}
				}
			}
		})
	}
}

func TestAuthenticator_HS256(t *testing.T) {
	t.Parallel()
	a := newAuth(t, AuthConfig{Secret: authSecret})
	hs := func(c jwt.MapClaims) string { return authSign(t, jwt.SigningMethodHS256, authSecret, "", c) }
	user := authWho{ClientID: "acme"}
	admin := authWho{ClientID: "acme", Admin: true}

	valid := hs(authClaims("acme", with("scope", "read")))
	parts := strings.Split(valid, ".")
	forged, _ := json.Marshal(authClaims("acme", with("scope", "quota:admin")))
	tampered := parts[0] + "." + base64.RawURLEncoding.EncodeToString(forged) + "." + parts[2]
	rsaKey := authRSAKey(t)
	huge := hs(authClaims("acme", with("pad", strings.Repeat("x", MaxTokenLen))))

	runAuthCases(t, a, []authCase{
		{"no token is anonymous", nil, 200, authWho{Anonymous: true}},
		{"string scope, user", bearer(valid), 200, user},
		{"no scope, user", bearer(hs(authClaims("acme"))), 200, user},
		{"string scope, admin", bearer(hs(authClaims("acme", with("scope", "read quota:admin write")))), 200, admin},
		{"array scope, user", bearer(hs(authClaims("acme", with("scope", []string{"read", "write"})))), 200, user},
		{"array scope, admin", bearer(hs(authClaims("acme", with("scope", []string{"read", "quota:admin"})))), 200, admin},
		{"scope prefix is not admin", bearer(hs(authClaims("acme", with("scope", "quota:administrator")))), 200, user},
		{"lower-case scheme", header("bearer " + valid), 200, user},
		{"upper-case scheme", header("BEARER " + valid), 200, user},
		{"255-byte sub", bearer(hs(authClaims(strings.Repeat("s", 255)))), 200, authWho{ClientID: strings.Repeat("s", 255)}},
		{"unicode sub", bearer(hs(authClaims("ünïcødé"))), 200, authWho{ClientID: "ünïcødé"}},

		{"wrong key", bearer(authSign(t, jwt.SigningMethodHS256, []byte("another-secret-of-at-least-32-bytes!!"), "", authClaims("acme"))), 401, authWho{}},
		{"tampered payload", bearer(tampered), 401, authWho{}},
		{"signature stripped", bearer(parts[0] + "." + parts[1] + "."), 401, authWho{}},
		{"expired", bearer(hs(authClaims("acme", with("exp", authEpoch.Add(-10*time.Second).Unix())))), 401, authWho{}},
		{"expired within leeway", bearer(hs(authClaims("acme", with("exp", authEpoch.Add(-3*time.Second).Unix())))), 200, user},
		{"not yet valid", bearer(hs(authClaims("acme", with("nbf", authEpoch.Add(10*time.Second).Unix())))), 401, authWho{}},
		{"not yet valid within leeway", bearer(hs(authClaims("acme", with("nbf", authEpoch.Add(3*time.Second).Unix())))), 200, user},
		{"alg none", bearer(authUnsigned("none", authClaims("acme"))), 401, authWho{}},
		{"alg None", bearer(authUnsigned("None", authClaims("acme"))), 401, authWho{}},
		{"alg NONE", bearer(authUnsigned("NONE", authClaims("acme"))), 401, authWho{}},
		{"alg none with admin scope", bearer(authUnsigned("none", authClaims("acme", with("scope", "quota:admin")))), 401, authWho{}},
		{"HS384 not configured", bearer(authSign(t, jwt.SigningMethodHS384, authSecret, "", authClaims("acme"))), 401, authWho{}},
		{"RS256 without a JWKS", bearer(authSign(t, jwt.SigningMethodRS256, rsaKey, "", authClaims("acme"))), 401, authWho{}},
		{"missing sub", bearer(hs(authClaims("acme", without("sub")))), 401, authWho{}},
		{"empty sub", bearer(hs(authClaims(""))), 401, authWho{}},
		{"300-byte sub", bearer(hs(authClaims(strings.Repeat("s", 300)))), 401, authWho{}},
		{"sub with a newline", bearer(hs(authClaims("acme\nadmin"))), 401, authWho{}},
		{"sub of wrong type", bearer(hs(authClaims("acme", with("sub", 42)))), 401, authWho{}},
		{"missing exp", bearer(hs(authClaims("acme", without("exp")))), 401, authWho{}},
		{"exp of wrong type", bearer(hs(authClaims("acme", with("exp", "tomorrow")))), 401, authWho{}},
		{"scope number", bearer(hs(authClaims("acme", with("scope", 7)))), 401, authWho{}},
		{"scope null", bearer(hs(authClaims("acme", with("scope", nil)))), 401, authWho{}},
		{"scope object", bearer(hs(authClaims("acme", with("scope", map[string]any{"quota:admin": true})))), 401, authWho{}},
		{"scope array with a number", bearer(hs(authClaims("acme", with("scope", []any{"quota:admin", 1})))), 401, authWho{}},
		{"garbage", bearer("not-a-jwt"), 401, authWho{}},
		{"garbage segments", bearer("a.b.c"), 401, authWho{}},
		{"bad base64", bearer("!!!.@@@.###"), 401, authWho{}},
		{"empty header", header(""), 401, authWho{}},
		{"Bearer with empty token", header("Bearer "), 401, authWho{}},
		{"Bearer without space", header("Bearer"), 401, authWho{}},
		{"two spaces", header("Bearer  " + valid), 401, authWho{}},
		{"trailing junk", header("Bearer " + valid + " x"), 401, authWho{}},
		{"Basic", header("Basic xyz"), 401, authWho{}},
		{"Basic with a valid token", header("Basic " + valid), 401, authWho{}},
		{"Token scheme with a valid token", header("Token " + valid), 401, authWho{}},
		{"token without scheme", header(valid), 401, authWho{}},
		{"100,000 dots", bearer(strings.Repeat(".", 100_000)), 401, authWho{}},
		{"validly signed but over 8 KiB", bearer(huge), 401, authWho{}},
	})
}

func TestAuthenticator_Messages(t *testing.T) {
	t.Parallel()
	e := authApp(newAuth(t, AuthConfig{Secret: authSecret}))
	hs := func(c jwt.MapClaims) *string { return bearer(authSign(t, jwt.SigningMethodHS256, authSecret, "", c)) }
	for _, tc := range []struct {
		name, want string
		authz      *string
	}{
		{"expired", "the token has expired", hs(authClaims("acme", with("exp", authEpoch.Add(-time.Hour).Unix())))},
		{"not yet valid", "the token is not valid yet", hs(authClaims("acme", with("nbf", authEpoch.Add(time.Hour).Unix())))},
		{"bad signature", "invalid token", bearer(authSign(t, jwt.SigningMethodHS256, []byte("another-secret-of-at-least-32-bytes!!"), "", authClaims("acme")))},
		{"wrong scheme", `the Authorization header must be "Bearer <token>"`, header("Basic xyz")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var eb ErrorBody
			rec := authGet(e, "/who", tc.authz)
			if err := json.Unmarshal(rec.Body.Bytes(), &eb); err != nil || eb.Error.Message != tc.want {
				t.Errorf("message %q (%v), want %q", eb.Error.Message, err, tc.want)
			}
		})
	}
}

func TestAuthenticator_TwoAuthorizationHeaders(t *testing.T) {
	t.Parallel()
	a := newAuth(t, AuthConfig{Secret: authSecret})
	tok := authSign(t, jwt.SigningMethodHS256, authSecret, "", authClaims("acme"))
	req := httptest.NewRequest(http.MethodGet, "/who", nil)
	req.Header.Add(echo.HeaderAuthorization, "Bearer "+tok)
	req.Header.Add(echo.HeaderAuthorization, "Bearer "+tok)
	rec := httptest.NewRecorder()
	authApp(a).ServeHTTP(rec, req)
	authCheck(t, rec, http.StatusUnauthorized, authWho{}, bearer(tok))
}

func TestAuthenticator_IssuerAudience(t *testing.T) {
	t.Parallel()
	a := newAuth(t, AuthConfig{Secret: authSecret, Issuer: "https://idp.example", Audience: "quotad"})
	hs := func(mods ...func(jwt.MapClaims)) *string {
		base := []func(jwt.MapClaims){with("iss", "https://idp.example"), with("aud", "quotad")}
		return bearer(authSign(t, jwt.SigningMethodHS256, authSecret, "", authClaims("acme", append(base, mods...)...)))
	}
	user := authWho{ClientID: "acme"}
	runAuthCases(t, a, []authCase{
		{"both match", hs(), 200, user},
		{"aud array containing ours", hs(with("aud", []string{"other", "quotad"})), 200, user},
		{"wrong iss", hs(with("iss", "https://evil.example")), 401, authWho{}},
		{"iss differs in case", hs(with("iss", "https://IDP.example")), 401, authWho{}},
		{"missing iss", hs(without("iss")), 401, authWho{}},
		{"wrong aud", hs(with("aud", "other")), 401, authWho{}},
		{"aud array without ours", hs(with("aud", []string{"other"})), 401, authWho{}},
		{"missing aud", hs(without("aud")), 401, authWho{}},
	})
}

func TestAuthenticator_RequireAdmin(t *testing.T) {
	t.Parallel()
	e := authApp(newAuth(t, AuthConfig{Secret: authSecret}))
	hs := func(c jwt.MapClaims) *string { return bearer(authSign(t, jwt.SigningMethodHS256, authSecret, "", c)) }
	for _, tc := range []struct {
		name      string
		authz     *string
		status    int
		challenge string
	}{
		{"no token", nil, 401, "Bearer"},
		{"bad token", bearer("nope.nope.nope"), 401, `Bearer error="invalid_token"`},
		{"expired admin token", hs(authClaims("root", with("scope", "quota:admin"), with("exp", authEpoch.Add(-time.Minute).Unix()))), 401, `Bearer error="invalid_token"`},
		{"not admin", hs(authClaims("acme", with("scope", "read"))), 403, `Bearer error="insufficient_scope", scope="quota:admin"`},
		{"admin, string scope", hs(authClaims("root", with("scope", "quota:admin"))), 200, ""},
		{"admin, array scope", hs(authClaims("root", with("scope", []string{"quota:admin"}))), 200, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			rec := authGet(e, "/admin", tc.authz)
			if tc.status == http.StatusOK {
				if rec.Code != http.StatusOK || rec.Body.String() != "ok" {
					t.Fatalf("got %d %s, want 200 ok", rec.Code, rec.Body)
				}
				return
			}
			authCheck(t, rec, tc.status, authWho{}, tc.authz)
			if got := rec.Header().Get(echo.HeaderWWWAuthenticate); got != tc.challenge {
				t.Errorf("WWW-Authenticate %q, want %q", got, tc.challenge)
			}
		})
	}
}

func TestNewAuthenticator_Config(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		cfg  AuthConfig
		ok   bool
	}{
		{"nothing", AuthConfig{}, false},
		{"secret of 31 bytes", AuthConfig{Secret: authSecret[:31]}, false},
		{"secret of 32 bytes", AuthConfig{Secret: authSecret[:32]}, true},
		{"negative leeway", AuthConfig{Secret: authSecret, Leeway: -time.Second}, false},
		{"JWKS ftp", AuthConfig{JWKSURL: "ftp://idp.example/jwks"}, false},
		{"JWKS relative", AuthConfig{JWKSURL: "/jwks.json"}, false},
		{"JWKS without host", AuthConfig{JWKSURL: "https://"}, false},
		{"JWKS not a URL", AuthConfig{JWKSURL: "::not a url"}, false},
		{"JWKS with a short secret", AuthConfig{JWKSURL: "http://127.0.0.1:1/jwks", Secret: []byte("short")}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			a, err := NewAuthenticator(t.Context(), tc.cfg)
			if tc.ok != (err == nil) || tc.ok != (a != nil) {
				t.Fatalf("NewAuthenticator = %v, %v; want ok=%v", a, err, tc.ok)
			}
		})
	}
}

// authJWKS serves a JWK Set with one RSA and one EC P-256 key and counts
// its hits; down makes it answer 503.
type authJWKS struct {
	*httptest.Server
	rsa  *rsa.PrivateKey
	ec   *ecdsa.PrivateKey
	hits atomic.Int64
	down atomic.Bool
}

func authRSAKey(tb testing.TB) *rsa.PrivateKey {
	tb.Helper()
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		tb.Fatal(err)
	}
	return k
}

func authECKey(tb testing.TB) *ecdsa.PrivateKey {
	tb.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		tb.Fatal(err)
	}
	return k
}

func newAuthJWKS(tb testing.TB) *authJWKS {
	tb.Helper()
	j := &authJWKS{rsa: authRSAKey(tb), ec: authECKey(tb)}
	set := jwkset.NewMemoryStorage()
	for _, k := range []struct {
		pub any
		kid string
		alg jwkset.ALG
	}{
		{&j.rsa.PublicKey, "rsa-1", jwkset.AlgRS256},
		{&j.ec.PublicKey, "ec-1", jwkset.AlgES256},
	} {
		jwk, err := jwkset.NewJWKFromKey(k.pub, jwkset.JWKOptions{Metadata: jwkset.JWKMetadataOptions{KID: k.kid, ALG: k.alg, USE: jwkset.UseSig}})
		if err != nil {
			tb.Fatal(err)
		}
		if err := set.KeyWrite(context.Background(), jwk); err != nil {
			tb.Fatal(err)
		}
	}
	body, err := set.JSONPublic(context.Background())
	if err != nil {
		tb.Fatal(err)
	}
	j.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		j.hits.Add(1)
		if j.down.Load() {
			http.Error(w, "down", http.StatusServiceUnavailable)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(body)
	}))
	tb.Cleanup(j.Close)
	return j
}

// rsaPublicEncodings are the RSA public key's bytes an attacker would try
// as an HMAC secret.
func rsaPublicEncodings(tb testing.TB, k *rsa.PublicKey) map[string][]byte {
	tb.Helper()
	pkix, err := x509.MarshalPKIXPublicKey(k)
	if err != nil {
		tb.Fatal(err)
	}
	pkcs1 := x509.MarshalPKCS1PublicKey(k)
	return map[string][]byte{
		"PKIX PEM":  pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pkix}),
		"PKCS1 PEM": pem.EncodeToMemory(&pem.Block{Type: "RSA PUBLIC KEY", Bytes: pkcs1}),
		"PKIX DER":  pkix,
		"PKCS1 DER": pkcs1,
	}
}

func TestAuthenticator_JWKS(t *testing.T) {
	t.Parallel()
	j := newAuthJWKS(t)
	for _, mode := range []struct {
		name   string
		secret []byte
	}{{"JWKS only", nil}, {"secret and JWKS", authSecret}} {
		t.Run(mode.name, func(t *testing.T) {
			t.Parallel()
			a := newAuth(t, AuthConfig{JWKSURL: j.URL, Secret: mode.secret})
			user := authWho{ClientID: "acme"}
			admin := authWho{ClientID: "acme", Admin: true}
			sign := func(m jwt.SigningMethod, key any, kid string, c jwt.MapClaims) *string {
				return bearer(authSign(t, m, key, kid, c))
			}
			hsStatus := http.StatusUnauthorized
			if mode.secret != nil {
				hsStatus = http.StatusOK
			}
			cases := []authCase{
				{"RS256", sign(jwt.SigningMethodRS256, j.rsa, "rsa-1", authClaims("acme")), 200, user},
				{"RS256 admin", sign(jwt.SigningMethodRS256, j.rsa, "rsa-1", authClaims("acme", with("scope", "quota:admin"))), 200, admin},
				{"ES256", sign(jwt.SigningMethodES256, j.ec, "ec-1", authClaims("acme")), 200, user},
				{"RS256 without kid", sign(jwt.SigningMethodRS256, j.rsa, "", authClaims("acme")), 200, user},
				{"ES256 without kid", sign(jwt.SigningMethodES256, j.ec, "", authClaims("acme")), 200, user},
				{"HS256 with the secret", sign(jwt.SigningMethodHS256, authSecret, "", authClaims("acme")), hsStatus, user},
				{"HS256 with the secret and a JWKS kid", sign(jwt.SigningMethodHS256, authSecret, "rsa-1", authClaims("acme")), hsStatus, user},
				{"RS256 by a foreign key with our kid", sign(jwt.SigningMethodRS256, authRSAKey(t), "rsa-1", authClaims("acme")), 401, authWho{}},
				{"RS256 by a foreign key without kid", sign(jwt.SigningMethodRS256, authRSAKey(t), "", authClaims("acme")), 401, authWho{}},
				{"ES256 by a foreign key with our kid", sign(jwt.SigningMethodES256, authECKey(t), "ec-1", authClaims("acme")), 401, authWho{}},
				{"ES256 naming the RSA kid", sign(jwt.SigningMethodES256, j.ec, "rsa-1", authClaims("acme")), 401, authWho{}},
				{"RS256 naming the EC kid", sign(jwt.SigningMethodRS256, j.rsa, "ec-1", authClaims("acme")), 401, authWho{}},
				{"RS384 not configured", sign(jwt.SigningMethodRS384, j.rsa, "rsa-1", authClaims("acme")), 401, authWho{}},
				{"PS256 not configured", sign(jwt.SigningMethodPS256, j.rsa, "rsa-1", authClaims("acme")), 401, authWho{}},
				{"RS256 expired", sign(jwt.SigningMethodRS256, j.rsa, "rsa-1", authClaims("acme", with("exp", authEpoch.Add(-time.Minute).Unix()))), 401, authWho{}},
				{"RS256 missing sub", sign(jwt.SigningMethodRS256, j.rsa, "rsa-1", authClaims("acme", without("sub"))), 401, authWho{}},
				{"alg none with a JWKS kid", bearer(authUnsigned("none", authClaims("acme"))), 401, authWho{}},
			}
			// HS/RS confusion: the RSA public key's bytes as an HMAC secret.
			for enc, pub := range rsaPublicEncodings(t, &j.rsa.PublicKey) {
				for _, kid := range []string{"", "rsa-1"} {
					cases = append(cases, authCase{"HS256 signed with the RSA public key as " + enc + " kid=" + kid,
						sign(jwt.SigningMethodHS256, pub, kid, authClaims("acme", with("scope", "quota:admin"))), 401, authWho{}})
				}
			}
			runAuthCases(t, a, cases)
		})
	}
}

func TestAuthenticator_JWKSUnknownKID(t *testing.T) {
	t.Parallel()
	j := newAuthJWKS(t)
	a := newAuth(t, AuthConfig{JWKSURL: j.URL})
	e := authApp(a)
	atStart := j.hits.Load()
	if atStart != 1 {
		t.Fatalf("JWKS hit %d times by NewAuthenticator, want 1", atStart)
	}

	foreign := authRSAKey(t)
	start := time.Now()
	for i := range 50 {
		kid := "unknown-" + strings.Repeat("k", i%7) + string(rune('a'+i%26))
		tok := authSign(t, jwt.SigningMethodRS256, foreign, kid, authClaims("acme"))
		rec := authGet(e, "/who", bearer(tok))
		authCheck(t, rec, http.StatusUnauthorized, authWho{}, bearer(tok))
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("50 unknown kids took %s", d)
	}
	// One refetch on the first unknown kid, then the rate limit holds.
	if refetches := j.hits.Load() - atStart; refetches > 1 {
		t.Errorf("50 unknown kids caused %d JWKS fetches, want at most 1", refetches)
	}
	// Known keys still work from the cache, without fetching.
	before := j.hits.Load()
	rec := authGet(e, "/who", bearer(authSign(t, jwt.SigningMethodRS256, j.rsa, "rsa-1", authClaims("acme"))))
	authCheck(t, rec, http.StatusOK, authWho{ClientID: "acme"}, nil)
	if j.hits.Load() != before {
		t.Error("a cached kid caused a JWKS fetch")
	}
}

func TestNewAuthenticator_JWKSDownAtStart(t *testing.T) {
	t.Parallel()

	t.Run("unreachable", func(t *testing.T) {
		t.Parallel()
		dead := httptest.NewServer(http.NotFoundHandler())
		dead.Close() // connection refused from now on
		var logs strings.Builder
		log := slog.New(slog.NewTextHandler(&logs, nil))
		jwksURL := strings.Replace(dead.URL, "://", "://user:s3cret@", 1)
		start := time.Now()
		a := newAuth(t, AuthConfig{JWKSURL: jwksURL, Secret: authSecret, Logger: log})
		if d := time.Since(start); d > 5*time.Second {
			t.Errorf("NewAuthenticator took %s with the JWKS down", d)
		}
		if !strings.Contains(logs.String(), "JWKS fetch failed") || strings.Contains(logs.String(), "s3cret") {
			t.Errorf("log %q: want the failure, without the URL's password", logs.String())
		}
		tok := authSign(t, jwt.SigningMethodRS256, authRSAKey(t), "rsa-1", authClaims("acme"))
		if _, err := a.Verify(tok); !errors.Is(err, ErrInvalidToken) {
			t.Errorf("Verify = %v, want ErrInvalidToken", err)
		}
		// HS256 does not depend on the JWKS.
		id, err := a.Verify(authSign(t, jwt.SigningMethodHS256, authSecret, "", authClaims("acme")))
		if err != nil || id.ClientID != "acme" {
			t.Errorf("HS256 Verify = %+v, %v", id, err)
		}
	})

	t.Run("comes back", func(t *testing.T) {
		t.Parallel()
		j := newAuthJWKS(t)
		j.down.Store(true)
		a := newAuth(t, AuthConfig{JWKSURL: j.URL})
		j.down.Store(false)
		// The first token with a kid refetches the set and verifies.
		id, err := a.Verify(authSign(t, jwt.SigningMethodRS256, j.rsa, "rsa-1", authClaims("acme")))
		if err != nil || id.ClientID != "acme" {
			t.Fatalf("Verify = %+v, %v", id, err)
		}
		if n := j.hits.Load(); n != 2 {
			t.Errorf("JWKS hit %d times, want 2 (start, refetch)", n)
		}
	})
}

func TestMintToken(t *testing.T) {
	t.Parallel()
	a := newAuth(t, AuthConfig{Secret: authSecret, Issuer: "quotad", Audience: "quota-api"})
	for _, tc := range []struct {
		name string
		c    TokenClaims
		want Identity
	}{
		{"user", TokenClaims{Subject: "acme", TTL: time.Hour, Issuer: "quotad", Audience: "quota-api", Now: authNow}, Identity{ClientID: "acme"}},
		{"admin", TokenClaims{Subject: "root", Admin: true, TTL: time.Minute, Issuer: "quotad", Audience: "quota-api", Now: authNow}, Identity{ClientID: "root", Admin: true}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tok, err := MintToken(authSecret, tc.c)
			if err != nil {
				t.Fatal(err)
			}
			got, err := a.Verify(tok)
			if err != nil || got != tc.want {
				t.Fatalf("Verify = %+v, %v; want %+v", got, err, tc.want)
			}
			var c jwt.MapClaims
			if _, _, err := jwt.NewParser().ParseUnverified(tok, &c); err != nil {
				t.Fatal(err)
			}
			if c["iat"] != float64(authEpoch.Unix()) || c["exp"] != float64(authEpoch.Add(tc.c.TTL).Unix()) {
				t.Errorf("iat %v exp %v, want %d and now+TTL", c["iat"], c["exp"], authEpoch.Unix())
			}
			if _, has := c["scope"]; has != tc.c.Admin {
				t.Errorf("scope claim present = %v, want %v", has, tc.c.Admin)
			}
		})
	}

	t.Run("expires after TTL", func(t *testing.T) {
		t.Parallel()
		tok, err := MintToken(authSecret, TokenClaims{Subject: "acme", TTL: time.Minute, Issuer: "quotad", Audience: "quota-api",
			Now: func() time.Time { return authEpoch.Add(-2 * time.Minute) }})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := a.Verify(tok); !errors.Is(err, jwt.ErrTokenExpired) || !errors.Is(err, ErrInvalidToken) {
			t.Errorf("Verify = %v, want an expired ErrInvalidToken", err)
		}
	})

	t.Run("refuses", func(t *testing.T) {
		t.Parallel()
		for name, tc := range map[string]struct {
			secret []byte
			c      TokenClaims
		}{
			"short secret":     {authSecret[:31], TokenClaims{Subject: "acme", TTL: time.Hour}},
			"empty subject":    {authSecret, TokenClaims{TTL: time.Hour}},
			"256-byte subject": {authSecret, TokenClaims{Subject: strings.Repeat("s", 256), TTL: time.Hour}},
			"zero TTL":         {authSecret, TokenClaims{Subject: "acme"}},
			"negative TTL":     {authSecret, TokenClaims{Subject: "acme", TTL: -time.Hour}},
		} {
			if tok, err := MintToken(tc.secret, tc.c); err == nil {
				t.Errorf("%s: MintToken = %q, want an error", name, tok)
			}
		}
	})
}
