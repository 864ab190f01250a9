package quota

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync/atomic"
	"time"
)

// Defaults for limiterConfig's zero values.
const (
	// defaultTimeout is how long a decision waits for a store that may be
	// down (see limiterConfig.Timeout). It is generous on purpose: a
	// deadline a loaded machine misses turns load into failure-policy
	// admissions, which breaks exactness under FailOpen.
	defaultTimeout = 100 * time.Millisecond
	// defaultHogCacheSize bounds how many over-limit keys are remembered.
	defaultHogCacheSize = 65_536
	// defaultBreakerThreshold is how many store failures in a row open the
	// circuit breaker.
	defaultBreakerThreshold = 5
	// defaultBreakerCooldown is how long an open breaker refuses calls
	// before it lets one probe through.
	defaultBreakerCooldown = time.Second
)

// patienceFactor is how many Timeouts a decision waits while the store is
// answering (see Limiter.patient), up to maxPatience: a busy store is
// waited for, but a request still never waits more than a second for it
// unless the configured Timeout is longer than that.
const (
	patienceFactor = 10
	maxPatience    = time.Second
)

// patience is how long a decision waits for a store that is answering.
func patience(timeout time.Duration) time.Duration {
	return max(timeout, min(patienceFactor*timeout, maxPatience))
}

// errOpen is the error of every call refused while the breaker is open.
var errOpen = fmt.Errorf("%w: circuit breaker open after repeated store failures", ErrUnavailable)

// limiterConfig configures a Limiter.
type limiterConfig struct {
	// Timeout is how long a decision waits for a store that may be down;
	// see Config.Timeout. Optional. Default value defaultTimeout.
	Timeout time.Duration
	// HogCacheSize bounds the in-process cache of keys over their limit;
	// -1 disables it. Optional. Default value defaultHogCacheSize.
	HogCacheSize int
	// BreakerThreshold is how many store failures in a row stop calls for
	// BreakerCooldown; -1 disables the breaker.
	// Optional. Default value defaultBreakerThreshold.
	BreakerThreshold int
	// BreakerCooldown is how long calls stop once the breaker opens.
	// Optional. Default value defaultBreakerCooldown.
	BreakerCooldown time.Duration
	// Now is the local clock, used only for durations (cache expiry,
	// breaker cool-off); windows come from the store's clock.
	// Optional. Default value time.Now.
	Now func() time.Time
}

// Limiter decides whether a request under a key may proceed. New and
// NewInMemory make one; it is safe for concurrent use, so share one per
// process.
type Limiter struct {
	store     store
	deadlines deadlines // holds the Timeout
	hogs      *hogCache // nil when disabled
	meter     *hogMeter // nil unless the store meters
	breaker   *breaker
	now       func() time.Time
	// epoch starts the monotonic clock of answered.
	epoch time.Time
	// answered is when the latest decision the store answered started, in
	// milliseconds since epoch plus one; 0 until the first answer.
	answered atomic.Int64
	// own is the Redis client NewWithConfig made for the Limiter, which
	// Close closes; nil when the Limiter uses its caller's client.
	own io.Closer
}

