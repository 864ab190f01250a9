package main

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/quotad/quotad/api"
	"github.com/quotad/quotad/metering"
	"github.com/quotad/quotad/quota"
)

// config is quotad's configuration, read from the environment.
type config struct {
	Addr            string
	DatabaseURL     string
	RedisURL        string
	JWTSecret       []byte
	JWKSURL         string
	Issuer          string
	Audience        string
	TrustedProxies  []string
	FailureMode     quota.FailureMode
	RedisTimeout    time.Duration
	ShutdownTimeout time.Duration
	StartupTimeout  time.Duration
	LogFormat       string
	WriteTimeout    time.Duration
	MaxConns        int
	AccessLog       api.AccessLog
	WebhookURL      string
	WebhookSecret   []byte
	MeterInterval   time.Duration
	// AuthorizeDenyStatus is /v1/authorize's refusal: 429, or 403 for
	// nginx's auth_request.
	AuthorizeDenyStatus int
}

// Defaults of the settings SPEC.md fixes, and of quotad's own.
const (
	defaultAddr            = ":8080"
	defaultDatabaseURL     = "postgres://postgres@localhost:5432/quota?sslmode=disable"
	defaultRedisURL        = "redis://localhost:6379/0"
	defaultShutdownTimeout = 15 * time.Second
	defaultStartupTimeout  = 30 * time.Second
	maxWriteTimeout        = time.Minute
	// defaultRedisTimeout is QUOTA_REDIS_TIMEOUT's default, the same as
	// quota.Config.Timeout's.
	defaultRedisTimeout = 100 * time.Millisecond
	// maxMeterInterval bounds QUOTA_METER_INTERVAL: usage must show in
	// the API within 15 s, and a Redis loss costs up to one interval.
	maxMeterInterval = 10 * time.Second
)

// loadConfig reads every setting and returns the first bad one as a single
// line naming it: quotad never starts half-configured.
func loadConfig(getenv func(string) string) (config, error) {
	get := func(name, def string) string {
		if v := strings.TrimSpace(getenv(name)); v != "" {
			return v
		}
		return def
	}
	c := config{
		Addr:      get("QUOTA_ADDR", defaultAddr),
		RedisURL:  get("REDIS_URL", defaultRedisURL),
		JWTSecret: []byte(getenv("QUOTA_JWT_SECRET")),
		JWKSURL:   get("QUOTA_JWT_JWKS_URL", ""),
		Issuer:    get("QUOTA_JWT_ISSUER", ""),
		Audience:  get("QUOTA_JWT_AUDIENCE", ""),
		LogFormat: get("QUOTA_LOG_FORMAT", "json"),
	}
	if len(c.JWTSecret) == 0 && c.JWKSURL == "" {
		return c, errors.New("QUOTA_JWT_SECRET: required (at least 32 bytes) unless QUOTA_JWT_JWKS_URL is set")
	}
	if len(c.JWTSecret) > 0 && len(c.JWTSecret) < 32 {
		return c, fmt.Errorf("QUOTA_JWT_SECRET: %d bytes is too short; use at least 32 (e.g. openssl rand -hex 32)", len(c.JWTSecret))
	}
	if c.JWKSURL != "" {
		if u, err := url.Parse(c.JWKSURL); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			return c, fmt.Errorf("QUOTA_JWT_JWKS_URL: %q is not an http(s) URL", c.JWKSURL)
		}
	}
	var err error
	if c.DatabaseURL, err = databaseURL(getenv); err != nil {
		return c, err
	}
	rdb, err := parseRedisURL(c.RedisURL)
	if err != nil {
		return c, fmt.Errorf("REDIS_URL: %w", err)
	}
	rdb.Close()
	for _, p := range strings.Split(getenv("QUOTA_TRUSTED_PROXIES"), ",") {
		if p = strings.TrimSpace(p); p != "" {
			c.TrustedProxies = append(c.TrustedProxies, p)
		}
	}
	if _, err := quota.NewIPExtractor(c.TrustedProxies); err != nil {
		return c, fmt.Errorf("QUOTA_TRUSTED_PROXIES: %w", err)
	}
	switch mode := get("QUOTA_REDIS_FAILURE", "open"); mode {
	case "open":
		c.FailureMode = quota.FailOpen
	case "closed":
		c.FailureMode = quota.FailClosed
	default:
		return c, fmt.Errorf("QUOTA_REDIS_FAILURE: %q is neither open nor closed", mode)
	}
	if c.RedisTimeout, err = duration(get, "QUOTA_REDIS_TIMEOUT", defaultRedisTimeout); err != nil {
		return c, err
	}
	if c.ShutdownTimeout, err = duration(get, "QUOTA_SHUTDOWN_TIMEOUT", defaultShutdownTimeout); err != nil {
		return c, err
	}
	if c.StartupTimeout, err = duration(get, "QUOTA_STARTUP_TIMEOUT", defaultStartupTimeout); err != nil {
		return c, err
	}
	if c.LogFormat != "json" && c.LogFormat != "text" {
		return c, fmt.Errorf("QUOTA_LOG_FORMAT: %q is neither json nor text", c.LogFormat)
	}
	if c.AccessLog, err = api.ParseAccessLog(get("QUOTA_ACCESS_LOG", api.AccessLogErrors.String())); err != nil {
		return c, fmt.Errorf("QUOTA_ACCESS_LOG: %w", err)
	}
	if c.WriteTimeout, err = duration(get, "QUOTA_WRITE_TIMEOUT", api.DefaultWriteTimeout); err != nil {
		return c, err
	}
	if c.WriteTimeout > maxWriteTimeout {
		return c, fmt.Errorf("QUOTA_WRITE_TIMEOUT: %v is longer than %v; a client that stops reading would hold its connection's buffers that long", c.WriteTimeout, maxWriteTimeout)
	}
	if c.MaxConns, err = count(get, "QUOTA_MAX_CONNS", api.DefaultMaxConns); err != nil {
		return c, err
	}
	if c.WebhookURL, c.WebhookSecret, err = webhookSettings(get, getenv); err != nil {
		return c, err
	}
	if c.MeterInterval, err = duration(get, "QUOTA_METER_INTERVAL", metering.DefaultInterval); err != nil {
		return c, err
	}
	if c.MeterInterval > maxMeterInterval {
		return c, fmt.Errorf("QUOTA_METER_INTERVAL: %v is longer than %v; usage must show within 15 s", c.MeterInterval, maxMeterInterval)
	}
	switch status := get("QUOTA_AUTHORIZE_DENY_STATUS", "429"); status {
	case "429":
		c.AuthorizeDenyStatus = http.StatusTooManyRequests
	case "403":
		c.AuthorizeDenyStatus = http.StatusForbidden
	default:
		return c, fmt.Errorf("QUOTA_AUTHORIZE_DENY_STATUS: %q is neither 429 nor 403", status)
	}
	return c, nil
}

