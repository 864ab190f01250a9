package api

import (
	"context"
	"net/http"
	"sync"
	"time"

	"github.com/labstack/echo/v4"
)

// readyTimeout bounds each dependency check of /readyz.
const readyTimeout = time.Second

func (s *server) healthz(c echo.Context) error {
	return c.JSON(http.StatusOK, map[string]string{"status": "ok"})
}

// readyz asks every dependency at once and answers 503 if any fails, with
// the state of each ("ok" or "unavailable"; causes go to the log only).
func (s *server) readyz(c echo.Context) error {
	ctx, cancel := context.WithTimeout(c.Request().Context(), readyTimeout)
	defer cancel()
	var mu sync.Mutex
	var wg sync.WaitGroup
	checks := make(map[string]string, len(s.cfg.Checks)+1)
	ready := true
	for name, check := range s.cfg.Checks {
		wg.Go(func() {
			err := check(ctx)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				ready = false
				checks[name] = "unavailable"
				s.log.WarnContext(ctx, "readiness check failed", "check", name, "err", err)
				return
			}
			checks[name] = "ok"
		})
	}
	wg.Wait()
	checks["tier_listener"] = "ok"
	if !s.tiers.Connected() {
		checks["tier_listener"] = "reconnecting"
	}
	status, code := "ready", http.StatusOK
	if !ready {
		status, code = "not_ready", http.StatusServiceUnavailable
	}
	return c.JSON(code, map[string]any{"status": status, "checks": checks})
}

func (s *server) openAPI(c echo.Context) error {
	if s.openapi == nil {
		return NewError(http.StatusNotFound, CodeNotFound, "no OpenAPI document is bundled")
	}
	s.openapi.ServeHTTP(c.Response(), c.Request())
	return nil
}

func (s *server) metricsHandler(c echo.Context) error {
	s.metrics.handler.ServeHTTP(c.Response(), c.Request())
	return nil
}
