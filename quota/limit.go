package quota

import (
	"errors"
	"fmt"
	"time"
)

// MaxRequests is the largest Limit.Requests a Limiter accepts.
const MaxRequests = 1_000_000_000

// MaxPer is the longest window a Limiter accepts: one year of 365 days.
const MaxPer = 365 * 24 * time.Hour

// DefaultPolicyName names a Limit whose Name is empty in the RateLimit and
// RateLimit-Policy headers.
const DefaultPolicyName = "default"

// ErrInvalidLimit is wrapped by every error about a malformed Limit.
var ErrInvalidLimit = errors.New("quota: invalid limit")

// Limit is a quota: Requests admitted per window of length Per.
//
// Windows are fixed and aligned to multiples of Per since the Unix epoch, so
// a Limit of 100 per 30s has windows [12:00:00, 12:00:30), [12:00:30,
// 12:01:00), … on every instance.
type Limit struct {
	// Name identifies the limit (a plan tier, say) in the RateLimit and
	// RateLimit-Policy headers. Empty means DefaultPolicyName.
	Name string
	// Requests is how many requests a window admits: 1 … MaxRequests.
	Requests int64
	// Per is the window length: whole seconds, 1s … MaxPer.
	Per time.Duration
}

// PerSecond returns a Limit of n requests per second.
func PerSecond(n int64) Limit { return Limit{Requests: n, Per: time.Second} }

// PerMinute returns a Limit of n requests per minute.
func PerMinute(n int64) Limit { return Limit{Requests: n, Per: time.Minute} }

// PerHour returns a Limit of n requests per hour.
func PerHour(n int64) Limit { return Limit{Requests: n, Per: time.Hour} }

// Validate reports whether l can be enforced. Windows are whole seconds
// because the store's clock (Redis TIME) aligns them on second boundaries.
func (l Limit) Validate() error {
	switch {
	case l.Requests < 1 || l.Requests > MaxRequests:
		return fmt.Errorf("%w: requests %d not in 1…%d", ErrInvalidLimit, l.Requests, MaxRequests)
	case l.Per < time.Second || l.Per > MaxPer:
		return fmt.Errorf("%w: per %v not in 1s…%v", ErrInvalidLimit, l.Per, MaxPer)
	case l.Per%time.Second != 0:
		return fmt.Errorf("%w: per %v is not a whole number of seconds", ErrInvalidLimit, l.Per)
	}
	return nil
}

// PolicyName returns l.Name, or DefaultPolicyName when it is empty.
func (l Limit) PolicyName() string {
	if l.Name == "" {
		return DefaultPolicyName
	}
	return l.Name
}

// seconds returns the window length in whole seconds.
func (l Limit) seconds() int64 { return int64(l.Per / time.Second) }

// String formats l for messages, e.g. "pro: 1000 per 1m0s".
func (l Limit) String() string {
	return fmt.Sprintf("%s: %d per %v", l.PolicyName(), l.Requests, l.Per)
}
