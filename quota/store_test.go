package quota

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"
)

// storeHarness is one store under the shared contract: a constructor, and a
// way to move the store's clock forward (a fake clock, miniredis time
// travel, or real waiting for real Redis).
type storeHarness struct {
	name string
	// new returns a fresh, empty store and a function advancing its clock.
	new func(tb testing.TB) (store, func(time.Duration))
}

func storeHarnesses() []storeHarness {
	return []storeHarness{
		{"memory", func(tb testing.TB) (store, func(time.Duration)) {
			clock := newFakeClock(time.Unix(1_700_000_000, 250_000_000))
			s, err := newMemoryStore(memoryConfig{Now: clock.Now})
			if err != nil {
				tb.Fatal(err)
			}
			return s, clock.Advance
		}},
		{"miniredis", func(tb testing.TB) (store, func(time.Duration)) {
			m := miniredis.RunT(tb)
			clock := newFakeClock(time.Unix(1_700_000_000, 250_000_000))
			m.SetTime(clock.Now())
			client := redis.NewClient(&redis.Options{Addr: m.Addr(), MaxRetries: -1, ContextTimeoutEnabled: true})
			tb.Cleanup(func() { client.Close() })
			s, err := newRedisStore(client, redisConfig{})
			if err != nil {
				tb.Fatal(err)
			}
			// miniredis's TIME stands still between advances, so the store's
			// local clock must too: its estimate of Redis's clock (and so
			// every ResetAfter) would otherwise run ahead with real time,
			// by as much as a loaded machine takes between two calls.
			s.now = clock.Now
			return s, func(d time.Duration) {
				clock.Advance(d)
				m.SetTime(clock.Now())
				m.FastForward(d)
			}
		}},
		{"redis", func(tb testing.TB) (store, func(time.Duration)) {
			s, _ := newTestRedisStore(tb)
			return s, time.Sleep // real Redis keeps real time; only 1s windows are waited out
		}},
		{"redis-multikey", func(tb testing.TB) (store, func(time.Duration)) {
			s, _ := newTestRedisStore(tb)
			return multiKeyStore{s}, time.Sleep
		}},
		{"redis-unbatched", func(tb testing.TB) (store, func(time.Duration)) {
			client, prefix := newTestRedis(tb)
			s, err := newRedisStore(client, redisConfig{Prefix: prefix, DisableBatching: true})
			if err != nil {
				tb.Fatal(err)
			}
			return s, time.Sleep
		}},
	}
}

// TestStore_Contract runs every store through the same contract.
func TestStore_Contract(t *testing.T) {
	t.Parallel()
	for _, h := range storeHarnesses() {
		t.Run(h.name, func(t *testing.T) {
			t.Parallel()
			t.Run("BoundaryCounts", func(t *testing.T) { t.Parallel(); contractBoundary(t, h) })
			t.Run("PeekConsumesNothing", func(t *testing.T) { t.Parallel(); contractPeek(t, h) })
			t.Run("RefusalConsumesNothing", func(t *testing.T) { t.Parallel(); contractRefusal(t, h) })
			t.Run("Reset", func(t *testing.T) { t.Parallel(); contractReset(t, h) })
			t.Run("KeysAndWindowsIndependent", func(t *testing.T) { t.Parallel(); contractIndependent(t, h) })
			t.Run("NextWindowStartsAfresh", func(t *testing.T) { t.Parallel(); contractRollover(t, h) })
			t.Run("LimitChangeKeepsCount", func(t *testing.T) { t.Parallel(); contractLimitChange(t, h) })
			t.Run("ConcurrentExact", func(t *testing.T) { t.Parallel(); contractConcurrent(t, h) })
		})
	}
}

