package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/MicahParks/keyfunc/v3"
	"github.com/golang-jwt/jwt/v5"
	"github.com/labstack/echo/v4"
)

// MinSecretLen is the shortest HS256 secret accepted, in bytes (RFC 7518
// §3.2: a key of at least the hash size).
const MinSecretLen = 32

// MaxTokenLen bounds a bearer token, in bytes; longer ones are refused
// before any parsing (a token of 100,000 dots costs one length check).
const MaxTokenLen = 8 << 10

// AdminScope in a token's scope claim grants the admin API.
const AdminScope = "quota:admin"

// ErrInvalidToken wraps every reason Verify refuses a token.
var ErrInvalidToken = errors.New("api: invalid token")

// DefaultLeeway is the clock skew tolerated on exp and nbf when
// AuthConfig.Leeway is zero.
const DefaultLeeway = 5 * time.Second

// identityKey is where Middleware stores the verified token's *principal
// in the echo.Context.
const identityKey = "quotad.identity"

// principal is a verified token's Identity with its limiter key. It is made
// once per verification and shared, never changed, by every request that
// presents the token while it is cached: stored in the echo.Context as a
// pointer, it costs such a request no allocation, where an Identity value
// would be boxed and its key concatenated on every request.
type principal struct {
	Identity
	key string // UserKey(ClientID)
}

// AuthConfig configures an Authenticator. At least one of Secret and JWKSURL
// is required; with both, the token's algorithm family picks the key.
type AuthConfig struct {
	// Secret verifies HS256 tokens (QUOTA_JWT_SECRET), at least
	// MinSecretLen bytes.
	// Optional when JWKSURL is set. Default value: HS256 is not accepted.
	Secret []byte
	// JWKSURL is an http(s) JWK Set endpoint whose keys verify RS256 and
	// ES256 tokens (QUOTA_JWT_JWKS_URL). Keys are cached, refreshed hourly
	// and refetched (at most once a minute) when a token names an unknown
	// kid.
	// Optional when Secret is set. Default value: RS256/ES256 are not
	// accepted.
	JWKSURL string
	// Issuer, when set, must equal the token's iss claim, which is then
	// required (QUOTA_JWT_ISSUER).
	// Optional. Default value: iss is not checked.
	Issuer string
	// Audience, when set, must be one of the token's aud values, which are
	// then required (QUOTA_JWT_AUDIENCE).
	// Optional. Default value: aud is not checked.
	Audience string
	// Leeway is the clock skew tolerated on exp and nbf: with 5s, a token
	// that expired at 12:00:00 is still accepted at 12:00:04.
	// Optional. Default value DefaultLeeway (5s); negative is an error.
	Leeway time.Duration
	// HTTPClient fetches the JWK Set.
	// Optional. Default value http.DefaultClient (each fetch is still
	// bounded to 10s).
	HTTPClient *http.Client
	// Now is the clock that exp and nbf are checked against.
	// Optional. Default value time.Now.
	Now func() time.Time
	// Logger receives JWKS fetch failures (never tokens).
	// Optional. Default value: discards.
	Logger *slog.Logger
}

// Identity is who a verified token speaks for.
type Identity struct {
	// ClientID is the token's sub claim: 1–255 bytes, no control characters.
	ClientID string
	// Admin is true when the scope claim contains AdminScope.
	Admin bool
}

// Authenticator verifies bearer tokens. It is safe for concurrent use.
type Authenticator struct {
	ctx    context.Context // bounds Verify's JWKS refetches; ends the refresh goroutine
	secret []byte
	jwks   keyfunc.Keyfunc // nil without a JWKS URL
	parser *jwt.Parser
	now    func() time.Time
	leeway time.Duration
	cache  *tokenCache
}

