package api

import (
	"encoding/binary"
	"encoding/hex"
	"errors"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"
)

// newRequestID returns 16 random hex digits. Request ids need to be
// unique, not secret: the runtime's generator avoids a syscall per request.
func newRequestID() string {
	var b [8]byte
	binary.LittleEndian.PutUint64(b[:], rand.Uint64())
	return hex.EncodeToString(b[:])
}

// logRequests writes one structured line per request and records HTTP
// metrics. It names the client (token subject or IP bucket), never the token.
func (s *server) logRequests(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		start := time.Now()
		ri := &requestInfo{}
		c.Set(ctxInfo, ri)
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
		if ri.key != "" {
			attrs = append(attrs, slog.String("client", ri.key))
		} else if id, ok := IdentityFrom(c); ok {
			attrs = append(attrs, slog.String("client", UserKey(id.ClientID)))
		}
		if ri.hasTier {
			attrs = append(attrs, slog.String("tier", ri.tier.Name))
		}
		if ri.outcome != "" {
			attrs = append(attrs, slog.String("outcome", ri.outcome))
		}
		s.log.LogAttrs(c.Request().Context(), slog.LevelInfo, "request", attrs...)
		return err
	}
}
