package api

import (
	"errors"
	"fmt"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// TokenClaims describes a token for MintToken.
type TokenClaims struct {
	// Subject is the client ID (sub): 1–255 bytes, no control characters.
	// Required.
	Subject string
	// Admin adds the scope "quota:admin", which grants the admin API.
	// Optional. Default value false.
	Admin bool
	// TTL is how long the token lives: exp = now + TTL. Required, > 0.
	TTL time.Duration
	// Issuer is the iss claim; set it when quotad checks QUOTA_JWT_ISSUER.
	// Optional. Default value: no iss.
	Issuer string
	// Audience is the aud claim; set it when quotad checks
	// QUOTA_JWT_AUDIENCE.
	// Optional. Default value: no aud.
	Audience string
	// Now is the clock for iat and exp.
	// Optional. Default value time.Now.
	Now func() time.Time
}

// MintToken returns an HS256 JWT signed with secret (at least MinSecretLen
// bytes) that an Authenticator with the same secret accepts. Its claims are
// sub, iat, exp and, when set, scope, iss and aud; e.g. Subject "acme",
// Admin, TTL 1h at 12:00 gives
// {"sub":"acme","iat":<12:00>,"exp":<13:00>,"scope":"quota:admin"}.
func MintToken(secret []byte, c TokenClaims) (string, error) {
	if len(secret) < MinSecretLen {
		return "", fmt.Errorf("api: mint token: the secret is %d bytes; at least %d are required", len(secret), MinSecretLen)
	}
	if err := checkSubject(c.Subject); err != nil {
		return "", fmt.Errorf("api: mint token: %w", err)
	}
	if c.TTL <= 0 {
		return "", errors.New("api: mint token: TTL must be positive")
	}
	now := time.Now
	if c.Now != nil {
		now = c.Now
	}
	t := now()
	cl := mintClaims{RegisteredClaims: jwt.RegisteredClaims{
		Subject:   c.Subject,
		Issuer:    c.Issuer,
		IssuedAt:  jwt.NewNumericDate(t),
		ExpiresAt: jwt.NewNumericDate(t.Add(c.TTL)),
	}}
	if c.Audience != "" {
		cl.Audience = jwt.ClaimStrings{c.Audience}
	}
	if c.Admin {
		cl.Scope = AdminScope
	}
	s, err := jwt.NewWithClaims(jwt.SigningMethodHS256, cl).SignedString(secret)
	if err != nil {
		return "", fmt.Errorf("api: mint token: %w", err)
	}
	return s, nil
}

// mintClaims are the claims MintToken writes.
type mintClaims struct {
	jwt.RegisteredClaims
	Scope string `json:"scope,omitempty"`
}
