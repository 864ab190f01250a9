package quota

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Defaults for LimiterConfig's zero values.
const (
	// DefaultTimeout bounds one store round trip. It is generous on purpose:
	// a deadline a loaded machine misses turns load into failure-policy
	// admissions, which breaks exactness under FailOpen.
	DefaultTimeout = 100 * time.Millisecond
	// DefaultHogCacheSize bounds how many over-limit keys are remembered.
	DefaultHogCacheSize = 65_536
	// DefaultBreakerThreshold is how many store failures in a row open the
	// circuit breaker.
	DefaultBreakerThreshold = 5
	// DefaultBreakerCooldown is how long an open breaker refuses calls
	// before it lets one probe through.
	DefaultBreakerCooldown = time.Second
)

// errOpen is the error of every call refused while the breaker is open.
var errOpen = fmt.Errorf("%w: circuit breaker open after repeated store failures", ErrUnavailable)

// LimiterConfig configures a Limiter.
type LimiterConfig struct {
	// Timeout is the deadline of one decision's store call, rounded up to
	// the next millisecond, or the caller's deadline if that comes first.
	// A decision already under way is not cut short when its caller's
	// context is cancelled: it ends by this deadline.
	// Optional. Default value DefaultTimeout.
	Timeout time.Duration
	// HogCacheSize bounds the in-process cache of keys over their limit;
	// -1 disables it. Optional. Default value DefaultHogCacheSize.
	HogCacheSize int
	// BreakerThreshold is how many store failures in a row stop calls for
	// BreakerCooldown; -1 disables the breaker.
	// Optional. Default value DefaultBreakerThreshold.
	BreakerThreshold int
	// BreakerCooldown is how long calls stop once the breaker opens.
	// Optional. Default value DefaultBreakerCooldown.
	BreakerCooldown time.Duration
	// Now is the local clock, used only for durations (cache expiry,
	// breaker cool-off); windows come from the store's clock.
	// Optional. Default value time.Now.
	Now func() time.Time
}

// Limiter decides whether a request under a key may proceed. It is safe for
// concurrent use; share one per process.
type Limiter struct {
	store     Store
	deadlines deadlines // holds the Timeout
	hogs      *hogCache // nil when disabled
	breaker   *breaker
	now       func() time.Time
}

// NewLimiter returns a Limiter over store.
func NewLimiter(store Store, cfg LimiterConfig) (*Limiter, error) {
	if store == nil {
		return nil, errors.New("quota: NewLimiter: nil store")
	}
	if cfg.Timeout < 0 || cfg.BreakerCooldown < 0 {
		return nil, fmt.Errorf("quota: NewLimiter: negative Timeout %v or BreakerCooldown %v", cfg.Timeout, cfg.BreakerCooldown)
	}
	if cfg.HogCacheSize < -1 || cfg.BreakerThreshold < -1 {
		return nil, fmt.Errorf("quota: NewLimiter: HogCacheSize %d or BreakerThreshold %d below -1", cfg.HogCacheSize, cfg.BreakerThreshold)
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = DefaultTimeout
	}
	if cfg.HogCacheSize == 0 {
		cfg.HogCacheSize = DefaultHogCacheSize
	}
	if cfg.BreakerThreshold == 0 {
		cfg.BreakerThreshold = DefaultBreakerThreshold
	}
	if cfg.BreakerCooldown == 0 {
		cfg.BreakerCooldown = DefaultBreakerCooldown
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	l := &Limiter{
		store:     store,
		deadlines: deadlines{timeout: cfg.Timeout},
		breaker:   newBreaker(cfg.BreakerThreshold, cfg.BreakerCooldown, cfg.Now),
		now:       cfg.Now,
	}
	if cfg.HogCacheSize > 0 {
		l.hogs = newHogCache(cfg.HogCacheSize)
	}
	return l, nil
}

// Allow consumes one request of key's current window under lim if it has
// room. A key already refused in this window is refused again from memory,
// without a store round trip.
//
// On a store failure the error wraps ErrUnavailable and the Decision holds
// only the Limit; the caller picks a policy (Middleware's FailureMode).
func (l *Limiter) Allow(ctx context.Context, key string, lim Limit) (Decision, error) {
	if err := lim.Validate(); err != nil {
		return Decision{Limit: lim}, err
	}
	if l.hogs != nil {
		if d, ok := l.hogs.get(key, lim, l.now()); ok {
			return d, nil
		}
	}
	if !l.breaker.allow() {
		return Decision{Limit: lim}, errOpen
	}
	tctx, cancel := l.deadlines.decisionContext(ctx, time.Now())
	d, err := l.store.Allow(tctx, key, lim)
	cancel()
	if err != nil {
		return Decision{Limit: lim}, l.failed(ctx, err)
	}
	l.breaker.success()
	if !d.Allowed && l.hogs != nil {
		l.hogs.put(key, d, l.now())
	}
	return d, nil
}

// Peek reports key's current window under lim without consuming anything.
func (l *Limiter) Peek(ctx context.Context, key string, lim Limit) (Decision, error) {
	if err := lim.Validate(); err != nil {
		return Decision{Limit: lim}, err
	}
	d, err := l.call(ctx, func(ctx context.Context) (Decision, error) { return l.store.Peek(ctx, key, lim) })
	if err != nil {
		return Decision{Limit: lim}, err
	}
	return d, nil
}

// Reset starts key's current window under lim afresh and forgets that the
// key was over its limit here. Other processes sharing the store keep their
// own over-limit knowledge until they Forget the key or the window ends.
func (l *Limiter) Reset(ctx context.Context, key string, lim Limit) error {
	if err := lim.Validate(); err != nil {
		return err
	}
	l.Forget(key)
	_, err := l.call(ctx, func(ctx context.Context) (Decision, error) { return Decision{}, l.store.Reset(ctx, key, lim) })
	return err
}

// Forget drops this process's knowledge that key is over its limit, so its
// next request asks the store. Call it when the key's limit changes or its
// quota is reset elsewhere.
func (l *Limiter) Forget(key string) {
	if l.hogs != nil {
		l.hogs.forget(key)
	}
}

// ForgetAll drops every key's over-limit knowledge, as Forget does for one.
func (l *Limiter) ForgetAll() {
	if l.hogs != nil {
		l.hogs.forgetAll()
	}
}

// Degraded reports whether the circuit breaker is currently refusing store
// calls after repeated failures.
func (l *Limiter) Degraded() bool { return l.breaker.open() }

// call runs one store operation under the Limiter's deadline and breaker.
// Allow inlines the same steps: a closure there would cost an allocation
// per decision.
func (l *Limiter) call(ctx context.Context, op func(context.Context) (Decision, error)) (Decision, error) {
	if !l.breaker.allow() {
		return Decision{}, errOpen
	}
	tctx, cancel := context.WithTimeout(ctx, l.deadlines.timeout)
	d, err := op(tctx)
	cancel()
	if err != nil {
		return Decision{}, l.failed(ctx, err)
	}
	l.breaker.success()
	return d, nil
}

// failed records a store failure and wraps it in ErrUnavailable. Failures
// caused by the caller giving up (ctx cancelled) do not count against the
// store.
func (l *Limiter) failed(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		l.breaker.release()
		return fmt.Errorf("%w: %w", ErrUnavailable, ctx.Err())
	}
	l.breaker.failure()
	return fmt.Errorf("%w: %w", ErrUnavailable, err)
}