// newLimiter returns a Limiter over store.
func newLimiter(store store, cfg limiterConfig) (*Limiter, error) {
	if store == nil {
		return nil, errors.New("quota: newLimiter: nil store")
	}
	if cfg.Timeout < 0 || cfg.BreakerCooldown < 0 {
		return nil, fmt.Errorf("quota: newLimiter: negative Timeout %v or BreakerCooldown %v", cfg.Timeout, cfg.BreakerCooldown)
	}
	if cfg.HogCacheSize < -1 || cfg.BreakerThreshold < -1 {
		return nil, fmt.Errorf("quota: newLimiter: HogCacheSize %d or BreakerThreshold %d below -1", cfg.HogCacheSize, cfg.BreakerThreshold)
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = defaultTimeout
	}
	if cfg.HogCacheSize == 0 {
		cfg.HogCacheSize = defaultHogCacheSize
	}
	if cfg.BreakerThreshold == 0 {
		cfg.BreakerThreshold = defaultBreakerThreshold
	}
	if cfg.BreakerCooldown == 0 {
		cfg.BreakerCooldown = defaultBreakerCooldown
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	l := &Limiter{
		store:     store,
		deadlines: deadlines{timeout: cfg.Timeout, patience: patience(cfg.Timeout)},
		breaker:   newBreaker(cfg.BreakerThreshold, cfg.BreakerCooldown, cfg.Now),
		now:       cfg.Now,
		epoch:     time.Now(),
	}
	if cfg.HogCacheSize > 0 {
		l.hogs = newHogCache(cfg.HogCacheSize)
	}
	if s, ok := store.(*redisStore); ok {
		l.meter = newHogMeter(s)
	}
	return l, nil
}

// Allow is AllowN for one request.
func (l *Limiter) Allow(ctx context.Context, key string, lim Limit) (Decision, error) {
	return l.AllowN(ctx, key, lim, 1)
}

// AllowN admits a request of cost n (1 … MaxRequests) under key if every
// window of lim has n left, and then counts n in every window; a refused
// request counts in none. A key already refused in its windows is refused
// again from memory, without a store round trip, until a refusing window
// ends.
//
// On a store failure the error wraps ErrUnavailable and the Decision holds
// only the Limit; the caller picks a policy, as MiddlewareConfig.FailureMode does.
func (l *Limiter) AllowN(ctx context.Context, key string, lim Limit, n int64) (Decision, error) {
	if err := lim.Validate(); err != nil {
		return Decision{Limit: lim}, err
	}
	if n < 1 || n > MaxRequests {
		return Decision{Limit: lim}, fmt.Errorf("%w: cost %d not in 1…%d", ErrInvalidLimit, n, MaxRequests)
	}
	// A refusal is cached from when the decision was sent, not answered:
	// the store's RetryAfter counts from a moment between the two, so the
	// cached refusal ends by the window's end, never after it.
	var now time.Time
	if l.hogs != nil {
		now = l.now()
		if d, ok := l.hogs.get(key, lim, n, now); ok {
			if lim.Meter && l.meter != nil {
				l.meter.add(key, n)
			}
			return d, nil
		}
	}
	ok, probe := l.breaker.allow()
	if !ok {
		return Decision{Limit: lim}, errOpen
	}
	start := time.Now()
	patient := l.patient(start, probe)
	tctx, cancel := l.deadlines.decisionContext(ctx, start, patient)
	d, err := l.store.Allow(tctx, key, lim, n)
	cancel()
	if err != nil {
		return Decision{Limit: lim}, l.failed(ctx, err, patient)
	}
	l.answer(start)
	l.breaker.success()
	if !d.Allowed && l.hogs != nil {
		l.hogs.put(key, d, n, now)
	}
	return d, nil
}

// Peek reports key's current windows under lim without consuming anything.
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

// Reset starts key's current windows under lim afresh and forgets that the
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

// call runs one store operation under the Limiter's deadline and breaker.
// Allow inlines the same steps: a closure there would cost an allocation
// per decision.
func (l *Limiter) call(ctx context.Context, op func(context.Context) (Decision, error)) (Decision, error) {
	ok, probe := l.breaker.allow()
	if !ok {
		return Decision{}, errOpen
	}
	start := time.Now()
	patient := l.patient(start, probe)
	tctx, cancel := context.WithTimeout(ctx, l.deadlines.wait(patient))
	d, err := op(tctx)
	cancel()
	if err != nil {
		return Decision{}, l.failed(ctx, err, patient)
	}
	l.answer(start)
	l.breaker.success()
	return d, nil
}

// patient reports whether a store call starting now may wait the patience
// (see patience) rather than the Timeout. A store that answered a call
// started within the patience, with no failure since, is alive: if it is
// slow, it is slow with load, and waiting for it keeps decisions exact. A
// store that has gone quiet for that long, or whose last call failed, may
// be dead, and a dead store must cost no more than the Timeout per call
// until the breaker opens. The breaker's probe is one call per cool-off,
// so it may wait the patience: a store slower than the Timeout can then
// still close the breaker.
func (l *Limiter) patient(now time.Time, probe bool) bool {
	if probe {
		return true
	}
	last := l.answered.Load()
	return last != 0 && l.since(now)-last < l.deadlines.patience.Milliseconds() && !l.breaker.failing()
}

// answer records that the store answered a call that started at start. It
// writes at most once per millisecond, so callers rarely contend for the
// cache line; two racing writers may leave the older of their times, which
// only makes the store look quiet a millisecond sooner.
func (l *Limiter) answer(start time.Time) {
	if ms := l.since(start); ms > l.answered.Load() {
		l.answered.Store(ms)
	}
}

// since is t on answered's clock: milliseconds since epoch, plus one.
func (l *Limiter) since(t time.Time) int64 { return t.Sub(l.epoch).Milliseconds() + 1 }

// failed records a store failure and wraps it in ErrUnavailable, saying
// whether the store was answering (the call waited the patience) or had
// gone quiet or failed (it waited the Timeout): a busy store from a dead
// one. Failures caused by the caller giving up (ctx cancelled) do not count
// against the store.
func (l *Limiter) failed(ctx context.Context, err error, patient bool) error {
	if ctx.Err() != nil {
		l.breaker.release()
		return fmt.Errorf("%w: %w", ErrUnavailable, ctx.Err())
	}
	l.breaker.failure()
	if patient {
		return fmt.Errorf("%w: store answering lately, waited up to %v: %w", ErrUnavailable, l.deadlines.patience, err)
	}
	return fmt.Errorf("%w: store quiet or failing, waited up to %v: %w", ErrUnavailable, l.deadlines.timeout, err)
}
