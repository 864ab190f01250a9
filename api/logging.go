package api

import (
	"encoding/binary"
	"encoding/hex"
	"errors"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"sync/atomic"
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
		// Room for every attribute below, so appending never reallocates.
		var buf [8]slog.Attr
		attrs := append(buf[:0],
			slog.String("request_id", c.Response().Header().Get(echo.HeaderXRequestID)),
			slog.String("method", c.Request().Method),
			slog.String("route", route),
			slog.Int("status", status),
			slog.Duration("took", took),
		)
		if ri.key != "" {
			attrs = append(attrs, slog.String("client", ri.key))
		} else if p, ok := principalFrom(c); ok {
			attrs = append(attrs, slog.String("client", p.key))
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

// throttleEvery spaces out log lines about one ongoing failure: a dead
// Redis or Postgres under load would otherwise log once per request.
const throttleEvery = 5 * time.Second

// throttle lets one log line through per throttleEvery and counts the ones
// it holds back, so the next line can say how many there were.
type throttle struct {
	last       atomic.Int64 // Unix nanoseconds of the last line let through
	suppressed atomic.Int64
}

// allow reports whether a line may be logged now, and how many were held
// back since the last one.
func (t *throttle) allow() (bool, int64) {
	now := time.Now().UnixNano()
	last := t.last.Load()
	if now-last < int64(throttleEvery) || !t.last.CompareAndSwap(last, now) {
		t.suppressed.Add(1)
		return false, 0
	}
	return true, t.suppressed.Swap(0)
}
