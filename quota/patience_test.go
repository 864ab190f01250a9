package quota

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/quotad/quotad/internal/testenv"
)

// deadlineStore records the deadline of every Allow it is handed.
type deadlineStore struct {
	*countingStore
	mu   sync.Mutex
	last time.Duration // the last call's deadline, from the call's start
}

func (s *deadlineStore) Allow(ctx context.Context, key string, l Limit, n int64) (Decision, error) {
	dl, _ := ctx.Deadline()
	s.mu.Lock()
	s.last = time.Until(dl)
	s.mu.Unlock()
	return s.countingStore.Allow(ctx, key, l, n)
}

func (s *deadlineStore) wait() time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.last
}

// TestPatience: a store that answers is waited for 10 × Timeout, at most a
// second, but never less than Timeout.
func TestPatience(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct{ timeout, want time.Duration }{
		{10 * time.Millisecond, 100 * time.Millisecond},
		{defaultTimeout, time.Second},
		{500 * time.Millisecond, time.Second},
		{2 * time.Second, 2 * time.Second},
	} {
		if got := patience(tt.timeout); got != tt.want {
			t.Errorf("patience(%v) = %v, want %v", tt.timeout, got, tt.want)
		}
	}
}

// TestLimiter_WaitsLongerForAnAnsweringStore: a decision waits Timeout
// until the store has answered, then the patience while it keeps
// answering; after a failure it waits Timeout again, except for the
// breaker's probe, which waits the patience.
func TestLimiter_WaitsLongerForAnAnsweringStore(t *testing.T) {
	t.Parallel()
	// Deadlines far beyond an in-memory call's duration, and a patience
	// (800 ms) well apart from the Timeout.
	const timeout = 80 * time.Millisecond
	wantPatience := patience(timeout)
	l, cs, clock := newCountingLimiter(t, limiterConfig{Timeout: timeout, BreakerThreshold: 2, BreakerCooldown: time.Second})
	ds := &deadlineStore{countingStore: cs}
	l.store = ds
	ctx := context.Background()
	lim := PerMinute(100)
	short := func(when string) {
		t.Helper()
		if w := ds.wait(); w > timeout+time.Millisecond || w < timeout/2 {
			t.Fatalf("%s: the store call had %v, want the Timeout %v", when, w, timeout)
		}
	}
	long := func(when string) {
		t.Helper()
		if w := ds.wait(); w < wantPatience-timeout/2 || w > wantPatience+time.Millisecond {
			t.Fatalf("%s: the store call had %v, want the patience %v", when, w, wantPatience)
		}
	}

	if _, err := l.Allow(ctx, "k", lim); err != nil {
		t.Fatal(err)
	}
	short("first call, nothing answered yet")
	if _, err := l.Allow(ctx, "k", lim); err != nil {
		t.Fatal(err)
	}
	long("the store answered the call before")
	if l.patient(time.Now().Add(wantPatience), false) {
		t.Fatal("still patient after the patience without an answer")
	}

	cs.fail.Store(true)
	if _, err := l.Allow(ctx, "k", lim); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("err = %v, want ErrUnavailable", err)
	}
	long("first failure, the store was answering")
	if _, err := l.Allow(ctx, "k", lim); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("err = %v, want ErrUnavailable", err)
	}
	short("after a failure")
	if !l.breaker.open() {
		t.Fatal("breaker closed after 2 failures, threshold 2")
	}
	clock.Advance(time.Second)
	cs.fail.Store(false)
	if _, err := l.Allow(ctx, "k", lim); err != nil {
		t.Fatal(err)
	}
	long("the breaker's probe")
	if _, err := l.Allow(ctx, "k", lim); err != nil {
		t.Fatal(err)
	}
	long("after the probe's success")
}

// slowRedisLimiter returns a Limiter with a 150 ms Timeout (so 1 s of
// patience) on a Redis behind a proxy, on a key space of its own, and the
// proxy.
func slowRedisLimiter(tb testing.TB, prefix string) (*Limiter, *testenv.Proxy) {
	tb.Helper()
	proxy := testenv.NewProxy(tb, redisAddr(tb))
	client, err := newRedisClient("redis://" + proxy.Addr())
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { client.Close() })
	s, err := newRedisStore(client, redisConfig{Prefix: prefix})
	if err != nil {
		tb.Fatal(err)
	}
	return mustLimiter(tb, s, limiterConfig{Timeout: 150 * time.Millisecond}), proxy
}

