// Package quota is an exact fixed-window rate limiter with a Redis store, an
// in-memory store and an Echo middleware.
//
// A [Limiter] admits exactly [Limit.Requests] requests per key in every
// window of [Limit.Per], aligned to multiples of Per since the Unix epoch:
// with a limit of 10 per minute, the 10 requests admitted between 12:00:00
// and 12:00:59 are followed by refusals until 12:01:00, whatever the number
// of goroutines, processes or hosts that share the store.
//
// The Redis store makes one round trip per admitted decision; a key that is
// known to be over its limit is refused from memory until its window ends.
// [Middleware] mounts a Limiter on Echo routes and writes the
// X-RateLimit-* and IETF RateLimit/RateLimit-Policy headers.
package quota
