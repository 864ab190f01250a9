package api

import (
	"strings"

	"github.com/labstack/echo/v4"
)

// routes mounts every route of quotad; openapi.yaml describes each one.
func (s *server) routes(e *echo.Echo, limit echo.MiddlewareFunc) {
	auth := s.cfg.Auth.Middleware()
	admin := func(h echo.HandlerFunc) echo.HandlerFunc {
		return chain(h, auth, RequireAdmin(), oneSegmentParams)
	}
	// Admin POSTs and PUTs honour Idempotency-Key.
	adminWrite := func(h echo.HandlerFunc) echo.HandlerFunc {
		return chain(h, auth, RequireAdmin(), oneSegmentParams, s.idempotent)
	}

	// Every GET answers HEAD as well, as HTTP asks: the same handler,
	// status and headers (Content-Length included), and net/http drops the
	// body. Load balancers and link checkers probe that way.

	// Consumers. Only /rate-limited spends quota; /v1/quota reads it.
	e.GET("/rate-limited", chain(s.rateLimited, auth, limit))
	e.HEAD("/rate-limited", chain(s.rateLimited, auth, limit))
	e.GET("/v1/quota", chain(s.ownQuota, auth))
	e.HEAD("/v1/quota", chain(s.ownQuota, auth))
	e.GET("/v1/tiers", s.publicTiers)
	e.HEAD("/v1/tiers", s.publicTiers)
	e.GET("/v1/usage", chain(s.ownUsage, auth))
	e.HEAD("/v1/usage", chain(s.ownUsage, auth))

	// Gateways ask whether a request may go through, with whatever method
	// it has (Envoy sends the original one); a body they forward is
	// never read.
	authorize := chain(s.authorize, auth)
	e.GET("/v1/authorize", authorize)
	e.HEAD("/v1/authorize", authorize)
	e.POST("/v1/authorize", authorize)
	e.PUT("/v1/authorize", authorize)
	e.PATCH("/v1/authorize", authorize)
	e.DELETE("/v1/authorize", authorize)
	e.OPTIONS("/v1/authorize", authorize)
	e.GET("/v1/authorize/*", authorize)
	e.HEAD("/v1/authorize/*", authorize)
	e.POST("/v1/authorize/*", authorize)
	e.PUT("/v1/authorize/*", authorize)
	e.PATCH("/v1/authorize/*", authorize)
	e.DELETE("/v1/authorize/*", authorize)
	e.OPTIONS("/v1/authorize/*", authorize)

	// Admins.
	e.GET("/v1/admin/tiers", admin(s.listTiers))
	e.HEAD("/v1/admin/tiers", admin(s.listTiers))
	e.POST("/v1/admin/tiers", adminWrite(s.createTier))
	e.GET("/v1/admin/tiers/:name", admin(s.getTier))
	e.HEAD("/v1/admin/tiers/:name", admin(s.getTier))
	e.PUT("/v1/admin/tiers/:name", adminWrite(s.putTier))
	e.PATCH("/v1/admin/tiers/:name", admin(s.patchTier))
	e.DELETE("/v1/admin/tiers/:name", admin(s.deleteTier))
	e.GET("/v1/admin/clients", admin(s.listClients))
	e.HEAD("/v1/admin/clients", admin(s.listClients))
	e.GET("/v1/admin/clients/:id", admin(s.getClient))
	e.HEAD("/v1/admin/clients/:id", admin(s.getClient))
	e.PUT("/v1/admin/clients/:id", adminWrite(s.putClient))
	e.DELETE("/v1/admin/clients/:id", admin(s.deleteClient))
	e.GET("/v1/admin/clients/:id/quota", admin(s.clientQuota))
	e.HEAD("/v1/admin/clients/:id/quota", admin(s.clientQuota))
	e.DELETE("/v1/admin/clients/:id/quota", admin(s.resetClientQuota))
	e.GET("/v1/admin/clients/:id/usage", admin(s.clientUsage))
	e.HEAD("/v1/admin/clients/:id/usage", admin(s.clientUsage))
	e.GET("/v1/admin/clients/:id/webhook-events", admin(s.withWebhookEvents(s.clientWebhookEvents)))
	e.HEAD("/v1/admin/clients/:id/webhook-events", admin(s.withWebhookEvents(s.clientWebhookEvents)))
	e.GET("/v1/admin/usage", admin(s.monthUsage))
	e.HEAD("/v1/admin/usage", admin(s.monthUsage))
	e.GET("/v1/admin/audit", admin(s.listAudit))
	e.HEAD("/v1/admin/audit", admin(s.listAudit))
	e.GET("/v1/admin/operations", admin(s.withOperations(s.listOperations)))
	e.HEAD("/v1/admin/operations", admin(s.withOperations(s.listOperations)))
	e.POST("/v1/admin/operations", adminWrite(s.withOperations(s.createOperation)))
	e.GET("/v1/admin/operations/:name", admin(s.withOperations(s.getOperation)))
	e.HEAD("/v1/admin/operations/:name", admin(s.withOperations(s.getOperation)))
	e.PUT("/v1/admin/operations/:name", adminWrite(s.withOperations(s.putOperation)))
	e.DELETE("/v1/admin/operations/:name", admin(s.withOperations(s.deleteOperation)))

	// Operations.
	e.GET("/healthz", s.healthz)
	e.HEAD("/healthz", s.healthz)
	e.GET("/readyz", s.readyz)
	e.HEAD("/readyz", s.readyz)
	e.GET("/metrics", s.metricsHandler)
	e.HEAD("/metrics", s.metricsHandler)
	e.GET("/openapi.yaml", s.openAPI)
	e.HEAD("/openapi.yaml", s.openAPI)

	s.mountPages(e)
}

// chain wraps h in route middleware once, when the route is mounted, the
// first middleware outermost as in Echo. Echo applies the middleware it is
// given with a route again on every request, a closure per middleware per
// request; the handler built here is the same, built once.
func chain(h echo.HandlerFunc, mw ...echo.MiddlewareFunc) echo.HandlerFunc {
	for i := len(mw) - 1; i >= 0; i-- {
		h = mw[i](h)
	}
	return h
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
