package api

import (
	"encoding/base64"
	"fmt"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// authHS256Header is the header jwt writes for HS256.
const authHS256Header = `{"alg":"HS256","typ":"JWT"}`

// authRawSigned signs header and payload, taken byte for byte as JSON
// text, with m and key: how a signer with the key (a careless or hostile
// IdP, a leaked secret) can put anything encoding/json would accept into a
// token.
func authRawSigned(tb testing.TB, m jwt.SigningMethod, key any, header, payload string) string {
	tb.Helper()
	enc := base64.RawURLEncoding
	signing := enc.EncodeToString([]byte(header)) + "." + enc.EncodeToString([]byte(payload))
	sig, err := m.Sign(signing, key)
	if err != nil {
		tb.Fatalf("sign: %v", err)
	}
	return signing + "." + enc.EncodeToString(sig)
}

// authExp is a valid exp member for payloads written by hand.
var authExp = fmt.Sprintf(`"exp":%d`, authEpoch.Add(time.Hour).Unix())

// Every case is correctly signed with the configured secret, so only the
// token's JSON can make it a 401. runAuthCases verifies each refused token
// twice (middleware, then Verify), so a check made after the token is
// cached would let the second one through and fail the case.
func TestAuthenticator_ClaimsJSON(t *testing.T) {
	t.Parallel()
	a := newAuth(t, AuthConfig{Secret: authSecret})
	claims := func(payload string) *string {
		return bearer(authRawSigned(t, jwt.SigningMethodHS256, authSecret, authHS256Header, payload))
	}
	sub := func(s string) *string { return claims(`{"sub":"` + s + `",` + authExp + `}`) }
	ok := func(id string) authWho { return authWho{ClientID: id} }

	runAuthCases(t, a, []authCase{
		{"hand-written payload", sub("acme"), 200, ok("acme")},
		{"escaped surrogate pair", sub(`\ud83d\ude00`), 200, ok("😀")},
		{"U+FFFD itself is a subject of its own", sub(`a\ufffdb`), 200, ok("a\uFFFDb")},
		{"escaped backslash before u", sub(`a\\ud800`), 200, ok(`a\ud800`)},
		{"escaped name of a claim", claims(`{"s\u0075b":"acme",` + authExp + `}`), 200, ok("acme")},

		{"sub with a lone high surrogate", sub(`a\ud800b`), 401, authWho{}},
		{"sub with a lone low surrogate", sub(`a\udfffb`), 401, authWho{}},
		{"sub ending in a high surrogate", sub(`ab\uDBFF`), 401, authWho{}},
		{"sub with two high surrogates", sub(`\ud800\ud800`), 401, authWho{}},
		{"sub with a high surrogate before a letter escape", sub(`\ud800\u0041`), 401, authWho{}},
		{"sub with a reversed pair", sub(`\ude00\ud83d`), 401, authWho{}},
		{"sub with an invalid byte", sub("a\xffb"), 401, authWho{}},
		{"sub with a UTF-8 encoded surrogate", sub("a\xed\xa0\x80b"), 401, authWho{}},
		{"sub with an overlong encoding", sub("a\xc0\xafb"), 401, authWho{}},
		{"invalid byte in another claim", claims(`{"sub":"acme","note":"` + "\xfe" + `",` + authExp + `}`), 401, authWho{}},
		{"lone surrogate in a nested name", claims(`{"sub":"acme","ext":{"\udc00":1},` + authExp + `}`), 401, authWho{}},
		{"lone surrogate in an array", claims(`{"sub":"acme","scope":["read","\ud800"],` + authExp + `}`), 401, authWho{}},

		{"sub named twice", claims(`{"sub":"acme","sub":"other",` + authExp + `}`), 401, authWho{}},
		{"sub named twice, once escaped", claims(`{"sub":"acme","s\u0075b":"other",` + authExp + `}`), 401, authWho{}},
		{"exp named twice, the last valid", claims(`{"sub":"acme","exp":1,` + authExp + `}`), 401, authWho{}},
		{"scope named twice", claims(`{"sub":"acme","scope":"read","scope":"quota:admin",` + authExp + `}`), 401, authWho{}},
		{"name twice in a nested object", claims(`{"sub":"acme","ext":{"k":1,"k":2},` + authExp + `}`), 401, authWho{}},
		{"name twice in an object in an array", claims(`{"sub":"acme","ext":[{"k":1,"k":2}],` + authExp + `}`), 401, authWho{}},
		{"Sub beside sub", claims(`{"sub":"acme","Sub":"other",` + authExp + `}`), 401, authWho{}},
		{"SUB alone", claims(`{"SUB":"acme",` + authExp + `}`), 401, authWho{}},
		{"long-s sub", claims(`{"ſub":"acme",` + authExp + `}`), 401, authWho{}},
		{"long-s scope grants nothing", claims(`{"sub":"acme","ſcope":"quota:admin",` + authExp + `}`), 401, authWho{}},
		{"valid EXP after expired exp", claims(`{"sub":"acme","exp":1,"EXP"` + authExp[len(`"exp"`):] + `}`), 401, authWho{}},
		// Names quotad does not read may differ in case only: they are
		// distinct members, and no reader is confused about sub or scope.
		{"unread names differing in case", claims(`{"sub":"acme","Note":1,"note":2,` + authExp + `}`), 200, ok("acme")},
		{"unread name with a long s", claims(`{"sub":"acme","ſession":1,` + authExp + `}`), 200, ok("acme")},
	})
}

func TestAuthenticator_HeaderJSON(t *testing.T) {
	t.Parallel()
	a := newAuth(t, AuthConfig{Secret: authSecret})
	payload := `{"sub":"acme",` + authExp + `}`
	head := func(header string) *string {
		return bearer(authRawSigned(t, jwt.SigningMethodHS256, authSecret, header, payload))
	}
	runAuthCases(t, a, []authCase{
		{"hand-written header", head(authHS256Header), 200, authWho{ClientID: "acme"}},
		// Header parameter names are case-sensitive (RFC 7515 §4) and an
		// unknown one is ignored: "Crit" is not crit.
		{"Crit is not crit", head(`{"alg":"HS256","Crit":["x"]}`), 200, authWho{ClientID: "acme"}},

		{"crit naming an extension", head(`{"alg":"HS256","crit":["x-ext"],"x-ext":1}`), 401, authWho{}},
		{"crit naming b64", head(`{"alg":"HS256","crit":["b64"],"b64":true}`), 401, authWho{}},
		{"crit naming a registered claim", head(`{"alg":"HS256","crit":["exp"]}`), 401, authWho{}},
		{"crit empty", head(`{"alg":"HS256","crit":[]}`), 401, authWho{}},
		{"crit null", head(`{"alg":"HS256","crit":null}`), 401, authWho{}},
		{"alg named twice", head(`{"alg":"none","alg":"HS256"}`), 401, authWho{}},
		{"typ named twice", head(`{"alg":"HS256","typ":"JWT","typ":"at+jwt"}`), 401, authWho{}},
		{"invalid byte in kid", head(`{"alg":"HS256","kid":"` + "\xff" + `"}`), 401, authWho{}},
		{"lone surrogate in kid", head(`{"alg":"HS256","kid":"\ud800"}`), 401, authWho{}},
	})
}

// The checks do not depend on the key family: an IdP's RS256 token is
// held to them too.
func TestAuthenticator_ClaimsJSONFromJWKS(t *testing.T) {
	t.Parallel()
	j := newAuthJWKS(t)
	a := newAuth(t, AuthConfig{JWKSURL: j.URL})
	rs := func(payload string) *string {
		return bearer(authRawSigned(t, jwt.SigningMethodRS256, j.rsa, `{"alg":"RS256","kid":"rsa-1"}`, payload))
	}
	runAuthCases(t, a, []authCase{
		{"hand-written payload", rs(`{"sub":"acme",` + authExp + `}`), 200, authWho{ClientID: "acme"}},
		{"sub with a lone surrogate", rs(`{"sub":"a\ud800b",` + authExp + `}`), 401, authWho{}},
		{"sub named twice", rs(`{"sub":"acme","sub":"other",` + authExp + `}`), 401, authWho{}},
		{"crit", bearer(authRawSigned(t, jwt.SigningMethodRS256, j.rsa, `{"alg":"RS256","kid":"rsa-1","crit":["x"],"x":1}`, `{"sub":"acme",`+authExp+`}`)), 401, authWho{}},
	})
}

func TestHasLoneSurrogate(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]bool{
		`"plain"`:              false,
		`"\ud83d\ude00"`:       false,
		`"\uD83D\uDE00"`:       false,
		`"\\ud800"`:            false, // a backslash, then "ud800"
		`"\\\ud800"`:           true,  // a backslash, then a lone surrogate
		`"\u00e9\n\t\"\/"`:     false,
		`"\ud800"`:             true,
		`"\udc00"`:             true,
		`"\ud800\\udc00"`:      true, // the low half is not an escape
		`"\ud800x"`:            true,
		`"\ud800\n"`:           true,
		`"\ud83d\ude00\ud800"`: true,
		`"\ud8`:                false, // malformed: left to the decoder
		`\`:                    false,
	} {
		if got := hasLoneSurrogate([]byte(in)); got != want {
			t.Errorf("hasLoneSurrogate(%s) = %v, want %v", in, got, want)
		}
	}
}

// encoding/json would write each invalid byte of the subject as U+FFFD,
// minting a token for another client.
func TestMintToken_RefusesInvalidUTF8Subject(t *testing.T) {
	t.Parallel()
	for _, sub := range []string{"a\xffb", "\xed\xa0\x80", "acme\xc0"} {
		if tok, err := MintToken(authSecret, TokenClaims{Subject: sub, TTL: time.Hour}); err == nil {
			t.Errorf("MintToken(%q) = %q, want an error", sub, tok)
		}
	}
}