// NewAuthenticator checks cfg and returns an Authenticator.
//
// With a JWKS URL it fetches the key set once, synchronously (at most 10s),
// and starts a goroutine that refreshes it hourly until ctx ends. A JWKS
// that is down or answers garbage at start does not fail construction (it
// is logged): until a fetch succeeds, RS256/ES256 tokens fail to verify, and
// the first token with a kid triggers a refetch, then at most one a minute.
// HS256 tokens are unaffected.
func NewAuthenticator(ctx context.Context, cfg AuthConfig) (*Authenticator, error) {
	if len(cfg.Secret) == 0 && cfg.JWKSURL == "" {
		return nil, errors.New("api: auth: a JWT secret or a JWKS URL is required")
	}
	if len(cfg.Secret) > 0 && len(cfg.Secret) < MinSecretLen {
		return nil, fmt.Errorf("api: auth: the JWT secret is %d bytes; at least %d are required", len(cfg.Secret), MinSecretLen)
	}
	if cfg.Leeway < 0 {
		return nil, fmt.Errorf("api: auth: negative leeway %s", cfg.Leeway)
	}
	if cfg.Leeway == 0 {
		cfg.Leeway = DefaultLeeway
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}

	a := &Authenticator{ctx: ctx, secret: cfg.Secret, now: cfg.Now, leeway: cfg.Leeway, cache: newTokenCache()}
	var methods []string
	if len(cfg.Secret) > 0 {
		methods = append(methods, jwt.SigningMethodHS256.Alg())
	}
	if cfg.JWKSURL != "" {
		u, err := url.Parse(cfg.JWKSURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return nil, errors.New("api: auth: the JWKS URL must be an absolute http or https URL")
		}
		a.jwks, err = newJWKS(ctx, u, cfg.HTTPClient, cfg.Logger)
		if err != nil {
			return nil, err
		}
		methods = append(methods, jwt.SigningMethodRS256.Alg(), jwt.SigningMethodES256.Alg())
	}

	opts := []jwt.ParserOption{
		jwt.WithValidMethods(methods),
		jwt.WithExpirationRequired(),
		jwt.WithLeeway(cfg.Leeway),
		jwt.WithTimeFunc(cfg.Now),
		jwt.WithStrictDecoding(),
	}
	if cfg.Issuer != "" {
		opts = append(opts, jwt.WithIssuer(cfg.Issuer))
	}
	if cfg.Audience != "" {
		opts = append(opts, jwt.WithAudience(cfg.Audience))
	}
	a.parser = jwt.NewParser(opts...)
	return a, nil
}

// Verify checks a raw JWT (without "Bearer ") and returns its Identity.
// JWKS refetches it may trigger are bounded by the context given to
// NewAuthenticator; prefer VerifyContext on a request path.
func (a *Authenticator) Verify(raw string) (Identity, error) {
	return a.VerifyContext(a.ctx, raw)
}

// VerifyContext is Verify with a context bounding any JWKS refetch (an
// unknown kid). Every error wraps ErrInvalidToken and jwt's own sentinel
// (jwt.ErrTokenExpired …); none contains the token.
func (a *Authenticator) VerifyContext(ctx context.Context, raw string) (Identity, error) {
	p, err := a.verify(ctx, raw)
	if err != nil {
		return Identity{}, err
	}
	return p.Identity, nil
}

// verify is VerifyContext returning the token's principal, shared with the
// cache: callers must not change it.
func (a *Authenticator) verify(ctx context.Context, raw string) (*principal, error) {
	if len(raw) > MaxTokenLen {
		return nil, fmt.Errorf("%w: longer than %d bytes", ErrInvalidToken, MaxTokenLen)
	}
	now := a.now()
	if p, ok := a.cache.get(raw, now); ok {
		return p, nil
	}
	var cl claims
	if _, err := a.parser.ParseWithClaims(raw, &cl, a.keyFunc(ctx)); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidToken, err)
	}
	if err := checkTokenJSON(raw); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidToken, err)
	}
	if err := checkSubject(cl.Subject); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidToken, err)
	}
	p := &principal{Identity: Identity{ClientID: cl.Subject, Admin: slices.Contains(cl.Scope, AdminScope)}, key: UserKey(cl.Subject)}
	e := tokenEntry{p: p}
	if cl.NotBefore != nil {
		e.notBefore = cl.NotBefore.Add(-a.leeway)
	}
	a.cache.put(raw, e, minTime(cl.ExpiresAt.Add(a.leeway), now.Add(tokenCacheTTL)), now)
	return p, nil
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

// claims are the JWT claims quotad reads.
type claims struct {
	jwt.RegisteredClaims
	Scope scope `json:"scope"`
}

// scope is the scope claim: a space-separated string ("read quota:admin")
// or a JSON array of strings (["read", "quota:admin"]). Anything else makes
// the token invalid.
type scope []string