// TestLimiter_BusyRedisIsWaitedFor floods a Redis that answers everything,
// but only 200 ms or more after each request (a proxy holds every chunk
// 100 ms each way), through a Limiter whose Timeout is 150 ms: once the
// store has answered, no decision fails, and every key admits exactly its
// limit. A Limiter whose store has not answered yet gives up after the
// Timeout, so the same Redis would have failed it.
func TestLimiter_BusyRedisIsWaitedFor(t *testing.T) {
	t.Parallel()
	_, prefix := newTestRedis(t)
	l, proxy := slowRedisLimiter(t, prefix)
	lim := Limit{Windows: []Window{{Requests: 20, Per: MaxPer}}}
	mustAllowLimiter(t, l, "warm", lim) // answered at full speed
	proxy.SetDelay(100 * time.Millisecond)

	fresh, freshProxy := slowRedisLimiter(t, prefix)
	freshProxy.SetDelay(100 * time.Millisecond)
	if _, err := fresh.Allow(context.Background(), "fresh", lim); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("a store that never answered, 200 ms a round trip, 150 ms Timeout: err = %v, want ErrUnavailable", err)
	}

	const callers, asks, keys = 64, 8, 16
	var mu sync.Mutex
	admitted := map[string]int64{}
	var failed atomic.Int64
	var firstErr error
	var wg sync.WaitGroup
	start := make(chan struct{})
	for g := range callers {
		wg.Go(func() {
			<-start
			for i := range asks {
				key := fmt.Sprintf("k%d", (g+i)%keys)
				d, err := l.Allow(context.Background(), key, lim)
				if err != nil {
					if failed.Add(1) == 1 {
						mu.Lock()
						firstErr = err
						mu.Unlock()
					}
					continue
				}
				if d.Allowed {
					mu.Lock()
					admitted[key]++
					mu.Unlock()
				}
			}
		})
	}
	close(start)
	wg.Wait()
	if n := failed.Load(); n > 0 {
		t.Fatalf("%d of %d decisions failed on a slow but answering Redis; first: %v", n, callers*asks, firstErr)
	}
	for k := range keys {
		if n := admitted[fmt.Sprintf("k%d", k)]; n != lim.Windows[0].Requests {
			t.Errorf("key k%d admitted %d, want exactly %d", k, n, lim.Windows[0].Requests)
		}
	}
}

// TestLimiter_DeadRedisFailsAndOpensBreaker: a Redis that answered, then
// stops answering (the proxy swallows everything), fails its decisions,
// each bounded; after the first failure the next wait the Timeout, the
// breaker opens after its threshold, and an open breaker sends nothing.
func TestLimiter_DeadRedisFailsAndOpensBreaker(t *testing.T) {
	t.Parallel()
	_, prefix := newTestRedis(t)
	l, proxy := slowRedisLimiter(t, prefix)
	lim := Limit{Windows: []Window{{Requests: 5, Per: time.Hour}}}
	mustAllowLimiter(t, l, "k", lim)
	proxy.SetMode(testenv.Blackhole)
	for i := range defaultBreakerThreshold {
		_, err := decideWithin(t, l, "k", lim, 3*time.Second)
		if !errors.Is(err, ErrUnavailable) {
			t.Fatalf("decision %d on a hung Redis: err = %v, want ErrUnavailable", i+1, err)
		}
		if i > 0 && l.patient(time.Now(), false) {
			t.Fatalf("after %d failures the Limiter still waits the patience", i+1)
		}
	}
	if !l.breaker.open() {
		t.Fatalf("breaker closed after %d failures in a row", defaultBreakerThreshold)
	}
	if _, err := decideWithin(t, l, "k", lim, 3*time.Second); !errors.Is(err, errOpen) {
		t.Fatalf("err = %v, want the open breaker's", err)
	}
}

func mustAllowLimiter(tb testing.TB, l *Limiter, key string, lim Limit) {
	tb.Helper()
	if d, err := l.Allow(context.Background(), key, lim); err != nil || !d.Allowed {
		tb.Fatalf("Allow(%q) = %+v, %v; want admitted", key, d, err)
	}
}
