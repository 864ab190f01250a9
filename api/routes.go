package api

import (
	"strings"

	"github.com/labstack/echo/v4"
)

// routes mounts every route of quotad; openapi.yaml describes each one.
func (s *server) routes(e *echo.Echo, limit echo.MiddlewareFunc) {
	auth := s.cfg.Auth.Middleware()
	admin := []echo.MiddlewareFunc{auth, RequireAdmin(), oneSegmentParams}

	// Consumers. Only /rate-limited spends quota; /v1/quota reads it.
	e.GET("/rate-limited", s.rateLimited, auth, limit)
	e.GET("/v1/quota", s.ownQuota, auth)
	e.GET("/v1/tiers", s.publicTiers)

	// Admins.
	e.GET("/v1/admin/tiers", s.listTiers, admin...)
	e.POST("/v1/admin/tiers", s.createTier, admin...)
	e.GET("/v1/admin/tiers/:name", s.getTier, admin...)
	e.PUT("/v1/admin/tiers/:name", s.putTier, admin...)
	e.DELETE("/v1/admin/tiers/:name", s.deleteTier, admin...)
	e.GET("/v1/admin/clients", s.listClients, admin...)
	e.GET("/v1/admin/clients/:id", s.getClient, admin...)
	e.PUT("/v1/admin/clients/:id", s.putClient, admin...)
	e.DELETE("/v1/admin/clients/:id", s.deleteClient, admin...)
	e.GET("/v1/admin/clients/:id/quota", s.clientQuota, admin...)
	e.DELETE("/v1/admin/clients/:id/quota", s.resetClientQuota, admin...)

	// Operations.
	// HEAD as well: load balancers often probe that way. net/http sends
	// the headers (Content-Length included) and drops the body.
	e.GET("/healthz", s.healthz)
	e.HEAD("/healthz", s.healthz)
	e.GET("/readyz", s.readyz)
	e.HEAD("/readyz", s.readyz)
	e.GET("/metrics", s.metricsHandler)
	e.GET("/openapi.yaml", s.openAPI)
}

// oneSegmentParams answers 404 when a path parameter spans several path
// segments: Echo lets the last parameter of a route take the rest of the
// path, so "/v1/admin/tiers/x/y" would reach the tier handlers as a tier
// named "x/y" and get a 422 about the name, when no such resource exists.
// An escaped slash ("x%2Fy") stays one segment: it is a bad name (422).
func oneSegmentParams(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		for _, v := range c.ParamValues() {
			if strings.Contains(v, "/") {
				return echo.ErrNotFound
			}
		}
		return next(c)
	}
}