// UnmarshalJSON accepts a string or an array of strings.
func (s *scope) UnmarshalJSON(b []byte) error {
	var str string
	if err := json.Unmarshal(b, &str); err == nil && string(b) != "null" {
		*s = strings.Fields(str)
		return nil
	}
	var list []string
	if err := json.Unmarshal(b, &list); err == nil && string(b) != "null" {
		*s = list
		return nil
	}
	return errors.New("scope must be a string or an array of strings")
}

// checkSubject enforces the client ID rules on sub: 1–255 bytes of valid
// UTF-8, no control characters (it ends up in logs and Redis keys). A
// decoded token's sub is always valid UTF-8 (checkTokenJSON refuses what
// decoding would repair); MintToken's is checked here, since encoding it
// would turn each invalid byte into U+FFFD and mint a token for another
// client.
func checkSubject(sub string) error {
	switch {
	case sub == "":
		return errors.New("sub is missing or empty")
	case len(sub) > 255:
		return fmt.Errorf("sub is %d bytes; at most 255 are allowed", len(sub))
	case !utf8.ValidString(sub):
		return errors.New("sub is not valid UTF-8")
	case strings.ContainsFunc(sub, unicode.IsControl):
		return errors.New("sub contains control characters")
	}
	return nil
}

// Middleware verifies the Authorization header. Without one the request
// goes on anonymous. With one, it must be "Bearer <token>" (scheme in any
// case) holding a valid token, whose Identity IdentityFrom then returns;
// anything else is a 401 — a bad token is never treated as anonymous.
func (a *Authenticator) Middleware() echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			values := c.Request().Header.Values(echo.HeaderAuthorization)
			if len(values) == 0 {
				return next(c)
			}
			if len(values) > 1 {
				return unauthorized(c, "send one Authorization header", nil)
			}
			scheme, raw, ok := strings.Cut(values[0], " ")
			if !ok || !strings.EqualFold(scheme, "Bearer") || raw == "" || strings.ContainsAny(raw, " \t") {
				return unauthorized(c, `the Authorization header must be "Bearer <token>"`, nil)
			}
			p, err := a.verify(c.Request().Context(), raw)
			if err != nil {
				return unauthorized(c, reason(err), err)
			}
			c.Set(identityKey, p)
			return next(c)
		}
	}
}

// reason is the short, public explanation of a refused token.
func reason(err error) string {
	switch {
	case errors.Is(err, jwt.ErrTokenExpired):
		return "the token has expired"
	case errors.Is(err, jwt.ErrTokenNotValidYet):
		return "the token is not valid yet"
	}
	return "invalid token"
}

// unauthorized is the 401 of a present but unusable token (RFC 6750 §3.1).
func unauthorized(c echo.Context, msg string, cause error) error {
	c.Response().Header().Set(echo.HeaderWWWAuthenticate, `Bearer error="invalid_token"`)
	he := NewError(http.StatusUnauthorized, CodeUnauthorized, msg)
	he.Internal = cause
	return he
}

// IdentityFrom returns the identity Middleware verified, and false for an
// anonymous request.
func IdentityFrom(c echo.Context) (Identity, bool) {
	p, ok := principalFrom(c)
	if !ok {
		return Identity{}, false
	}
	return p.Identity, true
}

// principalFrom returns the principal Middleware stored in c, if any.
func principalFrom(c echo.Context) (*principal, bool) {
	p, ok := c.Get(identityKey).(*principal)
	return p, ok
}

// RequireAdmin admits only callers whose token has the quota:admin scope:
// no token is a 401, a token without the scope a 403. Mount it after
// Authenticator.Middleware.
func RequireAdmin() echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			id, ok := IdentityFrom(c)
			if !ok {
				c.Response().Header().Set(echo.HeaderWWWAuthenticate, "Bearer")
				return NewError(http.StatusUnauthorized, CodeUnauthorized, "a bearer token is required")
			}
			if !id.Admin {
				c.Response().Header().Set(echo.HeaderWWWAuthenticate, `Bearer error="insufficient_scope", scope="`+AdminScope+`"`)
				return NewError(http.StatusForbidden, CodeForbidden, "the token lacks the "+AdminScope+" scope")
			}
			return next(c)
		}
	}
}
