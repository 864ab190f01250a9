package quota

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Bounds of a Limit that a Limiter accepts.
const (
	// MaxWindows is the most windows one Limit holds.
	MaxWindows = 4
	// MaxRequests is the largest Window.Requests, and the largest cost.
	MaxRequests = 1_000_000_000
	// MaxPer is the longest Window.Per of whole seconds: one year of 365
	// days.
	MaxPer = 365 * 24 * time.Hour
)

// Month as a Window's Per is a calendar month in UTC, from 00:00:00 on the
// Limit's AnchorDay to the same instant a month later.
const Month time.Duration = -1

// defaultPolicyName names a Limit whose Name is empty in the RateLimit and
// RateLimit-Policy headers.
const defaultPolicyName = "default"

// ErrInvalidLimit is wrapped by every error about a malformed Limit.
var ErrInvalidLimit = errors.New("quota: invalid limit")

// Window is one fixed window of a Limit: Requests admitted per Per.
//
// Windows of whole seconds are aligned to multiples of Per since the Unix
// epoch, so 100 per 30s has windows [12:00:00, 12:00:30), [12:00:30,
// 12:01:00), … on every instance.
type Window struct {
	// Requests is how many requests the window admits: 1 … MaxRequests.
	Requests int64
	// Per is the window's length: whole seconds, 1s … MaxPer, or Month.
	Per time.Duration
	// Soft, on a Month window only, admits requests past Requests and
	// counts what goes past as overage (see Decision.Overage); the other
	// windows still refuse.
	Soft bool
}

// Limit is a quota of one to MaxWindows windows, such as a plan's burst
// rate and its monthly allowance. A request is admitted only if every
// window has room for it, and a refused request counts in none.
type Limit struct {
	// Name identifies the limit (a plan tier, say) in the RateLimit and
	// RateLimit-Policy headers. Empty means "default".
	Name string
	// Windows are the limit's windows, 1 … MaxWindows, no two with the
	// same Per. Their order is the order of the headers' items.
	Windows []Window
	// AnchorDay is the day of the month, 1 … 28, on which Month windows
	// start: a subscription's billing day. 0 means 1.
	AnchorDay int
	// Meter counts the key's admitted, refused and overage requests per
	// UTC day, and notes when a Month window first reaches 80 % and 100 %
	// of its Requests, for Limiter.ReadUsage. It needs the Redis store.
	Meter bool
}

// PerSecond returns a Limit of n requests per second.
func PerSecond(n int64) Limit { return Limit{Windows: []Window{{Requests: n, Per: time.Second}}} }

// PerMinute returns a Limit of n requests per minute.
func PerMinute(n int64) Limit { return Limit{Windows: []Window{{Requests: n, Per: time.Minute}}} }

// PerHour returns a Limit of n requests per hour.
func PerHour(n int64) Limit { return Limit{Windows: []Window{{Requests: n, Per: time.Hour}}} }

// PerMonth returns a Limit of n requests per calendar month.
func PerMonth(n int64) Limit { return Limit{Windows: []Window{{Requests: n, Per: Month}}} }

// Validate reports whether l can be enforced. Windows are whole seconds
// because the store's clock (Redis TIME) aligns them on second boundaries.
func (l Limit) Validate() error {
	if len(l.Windows) < 1 || len(l.Windows) > MaxWindows {
		return fmt.Errorf("%w: %d windows, want 1…%d", ErrInvalidLimit, len(l.Windows), MaxWindows)
	}
	if l.AnchorDay < 0 || l.AnchorDay > 28 {
		return fmt.Errorf("%w: anchor day %d not in 1…28", ErrInvalidLimit, l.AnchorDay)
	}
	for i, w := range l.Windows {
		switch {
		case w.Requests < 1 || w.Requests > MaxRequests:
			return fmt.Errorf("%w: window %d: requests %d not in 1…%d", ErrInvalidLimit, i, w.Requests, MaxRequests)
		case w.Soft && w.Per != Month:
			return fmt.Errorf("%w: window %d: only a month window may be soft", ErrInvalidLimit, i)
		case w.Per == Month:
		case w.Per < time.Second || w.Per > MaxPer:
			return fmt.Errorf("%w: window %d: per %v not in 1s…%v", ErrInvalidLimit, i, w.Per, MaxPer)
		case w.Per%time.Second != 0:
			return fmt.Errorf("%w: window %d: per %v is not a whole number of seconds", ErrInvalidLimit, i, w.Per)
		}
		for j := range i {
			if l.Windows[j].Per == w.Per {
				return fmt.Errorf("%w: windows %d and %d are both per %s", ErrInvalidLimit, j, i, w.perName())
			}
		}
	}
	return nil
}

// policyName returns l.Name, or defaultPolicyName when it is empty.
func (l Limit) policyName() string {
	if l.Name == "" {
		return defaultPolicyName
	}
	return l.Name
}

// Policy names window i in the RateLimit and RateLimit-Policy headers: the
// policyName alone for a one-window limit, else "<name>:<per>" with per in
// seconds or "month" ("pro:60", "pro:month").
func (l Limit) Policy(i int) string {
	if len(l.Windows) == 1 {
		return l.policyName()
	}
	return l.policyName() + ":" + l.Windows[i].perName()
}

// String formats l for messages, e.g. "pro: 20 requests per 1s, 1000000
// requests per month".
func (l Limit) String() string {
	var b strings.Builder
	b.WriteString(l.policyName())
	b.WriteString(": ")
	for i, w := range l.Windows {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(w.String())
	}
	return b.String()
}

// String formats w for messages, e.g. "1000 requests per 1m0s" or "5000
// requests per month".
func (w Window) String() string {
	if w.Per == Month {
		return strconv.FormatInt(w.Requests, 10) + " requests per month"
	}
	return fmt.Sprintf("%d requests per %v", w.Requests, w.Per)
}

// perName is the window's length in policy names: seconds, or "month".
func (w Window) perName() string {
	if w.Per == Month {
		return "month"
	}
	return strconv.FormatInt(w.seconds(), 10)
}

// seconds returns the window's length in whole seconds; 0 for Month.
func (w Window) seconds() int64 {
	if w.Per == Month {
		return 0
	}
	return int64(w.Per / time.Second)
}

// wireSeconds is seconds as planScript takes it: -1 for a soft month.
func (w Window) wireSeconds() int64 {
	if w.Soft {
		return -1
	}
	return w.seconds()
}

// bounds returns the window containing Unix second sec: its start and end.
func (w Window) bounds(sec int64, anchor int) (start, end int64) {
	if w.Per == Month {
		return monthBounds(sec, anchor)
	}
	per := w.seconds()
	start = sec - sec%per
	return start, start + per
}

// anchor returns the day Month windows start on.
func (l Limit) anchor() int { return max(l.AnchorDay, 1) }

// simple reports whether l is one window of whole seconds, which the Redis
// store decides with its single-window scripts.
func (l Limit) simple() bool {
	return len(l.Windows) == 1 && l.Windows[0].Per != Month && !l.Meter
}

// sameLimit reports whether a and b are the same quota.
func sameLimit(a, b Limit) bool {
	return a.Name == b.Name && a.anchor() == b.anchor() && a.Meter == b.Meter && sameWindows(a.Windows, b.Windows)
}

// sameWindows reports whether a and b are the same windows. Limits resolved
// from one plan share their Windows slice, which is checked first.
func sameWindows(a, b []Window) bool {
	if len(a) != len(b) {
		return false
	}
	if len(a) == 0 || &a[0] == &b[0] {
		return true
	}
	for i, w := range a {
		if b[i] != w {
			return false
		}
	}
	return true
}
