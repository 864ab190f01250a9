package quota

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"
)

// countingStore counts the calls that reach the store behind a Limiter and
// can be made to fail or to hang until the call's context ends.
type countingStore struct {
	store
	calls atomic.Int64
	fail  atomic.Bool
	hang  atomic.Bool
}

var errBoom = errors.New("boom")

func (s *countingStore) Allow(ctx context.Context, key string, l Limit, n int64) (Decision, error) {
	s.calls.Add(1)
	if s.hang.Load() {
		<-ctx.Done()
		return Decision{}, ctx.Err()
	}
	if s.fail.Load() {
		return Decision{}, errBoom
	}
	return s.store.Allow(ctx, key, l, n)
}

func newCountingLimiter(tb testing.TB, cfg limiterConfig) (*Limiter, *countingStore, *fakeClock) {
	tb.Helper()
	clock := newFakeClock(time.Unix(1_700_000_040, 0)) // a minute boundary
	mem, err := newMemoryStore(memoryConfig{Now: clock.Now})
	if err != nil {
		tb.Fatal(err)
	}
	cs := &countingStore{store: mem}
	cfg.Now = clock.Now
	return mustLimiter(tb, cs, cfg), cs, clock
}

func TestLimiter_AllowHogServedFromMemory(t *testing.T) {
	t.Parallel()
	l, cs, clock := newCountingLimiter(t, limiterConfig{})
	ctx := context.Background()
	lim := Limit{Name: "free", Windows: []Window{{Requests: 2, Per: time.Minute}}}
	for range 3 {
		if _, err := l.Allow(ctx, "hog", lim); err != nil {
			t.Fatal(err)
		}
	}
	if got := cs.calls.Load(); got != 3 {
		t.Fatalf("store calls = %d, want 3", got)
	}
	clock.Advance(10 * time.Second)
	for range 1000 {
		d, err := l.Allow(ctx, "hog", lim)
		if err != nil || d.Allowed || d.Remaining != 0 {
			t.Fatalf("hog: %+v, %v", d, err)
		}
		if d.RetryAfter != 50*time.Second || d.ResetAfter != 50*time.Second {
			t.Fatalf("cached refusal RetryAfter %v ResetAfter %v, want 50s (counted down)", d.RetryAfter, d.ResetAfter)
		}
	}
	if got := cs.calls.Load(); got != 3 {
		t.Fatalf("store calls after 1000 hog requests = %d, want still 3", got)
	}
	// Another limit for the key (a tier change) asks the store again.
	if d, _ := l.Allow(ctx, "hog", Limit{Name: "pro", Windows: []Window{{Requests: 5, Per: time.Minute}}}); !d.Allowed || cs.calls.Load() != 4 {
		t.Fatalf("after upgrade: %+v, store calls %d, want admitted via the store", d, cs.calls.Load())
	}
	// The next window admits again.
	clock.Advance(50 * time.Second)
	if d, _ := l.Allow(ctx, "hog", lim); !d.Allowed {
		t.Fatalf("next window: %+v, want admitted", d)
	}
}

func TestLimiter_ResetAndForget(t *testing.T) {
	t.Parallel()
	l, cs, _ := newCountingLimiter(t, limiterConfig{})
	ctx := context.Background()
	lim := Limit{Windows: []Window{{Requests: 1, Per: time.Minute}}}
	l.Allow(ctx, "k", lim)
	l.Allow(ctx, "k", lim)
	if err := l.Reset(ctx, "k", lim); err != nil {
		t.Fatal(err)
	}
	if d, _ := l.Allow(ctx, "k", lim); !d.Allowed {
		t.Fatal("refused after Reset")
	}
	l.Allow(ctx, "k", lim) // refused, cached
	calls := cs.calls.Load()
	l.Forget("k")
	l.Allow(ctx, "k", lim)
	if cs.calls.Load() != calls+1 {
		t.Fatal("Forget did not send the next request to the store")
	}
	l.ForgetAll()
	l.Allow(ctx, "k", lim)
	if cs.calls.Load() != calls+2 {
		t.Fatal("ForgetAll did not send the next request to the store")
	}
}

func TestLimiter_HogCacheBounded(t *testing.T) {
	t.Parallel()
	l, _, _ := newCountingLimiter(t, limiterConfig{HogCacheSize: 64})
	ctx := context.Background()
	lim := Limit{Windows: []Window{{Requests: 1, Per: time.Minute}}}
	for i := range 10_000 {
		key := string(rune('a'+i%26)) + randomHex(t, 4)
		l.Allow(ctx, key, lim)
		l.Allow(ctx, key, lim)
	}
	if n := l.hogs.len(); n > 64 {
		t.Fatalf("hog cache holds %d entries, bound is 64", n)
	}
}

func TestLimiter_BreakerOpensAndRecovers(t *testing.T) {
	t.Parallel()
	l, cs, clock := newCountingLimiter(t, limiterConfig{BreakerThreshold: 3, BreakerCooldown: time.Second})
	ctx := context.Background()
	lim := PerMinute(100)
	cs.fail.Store(true)
	for range 10 {
		if _, err := l.Allow(ctx, "k", lim); !errors.Is(err, ErrUnavailable) {
			t.Fatalf("err = %v, want ErrUnavailable", err)
		}
	}
	if got := cs.calls.Load(); got != 3 {
		t.Fatalf("store calls = %d, want 3 (then the breaker opens)", got)
	}
	if !l.breaker.open() {
		t.Fatal("breaker closed after the threshold of failures")
	}
	clock.Advance(time.Second)
	if _, err := l.Allow(ctx, "k", lim); !errors.Is(err, errBoom) {
		t.Fatalf("probe: err = %v, want the store's error", err)
	}
	if got := cs.calls.Load(); got != 4 {
		t.Fatalf("store calls = %d, want one probe after the cool-off", got)
	}
	cs.fail.Store(false)
	clock.Advance(time.Second)
	if d, err := l.Allow(ctx, "k", lim); err != nil || !d.Allowed {
		t.Fatalf("after recovery: %+v, %v", d, err)
	}
	if l.breaker.open() {
		t.Fatal("still degraded after a successful probe")
	}
}

