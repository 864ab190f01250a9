// Package quota is an exact fixed-window rate limiter on Redis, with an
// Echo middleware.
//
// A [Limit] is a plan of one to four windows, such as 20 requests per second
// and a million per calendar month. A [Limiter] admits a request under a key
// only if every window has room for it, exactly: with 10 per minute, the 10
// requests admitted between 12:00:00 and 12:00:59 are followed by refusals
// until 12:01:00, whatever the number of goroutines, processes or hosts
// that share the Redis. Windows are aligned to multiples of their length
// since the Unix epoch, months to the Limit's anchor day.
//
// [New] takes the go-redis client an app already has (a Client,
// ClusterClient or Ring); [NewInMemory] counts in one process. The
// limiter makes one round trip per admitted decision; a key known to be over
// its limit is refused from memory until its window ends. [Middleware] and
// [MiddlewareWithConfig] mount a Limiter on Echo routes and write the
// X-RateLimit-* and IETF RateLimit/RateLimit-Policy headers.
//
// A metered Limit ([Limit].Meter) also counts, in the same atomic step as
// the decision, what it admitted, refused and admitted past a soft month
// window, per key and UTC day, and notes when a month window first reaches
// 80 % and 100 %; [Limiter.ReadUsage] reads those counts for a billing
// store and [Limiter.Settle] removes them once copied.
package quota
