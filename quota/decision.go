package quota

import "time"

// Decision is the outcome of one request against a Limit.
//
// With a Limit of 10 per minute and 6 requests already admitted in the
// window that ends at 12:01:00, an Allow at 12:00:45 returns Allowed true,
// Remaining 3, Reset 12:01:00, ResetAfter 15s and RetryAfter 0. The eleventh
// request of that window returns Allowed false, Remaining 0 and a RetryAfter
// equal to ResetAfter.
type Decision struct {
	// Allowed reports whether the request was admitted (for Peek: whether
	// one more request would be).
	Allowed bool
	// Limit is the quota the decision was made against.
	Limit Limit
	// Remaining is how many more requests the current window admits; never
	// negative.
	Remaining int64
	// Reset is when the current window ends, on the store's clock.
	Reset time.Time
	// ResetAfter is the time left until Reset.
	ResetAfter time.Duration
	// RetryAfter is how long a refused caller should wait; 0 when Allowed.
	RetryAfter time.Duration
}

// newDecision builds a Decision from a window's count. resetAfter is taken
// from the store's clock, so callers never compare clocks of two machines.
func newDecision(l Limit, allowed bool, count int64, reset time.Time, resetAfter time.Duration) Decision {
	resetAfter = max(resetAfter, 0)
	d := Decision{
		Allowed:    allowed,
		Limit:      l,
		Remaining:  max(l.Requests-count, 0),
		Reset:      reset,
		ResetAfter: resetAfter,
	}
	if !allowed {
		d.RetryAfter = resetAfter
	}
	return d
}
