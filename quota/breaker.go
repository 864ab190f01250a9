package quota

import (
	"sync/atomic"
	"time"
)

// breaker stops calling a store that keeps failing: after threshold
// failures in a row it refuses calls for cooldown, then lets one probe
// through; the probe's success closes it again. A dead Redis then costs one
// timeout per cool-off instead of one per request.
type breaker struct {
	threshold int64
	cooldown  time.Duration
	now       func() time.Time
	epoch     time.Time

	failures  atomic.Int64
	openUntil atomic.Int64 // nanoseconds since epoch, on the monotonic clock
	probing   atomic.Bool
}

func newBreaker(threshold int, cooldown time.Duration, now func() time.Time) *breaker {
	return &breaker{threshold: int64(threshold), cooldown: cooldown, now: now, epoch: now()}
}

// allow reports whether a call may go to the store now, and whether that
// call is the probe of an open breaker.
func (b *breaker) allow() (ok, probe bool) {
	if b.threshold <= 0 || b.failures.Load() < b.threshold {
		return true, false
	}
	if int64(b.now().Sub(b.epoch)) < b.openUntil.Load() {
		return false, false
	}
	ok = b.probing.CompareAndSwap(false, true)
	return ok, ok
}

// failing reports whether the store's last judged call failed.
func (b *breaker) failing() bool { return b.failures.Load() != 0 }

func (b *breaker) success() {
	if b.failures.Load() != 0 {
		b.failures.Store(0)
	}
	if b.probing.Load() {
		b.probing.Store(false)
	}
}

// release gives back a probe slot without judging the store, for calls the
// caller abandoned.
func (b *breaker) release() {
	if b.probing.Load() {
		b.probing.Store(false)
	}
}

func (b *breaker) failure() {
	if b.failures.Add(1) >= b.threshold {
		b.openUntil.Store(int64(b.now().Sub(b.epoch) + b.cooldown))
	}
	b.probing.Store(false)
}

// open reports whether calls are currently being refused.
func (b *breaker) open() bool {
	return b.threshold > 0 && b.failures.Load() >= b.threshold &&
		int64(b.now().Sub(b.epoch)) < b.openUntil.Load()
}
