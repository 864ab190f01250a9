package quota

import (
	"context"
	"errors"
)

// ErrUnavailable is wrapped by every error that means the store could not
// decide: unreachable, too slow, or cooling off after repeated failures.
// Middleware applies its FailureMode to such errors.
var ErrUnavailable = errors.New("quota: store unavailable")

// store keeps the per-window counters behind a Limiter.
//
// Implementations must be safe for concurrent use and exact: across every
// caller sharing the store, Allow admits a request of cost n only if every
// window of l has n left, and then counts n in every one of them; a refused
// request counts in none. Windows are those of Window.bounds, on the
// store's own clock. Stores do not validate l or n; the Limiter does.
type store interface {
	// Allow consumes n of key's current windows if every one has room,
	// and reports the outcome.
	Allow(ctx context.Context, key string, l Limit, n int64) (Decision, error)
	// Peek reports key's current windows without consuming anything.
	Peek(ctx context.Context, key string, l Limit) (Decision, error)
	// Reset forgets key's counts for the windows of l.
	Reset(ctx context.Context, key string, l Limit) error
}
