package api

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"log/slog"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/quotad/quotad/tiers"
)

// newRequestID returns 16 random hex digits.
func newRequestID() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// logRequests writes one structured line per request and records HTTP
// metrics. It names the client (token subject or IP bucket), never the token.
func (s *server) logRequests(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		start := time.Now()
		err := next(c)
		status := c.Response().Status
		if err != nil {
			var he *echo.HTTPError
			if errors.As(err, &he) {
				status = he.Code
			} else {
				status = http.StatusInternalServerError
			}
		}
		took := time.Since(start)
		route := c.Path()
		if route == "" {
			route = "unmatched"
		}
		s.metrics.request(route, status, took)
		attrs := []slog.Attr{
			slog.String("request_id", c.Response().Header().Get(echo.HeaderXRequestID)),
			slog.String("method", c.Request().Method),
			slog.String("route", route),
			slog.Int("status", status),
			slog.Duration("took", took),
		}
		if key, ok := c.Get(ctxKey).(string); ok {
			attrs = append(attrs, slog.String("client", key))
		} else if id, ok := IdentityFrom(c); ok {
			attrs = append(attrs, slog.String("client", UserKey(id.ClientID)))
		}
		if t, ok := c.Get(ctxTier).(tiers.Tier); ok {
			attrs = append(attrs, slog.String("tier", t.Name))
		}
		if o, ok := c.Get(ctxOutcome).(string); ok {
			attrs = append(attrs, slog.String("outcome", o))
		}
		s.log.LogAttrs(c.Request().Context(), slog.LevelInfo, "request", attrs...)
		return err
	}
}