// contractBoundary sends limit−1, limit and limit+1 requests and checks the
// exact admitted count, the Remaining countdown and the refusal's fields.
func contractBoundary(t *testing.T, h storeHarness) {
	ctx := context.Background()
	for _, limit := range []int64{1, 2, 5} {
		for _, n := range []int64{limit - 1, limit, limit + 1} {
			t.Run(fmt.Sprintf("limit=%d/n=%d", limit, n), func(t *testing.T) {
				s, _ := h.new(t)
				lim := Limit{Name: "t", Windows: []Window{{Requests: limit, Per: time.Hour}}}
				var admitted int64
				for i := int64(0); i < n; i++ {
					d, err := s.Allow(ctx, "k", lim, 1)
					if err != nil {
						t.Fatal(err)
					}
					if d.Reset.Unix()%3600 != 0 {
						t.Errorf("reset %v not aligned to the hour", d.Reset)
					}
					if d.ResetAfter <= 0 || d.ResetAfter > time.Hour {
						t.Errorf("ResetAfter %v outside (0, 1h]", d.ResetAfter)
					}
					if !sameLimit(d.Limit, lim) {
						t.Errorf("Limit = %+v, want %+v", d.Limit, lim)
					}
					if i < limit {
						if !d.Allowed || d.Remaining != limit-i-1 || d.RetryAfter != 0 {
							t.Fatalf("request %d: %+v, want allowed with remaining %d", i+1, d, limit-i-1)
						}
						admitted++
					} else if d.Allowed || d.Remaining != 0 || d.RetryAfter != d.ResetAfter || d.RetryAfter <= 0 {
						t.Fatalf("request %d: %+v, want refused, remaining 0, RetryAfter = ResetAfter > 0", i+1, d)
					}
				}
				if want := min(n, limit); admitted != want {
					t.Fatalf("admitted %d of %d, want %d", admitted, n, want)
				}
			})
		}
	}
}

func contractPeek(t *testing.T, h storeHarness) {
	ctx := context.Background()
	s, _ := h.new(t)
	lim := Limit{Windows: []Window{{Requests: 2, Per: time.Hour}}}
	for i, want := range []struct {
		allowed   bool
		remaining int64
	}{{true, 2}, {true, 1}, {false, 0}} {
		for range 3 {
			d, err := s.Peek(ctx, "k", lim)
			if err != nil {
				t.Fatal(err)
			}
			if d.Allowed != want.allowed || d.Remaining != want.remaining {
				t.Fatalf("peek after %d allows: %+v, want allowed=%v remaining=%d", i, d, want.allowed, want.remaining)
			}
		}
		if _, err := s.Allow(ctx, "k", lim, 1); err != nil {
			t.Fatal(err)
		}
	}
}

// contractRefusal refuses a key past its limit again and again, then
// raises the limit: the refusals consumed nothing, so exactly the raise is
// admitted.
func contractRefusal(t *testing.T, h storeHarness) {
	s, _ := h.new(t)
	small, big := Limit{Windows: []Window{{Requests: 3, Per: time.Hour}}}, Limit{Windows: []Window{{Requests: 5, Per: time.Hour}}}
	for range 3 {
		mustAllow(t, s, "k", small, true)
	}
	for range 4 {
		mustAllow(t, s, "k", small, false)
	}
	if d, err := s.Peek(context.Background(), "k", big); err != nil || d.Remaining != 2 {
		t.Fatalf("after 3 admitted and 4 refused: %+v, %v; want 3 counted, 2 remaining of 5", d, err)
	}
	mustAllow(t, s, "k", big, true)
	mustAllow(t, s, "k", big, true)
	mustAllow(t, s, "k", big, false)
}

func contractReset(t *testing.T, h storeHarness) {
	ctx := context.Background()
	s, _ := h.new(t)
	lim := Limit{Windows: []Window{{Requests: 1, Per: time.Hour}}}
	mustAllow(t, s, "k", lim, true)
	mustAllow(t, s, "k", lim, false)
	if err := s.Reset(ctx, "k", lim); err != nil {
		t.Fatal(err)
	}
	mustAllow(t, s, "k", lim, true)
	mustAllow(t, s, "k", lim, false)
	if err := s.Reset(ctx, "never-seen", lim); err != nil {
		t.Fatalf("reset of an unknown key: %v", err)
	}
}

func contractIndependent(t *testing.T, h storeHarness) {
	s, _ := h.new(t)
	hour := Limit{Windows: []Window{{Requests: 1, Per: time.Hour}}}
	minute := Limit{Windows: []Window{{Requests: 1, Per: time.Minute}}}
	mustAllow(t, s, "a", hour, true)
	mustAllow(t, s, "a", hour, false)
	mustAllow(t, s, "b", hour, true)
	mustAllow(t, s, "a", minute, true)
	mustAllow(t, s, "a{x}", hour, true)
	mustAllow(t, s, "a}", hour, true)
}

