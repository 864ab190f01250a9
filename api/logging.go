package api

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/labstack/echo/v4"
	"golang.org/x/time/rate"
)

// AccessLog selects the requests that get a line in the request log.
// Metrics count every request whatever it says.
type AccessLog int

const (
	// AccessLogErrors logs responses 4xx and 5xx except 429, at most
	// accessLogRate lines a second: a refusal says nothing the metrics do
	// not, and a client sending garbage cannot grow the log faster than
	// that (100 lines of some 250 bytes a second is 0.5 MB per 20 s, at
	// any request rate). The next line let through counts those held back.
	AccessLogErrors AccessLog = iota
	// AccessLogAll logs every request, unsampled: the log grows with the
	// request rate, attackers' included.
	AccessLogAll
	// AccessLogNone logs no request; failures' causes are still logged.
	AccessLogNone
)

// Sampling of AccessLogErrors lines.
const (
	accessLogRate  = 100 // lines a second
	accessLogBurst = 100
)

var accessLogNames = [...]string{AccessLogErrors: "errors", AccessLogAll: "all", AccessLogNone: "none"}

// String returns the setting's name: "errors", "all" or "none".
func (a AccessLog) String() string {
	if a < 0 || int(a) >= len(accessLogNames) {
		return fmt.Sprintf("AccessLog(%d)", int(a))
	}
	return accessLogNames[a]
}

// ParseAccessLog reads an AccessLog by name: "all", "errors" or "none".
func ParseAccessLog(s string) (AccessLog, error) {
	for a, name := range accessLogNames {
		if s == name {
			return AccessLog(a), nil
		}
	}
	return 0, fmt.Errorf("%q is not all, errors or none", s)
}

// accessLogger decides which requests get a log line.
type accessLogger struct {
	mode       AccessLog
	lines      *rate.Limiter // AccessLogErrors only
	suppressed atomic.Int64
}

func newAccessLogger(mode AccessLog) *accessLogger {
	return &accessLogger{mode: mode, lines: rate.NewLimiter(accessLogRate, accessLogBurst)}
}

// allow reports whether a request answered with status at now gets a
// line, and how many lines were held back since the last one.
func (a *accessLogger) allow(status int, now time.Time) (bool, int64) {
	switch {
	case a.mode == AccessLogAll:
		return true, 0
	case a.mode == AccessLogNone, status < 400, status == http.StatusTooManyRequests:
		return false, 0
	case !a.lines.AllowN(now, 1):
		a.suppressed.Add(1)
		return false, 0
	}
	return true, a.suppressed.Swap(0)
}

// logRequests writes one structured line per request the access log
// setting selects, and records HTTP metrics for every request. It names
// the client (token subject or IP bucket), never the token.
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
		end := time.Now()
		took := end.Sub(start)
		route := c.Path()
		if route == "" {
			route = "unmatched"
		}
		s.metrics.request(route, status, took)
		ok, held := s.access.allow(status, end)
		if !ok {
			return err
		}
		// Room for every attribute below, so appending never reallocates.
		var buf [9]slog.Attr
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
		if held > 0 {
			attrs = append(attrs, slog.Int64("suppressed_since_last", held))
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