// webhookSettings reads QUOTA_WEBHOOK_URL and, when it is set, the secret
// that signs deliveries, held to QUOTA_JWT_SECRET's length. Neither error
// quotes the secret, nor the URL, which may carry credentials.
func webhookSettings(get func(string, string) string, getenv func(string) string) (string, []byte, error) {
	raw := get("QUOTA_WEBHOOK_URL", "")
	if raw == "" {
		return "", nil, nil
	}
	if u, err := url.Parse(raw); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return "", nil, errors.New("QUOTA_WEBHOOK_URL: not an absolute http(s) URL")
	}
	secret := []byte(getenv("QUOTA_WEBHOOK_SECRET"))
	if len(secret) < 32 {
		return "", nil, fmt.Errorf("QUOTA_WEBHOOK_SECRET: required with QUOTA_WEBHOOK_URL, at least 32 bytes (%d given; e.g. openssl rand -hex 32)", len(secret))
	}
	return raw, secret, nil
}

// databaseURL reads DATABASE_URL, the one setting migrate needs.
func databaseURL(getenv func(string) string) (string, error) {
	u := strings.TrimSpace(getenv("DATABASE_URL"))
	if u == "" {
		u = defaultDatabaseURL
	}
	if !strings.HasPrefix(u, "postgres://") && !strings.HasPrefix(u, "postgresql://") {
		return "", errors.New("DATABASE_URL: must be a postgres:// URL")
	}
	return u, nil
}

// duration reads a positive Go duration ("100ms", "2s").
func duration(get func(string, string) string, name string, def time.Duration) (time.Duration, error) {
	v := get(name, "")
	if v == "" {
		return def, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil || d <= 0 {
		return 0, fmt.Errorf("%s: %q is not a positive duration such as 100ms or 2s", name, v)
	}
	return d, nil
}

// count reads a positive whole number ("10000").
func count(get func(string, string) string, name string, def int) (int, error) {
	v := get(name, "")
	if v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 {
		return 0, fmt.Errorf("%s: %q is not a whole number of at least 1", name, v)
	}
	return n, nil
}
