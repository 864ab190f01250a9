// Package api is quotad's HTTP layer: routes, handlers, authentication,
// error mapping and metrics. It wires package tiers (plans, clients, the
// tier cache) to package quota (the limiter): the one place a tiers.Tier
// becomes a quota.Limit is the resolver in limits.go.
package api
