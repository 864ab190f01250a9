package api

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"time"

	"github.com/MicahParks/keyfunc/v3"
	"github.com/golang-jwt/jwt/v5"
	"golang.org/x/time/rate"
)

// Settings of the JWKS client.
const (
	// jwksTimeout bounds one JWKS fetch: the first one, made while
	// NewAuthenticator runs, and each hourly background refresh.
	jwksTimeout = 10 * time.Second
	// jwksRefresh is the background refresh period of the cached keys.
	jwksRefresh = time.Hour
	// jwksUnknownKID allows one refetch per minute triggered by a token
	// whose kid is not cached (a rotated key), however many such tokens
	// arrive: 50 forged kids in a second cost the IdP at most one request.
	jwksUnknownKID = time.Minute
	// jwksWaitMax is how long a request may wait for that rate limiter and
	// the refetch together. A request whose turn is further away fails at
	// once instead of waiting.
	jwksWaitMax = 5 * time.Second
)

// newJWKS builds the cached, self-refreshing JWK Set client. keyfunc makes
// the first fetch before returning; NoErrorReturnFirstHTTPReq (its default,
// kept) turns a failure of that fetch into a logged error instead of a
// failed construction.
func newJWKS(ctx context.Context, u *url.URL, client *http.Client, log *slog.Logger) (keyfunc.Keyfunc, error) {
	where := u.Redacted() // never log a password in the URL
	kf, err := keyfunc.NewDefaultOverrideCtx(ctx, []string{u.String()}, keyfunc.Override{
		Client:            client,
		HTTPTimeout:       jwksTimeout,
		RefreshInterval:   jwksRefresh,
		RefreshUnknownKID: rate.NewLimiter(rate.Every(jwksUnknownKID), 1),
		RateLimitWaitMax:  jwksWaitMax,
		RefreshErrorHandlerFunc: func(string) func(context.Context, error) {
			return func(ctx context.Context, err error) {
				log.WarnContext(ctx, "JWKS fetch failed; RS256/ES256 tokens may not verify", "url", where, "err", err)
			}
		},
	})
	if err != nil {
		return nil, fmt.Errorf("api: auth: JWKS %s: %w", where, err)
	}
	return kf, nil
}

// keyFunc picks the key by the token's algorithm family, never across
// families: HMAC gets the secret, RSA and ECDSA get JWKS keys of their own
// type. So a JWKS public key can never serve as an HMAC secret, and an
// HS256 token is never checked against the JWKS.
func (a *Authenticator) keyFunc(ctx context.Context) jwt.Keyfunc {
	return func(t *jwt.Token) (any, error) {
		var fits func(any) bool
		switch t.Method.(type) {
		case *jwt.SigningMethodHMAC:
			if len(a.secret) == 0 {
				return nil, errors.New("HMAC tokens are not accepted")
			}
			return a.secret, nil
		case *jwt.SigningMethodRSA:
			fits = func(k any) bool { _, ok := k.(*rsa.PublicKey); return ok }
		case *jwt.SigningMethodECDSA:
			fits = func(k any) bool {
				pk, ok := k.(*ecdsa.PublicKey)
				return ok && pk.Curve == elliptic.P256() // ES256 is P-256 only
			}
		default:
			return nil, fmt.Errorf("algorithm %q is not accepted", t.Method.Alg())
		}
		if a.jwks == nil {
			return nil, fmt.Errorf("algorithm %q is not accepted", t.Method.Alg())
		}
		key, err := a.jwks.KeyfuncCtx(ctx)(t)
		if err != nil {
			return nil, err
		}
		// Without a kid, keyfunc returns every cached key: keep this
		// family's only.
		if set, ok := key.(jwt.VerificationKeySet); ok {
			var own jwt.VerificationKeySet
			for _, k := range set.Keys {
				if fits(k) {
					own.Keys = append(own.Keys, k)
				}
			}
			if len(own.Keys) == 0 {
				return nil, fmt.Errorf("no JWKS key for algorithm %q", t.Method.Alg())
			}
			return own, nil
		}
		if !fits(key) {
			return nil, fmt.Errorf("the JWKS key named by kid does not fit algorithm %q", t.Method.Alg())
		}
		return key, nil
	}
}