func TestLimiter_AllowHonoursTimeout(t *testing.T) {
	t.Parallel()
	l, cs, _ := newCountingLimiter(t, limiterConfig{Timeout: 20 * time.Millisecond})
	cs.hang.Store(true)
	_, err := decideWithin(t, l, "k", PerMinute(1), 3*time.Second)
	if !errors.Is(err, ErrUnavailable) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want ErrUnavailable wrapping DeadlineExceeded", err)
	}
}

func TestLimiter_CallerCancelDoesNotTripBreaker(t *testing.T) {
	t.Parallel()
	l, cs, _ := newCountingLimiter(t, limiterConfig{BreakerThreshold: 1})
	cs.hang.Store(true)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := l.Allow(ctx, "k", PerMinute(1)); !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want Canceled", err)
	}
	if l.breaker.open() {
		t.Fatal("a caller's cancellation opened the breaker")
	}
}

func TestLimiter_InvalidLimit(t *testing.T) {
	t.Parallel()
	l, cs, _ := newCountingLimiter(t, limiterConfig{})
	for _, lim := range []Limit{
		{Windows: []Window{{Requests: 0, Per: time.Second}}},
		{Windows: []Window{{Requests: MaxRequests + 1, Per: time.Second}}},
		{Windows: []Window{{Requests: 1, Per: 0}}},
		{Windows: []Window{{Requests: 1, Per: 1500 * time.Millisecond}}},
		{Windows: []Window{{Requests: 1, Per: MaxPer + time.Second}}},
	} {
		if _, err := l.Allow(context.Background(), "k", lim); !errors.Is(err, ErrInvalidLimit) {
			t.Errorf("Allow(%+v): err = %v, want ErrInvalidLimit", lim, err)
		}
	}
	if cs.calls.Load() != 0 {
		t.Fatal("an invalid limit reached the store")
	}
}

func TestNewLimiter_BadConfig(t *testing.T) {
	t.Parallel()
	mem, _ := newMemoryStore(memoryConfig{})
	for _, cfg := range []limiterConfig{{Timeout: -1}, {HogCacheSize: -2}, {BreakerThreshold: -5}, {BreakerCooldown: -time.Second}} {
		if _, err := newLimiter(mem, cfg); err == nil {
			t.Errorf("newLimiter(%+v) accepted", cfg)
		}
	}
	if _, err := newLimiter(nil, limiterConfig{}); err == nil {
		t.Error("nil store accepted")
	}
}

func TestMemoryStore_Bounded(t *testing.T) {
	t.Parallel()
	clock := newFakeClock(time.Unix(1_700_000_000, 0))
	s, err := newMemoryStore(memoryConfig{MaxKeys: 10, Now: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	lim := PerMinute(1)
	for i := range 10 {
		mustAllow(t, s, string(rune('a'+i)), lim, true)
	}
	if _, err := s.Allow(context.Background(), "overflow", lim, 1); !errors.Is(err, errStoreFull) {
		t.Fatalf("err = %v, want errStoreFull while every window is live", err)
	}
	mustAllow(t, s, "a", lim, false) // known keys still decide
	clock.Advance(time.Minute)
	mustAllow(t, s, "overflow", lim, true)
	if n := s.Len(); n != 1 {
		t.Fatalf("after the sweep %d windows remain, want 1", n)
	}
	if _, err := newMemoryStore(memoryConfig{MaxKeys: -1}); err == nil {
		t.Fatal("negative MaxKeys accepted")
	}
}

// TestNewLimiter_Disabling: -1 turns the hog cache and the breaker off, so
// every decision reaches the store, refusals and failures alike.
func TestNewLimiter_Disabling(t *testing.T) {
	t.Parallel()
	l, cs, _ := newCountingLimiter(t, limiterConfig{HogCacheSize: -1, BreakerThreshold: -1})
	ctx := context.Background()
	lim := PerMinute(1)
	for range 5 {
		l.Allow(ctx, "hog", lim)
	}
	if got := cs.calls.Load(); got != 5 {
		t.Fatalf("5 decisions, 4 of them refusals, made %d store calls with the hog cache off", got)
	}
	cs.fail.Store(true)
	for range 2 * defaultBreakerThreshold {
		if _, err := l.Allow(ctx, "k", lim); !errors.Is(err, errBoom) {
			t.Fatalf("err = %v, want the store's own with the breaker off", err)
		}
	}
}

// TestMemoryStore_SweepsAtWindowEnd: a window is over at its end, so a
// full store makes room for a new key at that very instant.
func TestMemoryStore_SweepsAtWindowEnd(t *testing.T) {
	t.Parallel()
	clock := newFakeClock(time.Unix(1_700_000_040, 0)) // a minute's start
	s, err := newMemoryStore(memoryConfig{MaxKeys: 1, Now: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	mustAllow(t, s, "a", PerMinute(1), true)
	clock.Advance(time.Minute)
	mustAllow(t, s, "b", PerMinute(1), true)
}
