package quota

import (
	"context"
	"net/http"
	"strconv"
	"testing"
	"time"
)

// travelStore is a store whose answers take travel to come back: the
// clock moves on by that much after each decision is made.
type travelStore struct {
	store
	clock  *fakeClock
	travel time.Duration
}

func (s travelStore) Allow(ctx context.Context, key string, l Limit, n int64) (Decision, error) {
	d, err := s.store.Allow(ctx, key, l, n)
	s.clock.Advance(s.travel)
	return d, err
}

// TestLimiter_RefusalNearBoundaryDescribesItsWindow: with answers taking
// 5 ms to come back, a key refused 5 ms before a window's end is refused
// from memory until that end and not a moment after, and every refusal's
// headers describe the window in force when the request arrived: a reset
// still ahead, and a Retry-After and RateLimit t that reach it.
func TestLimiter_RefusalNearBoundaryDescribesItsWindow(t *testing.T) {
	t.Parallel()
	boundary := time.Unix(1_700_000_040, 0) // a minute's end
	clock := newFakeClock(boundary.Add(-10 * time.Millisecond))
	mem, err := newMemoryStore(memoryConfig{Now: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	ts := travelStore{store: mem, clock: clock, travel: 5 * time.Millisecond}
	l := mustLimiter(t, ts, limiterConfig{Now: clock.Now})
	lim := Limit{Name: "free", Windows: []Window{{Requests: 1, Per: time.Minute}}}

	decide := func(arrival time.Time) Decision {
		t.Helper()
		clock.Advance(arrival.Sub(clock.Now()))
		d, err := l.Allow(context.Background(), "k", lim)
		if err != nil {
			t.Fatal(err)
		}
		checkRefusalHeaders(t, arrival, d)
		return d
	}
	if d := decide(clock.Now()); !d.Allowed { // answered at boundary − 5 ms
		t.Fatalf("first request: %+v, want admitted", d)
	}
	if d := decide(clock.Now()); d.Allowed || !d.Reset.Equal(boundary) { // answered at the boundary
		t.Fatalf("second request: %+v, want refused until %v", d, boundary)
	}
	if d := decide(boundary.Add(-3 * time.Millisecond)); d.Allowed || !d.Reset.Equal(boundary) {
		t.Fatalf("3 ms before the boundary: %+v, want refused until %v", d, boundary)
	}
	for _, after := range []time.Duration{0, 2800 * time.Microsecond, 7400 * time.Microsecond} {
		d := decide(boundary.Add(after))
		if !d.Allowed && !d.Reset.After(boundary) {
			t.Fatalf("%v after the boundary: refused with the ended window's reset %v", after, d.Reset)
		}
	}
}

// checkRefusalHeaders checks a refusal's headers against the request's
// arrival: X-RateLimit-Reset is still ahead, and waiting Retry-After (or
// RateLimit's t, which must say the same) from the arrival reaches it.
func checkRefusalHeaders(tb testing.TB, arrival time.Time, d Decision) {
	tb.Helper()
	if d.Allowed {
		return
	}
	h := http.Header{}
	SetHeaders(h, d, HeadersAll)
	reset, err1 := strconv.ParseInt(h.Get(HeaderReset), 10, 64)
	retry, err2 := strconv.ParseInt(h.Get(HeaderRetryAfter), 10, 64)
	if err1 != nil || err2 != nil {
		tb.Fatalf("refusal headers %v: %v, %v", h, err1, err2)
	}
	if !time.Unix(reset, 0).After(arrival) {
		tb.Errorf("refusal at %v names X-RateLimit-Reset %d, not after its arrival", arrival, reset)
	}
	if arrival.Add(time.Duration(retry) * time.Second).Before(time.Unix(reset, 0)) {
		tb.Errorf("refusal at %v: Retry-After %d s ends before X-RateLimit-Reset %d", arrival, retry, reset)
	}
	if want := `"free";r=0;t=` + strconv.FormatInt(retry, 10); h.Get(HeaderRateLimit) != want {
		tb.Errorf("RateLimit %q, want %q (t agreeing with Retry-After)", h.Get(HeaderRateLimit), want)
	}
}

// TestLimiter_HogCachePlans: a refusal under a plan is answered from
// memory, with every window's times counted down, until the refusing window
// ends; a cheaper request than the one refused still asks the store.
func TestLimiter_HogCachePlans(t *testing.T) {
	t.Parallel()
	l, cs, clock := newCountingLimiter(t, limiterConfig{})
	lim := Limit{Name: "p", Windows: []Window{{Requests: 5, Per: time.Minute}, {Requests: 6, Per: time.Hour}}}
	ctx := context.Background()
	if d, err := l.AllowN(ctx, "k", lim, 4); err != nil || !d.Allowed {
		t.Fatalf("cost 4: %+v %v", d, err)
	}
	first, err := l.AllowN(ctx, "k", lim, 3)
	if err != nil || first.Allowed {
		t.Fatalf("cost 3 with 1 left: %+v %v", first, err)
	}
	calls := cs.calls.Load()
	clock.Advance(10 * time.Second)
	d, err := l.AllowN(ctx, "k", lim, 5)
	if err != nil || d.Allowed || cs.calls.Load() != calls {
		t.Fatalf("cost 5 after a refused 3: %+v %v, store calls %d → %d, want a cached refusal", d, err, calls, cs.calls.Load())
	}
	if d.RetryAfter != first.RetryAfter-10*time.Second || d.Window(1).ResetAfter != first.Window(1).ResetAfter-10*time.Second {
		t.Fatalf("cached refusal: retry %v, hour resets in %v; want both 10s less than %v, %v", d.RetryAfter, d.Window(1).ResetAfter, first.RetryAfter, first.Window(1).ResetAfter)
	}
	if d, err := l.AllowN(ctx, "k", lim, 1); err != nil || !d.Allowed || cs.calls.Load() != calls+1 {
		t.Fatalf("cost 1 after a refused 3: %+v %v, want the store to admit it", d, err)
	}
}
