// Package tiers holds quotad's plans ("tiers") and which client is on which
// plan: the Postgres schema access (Store), the migrations runner (Migrate)
// and the in-memory Cache the request path reads from.
//
// A tier says how many requests a client may make per window; every request
// resolves to one: anonymous callers to Anonymous, authenticated clients to
// their assigned tier or, when never assigned, to Free. Both built-in tiers
// are created by the migrations and cannot be deleted.
//
// Writes go through Store and straight to Postgres. Reads on the request path
// go through Cache, which holds every tier and every client assignment and
// is kept fresh by LISTEN/NOTIFY: a change made on any instance (or with
// psql) reaches every Cache within a second. Every row carries a version,
// so a Cache applies changes newest-wins whatever order they arrive in.
//
// The package knows nothing of HTTP or of the limiter; errors are the
// sentinels in errors.go plus *ValidationError, for callers to map.
package tiers