func contractRollover(t *testing.T, h storeHarness) {
	s, advance := h.new(t)
	lim := Limit{Windows: []Window{{Requests: 2, Per: time.Second}}}
	// Retry near a window edge until both admissions land in one window.
	for attempt := 0; ; attempt++ {
		d1 := mustAllow(t, s, "k", lim, true)
		d2, err := s.Allow(context.Background(), "k", lim, 1)
		if err != nil {
			t.Fatal(err)
		}
		if d2.Reset.Equal(d1.Reset) {
			mustAllow(t, s, "k", lim, false)
			advance(d2.ResetAfter + 10*time.Millisecond)
			break
		}
		if attempt > 3 {
			t.Fatal("could not fit two requests in one window")
		}
		advance(d2.ResetAfter + 10*time.Millisecond)
		if err := s.Reset(context.Background(), "k", lim); err != nil {
			t.Fatal(err)
		}
	}
	d := mustAllow(t, s, "k", lim, true)
	if d.Remaining != 1 {
		t.Fatalf("first request of the next window: remaining %d, want 1", d.Remaining)
	}
}

func contractLimitChange(t *testing.T, h storeHarness) {
	s, _ := h.new(t)
	small := Limit{Name: "free", Windows: []Window{{Requests: 3, Per: time.Hour}}}
	big := Limit{Name: "pro", Windows: []Window{{Requests: 5, Per: time.Hour}}}
	mustAllow(t, s, "k", small, true)
	mustAllow(t, s, "k", small, true)
	d := mustAllow(t, s, "k", big, true)
	if d.Remaining != 2 {
		t.Fatalf("after an upgrade mid-window: remaining %d, want 2 (the count carries over)", d.Remaining)
	}
	mustAllow(t, s, "k", big, true)
	mustAllow(t, s, "k", big, true)
	mustAllow(t, s, "k", big, false)
}

// contractConcurrent races 64 goroutines for one key and checks that the
// store admits exactly the limit, per window.
func contractConcurrent(t *testing.T, h storeHarness) {
	s, _ := h.new(t)
	lim := Limit{Windows: []Window{{Requests: 100, Per: MaxPer}}}
	admitted := raceAllow(t, []store{s}, "hot", lim, 64, 5)
	checkExact(t, admitted, lim, 64*5)
}

// raceAllow has goroutines callers (spread over stores) call Allow perCaller
// times each for key, and returns the admissions and attempts per window.
func raceAllow(tb testing.TB, stores []store, key string, lim Limit, callers, perCaller int) map[int64][2]int64 {
	tb.Helper()
	var mu sync.Mutex
	windows := map[int64][2]int64{} // reset → {admitted, attempts}
	var failed atomic.Int64
	var wg sync.WaitGroup
	start := make(chan struct{})
	for g := range callers {
		s := stores[g%len(stores)]
		wg.Go(func() {
			<-start
			for range perCaller {
				d, err := s.Allow(context.Background(), key, lim, 1)
				if err != nil {
					failed.Add(1)
					continue
				}
				mu.Lock()
				w := windows[d.Reset.Unix()]
				w[1]++
				if d.Allowed {
					w[0]++
				}
				windows[d.Reset.Unix()] = w
				mu.Unlock()
			}
		})
	}
	close(start)
	wg.Wait()
	if n := failed.Load(); n > 0 {
		tb.Fatalf("%d decisions failed", n)
	}
	return windows
}

// checkExact asserts that every window admitted min(attempts, limit) and that
// no attempt went unaccounted.
func checkExact(tb testing.TB, windows map[int64][2]int64, lim Limit, attempts int64) {
	tb.Helper()
	var total int64
	for reset, w := range windows {
		total += w[1]
		if want := min(w[1], lim.Windows[0].Requests); w[0] != want {
			tb.Errorf("window ending %d: admitted %d of %d attempts, want exactly %d", reset, w[0], w[1], want)
		}
	}
	if total != attempts {
		tb.Errorf("accounted for %d attempts, want %d", total, attempts)
	}
}

func mustAllow(tb testing.TB, s store, key string, lim Limit, want bool) Decision {
	tb.Helper()
	d, err := s.Allow(context.Background(), key, lim, 1)
	if err != nil {
		tb.Fatal(err)
	}
	if d.Allowed != want {
		tb.Fatalf("Allow(%q, %v) = %+v, want allowed=%v", key, lim, d, want)
	}
	return d
}
