package quota

import (
	"context"
	"errors"
)

// ErrUnavailable is wrapped by every error that means the store could not
// decide: unreachable, too slow, or cooling off after repeated failures.
// Middleware applies its FailureMode to such errors.
var ErrUnavailable = errors.New("quota: store unavailable")

// Store keeps the per-window counters behind a Limiter.
//
// Implementations must be safe for concurrent use and exact: across every
// caller sharing the store, Allow admits no more and no fewer than
// l.Requests calls per key and window. Windows are aligned to multiples of
// l.Per since the Unix epoch on the store's own clock. Stores do not
// validate l; the Limiter does.
type Store interface {
	// Allow consumes one request of key's current window if the window has
	// room, and reports the outcome.
	Allow(ctx context.Context, key string, l Limit) (Decision, error)
	// Peek reports key's current window without consuming anything.
	Peek(ctx context.Context, key string, l Limit) (Decision, error)
	// Reset forgets key's count for windows of length l.Per.
	Reset(ctx context.Context, key string, l Limit) error
}
